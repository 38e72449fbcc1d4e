/** Per-key token buckets: `rate` requests a second, bursts up to `burst`. rate 0 = unlimited. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly rate: number,
    readonly burst: number = Math.max(1, rate * 2),
  ) {}

  /** Take `cost` tokens; returns 0 when allowed, else milliseconds until it would be. */
  take(key: string, cost = 1, now = performance.now()): number {
    if (this.rate <= 0) return 0;
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) * this.rate) / 1000);
      b.at = now;
    }
    if (b.tokens >= cost) {
      b.tokens -= cost;
      return 0;
    }
    return Math.ceil(((cost - b.tokens) * 1000) / this.rate);
  }
}
