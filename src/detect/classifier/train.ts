/**
 * Training and cross-validation of the behaviour model. `buildDataset` turns the sources into
 * labelled windows (slow: every capture, three ways); `crossValidate` and `trainModel` work on
 * those windows only, so a test can repeat them from the shipped dataset file in seconds.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fitBag, margin, sigmoid, DEFAULT_BOOST, type BoostParams } from './boost.js';
import {
  captureSamples,
  keepaliveSamples,
  synthMinerSamples,
  scenarioSamples,
  sha256File,
  SCENARIO_RUNS,
  type CaptureSpec,
  type Sample,
} from './dataset.js';
import { FEATURE_NAMES, serverPortOf } from './features.js';
import { SERVICE_PORTS_NOT_JUDGED } from './service-ports.js';
import { DEFAULT_WINDOW_MS } from './groups.js';
import type { BehaviourModel } from './model.js';

export const DATASET_FORMAT = 'coinradar-behaviour-dataset/1';
export const MODEL_VERSION = 'behaviour-gbt/5';
export const GATE = {
  minSpanMs: 120_000,
  minPackets: 10,
  serverPortsNotJudged: SERVICE_PORTS_NOT_JUDGED.map(([p]) => p),
};
const NOT_JUDGED = new Set(GATE.serverPortsNotJudged);
export const THRESHOLD = 0.5;
export const FOLDS = 5;
export const KEEPALIVE_SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];
/**
 * How much more a synthetic keep-alive row weighs than the per-unit balance gives it: chosen by
 * cross-validation (variants.ts; docs/detection-rules.md), never by the held-out seeds.
 */
export const KEEPALIVE_WEIGHT = 10;
export const MINER_SEEDS = [1, 2, 3];
export const TRAIN_COMMAND = 'npm run train:classifier';

export interface Dataset {
  format: typeof DATASET_FORMAT;
  features: string[];
  windowMs: number;
  inputs: { path: string; sha256: string }[];
  /** Variants that could not be made, one line each (capture, variant, why). */
  problems: string[];
  /** Every positive window, and every negative window that passed the gate. */
  samples: Sample[];
  /**
   * Negative windows below the gate, counted per (unit, variant): never judged (so never called
   * mining), they count in the false-positive denominators only.
   */
  ungated: UngatedCount[];
}

export interface UngatedCount {
  unit: string;
  family: string;
  variant: string;
  windows: number;
  records: number;
}

/** Keep positives and gated negatives as rows; fold the rest into counts. */
export function compact(samples: Sample[]): { samples: Sample[]; ungated: UngatedCount[] } {
  const kept: Sample[] = [];
  const counts = new Map<string, UngatedCount>();
  for (const s of samples) {
    if (s.label === 1 || eligible(s)) {
      kept.push(s);
      continue;
    }
    const k = `${s.unit}|${s.variant}`;
    let c = counts.get(k);
    if (!c)
      counts.set(k, (c = { unit: s.unit, family: s.family, variant: s.variant, windows: 0, records: 0 }));
    c.windows++;
    c.records += s.records;
  }
  return { samples: kept, ungated: [...counts.values()] };
}

/** The source files under the shared data directory, in a fixed order. */
export function captureSpecs(dataDir: string): CaptureSpec[] {
  const list = (sub: string) =>
    readdirSync(join(dataDir, sub))
      .filter((n) => /\.(pcap|pcapng|cap)$/.test(n))
      .sort()
      .map((n) => join(dataDir, sub, n));
  return [
    ...list('pcap/nesfit').map((path) => ({ path, family: 'nesfit', labelByPayload: true })),
    ...list('pcap/ndpi').map((path) => ({ path, family: 'ndpi', labelByPayload: true })),
    ...list('pcap/ndpi-train').map((path) => ({ path, family: 'ndpi-train', labelByPayload: true })),
  ];
}

export async function buildDataset(
  dataDir: string,
  opts: { netflow: boolean; log?: (s: string) => void },
): Promise<Dataset> {
  const specs = captureSpecs(dataDir);
  const samples: Sample[] = [];
  const inputs: Dataset['inputs'] = [];
  const problems: string[] = [];
  for (const spec of specs) {
    opts.log?.(`${relative(dataDir, spec.path)}`);
    inputs.push({ path: relative(dataDir, spec.path), sha256: sha256File(spec.path) });
    samples.push(...(await captureSamples(spec, opts.netflow, problems)));
  }
  for (const run of SCENARIO_RUNS) {
    opts.log?.(`scenario seed ${run.seed}`);
    samples.push(...scenarioSamples(run));
  }
  for (const seed of KEEPALIVE_SEEDS) samples.push(...keepaliveSamples(seed));
  for (const seed of MINER_SEEDS) samples.push(...synthMinerSamples(seed));
  return {
    format: DATASET_FORMAT,
    features: [...FEATURE_NAMES],
    windowMs: DEFAULT_WINDOW_MS,
    inputs,
    problems,
    ...compact(samples),
  };
}

