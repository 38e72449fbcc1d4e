/**
 * Variants of the training setup measured by the same cross-validation as the shipped model, to
 * show what moves the figures (docs/detection-rules.md, "What was tried"). None is the shipped
 * model; `npm run train:classifier -- --variants` prints the table. Each variant changes the
 * shipped dataset in memory only: extra features derived from the stored ones, other keep-alive
 * seeds or families (regenerated, as the dataset build does), a keep-alive weight or learner
 * parameters.
 */
import { DEFAULT_BOOST, type BoostParams } from './boost.js';
import { samplesOf, synthMinerSamples, type Sample } from './dataset.js';
import { farmBatches, FAST_RIGS, MINER_COINS, RIGS } from './miners.js';
import { KEEPALIVE_FAMILIES, keepaliveBatches, type KeepaliveFamily } from './keepalive.js';
import { FEATURE_NAMES, type FeatureName } from './features.js';
import { heldOutKeepalive, heldOutMiners, type HeldOutMinerCount } from './heldout.js';
import type { BehaviourModel } from './model.js';
import {
  compact,
  crossValidate,
  fitSamples,
  isReal,
  judged,
  KEEPALIVE_WEIGHT,
  outOfFold,
  THRESHOLD,
  MINER_SEEDS,
  type CvReport,
  type Dataset,
} from './train.js';

const UP_BPP = 4;
const DOWN_BPP = 5;

/** log10(down bytes per packet ÷ up bytes per packet); 0 when a direction has no packets. */
export function symmetry(f: number[]): number {
  return f[UP_BPP] > 0 && f[DOWN_BPP] > 0 ? Math.log10(f[DOWN_BPP] / f[UP_BPP]) : 0;
}

export interface Variant {
  name: string;
  extra?: 'symmetry';
  /** A feature left out (its column removed before training). */
  drop?: FeatureName;
  /** The windows of dataset variants left out (e.g. `pcap-60s`), from training and figures. */
  dropVariant?: string | string[];
  /** Keep-alive seeds per family (default: the shipped KEEPALIVE_SEEDS for the trained families). */
  keepalive?: Partial<Record<KeepaliveFamily, number[]>>;
  keepaliveWeight?: number;
  /** The synthetic miners' rigs (default: miners.ts RIGS), regenerated on the dataset's seeds. */
  minerRigs?: number[];
  /** Add a farm behind one address (miners.ts farmConnections) per coin and miner seed. */
  farms?: boolean;
  params?: Partial<BoostParams>;
}

const seeds = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
const trained = (n: number) => Object.fromEntries(KEEPALIVE_FAMILIES.map((f) => [f, seeds(n)]));

