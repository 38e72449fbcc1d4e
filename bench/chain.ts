// Chain benchmarks: block parsing with txids vs bitcoinjs-lib on the same bytes (same run), then
// (with --index) index build and clustering on a generated chain written as real blk files.
// Run: node --expose-gc --import tsx bench/chain.ts [--no-parse] [--index TXS [--flush-txs N]]
import { readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import * as bitcoin from 'bitcoinjs-lib';
import { ParsedBlock } from '../src/chain/block.js';
import { updateClusters } from '../src/chain/cluster.js';
import { ChainIndexer } from '../src/chain/indexer.js';
import { NETWORKS } from '../src/chain/network.js';
import { blocksFromDir } from '../src/chain/source.js';
import { writeSyntheticChain } from '../src/chain/synthetic.js';
import { Diagnostics } from '../src/flow/diagnostics.js';
import { DuckDbChainStore } from '../src/store/duckdb/chain.js';

const raw = readFileSync(new URL('../test/fixtures/chain/block413567.raw', import.meta.url));

function timeIt(label: string, minMs: number, fn: () => number): { mbps: number; txps: number } {
  // warm-up
  for (let i = 0; i < 3; i++) fn();
  let n = 0;
  let txs = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < minMs) {
    txs += fn();
    n++;
    t = performance.now();
  }
  const s = (t - t0) / 1000;
  const r = { mbps: (n * raw.length) / s / 1e6, txps: txs / s };
  console.log(
    `${label.padEnd(34)} ${r.mbps.toFixed(1).padStart(8)} MB/s ${(r.txps / 1e3).toFixed(0).padStart(8)} k tx/s`,
  );
  return r;
}

export function benchParse(rounds = 5, ms = 1500): { ours: number; ref: number; ratio: number } {
  // Interleaved rounds: the machine is shared, so each round compares the two under the same load
  // and the median ratio is reported.
  const b = new ParsedBlock();
  let sink = 0;
  const ratios: number[] = [];
  const oursAll: number[] = [];
  const refAll: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const ref = timeIt(`bitcoinjs-lib fromBuffer+getId #${r + 1}`, ms, () => {
      const blk = bitcoin.Block.fromBuffer(raw);
      for (const tx of blk.transactions!) sink += tx.getId().length;
      return blk.transactions!.length;
    });
    const ours = timeIt(`coinradar ParsedBlock (txids) #${r + 1}`, ms, () => {
      b.parse(raw, 0, raw.length);
      sink += b.txid[0];
      return b.txCount;
    });
    ratios.push(ours.mbps / ref.mbps);
    oursAll.push(ours.mbps);
    refAll.push(ref.mbps);
  }
  timeIt('coinradar ParsedBlock (no hashing)', ms, () => {
    b.parse(raw, 0, raw.length, { txids: false });
    return b.txCount;
  });
  if (sink === -1) console.log(sink);
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const ratio = med(ratios);
  console.log(
    `ratio per round: ${ratios.map((x) => x.toFixed(1)).join(' ')}; median ${ratio.toFixed(1)}x (coinradar median ${med(oursAll).toFixed(0)} MB/s, bitcoinjs-lib ${med(refAll).toFixed(1)} MB/s)`,
  );
  return { ours: med(oursAll), ref: med(refAll), ratio };
}

/** Peer on the same bytes: bitcoinjs-lib parsing the first 100,000 transactions of a blk file with txids. */
function benchPeerOnBlk(path: string): void {
  const first = readFileSync(path);
  const t = performance.now();
  let refTxs = 0;
  for (let p = 0; p + 8 <= first.length;) {
    const len = first.readUInt32LE(p + 4);
    const blk = bitcoin.Block.fromBuffer(first.subarray(p + 8, p + 8 + len));
    for (const tx of blk.transactions!) refTxs += tx.getId().length > 0 ? 1 : 0;
    if (refTxs > 100_000) break;
    p += 8 + len;
  }
  const refRate = refTxs / ((performance.now() - t) / 1000);
  console.log(
    `bitcoinjs-lib parse+txid, first ${refTxs} txs of ${basename(path)}: ${(refRate / 1e3).toFixed(0)} k tx/s`,
  );
}