/** Past the gate's span and packets: what the model is trained on (every server port). */
export function eligible(s: Sample): boolean {
  return s.spanMs >= GATE.minSpanMs && s.packets >= GATE.minPackets;
}

/**
 * What the detector judges: past the gate, and a server port it judges. Windows of the ports not
 * judged still train the model (an SSH session teaches it what a shell looks like on any port).
 */
export function judged(s: Sample): boolean {
  return eligible(s) && !NOT_JUDGED.has(serverPortOf(s.key));
}

/**
 * Sample weights: the two classes weigh the same in total, and inside a class every CV unit
 * weighs the same (a two-day scenario must not drown five real miner captures). `keepaliveWeight`
 * scales the synthetic keep-alive rows (KEEPALIVE_WEIGHT in the shipped model; variants.ts tries others).
 */
function weights(rows: Sample[], keepaliveWeight = KEEPALIVE_WEIGHT): Float64Array {
  const perUnit = new Map<string, number>();
  for (const s of rows) perUnit.set(`${s.label}|${s.unit}`, (perUnit.get(`${s.label}|${s.unit}`) ?? 0) + 1);
  const units = [0, 0];
  for (const k of perUnit.keys()) units[Number(k[0])]++;
  const w = new Float64Array(rows.length);
  rows.forEach((s, i) => {
    w[i] = rows.length / 2 / units[s.label] / perUnit.get(`${s.label}|${s.unit}`)!;
    if (s.family === 'keepalive') w[i] *= keepaliveWeight;
  });
  return w;
}

export function fitSamples(
  rows: Sample[],
  params: BoostParams = DEFAULT_BOOST,
  keepaliveWeight = KEEPALIVE_WEIGHT,
) {
  const train = rows.filter(eligible);
  return fitBag(
    train.map((s) => Float64Array.from(s.features)),
    Uint8Array.from(train, (s) => s.label),
    weights(train, keepaliveWeight),
    params,
  );
}

/**
 * CV units: a capture with all its variants; captures that hold the same session (ndpi's
 * mining.pcapng carries nanopool's Ethereum session) are merged into one unit, so a session is
 * never on both sides of a fold.
 */
export function cvUnits(samples: Sample[]): Map<string, string> {
  const parent = new Map<string, string>();
  const find = (u: string): string => {
    let r = u;
    while (parent.get(r) !== r) r = parent.get(r)!;
    parent.set(u, r);
    return r;
  };
  const seen = new Map<string, string>();
  for (const s of samples) {
    if (!parent.has(s.unit)) parent.set(s.unit, s.unit);
    const sig = `${s.variant}|${s.key}|${s.records}|${s.packets}|${s.spanMs}`;
    const other = seen.get(sig);
    if (other === undefined) seen.set(sig, s.unit);
    else if (find(other) !== find(s.unit)) {
      const [x, y] = [find(other), find(s.unit)].sort();
      parent.set(y, x);
    }
  }
  const out = new Map<string, string>();
  for (const u of parent.keys()) out.set(u, find(u));
  return out;
}

/** CV units → folds: units with positives dealt round-robin, then the rest, each in hashed order. */
export function foldsOf(samples: Sample[], k = FOLDS): Map<string, number> {
  const unitOf = cvUnits(samples);
  const pos = new Set<string>();
  const all = new Set<string>();
  for (const s of samples) {
    const u = unitOf.get(s.unit)!;
    all.add(u);
    if (s.label) pos.add(u);
  }
  const h = (u: string) => createHash('sha256').update(u).digest('hex');
  const order = (us: string[]) => us.sort((a, b) => (h(a) < h(b) ? -1 : 1));
  const byUnit = new Map<string, number>();
  let n = 0;
  for (const u of order([...pos])) byUnit.set(u, n++ % k);
  for (const u of order([...all].filter((u) => !pos.has(u)))) byUnit.set(u, n++ % k);
  // Keyed by the capture unit as stored in samples.
  const out = new Map<string, number>();
  for (const [u, root] of unitOf) out.set(u, byUnit.get(root)!);
  return out;
}

