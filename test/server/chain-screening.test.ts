// The HTTP API screens like `coinradar screen` on a database with a chain index: the litecoind
// regtest history of test/chain (a listed address's cluster mate is a `cluster` match; an address
// that got a third of its funds from it one hop back is an `indirect` match at 33.3 %).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ingestChain } from '../../src/chain/ingest.js';
import { NETWORKS } from '../../src/chain/network.js';
import { DEFAULT_MAX_CHAIN_BATCH, openScreeningServer } from '../../src/cli/serve.js';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import type { ScreenResult } from '../../src/sanctions/screen.js';
import { ApiKeyFile, keysPathFor } from '../../src/server/keys.js';
import { DuckDbChainStore } from '../../src/store/duckdb/chain.js';
import { litecoindMissing, RegtestNode } from '../chain/regtest-node.js';
import { buildScenario, type Truth } from '../chain/scenario.js';
import { runCli } from '../cli-run.js';

const net = NETWORKS['litecoin-regtest'];

test('litecoind regtest: POST /v1/screen and GET /v1/screen/:address give the cluster and indirect matches `coinradar screen --format json` gives', async (t) => {
  const missing = litecoindMissing();
  if (missing) {
    t.skip(missing);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'cr-serve-chain-'));
  const db = join(dir, 'db.duckdb');
  let truth: Truth;
  let tipHeight: number;
  const node = await RegtestNode.start();
  try {
    truth = await buildScenario(node);
    const store = await DuckDbChainStore.open(db);
    try {
      const d = new Diagnostics();
      tipHeight = (await ingestChain(store, net, { kind: 'rpc', url: node.rpcUrl }, d)).tipHeight;
      assert.equal(d.get('problems'), 0, d.summary());
    } finally {
      await store.close();
    }
  } finally {
    await node.destroy();
  }
  try {
    // A user list naming alice's first address (regtest addresses fail LTC validation and are
    // matched exactly all the same).
    const list = join(dir, 'watch.csv');
    writeFileSync(list, `coin,address,label\nLTC,${truth.a[0]},test entity\n`);
    assert.match((await runCli(['sanctions', 'load', '--db', db, list])).out, /loaded version 1 of watch/);

    const fresh = 'rltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kyq3l2s';
    // a1 listed; a2 in its cluster; b1 got a third of its 25 LTC from a1 one hop back; T1 (pool) and
    // an address the chain never saw: nothing.
    const input = [truth.a[0], truth.a[1], truth.b[0], truth.T1, fresh];
    const screen = await runCli(['screen', '--db', db, '--format', 'json', '--chain-hops', '2', ...input]);
    assert.match(screen.err, /cluster and indirect \(2 hops, haircut\) matches included/);
    const expected = JSON.parse(screen.out) as ScreenResult[];
    const kinds = expected.map((r) => r.matches.map((m) => `${m.kind}:${m.listedAddress}:${m.hops ?? ''}`));
    assert.deepEqual(kinds, [
      [`exact:${truth.a[0]}:`],
      [`cluster:${truth.a[0]}:0`],
      [`indirect:${truth.a[0]}:1`],
      [],
      [],
    ]);
    assert.match(
      expected[2].matches[0].via ?? '',
      /^33\.3 % of 2500000000 sat received within 2 hops \(haircut\)$/,
    );
    for (const r of expected.slice(0, 3))
      assert.deepEqual(r.matches[0].entity, {
        id: 'test entity',
        name: 'test entity',
        type: 'entity',
        programs: [],
      });

    const { key } = new ApiKeyFile(keysPathFor(db)).create('chain test');
    const auth = { authorization: `Bearer ${key}` };
    const auditPath = join(dir, 'audit.jsonl');
    const server = await openScreeningServer({ db, chainHops: 2, audit: auditPath });
    try {
      assert.match(
        server.summary,
        /chain index litecoin-regtest to height \d+: cluster and indirect \(2 hops/,
      );
      const { app } = server;
      // GET: each address alone, the same result object the CLI printed.
      for (const [i, a] of input.entries()) {
        const r = await app.inject({ method: 'GET', url: `/v1/screen/${a}`, headers: auth });
        assert.equal(r.statusCode, 200, r.body);
        assert.deepEqual(r.json(), expected[i], a);
      }
      // POST: the batch, in input order, with the chain index it consulted.
      const chainInfo = { network: 'litecoin-regtest', tipHeight: tipHeight!, hops: 2, policy: 'haircut' };
      let r = await app.inject({
        method: 'POST',
        url: '/v1/screen',
        headers: auth,
        payload: { addresses: input },
      });
      assert.equal(r.statusCode, 200, r.body);
      const body = r.json();
      assert.deepEqual(body.results, expected);
      assert.equal(body.matched, 3);
      assert.deepEqual(body.chain, chainInfo);
      assert.equal(body.lists[0].list, 'watch');
      r = await app.inject({ method: 'GET', url: '/v1/lists', headers: auth });
      assert.deepEqual(r.json().chain, chainInfo);
      r = await app.inject({ method: 'GET', url: '/openapi.json' });
      assert.match(
        r.json().info.description,
        /Match kinds: exact, cluster and indirect \(chain index litecoin-regtest/,
      );
      assert.ok(r.json().components.schemas.Chain);
      // Bad input on the chain path is still a clean 400.
      r = await app.inject({ method: 'POST', url: '/v1/screen', headers: auth, payload: { addresses: [] } });
      assert.deepEqual([r.statusCode, r.json().error.code], [400, 'bad_request']);
      // On the chain path a batch is held to --max-chain-batch (each address costs index queries).
      r = await app.inject({
        method: 'POST',
        url: '/v1/screen',
        headers: auth,
        payload: { addresses: Array.from({ length: DEFAULT_MAX_CHAIN_BATCH + 1 }, () => truth.a[1]) },
      });
      assert.deepEqual([r.statusCode, r.json().error.code], [400, 'too_many_addresses']);
      // SIGHUP's reload reads the lists through the connection the server holds.
      const again = await server.reload();
      assert.equal(again.size, 1);
      r = await app.inject({ method: 'GET', url: `/v1/screen/${truth.a[1]}`, headers: auth });
      assert.equal(r.json().matches[0].kind, 'cluster');
    } finally {
      await server.close();
    }
    const audit = readFileSync(auditPath, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const post = audit.find((e) => e.route === 'POST /v1/screen' && e.status === 200);
    assert.deepEqual(post.matched, [truth.a[0], truth.a[1], truth.b[0]]);
    assert.equal(post.chain, `litecoin-regtest@${tipHeight!}, 2 hops (haircut)`);
    assert.deepEqual(post.lists, ['watch@1']);

    // --no-chain (chain: false): exact matches only, as before, and no chain in the answers.
    const exactOnly = await openScreeningServer({ db, chain: false, audit: auditPath });
    try {
      assert.match(exactOnly.summary, /exact matches only \(--no-chain\)/);
      let r = await exactOnly.app.inject({ method: 'GET', url: `/v1/screen/${truth.a[1]}`, headers: auth });
      assert.deepEqual(r.json(), { address: truth.a[1], matched: false, matches: [] });
      r = await exactOnly.app.inject({ method: 'GET', url: `/v1/screen/${truth.a[0]}`, headers: auth });
      assert.deepEqual(r.json(), expected[0]);
      r = await exactOnly.app.inject({ method: 'GET', url: '/v1/lists', headers: auth });
      assert.equal(r.json().chain, undefined);
    } finally {
      await exactOnly.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
