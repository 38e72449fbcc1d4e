/**
 * Segment times of the open flows' payload samples, without an object per flow. A sample is
 * addressed by its key, `slot * 2` for the forward direction and `slot * 2 + 1` for the reverse.
 * The first segment of a sample always starts at offset 0, so its time sits in the key's own
 * record (most samples have one or two segments); the entries after it live in blocks of four in
 * typed arrays, chained in a ring (the last block points back to the first). When a flow finishes,
 * `write` packs a sample into the 12-byte entries of src/flow/payload-times.ts and `release` hands
 * its blocks back to a free list.
 *
 * Per key 16 bytes, side by side for the two directions of a slot (one cache line per flow on the
 * packet path): the first segment's time (f64), the entry count and the last block (i32 each), one
 * buffer seen as Float64Array and Int32Array.
 */
import { MAX_PAYLOAD_SEGMENTS, PAYLOAD_TIME_BYTES } from '../flow/payload-times.js';

const BLOCK = 4;
const NIL = -1;

export class SegmentTimes {
  // Entries after the first, BLOCK per block, and each block's successor (ring or free list).
  private off = new Uint32Array(0);
  private ms = new Float64Array(0);
  private next = new Int32Array(0);
  private free = NIL;
  /** Per key: first segment's time at [2·key]; count and last block at [4·key + 2], [4·key + 3]. */
  private t0 = new Float64Array(0);
  private rec = new Int32Array(0);

  /** `cap`: entries per sample at most; the last one, when reached, marks the untimed rest. */
  constructor(readonly cap: number) {
    if (!(cap >= 2 && cap <= MAX_PAYLOAD_SEGMENTS))
      throw new RangeError(`segment cap ${cap} not in 2..65535`);
    this.growBlocks(1024);
  }

  /** Make room for `slots` flow slots (keys 0 .. 2·slots − 1). */
  growSlots(slots: number): void {
    const t0 = new Float64Array(slots * 4);
    t0.set(this.t0);
    this.t0 = t0;
    this.rec = new Int32Array(t0.buffer);
  }

  private growBlocks(blocks: number): void {
    const old = this.next.length;
    const off = new Uint32Array(blocks * BLOCK);
    off.set(this.off);
    const ms = new Float64Array(blocks * BLOCK);
    ms.set(this.ms);
    const next = new Int32Array(blocks);
    next.set(this.next);
    for (let b = blocks - 1; b >= old; b--) {
      next[b] = this.free;
      this.free = b;
    }
    this.off = off;
    this.ms = ms;
    this.next = next;
  }

  count(key: number): number {
    return this.rec[key * 4 + 2];
  }

  /** The sample's bytes from `offset` on came in a packet captured at `ms` (offset 0 first). */
  add(key: number, offset: number, ms: number): void {
    const r = key * 4 + 2;
    const n = this.rec[r];
    const cap = this.cap;
    if (n >= cap) return;
    // The last entry the cap allows is written only when one more segment comes than it can
    // time: it says the bytes from here on arrived at times not kept.
    const t = n === cap - 1 ? NaN : ms;
    if (n === 0) {
      this.t0[key * 2] = t;
      this.rec[r] = 1;
      return;
    }
    const k = n - 1; // index among the entries after the first
    const within = k & (BLOCK - 1);
    let tail = this.rec[r + 1];
    if (within === 0) {
      if (this.free === NIL) this.growBlocks(this.next.length * 2);
      const blk = this.free;
      this.free = this.next[blk];
      // Into the ring after the current last block (a one-block ring points to itself).
      this.next[blk] = k === 0 ? blk : this.next[tail];
      if (k > 0) this.next[tail] = blk;
      tail = blk;
    }
    const e = tail * BLOCK + within;
    this.off[e] = offset;
    this.ms[e] = t;
    this.rec[r] = n + 1;
    this.rec[r + 1] = tail;
  }

  /** Pack the sample's entries into `out` at `at` (count(key) · 12 bytes). */
  write(key: number, out: DataView, at: number): void {
    const r = key * 4 + 2;
    const n = this.rec[r];
    if (n === 0) return;
    out.setUint32(at, 0, true);
    out.setFloat64(at + 4, this.t0[key * 2], true);
    if (n === 1) return;
    let blk = this.next[this.rec[r + 1]]; // the ring's first block
    let o = at + PAYLOAD_TIME_BYTES;
    for (let k = 0; k < n - 1; k++) {
      const within = k & (BLOCK - 1);
      if (k > 0 && within === 0) blk = this.next[blk];
      const e = blk * BLOCK + within;
      out.setUint32(o, this.off[e], true);
      out.setFloat64(o + 4, this.ms[e], true);
      o += PAYLOAD_TIME_BYTES;
    }
  }

  /** Forget the sample; its blocks go back to the free list. */
  release(key: number): void {
    const r = key * 4 + 2;
    const n = this.rec[r];
    if (n > 1) {
      // Open the ring after its last block and put the chain in front of the free list.
      const tail = this.rec[r + 1];
      const head = this.next[tail];
      this.next[tail] = this.free;
      this.free = head;
    }
    this.rec[r] = 0;
  }
}
