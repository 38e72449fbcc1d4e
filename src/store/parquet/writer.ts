/**
 * A small Parquet writer for the collector's segments: one row group, one page per column, no
 * compression, REQUIRED columns only. Fixed-width columns are written PLAIN straight from their
 * little-endian bytes (a copy, nothing per row), or dictionary-coded when they hold few distinct
 * values (a constant column costs a few bytes); strings as a dictionary page plus RLE-coded
 * indices (country codes, exporters and watchlist names repeat); ids and times, which move in
 * small steps, DELTA_BINARY_PACKED. Fewer bytes is less CPU here: the kernel's copy of a file
 * into the page cache cost more per byte than encoding it (docs/benchmarks.md). INT64 columns
 * carry min/max statistics so a time filter skips whole files. Made to be read by DuckDB's
 * `read_parquet` (and any Parquet reader); the format: https://github.com/apache/parquet-format.
 */
import { closeSync, fdatasyncSync, openSync, writevSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { ThriftWriter } from './thrift.js';

/** parquet.thrift Type. */
const enum PType {
  INT32 = 1,
  INT64 = 2,
  DOUBLE = 5,
  BYTE_ARRAY = 6,
}

/** parquet.thrift ConvertedType values used here. */
export const enum Converted {
  UTF8 = 0,
  UINT_8 = 11,
  UINT_16 = 12,
  UINT_32 = 13,
  UINT_64 = 14,
}

const enum Encoding {
  PLAIN = 0,
  RLE = 3,
  DELTA_BINARY_PACKED = 5,
  RLE_DICTIONARY = 8,
}

export type ParquetColumn =
  | {
      name: string;
      kind: 'int32' | 'int64' | 'double';
      converted?: Converted;
      /** rows × 4 (int32) or 8 bytes, little-endian. */
      data: Uint8Array;
      /** min and max for the statistics (int64 columns). */
      stats?: { min: bigint; max: bigint };
      /**
       * Try a dictionary (few distinct values: flags, protocols, exporters' ids, ASNs, counters);
       * a number: the most distinct values to allow (default MAX_DICT).
       */
      dict?: boolean | number;
    }
  | {
      /**
       * INT64 values given as integral doubles (|v| < 2^53; rounded), DELTA_BINARY_PACKED: ids and
       * times, where neighbours differ by little. PLAIN when neighbours differ by 2^32 or more.
       */
      name: string;
      kind: 'int64-delta';
      converted?: Converted;
      values: Float64Array;
      stats?: { min: bigint; max: bigint };
    }
  | {
      name: string;
      kind: 'string';
      /** Distinct values; row i holds dict[indices[i]]. */
      dict: string[];
      indices: Uint32Array;
    };

const utf8 = new TextEncoder();

function i64le(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, v, true);
  return b;
}

function pageHeader(type: 0 | 2, size: number, values: number, encoding: Encoding): Uint8Array {
  const w = new ThriftWriter().i32(1, type).i32(2, size).i32(3, size);
  if (type === 0) w.struct(5).i32(1, values).i32(2, encoding).i32(3, Encoding.RLE).i32(4, Encoding.RLE).end();
  else w.struct(7).i32(1, values).i32(2, Encoding.PLAIN).end();
  w.end();
  return w.bytes().slice();
}

/** PLAIN BYTE_ARRAY values: each a u32 little-endian length, then its bytes. */
function plainStrings(values: string[]): Uint8Array {
  const parts = values.map((s) => utf8.encode(s));
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0));
  const dv = new DataView(out.buffer);
  let o = 0;
  for (const p of parts) {
    dv.setUint32(o, p.length, true);
    out.set(p, o + 4);
    o += 4 + p.length;
  }
  return out;
}

