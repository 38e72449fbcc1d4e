import { ChainSanctionsExposure } from '../../src/chain/sanctions-exposure.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import { DuckDbChainStore } from '../../src/store/duckdb/chain.js';
import { ingestChain } from '../../src/chain/ingest.js';
import { NETWORKS } from '../../src/chain/network.js';
import { updateClusters } from '../../src/chain/cluster.js';
import { exposure } from '../../src/chain/exposure.js';
import { attributePools, payoutsTo } from '../../src/chain/pools.js';
import { TagSet, TAG_MINING_POOL, TAG_SANCTIONED } from '../../src/chain/tags.js';
import { trace } from '../../src/chain/trace.js';
import { litecoindMissing, RegtestNode } from './regtest-node.js';
import { buildScenario, type Truth } from './scenario.js';

const net = NETWORKS['litecoin-regtest'];
const TABLES = [
  'SELECT * FROM chain_blocks ORDER BY height',
  'SELECT * FROM chain_txs ORDER BY tx_id',
  'SELECT * FROM chain_outputs ORDER BY output_id',
  'SELECT * FROM chain_inputs ORDER BY tx_id, vin',
  'SELECT * FROM chain_addresses ORDER BY address_id',
  'SELECT * FROM chain_clusters ORDER BY address_id',
];

async function clusterAddresses(store: DuckDbChainStore, address: string): Promise<string[]> {
  const id = await store.addressIdOf(address);
  assert.notEqual(id, null, `address ${address} indexed`);
  const c = await store.clusterOf(id!);
  const members = await store.clusterMembers(c!);
  return [...(await store.addressTexts(members)).values()].sort();
}

