/**
 * Growable typed-array columns for bulk rows handed to a store (the chain index writes millions of
 * rows between flushes). Rows live in typed arrays and one byte arena per text column, so a batch
 * held until the next flush is a handful of objects for the garbage collector, not one per value.
 */

type NumberArray = Int32Array | Float64Array | Uint8Array;

/** Numbers in a typed array (Float64Array for values and ids past 2^31, Int32Array, Uint8Array). */
export class NumberColumn<A extends NumberArray = NumberArray> {
  length = 0;
  constructor(public data: A) {}

  push(v: number): void {
    if (this.length === this.data.length) {
      const d = new (this.data.constructor as new (n: number) => A)(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    this.data[this.length++] = v;
  }

  clear(): void {
    this.length = 0;
  }
}

export const int32Column = (): NumberColumn<Int32Array> => new NumberColumn(new Int32Array(1024));
export const float64Column = (): NumberColumn<Float64Array> => new NumberColumn(new Float64Array(1024));
export const uint8Column = (): NumberColumn<Uint8Array> => new NumberColumn(new Uint8Array(1024));

const utf8 = new TextEncoder();

/** UTF-8 text values back to back: row i is bytes[starts[i] .. starts[i + 1]). */
export class TextColumn {
  bytes: Uint8Array = new Uint8Array(1 << 16);
  starts: Int32Array = new Int32Array(1024);
  length = 0;

  /** Room for up to `max` bytes of the next row: write them at the returned offset of `bytes`,
   * then `commit` how many were written. */
  reserve(max: number): number {
    const at = this.starts[this.length];
    if (at + max > this.bytes.length) {
      const b = new Uint8Array(Math.max(this.bytes.length * 2, at + max));
      b.set(this.bytes.subarray(0, at));
      this.bytes = b;
    }
    return at;
  }

  commit(written: number): void {
    if (this.length + 1 === this.starts.length) {
      const s = new Int32Array(this.starts.length * 2);
      s.set(this.starts);
      this.starts = s;
    }
    this.starts[this.length + 1] = this.starts[this.length] + written;
    this.length++;
  }

  push(s: string): void {
    const at = this.reserve(s.length * 3);
    this.commit(utf8.encodeInto(s, this.bytes.subarray(at)).written);
  }

  /** Row i as a string (tests, small lookups). */
  get(i: number): string {
    return Buffer.from(
      this.bytes.buffer,
      this.bytes.byteOffset + this.starts[i],
      this.starts[i + 1] - this.starts[i],
    ).toString('utf8');
  }

  clear(): void {
    this.length = 0;
  }
}
