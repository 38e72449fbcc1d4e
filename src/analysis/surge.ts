/**
 * Surge detection in count series that are zero-inflated and weekly-seasonal.
 *
 * Method (docs/analysis.md explains why):
 *  1. Missing buckets (exporter down: exposure 0) leave the likelihood; structural zeros are not
 *     read as "activity stopped".
 *  2. Weekly profile and over-dispersion are estimated robustly (ratio to a 7-bucket moving
 *     average), then refined from the segmentation.
 *  3. Change points by PELT with a quasi-Poisson cost whose exposure is the seasonal profile
 *     (deviance / dispersion, penalty `penalty × log n` per change).
 *  4. Each change is kept only if its Bayesian posterior probability (Poisson–Gamma marginal
 *     likelihoods, tempered by the dispersion, uniform prior over its position within the
 *     neighbouring segments) reaches `minProbability`; that posterior also gives the onset's
 *     95 % credible interval.
 *  5. Consecutive increases form one surge episode; its growth shape (step, linear, exponential
 *     up to a plateau) is chosen by BIC on an additive model: seasonal baseline + new flat
 *     activity.
 */
import { logSumExp } from './stats.js';

export interface CountSeries {
  label: string;
  /** Bucket start times (ms, UTC), equally spaced by `bucketMs`. */
  timesMs: number[];
  bucketMs: number;
  counts: number[];
  /** Observed fraction of each bucket (1 default; 0 = not observed, e.g. exporter down). */
  exposure?: number[];
}

export interface SurgeOptions {
  /** Buckets per seasonal cycle (7 for daily buckets, 168 for hourly); 0 disables. */
  period?: number;
  /** Penalty per change point, in units of log(n) (BIC-like; default 4). */
  penalty?: number;
  /** Posterior probability a change needs to be reported (default 0.99). */
  minProbability?: number;
  /** Shortest segment in buckets (default 3): one odd day is not a regime. */
  minSegment?: number;
}

export type GrowthShape = 'step' | 'linear' | 'exponential';

export interface SurgeChange {
  label: string;
  kind: 'increase' | 'decrease';
  /** First bucket of the new regime, ISO-8601 UTC. */
  onset: string;
  onsetMs: number;
  /** 95 % credible interval of the onset (bucket starts, ISO-8601 UTC). */
  onsetInterval: [string, string];
  /** Mean count per bucket before, and at the end of the episode (seasonally averaged). */
  before: number;
  after: number;
  shape: GrowthShape;
  /** Linear: added counts per bucket per bucket; exponential: growth rate per bucket (log scale). */
  rate: number;
  /** Exponential only: buckets for the new activity to double. */
  doublingBuckets?: number;
  /** Buckets from onset to the plateau (ramps), 0 for a step. */
  rampBuckets: number;
  /** Posterior probability that the first change of the episode is real. */
  probability: number;
  /** Change points (bucket starts, ISO) that make up the episode. */
  changePoints: string[];
}

export interface SurgeResult {
  label: string;
  changes: SurgeChange[];
  /** Seasonal profile used (mean 1), by bucket phase. */
  season: number[];
  /** Negative-binomial size k of the baseline (Var = μ + μ²/k). */
  dispersion: number;
  /** Observed buckets. */
  n: number;
}

interface Prepared {
  y: Float64Array;
  s: Float64Array; // seasonal exposure (profile × observed fraction)
  idx: number[]; // original bucket index of each observed point
  phase: Int32Array;
}

function prepare(series: CountSeries, period: number): Prepared {
  const y: number[] = [];
  const s: number[] = [];
  const idx: number[] = [];
  const phase: number[] = [];
  for (let i = 0; i < series.counts.length; i++) {
    const e = series.exposure ? series.exposure[i] : 1;
    if (!(e > 0)) continue;
    y.push(series.counts[i]);
    s.push(e);
    idx.push(i);
    phase.push(period > 0 ? i % period : 0);
  }
  return { y: Float64Array.from(y), s: Float64Array.from(s), idx, phase: Int32Array.from(phase) };
}