export interface Rate {
  hits: number;
  of: number;
  rate: number;
  /** Wilson 95 % interval. */
  wilson: [number, number];
  /** Percentile 95 % interval of a bootstrap over CV units (1,000 resamples, seeded). */
  bootstrap: [number, number];
}

export function wilson(hits: number, n: number, z = 1.959964): [number, number] {
  if (n === 0) return [0, 1];
  const p = hits / n;
  const d = 1 + (z * z) / n;
  const c = p + (z * z) / (2 * n);
  const m = z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return [(c - m) / d, (c + m) / d];
}

/** Rate of `hit` among `rows` (weighted by `count`), with Wilson and unit-bootstrap intervals. */
function rate(rows: { unit: string; hit: boolean; count: number }[], seed = 7): Rate {
  let hits = 0;
  let of = 0;
  const byUnit = new Map<string, [number, number]>();
  for (const r of rows) {
    of += r.count;
    if (r.hit) hits += r.count;
    const u = byUnit.get(r.unit) ?? [0, 0];
    u[0] += r.hit ? r.count : 0;
    u[1] += r.count;
    byUnit.set(r.unit, u);
  }
  const r4 = (x: number) => Math.round(x * 10000) / 10000;
  return {
    hits,
    of,
    rate: of ? r4(hits / of) : 0,
    wilson: wilson(hits, of).map(r4) as [number, number],
    bootstrap: unitBootstrap([...byUnit.values()], 2, ([h, n]) => (n ? h / n : 0), seed),
  };
}

/**
 * Percentile 95 % interval of `stat` over 1,000 resamples (seeded) of CV units: each unit is a
 * vector of `width` sums, and a resample's sums are added up before `stat` reads them.
 */