/** A growable byte buffer for the encoders. */
class Bytes {
  buf: Uint8Array;
  len = 0;
  constructor(size = 1024) {
    this.buf = new Uint8Array(size);
  }
  room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  varint(v: number): void {
    this.room(5);
    while (v >= 0x80) {
      this.buf[this.len++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.len++] = v;
  }
  /** A signed integer (|v| < 2^52) as a zigzag varint. */
  zigzag(v: number): void {
    this.varint(v >= 0 ? 2 * v : -2 * v - 1);
  }
}

/** Runs at least this long are RLE-coded; shorter stretches are bit-packed. */
const MIN_RUN = 16;

/**
 * Dictionary indices as the RLE/bit-packed hybrid: one byte of bit width, then RLE runs (varint
 * length << 1, the value in ceil(width / 8) bytes) for long runs of one index, bit-packed groups of
 * 8 (varint groups << 1 | 1, then width bytes per group, LSB first) in between.
 */
export function hybridIndices(indices: Uint32Array, dictSize: number): Uint8Array {
  const width = 32 - Math.clz32(Math.max(1, dictSize - 1));
  const vb = (width + 7) >> 3;
  const n = indices.length;
  // Room for every value bit-packed and some runs: one allocation in the common case.
  const out = new Bytes(((n * width) >> 3) + 1024);
  out.buf[out.len++] = width;
  const packed = (from: number, to: number) => {
    // [from, to) as groups of 8, the last one padded with zeros (readers stop at num_values).
    const groups = Math.ceil((to - from) / 8);
    if (groups === 0) return;
    out.varint(groups * 2 + 1);
    out.room(groups * width);
    let acc = 0;
    let bits = 0;
    for (let i = from; i < from + groups * 8; i++) {
      const v = i < to ? indices[i] : 0;
      // acc holds at most 7 pending bits plus a value of up to 24 bits here (width ≤ 24 by the cap).
      acc |= v << bits;
      bits += width;
      while (bits >= 8) {
        out.buf[out.len++] = acc & 0xff;
        acc >>>= 8;
        bits -= 8;
      }
    }
  };
  let lit = 0; // start of the pending literal stretch
  let i = 0;
  while (i < n) {
    const v = indices[i];
    let j = i + 1;
    while (j < n && indices[j] === v) j++;
    if (j - i >= MIN_RUN) {
      // Literals before the run must fill whole groups of 8: borrow the run's first values.
      const start = lit + Math.ceil((i - lit) / 8) * 8;
      packed(lit, start);
      if (j - start > 0) {
        out.varint((j - start) * 2);
        out.room(vb);
        for (let k = 0; k < vb; k++) out.buf[out.len++] = (v >>> (8 * k)) & 0xff;
      }
      lit = j;
    }
    i = j;
  }
  packed(lit, n);
  return out.buf.subarray(0, out.len);
}

/**
 * Most distinct values a numeric column is dictionary-coded with (else PLAIN): past a few
 * thousand, indices of 12+ bits save little over the values and the dictionary costs its own page.
 */
const MAX_DICT = 4096;

/** Index of each value below 2^16 seen so far (-1: not yet), reused across columns. */
const small = new Int32Array(65536).fill(-1);

/** Dictionary indices of the column being written, reused: they live until its page is encoded. */
let scratch = new Uint32Array(0);

/**
 * Dictionary-codes a numeric column given as little-endian bytes (4 or 8 per value; `float`:
 * doubles) when it has at most `max` distinct values: returns the dictionary (PLAIN values) and
 * one index per row (valid until the next call), or null.
 */
function numericDict(
  data: Uint8Array,
  width: 4 | 8,
  rows: number,
  float: boolean,
  max: number,
): { dict: Uint8Array; indices: Uint32Array } | null {
  const u32 = new Uint32Array(data.buffer, data.byteOffset, (rows * width) / 4);
  const per = width / 4;
  // A constant column (a source id, IPv4's upper address half, reverse counters of one-way
  // NetFlow): one value, one run, no map.
  const a = u32[0];
  const b = per === 2 ? u32[1] : 0;
  let r = 1;
  if (per === 1) while (r < rows && u32[r] === a) r++;
  else while (r < rows && u32[2 * r] === a && u32[2 * r + 1] === b) r++;
  if (scratch.length < rows) scratch = new Uint32Array(Math.max(rows, 2 * scratch.length));
  const indices = scratch.subarray(0, rows);
  if (r === rows) {
    indices.fill(0);
    return { dict: data.slice(0, width), indices };
  }
  const f64 = float ? new Float64Array(data.buffer, data.byteOffset, rows) : null;
  const ids = new Map<number, number>();
  const order: number[] = [];
  const smallSeen: number[] = [];
  let prev = NaN;
  let prevId = 0;
  let ok = true;
  for (let r = 0; r < rows; r++) {
    // The key: the value itself (4 bytes; a double), or hi * 2^32 + lo when that is exact (8 bytes).
    let key: number;
    if (f64) key = f64[r];
    else if (per === 1) key = u32[r];
    else {
      const hi = u32[2 * r + 1];
      if (hi >= 0x200000) {
        ok = false; // beyond 2^53: not worth a dictionary here
        break;
      }
      key = hi * 4294967296 + u32[2 * r];
    }
    if (key !== prev) {
      // Small whole numbers through the table; the rest (and -0, NaN, fractions) through the map.
      const tiny = key >= 0 && key < 65536 && (key | 0) === key && !Object.is(key, -0);
      let id: number | undefined;
      if (tiny) {
        id = small[key];
        if (id < 0) id = undefined;
      } else id = ids.get(key);
      if (id === undefined) {
        // Give up early on a column that is not going to fit: half the allowance used up in the
        // first 8,192 rows means a spread of values (addresses, byte counts), not a few.
        if (order.length >= max || (r < 8192 && order.length >= max >> 1 && rows > 16384)) {
          ok = false;
          break;
        }
        id = order.length;
        if (tiny) {
          small[key] = id;
          smallSeen.push(key);
        } else ids.set(key, id);
        order.push(r);
      }
      prev = key;
      prevId = id;
    }
    indices[r] = prevId;
  }
  for (const k of smallSeen) small[k] = -1;
  if (!ok) return null;
  const dict = new Uint8Array(order.length * width);
  for (let k = 0; k < order.length; k++)
    dict.set(data.subarray(order[k] * width, order[k] * width + width), k * width);
  return { dict, indices };
}

/** Values per DELTA_BINARY_PACKED block, and miniblocks per block (32 values each). */
const DELTA_BLOCK = 128;
const DELTA_MINI = 4;
/**
 * Largest |value| delta-coded (2^50 ms is 35,000 years): values, their deltas and zigzag forms then
 * stay exact in doubles. A hostile time near the ±8.64e15 the decoders allow, or NaN, goes PLAIN.
 */
const DELTA_MAX = 2 ** 50;
/** One block's deltas (scratch). */
const deltas = new Float64Array(DELTA_BLOCK);

/**
 * DELTA_BINARY_PACKED (parquet-format Encodings.md) of integral doubles, rounded: a header (block
 * size, miniblocks, count, first value), then per block of 128 deltas its smallest delta and four
 * miniblocks of 32 (delta − smallest) bit-packed at the miniblock's width. Null when a miniblock
 * would need 32 bits or more (values far apart) or a value is beyond ±2^50: the caller writes PLAIN.
 */
export function deltaBinaryPacked(values: Float64Array, n: number): Uint8Array | null {
  const out = new Bytes(n + 64);
  out.varint(DELTA_BLOCK);
  out.varint(DELTA_MINI);
  out.varint(n);
  if (n === 0) {
    out.zigzag(0);
    return out.buf.subarray(0, out.len);
  }
  let prev = Math.round(values[0]);
  if (!(Math.abs(prev) <= DELTA_MAX)) return null;
  out.zigzag(prev);
  const d = deltas;
  for (let at = 1; at < n; at += DELTA_BLOCK) {
    const count = Math.min(DELTA_BLOCK, n - at);
    let min = Infinity;
    for (let k = 0; k < count; k++) {
      const v = Math.round(values[at + k]);
      if (!(Math.abs(v) <= DELTA_MAX)) return null;
      const x = v - prev;
      prev = v;
      d[k] = x;
      if (x < min) min = x;
    }
    out.zigzag(min);
    const widths = [0, 0, 0, 0];
    for (let m = 0; m * 32 < count; m++) {
      let hi = 0;
      for (let k = m * 32; k < Math.min(count, m * 32 + 32); k++) {
        const x = d[k] - min;
        if (x > hi) hi = x;
      }
      if (hi >= 4294967296) return null;
      widths[m] = 32 - Math.clz32(hi);
    }
    out.room(4 + count * 4 + 128);
    for (let m = 0; m < DELTA_MINI; m++) out.buf[out.len++] = widths[m];
    for (let m = 0; m * 32 < count; m++) {
      const w = widths[m];
      if (w === 0) continue;
      // LSB first, 32 values (padded with zeros); a value wider than 24 bits goes in two parts
      // so the accumulator never holds more than 31 bits.
      let acc = 0;
      let bits = 0;
      for (let k = m * 32; k < m * 32 + 32; k++) {
        const x = k < count ? d[k] - min : 0;
        const lo = w > 24 ? x % 16777216 : x;
        acc |= lo << bits;
        bits += w > 24 ? 24 : w;
        while (bits >= 8) {
          out.buf[out.len++] = acc & 0xff;
          acc >>>= 8;
          bits -= 8;
        }
        if (w > 24) {
          acc |= Math.floor(x / 16777216) << bits;
          bits += w - 24;
          while (bits >= 8) {
            out.buf[out.len++] = acc & 0xff;
            acc >>>= 8;
            bits -= 8;
          }
        }
      }
    }
  }
  return out.buf.subarray(0, out.len);
}

/** Integral doubles as INT64 little-endian bytes (PLAIN), rounded. */
function int64Bytes(values: Float64Array, n: number): Uint8Array {
  const out = new Int32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const v = Math.round(values[i]);
    // ToInt32 of an integral double below 2^53 is its low 32 bits; the rest is exact division.
    out[2 * i] = v | 0;
    out[2 * i + 1] = Math.floor((v - (v >>> 0)) / 4294967296);
  }
  return new Uint8Array(out.buffer);
}

