import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import { DuckDbChainStore } from '../../src/store/duckdb/chain.js';
import { ingestChain } from '../../src/chain/ingest.js';
import { NETWORKS } from '../../src/chain/network.js';
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
    const truth: Truth = await buildScenario(node);
    const height = await node.rpc().call<number>('getblockcount');

    const viaRpc = await DuckDbChainStore.open(':memory:');
    stores.push(viaRpc);
    const d1 = new Diagnostics();
    const r1 = await ingestChain(viaRpc, net, { kind: 'rpc', url: node.rpcUrl }, d1);
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
  } finally {
    for (const s of stores) await s.close();
    await node.destroy();
  }
});