/** Seasonal profile from counts and a fitted level per point; shrunk toward 1 when counts are few. */
function seasonFrom(p: Prepared, level: Float64Array, period: number, from: number, to: number): number[] {
  if (period <= 1) return [1];
  const num = new Float64Array(period);
  const den = new Float64Array(period);
  const cnt = new Float64Array(period);
  for (let i = from; i < to; i++) {
    num[p.phase[i]] += p.y[i];
    den[p.phase[i]] += level[i] * p.s[i];
    cnt[p.phase[i]]++;
  }
  const k = 3; // pseudo-counts toward a flat profile
  const S = Array.from({ length: period }, (_, j) => (num[j] + k) / (den[j] + k));
  let m = 0;
  let w = 0;
  for (let j = 0; j < period; j++) {
    m += S[j] * cnt[j];
    w += cnt[j];
  }
  m = w > 0 ? m / w : 1;
  return S.map((x) => x / m);
}

function movingLevel(p: Prepared, window: number): Float64Array {
  const n = p.y.length;
  const out = new Float64Array(n);
  const half = Math.floor(window / 2);
  for (let i = 0; i < n; i++) {
    let a = Math.max(0, i - half);
    const b = Math.min(n, a + window);
    a = Math.max(0, b - window);
    let Y = 0;
    let E = 0;
    for (let j = a; j < b; j++) {
      Y += p.y[j];
      E += p.s[j];
    }
    out[i] = E > 0 ? Y / E : 0;
  }
  return out;
}

interface Fit {
  cps: number[];
  season: number[];
  /** Negative-binomial size: Var = μ + μ²/k (Infinity = Poisson). */
  k: number;
}

/**
 * Segment log-likelihood under NB(mean μ·S_phase·exposure, size k) with μ at its moment estimate,
 * from per-phase prefix sums: O(period) per segment, so PELT stays fast.
 */
class NbCost {
  private readonly N: Float64Array[];
  private readonly Y: Float64Array[];
  private readonly E: Float64Array[];
  private readonly Y2: Float64Array[];

  constructor(
    private readonly p: Prepared,
    private readonly period: number,
    private readonly season: number[],
    private readonly k: number,
  ) {
    const P = Math.max(1, period);
    const n = p.y.length;
    this.N = [];
    this.Y = [];
    this.E = [];
    this.Y2 = [];
    for (let j = 0; j < P; j++) {
      this.N.push(new Float64Array(n + 1));
      this.Y.push(new Float64Array(n + 1));
      this.E.push(new Float64Array(n + 1));
      this.Y2.push(new Float64Array(n + 1));
    }
    for (let j = 0; j < P; j++) {
      const N = this.N[j];
      const Y = this.Y[j];
      const E = this.E[j];
      const Y2 = this.Y2[j];
      for (let i = 0; i < n; i++) {
        const hit = (period > 0 ? p.phase[i] : 0) === j;
        N[i + 1] = N[i] + (hit ? 1 : 0);
        Y[i + 1] = Y[i] + (hit ? p.y[i] : 0);
        E[i + 1] = E[i] + (hit ? p.s[i] : 0);
        Y2[i + 1] = Y2[i] + (hit ? p.y[i] * p.y[i] : 0);
      }
    }
  }

  /**
   * Pearson statistic of [a, b) around its own level under the NB variance μ + μ²/k: the sum of
   * squared standardised residuals, about b − a when the model fits.
   */
  pearson(a: number, b: number, mu = this.mean(a, b)): number {
    const k = this.k;
    let x2 = 0;
    for (let j = 0; j < this.N.length; j++) {
      const n = this.N[j][b] - this.N[j][a];
      if (n === 0) continue;
      const Y = this.Y[j][b] - this.Y[j][a];
      const Y2 = this.Y2[j][b] - this.Y2[j][a];
      const m = (mu * this.season[j] * (this.E[j][b] - this.E[j][a])) / n;
      const v = Math.max(m + (Number.isFinite(k) ? (m * m) / k : 0), 0.25);
      x2 += (Y2 - 2 * m * Y + n * m * m) / v;
    }
    return x2;
  }

  /** Level per unit seasonal exposure in [a, b). */
  mean(a: number, b: number): number {
    let Y = 0;
    let E = 0;
    for (let j = 0; j < this.N.length; j++) {
      Y += this.Y[j][b] - this.Y[j][a];
      E += (this.E[j][b] - this.E[j][a]) * this.season[j];
    }
    return E > 0 ? Y / E : 0;
  }

