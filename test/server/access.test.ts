/**
 * Access control decided on the route the router matched (issue 10, point 1): the reported
 * bypasses, a table of path and method variants sent as raw bytes over a loopback socket (fetch
 * and fastify's inject normalise some of them away), the allow-list of public routes, anonymous
 * access as an explicit opt-in, the rate limit on every non-public route, and the audit of refusals.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ScreeningIndex } from '../../src/sanctions/screen.js';
import {
  OPTIONAL_AUTH_ROUTES,
  PUBLIC_ROUTES,
  REFUSAL_LOG_BURST,
  REFUSAL_LOG_RATE,
} from '../../src/server/access.js';
import { buildServer, type ServerOptions } from '../../src/server/app.js';
import { AuditLog, type AuditEntry } from '../../src/server/audit.js';
import { ApiKeyFile } from '../../src/server/keys.js';
import { listAndKey, readAudit, TIAN } from './fixture.js';
import { rawRequest, type RawAnswer } from './raw-http.js';

const dir = mkdtempSync(join(tmpdir(), 'cr-access-'));
const index = new ScreeningIndex();
const keys = new ApiKeyFile(join(dir, 'db.keys.json'));
let key = '';
let keyId = '';

before(() => ({ key, keyId } = listAndKey(index, keys)));
// A failed assertion must not leave a server listening (the test process would never end).
const open = new Set<FastifyInstance>();
after(async () => {
  for (const app of open) await app.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A server on 127.0.0.1 with its own audit file; stop() closes both and returns the audit lines. */
