/**
 * A small gradient-boosted ensemble of shallow regression trees (logistic loss, Newton leaf
 * values), written here rather than taken from npm: the model must be plain JSON the detector can
 * score without native code, a rebuild must give the same bytes on every machine, and the npm
 * learners that fit the size are either unmaintained or pull in numeric runtimes (docs/
 * detection-rules.md, "Flow-behaviour classifier"). Split candidates are at most `bins` quantiles
 * per feature; column subsampling uses a seeded generator, so training is deterministic.
 */

export interface BoostParams {
  trees: number;
  depth: number;
  learningRate: number;
  /** L2 penalty on leaf values. */
  lambda: number;
  /** Least hessian weight in a leaf. */
  minLeafWeight: number;
  /** Share of features tried at each tree (seeded). */
  colsample: number;
  bins: number;
  seed: number;
  /**
   * Members of the bag: ensembles fitted with seeds `seed`, `seed + 1`, …, averaged (their trees
   * concatenated, values divided by `bag`). Column subsampling makes one fit depend on its seed;
   * the average does much less (docs/detection-rules.md, "Seed variance").
   */
  bag?: number;
}

export const DEFAULT_BOOST: BoostParams = {
  trees: 120,
  depth: 3,
  learningRate: 0.15,
  lambda: 1,
  minLeafWeight: 2,
  colsample: 0.8,
  bins: 32,
  seed: 16,
  bag: 5,
};

/**
 * One tree, flattened: node k splits on `feature[k]` at `threshold[k]` (x < threshold goes to
 * `left[k]`), or is a leaf when `feature[k]` is -1. `value[k]` is the node's (scaled) Newton value,
 * kept for inner nodes too so a score can be split into per-feature contributions.
 */
export interface Tree {
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  value: number[];
}

export interface Ensemble {
  base: number;
  trees: Tree[];
}

/** sfc32, seeded by a number (the same generator family as src/scenario/rng.ts). */
function rng(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let k = 0; k < 12; k++) next();
  return next;
}

/** Rounded to 6 significant digits so the JSON is stable and short. */
const r6 = (x: number) => Number(x.toPrecision(6));

/** Candidate thresholds per feature: midpoints between distinct quantile values. */
function candidates(x: Float64Array[], nFeat: number, bins: number): number[][] {
  const out: number[][] = [];
  for (let f = 0; f < nFeat; f++) {
    const v = Array.from(x, (row) => row[f]).sort((a, b) => a - b);
    const uniq: number[] = [];
    for (const y of v) if (uniq.length === 0 || uniq[uniq.length - 1] !== y) uniq.push(y);
    const th: number[] = [];
    if (uniq.length <= bins + 1) {
      for (let k = 1; k < uniq.length; k++) th.push(r6((uniq[k - 1] + uniq[k]) / 2));
    } else {
      for (let q = 1; q <= bins; q++) {
        const k = Math.floor((q * (uniq.length - 1)) / (bins + 1));
        th.push(r6((uniq[k] + uniq[k + 1]) / 2));
      }
    }
    out.push([...new Set(th)].sort((a, b) => a - b));
  }
  return out;
}

export function sigmoid(m: number): number {
  return 1 / (1 + Math.exp(-m));
}

/** Margin (log-odds) of one feature vector. */
export function margin(e: Ensemble, x: ArrayLike<number>): number {
  let m = e.base;
  for (const t of e.trees) {
    let k = 0;
    while (t.feature[k] >= 0) k = x[t.feature[k]] < t.threshold[k] ? t.left[k] : t.right[k];
    m += t.value[k];
  }
  return m;
}

/**
 * Per-feature contributions to the margin (Saabas): along each tree's path, the change of node
 * value is credited to the feature split on. They sum to margin − base − Σ root values.
 */
export function contributions(e: Ensemble, x: ArrayLike<number>, nFeat: number): Float64Array {
  const c = new Float64Array(nFeat);
  for (const t of e.trees) {
    let k = 0;
    while (t.feature[k] >= 0) {
      const next = x[t.feature[k]] < t.threshold[k] ? t.left[k] : t.right[k];
      c[t.feature[k]] += t.value[next] - t.value[k];
      k = next;
    }
  }
  return c;
}

/**
 * Fit `params.bag` ensembles (default 1) with consecutive seeds and average them into one: the
 * mean margin is the margin of the concatenated trees with every value divided by the bag size.
 */
