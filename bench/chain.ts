// Chain benchmarks: block parsing with txids vs bitcoinjs-lib on the same bytes (same run), then
// (with --index) index build and clustering on a generated chain written as real blk files.
// Run: node --import tsx bench/chain.ts [--index TXS]
import { readFileSync } from 'node:fs';
import * as bitcoin from 'bitcoinjs-lib';
import { ParsedBlock } from '../src/chain/block.js';

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

export function benchParse(ms = 4000): { ours: number; ref: number; ratio: number } {
  const b = new ParsedBlock();
  let sink = 0;
  const ref = timeIt('bitcoinjs-lib fromBuffer+getId', ms, () => {
    const blk = bitcoin.Block.fromBuffer(raw);
    for (const tx of blk.transactions!) sink += tx.getId().length;
    return blk.transactions!.length;
  });
  const ours = timeIt('coinradar ParsedBlock (txids)', ms, () => {
    b.parse(raw, 0, raw.length);
    sink += b.txid[0];
    return b.txCount;
  });
  timeIt('coinradar ParsedBlock (no hashing)', ms / 2, () => {
    b.parse(raw, 0, raw.length, { txids: false });
    return b.txCount;
  });
  if (sink === -1) console.log(sink);
  const ratio = ours.mbps / ref.mbps;
  console.log(`ratio (txids) coinradar / bitcoinjs-lib: ${ratio.toFixed(1)}x`);
  return { ours: ours.mbps, ref: ref.mbps, ratio };
}

benchParse();
