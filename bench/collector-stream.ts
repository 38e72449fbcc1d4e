/**
 * The collector benches' stream decoded in memory: bench/netflow.ts's NetFlow v9 datagrams
 * (benchV9Stream; "crypto" or a mix percent, as its MIX) into 4096-row batches, as the receiver
 * thread hands them to the storing thread. Shared by bench/detect-hook.ts and bench/collector-split.ts.
 */
import { Diagnostics } from '../src/flow/diagnostics.js';
import type { FlowBatch } from '../src/flow/record.js';
import { NetflowDecoder } from '../src/netflow/decoder.js';
import { benchV9Stream, type BenchMix } from '../src/netflow/encode.js';

/** "crypto": every flow on 8333; a number: that percent of a realistic mix on crypto ports. */
export function benchMix(arg: string): BenchMix {
  return arg === 'crypto' ? { kind: 'crypto' } : { kind: 'mix', cryptoPercent: Number(arg) };
}

export function mixWords(mix: BenchMix): string {
  return mix.kind === 'mix' ? `mix ${mix.cryptoPercent} %` : 'all 8333';
}

export function decodedBenchStream(flows: number, mix: BenchMix): FlowBatch[] {
  const out: FlowBatch[] = [];
  const dec = new NetflowDecoder({
    source: 'udp://bench',
    unit: 'datagram',
    diagnostics: new Diagnostics(),
    batchSize: 4096,
    onBatch: (b) => out.push(b),
  });
  let k = 0;
  for (const d of benchV9Stream(Math.ceil(flows / 30), 30, 20, 1700000000, mix))
    dec.decode(d, '127.0.0.1', 9995, ++k);
  dec.flush();
  return out;
}