export function fitBag(
  x: Float64Array[],
  y: Uint8Array,
  w: Float64Array,
  params: BoostParams = DEFAULT_BOOST,
): Ensemble {
  const k = params.bag ?? 1;
  if (k <= 1) return fit(x, y, w, params);
  const members = Array.from({ length: k }, (_, j) => fit(x, y, w, { ...params, seed: params.seed + j }));
  return {
    base: r6(members.reduce((a, e) => a + e.base, 0) / k),
    trees: members.flatMap((e) => e.trees.map((t) => ({ ...t, value: t.value.map((v) => r6(v / k)) }))),
  };
}

/** Fit on rows `x` (each of length nFeat), labels 0/1 and sample weights. */
export function fit(
  x: Float64Array[],
  y: Uint8Array,
  w: Float64Array,
  params: BoostParams = DEFAULT_BOOST,
): Ensemble {
  const n = x.length;
  const nFeat = x[0]?.length ?? 0;
  const cand = candidates(x, nFeat, params.bins);
  let wp = 0;
  let wAll = 0;
  for (let i = 0; i < n; i++) {
    wAll += w[i];
    if (y[i]) wp += w[i];
  }
  const p0 = Math.min(1 - 1e-6, Math.max(1e-6, wp / (wAll || 1)));
  const base = r6(Math.log(p0 / (1 - p0)));
  const m = new Float64Array(n).fill(base);
  const g = new Float64Array(n);
  const h = new Float64Array(n);
  const rand = rng(params.seed);
  const trees: Tree[] = [];
  for (let t = 0; t < params.trees; t++) {
    for (let i = 0; i < n; i++) {
      const p = sigmoid(m[i]);
      g[i] = w[i] * (p - y[i]);
      h[i] = w[i] * Math.max(p * (1 - p), 1e-6);
    }
    const feats: number[] = [];
    for (let f = 0; f < nFeat; f++) if (rand() < params.colsample) feats.push(f);
    if (feats.length === 0) feats.push(Math.floor(rand() * nFeat));
    const tree: Tree = { feature: [], threshold: [], left: [], right: [], value: [] };
    const rows = Int32Array.from({ length: n }, (_, i) => i);
    grow(tree, rows, 0, x, g, h, cand, feats, params);
    for (let i = 0; i < n; i++) {
      let k = 0;
      while (tree.feature[k] >= 0)
        k = x[i][tree.feature[k]] < tree.threshold[k] ? tree.left[k] : tree.right[k];
      m[i] += tree.value[k];
    }
    trees.push(tree);
  }
  return { base, trees };
}

function grow(
  tree: Tree,
  rows: Int32Array,
  depth: number,
  x: Float64Array[],
  g: Float64Array,
  h: Float64Array,
  cand: number[][],
  feats: number[],
  p: BoostParams,
): number {
  let G = 0;
  let H = 0;
  for (const i of rows) {
    G += g[i];
    H += h[i];
  }
  const k = tree.feature.length;
  tree.feature.push(-1);
  tree.threshold.push(0);
  tree.left.push(-1);
  tree.right.push(-1);
  tree.value.push(r6((-G / (H + p.lambda)) * p.learningRate));
  if (depth >= p.depth || H < 2 * p.minLeafWeight) return k;
  const parent = (G * G) / (H + p.lambda);
  let best = 1e-9;
  let bf = -1;
  let bt = 0;
  for (const f of feats) {
    const th = cand[f];
    if (th.length === 0) continue;
    // Gradient sums per bin (bin b holds values in [th[b-1], th[b])), then a sweep.
    const gb = new Float64Array(th.length + 1);
    const hb = new Float64Array(th.length + 1);
    for (const i of rows) {
      const v = x[i][f];
      let lo = 0;
      let hi = th.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (v < th[mid]) hi = mid;
        else lo = mid + 1;
      }
      gb[lo] += g[i];
      hb[lo] += h[i];
    }
    let gl = 0;
    let hl = 0;
    for (let b = 0; b < th.length; b++) {
      gl += gb[b];
      hl += hb[b];
      const gr = G - gl;
      const hr = H - hl;
      if (hl < p.minLeafWeight || hr < p.minLeafWeight) continue;
      const gain = (gl * gl) / (hl + p.lambda) + (gr * gr) / (hr + p.lambda) - parent;
      if (gain > best) {
        best = gain;
        bf = f;
        bt = th[b];
      }
    }
  }
  if (bf < 0) return k;
  const l: number[] = [];
  const r: number[] = [];
  for (const i of rows) (x[i][bf] < bt ? l : r).push(i);
  tree.feature[k] = bf;
  tree.threshold[k] = bt;
  tree.left[k] = grow(tree, Int32Array.from(l), depth + 1, x, g, h, cand, feats, p);
  tree.right[k] = grow(tree, Int32Array.from(r), depth + 1, x, g, h, cand, feats, p);
  return k;
}
