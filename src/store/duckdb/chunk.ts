/**
 * Column-wise filling of DuckDB data chunks from typed arrays. Each column is staged in JS memory in
 * DuckDB's own vector layout and copied into the chunk's vector with one native call, instead of
 * one call per cell (node-api's DuckDBVector.setItem/flush) — the difference between ~240 k and
 * ~500 k flows/s on the flow store (docs/benchmarks.md).
 *
 * Layouts used (DuckDB C API, little-endian): integers and doubles as themselves; BIGINT as two
 * 32-bit halves; UHUGEINT as {lower u64, upper u64}; VARCHAR as duckdb_string_t (16 bytes: u32
 * length, then up to 12 bytes inline, or a 4-byte prefix and a pointer into the vector's string heap).
 */
import duckdb, { type DataChunk, type Vector } from '@duckdb/node-bindings';
import { DuckDBDataChunk, type DuckDBType } from '@duckdb/node-api';

/** DuckDB's vector size: a data chunk holds at most this many rows. */
export const CHUNK_ROWS = 2048;

const INLINE_MAX = 12;
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

/** Kinds of staged column, named by their DuckDB type. */
export type ColumnKind =
  'BIGINT' | 'INTEGER' | 'UINTEGER' | 'USMALLINT' | 'UTINYINT' | 'DOUBLE' | 'UHUGEINT' | 'VARCHAR';

const WIDTH: Record<Exclude<ColumnKind, 'VARCHAR'>, number> = {
  BIGINT: 8,
  INTEGER: 4,
  UINTEGER: 4,
  USMALLINT: 2,
  UTINYINT: 1,
  DOUBLE: 8,
  UHUGEINT: 16,
};

/**
 * A reusable data chunk with staging buffers for a fixed list of columns (all NOT NULL). Fill the
 * staging arrays for `rows` rows, then `append(appender)`.
 */
export class StagedChunk {
  private readonly chunk: DuckDBDataChunk;
  private readonly raw: DataChunk;
  private readonly bytes: (Uint8Array<ArrayBuffer> | null)[];
  private readonly strings: (StringColumn | null)[];

  constructor(
    types: DuckDBType[],
    private readonly kinds: ColumnKind[],
  ) {
    if (types.length !== kinds.length) throw new Error('one kind per column type');
    this.chunk = DuckDBDataChunk.create(types);
    this.raw = (this.chunk as unknown as { chunk: DataChunk }).chunk;
    this.bytes = kinds.map((k) => (k === 'VARCHAR' ? null : new Uint8Array(CHUNK_ROWS * WIDTH[k])));
    this.strings = kinds.map((k) => (k === 'VARCHAR' ? new StringColumn() : null));
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
  varchar(c: number): StringColumn {
    if (this.kinds[c] !== 'VARCHAR') throw new Error(`column ${c} is ${this.kinds[c]}, not VARCHAR`);
    return this.strings[c]!;
  }

  /** Hand the first `rows` staged rows to the appender. */
  append(appender: { appendDataChunk(chunk: DuckDBDataChunk): void }, rows: number): void {
    if (rows > CHUNK_ROWS) throw new Error(`a data chunk holds at most ${CHUNK_ROWS} rows`);
    this.chunk.reset();
    this.chunk.rowCount = rows;
    for (let c = 0; c < this.kinds.length; c++) {
      const vector = duckdb.data_chunk_get_vector(this.raw, c);
      const s = this.strings[c];
      if (s) s.copyTo(vector, rows);
      else {
        const b = this.bytes[c]!;
        duckdb.copy_data_to_vector(vector, 0, b.buffer, 0, rows * WIDTH[this.kinds[c] as 'BIGINT']);
      }
    }
    appender.appendDataChunk(this.chunk);
  }
}

const TWO32 = 4294967296;

/** Write an integer-valued number (|x| < 2^53) as BIGINT at `row` of a staged BIGINT column. */
export function setInt64(col: Int32Array, row: number, x: number): void {
  const hi = Math.floor(x / TWO32);
  col[row * 2] = x - hi * TWO32;
  col[row * 2 + 1] = hi;
}