/** Where one column chunk of a row group lies, and what the footer says of it. */
interface ChunkMeta {
  name: string;
  type: PType;
  encodings: Encoding[];
  size: number;
  dataOffset: number;
  dictOffset?: number;
  /** min and max as decimal strings (JSON-safe). */
  stats?: { min: string; max: string };
}

/** A row group's place in its file and its column chunks (absolute offsets). */
export interface RowGroupLayout {
  rows: number;
  start: number;
  length: number;
  chunks: ChunkMeta[];
}

/** What a file holds, enough to rewrite its footer elsewhere (JSON-serialisable). */
export interface ParquetLayout {
  schema: { name: string; type: number; converted?: number }[];
  rowGroups: RowGroupLayout[];
  bytes: number;
}

function physical(c: ParquetColumn): PType {
  if (c.kind === 'string') return PType.BYTE_ARRAY;
  return c.kind === 'int32' ? PType.INT32 : c.kind === 'double' ? PType.DOUBLE : PType.INT64;
}

/** The footer (FileMetaData) for these row groups, with the closing length and magic. */
function footer(
  schema: ParquetLayout['schema'],
  groups: RowGroupLayout[],
  meta?: Record<string, string>,
): Uint8Array {
  const f = new ThriftWriter().i32(1, 1);
  f.listStruct(2, [null, ...schema], (w, c) => {
    if (c === null) w.binary(4, 'schema').i32(5, schema.length);
    else {
      w.i32(1, c.type).i32(3, 0).binary(4, c.name);
      if (c.converted !== undefined) w.i32(6, c.converted);
    }
  });
  f.i64(
    3,
    groups.reduce((n, g) => n + g.rows, 0),
  );
  f.listStruct(4, groups, (w, g) => {
    w.listStruct(1, g.chunks, (cw, m) => {
      cw.i64(2, m.dataOffset).struct(3);
      cw.i32(1, m.type).listI32(2, m.encodings).listBinary(3, [m.name]).i32(4, 0);
      cw.i64(5, g.rows).i64(6, m.size).i64(7, m.size).i64(9, m.dataOffset);
      if (m.dictOffset !== undefined) cw.i64(11, m.dictOffset);
      if (m.stats)
        cw.struct(12)
          .i64(3, 0)
          .binary(5, i64le(BigInt(m.stats.max)))
          .binary(6, i64le(BigInt(m.stats.min)))
          .end();
      cw.end();
    });
    w.i64(2, g.length).i64(3, g.rows);
  });
  const kv = Object.entries(meta ?? {});
  if (kv.length) f.listStruct(5, kv, (w, [k, v]) => w.binary(1, k).binary(2, v));
  f.binary(6, 'coinradar');
  f.end();
  const body = f.bytes();
  const out = new Uint8Array(body.length + 8);
  out.set(body);
  new DataView(out.buffer).setUint32(body.length, body.length, true);
  out.set(utf8.encode('PAR1'), body.length + 4);
  return out;
}