function unitBootstrap(
  units: number[][],
  width: number,
  stat: (sums: number[]) => number,
  seed = 7,
): [number, number] {
  if (units.length === 0) return [0, 1];
  let s = seed >>> 0;
  const rand = () => {
    // xorshift32: enough for resampling indices.
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  const boots: number[] = [];
  for (let b = 0; b < 1000; b++) {
    const sums = new Array<number>(width).fill(0);
    for (let k = 0; k < units.length; k++) {
      const u = units[Math.floor(rand() * units.length)];
      for (let j = 0; j < width; j++) sums[j] += u[j];
    }
    boots.push(stat(sums));
  }
  boots.sort((a, b) => a - b);
  const r4 = (x: number) => Math.round(x * 10000) / 10000;
  return [r4(boots[24]), r4(boots[974])];
}

/** F1 of true positives, false positives and false negatives (0 when there are none). */
const f1Of = ([tp, fp, fn]: number[]) => (2 * tp) / (2 * tp + fp + fn || 1);

export interface CvReport {
  folds: number;
  /** CV units (captures; merged when they share a session) with and without miners. */
  units: { positive: number; negative: number };
  /** Real miner sessions (captures) of ≥ 5 min in a window, every variant: the target. */
  tprReal5min: Rate;
  /** Real miner windows that passed the gate (≥ 2 min, ≥ 10 packets). */
  tprRealGated: Rate;
  /** Every real miner window, probes of seconds included (below the gate they are never found). */
  tprRealAll: Rate;
  /** Scenario-generator miners, windows of ≥ 5 min. */
  tprScenario5min: Rate;
  /** Ordinary flows called mining: real captures as pcap flows (the "ordinary flows"). */
  fprFlowsPcap: Rate;
  /** Ordinary records called mining, real captures in every variant. */
  fprRecordsReal: Rate;
  /** Ordinary records, every source (scenario background and synthetic keep-alives included). */
  fprRecordsAll: Rate;
  /** Synthetic keep-alive/push/MQTT/VPN/WebSocket/SSH/IMAP windows called mining. */
  keepaliveWindows: Rate;
  /** The same per keep-alive family: windows called mining / windows. */
  keepaliveByFamily: Record<string, string>;
  /** F1 over real capture windows: gated miner windows vs every ordinary window, every variant. */
  f1RealGated: number;
  /** Percentile 95 % interval of F1 over a bootstrap of the real captures. */
  f1RealGatedBootstrap: [number, number];
  byVariant: Record<string, { tpr: string; fprRecords: string }>;
  byFamily: Record<string, { tpr: string; fprRecords: string }>;
  /**
   * The trees alone, without the ports not judged (service-ports.ts): what the port rule takes
   * away from the two figures it moves.
   */
  modelAlone: { fprFlowsPcap: Rate; keepaliveByFamily: Record<string, string> };
}

/** Out-of-fold scores: every sample scored by a model that never saw its CV unit. */
export function outOfFold(
  samples: Sample[],
  k = FOLDS,
  params: BoostParams = DEFAULT_BOOST,
  keepaliveWeight = KEEPALIVE_WEIGHT,
): Float64Array {
  const folds = foldsOf(samples, k);
  const score = new Float64Array(samples.length);
  for (let f = 0; f < k; f++) {
    const model = fitSamples(
      samples.filter((s) => folds.get(s.unit) !== f),
      params,
      keepaliveWeight,
    );
    samples.forEach((s, i) => {
      if (folds.get(s.unit) === f) score[i] = eligible(s) ? sigmoid(margin(model, s.features)) : 0;
    });
  }
  return score;
}

const SYNTHETIC = new Set(['scenario', 'keepalive', 'stratum-synth']);
export const isReal = (family: string) => !SYNTHETIC.has(family);

export function crossValidate(
  d: Pick<Dataset, 'samples' | 'ungated'>,
  k = FOLDS,
  params: BoostParams = DEFAULT_BOOST,
  keepaliveWeight = KEEPALIVE_WEIGHT,
): CvReport {
  const score = outOfFold(d.samples, k, params, keepaliveWeight);
  const alone = figures(d, k, (i) => score[i] >= THRESHOLD);
  return {
    ...figures(d, k, (i) => score[i] >= THRESHOLD && judged(d.samples[i])),
    modelAlone: { fprFlowsPcap: alone.fprFlowsPcap, keepaliveByFamily: alone.keepaliveByFamily },
  };
}

/** The CV figures of out-of-fold verdicts (`hit(i)`: sample i called mining). */
function figures(
  d: Pick<Dataset, 'samples' | 'ungated'>,
  k: number,
  hit: (i: number) => boolean,
): Omit<CvReport, 'modelAlone'> {
  const samples = d.samples;
  type Row = { unit: string; hit: boolean; count: number; s: Sample | null; u: UngatedCount | null };
  const rows: Row[] = samples.map((s, i) => ({
    unit: s.unit,
    hit: hit(i),
    count: 1,
    s,
    u: null,
  }));
  // Ungated negatives: never judged, never hit; each counts with its windows (or records).
  const ung: Row[] = d.ungated.map((u) => ({ unit: u.unit, hit: false, count: u.windows, s: null, u }));
  const fam = (r: Row) => (r.s ? r.s.family : r.u!.family);
  const variant = (r: Row) => (r.s ? r.s.variant : r.u!.variant);
  const records = (r: Row) => (r.s ? r.s.records : r.u!.records);
  const pos = rows.filter((r) => r.s!.label === 1);
  const neg = [...rows.filter((r) => r.s!.label === 0), ...ung];
  const asRecords = (rs: Row[]) => rs.map((r) => ({ ...r, count: records(r) }));
  const realPos = pos.filter((r) => isReal(fam(r)));
  const realNeg = neg.filter((r) => isReal(fam(r)));
  // F1 over windows of real captures: miner windows that passed the gate against every ordinary
  // window (a probe of seconds is below the gate and could never be found).
  const gatedPos = realPos.filter((r) => eligible(r.s!));
  const tp = gatedPos.filter((r) => r.hit).length;
  const fn = gatedPos.length - tp;
  const fp = realNeg.filter((r) => r.hit).length;
  // Its interval: a bootstrap over the real captures (as rate()'s), each with its (tp, fp, fn);
  // a capture with neither counts as zeros (it is drawn, and weighs, like the others).
  const f1Units = new Map<string, number[]>();
  for (const r of [...gatedPos, ...realNeg]) {
    const u = f1Units.get(r.unit) ?? [0, 0, 0];
    f1Units.set(r.unit, u);
    if (r.s?.label === 1) u[r.hit ? 0 : 2]++;
    else if (r.hit) u[1]++;
  }
  const split = (key: (r: Row) => string) => {
    const out: Record<string, { tpr: string; fprRecords: string }> = {};
    for (const v of [...new Set([...pos, ...neg].map(key))].sort()) {
      const p = pos.filter((r) => key(r) === v);
      const n = asRecords(neg.filter((r) => key(r) === v));
      out[v] = {
        tpr: p.length ? `${p.filter((r) => r.hit).length}/${p.length}` : '-',
        fprRecords: `${n.filter((r) => r.hit).reduce((a, r) => a + r.count, 0)}/${n.reduce((a, r) => a + r.count, 0)}`,
      };
    }
    return out;
  };
  const keep = neg.filter((r) => fam(r) === 'keepalive');
  // Units are `keepalive/<family>-<seed>`.
  const kaFamily = (unit: string) => unit.slice('keepalive/'.length).replace(/-\d+$/, '');
  const unitOf = cvUnits(samples);
  const posUnits = new Set(pos.map((r) => unitOf.get(r.unit)));
  const allUnits = new Set([...unitOf.values(), ...d.ungated.map((u) => unitOf.get(u.unit) ?? u.unit)]);
  return {
    folds: k,
    units: { positive: posUnits.size, negative: allUnits.size - posUnits.size },
    tprReal5min: rate(realPos.filter((r) => r.s!.spanMs >= 300_000)),
    tprRealGated: rate(realPos.filter((r) => eligible(r.s!))),
    tprRealAll: rate(realPos),
    tprScenario5min: rate(pos.filter((r) => fam(r) === 'scenario' && r.s!.spanMs >= 300_000)),
    fprFlowsPcap: rate(asRecords(realNeg.filter((r) => variant(r) === 'pcap'))),
    fprRecordsReal: rate(asRecords(realNeg)),
    fprRecordsAll: rate(asRecords(neg)),
    keepaliveWindows: rate(neg.filter((r) => fam(r) === 'keepalive')),
    keepaliveByFamily: Object.fromEntries(
      [...new Set(keep.map((r) => kaFamily(r.unit)))].sort().map((f) => {
        const rs = keep.filter((r) => kaFamily(r.unit) === f);
        return [
          f,
          `${rs.filter((r) => r.hit).reduce((a, r) => a + r.count, 0)}/${rs.reduce((a, r) => a + r.count, 0)}`,
        ];
      }),
    ),
    f1RealGated: Math.round(f1Of([tp, fp, fn]) * 10000) / 10000,
    f1RealGatedBootstrap: unitBootstrap([...f1Units.values()], 3, f1Of),
    byVariant: split(variant),
    byFamily: split(fam),
  };
}

/** sha256 of the classifier's own source files: the code version the model was built with. */
export function codeVersion(): string {
  const dir = new URL('.', import.meta.url);
  const h = createHash('sha256');
  for (const f of ['boost', 'dataset', 'features', 'groups', 'keepalive', 'miners', 'synth', 'train']) {
    const url = new URL(`${f}.ts`, dir);
    let text: string;
    try {
      text = readFileSync(url, 'utf8');
    } catch {
      // Compiled (dist/): the .js beside it.
      text = readFileSync(new URL(`${f}.js`, dir), 'utf8');
    }
    h.update(`${f}\n${text}\n`);
  }
  return h.digest('hex');
}

export function datasetText(d: Dataset): string {
  // One sample per line: diffs stay readable and the file hashes the same everywhere.
  const head = JSON.stringify({ ...d, samples: undefined, ungated: undefined });
  const lines = (xs: unknown[]) => xs.map((x) => JSON.stringify(x)).join(',\n');
  return `${head.slice(0, -1)},"ungated":[\n${lines(d.ungated)}\n],"samples":[\n${lines(d.samples)}\n]}\n`;
}

export function sha256Text(t: string): string {
  return createHash('sha256').update(t).digest('hex');
}

export function trainModel(
  d: Dataset,
  datasetSha: string,
  cv: CvReport,
  params: BoostParams = DEFAULT_BOOST,
): BehaviourModel {
  const ensemble = fitSamples(d.samples, params);
  const count = (f: (s: Sample) => boolean) => d.samples.filter(f).length;
  const ungated = d.ungated.reduce((a, u) => a + u.windows, 0);
  return {
    format: 'coinradar-behaviour-model/1',
    version: MODEL_VERSION,
    features: [...FEATURE_NAMES],
    gate: GATE,
    threshold: THRESHOLD,
    windowMs: d.windowMs,
    ensemble,
    manifest: {
      command: TRAIN_COMMAND,
      dataset: { file: 'src/detect/data/behaviour-dataset.json', sha256: datasetSha },
      inputs: d.inputs,
      generated: {
        scenario: SCENARIO_RUNS,
        keepaliveSeeds: KEEPALIVE_SEEDS,
        keepaliveWeight: KEEPALIVE_WEIGHT,
        minerSeeds: MINER_SEEDS,
      },
      samples: {
        windows: d.samples.length + ungated,
        positive: count((s) => s.label === 1),
        negative: count((s) => s.label === 0) + ungated,
        trainedOn: count(eligible),
      },
      params,
      codeSha256: codeVersion(),
      cv,
    },
  };
}

export function modelText(m: BehaviourModel): string {
  return `${JSON.stringify(m, null, 1)}\n`;
}
