/**
 * The Thrift compact protocol, write side only, as much of it as a Parquet footer and page headers
 * need (https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md).
 * Structs are written field by field with increasing ids; `end()` closes one.
 */

/** Compact-protocol type codes. */
export const enum CT {
  True = 1,
  False = 2,
  I32 = 5,
  I64 = 6,
  Binary = 8,
  List = 9,
  Struct = 12,
}

const utf8 = new TextEncoder();

export class ThriftWriter {
  private buf = new Uint8Array(256);
  private len = 0;
  /** Last field id of each open struct. */
  private readonly last: number[] = [0];

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private byte(b: number): void {
    this.room(1);
    this.buf[this.len++] = b;
  }

  private varint(v: bigint | number): void {
    let x = BigInt(v);
    this.room(10);
    while (x >= 0x80n) {
      this.buf[this.len++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.buf[this.len++] = Number(x);
  }

  private zigzag(v: bigint | number): void {
    const x = BigInt(v);
    this.varint(x >= 0n ? x << 1n : (-x << 1n) - 1n);
  }

  private header(id: number, type: CT): void {
    const delta = id - this.last[this.last.length - 1];
    if (delta > 0 && delta <= 15) this.byte((delta << 4) | type);
    else {
      this.byte(type);
      this.zigzag(id);
    }
    this.last[this.last.length - 1] = id;
  }

  i32(id: number, v: number): this {
    this.header(id, CT.I32);
    this.zigzag(v);
    return this;
  }

  i64(id: number, v: number | bigint): this {
    this.header(id, CT.I64);
    this.zigzag(v);
    return this;
  }

  bool(id: number, v: boolean): this {
    this.header(id, v ? CT.True : CT.False);
    return this;
  }

  binary(id: number, v: Uint8Array | string): this {
    const bytes = typeof v === 'string' ? utf8.encode(v) : v;
    this.header(id, CT.Binary);
    this.varint(bytes.length);
    this.room(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
    return this;
  }

  /** Opens a struct field; its fields follow, then end(). */
  struct(id: number): this {
    this.header(id, CT.Struct);
    this.last.push(0);
    return this;
  }

  /** Closes the innermost struct (or a list element struct). */
  end(): this {
    this.byte(0);
    this.last.pop();
    return this;
  }

  private listHeader(id: number, size: number, elem: CT): void {
    this.header(id, CT.List);
    if (size < 15) this.byte((size << 4) | elem);
    else {
      this.byte(0xf0 | elem);
      this.varint(size);
    }
  }

  listI32(id: number, items: number[]): this {
    this.listHeader(id, items.length, CT.I32);
    for (const v of items) this.zigzag(v);
    return this;
  }

  listBinary(id: number, items: string[]): this {
    this.listHeader(id, items.length, CT.Binary);
    for (const s of items) {
      const bytes = utf8.encode(s);
      this.varint(bytes.length);
      this.room(bytes.length);
      this.buf.set(bytes, this.len);
      this.len += bytes.length;
    }
    return this;
  }

  /** A list of structs: `each` writes one element's fields (the element is closed for it). */
  listStruct<T>(id: number, items: T[], each: (w: this, item: T) => void): this {
    this.listHeader(id, items.length, CT.Struct);
    for (const it of items) {
      this.last.push(0);
      each(this, it);
      this.end();
    }
    return this;
  }

  /** The bytes written so far (a view; copy it before writing more). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}