/** Writes every part to fd (writev writes what it can: loop until all is out). */
function writeAll(fd: number, parts: Uint8Array[]): void {
  let rest = parts;
  while (rest.length) {
    let n = writevSync(fd, rest);
    let k = 0;
    while (k < rest.length && n >= rest[k].length) n -= rest[k++].length;
    rest = rest.slice(k);
    if (n > 0) rest[0] = rest[0].subarray(n);
  }
}

/**
 * Writes `rows` rows of `columns` to `path` (created or truncated) as one row group and, with
 * `sync`, flushes it to the disk before returning. Returns the file's layout.
 */
export function writeParquet(
  path: string,
  rows: number,
  columns: ParquetColumn[],
  opts: { sync?: boolean; meta?: Record<string, string> } = {},
): ParquetLayout {
  const parts: Uint8Array[] = [utf8.encode('PAR1')];
  let offset = 4;
  const push = (b: Uint8Array) => {
    parts.push(b);
    offset += b.length;
  };
  const metas: ChunkMeta[] = [];
  const statsOf = (c: ParquetColumn) =>
    c.kind !== 'string' && c.stats ? { min: String(c.stats.min), max: String(c.stats.max) } : undefined;
  for (const c of columns) {
    const start = offset;
    if (c.kind === 'string') {
      if (c.indices.length !== rows)
        throw new Error(`parquet: column ${c.name} has ${c.indices.length} rows, not ${rows}`);
      const dict = plainStrings(c.dict);
      push(pageHeader(2, dict.length, c.dict.length, Encoding.PLAIN));
      push(dict);
      const dataOffset = offset;
      const idx = hybridIndices(c.indices, c.dict.length);
      push(pageHeader(0, idx.length, rows, Encoding.RLE_DICTIONARY));
      push(idx);
      metas.push({
        name: c.name,
        type: PType.BYTE_ARRAY,
        encodings: [Encoding.PLAIN, Encoding.RLE, Encoding.RLE_DICTIONARY],
        size: offset - start,
        dataOffset,
        dictOffset: start,
      });
    } else if (c.kind === 'int64-delta') {
      if (c.values.length < rows)
        throw new Error(`parquet: column ${c.name} has ${c.values.length} values, not ${rows}`);
      const packed = deltaBinaryPacked(c.values, rows);
      const body = packed ?? int64Bytes(c.values, rows);
      const encoding = packed ? Encoding.DELTA_BINARY_PACKED : Encoding.PLAIN;
      push(pageHeader(0, body.length, rows, encoding));
      push(body);
      metas.push({
        name: c.name,
        type: PType.INT64,
        encodings: [encoding, Encoding.RLE],
        size: offset - start,
        dataOffset: start,
        stats: statsOf(c),
      });
    } else {
      const width = c.kind === 'int32' ? 4 : 8;
      if (c.data.length !== rows * width)
        throw new Error(`parquet: column ${c.name} has ${c.data.length} bytes, not ${rows} × ${width}`);
      const max = c.dict === true ? MAX_DICT : c.dict || 0;
      const d = max > 0 && rows > 0 ? numericDict(c.data, width, rows, c.kind === 'double', max) : null;
      if (d) {
        push(pageHeader(2, d.dict.length, d.dict.length / width, Encoding.PLAIN));
        push(d.dict);
        const dataOffset = offset;
        const idx = hybridIndices(d.indices, d.dict.length / width);
        push(pageHeader(0, idx.length, rows, Encoding.RLE_DICTIONARY));
        push(idx);
        metas.push({
          name: c.name,
          type: physical(c),
          encodings: [Encoding.PLAIN, Encoding.RLE, Encoding.RLE_DICTIONARY],
          size: offset - start,
          dataOffset,
          dictOffset: start,
          stats: statsOf(c),
        });
        continue;
      }
      push(pageHeader(0, c.data.length, rows, Encoding.PLAIN));
      push(c.data);
      metas.push({
        name: c.name,
        type: physical(c),
        encodings: [Encoding.PLAIN, Encoding.RLE],
        size: offset - start,
        dataOffset: start,
        stats: statsOf(c),
      });
    }
  }
  const schema = columns.map((c) => ({
    name: c.name,
    type: physical(c),
    converted: c.kind === 'string' ? Converted.UTF8 : c.converted,
  }));
  const group: RowGroupLayout = { rows, start: 4, length: offset - 4, chunks: metas };
  const tail = footer(schema, [group], opts.meta);
  parts.push(tail);
  const fd = openSync(path, 'w');
  try {
    writeAll(fd, parts);
    if (opts.sync) fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return { schema, rowGroups: [group], bytes: offset + tail.length };
}

/**
 * One file from several written by `writeParquet` with the same schema: their row groups copied
 * byte for byte (nothing decoded, nothing re-encoded) and one footer over all of them, flushed to
 * the disk. Asynchronous (the thread pool copies), so a collector keeps storing meanwhile.
 */
export async function concatParquet(
  path: string,
  inputs: { path: string; layout: ParquetLayout }[],
): Promise<ParquetLayout> {
  if (inputs.length === 0) throw new Error('parquet: nothing to concatenate');
  const schema = inputs[0].layout.schema;
  const same = JSON.stringify(schema);
  const out = await open(path, 'w');
  const groups: RowGroupLayout[] = [];
  const buf = Buffer.allocUnsafe(4 << 20);
  try {
    await out.write(utf8.encode('PAR1'));
    let pos = 4;
    for (const input of inputs) {
      if (JSON.stringify(input.layout.schema) !== same)
        throw new Error(`parquet: ${input.path} has another schema than ${inputs[0].path}`);
      const src = await open(input.path, 'r');
      try {
        for (const g of input.layout.rowGroups) {
          for (let done = 0; done < g.length;) {
            const want = Math.min(buf.length, g.length - done);
            const { bytesRead } = await src.read(buf, 0, want, g.start + done);
            if (bytesRead !== want) throw new Error(`parquet: ${input.path} is shorter than its layout says`);
            await out.write(buf, 0, want);
            done += want;
          }
          const shift = pos - g.start;
          groups.push({
            rows: g.rows,
            start: pos,
            length: g.length,
            chunks: g.chunks.map((c) => ({
              ...c,
              dataOffset: c.dataOffset + shift,
              ...(c.dictOffset !== undefined ? { dictOffset: c.dictOffset + shift } : {}),
            })),
          });
          pos += g.length;
        }
      } finally {
        await src.close();
      }
    }
    const tail = footer(schema, groups);
    await out.write(tail);
    await out.datasync();
    return { schema, rowGroups: groups, bytes: pos + tail.length };
  } finally {
    await out.close();
  }
}
