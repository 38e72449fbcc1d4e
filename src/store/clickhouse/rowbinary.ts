/**
 * RowBinary rows built straight into a Buffer: fixed-width little-endian numbers, FixedString as
 * its bytes, String as a LEB128 length and its bytes. No escaping on our side and no text parsing
 * on the server's; 18.16 accepts it over HTTP (chDB's insert takes only text formats: tsv.ts).
 */
import { RowsBuffer } from './rows-buffer.js';

export class RowBinaryBuilder extends RowsBuffer {
  constructor() {
    super(1 << 20);
  }

  u8(n: number): this {
    this.room(1);
    this.buf[this.pos++] = n;
    return this;
  }

  u16(n: number): this {
    this.room(2);
    this.view.setUint16(this.pos, n, true);
    this.pos += 2;
    return this;
  }

  u32(n: number): this {
    this.room(4);
    this.view.setUint32(this.pos, n, true);
    this.pos += 4;
    return this;
  }

  /** A whole number below 2^53 as UInt64 or Int64 (two's complement for negatives). */
  i64(n: number): this {
    this.room(8);
    const lo = n % 4294967296;
    const hi = Math.floor(n / 4294967296);
    this.view.setUint32(this.pos, lo < 0 ? lo + 4294967296 : lo, true);
    this.view.setInt32(this.pos + 4, hi, true);
    this.pos += 8;
    return this;
  }

  f64(n: number): this {
    this.room(8);
    this.view.setFloat64(this.pos, n, true);
    this.pos += 8;
    return this;
  }

  /** FixedString(len): the bytes as they are. */
  fixed(b: Uint8Array, from: number, len: number): this {
    this.room(len);
    this.buf.set(b.subarray(from, from + len), this.pos);
    this.pos += len;
    return this;
  }

  str(s: string): this {
    let e = this.cache.get(s);
    if (!e) {
      const bytes = Buffer.from(s, 'utf8');
      const head: number[] = [];
      let n = bytes.length;
      do {
        head.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
        n >>>= 7;
      } while (n > 0);
      e = Buffer.concat([Buffer.from(head), bytes]);
      if (s.length <= 64 && this.cache.size < 10_000) this.cache.set(s, e);
    }
    this.raw(e);
    return this;
  }
}
