/**
 * Targets for the HTTP API: buildServer over the January 2022 SDN fixture, a valid key, requests
 * through fastify's inject (no socket). One target sends the input as the body of POST /v1/screen,
 * the other as the path of a GET. The paths go over a loopback socket (127.0.0.1) with node's http
 * client, which sends the path byte for byte: inject parses it with WHATWG URL first, which
 * resolves dot segments and backslashes and refuses some paths, so the server would never see them.
 */
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { parseSdnCsv } from '../../src/sanctions/sdn-csv.js';
import { ScreeningIndex } from '../../src/sanctions/screen.js';
import { buildServer } from '../../src/server/app.js';
import { AuditLog } from '../../src/server/audit.js';
import { ApiKeyFile } from '../../src/server/keys.js';
import { scratchDir } from '../scratch.js';
import { check, type FuzzTarget } from '../target.js';

const FIX = 'test/fixtures/sanctions';

interface Api {
  app: FastifyInstance;
  audit: AuditLog;
  key: string;
}

let api: Api | null = null;
let users = 0;

async function openApi(): Promise<Api> {
  users++;
  if (api) return api;
  const index = new ScreeningIndex();
  const l = parseSdnCsv([`${FIX}/sdn.csv`, `${FIX}/add.csv`, `${FIX}/alt.csv`], { published: '2022-01' });
  index.addVersion(
    { versionId: 1, list: 'ofac-sdn', published: '2022-01', checksum: l.checksum },
    l.entities,
    l.addresses,
  );
  const dir = scratchDir();
  const keys = new ApiKeyFile(join(dir, 'fuzz.keys.json'));
  const audit = new AuditLog(join(dir, 'fuzz.audit.jsonl'));
  const { key } = keys.create('fuzz');
  // Batches up to 100: a body of many addresses must still be refused or answered, never 500.
  const app = buildServer({ index, keys, audit, maxBatch: 100, bodyLimit: 1 << 20 });
  await app.ready();
  api = { app, audit, key };
  return api;
}

async function closeApi(): Promise<void> {
  if (--users > 0 || !api) return;
  await api.app.close();
  await api.audit.close();
  api = null;
}

/** The promises every answer keeps: no 5xx, a JSON object, refusals in the one error shape. */
function checkAnswer(status: number, body: string, what: string): Record<string, unknown> {
  check(status < 500, `${what}: status ${status}: ${body.slice(0, 300)}`);
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    check(false, `${what}: status ${status} with a body that is not JSON: ${body.slice(0, 200)}`);
  }
  check(typeof json === 'object' && json !== null, `${what}: answer is not a JSON object`);
  const o = json as Record<string, unknown>;
  if (status >= 400) {
    const e = o.error as Record<string, unknown> | undefined;
    check(
      typeof e?.code === 'string' && typeof e?.message === 'string',
      `${what}: refusal ${status} not in the {error:{code,message}} shape: ${body.slice(0, 200)}`,
    );
  }
  return o;
}

/** Bytes as a request path: what a client could put on the request line (no controls, no spaces). */
export function requestPath(input: Buffer): string {
  let s = '';
  for (const c of input)
    s += c > 0x20 && c < 0x7f ? String.fromCharCode(c) : `%${c.toString(16).padStart(2, '0')}`;
  return s.startsWith('/') ? s : `/${s}`;
}

const ADDRESS = '1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ';

let port = 0;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/**
 * GET `path` as sent (no normalisation) from 127.0.0.1 to the server under test. A kept-alive
 * socket the server closed just before reuse is the client's race, not an answer: retried once.
 */
function get(path: string, key: string | null, retry = true): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, agent, headers: key ? { authorization: `Bearer ${key}` } : {} },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('error', (e) =>
      retry && req.reusedSocket ? get(path, key, false).then(resolve, reject) : reject(e),
    );
    req.end();
  });
}

const PATH_TOKENS = [
  '/v1/screen/',
  '/v1/lists',
  '/healthz',
  '/openapi.json',
  '%2f',
  '%2e',
  '%76',
  '%31',
  '%00',
  '%',
  '..',
  '//',
  '?',
  '#',
  ADDRESS,
];

/** The public routes: what may answer 2xx without a key (recognised by their bodies). */
function isPublicAnswer(o: Record<string, unknown>): boolean {
  return (o.ok === true && 'addresses' in o) || typeof o.openapi === 'string';
}

/** GET paths with a valid key, or with none (then only the public routes may answer 2xx). */
function pathTarget(name: string, withKey: boolean): FuzzTarget {
  return {
    name,
    description: `GET request paths (screen, lists, anything) → buildServer on 127.0.0.1, ${withKey ? 'with a valid key' : 'without a key'}`,
    invariants: [
      'never a 5xx; every answer is a JSON object; every refusal is {error:{code,message}}',
      ...(withKey ? [] : ['no 2xx without a key except /healthz and /openapi.json']),
      'terminates (10 s per input), resident memory < 1.5 GB',
    ],
    tokens: PATH_TOKENS,
    async setup() {
      const { app } = await openApi();
      if (!port) {
        await app.listen({ host: '127.0.0.1', port: 0 });
        port = (app.server.address() as AddressInfo).port;
      }
    },
    async teardown() {
      agent.destroy();
      if (users === 1) port = 0;
      await closeApi();
    },
    async run(input) {
      const path = requestPath(input);
      const r = await get(path, withKey ? api!.key : null);
      const what = `GET ${path.length > 120 ? `${path.slice(0, 120)}... (${path.length} chars)` : path}`;
      const o = checkAnswer(r.status, r.body, what);
      if (!withKey)
        check(
          r.status >= 300 || isPublicAnswer(o),
          `GET ${path} answered ${r.status} without a key: ${r.body.slice(0, 120)}`,
        );
    },
  };
}

export const serverTargets: FuzzTarget[] = [
  {
    name: 'api-body',
    description: 'POST /v1/screen request bodies (JSON) → buildServer + fastify inject, with a valid key',
    invariants: [
      'never a 5xx; every answer is a JSON object',
      'a 200 carries one result per address sent',
      'terminates (10 s per input), resident memory < 1.5 GB',
    ],
    tokens: [
      '{',
      '}',
      '[',
      ']',
      '"',
      ':',
      ',',
      '"addresses"',
      'null',
      '1e400',
      '"__proto__"',
      '\\u0000',
      ADDRESS,
    ],
    setup: async () => void (await openApi()),
    teardown: closeApi,
    async run(input) {
      const { app, key } = api!;
      const r = await app.inject({
        method: 'POST',
        url: '/v1/screen',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        payload: input,
      });
      const json = checkAnswer(r.statusCode, r.body, 'POST /v1/screen') as { results?: unknown[] };
      if (r.statusCode === 200) {
        let sent: unknown[] = [];
        try {
          sent = (JSON.parse(input.toString('utf8')) as { addresses: unknown[] }).addresses;
        } catch {
          check(false, `200 for a body that is not JSON: ${input.toString('utf8').slice(0, 120)}`);
        }
        check(
          Array.isArray(json.results) && json.results.length === sent.length,
          `200 with ${json.results?.length} results for ${sent.length} addresses`,
        );
      }
    },
  },
  pathTarget('api-path', true),
  pathTarget('api-nokey', false),
];