export const VARIANTS: Variant[] = [
  { name: 'shipped (bag of 5 fits, seeds 16–20)' },
  { name: 'one fit, seed 16 (the learner of behaviour-gbt/3)', params: { bag: 1 } },
  { name: 'one fit, seed 1', params: { bag: 1, seed: 1 } },
  { name: 'one fit, seed 3', params: { bag: 1, seed: 3 } },
  { name: 'bag of 5 fits, seeds 1–5', params: { seed: 1 } },
  { name: 'bag of 5 fits, seeds 6–10', params: { seed: 6 } },
  { name: 'bag of 5 fits, seeds 11–15', params: { seed: 11 } },
  { name: 'bag of 5 fits, seeds 21–25', params: { seed: 21 } },
  { name: 'without the captures cut every 60 s (pcap-60s)', dropVariant: 'pcap-60s' },
  { name: 'without the record dispersion feature', drop: 'recordCountDispersion' },
  { name: 'keep-alive seeds 1–3', keepalive: trained(3) },
  { name: 'keep-alive weight ×1', keepaliveWeight: 1 },
  { name: 'keep-alive weight ×30', keepaliveWeight: 30 },
  ...[1, 6, 11, 21].map((seed) => ({
    name: `keep-alive weight ×30, bag of seeds ${seed}–${seed + 4}`,
    keepaliveWeight: 30,
    params: { seed },
  })),
  { name: 'keep-alive seeds 1–12', keepalive: trained(12) },
  { name: '+ symmetry feature', extra: 'symmetry' },
  {
    name: 'the two never-trained families trained on (seeds 1–8)',
    keepalive: { ...trained(8), 'vpn-tcp-idle': seeds(8), 'ssh-busy': seeds(8) },
  },
  { name: 'learner: least leaf weight 10', params: { minLeafWeight: 10 } },
  ...[1, 6, 11].map((seed) => ({
    name: `learner: least leaf weight 10, bag of seeds ${seed}–${seed + 4}`,
    params: { minLeafWeight: 10, seed },
  })),
  { name: 'the chat family trained on (seeds 1–8)', keepalive: { ...trained(8), chat: seeds(8) } },
  {
    name: 'the chat family trained on (seeds 1–8), keep-alive weight ×1',
    keepalive: { ...trained(8), chat: seeds(8) },
    keepaliveWeight: 1,
  },
  {
    name: "without the captures' Zeek and sampled forms (behaviour-gbt/4's data)",
    dropVariant: ['zeek', 'netflow-v5-1:10'],
  },
  { name: "without the captures' Zeek form", dropVariant: 'zeek' },
  { name: "without the captures' sampled form (NetFlow v5 1:10)", dropVariant: 'netflow-v5-1:10' },
  { name: 'fast rigs trained on (two a coin, a share every 0.15–4 s)', minerRigs: [...RIGS, ...FAST_RIGS] },
  {
    name: 'fast rigs trained on, bag of seeds 1–5',
    minerRigs: [...RIGS, ...FAST_RIGS],
    params: { seed: 1 },
  },
  { name: 'farms trained on (8 rigs behind one address, a farm a coin and seed)', farms: true },
  { name: 'farms trained on, bag of seeds 1–5', farms: true, params: { seed: 1 } },
];

export function keepaliveRows(
  bySeed: Partial<Record<KeepaliveFamily, number[]>>,
): ReturnType<typeof compact> {
  const rows: Sample[] = [];
  // The dataset's order: seed, then family (dataset.ts keepaliveSamples).
  const all = [...new Set(Object.values(bySeed).flat())].sort((a, b) => a - b);
  for (const seed of all)
    for (const [fam, list] of Object.entries(bySeed) as [KeepaliveFamily, number[]][])
      if (list.includes(seed))
        for (const [variant, batches] of keepaliveBatches(fam, seed))
          rows.push(
            ...samplesOf(
              batches,
              { unit: `keepalive/${fam}-${seed}`, family: 'keepalive', variant },
              () => 0,
            ),
          );
  return compact(rows);
}

/** The variant's rows: the shipped dataset `d` (not modified) with the variant's changes. */
function variantData(d: Dataset, v: Variant): Pick<Dataset, 'samples' | 'ungated'> {
  let samples = d.samples;
  let ungated = d.ungated;
  if (v.keepalive) {
    const ka = keepaliveRows(v.keepalive);
    samples = [...samples.filter((s) => s.family !== 'keepalive'), ...ka.samples];
    ungated = [...ungated.filter((u) => u.family !== 'keepalive'), ...ka.ungated];
  }
  if (v.minerRigs) {
    const rigs = v.minerRigs;
    const m = compact(MINER_SEEDS.flatMap((seed) => synthMinerSamples(seed, rigs)));
    samples = [...samples.filter((s) => s.family !== 'stratum-synth'), ...m.samples];
    ungated = [...ungated.filter((u) => u.family !== 'stratum-synth'), ...m.ungated];
  }
  if (v.farms) {
    const rows: Sample[] = [];
    for (const seed of MINER_SEEDS)
      for (const coin of Object.keys(MINER_COINS))
        for (const [variant, batches] of farmBatches(coin, seed))
          rows.push(
            ...samplesOf(
              batches,
              { unit: `stratum-synth/${coin}-${seed}`, family: 'stratum-synth', variant },
              () => 1,
            ),
          );
    const f = compact(rows);
    samples = [...samples, ...f.samples];
    ungated = [...ungated, ...f.ungated];
  }
  if (v.dropVariant) {
    const drop = new Set([v.dropVariant].flat());
    samples = samples.filter((s) => !drop.has(s.variant));
    ungated = ungated.filter((u) => !drop.has(u.variant));
  }
  if (v.drop) {
    const k = FEATURE_NAMES.indexOf(v.drop);
    samples = samples.map((s) => ({ ...s, features: s.features.filter((_, j) => j !== k) }));
  }
  if (v.extra) {
    samples = samples.map((s) => ({ ...s, features: [...s.features, symmetry(s.features)] }));
  }
  return { samples, ungated };
}

