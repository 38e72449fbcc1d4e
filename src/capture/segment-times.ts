/**
 * Segment times of the open flows' payload samples, without an object per flow: the (offset, ms)
 * entries live in blocks of four in typed arrays, each sample a chain of blocks. A sample is
 * addressed by its key, `slot * 2` for the forward direction and `slot * 2 + 1` for the reverse;
 * a finished flow's chains go back to a free list. When a flow finishes, `write` packs a chain
 * into the 12-byte entries of src/flow/payload-times.ts.
 */
import { PAYLOAD_TIME_BYTES } from '../flow/payload-times.js';

const BLOCK = 4;
const NIL = -1;

export class SegmentTimes {
  // Entries, BLOCK per block, and each block's successor in its chain (or in the free list).
  private off = new Uint32Array(0);
  private ms = new Float64Array(0);
  private next = new Int32Array(0);
  private free = NIL;
  // Per key: first and last block and the number of entries (0: no chain).
  private head = new Int32Array(0);
  private tail = new Int32Array(0);
  private n = new Int32Array(0);

  /** `cap`: entries per sample at most; the last one, when reached, marks the untimed rest. */
  constructor(readonly cap: number) {
    this.growBlocks(1024);
  }

  /** Make room for `slots` flow slots (keys 0 .. 2·slots − 1). */
  growSlots(slots: number): void {
    const grow = (a: Int32Array) => {
      const b = new Int32Array(slots * 2);
      b.set(a);
      return b;
    };
    this.head = grow(this.head);
    this.tail = grow(this.tail);
    this.n = grow(this.n);
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
    return this.n[key];
  }

  /** The sample's bytes from `offset` on came in a packet captured at `ms`. */
  add(key: number, offset: number, ms: number): void {
    const n = this.n[key];
    const cap = this.cap;
    if (n >= cap) return;
    const within = n % BLOCK;
    let blk: number;
    if (within === 0) {
      if (this.free === NIL) this.growBlocks(this.next.length * 2);
      blk = this.free;
      this.free = this.next[blk];
      this.next[blk] = NIL;
      if (n === 0) this.head[key] = blk;
      else this.next[this.tail[key]] = blk;
      this.tail[key] = blk;
    } else blk = this.tail[key];
    const e = blk * BLOCK + within;
    this.off[e] = offset;
    // The last entry the cap allows is written only when one more segment comes than it can
    // time: it says the bytes from here on arrived at times not kept.
    this.ms[e] = n === cap - 1 ? NaN : ms;
    this.n[key] = n + 1;
  }

  /** Pack the sample's entries into `out` at `at` (count(key) · 12 bytes). */
  write(key: number, out: DataView, at: number): void {
    const n = this.n[key];
    let blk = this.head[key];
    let o = at;
    for (let i = 0; i < n; i++) {
      const within = i % BLOCK;
      if (i > 0 && within === 0) blk = this.next[blk];
      const e = blk * BLOCK + within;
      out.setUint32(o, this.off[e], true);
      out.setFloat64(o + 4, this.ms[e], true);
      o += PAYLOAD_TIME_BYTES;
    }
  }

  /** Forget the sample; its blocks go back to the free list. */
  release(key: number): void {
    if (this.n[key] === 0) return;
    this.next[this.tail[key]] = this.free;
    this.free = this.head[key];
    this.n[key] = 0;
  }
}
