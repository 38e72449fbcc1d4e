/**
 * Variants of the training setup measured by the same cross-validation as the shipped model, to
 * show what moves the figures (docs/detection-rules.md, "What was tried"). None is the shipped
 * model; `npm run train:classifier -- --variants` prints the table. Each variant changes the
 * shipped dataset in memory only: extra features derived from the stored ones, other keep-alive
 * seeds or families (regenerated, as the dataset build does), a keep-alive weight or learner
 * parameters.
 */
import { DEFAULT_BOOST, type BoostParams } from './boost.js';
import { samplesOf, type Sample } from './dataset.js';
import {
  HELD_OUT_FAMILIES,
  KEEPALIVE_FAMILIES,
  keepaliveBatches,
  type KeepaliveFamily,
} from './keepalive.js';
import { compact, crossValidate, type CvReport, type Dataset } from './train.js';

const UP_BPP = 4;
const DOWN_BPP = 5;

/** log10(down bytes per packet ÷ up bytes per packet); 0 when a direction has no packets. */
export function symmetry(f: number[]): number {
  return f[UP_BPP] > 0 && f[DOWN_BPP] > 0 ? Math.log10(f[DOWN_BPP] / f[UP_BPP]) : 0;
}

export interface Variant {
  name: string;
  extra?: 'symmetry' | 'symmetry+abs';
  /** Keep-alive seeds per family (default: the shipped KEEPALIVE_SEEDS for the trained families). */
  keepalive?: Partial<Record<KeepaliveFamily, number[]>>;
  keepaliveWeight?: number;
  params?: Partial<BoostParams>;
}

const seeds = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
const trained = (n: number) => Object.fromEntries(KEEPALIVE_FAMILIES.map((f) => [f, seeds(n)]));
const vpnSsh = (n: number) => ({ ...trained(3), 'vpn-tcp': seeds(n), 'ssh-idle': seeds(n) });

export const VARIANTS: Variant[] = [
  { name: 'shipped (keep-alive seeds 1–3)' },
  { name: '+ symmetry feature', extra: 'symmetry' },
  { name: '+ symmetry and its absolute value', extra: 'symmetry+abs' },
  { name: 'keep-alive seeds 1–8', keepalive: trained(8) },
  { name: 'keep-alive seeds 1–12', keepalive: trained(12) },
  { name: 'seeds 1–8 + symmetry', keepalive: trained(8), extra: 'symmetry' },
  {
    name: 'seeds 1–8 + symmetry, keep-alive weight ×3',
    keepalive: trained(8),
    extra: 'symmetry',
    keepaliveWeight: 3,
  },
  {
    name: 'seeds 1–8 + symmetry, keep-alive weight ×10',
    keepalive: trained(8),
    extra: 'symmetry',
    keepaliveWeight: 10,
  },
  {
    name: 'OpenVPN and SSH seeds 1–8 (others 1–3) + symmetry, keep-alive weight ×100',
    keepalive: vpnSsh(8),
    extra: 'symmetry',
    keepaliveWeight: 100,
  },
  { name: 'OpenVPN and SSH seeds 1–20 (others 1–3) + symmetry', keepalive: vpnSsh(20), extra: 'symmetry' },
  {
    name: 'the two never-trained families trained on (seeds 1–3)',
    keepalive: { ...trained(3), ...Object.fromEntries(HELD_OUT_FAMILIES.map((f) => [f, seeds(3)])) },
  },
  { name: 'learner: 360 trees, rate 0.05', params: { trees: 360, learningRate: 0.05 } },
  { name: 'learner: least leaf weight 10', params: { minLeafWeight: 10 } },
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

/** The variant's cross-validation on the shipped dataset `d` (not modified). */
export function runVariant(d: Dataset, v: Variant): CvReport {
  let samples = d.samples;
  let ungated = d.ungated;
  if (v.keepalive) {
    const ka = keepaliveRows(v.keepalive);
    samples = [...samples.filter((s) => s.family !== 'keepalive'), ...ka.samples];
    ungated = [...ungated.filter((u) => u.family !== 'keepalive'), ...ka.ungated];
  }
  if (v.extra) {
    const abs = v.extra === 'symmetry+abs';
    samples = samples.map((s) => {
      const y = symmetry(s.features);
      return { ...s, features: abs ? [...s.features, y, Math.abs(y)] : [...s.features, y] };
    });
  }
  return crossValidate(
    { samples, ungated },
    undefined,
    { ...DEFAULT_BOOST, ...v.params },
    v.keepaliveWeight ?? 1,
  );
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