  loglik(a: number, b: number, mu = this.mean(a, b)): number {
    if (mu <= 0) return 0;
    const k = this.k;
    let ll = 0;
    for (let j = 0; j < this.N.length; j++) {
      const n = this.N[j][b] - this.N[j][a];
      if (n === 0) continue;
      const Y = this.Y[j][b] - this.Y[j][a];
      const m = (mu * this.season[j] * (this.E[j][b] - this.E[j][a])) / n;
      if (!Number.isFinite(k)) ll += Y * Math.log(m) - n * m;
      else ll += n * k * Math.log(k / (k + m)) + Y * Math.log(m / (k + m));
    }
    return ll;
  }

  /**
   * Log-likelihood of bucket i alone (same terms as `loglik`) when a fraction u of it belongs to
   * the new level, averaged over u uniform on (0, 1): the bucket in which activity began part-way.
   */
  partialLoglik(i: number, before: number, after: number): number {
    const w = this.season[this.period > 0 ? this.p.phase[i] : 0] * this.p.s[i];
    const y = this.p.y[i];
    const k = this.k;
    const terms: number[] = [];
    const G = 8;
    for (let g = 0; g < G; g++) {
      const u = (g + 0.5) / G;
      const m = Math.max((before + u * (after - before)) * w, 1e-9);
      terms.push(
        Number.isFinite(k) ? k * Math.log(k / (k + m)) + y * Math.log(m / (k + m)) : y * Math.log(m) - m,
      );
    }
    return logSumExp(terms) - Math.log(G);
  }

  cost(a: number, b: number): number {
    return -2 * this.loglik(a, b);
  }
}

/** PELT on an arbitrary segment cost, minimum segment length; returns segment starts after 0. */
export function peltSegments(
  n: number,
  cost: (a: number, b: number) => number,
  beta: number,
  minSeg: number,
): number[] {
  const F = new Float64Array(n + 1).fill(Infinity);
  const last = new Int32Array(n + 1);
  F[0] = -beta;
  let R: number[] = [0];
  for (let t = minSeg; t <= n; t++) {
    if (t - minSeg >= minSeg) R.push(t - minSeg);
    let best = Infinity;
    let arg = 0;
    const c = R.map((r) => F[r] + cost(r, t));
    for (let q = 0; q < R.length; q++) {
      if (c[q] + beta < best) {
        best = c[q] + beta;
        arg = R[q];
      }
    }
    F[t] = best;
    last[t] = arg;
    R = R.filter((_, q) => c[q] <= best);
  }
  const cps: number[] = [];
  for (let t = n; t > 0; t = last[t]) if (last[t] > 0) cps.push(last[t]);
  return cps.reverse();
}

/** Method-of-moments NB size from counts and fitted means on [lo, hi). */
function nbSize(p: Prepared, fitted: Float64Array, lo: number, hi: number): number {
  let num = 0;
  let den = 0;
  for (let i = lo; i < hi; i++) {
    const m = fitted[i];
    num += m * m;
    den += (p.y[i] - m) * (p.y[i] - m) - m;
  }
  if (den <= 0 || num <= 0) return 1e4;
  return Math.min(1e4, Math.max(0.5, num / den));
}

function fit(p: Prepared, period: number, penalty: number, minSeg: number): Fit {
  const n = p.y.length;
  const beta = penalty * Math.log(Math.max(n, 3));
  // Start: a moving level gives the weekly profile and the dispersion before any segmentation.
  const level = movingLevel(p, Math.max(period, 7));
  let season = seasonFrom(p, level, period, 0, n);
  const fitted = new Float64Array(n);
  const setFitted = () => {
    for (let i = 0; i < n; i++) fitted[i] = level[i] * p.s[i] * season[period > 0 ? p.phase[i] : 0];
  };
  setFitted();
  let k = nbSize(p, fitted, 0, n);
  let cps: number[] = [];
  for (let iter = 0; iter < 3; iter++) {
    const c = new NbCost(p, period, season, k);
    cps = peltSegments(n, (a, b) => c.cost(a, b), beta, minSeg);
    const bounds = [0, ...cps, n];
    for (let q = 0; q + 1 < bounds.length; q++) {
      const mu = c.mean(bounds[q], bounds[q + 1]);
      for (let i = bounds[q]; i < bounds[q + 1]; i++) level[i] = mu;
    }
    // Season and dispersion are those of the baseline: everything before the largest relative
    // increase (new activity need not share the baseline's weekly rhythm or its dispersion).
    let baseEnd = n;
    let bestJump = 0;
    for (let q = 1; q + 1 < bounds.length; q++) {
      const jump = Math.log((level[bounds[q]] + 0.5) / (level[bounds[q] - 1] + 0.5));
      if (jump > bestJump) {
        bestJump = jump;
        baseEnd = bounds[q];
      }
    }
    if (baseEnd < 3 * Math.max(period, 7)) baseEnd = n;
    season = seasonFrom(p, level, period, 0, baseEnd);
    setFitted();
    k = nbSize(p, fitted, 0, baseEnd);
  }
  return { cps, season, k };
}

