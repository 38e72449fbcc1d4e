/**
 * Console sessions (issue 11, step 1): signing in with an API key gives an HttpOnly,
 * SameSite=Strict cookie holding a random 256-bit id; the cookie passes the same access check,
 * rate limit and audit as the key; requests that change state with it must be same-origin; the
 * table is bounded and sessions expire; every answer carries the CSP and nosniff; the console's
 * static files are public and nothing outside their folder can be named.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { ScreeningIndex } from '../../src/sanctions/screen.js';
import { buildServer, type ServerOptions } from '../../src/server/app.js';
import { AuditLog, type AuditEntry } from '../../src/server/audit.js';
import { CONTENT_SECURITY_POLICY } from '../../src/server/headers.js';
import { ApiKeyFile } from '../../src/server/keys.js';
import { SESSION_COOKIE, SessionTable, sessionIdFrom } from '../../src/server/session.js';
import { listAndKey, readAudit, TIAN } from './fixture.js';
import { rawRequest } from './raw-http.js';

const dir = mkdtempSync(join(tmpdir(), 'cr-session-'));
const index = new ScreeningIndex();
const keys = new ApiKeyFile(join(dir, 'db.keys.json'));
const { key, keyId } = listAndKey(index, keys);
const open = new Set<FastifyInstance>();
after(async () => {
  for (const app of open) await app.close();
  rmSync(dir, { recursive: true, force: true });
});

// A built console: index.html, a hashed asset, the icon; and a secret beside the folder.
const consoleDir = join(dir, 'console');
mkdirSync(join(consoleDir, 'assets'), { recursive: true });
writeFileSync(
  join(consoleDir, 'index.html'),
  '<!doctype html><script type="module" src="/assets/app-1a2b.js"></script>',
);
writeFileSync(join(consoleDir, 'assets', 'app-1a2b.js'), 'console.log(1)');
writeFileSync(join(consoleDir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
writeFileSync(join(dir, 'secret.txt'), 'not for the web');

function server(o: Partial<ServerOptions> = {}) {
  const auditPath = join(dir, `audit-${Math.random().toString(36).slice(2)}.jsonl`);
  const audit = new AuditLog(auditPath);
  const app = buildServer({ index, keys, audit, rate: 0, consoleDir, ...o });
  open.add(app);
  return {
    app,
    async stop(): Promise<AuditEntry[]> {
      open.delete(app);
      await app.close();
      await audit.close();
      return readAudit(auditPath);
    },
  };
}

const SAME = { origin: 'http://127.0.0.1:8787', host: '127.0.0.1:8787', 'sec-fetch-site': 'same-origin' };

async function signIn(app: FastifyInstance, k = key): Promise<{ r: LightMyRequestResponse; cookie: string }> {
  const r = await app.inject({ method: 'POST', url: '/v1/session', headers: SAME, payload: { key: k } });
  const set = String(r.headers['set-cookie'] ?? '');
  return { r, cookie: set.split(';')[0] };
}

test('sign-in sets an HttpOnly, SameSite=Strict, Path=/ cookie with a 256-bit random id; the cookie is accepted as the key is, audited under the key; sign-out ends it', async () => {
  const s = server();
  const { r, cookie } = await signIn(s.app);
  assert.equal(r.statusCode, 200, r.body);
  assert.deepEqual(r.json().keyId, keyId);
  const set = String(r.headers['set-cookie']);
  assert.match(set, new RegExp(`^${SESSION_COOKIE}=[A-Za-z0-9_-]{43}; `));
  for (const attr of ['HttpOnly', 'SameSite=Strict', 'Path=/', 'Max-Age='])
    assert.ok(set.includes(attr), `${attr} in ${set}`);
  // 43 base64url characters = 256 bits; two sign-ins never share an id.
  const id = sessionIdFrom(cookie)!;
  assert.equal(Buffer.from(id, 'base64url').length, 32);
  assert.notEqual((await signIn(s.app)).cookie, cookie);

  // The cookie opens /v1 routes, GET and (same-origin) POST alike.
  let x = await s.app.inject({ method: 'GET', url: '/v1/lists', headers: { cookie } });
  assert.equal(x.statusCode, 200);
  x = await s.app.inject({ method: 'GET', url: '/v1/session', headers: { cookie } });
  assert.deepEqual(x.json(), { signedIn: true, keyId, name: 'analyst one', via: 'session' });
  x = await s.app.inject({
    method: 'POST',
    url: '/v1/screen',
    headers: { cookie, ...SAME },
    payload: { addresses: [TIAN] },
  });
  assert.equal(x.statusCode, 200, x.body);
  assert.equal(x.json().matched, 1);
  // Without the cookie, the same requests are refused as before.
  x = await s.app.inject({ method: 'GET', url: '/v1/lists' });
  assert.equal(x.statusCode, 401);

  // Sign-out: the cookie is cleared and the id no longer opens anything.
  x = await s.app.inject({ method: 'DELETE', url: '/v1/session', headers: { cookie, ...SAME } });
  assert.equal(x.statusCode, 200, x.body);
  assert.deepEqual(x.json(), { ended: true });
  assert.match(String(x.headers['set-cookie']), new RegExp(`^${SESSION_COOKIE}=; .*Max-Age=0`));
  x = await s.app.inject({ method: 'GET', url: '/v1/lists', headers: { cookie } });
  assert.deepEqual([x.statusCode, x.json().error.code], [401, 'session_ended']);
  // Who is signed in: nobody, said without a 401 (the console asks on every load) and without
  // anything else; a wrong key is still refused there.
  for (const headers of [{}, { cookie }]) {
    x = await s.app.inject({ method: 'GET', url: '/v1/session', headers });
    assert.deepEqual([x.statusCode, x.json()], [200, { signedIn: false }]);
  }
  x = await s.app.inject({ method: 'GET', url: '/v1/session', headers: { 'x-api-key': 'crk_nope_nope' } });
  assert.equal(x.statusCode, 401);
  x = await s.app.inject({ method: 'GET', url: '/v1/session', headers: { 'x-api-key': key } });
  assert.deepEqual(x.json(), { signedIn: true, keyId, name: 'analyst one', via: 'key' });

  const audit = await s.stop();
  const signIns = audit.filter((e) => e.route === 'POST /v1/session');
  assert.equal(signIns.length, 2);
  assert.ok(signIns.every((e) => e.status === 200 && e.key === keyId));
  // The screening done with the cookie is audited under the key, as with the header.
  const screened = audit.find((e) => e.route === 'POST /v1/screen');
  assert.deepEqual([screened?.key, screened?.keyName, screened?.matched], [keyId, 'analyst one', [TIAN]]);
  assert.ok(
    audit.some((e) => e.status === 401 && e.key === 'session'),
    'the ended session is audited',
  );
});

test('a wrong, revoked or malformed key signs nobody in, and each attempt is audited', async () => {
  const s = server();
  let r = await signIn(s.app, 'crk_nope_nope');
  assert.deepEqual(
    [r.r.statusCode, r.r.json().error.code, r.r.headers['set-cookie']],
    [401, 'invalid_api_key', undefined],
  );
  const other = keys.create('to revoke');
  keys.revoke(other.record.id);
  r = await signIn(s.app, other.key);
  assert.deepEqual([r.r.statusCode, r.r.json().error.code], [401, 'revoked_api_key']);
  for (const payload of [{}, { key: '' }, { key: 'x'.repeat(300) }]) {
    const bad = await s.app.inject({ method: 'POST', url: '/v1/session', headers: SAME, payload });
    assert.deepEqual([bad.statusCode, bad.headers['set-cookie']], [400, undefined], JSON.stringify(payload));
  }
  // A made-up cookie is no session.
  const forged = `${SESSION_COOKIE}=${Buffer.alloc(32, 7).toString('base64url')}`;
  const x = await s.app.inject({ method: 'GET', url: '/v1/lists', headers: { cookie: forged } });
  assert.deepEqual([x.statusCode, x.json().error.code], [401, 'session_ended']);
  const audit = await s.stop();
  assert.deepEqual(
    audit.filter((e) => e.route === 'POST /v1/session').map((e) => [e.status, e.key]),
    [
      [401, 'invalid_api_key'],
      [401, 'revoked_api_key'],
    ],
  );
});

test('requests that change state with the cookie must be same-origin: cross-site Origin, Sec-Fetch-Site cross-site or same-site, Origin null, or neither header are refused (403), and so is a cross-site sign-in', async () => {
  const s = server();
  const { cookie } = await signIn(s.app);
  const host = { host: '127.0.0.1:8787' };
  const refused: [string, Record<string, string>][] = [
    ['cross-site Origin', { ...host, origin: 'https://evil.example' }],
    ['Origin on another port', { ...host, origin: 'http://127.0.0.1:9999' }],
    ['Origin null', { ...host, origin: 'null' }],
    ['Sec-Fetch-Site cross-site', { ...host, 'sec-fetch-site': 'cross-site' }],
    ['Sec-Fetch-Site same-site', { ...host, 'sec-fetch-site': 'same-site' }],
    ['same Origin but cross-site fetch metadata', { ...SAME, 'sec-fetch-site': 'cross-site' }],
    ['neither header', { ...host }],
  ];
  for (const [what, headers] of refused) {
    for (const [method, url] of [
      ['POST', '/v1/screen'],
      ['DELETE', '/v1/session'],
      ['DELETE', '/v1/%73ession'],
    ] as const) {
      const r = await s.app.inject({
        method,
        url,
        headers: { cookie, ...headers },
        payload: { addresses: [TIAN] },
      });
      assert.deepEqual([r.statusCode, r.json().error.code], [403, 'cross_site'], `${what}: ${method} ${url}`);
    }
    const si = await s.app.inject({ method: 'POST', url: '/v1/session', headers, payload: { key } });
    assert.deepEqual([si.statusCode, si.headers['set-cookie']], [403, undefined], `${what}: sign-in`);
  }
  // The session survived every refused attempt; GET needs no origin (SameSite=Strict keeps the
  // cookie off cross-site requests, and a GET changes nothing).
  const g = await s.app.inject({ method: 'GET', url: '/v1/lists', headers: { cookie } });
  assert.equal(g.statusCode, 200);
  // A key header is not a cookie: a non-browser client with its key needs no Origin.
  const k = await s.app.inject({
    method: 'POST',
    url: '/v1/screen',
    headers: { authorization: `Bearer ${key}` },
    payload: { addresses: [TIAN] },
  });
  assert.equal(k.statusCode, 200);
  const audit = await s.stop();
  assert.ok(audit.filter((e) => e.status === 403).length >= refused.length * 4);
});

test('the cookie shares its key’s rate limit', async () => {
  const s = server({ rate: 0.01, burst: 3 });
  const { cookie } = await signIn(s.app);
  const codes = [];
  for (let i = 0; i < 2; i++)
    codes.push((await s.app.inject({ method: 'GET', url: '/v1/lists', headers: { cookie } })).statusCode);
  codes.push(
    (await s.app.inject({ method: 'GET', url: '/v1/lists', headers: { 'x-api-key': key } })).statusCode,
  );
  codes.push((await s.app.inject({ method: 'GET', url: '/v1/lists', headers: { cookie } })).statusCode);
  assert.deepEqual(codes, [200, 200, 200, 429]);
  const audit = await s.stop();
  assert.ok(audit.some((e) => e.status === 429 && e.key === keyId));
});

test('sign-in attempts are rate-limited per client address, and the refusal is audited', async () => {
  const s = server({ rate: 0.01, burst: 2 });
  const codes = [];
  for (const k of ['crk_nope_nope', key, key]) codes.push((await signIn(s.app, k)).r.statusCode);
  assert.deepEqual(codes, [401, 200, 429]);
  const audit = await s.stop();
  assert.deepEqual(
    audit.filter((e) => e.route === 'POST /v1/session').map((e) => e.status),
    [401, 200, 429],
  );
});

test('the session table is bounded (the oldest goes first), sessions expire idle and by age, and a revoked key ends its sessions', () => {
  const k = keys.create('table');
  let now = 1_000_000;
  const t = new SessionTable(keys, { max: 3, idleMs: 1000, maxAgeMs: 5000 }, () => now);
  const ids = [0, 1, 2, 3].map(() => t.create(k.record));
  assert.equal(t.size, 3);
  assert.equal(t.lookup(ids[0]), null, 'the oldest made room');
  assert.equal(t.lookup(ids[1])?.id, k.record.id);
  now += 900;
  assert.equal(t.lookup(ids[1])?.id, k.record.id, 'used within the idle time');
  now += 900;
  assert.equal(t.lookup(ids[2]), null, 'idle for 1800 ms');
  for (let i = 0; i < 6; i++) {
    now += 900;
    if (t.lookup(ids[1]) === null) break;
  }
  assert.equal(t.lookup(ids[1]), null, 'ended by age though used every 900 ms');
  assert.ok(now - 1_000_000 <= 6000);
  const live = t.create(k.record);
  assert.ok(t.lookup(live));
  keys.revoke(k.record.id);
  assert.equal(t.lookup(live), null, 'revoked key');
  assert.equal(sessionIdFrom(`a=b; ${SESSION_COOKIE}=short`), null);
  assert.equal(sessionIdFrom(`${SESSION_COOKIE}=${live}; x=y`), live);
});

test('every answer carries the CSP and nosniff: console files, API answers, refusals, 404s and errors node writes itself', async () => {
  const s = server();
  const answers: [string, Record<string, unknown>][] = [];
  for (const [method, url, headers] of [
    ['GET', '/', {}],
    ['GET', '/assets/app-1a2b.js', {}],
    ['GET', '/favicon.svg', {}],
    ['GET', '/healthz', {}],
    ['GET', '/v1/lists', {}],
    ['GET', '/v1/lists', { 'x-api-key': key }],
    ['GET', '/nope', { 'x-api-key': key }],
    ['POST', '/v1/screen', { 'x-api-key': key, 'content-type': 'application/json' }],
  ] as const) {
    const r = await s.app.inject({ method, url, headers, payload: method === 'POST' ? '{bad' : undefined });
    answers.push([`${method} ${url} ${r.statusCode}`, r.headers]);
  }
  await s.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (s.app.server.address() as { port: number }).port;
  const raw = await rawRequest(port, 'GET', '/v1/lists', { 'bad header': 'x' });
  assert.equal(raw.status, 400);
  answers.push(['raw 400', raw.headers]);
  for (const [what, h] of answers) {
    assert.equal(h['content-security-policy'], CONTENT_SECURITY_POLICY, what);
    assert.equal(h['x-content-type-options'], 'nosniff', what);
  }
  assert.match(CONTENT_SECURITY_POLICY, /script-src 'self';/);
  assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe/);
  await s.stop();
});

test('console files: public, typed, hashed assets cached for ever, index revalidated (304 on its ETag); nothing outside the folder can be named', async () => {
  const s = server();
  const index = await s.app.inject({ method: 'GET', url: '/' });
  assert.equal(index.statusCode, 200);
  assert.match(String(index.headers['content-type']), /^text\/html/);
  assert.equal(index.headers['cache-control'], 'no-cache');
  const again = await s.app.inject({
    method: 'GET',
    url: '/',
    headers: { 'if-none-match': String(index.headers.etag) },
  });
  assert.equal(again.statusCode, 304);
  const js = await s.app.inject({ method: 'GET', url: '/assets/app-1a2b.js' });
  assert.deepEqual([js.statusCode, js.body], [200, 'console.log(1)']);
  assert.match(String(js.headers['content-type']), /^text\/javascript/);
  assert.match(String(js.headers['cache-control']), /immutable/);
  for (const url of [
    '/assets/../secret.txt',
    '/assets/..%2f..%2fsecret.txt',
    '/assets/%2e%2e/%2e%2e/secret.txt',
    '/assets/../../secret.txt',
    '/assets/',
    '/assets/nope.js',
  ]) {
    const r = await s.app.inject({ method: 'GET', url });
    assert.ok([401, 404].includes(r.statusCode), `${url}: ${r.statusCode}`);
    assert.doesNotMatch(r.body, /not for the web/);
  }
  // Not built: / says so (503) instead of an empty page.
  const bare = server({ consoleDir: join(dir, 'no-such-build') });
  const r = await bare.app.inject({ method: 'GET', url: '/' });
  assert.deepEqual([r.statusCode, r.json().error.code], [503, 'console_not_built']);
  await bare.stop();
  await s.stop();
});
