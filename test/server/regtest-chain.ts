/**
 * A store holding the chain index of test/chain's litecoind regtest history (a node started,
 * the scenario built through its RPC, indexed, the node stopped), with alice's first address on a
 * list named `watch` ("test entity"): what the money API and page tests start from.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ingestChain } from '../../src/chain/ingest.js';
import { NETWORKS } from '../../src/chain/network.js';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import { DuckDbChainStore } from '../../src/store/duckdb/chain.js';
import { RegtestNode } from '../chain/regtest-node.js';
import { buildScenario, type Truth } from '../chain/scenario.js';
import { runCli } from '../cli-run.js';

/** Build `db` in `dir`; the node is gone when this returns. */
export async function regtestChainStore(dir: string, db: string): Promise<Truth> {
  let truth: Truth;
  const node = await RegtestNode.start();
  try {
    truth = await buildScenario(node);
    const store = await DuckDbChainStore.open(db);
    try {
      const d = new Diagnostics();
      await ingestChain(store, NETWORKS['litecoin-regtest'], { kind: 'rpc', url: node.rpcUrl }, d);
      assert.equal(d.get('problems'), 0, d.summary());
    } finally {
      await store.close();
    }
  } finally {
    await node.destroy();
  }
  const list = join(dir, 'watch.csv');
  writeFileSync(list, `coin,address,label\nLTC,${truth.a[0]},test entity\n`);
  await runCli(['sanctions', 'load', '--db', db, list]);
  return truth;
}
