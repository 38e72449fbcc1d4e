import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSdnCsv } from '../../src/sanctions/sdn-csv.js';
import { ScreeningIndex, type ChainExposureProvider } from '../../src/sanctions/screen.js';
import Fastify from 'fastify';
import { buildServer } from '../../src/server/app.js';
import { AuditLog, auditWho, type AuditEntry } from '../../src/server/audit.js';
import { batchResponseSchema, resultSchema } from '../../src/server/openapi.js';
import { ApiKeyFile } from '../../src/server/keys.js';
import { listAndKey, FIX, TIAN } from './fixture.js';
import { runCli } from '../cli-run.js';

const dir = mkdtempSync(join(tmpdir(), 'cr-api-'));
const index = new ScreeningIndex();
const keys = new ApiKeyFile(join(dir, 'db.keys.json'));
const auditPath = join(dir, 'db.audit.jsonl');
const audit = new AuditLog(auditPath);
let key = '';
let keyId = '';

before(() => ({ key, keyId } = listAndKey(index, keys)));

after(() => rmSync(dir, { recursive: true, force: true }));

const auth = () => ({ authorization: `Bearer ${key}` });

test('keys: only hashes are stored', () => {
  const text = readFileSync(join(dir, 'db.keys.json'), 'utf8');
  assert.ok(!text.includes(key));
  assert.ok(text.includes(keyId));
});

test('a key revoked by another process stops working at the next poll', async () => {
  const serverSide = new ApiKeyFile(join(dir, 'db.keys.json'));
  serverSide.watch(20);
  const cliSide = new ApiKeyFile(join(dir, 'db.keys.json'));
  const k = cliSide.create('short-lived');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(serverSide.check(k.key).ok, true);
  cliSide.revoke(k.record.id);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(serverSide.check(k.key), { ok: false, reason: 'revoked_api_key' });
  serverSide.stop();
});

test('auth: no key → 401, wrong key → 401, revoked key → 401; anonymous only when allowed', async () => {
  const app = buildServer({ index, keys, audit });
  let r = await app.inject({ method: 'GET', url: `/v1/screen/${TIAN}` });
  assert.equal(r.statusCode, 401);
  assert.equal(r.json().error.code, 'missing_api_key');
  r = await app.inject({
    method: 'GET',
    url: `/v1/screen/${TIAN}`,
    headers: { authorization: 'Bearer crk_nope_nope' },
  });
  assert.deepEqual([r.statusCode, r.json().error.code], [401, 'invalid_api_key']);
  r = await app.inject({ method: 'GET', url: `/v1/screen/${TIAN}`, headers: auth() });
  assert.equal(r.statusCode, 200);
  const body = r.json();
  assert.equal(body.matched, true);
  assert.deepEqual(body.matches[0].entity, {
    id: '28263',
    name: 'TIAN, Yinyin',
    type: 'individual',
    programs: ['DPRK3', 'CYBER2'],
  });
  assert.equal(body.matches[0].kind, 'exact');
  assert.equal(body.matches[0].versionId, 1);
  // x-api-key works too.
  r = await app.inject({ method: 'GET', url: '/v1/lists', headers: { 'x-api-key': key } });
  assert.equal(r.json().lists[0].list, 'ofac-sdn');

  const other = keys.create('temporary');
  r = await app.inject({
    method: 'GET',
    url: `/v1/screen/${TIAN}`,
    headers: { authorization: `Bearer ${other.key}` },
  });
  assert.equal(r.statusCode, 200);
  keys.revoke(other.record.id);
  r = await app.inject({
    method: 'GET',
    url: `/v1/screen/${TIAN}`,
    headers: { authorization: `Bearer ${other.key}` },
  });
  assert.deepEqual([r.statusCode, r.json().error.code], [401, 'revoked_api_key']);

  // The OpenAPI document needs no key.
  r = await app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(r.statusCode, 200);
  assert.ok(r.json().paths['/v1/screen']);
  await app.close();

  const anon = buildServer({ index, keys, audit, allowAnonymous: true });
  r = await anon.inject({ method: 'GET', url: `/v1/screen/${TIAN}` });
  assert.equal(r.statusCode, 200);
  // A wrong key is still refused when anonymous access is on.
  r = await anon.inject({
    method: 'GET',
    url: `/v1/screen/${TIAN}`,
    headers: { authorization: 'Bearer wrong' },
  });
  assert.equal(r.statusCode, 401);
  await anon.close();
});

