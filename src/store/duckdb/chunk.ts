/**
 * Column-wise filling of DuckDB data chunks from typed arrays. Each column is staged in JS memory in
 * DuckDB's own vector layout and copied into the chunk's vector with one native call, instead of
 * one call per cell (node-api's DuckDBVector.setItem/flush) — the difference between ~240 k and
 * ~500 k flows/s on the flow store (docs/benchmarks.md).
 *
 * Layouts used (DuckDB C API, little-endian): integers and doubles as themselves; BIGINT as two
 * 32-bit halves; UHUGEINT as {lower u64, upper u64}; VARCHAR and BLOB as duckdb_string_t (16 bytes:
 * u32 length, then up to 12 bytes inline, or a 4-byte prefix and a pointer into the vector's string
 * heap). NULLs: a column's validity mask, one bit per row (set = valid) in 64-bit words.
 */
import duckdb, { type DataChunk, type Vector } from '@duckdb/node-bindings';
import {
  DuckDBDataChunk,
  type DuckDBAppender,
  type DuckDBConnection,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';

/**
 * Close an appender (flushing its rows). When that fails (DuckDB out of memory), the rows it still
 * holds are dropped and the error thrown: an appender left open flushes them when it is destroyed,
 * into whatever transaction is open then — 2,048 detections of a commit interval that had been
 * rolled back were committed with a later one that way (docs/benchmarks.md).
 */
export function closeAppender(a: DuckDBAppender): void {
  try {
    a.closeSync();
  } catch (e) {
    discardAppender(a);
    throw e;
  }
}

/** Drop what an appender holds and close it; it cannot fail (a rollback discards the rest). */
export function discardAppender(a: DuckDBAppender): void {
  try {
    a.clear();
    a.closeSync();
  } catch {
    // already closed, or its connection gone: nothing left to flush
  }
}

/** DuckDB's vector size: a data chunk holds at most this many rows. */
export const CHUNK_ROWS = 2048;

const INLINE_MAX = 12;
const TWO32 = 4294967296;
const utf8 = new TextEncoder();

/** One VARCHAR column being staged: short strings inline, longer ones through the vector's heap. */
class StringColumn {
  readonly slots: Uint8Array<ArrayBuffer> = new Uint8Array(CHUNK_ROWS * 16);
  /** Inline 16-byte forms of strings seen so far (null: too long to inline). */
  private readonly inline = new Map<string, Uint8Array | null>();
  /** Long strings of the current chunk → rows that hold them. */
  private long = new Map<string, number[]>();

  set(row: number, s: string): void {
    let form = this.inline.get(s);
    if (form === undefined) {
      const bytes = utf8.encode(s);
      if (bytes.length <= INLINE_MAX) {
        form = new Uint8Array(16);
        new DataView(form.buffer).setUint32(0, bytes.length, true);
        form.set(bytes, 4);
      } else form = null;
      if (this.inline.size < 4096) this.inline.set(s, form);
    }
    if (form) this.slots.set(form, row * 16);
    else {
      const rows = this.long.get(s);
      if (rows) rows.push(row);
      else this.long.set(s, [row]);
    }
  }

  /** Long strings are written once per chunk into the vector's heap; every row holding the same
   * string gets a copy of that string_t (same pointer), then the whole column is copied in. */
  copyTo(vector: Vector, rows: number): void {
    for (const [s, at] of this.long) {
      duckdb.vector_assign_string_element(vector, at[0], s);
      const data = duckdb.vector_get_data(vector, (at[0] + 1) * 16);
      const form = data.subarray(at[0] * 16, at[0] * 16 + 16);
      for (const r of at) this.slots.set(form, r * 16);
    }
    this.long = new Map();
    duckdb.copy_data_to_vector(vector, 0, this.slots.buffer, 0, rows * 16);
  }
}

/**
 * A VARCHAR or BLOB column whose values are mostly distinct (hashes, addresses): the bytes of all of
 * a chunk's long values are staged back to back and written into the vector's string heap as one
 * string with one native call; each row's string_t then points into that heap string. Short values
 * (≤ 12 bytes) are inlined in the row's slot as DuckDB does.
 */
export class HeapColumn {
  readonly slots: Uint8Array<ArrayBuffer> = new Uint8Array(CHUNK_ROWS * 16);
  private readonly view = new DataView(this.slots.buffer);
  /** Staged bytes of long values; grows, so read it after `reserve`. */
  heap: Uint8Array<ArrayBuffer> = new Uint8Array(1 << 16);
  private used = 0;
  private readonly longRow = new Int32Array(CHUNK_ROWS);
  private readonly longAt = new Int32Array(CHUNK_ROWS);
  private longs = 0;
  private pending = -1;

  /** Room for a `len`-byte value at `row`: returns the offset in `heap` to write it at. The value
   * is taken when the next value is set or the column is copied out. */
  reserve(row: number, len: number): number {
    this.settle();
    const at = this.alloc(len);
    this.view.setUint32(row * 16, len, true);
    this.pending = row;
    this.longAt[this.longs] = at;
    return at;
  }

  private alloc(len: number): number {
    if (this.used + len > this.heap.length) {
      const h = new Uint8Array(Math.max(this.heap.length * 2, this.used + len));
      h.set(this.heap.subarray(0, this.used));
      this.heap = h;
    }
    const at = this.used;
    this.used += len;
    return at;
  }

  /** Inline a reserved value that turned out short, or record where a long one sits. */
  private settle(): void {
    const row = this.pending;
    if (row < 0) return;
    this.pending = -1;
    const at = this.longAt[this.longs];
    const len = this.view.getUint32(row * 16, true);
    if (len <= INLINE_MAX) {
      this.slots.fill(0, row * 16 + 4, row * 16 + 16);
      this.slots.set(this.heap.subarray(at, at + len), row * 16 + 4);
      this.used = at;
      return;
    }
    this.slots.set(this.heap.subarray(at, at + 4), row * 16 + 4);
    this.longRow[this.longs++] = row;
  }

  setBytes(row: number, src: Uint8Array, off = 0, len = src.length - off): void {
    const at = this.reserve(row, len);
    this.heap.set(src.subarray(off, off + len), at);
  }

  /**
   * Rows 0 .. rows-1 from values stored back to back: value k is bytes[starts[first + k] ..
   * starts[first + k + 1]). One copy into the heap for all of them.
   */
  setMany(bytes: Uint8Array, starts: ArrayLike<number>, first: number, rows: number): void {
    this.settle();
    const s0 = starts[first];
    const total = starts[first + rows] - s0;
    const base = this.alloc(total);
    this.heap.set(bytes.subarray(s0, s0 + total), base);
    const slots = this.slots;
    for (let k = 0; k < rows; k++) {
      const a = starts[first + k];
      const len = starts[first + k + 1] - a;
      const o = k * 16;
      this.view.setUint32(o, len, true);
      if (len <= INLINE_MAX) {
        for (let i = 0; i < INLINE_MAX; i++) slots[o + 4 + i] = i < len ? bytes[a + i] : 0;
      } else {
        for (let i = 0; i < 4; i++) slots[o + 4 + i] = bytes[a + i];
        this.longRow[this.longs] = k;
        this.longAt[this.longs++] = base + a - s0;
      }
    }
  }

  /** A string as UTF-8 (for VARCHAR). */
  set(row: number, s: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const at = this.reserve(row, s.length * 3);
    const n = utf8.encodeInto(s, this.heap.subarray(at)).written;
    this.used = at + n;
    this.view.setUint32(row * 16, n, true);
  }

  clear(row: number): void {
    this.settle();
    this.slots.fill(0, row * 16, row * 16 + 16);
  }

  copyTo(vector: Vector, rows: number): void {
    this.settle();
    if (this.longs > 0) {
      const r0 = this.longRow[0];
      duckdb.vector_assign_string_element_len(vector, r0, this.heap.subarray(0, this.used));
      const data = duckdb.vector_get_data(vector, (r0 + 1) * 16);
      const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
      const lo = dv.getUint32(r0 * 16 + 8, true);
      const hi = dv.getUint32(r0 * 16 + 12, true);
      for (let k = 0; k < this.longs; k++) {
        const o = this.longRow[k] * 16;
        const p = lo + this.longAt[k];
        this.view.setUint32(o + 8, p >>> 0, true);
        this.view.setUint32(o + 12, hi + (p >= TWO32 ? 1 : 0), true);
      }
    }
    duckdb.copy_data_to_vector(vector, 0, this.slots.buffer, 0, rows * 16);
    this.used = 0;
    this.longs = 0;
  }
}

/** Kinds of staged column, named by their DuckDB type (VARCHAR_HEAP: a VARCHAR staged as a
 * HeapColumn, for mostly distinct values). */
export type ColumnKind =
  | 'BIGINT'
  | 'INTEGER'
  | 'UINTEGER'
  | 'USMALLINT'
  | 'UTINYINT'
  | 'DOUBLE'
  | 'UHUGEINT'
  | 'UBIGINT'
  | 'VARCHAR'
  | 'VARCHAR_HEAP'
  | 'BLOB';

type FixedKind = Exclude<ColumnKind, 'VARCHAR' | 'VARCHAR_HEAP' | 'BLOB'>;
const isHeap = (k: ColumnKind) => k === 'VARCHAR_HEAP' || k === 'BLOB';

const WIDTH: Record<FixedKind, number> = {
  BIGINT: 8,
  INTEGER: 4,
  UINTEGER: 4,
  USMALLINT: 2,
  UTINYINT: 1,
  DOUBLE: 8,
  UHUGEINT: 16,
  UBIGINT: 8,
};

/**
 * A reusable data chunk with staging buffers for a fixed list of columns. Fill the staging arrays
 * for `rows` rows (`setNull` for a NULL: every row is valid unless marked), then `append(appender)`.
 */
export class StagedChunk {
  private readonly chunk: DuckDBDataChunk;
  private readonly raw: DataChunk;
  private readonly bytes: (Uint8Array<ArrayBuffer> | null)[];
  private readonly strings: (StringColumn | null)[];
  private readonly heaps: (HeapColumn | null)[];
  /** Per column: validity bits of the chunk being staged, once a NULL was set (else null). */
  private readonly validity: (Uint8Array<ArrayBuffer> | null)[];
  private readonly hasNull: boolean[];

  constructor(
    types: DuckDBType[],
    private readonly kinds: ColumnKind[],
  ) {
    if (types.length !== kinds.length) throw new Error('one kind per column type');
    this.chunk = DuckDBDataChunk.create(types);
    this.raw = (this.chunk as unknown as { chunk: DataChunk }).chunk;
    this.bytes = kinds.map((k) =>
      k === 'VARCHAR' || isHeap(k) ? null : new Uint8Array(CHUNK_ROWS * WIDTH[k as FixedKind]),
    );
    this.strings = kinds.map((k) => (k === 'VARCHAR' ? new StringColumn() : null));
    this.heaps = kinds.map((k) => (isHeap(k) ? new HeapColumn() : null));
    this.validity = kinds.map(() => null);
    this.hasNull = kinds.map(() => false);
  }

  private col(c: number, kind: ColumnKind): Uint8Array<ArrayBuffer> {
    if (this.kinds[c] !== kind) throw new Error(`column ${c} is ${this.kinds[c]}, not ${kind}`);
    return this.bytes[c]!;
  }

  f64(c: number): Float64Array {
    return new Float64Array(this.col(c, 'DOUBLE').buffer);
  }
  u32(c: number): Uint32Array {
    return new Uint32Array(this.col(c, 'UINTEGER').buffer);
  }
  i32(c: number): Int32Array {
    return new Int32Array(this.col(c, 'INTEGER').buffer);
  }
  u16(c: number): Uint16Array {
    return new Uint16Array(this.col(c, 'USMALLINT').buffer);
  }
  u8(c: number): Uint8Array {
    return this.col(c, 'UTINYINT');
  }
  /** BIGINT as (low, high) 32-bit pairs; see `setInt64`. */
  i64(c: number): Int32Array {
    return new Int32Array(this.col(c, 'BIGINT').buffer);
  }
  /** UHUGEINT as 16 little-endian bytes per row. */
  u128(c: number): Uint8Array {
    return this.col(c, 'UHUGEINT');
  }
  /** UBIGINT as 8 little-endian bytes per row. */
  u64(c: number): Uint8Array {
    return this.col(c, 'UBIGINT');
  }
  varchar(c: number): StringColumn {
    if (this.kinds[c] !== 'VARCHAR') throw new Error(`column ${c} is ${this.kinds[c]}, not VARCHAR`);
    return this.strings[c]!;
  }
  /** A VARCHAR_HEAP or BLOB column. */
  heap(c: number): HeapColumn {
    const h = this.heaps[c];
    if (!h) throw new Error(`column ${c} is ${this.kinds[c]}, not VARCHAR_HEAP or BLOB`);
    return h;
  }

  /** Mark `row` of column `c` NULL in the chunk being staged (whatever its staged value). */
  setNull(c: number, row: number): void {
    let v = this.validity[c];
    if (!v) v = this.validity[c] = new Uint8Array(CHUNK_ROWS / 8).fill(0xff);
    v[row >> 3] &= ~(1 << (row & 7));
    this.hasNull[c] = true;
    this.heaps[c]?.clear(row);
    this.strings[c]?.set(row, '');
  }

  /** Hand the first `rows` staged rows to the appender. */
  append(appender: { appendDataChunk(chunk: DuckDBDataChunk): void }, rows: number): void {
    if (rows > CHUNK_ROWS) throw new Error(`a data chunk holds at most ${CHUNK_ROWS} rows`);
    this.chunk.reset();
    this.chunk.rowCount = rows;
    for (let c = 0; c < this.kinds.length; c++) {
      const vector = duckdb.data_chunk_get_vector(this.raw, c);
      const s = this.strings[c];
      const h = this.heaps[c];
      if (s) s.copyTo(vector, rows);
      else if (h) h.copyTo(vector, rows);
      else {
        const b = this.bytes[c]!;
        duckdb.copy_data_to_vector(vector, 0, b.buffer, 0, rows * WIDTH[this.kinds[c] as FixedKind]);
      }
      if (this.hasNull[c]) {
        // reset() left every row valid; only a column with NULLs in this chunk writes its mask.
        const v = this.validity[c]!;
        duckdb.vector_ensure_validity_writable(vector);
        duckdb.copy_data_to_vector_validity(vector, 0, v.buffer, 0, Math.ceil(rows / 64) * 8);
        v.fill(0xff);
        this.hasNull[c] = false;
      }
    }
    appender.appendDataChunk(this.chunk);
  }
}

/** Write an integer-valued number (|x| < 2^53) as BIGINT at `row` of a staged BIGINT column. */
export function setInt64(col: Int32Array, row: number, x: number): void {
  const hi = Math.floor(x / TWO32);
  col[row * 2] = x - hi * TWO32;
  col[row * 2 + 1] = hi;
}

/** Kinds of column `readColumns` reads: INTEGER into an Int32Array, BIGINT into a Float64Array. */
export type ReadKind = 'INTEGER' | 'BIGINT';

/**
 * The columns of a query's result as typed arrays, read a data chunk at a time with one native
 * copy per column (the mirror of StagedChunk: no JS object per row). Every column must be NOT NULL
 * (coalesce in the query); BIGINT values must fit 2^53.
 */
export async function readColumns(
  conn: DuckDBConnection,
  sql: string,
  kinds: ReadKind[],
  params?: DuckDBValue[],
): Promise<(Int32Array | Float64Array)[]> {
  const result = await conn.stream(sql, params);
  if (result.columnCount !== kinds.length)
    throw new Error(`query has ${result.columnCount} columns, not ${kinds.length}`);
  const parts: Uint8Array[][] = kinds.map(() => []);
  let rows = 0;
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const n = chunk.rowCount;
    for (let c = 0; c < kinds.length; c++) {
      const vector = duckdb.data_chunk_get_vector(chunk.chunk, c);
      const validity = duckdb.vector_get_validity(vector, Math.ceil(n / 64) * 8);
      if (validity) {
        for (let r = 0; r < n; r++)
          if (!(validity[r >> 3] & (1 << (r & 7)))) throw new Error(`column ${c} of ${sql} has a NULL`);
      }
      parts[c].push(duckdb.vector_get_data(vector, n * (kinds[c] === 'BIGINT' ? 8 : 4)).slice());
    }
    rows += n;
  }
  return kinds.map((k, c) => {
    if (k === 'INTEGER') {
      const out = new Int32Array(rows);
      let at = 0;
      for (const p of parts[c]) {
        out.set(new Int32Array(p.buffer, p.byteOffset, p.length / 4), at);
        at += p.length / 4;
      }
      return out;
    }
    const out = new Float64Array(rows);
    let at = 0;
    for (const p of parts[c]) {
      const w = new Int32Array(p.buffer, p.byteOffset, p.length / 4);
      for (let i = 0; i < w.length; i += 2) out[at++] = w[i + 1] * TWO32 + (w[i] >>> 0);
    }
    return out;
  });
}