/**
 * Posterior probability of one change in [a, b) against none (BIC approximation of the Bayes
 * factor, uniform prior over the position, prior odds 1), and the posterior over its onset bucket.
 */
function changePosterior(c: NbCost, a: number, b: number, minSeg: number, n: number) {
  const l0 = c.loglik(a, b);
  const lp: number[] = [];
  for (let t = a + minSeg; t <= b - minSeg; t++) lp.push(c.loglik(a, t) + c.loglik(t, b));
  if (lp.length === 0) return { probability: 0, pos: [] as number[], post: [] as number[], phi: 1 };
  const z = logSumExp(lp);
  const logBf = z - Math.log(lp.length) - l0 - 0.5 * Math.log(b - a);
  const probability = logBf > 50 ? 1 : 1 / (1 + Math.exp(-logBf));
  // When another change follows at b, the new regime may begin up to one bucket before it: the
  // shortest-segment rule shapes PELT's staircase on a ramp, not where activity began.
  return { probability, ...onsetPosterior(c, a, b, b < n ? 1 : minSeg, minSeg) };
}

/**
 * The posterior over the onset bucket, wider than the step model's posterior over the split
 * for two reasons the step model ignores (docs/analysis.md, "Onset intervals"):
 *  - activity begins part-way through a bucket, so the first bucket of new activity often holds
 *    only a fraction of the new level: beside "the new level from t", each t may also be the
 *    bucket where a fraction u ~ U(0, 1) of it began (the full level from t + 1);
 *  - the two-level model misfits ramps and noisy new activity: the likelihood is tempered by the
 *    Pearson χ² per degree of freedom of the best split (a quasi-likelihood posterior).
 */
function onsetPosterior(c: NbCost, a: number, b: number, minAfter: number, minBefore: number) {
  const pos: number[] = [];
  const full: number[] = [];
  let best = 0;
  for (let t = a + minBefore; t <= b - minAfter; t++) {
    pos.push(t);
    full.push(c.loglik(a, t) + c.loglik(t, b));
    if (full[full.length - 1] > full[best]) best = full.length - 1;
  }
  if (pos.length === 0) return { pos, post: [] as number[], phi: 1 };
  const t = pos[best];
  const phi = Math.max(1, (c.pearson(a, t) + c.pearson(t, b)) / Math.max(1, b - a - 2));
  const lp = full.map((v) => v / phi);
  for (let q = 0; q < pos.length; q++) {
    const s = pos[q];
    if (s + 1 >= b) continue;
    const before = c.mean(a, s);
    const after = c.mean(s + 1, b);
    const part = c.loglik(a, s, before) + c.partialLoglik(s, before, after) + c.loglik(s + 1, b, after);
    // Equal prior weight on "starts with a full bucket" and "starts part-way through one".
    lp[q] = logSumExp([lp[q], part / phi]);
  }
  const zt = logSumExp(lp);
  return { pos, post: lp.map((v) => Math.exp(v - zt)), phi };
}

interface ShapeFit {
  shape: GrowthShape;
  a: number;
  q: number;
  R: number;
  bic: number;
}

