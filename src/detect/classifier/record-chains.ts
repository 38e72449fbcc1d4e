/**
 * The behaviour tracker's records: every group's records as a chain in one shared pool of typed
 * arrays (the RecordLog row layout of features.ts, nine numbers per record), in arrival order, so
 * that a new group costs no allocation and a dropped one leaves no garbage. A group's chain copied
 * into a RecordLog is, number for number and in the same order, the log the old per-group RecordLog
 * held: features.ts's gateSummary and featuresOf then give the same bits (the test checks it).
 */
import type { FlowBatch } from '../../flow/record.js';
import { RecordLog } from './features.js';

/** RecordLog's row layout (features.ts; the file is hashed by the model's manifest, not shared). */
const STRIDE = 9;
const T0 = 0;
const T1 = 1;
const UP_PK = 2;
const DN_PK = 4;
const NONE = -1;

/** A copy of `a` in a new array of length `n` (typed arrays grow by doubling here). */
export function grown<T extends Int32Array | Uint32Array | Float64Array>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  return b;
}

export class RecordChains {
  /** Per group id: first and last record, records held, and the latest end among them. */
  head = new Int32Array(64);
  tail = new Int32Array(64);
  count = new Int32Array(64);
  lastEnd = new Float64Array(64);
  /** Per record: nine numbers (RecordLog's layout) and the next record of its group. */
  private data = new Float64Array(STRIDE * 256);
  private next = new Int32Array(256);
  private free = NONE;
  private high = 0;
  /**
   * Records the pool grows to by doubling; past it, one batch's worth at a time. The tracker sets
   * its bound plus a batch, so a full tracker holds that many records, not up to twice as many.
   */
  growUntil = Infinity;
  /** What `gate` found: the span and packets featuresOf would report over the whole chain. */
  spanMs = 0;
  packets = 0;

  /** Records the pool has room for (held and free). */
  get capacity(): number {
    return this.next.length;
  }

  /** Make room for group ids below `n` (a new group starts empty). */
  ensureGroups(n: number): void {
    if (n <= this.head.length) return;
    let m = this.head.length;
    while (m < n) m *= 2;
    this.head = grown(this.head, m);
    this.tail = grown(this.tail, m);
    this.count = grown(this.count, m);
    this.lastEnd = grown(this.lastEnd, m);
  }

  /** An empty chain for group `g`. */
  reset(g: number): void {
    this.head[g] = NONE;
    this.tail[g] = NONE;
    this.count[g] = 0;
    this.lastEnd[g] = -Infinity;
  }

  private alloc(): number {
    if (this.free !== NONE) {
      const r = this.free;
      this.free = this.next[r];
      return r;
    }
    if (this.high === this.next.length) {
      const m = this.next.length;
      const n = m * 2 <= this.growUntil ? m * 2 : Math.max(this.growUntil, m + 4096);
      this.data = grown(this.data, n * STRIDE);
      this.next = grown(this.next, n);
    }
    return this.high++;
  }

  /** Append row `i` of `b` to group `g`, oriented and scaled exactly as RecordLog.addRow does. */
  addRow(g: number, b: FlowBatch, i: number, up: boolean, clientPort: number): void {
    const s = b.samplingRate[i] > 1 ? b.samplingRate[i] : 1;
    const fp = b.packets[i] * s;
    const fb = b.bytes[i] * s;
    const rp = b.revPackets[i] * s;
    const rb = b.revBytes[i] * s;
    const r = this.alloc();
    const o = r * STRIDE;
    const d = this.data;
    const t0 = b.firstMs[i];
    const t1 = Math.max(t0, b.lastMs[i]);
    d[o] = t0;
    d[o + 1] = t1;
    d[o + 2] = up ? fp : rp;
    d[o + 3] = up ? fb : rb;
    d[o + 4] = up ? rp : fp;
    d[o + 5] = up ? rb : fb;
    d[o + 6] = b.tcpFlags[i];
    d[o + 7] = clientPort;
    d[o + 8] = s;
    this.next[r] = NONE;
    if (this.tail[g] === NONE) this.head[g] = r;
    else this.next[this.tail[g]] = r;
    this.tail[g] = r;
    this.count[g]++;
    // Math.max as RecordLog.lastMs takes it (a NaN end makes it NaN there too).
    this.lastEnd[g] = Math.max(this.lastEnd[g], t1);
  }

