/** `chain ingest`: a source of blocks → the index in the store → clusters brought up to date. */
import type { Diagnostics } from '../flow/diagnostics.js';
import type { ChainStore } from '../store/chain.js';
import { updateClusters, type ClusterPolicy, type ClusterUpdate } from './cluster.js';
import { ChainIndexer } from './indexer.js';
import type { ChainNetwork } from './network.js';
import { NodeRpc } from './rpc.js';
import { blockFromRaw, blocksFromDir, blocksFromRpc, type SourcedBlock } from './source.js';

export type ChainSourceSpec =
  | { kind: 'blocks-dir'; path: string }
  | { kind: 'raw'; path: string }
  | { kind: 'rpc'; url: string; cookieFile?: string };

export interface ChainIngestResult {
  blocks: number;
  tipHeight: number;
  txs: number;
  outputs: number;
  addresses: number;
  clusters: ClusterUpdate;
  seconds: number;
}

export async function ingestChain(
  store: ChainStore,
  net: ChainNetwork,
  spec: ChainSourceSpec,
  diag: Diagnostics,
  opts: {
    policy?: ClusterPolicy;
    checkMerkle?: boolean;
    flushTxs?: number;
    onBlock?: (height: number) => void;
  } = {},
): Promise<ChainIngestResult> {
  const t0 = performance.now();
  const ix = await ChainIndexer.open(store, net, diag, {
    allowGaps: spec.kind === 'raw',
    flushTxs: opts.flushTxs,
  });
  const from = ix.nextHeight;
  let blocks = 0;
  const feed = async (s: SourcedBlock) => {
    await ix.add(s);
    blocks++;
    opts.onBlock?.(s.height);
  };
  if (spec.kind === 'blocks-dir') {
    for await (const s of blocksFromDir(spec.path, net, diag, {
      fromHeight: from,
      checkMerkle: opts.checkMerkle,
    }))
      await feed(s);
  } else if (spec.kind === 'rpc') {
    const rpc = new NodeRpc({ url: spec.url, cookieFile: spec.cookieFile });
    for await (const s of blocksFromRpc(rpc, diag, { fromHeight: from, checkMerkle: opts.checkMerkle }))
      await feed(s);
  } else {
    const s = blockFromRaw(spec.path, diag, { checkMerkle: opts.checkMerkle ?? true });
    if (s) await feed(s);
  }
  await ix.flush();
  const clusters = await updateClusters(store, opts.policy);
  const c = ix.counts;
  return {
    blocks,
    tipHeight: c.tipHeight,
    txs: c.txs,
    outputs: c.outputs,
    addresses: c.addresses,
    clusters,
    seconds: (performance.now() - t0) / 1000,
  };
}