async function listening(o: Partial<ServerOptions> = {}) {
  const auditPath = join(dir, `audit-${Math.random().toString(36).slice(2)}.jsonl`);
  const audit = new AuditLog(auditPath);
  const app: FastifyInstance = buildServer({ index, keys, audit, rate: 0, ...o });
  open.add(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  return {
    port,
    async stop(): Promise<AuditEntry[]> {
      open.delete(app);
      await app.close();
      await audit.close();
      return readAudit(auditPath);
    },
  };
}

const BODY = JSON.stringify({ addresses: [TIAN] });
const JSON_HEADERS = { 'content-type': 'application/json' };

/**
 * [method, request target, status with a valid key]. Without a key every row but the public ones
 * must be a 401; none may be a 2xx. With the key, a row either reaches its route (2xx) or gets a
 * 404/405 in the error shape — the same answer every time, decided by the router alone.
 */
const TABLE: [string, string, number][] = [
  // the reported bypasses: percent-encoded characters of the /v1 prefix
  ['GET', `/%761/screen/${TIAN}`, 200],
  ['GET', '/%76%31/lists', 200],
  ['POST', '/v%31/screen', 200],
  ['GET', `/%76%31/screen/${TIAN}`, 200],
  ['GET', '/%2576%31/lists', 404],
  ['GET', '/v1/l%69sts', 200],
  ['GET', '/v1/screen/%31Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ', 200],
  ['GET', '/v1%2flists', 404],
  ['GET', '/v1%2Fscreen/x', 404],
  ['GET', '/%2fv1/lists', 404],
  ['GET', '/v1/lists%00', 404],
  // the plain routes
  ['GET', '/v1/lists', 200],
  ['POST', '/v1/screen', 200],
  ['GET', `/v1/screen/${TIAN}`, 200],
  ['GET', `/v1/lists?x=1`, 200],
  ['GET', `/v1/lists#fragment`, 200],
  ['GET', 'http://127.0.0.1/v1/lists', 200],
  // double slashes
  ['GET', '//v1/lists', 404],
  ['GET', '/v1//lists', 404],
  ['GET', `/v1//screen/${TIAN}`, 404],
  ['POST', '//v1/screen', 404],
  // dot segments, plain and encoded (the router does not resolve them: no route matches)
  ['GET', '/v1/../v1/lists', 404],
  ['GET', '/./v1/lists', 404],
  ['GET', '/v1/./lists', 404],
  ['GET', '/v1/%2e%2e/v1/lists', 404],
  ['GET', '/v1/%2E%2E/v1/lists', 404],
  ['GET', '/%2e/v1/lists', 404],
  ['GET', '/healthz/../v1/lists', 404],
  ['GET', '/openapi.json/../v1/lists', 404],
  // ".." as an address is just an address that is not listed
  ['GET', '/v1/screen/%2e%2e', 200],
  // case variants
  ['GET', '/V1/lists', 404],
  ['GET', '/v1/LISTS', 404],
  ['POST', '/V1/screen', 404],
  ['GET', '/%56%31/lists', 404],
  // trailing slashes
  ['GET', '/v1/lists/', 404],
  ['GET', `/v1/screen/${TIAN}/`, 404],
  // the GET route takes an empty address (400), so POST there is a 405
  ['POST', '/v1/screen/', 405],
  ['GET', '/v1/screen/', 400],
  ['GET', '/v1/', 404],
  ['GET', '/v1', 404],
  // HEAD (fastify answers HEAD for every GET route) and OPTIONS, other methods
  ['HEAD', '/v1/lists', 200],
  ['HEAD', '/%76%31/lists', 200],
  ['HEAD', `/v1/screen/${TIAN}`, 200],
  ['OPTIONS', '/v1/lists', 405],
  ['OPTIONS', '/v1/screen', 405],
  ['OPTIONS', '*', 404],
  ['PUT', '/v1/lists', 405],
  ['DELETE', `/v1/screen/${TIAN}`, 405],
  ['PATCH', '/v1/screen', 405],
  ['GET', '/v1/screen', 405],
  ['PROPFIND', '/v1/lists', 405],
  // nothing there
  ['GET', '/', 404],
  ['GET', '/nope', 404],
  ['GET', '/healthz/', 404],
  ['GET', '/HEALTHZ', 404],
  ['GET', '/healthz/x', 404],
  ['POST', '/healthz', 405],
];

/** The allow-list: these answer without a key. */
const PUBLIC_TABLE: [string, string][] = [
  ['GET', '/healthz'],
  ['HEAD', '/healthz'],
  ['GET', '/openapi.json'],
  ['HEAD', '/openapi.json'],
  ['GET', '/healthz?x=1'],
  ['GET', '/%68ealthz'],
];

function send(port: number, method: string, target: string, withKey: boolean): Promise<RawAnswer> {
  const headers: Record<string, string> = withKey ? { authorization: `Bearer ${key}` } : {};
  const post = method === 'POST' || method === 'PATCH';
  return rawRequest(port, method, target, post ? { ...headers, ...JSON_HEADERS } : headers, post ? BODY : '');
}

/** Every refusal: the one error shape with a JSON content type (HEAD answers carry no body). */
function assertErrorShape(r: RawAnswer, method: string, what: string): void {
  assert.match(r.headers['content-type'] ?? '', /^application\/json/, what);
  if (method === 'HEAD') return;
  const b = JSON.parse(r.body) as { error: { code: string; message: string } };
  assert.deepEqual(Object.keys(b), ['error'], what);
  assert.deepEqual(Object.keys(b.error).sort(), ['code', 'message'], what);
  assert.equal(typeof b.error.code, 'string', what);
  assert.ok(b.error.message.length > 0, what);
}

test('the reported bypasses: GET /%761/screen/<address>, GET /%76%31/lists, POST /v%31/screen → 401 without a key, audited as refused, never as an anonymous 200', async () => {
  const s = await listening();
  const answers = [
    await rawRequest(s.port, 'GET', `/%761/screen/${TIAN}`),
    await rawRequest(s.port, 'GET', '/%76%31/lists'),
    await rawRequest(s.port, 'POST', '/v%31/screen', JSON_HEADERS, BODY),
  ];
  for (const r of answers) {
    assert.equal(r.status, 401);
    assert.equal(JSON.parse(r.body).error.code, 'missing_api_key');
  }
  const audit = await s.stop();
  assert.deepEqual(
    audit.map((e) => [e.status, e.key, e.route]),
    [
      [401, 'none', `GET /%761/screen/${TIAN}`],
      [401, 'none', 'GET /%76%31/lists'],
      [401, 'none', 'POST /v%31/screen'],
    ],
  );
  assert.equal(audit.filter((e) => e.status === 200).length, 0);
});

test(`no 2xx without a key except the allow-list (${TABLE.length} variants of path and method over a raw socket); with a key each reaches its route or gets 404/405 (400 for an empty address)`, async () => {
  const s = await listening();
  for (const [method, target, withKey] of TABLE) {
    const what = `${method} ${target}`;
    const anon = await send(s.port, method, target, false);
    assert.equal(anon.status, 401, `${what} without a key`);
    assertErrorShape(anon, method, what);
    if (method !== 'HEAD') assert.equal(JSON.parse(anon.body).error.code, 'missing_api_key', what);
    const keyed = await send(s.port, method, target, true);
    assert.equal(keyed.status, withKey, `${what} with a key`);
    if (withKey >= 400) assertErrorShape(keyed, method, what);
    if (withKey === 405) assert.match(keyed.headers.allow ?? '', /GET|POST/, what);
    // The same request again: the same answer.
    assert.equal((await send(s.port, method, target, true)).status, withKey, `${what} again`);
  }
  for (const [method, target] of PUBLIC_TABLE) {
    const r = await send(s.port, method, target, false);
    assert.equal(r.status, 200, `${method} ${target} is public`);
  }
  const audit = await s.stop();
  // Every refusal without a key is in the audit log as such, and nothing ran as an anonymous caller.
  const refused = new Set(audit.filter((e) => e.status === 401 && e.key === 'none').map((e) => e.route));
  for (const [method, target] of TABLE) assert.ok(refused.has(`${method} ${target}`), `${method} ${target}`);
  assert.equal(audit.filter((e) => e.key === 'anonymous').length, 0);
  // Screening with the key was audited under the key.
  assert.ok(audit.some((e) => e.status === 200 && e.key === keyId && e.route === 'POST /v1/screen'));
});

test('the allow-list is the whole truth: PUBLIC_ROUTES is health, the API document, the console files and sign-in, and a route marked public off the list is refused at start', async () => {
  assert.deepEqual([...PUBLIC_ROUTES].sort(), [
    'GET /',
    'GET /assets/*',
    'GET /favicon.svg',
    'GET /healthz',
    'GET /openapi.json',
    'POST /v1/session',
  ]);
  const app = buildServer({ index, keys, audit: new AuditLog(join(dir, 'unused.jsonl')) });
  assert.throws(
    () => app.get('/v1/debug', { config: { public: true } }, async () => ({})),
    /marked public but is not on PUBLIC_ROUTES/,
  );
  // The "not signed in" answer instead of a 401 is kept to its list the same way.
  assert.deepEqual(OPTIONAL_AUTH_ROUTES, ['GET /v1/session']);
  assert.throws(
    () => app.get('/v1/other', { config: { optionalAuth: true } }, async () => ({})),
    /marked optionalAuth but is not on OPTIONAL_AUTH_ROUTES/,
  );
  // The list names methods: signing out is not public because signing in is.
  assert.throws(
    () => app.delete('/v1/session-other', { config: { public: true } }, async () => ({})),
    /marked public but is not on PUBLIC_ROUTES/,
  );
  assert.throws(
    () => app.put('/healthz', { config: { public: true } }, async () => ({})),
    /PUT \/healthz is marked public but is not on PUBLIC_ROUTES/,
  );
  // A route added without the mark needs a key like every other.
  app.get('/v1/extra', async () => ({ extra: true }));
  const r = await app.inject({ method: 'GET', url: '/v1/extra' });
  assert.equal(r.statusCode, 401);
  const k = await app.inject({ method: 'GET', url: '/v1/extra', headers: { 'x-api-key': key } });
  assert.equal(k.statusCode, 200);
  await app.close();
});

test('wrong and revoked keys are refused on encoded paths too; --allow-anonymous serves every variant as the keyed table does', async () => {
  const s = await listening();
  for (const target of ['/%76%31/lists', `/%761/screen/${TIAN}`]) {
    const r = await rawRequest(s.port, 'GET', target, { authorization: 'Bearer crk_nope_nope' });
    assert.deepEqual([r.status, JSON.parse(r.body).error.code], [401, 'invalid_api_key']);
  }
  await s.stop();

  const anon = await listening({ allowAnonymous: true });
  for (const [method, target, withKey] of TABLE) {
    const r = await send(anon.port, method, target, false);
    assert.equal(r.status, withKey, `${method} ${target} anonymous`);
  }
  const r = await rawRequest(anon.port, 'GET', '/%76%31/lists', { authorization: 'Bearer wrong' });
  assert.equal(r.status, 401);
  const audit = await anon.stop();
  assert.ok(audit.some((e) => e.status === 200 && e.key === 'anonymous' && e.route === 'GET /v1/screen'));
});

test('the rate limit applies to every non-public route, however the path is spelled, and each 429 is audited with the key', async () => {
  // A token every 100 s: none comes back while the test runs, however slow the machine.
  const s = await listening({ rate: 0.01, burst: 3 });
  const seq = [
    await send(s.port, 'GET', '/v1/lists', true),
    await send(s.port, 'GET', '/%76%31/lists', true),
    await send(s.port, 'POST', '/v%31/screen', true),
    await send(s.port, 'GET', `/%761/screen/${TIAN}`, true),
    await send(s.port, 'GET', '/nope', true),
  ];
  assert.deepEqual(
    seq.map((r) => r.status),
    [200, 200, 200, 429, 429],
  );
  for (const r of seq.slice(3)) {
    assertErrorShape(r, 'GET', '429');
    assert.equal(JSON.parse(r.body).error.code, 'rate_limited');
    assert.ok(Number(r.headers['retry-after']) >= 1);
  }
  // Public routes are not limited.
  for (let i = 0; i < 5; i++) assert.equal((await send(s.port, 'GET', '/healthz', false)).status, 200);
  const audit = await s.stop();
  const limited = audit.filter((e) => e.status === 429);
  assert.deepEqual(
    limited.map((e) => [e.key, e.keyName, e.route]),
    [
      [keyId, 'analyst one', `GET /%761/screen/${TIAN}`],
      [keyId, 'analyst one', 'GET /nope'],
    ],
  );

  // Anonymous callers share one bucket, on every route.
  const anon = await listening({ allowAnonymous: true, rate: 0.01, burst: 2 });
  const codes = [];
  for (const t of ['/v1/lists', '/%76%31/lists', `/%761/screen/${TIAN}`])
    codes.push((await send(anon.port, 'GET', t, false)).status);
  assert.deepEqual(codes, [200, 200, 429]);
  const anonAudit = await anon.stop();
  assert.deepEqual(
    anonAudit.filter((e) => e.status === 429).map((e) => [e.key, e.route]),
    [['anonymous', `GET /%761/screen/${TIAN}`]],
  );
});

test('a flood of keyless requests cannot grow the audit log without bound: refusal lines are rate-limited, every one left out is counted', async () => {
  // The defaults (REFUSAL_LOG_RATE a second, bursts of REFUSAL_LOG_BURST) scaled down so a loaded
  // machine still sends faster than the refill.
  assert.ok(REFUSAL_LOG_RATE >= 10 && REFUSAL_LOG_BURST >= 100);
  const s = await listening({ refusalLog: { rate: 10, burst: 100 } });
  const N = 400;
  const base = `http://127.0.0.1:${s.port}`;
  for (let i = 0; i < N; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, N - i) }, () =>
        fetch(`${base}/v1/lists`).then((r) => r.arrayBuffer()),
      ),
    );
  }
  const health = (await (await fetch(`${base}/healthz`)).json()) as { refusalsNotLogged: number };
  const lines = await s.stop();
  const refused = lines.filter((l) => l.status === 401);
  assert.ok(health.refusalsNotLogged > 0, 'the flood went past the refusal-line rate');
  assert.ok(refused.length < N, `fewer lines (${refused.length}) than refusals (${N})`);
  // Every refusal is either a line or counted: the counter says how many lines are missing.
  assert.equal(refused.length + health.refusalsNotLogged, N);
  const written = refused.filter((l) => l.refusalsNotLogged).reduce((a, l) => a + l.refusalsNotLogged!, 0);
  assert.ok(
    written <= health.refusalsNotLogged,
    'counts carried on later lines never exceed what was left out',
  );
});