/** Poisson MLE of `a` in mean = base + a·h (h ≥ 0), by safeguarded Newton on the score. */
function fitScale(
  y: ArrayLike<number>,
  base: ArrayLike<number>,
  h: ArrayLike<number>,
  phi: number,
): { a: number; ll: number } {
  const n = y.length;
  let sumY = 0;
  let sumH = 0;
  for (let i = 0; i < n; i++) {
    sumY += y[i];
    sumH += h[i];
  }
  let a = Math.max(1e-9, sumY / Math.max(sumH, 1e-9));
  for (let it = 0; it < 30; it++) {
    let g = 0;
    let H = 0;
    for (let i = 0; i < n; i++) {
      const m = base[i] + a * h[i];
      g += (y[i] / m - 1) * h[i];
      H -= (y[i] * h[i] * h[i]) / (m * m);
    }
    if (H >= 0) break;
    let next = a - g / H;
    if (next <= 0) next = a / 2;
    if (Math.abs(next - a) < 1e-9 * Math.max(1, a)) {
      a = next;
      break;
    }
    a = next;
  }
  let ll = 0;
  for (let i = 0; i < n; i++) {
    const m = Math.max(base[i] + a * h[i], 1e-12);
    ll += y[i] * Math.log(m) - m;
  }
  return { a, ll: ll / phi };
}

function fitShape(
  y: Float64Array,
  base: Float64Array,
  t: Float64Array,
  Rs: number[],
  phi: number,
  logn = Math.log(Math.max(y.length, 2)),
  minRamp = 2,
): ShapeFit {
  const n = y.length;
  const h = new Float64Array(n);
  const step = fitScale(y, base, h.fill(1), phi);
  let best: ShapeFit = { shape: 'step', a: step.a, q: 0, R: 0, bic: -2 * step.ll + logn };
  const span = Math.max(1, t[n - 1]);
  for (const R of Rs) {
    if (R < minRamp) continue;
    // Linear: h = 1 + q·min(t, R); q such that the plateau is 1.5× .. 200× the start.
    for (let g = 0; g < 24; g++) {
      const q = (Math.exp(Math.log(0.5) + (g * Math.log(400)) / 23) - 0) / R;
      for (let i = 0; i < n; i++) h[i] = 1 + q * Math.min(t[i], R);
      const f = fitScale(y, base, h, phi);
      const bic = -2 * f.ll + 3 * logn;
      if (bic < best.bic) best = { shape: 'linear', a: f.a, q, R, bic };
    }
    // Exponential: h = exp(r·min(t, R)).
    for (let g = 0; g < 24; g++) {
      const r = Math.exp(Math.log(0.3) + (g * Math.log(20)) / 23) * (Math.log(2) / Math.min(R, span));
      for (let i = 0; i < n; i++) h[i] = Math.exp(r * Math.min(t[i], R));
      const f = fitScale(y, base, h, phi);
      const bic = -2 * f.ll + 3 * logn;
      if (bic < best.bic) best = { shape: 'exponential', a: f.a, q: r, R, bic };
    }
  }
  return best;
}