test('batch screening and limits: 413, 400 too many, 400 bad JSON with a message, 429', async () => {
  const app = buildServer({ index, keys, audit, bodyLimit: 64 * 1024, rate: 0 });
  const addrs = [
    TIAN,
    '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2',
    '0x7F367CC41522CE07553E823BF3BE79A889DEBE1B'.toLowerCase(),
  ];
  let r = await app.inject({
    method: 'POST',
    url: '/v1/screen',
    headers: auth(),
    payload: { addresses: addrs },
  });
  assert.equal(r.statusCode, 200);
  const b = r.json();
  assert.deepEqual(
    b.results.map((x: { matched: boolean }) => x.matched),
    [true, false, true],
  );
  assert.equal(b.matched, 2);
  assert.equal(b.results[2].matches[0].entity.name, 'POTEKHIN, Danil');

  r = await app.inject({
    method: 'POST',
    url: '/v1/screen',
    headers: { ...auth(), 'content-type': 'application/json' },
    payload: JSON.stringify({ addresses: Array(5000).fill(TIAN) }),
  });
  assert.deepEqual([r.statusCode, r.json().error.code], [413, 'body_too_large']);

  r = await app.inject({
    method: 'POST',
    url: '/v1/screen',
    headers: { ...auth(), 'content-type': 'application/json' },
    payload: '{"addresses": [',
  });
  assert.equal(r.statusCode, 400);
  assert.equal(r.json().error.code, 'bad_json');
  assert.match(r.json().error.message, /JSON/);

  r = await app.inject({ method: 'GET', url: '/v1/screen/%E0%A4%A', headers: auth() });
  assert.deepEqual([r.statusCode, r.json().error.code], [400, 'bad_url']);
  r = await app.inject({ method: 'GET', url: '/v1/screen/', headers: auth() });
  assert.deepEqual([r.statusCode, r.json().error.code], [400, 'bad_request']);
  r = await app.inject({ method: 'GET', url: '/nope', headers: auth() });
  assert.deepEqual([r.statusCode, r.json().error.code], [404, 'not_found']);
  r = await app.inject({ method: 'POST', url: '/v1/screen', headers: auth(), payload: { addrs: [] } });
  assert.deepEqual([r.statusCode, r.json().error.code], [400, 'bad_request']);
  // Addresses that are not an array of strings are refused, not coerced (fastify's validator made
  // 1 into ["1"] and screened it: fuzz/regressions/api-body-8d09e46afbf9).
  for (const addresses of [1, TIAN, [TIAN, 2], [true], [null], { 0: TIAN }]) {
    r = await app.inject({ method: 'POST', url: '/v1/screen', headers: auth(), payload: { addresses } });
    assert.deepEqual([r.statusCode, r.json().error.code], [400, 'bad_request'], JSON.stringify(addresses));
  }
  r = await app.inject({
    method: 'POST',
    url: '/v1/screen',
    headers: { ...auth(), 'content-type': 'application/xml' },
    payload: '<x/>',
  });
  assert.equal(r.statusCode, 415);
  await app.close();

  // 10,001 addresses: under the default 2 MiB body limit, over the 10,000 batch limit.
  const big = buildServer({ index, keys, audit });
  r = await big.inject({
    method: 'POST',
    url: '/v1/screen',
    headers: auth(),
    payload: { addresses: Array(10_001).fill(TIAN) },
  });
  assert.deepEqual([r.statusCode, r.json().error.code], [400, 'too_many_addresses']);
  r = await big.inject({
    method: 'POST',
    url: '/v1/screen',
    headers: auth(),
    payload: { addresses: Array(10_000).fill(TIAN) },
  });
  assert.equal(r.statusCode, 200);
  assert.equal(r.json().matched, 10_000);
  await big.close();

  const limited = buildServer({ index, keys, audit, rate: 5, burst: 5 });
  const codes: number[] = [];
  for (let i = 0; i < 7; i++)
    codes.push(
      (await limited.inject({ method: 'GET', url: `/v1/screen/${TIAN}`, headers: auth() })).statusCode,
    );
  assert.deepEqual(codes, [200, 200, 200, 200, 200, 429, 429]);
  r = await limited.inject({ method: 'GET', url: `/v1/screen/${TIAN}`, headers: auth() });
  assert.equal(r.json().error.code, 'rate_limited');
  assert.ok(Number(r.headers['retry-after']) >= 1);
  // Another key has its own bucket.
  const k2 = keys.create('second');
  r = await limited.inject({
    method: 'GET',
    url: `/v1/screen/${TIAN}`,
    headers: { authorization: `Bearer ${k2.key}` },
  });
  assert.equal(r.statusCode, 200);
  await limited.close();
});