async function benchIndex(totalTxs: number, flushTxs: number): Promise<void> {
  const net = NETWORKS.regtest;
  const dir = join(tmpdir(), 'coinradar-bench-chain');
  rmSync(dir, { recursive: true, force: true });
  const blocks = join(dir, 'blocks');
  let t = performance.now();
  const g = writeSyntheticChain(blocks, totalTxs, net.magic);
  console.log(
    `generated ${g.txs} txs, ${(g.bytes / 1e6).toFixed(0)} MB in ${g.files} blk files (${((performance.now() - t) / 1000).toFixed(1)} s)`,
  );

  benchPeerOnBlk(join(blocks, 'blk00000.dat'));

  const dbPath = join(dir, 'index.duckdb');
  console.log(
    `load average at index start: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(', ')}`,
  );
  const store = await DuckDbChainStore.open(dbPath);
  const diag = new Diagnostics();
  const ix = await ChainIndexer.open(store, net, diag, { flushTxs });
  console.log(`rows written to DuckDB every ${flushTxs} transactions`);
  // Twice: the generator's and the peer's file buffers (external memory) go in the first pass.
  global.gc?.();
  global.gc?.();
  const mem0 = process.memoryUsage();
  t = performance.now();
  let cpu = process.cpuUsage();
  let writeMs = 0;
  let parsedMs = 0;
  let last = performance.now();
  for await (const s of blocksFromDir(blocks, net, diag)) {
    parsedMs += performance.now() - last;
    const w = performance.now();
    await ix.add(s);
    writeMs += performance.now() - w;
    last = performance.now();
  }
  await ix.flush();
  const indexS = (performance.now() - t) / 1000;
  // CPU time of the process (all threads, DuckDB's included): on a shared machine wall-clock
  // mostly measures the wait for a core.
  const cpuS = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1e6;
  const indexCpu = cpuS(process.cpuUsage(cpu));
  // After the flush only the index's own maps and typed arrays remain (txid map, address map,
  // per-output value/address, per-tx first output): what a resumed ingest holds per transaction.
  global.gc?.();
  const mem1 = process.memoryUsage();
  const txs = ix.counts.txs;
  console.log(
    `index build: ${txs} txs, ${ix.counts.outputs} outputs, ${ix.counts.addresses} addresses in ${indexS.toFixed(1)} s = ${(txs / indexS / 1e3).toFixed(0)} k tx/s ` +
      `(read+scan+parse ${(parsedMs / 1000).toFixed(1)} s, index+store ${(writeMs / 1000).toFixed(1)} s); problems=${diag.get('problems')} unresolved=${diag.get('chain.unresolved_inputs')}`,
  );
  console.log(
    `index build CPU: ${indexCpu.toFixed(1)} s (user+system, all threads) = ${(txs / indexCpu / 1e3).toFixed(0)} k tx per CPU-second`,
  );
  const heap = mem1.heapUsed + mem1.arrayBuffers - (mem0.heapUsed + mem0.arrayBuffers);
  const held = ix.memoryBytes;
  console.log(
    `indexer memory: maps and arrays allocated ${(held / 1e6).toFixed(0)} MB = ${(held / txs).toFixed(0)} bytes per transaction; ` +
      `heap+arrays measured after GC ${(heap / 1e6).toFixed(0)} MB = ${(heap / txs).toFixed(0)} bytes per transaction (rss ${(mem1.rss / 1e6).toFixed(0)} MB)`,
  );
  t = performance.now();
  cpu = process.cpuUsage();
  const c = await updateClusters(store);
  const cs = (performance.now() - t) / 1000;
  const clusterCpu = cpuS(process.cpuUsage(cpu));
  const stats = await store.clusterStats();
  console.log(
    `clustering (full, common-input): ${c.txsFolded} txs folded, ${c.coinjoinSkipped} CoinJoin-like skipped, ${stats.clusters} clusters (largest ${stats.largest}) in ${cs.toFixed(1)} s = ${(txs / cs / 1e3).toFixed(0)} k tx/s (CPU ${clusterCpu.toFixed(1)} s = ${(txs / clusterCpu / 1e3).toFixed(0)} k tx per CPU-second)`,
  );
  await store.close();
  const disk = statSync(dbPath).size;
  console.log(
    `index file: ${(disk / 1e6).toFixed(0)} MB = ${(disk / txs).toFixed(0)} bytes per transaction on disk; load average at end: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(', ')}`,
  );
  rmSync(dir, { recursive: true, force: true });
}

const args = process.argv.slice(2);
if (!args.includes('--no-parse')) benchParse();
const k = args.indexOf('--index');
const f = args.indexOf('--flush-txs');
if (k >= 0) await benchIndex(Number(args[k + 1] ?? 5_000_000), f >= 0 ? Number(args[f + 1]) : 50_000);