export function detectSurges(series: CountSeries, opts: SurgeOptions = {}): SurgeResult {
  const period = opts.period ?? 7;
  const penalty = opts.penalty ?? 4;
  const minProb = opts.minProbability ?? 0.99;
  const minSeg = opts.minSegment ?? 3;
  const p = prepare(series, period);
  const n = p.y.length;
  if (n < 2 * minSeg) return { label: series.label, changes: [], season: [], dispersion: 0, n };
  const f = fit(p, period, penalty, minSeg);
  const cost = new NbCost(p, period, f.season, f.k);
  const sx = new Float64Array(n);
  for (let i = 0; i < n; i++) sx[i] = p.s[i] * f.season[period > 0 ? p.phase[i] : 0];
  const iso = (i: number) => new Date(series.timesMs[p.idx[Math.min(i, n - 1)]]).toISOString();
  // Keep the changes the posterior supports; a dropped change merges its neighbours, so re-test.
  let cps = [...f.cps];
  let kept: { at: number; prob: number; lo: number; hi: number }[] = [];
  for (let round = 0; round < 5; round++) {
    const bounds = [0, ...cps, n];
    kept = [];
    for (let k = 1; k + 1 < bounds.length; k++) {
      const cp = changePosterior(cost, bounds[k - 1], bounds[k + 1], minSeg, n);
      if (cp.probability < minProb) continue;
      const order = cp.post.map((v, i) => [v, i] as const).sort((x, y) => y[0] - x[0]);
      const inSet: number[] = [];
      let acc = 0;
      for (const [v, i] of order) {
        inSet.push(cp.pos[i]);
        acc += v;
        if (acc >= 0.95) break;
      }
      // The reported onset (PELT's split) always lies in its own interval.
      kept.push({
        at: bounds[k],
        prob: cp.probability,
        lo: Math.min(bounds[k], ...inSet),
        hi: Math.max(bounds[k], ...inSet),
      });
    }
    if (kept.length === cps.length) break;
    cps = kept.map((x) => x.at);
  }
  const kb = [0, ...kept.map((x) => x.at), n];
  const means = kb.slice(0, -1).map((a, q) => cost.mean(a, kb[q + 1]));
  const changes: SurgeChange[] = [];
  for (let k = 0; k < kept.length;) {
    const up = means[k + 1] > means[k];
    let j = k;
    // An episode: consecutive changes in the same direction.
    while (j + 1 < kept.length && means[j + 2] > means[j + 1] === up) j++;
    let start = kb[k + 1];
    const end = kb[j + 2];
    const before = means[k];
    const after = means[j + 1];
    let shape: GrowthShape = 'step';
    let rate = 0;
    let ramp = 0;
    let doubling: number | undefined;
    let onsetShift = 0;
    if (up) {
      // Additive model: the baseline keeps its weekly rhythm; the new activity has none.
      const m = end - start;
      const y = p.y.subarray(start, end);
      const base = new Float64Array(m);
      const t = new Float64Array(m);
      for (let i = 0; i < m; i++) {
        base[i] = Math.max(before * sx[start + i], 1e-6);
        t[i] = p.idx[start + i] - p.idx[start];
      }
      // Dispersion of the episode around its own staircase, for the shape comparison.
      let pear = 0;
      for (let q = k + 1; q <= j + 1; q++) {
        for (let i = kb[q]; i < kb[q + 1]; i++) {
          const mu = Math.max(means[q] * sx[i], 0.05);
          pear += ((p.y[i] - mu) * (p.y[i] - mu)) / mu;
        }
      }
      const phi = Math.max(1, pear / Math.max(1, m - (j - k + 1)));
      const Rs = kept.slice(k + 1, j + 1).map((x) => p.idx[x.at] - p.idx[start]);
      Rs.push(t[m - 1]);
      let sf = fitShape(y, base, t, [...new Set(Rs)], phi);
      if (j > k && before < 1e-3) {
        // Activity from nothing (a label, a pool, a port no host used before): the episode's first
        // change point can sit up to `minSegment − 1` buckets before the first flow, because the
        // segment it opens must be that long, so quiet buckets then the first flows (0, 0, 6, then
        // hundreds) make one segment that starts with the quiet ones. Where there was nothing
        // before, the onset is not before the first flow. (With a baseline, a ramp's first buckets
        // hide in its noise and PELT's start is the better estimate: test/analysis/surge-onset.)
        const last = Math.min(start + minSeg, kb[k + 2]) - 1;
        while (onsetShift < last - start && y[onsetShift] === 0) onsetShift++;
        if (onsetShift > 0) {
          const t0 = t[onsetShift];
          sf = fitShape(
            y.subarray(onsetShift),
            base.subarray(onsetShift),
            t.subarray(onsetShift).map((v) => v - t0),
            [...new Set(Rs.map((R) => R - t0).filter((R) => R >= 1))],
            phi,
            undefined,
            1,
          );
          start += onsetShift;
        }
      }
      shape = sf.shape;
      ramp = sf.shape === 'step' ? 0 : sf.R;
      if (sf.shape === 'linear') rate = sf.a * sf.q;
      if (sf.shape === 'exponential') {
        rate = sf.q;
        doubling = Math.log(2) / sf.q;
      }
    }
    changes.push({
      label: series.label,
      kind: up ? 'increase' : 'decrease',
      onset: iso(start),
      onsetMs: series.timesMs[p.idx[start]],
      // Moved to the first flow: nothing came before it, so the interval does not start earlier.
      onsetInterval:
        onsetShift > 0
          ? [iso(Math.max(kept[k].lo, start)), iso(Math.max(kept[k].hi, start))]
          : [iso(kept[k].lo), iso(kept[k].hi)],
      before,
      after,
      shape,
      rate,
      doublingBuckets: doubling,
      rampBuckets: ramp,
      probability: kept[k].prob,
      changePoints: kept.slice(k, j + 1).map((x) => iso(x.at)),
    });
    k = j + 1;
  }
  return { label: series.label, changes, season: f.season, dispersion: f.k, n };
}