test('audit log: who screened what, when, with which list version', async () => {
  const app = buildServer({ index, keys, audit });
  await app.inject({
    method: 'POST',
    url: '/v1/screen',
    headers: auth(),
    payload: { addresses: ['audit-marker-1', TIAN] },
  });
  await app.close();
  await audit.close();
  const entries = readFileSync(auditPath, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const e = entries.find((x) => x.addresses?.includes('audit-marker-1'));
  assert.ok(e);
  assert.equal(e.key, keyId);
  assert.equal(e.keyName, 'analyst one');
  assert.deepEqual(e.matched, [TIAN]);
  assert.deepEqual(e.lists, ['ofac-sdn@1']);
  assert.equal(e.route, 'POST /v1/screen');
  assert.ok(Date.now() - Date.parse(e.ts) < 60_000);
  assert.ok(entries.some((x) => x.status === 401 && x.key === 'invalid_api_key'));
});

test('swapIndex: a reloaded list is used from the next request on', async () => {
  const app = buildServer({ index, keys, audit });
  const next = new ScreeningIndex();
  next.addVersion({ versionId: 9, list: 'ofac-sdn', published: '2024-09', checksum: 'x' }, [], []);
  app.swapIndex(next);
  let r = await app.inject({ method: 'GET', url: `/v1/screen/${TIAN}`, headers: auth() });
  assert.equal(r.json().matched, false);
  r = await app.inject({ method: 'GET', url: '/v1/lists', headers: auth() });
  assert.equal(r.json().lists[0].versionId, 9);
  await app.close();
});

test('over a real loopback socket: binds 127.0.0.1, survives garbage bytes and keeps serving', async () => {
  const app = buildServer({ index, keys, audit });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port, address } = app.server.address() as { port: number; address: string };
  assert.equal(address, '127.0.0.1');
  await new Promise<void>((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.end('\x00\x01GARBAGE / NOT-HTTP\r\n\r\n\xff\xfe'));
    s.on('data', () => {});
    s.on('close', () => resolve());
    s.on('error', () => resolve());
  });
  const res = await fetch(`http://127.0.0.1:${port}/v1/screen/${TIAN}`, { headers: auth() });
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { matched: boolean }).matched, true);
  const bad = await fetch(`http://127.0.0.1:${port}/v1/screen`, {
    method: 'POST',
    headers: { ...auth(), 'content-type': 'application/json' },
    body: '{oops',
  });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'bad_json');
  await app.close();
});

test('pre-serialised responses are byte for byte what the response schemas serialise', async () => {
  const app = buildServer({ index, keys, audit, rate: 0 });
  // The reference: fastify's own serializer compiled from the same schemas.
  const ref = Fastify();
  ref.get<{ Params: { a: string } }>(
    '/ref/:a',
    { schema: { response: { 200: resultSchema } } },
    async (req) => index.screen(req.params.a),
  );
  ref.post<{ Body: { addresses: string[] } }>(
    '/ref',
    { schema: { response: { 200: batchResponseSchema } } },
    async (req) => {
      const results = index.screenAddresses(req.body.addresses);
      return {
        results,
        matched: results.filter((r) => r.matched).length,
        lists: index.versions.map((v) => ({
          versionId: v.versionId,
          list: v.list,
          published: v.published,
          checksum: v.checksum,
        })),
      };
    },
  );
  const l = parseSdnCsv([`${FIX}/sdn.csv`]);
  const addresses = [
    ...l.addresses.map((a) => a.address),
    '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2',
    'bitcoincash:QPUSMP64RAJSES77X95G9AH825MTYYV74SMWWKXHX3',
    'quote"back\\slash',
    'ünïcode €',
  ];
  for (const a of addresses) {
    const url = encodeURIComponent(a);
    const ours = await app.inject({ method: 'GET', url: `/v1/screen/${url}`, headers: auth() });
    const theirs = await ref.inject({ method: 'GET', url: `/ref/${url}` });
    assert.equal(ours.statusCode, 200, a);
    assert.equal(ours.body, theirs.body, a);
    assert.equal(ours.headers['content-type'], theirs.headers['content-type']);
  }
  const ours = await app.inject({
    method: 'POST',
    url: '/v1/screen',
    headers: auth(),
    payload: { addresses },
  });
  const theirs = await ref.inject({ method: 'POST', url: '/ref', payload: { addresses } });
  assert.equal(ours.body, theirs.body);
  assert.equal(ours.json().matched, 127);
  await app.close();
  await ref.close();
});

