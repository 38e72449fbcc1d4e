/**
 * A hash map from byte strings (txids, address payloads) to integer ids, kept in typed arrays:
 * open addressing over an Int32Array of slots, keys copied into one growable byte arena. Millions
 * of entries cost a few tens of bytes each and no JS objects, so the garbage collector does not
 * rescan them (a Map with string keys made index building superlinear past ~10^6 transactions).
 */
export class BytesMap {
  private slots: Int32Array = new Int32Array(1 << 16).fill(-1);
  private mask = (1 << 16) - 1;
  private keyOff: Float64Array = new Float64Array(1 << 15);
  private keyLen: Uint16Array = new Uint16Array(1 << 15);
  private values: Int32Array = new Int32Array(1 << 15);
  private arena: Uint8Array = new Uint8Array(1 << 20);
  private arenaLen = 0;
  size = 0;

  private static hash(b: Uint8Array, o: number, n: number, tag: number): number {
    let h = (0x811c9dc5 ^ tag) | 0;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ b[o + i], 0x01000193);
    return (h ^ (h >>> 15)) >>> 0;
  }

  private equals(e: number, b: Uint8Array, o: number, n: number, tag: number): boolean {
    if (this.keyLen[e] !== n + 1) return false;
    const a = this.arena;
    let p = this.keyOff[e];
    if (a[p++] !== tag) return false;
    for (let i = 0; i < n; i++) if (a[p + i] !== b[o + i]) return false;
    return true;
  }

  /** The id stored for bytes b[o..o+n) under `tag` (e.g. a script type), or -1. */
  get(b: Uint8Array, o: number, n: number, tag = 0): number {
    let s = BytesMap.hash(b, o, n, tag) & this.mask;
    for (;;) {
      const e = this.slots[s];
      if (e < 0) return -1;
      if (this.equals(e, b, o, n, tag)) return this.values[e];
      s = (s + 1) & this.mask;
    }
  }

  /** Store an id for a key known to be absent. */
  set(b: Uint8Array, o: number, n: number, value: number, tag = 0): void {
    if ((this.size + 1) * 2 > this.slots.length) this.rehash();
    const e = this.size++;
    if (e >= this.values.length) {
      const grow = <T extends Float64Array | Uint16Array | Int32Array>(x: T): T => {
        const y = new (x.constructor as new (n: number) => T)(x.length * 2);
        y.set(x);
        return y;
      };
      this.keyOff = grow(this.keyOff);
      this.keyLen = grow(this.keyLen);
      this.values = grow(this.values);
    }
    if (this.arenaLen + n + 1 > this.arena.length) {
      const a = new Uint8Array(Math.max(this.arena.length * 2, this.arenaLen + n + 1));
      a.set(this.arena.subarray(0, this.arenaLen));
      this.arena = a;
    }
    this.keyOff[e] = this.arenaLen;
    this.keyLen[e] = n + 1;
    this.arena[this.arenaLen++] = tag;
    this.arena.set(b.subarray(o, o + n), this.arenaLen);
    this.arenaLen += n;
    this.values[e] = value;
    this.place(e, BytesMap.hash(b, o, n, tag));
  }

  private place(e: number, h: number): void {
    let s = h & this.mask;
    while (this.slots[s] >= 0) s = (s + 1) & this.mask;
    this.slots[s] = e;
  }

  private rehash(): void {
    const n = this.slots.length * 2;
    this.slots = new Int32Array(n).fill(-1);
    this.mask = n - 1;
    for (let e = 0; e < this.size; e++) {
      const p = this.keyOff[e];
      this.place(e, BytesMap.hash(this.arena, p + 1, this.keyLen[e] - 1, this.arena[p]));
    }
  }

  /** Bytes held (slots, entries, arena). */
  get bytes(): number {
    return (
      this.slots.byteLength +
      this.keyOff.byteLength +
      this.keyLen.byteLength +
      this.values.byteLength +
      this.arena.byteLength
    );
  }
}