/** The variant's cross-validation on the shipped dataset `d` (not modified). */
export function runVariant(d: Dataset, v: Variant): CvReport {
  return crossValidate(
    variantData(d, v),
    undefined,
    { ...DEFAULT_BOOST, ...v.params },
    v.keepaliveWeight ?? KEEPALIVE_WEIGHT,
  );
}

/**
 * The variant's model fitted on all its rows (as the shipped model is), scored on the held-out
 * seeds and families (heldout.ts): one line. Null for a variant whose features are not the
 * shipped ones (the held-out windows carry those).
 */
export function variantHeldOut(d: Dataset, v: Variant, shipped: BehaviourModel): string | null {
  if (v.drop || v.extra) return null;
  const rows = variantData(d, v);
  const ensemble = fitSamples(
    rows.samples,
    { ...DEFAULT_BOOST, ...v.params },
    v.keepaliveWeight ?? KEEPALIVE_WEIGHT,
  );
  const model: BehaviourModel = { ...shipped, ensemble };
  const ka = Object.entries(heldOutKeepalive(model)).map(([f, c]) => `${f} ${c.hits}/${c.of}`);
  const m = heldOutMiners(model);
  const forms = (c: HeldOutMinerCount) =>
    Object.entries(c.byForm)
      .map(([f, x]) => `${f.replace('synthetic-', '')} ${x}`)
      .join(', ');
  const kinds = Object.entries(m).map(([k, c]) => `${k} ${c.hits}/${c.of} (${forms(c)})`);
  return `held-out keep-alives: ${ka.join(', ')}; miners ≥ 5 min: ${kinds.join('; ')}`;
}

/**
 * The ordinary windows of real captures that the variant's cross-validation calls mining (out of
 * fold, judged as the detector judges): `unit form key (records)`, one a line, sorted. Diffing two
 * variants' lists shows which ordinary traffic a change adds or takes away.
 */
export function variantCalledMining(d: Dataset, v: Variant): string[] {
  const rows = variantData(d, v);
  const score = outOfFold(
    rows.samples,
    undefined,
    { ...DEFAULT_BOOST, ...v.params },
    v.keepaliveWeight ?? KEEPALIVE_WEIGHT,
  );
  return rows.samples
    .filter((s, i) => s.label === 0 && isReal(s.family) && score[i] >= THRESHOLD && judged(s))
    .map((s) => `${s.unit} ${s.variant} ${s.key} (${s.records} records)`)
    .sort();
}

/** One markdown row: the figures of the CV table, keep-alive families by name. */
export function variantRow(name: string, cv: CvReport): string {
  const r = (x: { hits: number; of: number }) => `${x.hits}/${x.of}`;
  const pct = (x: { rate: number }) => `${(x.rate * 100).toFixed(2)} %`;
  const ka = Object.entries(cv.keepaliveByFamily)
    .map(([f, c]) => `${f} ${c}`)
    .join(', ');
  return `| ${name} | ${r(cv.tprReal5min)} | ${r(cv.tprRealGated)} | ${r(cv.tprScenario5min)} | ${r(cv.fprFlowsPcap)} (${pct(cv.fprFlowsPcap)}) | ${r(cv.fprRecordsReal)} | ${ka} | ${cv.f1RealGated} |`;
}

export const VARIANT_HEADER =
  '| variant | real ≥ 5 min | real gated | scenario ≥ 5 min | ordinary pcap flows | ordinary records | keep-alive windows called mining | F1 |\n| --- | --- | --- | --- | --- | --- | --- | --- |';
