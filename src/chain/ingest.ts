/** `chain ingest`: a source of blocks → the index in the store → clusters brought up to date. */
import type { Diagnostics } from '../flow/diagnostics.js';
import type { ChainStore } from '../store/chain.js';
import { updateClusters, type ClusterPolicy, type ClusterUpdate } from './cluster.js';
import { ChainIndexer } from './indexer.js';
import { networkByName, NETWORKS, type ChainNetwork } from './network.js';
import { NodeRpc } from './rpc.js';
import {
  blockFromRaw,
  blocksFromRpc,
  blocksOfScan,
  networkOfNode,
  scanBlocksDir,
  type SourcedBlock,
} from './source.js';

export type ChainSourceSpec =
  | { kind: 'blocks-dir'; path: string }
  | { kind: 'raw'; path: string }
  | {
      kind: 'rpc';
      url: string;
      cookieFile?: string;
      /** Whole-answer deadline, connection deadline (ms) and answer size cap (bytes); see rpc.ts. */
      timeoutMs?: number;
      connectTimeoutMs?: number;
      maxBytes?: number;
    };

export interface ChainIngestResult {
  /** The network the blocks belong to and how that was known. */
  network: string;
  networkFrom: string;
  blocks: number;
  tipHeight: number;
  txs: number;
  outputs: number;
  addresses: number;
  clusters: ClusterUpdate;
  seconds: number;
}

/**
 * `asserted` (--network) is checked, not trusted: block files and nodes say which network they are
 * (magic, genesis block, chain name). A raw block says nothing, so there it names the network, then
 * the index's own, then Bitcoin mainnet.
 */
export async function ingestChain(
  store: ChainStore,
  asserted: ChainNetwork | undefined,
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
  let net: ChainNetwork;
  let networkFrom: string;
  let blocks = 0;
  let ix: ChainIndexer | undefined;
  const open = async (n: ChainNetwork) =>
    (ix = await ChainIndexer.open(store, n, diag, {
      allowGaps: spec.kind === 'raw',
      flushTxs: opts.flushTxs,
    }));
  const feed = async (s: SourcedBlock) => {
    await ix!.add(s);
    blocks++;
    opts.onBlock?.(s.height);
  };
  if (spec.kind === 'blocks-dir') {
    const scan = scanBlocksDir(spec.path, diag, asserted);
    ({ net, networkFrom } = scan);
    const from = (await open(net)).nextHeight;
    for await (const s of blocksOfScan(scan, diag, { fromHeight: from, checkMerkle: opts.checkMerkle }))
      await feed(s);
  } else if (spec.kind === 'rpc') {
    const rpc = new NodeRpc({
      url: spec.url,
      cookieFile: spec.cookieFile,
      timeoutMs: spec.timeoutMs,
      connectTimeoutMs: spec.connectTimeoutMs,
      maxBytes: spec.maxBytes,
    });
    ({ net, networkFrom } = await networkOfNode(rpc, asserted));
    const from = (await open(net)).nextHeight;
    for await (const s of blocksFromRpc(rpc, diag, { fromHeight: from, checkMerkle: opts.checkMerkle }))
      await feed(s);
  } else {
    const s = blockFromRaw(spec.path, diag, { checkMerkle: opts.checkMerkle ?? true });
    const held = (await store.state()).network;
    if (asserted) [net, networkFrom] = [asserted, '--network (a raw block does not say)'];
    else if (held) [net, networkFrom] = [networkByName(held), 'the index (a raw block does not say)'];
    else [net, networkFrom] = [NETWORKS.bitcoin, 'assumed: a raw block does not say; give --network'];
    await open(net);
    await feed(s);
  }
  await ix!.flush();
  const clusters = await updateClusters(store, opts.policy);
  const c = ix!.counts;
  return {
    network: net.name,
    networkFrom,
    blocks,
    tipHeight: c.tipHeight,
    txs: c.txs,
    outputs: c.outputs,
    addresses: c.addresses,
    clusters,
    seconds: (performance.now() - t0) / 1000,
  };
}