test('litecoind regtest: blk files and RPC give identical indexes; clusters match the constructed history', async (t) => {
  const missing = litecoindMissing();
  if (missing) {
    t.skip(missing);
    return;
  }
  const node = await RegtestNode.start();
  const stores: DuckDbChainStore[] = [];
  try {
    const viaRpc = await DuckDbChainStore.open(':memory:');
    stores.push(viaRpc);
    const d1 = new Diagnostics();
    // First RPC ingest midway through the history; the second resumes from the last height.
    let midHeight = -1;
    const truth: Truth = await buildScenario(node, async () => {
      const r = await ingestChain(viaRpc, net, { kind: 'rpc', url: node.rpcUrl }, d1);
      midHeight = r.tipHeight;
    });
    const height = await node.rpc().call<number>('getblockcount');
    const r1 = await ingestChain(viaRpc, net, { kind: 'rpc', url: node.rpcUrl }, d1);
    assert.ok(midHeight > 100 && midHeight < height);
    assert.equal(r1.blocks, height - midHeight);
    assert.equal(r1.clusters.full, false);
    assert.equal(r1.tipHeight, height);
    assert.equal(d1.get('problems'), 0, d1.summary());
    assert.equal(d1.get('chain.unresolved_inputs'), 0);

    await node.stop();
    const viaBlk = await DuckDbChainStore.open(':memory:');
    stores.push(viaBlk);
    const d2 = new Diagnostics();
    const r2 = await ingestChain(viaBlk, net, { kind: 'blocks-dir', path: node.blocksDir }, d2);
    assert.equal(r2.tipHeight, height);
    assert.equal(d2.get('problems'), 0, d2.summary());
    for (const sql of TABLES) assert.deepEqual(await viaBlk.db.all(sql), await viaRpc.db.all(sql), sql);

    const store = viaBlk;
    // Common-input ownership: alice's three addresses; the change address a4 stays apart (no change policy).
    assert.deepEqual(await clusterAddresses(store, truth.a[0]), truth.a.slice(0, 3).sort());
    assert.deepEqual(await clusterAddresses(store, truth.a[3]), [truth.a[3]]);
    // The CoinJoin is skipped: carol, dave and erin are not merged through it.
    assert.deepEqual(await clusterAddresses(store, truth.c[0]), [truth.c[0]]);
    assert.deepEqual(await clusterAddresses(store, truth.e[0]), [truth.e[0]]);
    assert.deepEqual(await clusterAddresses(store, truth.d[0]), [truth.d[0]]);
    // Dave's later spend joins d2 and d3.
    assert.deepEqual(await clusterAddresses(store, truth.d[1]), [truth.d[1], truth.d[2]].sort());
    const stats = await store.clusterStats();
    assert.equal(stats.coinjoinSkipped, 1);
    assert.equal(stats.policy, 'common-input');
    const cj = await store.tx(truth.txs.coinjoin);
    assert.equal(cj?.coinjoin, true);
    assert.equal(cj?.in_count, 3);
    assert.equal((await store.tx(truth.txs.alice_spend))?.coinjoin, false);

    // Pools: P1 mined untagged blocks (named by the user's pool file), T1 signed '/coinradar-test-pool/'.
    const pools = await attributePools(store, new Map([[truth.P1, 'Regtest Pool']]));
    const id = async (a: string) => (await store.addressIdOf(a))!;
    const cluster = async (a: string) => store.clusterMembers((await store.clusterOf(await id(a)))!);
    const payA = await payoutsTo(store, await cluster(truth.a[0]), pools);
    assert.deepEqual(
      payA.map((p) => [p.txid, p.address, p.value, p.pool, p.kind, p.from]).sort(),
      [1, 2, 3]
        .map((i) => [truth.txs[`payout_a${i}`], truth.a[i - 1], 10e8, 'Regtest Pool', 'payout', truth.P1])
        .sort(),
    );
    const payD = await payoutsTo(store, await cluster(truth.d[1]), pools);
    assert.deepEqual(
      payD.map((p) => [p.txid, p.address, p.value, p.pool]),
      [[truth.txs.payout_d2, truth.d[1], 7e8, 'coinradar-test-pool']],
    );
    const payT = await payoutsTo(store, [await id(truth.T1)], pools);
    assert.deepEqual(
      payT.map((p) => [p.kind, p.value, p.pool, p.height]),
      [
        ['coinbase', 50e8, 'coinradar-test-pool', 1],
        ['coinbase', 50e8, 'coinradar-test-pool', 2],
      ],
    );

    // Exposure of b1: a third of its 25 LTC came through a1 (tagged sanctioned) one hop back; the
    // rest through a2, a3 from the pool's coinbase outputs two hops back.
    const tags = new TagSet();
    tags.add(truth.a[0], TAG_SANCTIONED, 'test entity');
    for (const [a, name] of pools.byAddress)
      tags.add((await store.addressTexts([a])).get(a)!, TAG_MINING_POOL, name);
    const target = { addressIds: [await id(truth.b[0])], label: truth.b[0], level: 'address' as const };
    const e1 = await exposure(store, target, tags, { hops: 1, policy: 'haircut' });
    assert.equal(e1.received, 25e8);
    assert.deepEqual(
      e1.exposure.map((r) => [r.tag, r.value, r.minHops, r.sources]),
      [[TAG_SANCTIONED, Math.round(25e8 / 3), 1, [truth.a[0]]]],
    );
    const e2 = await exposure(store, target, tags, { hops: 2, policy: 'haircut' });
    assert.deepEqual(
      e2.exposure.map((r) => [r.tag, r.value, r.minHops]),
      [
        [TAG_MINING_POOL, Math.round((25e8 * 2) / 3), 2],
        [TAG_SANCTIONED, Math.round(25e8 / 3), 1],
      ],
    );
    // The same walk as sanctions screening sees it: a1 listed → a2 shares its cluster, b1 got a third
    // of its funds from it one hop back; a fresh address has nothing.
    const listed = (a: string) => a === truth.a[0];
    const chainSide = new ChainSanctionsExposure(store, 2);
    assert.deepEqual(await chainSide.exposure(truth.a[1], listed), [
      { kind: 'cluster', listedAddress: truth.a[0], hops: 0 },
    ]);
    const viaB = await chainSide.exposure(truth.b[0], listed);
    assert.deepEqual(
      viaB.map((x) => [x.kind, x.listedAddress, x.hops]),
      [['indirect', truth.a[0], 1]],
    );
    assert.match(viaB[0].via ?? '', /^33\.3 % of 2500000000 sat received within 2 hops \(haircut\)$/);
    assert.deepEqual(await chainSide.exposure(truth.T1, listed), []);
    const e2p = await exposure(store, target, tags, { hops: 2, policy: 'poison' });
    assert.deepEqual(
      e2p.exposure.map((r) => [r.tag, r.share]),
      [
        [TAG_MINING_POOL, 1],
        [TAG_SANCTIONED, 1],
      ],
    );

    // Forward trace of the peel chain from b1.
    const g = await trace(
      store,
      { kind: 'address', addressIds: [await id(truth.b[0])], label: truth.b[0] },
      { direction: 'forward', hops: 3, level: 'address', policy: 'haircut' },
      tags,
    );
    const label = new Map(g.nodes.map((n) => [n.id, n.label]));
    const got = g.edges.map((e) => [e.hop, label.get(e.from), label.get(e.to), e.value, e.tainted]);
    const expected: unknown[] = [];
    let rest = 25e8;
    for (let i = 1; i <= 3; i++) {
      const next = rest - 1e8 - 1e4;
      expected.push(
        [i, truth.b[i - 1], truth.txs[`peel${i}`], rest, rest],
        [i, truth.txs[`peel${i}`], truth.M, 1e8, 1e8],
        [i, truth.txs[`peel${i}`], truth.b[i], next, next],
      );
      rest = next;
    }
    assert.deepEqual(got, expected);
    // The same trace up to the block of the second peel (--until as a height): two hops of three.
    const peel2Height = (await store.tx(truth.txs.peel2))!.height;
    const upTo = await trace(
      store,
      { kind: 'address', addressIds: [await id(truth.b[0])], label: truth.b[0] },
      { direction: 'forward', hops: 3, level: 'address', policy: 'haircut', until: { height: peel2Height } },
      tags,
    );
    assert.deepEqual(
      upTo.edges.map((e) => [e.hop, label.get(e.from), label.get(e.to), e.value, e.tainted]),
      expected.slice(0, 6),
    );
    // Backward one hop from b1: alice's three inputs fund it pro rata.
    const gb = await trace(
      store,
      { kind: 'address', addressIds: [await id(truth.b[0])], label: truth.b[0] },
      { direction: 'backward', hops: 1, level: 'cluster', policy: 'haircut' },
    );
    const aliceTx = `t:${(await store.txIdOf(truth.txs.alice_spend))!}`;
    const inEdges = gb.edges.filter((e) => e.to === aliceTx);
    assert.equal(inEdges.length, 3);
    for (const e of inEdges) assert.ok(Math.abs(e.tainted - (10e8 * 25e8) / 2999990000) < 1e-3);
    assert.deepEqual(gb.heuristics, ['common-input']);

    // Opt-in change policy: the peel chain's fresh outputs join bob's cluster; labelled as a guess.
    const u = await updateClusters(store, { change: true });
    assert.equal(u.full, true);
    assert.equal(u.changeLinks, 2);
    assert.deepEqual(await clusterAddresses(store, truth.b[2]), [truth.b[1], truth.b[2], truth.b[3]].sort());
    assert.equal((await store.clusterStats()).policy, 'common-input+change:fresh-address');
  } finally {
    for (const s of stores) await s.close();
    await node.destroy();
  }
});
