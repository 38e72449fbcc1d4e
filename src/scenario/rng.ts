/**
 * Seeded randomness for the synthetic world. Every stream is derived from (seed, labels...) so that
 * one part of the world (a host, a service, a day) draws the same numbers whether or not the rest
 * is generated: the series-only mode and the full flow generator see identical flows.
 */

/** 32-bit mix (murmur3 finaliser) used to derive stream seeds. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function streamSeed(seed: number, ...labels: number[]): number {
  let h = mix32((seed >>> 0) ^ 0x9e3779b9);
  for (const l of labels) h = mix32(h ^ mix32((l >>> 0) + 0x7f4a7c15));
  return h;
}

/** sfc32: small, fast, passes PractRand to 2^40; good enough for simulation (not for keys). */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, ...labels: number[]) {
    const s = streamSeed(seed, ...labels);
    this.a = s;
    this.b = mix32(s ^ 0x1b873593);
    this.c = mix32(s ^ 0xcc9e2d51);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }

  /** Index drawn with probability proportional to weights. */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let u = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i];
      if (u < 0) return i;
    }
    return weights.length - 1;
  }

  normal(): number {
    // Box–Muller; one value per call keeps streams simple to reason about.
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  exponential(rate: number): number {
    return -Math.log(1 - this.next()) / rate;
  }

  /** Log-normal with the given median and log-space sigma. */
  lognormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  /** Gamma(shape, scale=1) by Marsaglia–Tsang. */
  gamma(shape: number): number {
    if (shape < 1) return this.gamma(shape + 1) * Math.pow(this.next() || 1e-12, 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.next();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** Poisson: inversion for small means, PTRS-free normal approximation above 60. */
  poisson(mean: number): number {
    if (mean <= 0) return 0;
    if (mean < 60) {
      const l = Math.exp(-mean);
      let k = 0;
      let p = this.next();
      while (p > l) {
        k++;
        p *= this.next();
      }
      return k;
    }
    return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()));
  }

  /** Binomial(n, p): Bernoulli loop for small n, Poisson / normal approximation otherwise. */
  binomial(n: number, p: number): number {
    if (p >= 1) return n;
    if (p <= 0 || n <= 0) return 0;
    if (n < 40) {
      let k = 0;
      for (let i = 0; i < n; i++) if (this.next() < p) k++;
      return k;
    }
    if (p < 0.05) return Math.min(n, this.poisson(n * p));
    const m = n * p;
    const sd = Math.sqrt(m * (1 - p));
    return Math.min(n, Math.max(0, Math.round(m + sd * this.normal())));
  }
}
