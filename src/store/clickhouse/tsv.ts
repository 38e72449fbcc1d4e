/**
 * TabSeparated rows built straight into a Buffer: the insert format every ClickHouse release and
 * chDB accept (18.16 has no JSONCompactEachRow; chDB inserts only text formats). Numbers as
 * decimal text, strings and raw bytes with TSV's escapes (backslash, tab, newline, carriage
 * return); NULL as \N. One growing buffer per batch, no object per row.
 */
import { RowsBuffer } from './rows-buffer.js';

const TAB = 9;
const NL = 10;
const BACKSLASH = 92;

export class TsvBuilder extends RowsBuffer {
  constructor() {
    super(1 << 16);
  }

  /** A field separator (after every field but the row's last). */
  tab(): this {
    this.room(1);
    this.buf[this.pos++] = TAB;
    return this;
  }

  end(): this {
    this.room(1);
    this.buf[this.pos++] = NL;
    return this;
  }

  num(n: number): this {
    const s = Number.isInteger(n) && Math.abs(n) < 1e21 ? n.toFixed(0) : String(n);
    this.room(s.length);
    this.pos += this.buf.write(s, this.pos, 'latin1');
    return this;
  }

  null(): this {
    this.room(2);
    this.buf[this.pos++] = BACKSLASH;
    this.buf[this.pos++] = 78; // N
    return this;
  }

  /** Raw bytes, escaped (a FixedString or a binary String). */
  bytes(b: Uint8Array, from = 0, len = b.length - from): this {
    this.room(len * 2);
    const out = this.buf;
    let p = this.pos;
    for (let i = from; i < from + len; i++) {
      const c = b[i];
      if (c === BACKSLASH || c === TAB || c === NL || c === 13 || c === 0) {
        out[p++] = BACKSLASH;
        out[p++] = c === BACKSLASH ? BACKSLASH : c === TAB ? 116 : c === NL ? 110 : c === 13 ? 114 : 48;
      } else out[p++] = c;
    }
    this.pos = p;
    return this;
  }

  /** A string as UTF-8, escaped; short strings are cached (they repeat). */
  str(s: string): this {
    if (s.length <= 64) {
      let e = this.cache.get(s);
      if (!e) {
        const t = new TsvBuilder();
        t.bytes(Buffer.from(s, 'utf8'));
        e = Buffer.from(t.take());
        if (this.cache.size < 10_000) this.cache.set(s, e);
      }
      this.raw(e);
      return this;
    }
    return this.bytes(Buffer.from(s, 'utf8'));
  }
}