test('audit: the hot path writes the line record() would; every line lands, in order, by close()', async () => {
  const path = join(dir, 'order.audit.jsonl');
  // Small flush thresholds: many batches, each across chunk boundaries.
  const log = new AuditLog(path, 5, 2048);
  const lists = ['ofac-sdn@1', 'watch@2'];
  const entry = (i: number, who: { key: string; keyName?: string }): AuditEntry => ({
    ts: '',
    ...who,
    ip: i % 2 ? '127.0.0.1' : '::1',
    route: 'GET /v1/screen',
    addresses: [`addr-${i}-"ü"`],
    matched: i % 3 ? [] : [`addr-${i}-"ü"`],
    lists,
    status: 200,
  });
  const whos = [{ key: 'k1', keyName: 'analyst "one"' }, { key: 'anonymous' }];
  const N = 5000;
  for (let i = 0; i < N; i++) {
    const e = entry(i, whos[i % 2]);
    if (i % 7 === 0) log.record({ ...e, ts: new Date().toISOString() });
    else
      log.recordScreen(
        auditWho(e.key, e.keyName),
        e.ip,
        JSON.stringify(e.route),
        e.addresses[0],
        e.matched.length > 0,
        JSON.stringify(lists),
      );
    if (i % 1000 === 999) await new Promise((r) => setTimeout(r, 10));
  }
  await log.close();
  const lines = readFileSync(path, 'utf8').split('\n');
  assert.equal(lines.pop(), '');
  assert.equal(lines.length, N);
  assert.equal(log.written, N);
  for (const [i, line] of lines.entries()) {
    const got = JSON.parse(line) as AuditEntry;
    assert.ok(Math.abs(Date.parse(got.ts) - Date.now()) < 60_000, line);
    // Same keys in the same order as JSON.stringify of the entry: the same line but for the time.
    assert.equal(line, JSON.stringify({ ...entry(i, whos[i % 2]), ts: got.ts }));
  }
});

test('with a chain provider: cluster matches in GET and POST; a failing chain lookup is a 500 and the server goes on', async () => {
  // The litecoind regtest test (chain-screening.test.ts) runs the real chain index; this one the
  // server's side of it: a cluster table as provider, then one that fails.
  const mate = '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2';
  let fail = false;
  const provider: ChainExposureProvider = {
    async exposure(address, isListed) {
      if (fail) throw new Error('chain index unreadable');
      return address === mate && isListed(TIAN) ? [{ kind: 'cluster', listedAddress: TIAN, hops: 0 }] : [];
    },
  };
  const app = buildServer({
    index,
    keys,
    audit,
    chain: { provider, network: 'bitcoin', tipHeight: 100, hops: 3 },
  });
  let r = await app.inject({ method: 'GET', url: `/v1/screen/${mate}`, headers: auth() });
  assert.equal(r.statusCode, 200);
  const m = r.json().matches;
  assert.deepEqual(
    m.map((x: { kind: string; listedAddress: string; hops: number }) => [x.kind, x.listedAddress, x.hops]),
    [['cluster', TIAN, 0]],
  );
  assert.equal(m[0].entity.name, 'TIAN, Yinyin');
  r = await app.inject({
    method: 'POST',
    url: '/v1/screen',
    headers: auth(),
    payload: { addresses: [TIAN, mate, 'nothing'] },
  });
  assert.deepEqual(
    r.json().results.map((x: { matches: { kind: string }[] }) => x.matches.map((y) => y.kind)),
    [['exact'], ['cluster'], []],
  );
  assert.deepEqual(r.json().chain, { network: 'bitcoin', tipHeight: 100, hops: 3, policy: 'haircut' });
  fail = true;
  r = await app.inject({ method: 'GET', url: `/v1/screen/${mate}`, headers: auth() });
  assert.deepEqual([r.statusCode, r.json().error.code], [500, 'internal']);
  fail = false;
  r = await app.inject({ method: 'GET', url: `/v1/screen/${mate}`, headers: auth() });
  assert.equal(r.statusCode, 200);
  await app.close();
});

test('coinradar serve and screen refuse bad option values with a message naming the option', async () => {
  const db = join(dir, 'never-opened.duckdb');
  for (const [args, msg] of [
    [['serve', '--port', 'x'], /--port must be a whole number from 0 to 65535, not 'x'/],
    [['serve', '--max-batch', '0'], /--max-batch must be a whole number of at least 1/],
    [['serve', '--rate', '-1'], /--rate must be a number of requests a second/],
    [['serve', '--chain-hops', '1.5'], /--chain-hops must be a whole number from 0 to 20, not '1.5'/],
    [['screen', '--chain-hops', 'many', TIAN], /--chain-hops must be a whole number from 0 to 20/],
  ] as const) {
    await assert.rejects(runCli([...args, '--db', db]), msg);
  }
  // Refused before the database was touched.
  assert.equal(existsSync(db), false);
});