  /**
   * Drop `g`'s records that ended before `ms` (RecordLog.dropBefore), then its oldest until at most
   * `max` remain (RecordLog.keepLast). Returns how many went.
   */
  trim(g: number, ms: number, max: number): number {
    const before = this.count[g];
    const d = this.data;
    let prev = NONE;
    let cutOldest = false;
    for (let r = this.head[g]; r !== NONE;) {
      const nx = this.next[r];
      if (d[r * STRIDE + T1] < ms) {
        if (prev === NONE) this.head[g] = nx;
        else this.next[prev] = nx;
        if (this.tail[g] === r) this.tail[g] = prev;
        this.release(r);
        this.count[g]--;
      } else prev = r;
      r = nx;
    }
    while (this.count[g] > max) {
      const r = this.head[g];
      this.head[g] = this.next[r];
      cutOldest = true;
      this.release(r);
      this.count[g]--;
    }
    if (this.count[g] === 0) this.tail[g] = NONE;
    // Dropping by time keeps the latest end (those records ended before it); keepLast may not.
    if (cutOldest) {
      let m = -Infinity;
      for (let r = this.head[g]; r !== NONE; r = this.next[r]) m = Math.max(m, d[r * STRIDE + T1]);
      this.lastEnd[g] = m;
    } else if (this.count[g] === 0) this.lastEnd[g] = -Infinity;
    return before - this.count[g];
  }

  /** Free all of `g`'s records; returns how many. */
  clear(g: number): number {
    const n = this.count[g];
    for (let r = this.head[g]; r !== NONE;) {
      const nx = this.next[r];
      this.release(r);
      r = nx;
    }
    this.reset(g);
    return n;
  }

  private release(r: number): void {
    this.next[r] = this.free;
    this.free = r;
  }

  /**
   * The span and packets of `g`'s records into `spanMs` / `packets`: gateSummary's sums, in its
   * order, over the chain (no copy).
   */
  gate(g: number): void {
    const d = this.data;
    let first = Infinity;
    let last = -Infinity;
    let upPk = 0;
    let dnPk = 0;
    for (let r = this.head[g]; r !== NONE; r = this.next[r]) {
      const o = r * STRIDE;
      if (d[o + T0] < first) first = d[o + T0];
      if (d[o + T1] > last) last = d[o + T1];
      upPk += d[o + UP_PK];
      dnPk += d[o + DN_PK];
    }
    if (this.count[g] === 0) {
      this.spanMs = 0;
      this.packets = 0;
      return;
    }
    this.spanMs = last - first;
    this.packets = upPk + dnPk;
  }

  /** The earliest start among `g`'s records (RecordLog.firstMs). */
  firstStart(g: number): number {
    let m = Infinity;
    for (let r = this.head[g]; r !== NONE; r = this.next[r]) m = Math.min(m, this.data[r * STRIDE + T0]);
    return m;
  }

  /** `g`'s records, in order, into `log` (replacing what it held). */
  copyTo(g: number, log: RecordLog): RecordLog {
    const n = this.count[g];
    if (log.data.length < n * STRIDE) log.data = new Float64Array(Math.max(n * STRIDE, log.data.length * 2));
    const d = this.data;
    const out = log.data;
    let w = 0;
    for (let r = this.head[g]; r !== NONE; r = this.next[r]) {
      out.set(d.subarray(r * STRIDE, r * STRIDE + STRIDE), w);
      w += STRIDE;
    }
    log.length = n;
    return log;
  }
}
