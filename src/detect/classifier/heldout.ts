/**
 * The shipped model scored on synthetic keep-alive channels it never saw: seeds outside the
 * dataset's, for the trained families, and whole families never trained on (HELD_OUT_FAMILIES).
 * Cross-validation holds out one seed of a family while the model still sees the family's other
 * seeds; this is the stricter check the "not called mining" targets ask for.
 */
import type { FlowBatch } from '../../flow/record.js';
import { samplesOf } from './dataset.js';
import {
  HELD_OUT_FAMILIES,
  KEEPALIVE_FAMILIES,
  keepaliveBatches,
  type KeepaliveFamily,
} from './keepalive.js';
import { gated, judge, judgesPort, type BehaviourModel } from './model.js';
import { serverPortOf } from './features.js';
import { KEEPALIVE_SEEDS, MINER_SEEDS } from './train.js';
import { farmBatches, FAST_RIGS, MINER_COINS, minerBatches, RIGS } from './miners.js';

/** Seeds never used for the dataset (KEEPALIVE_SEEDS are 1–8, MINER_SEEDS 1–3); fixed, not chosen by outcome. */
export const HELD_OUT_SEEDS = [1001, 1002, 1003, 1004, 1005];

export interface HeldOutCount {
  /** Windows past the gate called mining / windows past the gate. */
  hits: number;
  of: number;
  /** Windows the trees alone call mining, ports not judged included (what the port rule takes away). */
  modelAlone: number;
  /** The same per telemetry form (`synthetic-pcap`, …): "hits/of". */
  byForm: Record<string, string>;
}

/** Windows of ≥ 5 min of synthetic miners on HELD_OUT_SEEDS found (hits) / judged (of), per form. */
export interface HeldOutMinerCount {
  hits: number;
  of: number;
  byForm: Record<string, string>;
}

export type HeldOutMinerKind = 'trained' | 'fast' | 'farm';

/**
 * The synthetic miners of every coin on HELD_OUT_SEEDS, in every form: the training rigs' kind
 * (`trained`), rigs faster than any miner trained on (`fast`, miners.ts FAST_SHARE_EVERY), and a
 * farm of rigs behind one address (`farm`, miners.ts farmConnections). Counted as the issue's
 * target counts: windows of ≥ 5 min past the gate, on ports judged.
 */
export function heldOutMiners(model: BehaviourModel): Record<HeldOutMinerKind, HeldOutMinerCount> {
  for (const s of HELD_OUT_SEEDS)
    if (MINER_SEEDS.includes(s)) throw new Error(`held-out seed ${s} is a training seed`);
  const count = (make: (coin: string, seed: number) => [string, FlowBatch[]][]): HeldOutMinerCount => {
    const c: HeldOutMinerCount = { hits: 0, of: 0, byForm: {} };
    const forms = new Map<string, [number, number]>();
    for (const coin of Object.keys(MINER_COINS))
      for (const seed of HELD_OUT_SEEDS)
        for (const [variant, batches] of make(coin, seed)) {
          const f = forms.get(variant) ?? [0, 0];
          forms.set(variant, f);
          const meta = { unit: `held-out/${coin}-${seed}`, family: 'stratum-synth', variant };
          for (const s of samplesOf(batches, meta, () => 1)) {
            if (s.spanMs < 300_000 || !gated(model, s.spanMs, s.packets)) continue;
            if (!judgesPort(model, serverPortOf(s.key))) continue;
            const hit = judge(model, s.features).mining;
            c.of++;
            f[1]++;
            if (hit) {
              c.hits++;
              f[0]++;
            }
          }
        }
    for (const [v, [h, n]] of forms) c.byForm[v] = `${h}/${n}`;
    return c;
  };
  return {
    trained: count((coin, seed) => minerBatches(coin, seed, RIGS)),
    fast: count((coin, seed) => minerBatches(coin, seed, FAST_RIGS)),
    farm: count(farmBatches),
  };
}

/** Every keep-alive family (trained and held out) over HELD_OUT_SEEDS, in every form. */
export function heldOutKeepalive(model: BehaviourModel): Record<KeepaliveFamily, HeldOutCount> {
  for (const s of HELD_OUT_SEEDS)
    if (KEEPALIVE_SEEDS.includes(s)) throw new Error(`held-out seed ${s} is a training seed`);
  const out = {} as Record<KeepaliveFamily, HeldOutCount>;
  for (const fam of [...KEEPALIVE_FAMILIES, ...HELD_OUT_FAMILIES]) {
    const c: HeldOutCount = { hits: 0, of: 0, modelAlone: 0, byForm: {} };
    const forms = new Map<string, [number, number]>();
    for (const seed of HELD_OUT_SEEDS) {
      for (const [variant, batches] of keepaliveBatches(fam, seed)) {
        const f = forms.get(variant) ?? [0, 0];
        for (const s of samplesOf(
          batches,
          { unit: `held-out/${fam}-${seed}`, family: 'keepalive', variant },
          () => 0,
        )) {
          // Judged as the detector judges: the model's own gate, ports and threshold; counted over
          // the windows past the gate (a port not judged: never called mining).
          if (!gated(model, s.spanMs, s.packets)) continue;
          const mining = judge(model, s.features).mining;
          if (mining) c.modelAlone++;
          const hit = mining && judgesPort(model, serverPortOf(s.key));
          c.of++;
          f[1]++;
          if (hit) {
            c.hits++;
            f[0]++;
          }
        }
        forms.set(variant, f);
      }
    }
    for (const [v, [h, n]] of forms) c.byForm[v] = `${h}/${n}`;
    out[fam] = c;
  }
  return out;
}
