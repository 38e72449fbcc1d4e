/**
 * The shipped behaviour model (src/detect/data/behaviour-model.json): a boosted tree ensemble over
 * FEATURE_NAMES, a decision threshold, and the gate a window must pass to be judged at all. The
 * file is data — `npm run train:classifier` rebuilds it; its manifest says from what.
 */
import { readFileSync } from 'node:fs';
import { contributions, margin, sigmoid, type Ensemble } from './boost.js';
import { FEATURE_COUNT, FEATURE_NAMES, serverPortOf } from './features.js';
import { notJudgedTable } from './service-ports.js';

export interface BehaviourModel {
  format: 'coinradar-behaviour-model/1';
  version: string;
  features: string[];
  /**
   * A window is judged only with at least this span and these packets (scaled), and only when its
   * server port is not one of `serverPortsNotJudged` (service-ports.ts).
   */
  gate: { minSpanMs: number; minPackets: number; serverPortsNotJudged?: number[] };
  threshold: number;
  windowMs: number;
  ensemble: Ensemble;
  manifest: Record<string, unknown>;
}

export const MODEL_URL = new URL('../data/behaviour-model.json', import.meta.url);

let shipped: BehaviourModel | null = null;

export function parseModel(text: string, where: string): BehaviourModel {
  const m = JSON.parse(text) as BehaviourModel;
  if (m.format !== 'coinradar-behaviour-model/1')
    throw new Error(`${where}: not a behaviour model (format ${m.format})`);
  if (m.features.join(',') !== FEATURE_NAMES.join(','))
    throw new Error(
      `${where}: model features (${m.features.join(',')}) differ from the code's (${FEATURE_NAMES.join(',')})`,
    );
  return m;
}

/** The model shipped with the code (read once). */
export function shippedModel(): BehaviourModel {
  shipped ??= parseModel(readFileSync(MODEL_URL, 'utf8'), MODEL_URL.pathname);
  return shipped;
}

export interface Verdict {
  /** Probability-like score in [0, 1]. */
  score: number;
  mining: boolean;
}

/** Whether a window holds enough to judge (shorter bursts are never called mining). */
export function gated(m: BehaviourModel, spanMs: number, packets: number): boolean {
  return spanMs >= m.gate.minSpanMs && packets >= m.gate.minPackets;
}

const notJudged = new WeakMap<BehaviourModel, Uint8Array>();

/** The model's lookup of server ports it does not judge (1: not judged), by port. */
export function portsNotJudged(m: BehaviourModel): Uint8Array {
  let t = notJudged.get(m);
  if (!t) notJudged.set(m, (t = notJudgedTable(m.gate.serverPortsNotJudged)));
  return t;
}

/** Whether the model judges groups of this server port. */
export function judgesPort(m: BehaviourModel, serverPort: number): boolean {
  return portsNotJudged(m)[serverPort] === 0;
}

/**
 * A window as the detector judges it: null when it is not judged (below the gate, or a server port
 * the model does not judge), else the trees' verdict.
 */
export function judgeWindow(
  m: BehaviourModel,
  w: { spanMs: number; packets: number; key: string; features: ArrayLike<number> },
): Verdict | null {
  if (!gated(m, w.spanMs, w.packets) || !judgesPort(m, serverPortOf(w.key))) return null;
  return judge(m, w.features);
}

export function judge(m: BehaviourModel, x: ArrayLike<number>): Verdict {
  const score = sigmoid(margin(m.ensemble, x));
  return { score, mining: score >= m.threshold };
}

/** The features that pushed the score most towards mining, with their values. */
export function topFeatures(
  m: BehaviourModel,
  x: ArrayLike<number>,
  n = 4,
): { feature: string; value: number; push: number }[] {
  const c = contributions(m.ensemble, x, FEATURE_COUNT);
  return [...c.keys()]
    .sort((a, b) => c[b] - c[a] || a - b)
    .slice(0, n)
    .map((f) => ({
      feature: FEATURE_NAMES[f],
      value: Math.round(x[f] * 1000) / 1000,
      push: Math.round(c[f] * 1000) / 1000,
    }));
}
