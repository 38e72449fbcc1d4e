/**
 * Slow clients and refusals over a real loopback socket (issue 10, points 2 and 3): header,
 * request and keep-alive timeouts close the connection in time, and every refusal — fastify's,
 * the access check's and those node's HTTP parser raises before fastify sees a request — comes
 * in the one error shape {"error":{"code","message"}} with a JSON content type.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ScreeningIndex, type ChainExposureProvider } from '../../src/sanctions/screen.js';
import { buildServer, DEFAULT_TIMEOUTS, type ServerOptions } from '../../src/server/app.js';
import { AuditLog } from '../../src/server/audit.js';
import { ApiKeyFile } from '../../src/server/keys.js';
import { runCli } from '../cli-run.js';
import { listAndKey, TIAN } from './fixture.js';
import { rawExchange, rawRequest, parseAnswer, type RawAnswer } from './raw-http.js';

const dir = mkdtempSync(join(tmpdir(), 'cr-timeouts-'));
const index = new ScreeningIndex();
const keys = new ApiKeyFile(join(dir, 'db.keys.json'));
const audit = new AuditLog(join(dir, 'db.audit.jsonl'));
let key = '';

before(() => ({ key } = listAndKey(index, keys)));
const open = new Set<FastifyInstance>();
after(async () => {
  for (const app of open) await app.close();
  await audit.close();
  rmSync(dir, { recursive: true, force: true });
});

async function listening(o: Partial<ServerOptions> = {}): Promise<{ app: FastifyInstance; port: number }> {
  const app = buildServer({ index, keys, audit, rate: 0, ...o });
  open.add(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, port: (app.server.address() as { port: number }).port };
}

async function stop(app: FastifyInstance): Promise<void> {
  open.delete(app);
  await app.close();
}

function assertError(r: RawAnswer, status: number, code: string, what = code): void {
  assert.equal(r.status, status, what);
  assert.match(r.headers['content-type'] ?? '', /^application\/json/, what);
  const b = JSON.parse(r.body) as { error: { code: string; message: string } };
  assert.deepEqual(Object.keys(b), ['error'], what);
  assert.deepEqual(Object.keys(b.error), ['code', 'message'], what);
  assert.equal(b.error.code, code, what);
  assert.ok(b.error.message.length > 0, what);
}

test('defaults: a client trickling one header line every 5 s, one sending nothing and an idle keep-alive connection are all closed within 10 s', async () => {
  const { app, port } = await listening();
  const trickled = [
    'GET /v1/lists HTTP/1.1\r\n',
    'Host: 127.0.0.1\r\n',
    `Authorization: Bearer ${key}\r\n`,
    'X-One: 1\r\n',
    'X-Two: 2\r\n',
    '\r\n',
  ];
  const keepAlive = `GET /v1/lists HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\n\r\n`;
  const [trickle, silent, idle] = await Promise.all([
    rawExchange(port, trickled, 5_000, 15_000),
    rawExchange(port, [], 0, 15_000),
    rawExchange(port, [keepAlive], 0, 15_000),
  ]);
  // Cut while it was still trickling: 408 in the error shape, then the connection closed.
  assertError(trickle, 408, 'request_timeout', 'trickled headers');
  assert.ok(trickle.partsSent < trickled.length, `sent ${trickle.partsSent} of ${trickled.length} lines`);
  assert.ok(
    trickle.closedAfterMs > 0 && trickle.closedAfterMs <= 10_000,
    `closed after ${trickle.closedAfterMs} ms`,
  );
  // Not before the headers timeout: a client gets the whole of it.
  assert.ok(
    trickle.closedAfterMs >= DEFAULT_TIMEOUTS.headersMs - 100,
    `closed after ${trickle.closedAfterMs} ms`,
  );
  assertError(silent, 408, 'request_timeout', 'silent connection');
  assert.ok(
    silent.closedAfterMs > 0 && silent.closedAfterMs <= 10_000,
    `closed after ${silent.closedAfterMs} ms`,
  );
  // The keep-alive connection got its answer and was then closed for idling.
  assert.equal(idle.status, 200);
  assert.ok(idle.closedAfterMs > 0 && idle.closedAfterMs <= 10_000, `closed after ${idle.closedAfterMs} ms`);
  console.log(
    `closed after: trickled headers ${trickle.closedAfterMs} ms, silent ${silent.closedAfterMs} ms, idle keep-alive ${idle.closedAfterMs} ms`,
  );
  await stop(app);
});

test('a body trickled slowly is cut at the request timeout (408); the same request sent at once is served under the same limits', async () => {
  const { app, port } = await listening({
    timeouts: { headersMs: 1_000, requestMs: 2_000, checkEveryMs: 250 },
  });
  const body = JSON.stringify({ addresses: [TIAN] });
  const head =
    `POST /v1/screen HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer ${key}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
  // One byte every 200 ms: the body would take about 9 s.
  const parts = [head, ...body.split('')];
  const slow = await rawExchange(port, parts, 200, 15_000);
  assertError(slow, 408, 'request_timeout', 'trickled body');
  assert.ok(slow.partsSent < parts.length, `sent ${slow.partsSent} of ${parts.length} parts`);
  assert.ok(
    slow.closedAfterMs >= 1_900 && slow.closedAfterMs <= 4_000,
    `closed after ${slow.closedAfterMs} ms`,
  );
  const fast = await rawExchange(port, [head + body]);
  assert.equal(fast.status, 200);
  assert.equal((JSON.parse(fast.body) as { matched: number }).matched, 1);
  await stop(app);
});

test('every refusal has the one error shape with a JSON content type: 400 (malformed request line, header, JSON, URL), 401, 404, 405, 408, 413, 415, 429, 431', async () => {
  const { app, port } = await listening({ bodyLimit: 1024, rate: 0.01, burst: 1000 });
  const auth = { authorization: `Bearer ${key}` };
  const json = { ...auth, 'content-type': 'application/json' };
  const raw = (text: string) => rawExchange(port, [text]);
  const cases: [string, Promise<RawAnswer>, number, string][] = [
    ['garbage request line', raw('\x00\x01GARBAGE / NOT-HTTP\r\n\r\n'), 400, 'malformed_request'],
    ['unknown method', raw('FOO /v1/lists HTTP/1.1\r\nHost: x\r\n\r\n'), 400, 'malformed_request'],
    [
      'header without a colon',
      raw('GET /v1/lists HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'),
      400,
      'malformed_request',
    ],
    ['bad HTTP version', raw('GET /v1/lists HTTP/9.7\r\nHost: x\r\n\r\n'), 400, 'malformed_request'],
    [
      'header too large',
      raw(`GET /v1/lists HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
      431,
      'headers_too_large',
    ],
    ['malformed URL', rawRequest(port, 'GET', '/v1/screen/%E0%A4%A', auth), 400, 'bad_url'],
    ['malformed JSON', rawRequest(port, 'POST', '/v1/screen', json, '{"addresses": ['), 400, 'bad_json'],
    ['schema', rawRequest(port, 'POST', '/v1/screen', json, '{"addrs":[]}'), 400, 'bad_request'],
    ['no key', rawRequest(port, 'GET', '/v1/lists'), 401, 'missing_api_key'],
    ['wrong key', rawRequest(port, 'GET', '/v1/lists', { 'x-api-key': 'nope' }), 401, 'invalid_api_key'],
    ['no route', rawRequest(port, 'GET', '/nope', auth), 404, 'not_found'],
    ['wrong method', rawRequest(port, 'DELETE', '/v1/lists', auth), 405, 'method_not_allowed'],
    [
      'body too large',
      rawRequest(port, 'POST', '/v1/screen', json, JSON.stringify({ addresses: Array(100).fill(TIAN) })),
      413,
      'body_too_large',
    ],
    [
      'media type',
      rawRequest(port, 'POST', '/v1/screen', { ...auth, 'content-type': 'application/xml' }, '<x/>'),
      415,
      'unsupported_media_type',
    ],
  ];
  for (const [what, answer, status, code] of cases) assertError(await answer, status, code, what);

  // 408 from a request whose headers never end (a short limit: the defaults are timed above).
  const t = await listening({ timeouts: { headersMs: 300, requestMs: 300, checkEveryMs: 100 } });
  assertError(await rawExchange(t.port, ['GET /v1/lists HTTP/1.1\r\n']), 408, 'request_timeout');
  await stop(t.app);

  // 429: the burst of a key used up.
  const limited = await listening({ rate: 0.01, burst: 1 });
  assert.equal((await rawRequest(limited.port, 'GET', '/v1/lists', auth)).status, 200);
  assertError(await rawRequest(limited.port, 'GET', '/v1/lists', auth), 429, 'rate_limited');
  await stop(limited.app);

  // The server still serves after all of it.
  assert.equal((await rawRequest(port, 'GET', `/v1/screen/${TIAN}`, auth)).status, 200);
  await stop(app);
});

test('a request arriving while the server closes gets 503 in the error shape (Connection: close)', async () => {
  // A chain lookup that takes 600 ms keeps the first request in flight (its connection busy)
  // while close() starts; the second request comes on the same connection after that.
  const provider: ChainExposureProvider = {
    exposure: () => new Promise((r) => setTimeout(() => r([]), 600)),
  };
  const { app, port } = await listening({
    chain: { provider, network: 'bitcoin', tipHeight: 1, hops: 1 },
  });
  const request = `GET /v1/screen/${TIAN} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\n\r\n`;
  const exchange = rawExchange(port, [request, request], 300);
  await new Promise((r) => setTimeout(r, 100));
  open.delete(app);
  const closed = app.close();
  const text = await exchange;
  await closed;
  // Two answers on the connection: the first served, the second refused.
  const second = parseAnswer(text.body.slice(text.body.indexOf('HTTP/1.1 ')), 0);
  assert.equal(text.status, 200);
  assert.equal(second.headers.connection, 'close');
  assertError(second, 503, 'shutting_down');
});

test('coinradar serve refuses bad timeout values with a message naming the option', async () => {
  const db = join(dir, 'never-opened.duckdb');
  for (const [args, msg] of [
    [['--headers-timeout', '0'], /--headers-timeout must be a whole number from 1 to 3600000, not '0'/],
    [['--request-timeout', 'soon'], /--request-timeout must be a whole number from 1 to 3600000/],
    [['--keep-alive-timeout', '-5'], /--keep-alive-timeout must be a whole number/],
    [
      ['--headers-timeout', '60000', '--request-timeout', '1000'],
      /--headers-timeout \(60000 ms\) must not exceed --request-timeout \(1000 ms\)/,
    ],
  ] as const) {
    await assert.rejects(runCli(['serve', ...args, '--db', db]), msg);
  }
  assert.equal(existsSync(db), false);
});
