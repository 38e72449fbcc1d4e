/**
 * Flow segments: how a live source (the collector) stores its flows. Each commit interval's flows
 * are written as one immutable Parquet file beside the database (`<db>.segments/`), registered in
 * `flow_segments` in the same DuckDB transaction that counts them in `sources`, and read through
 * the `flow_rows` view (the `flow_table` table UNION ALL the registered files). Writing a segment
 * is a copy of typed arrays into a file — no DuckDB appender, no WAL, no checkpoint — which is what
 * brings the collector's CPU per flow near nfcapd's (docs/benchmarks.md, issue 15). File ingest
 * keeps appending to `flow_table` (compressed by DuckDB).
 *
 * A crash between writing a file and committing its row leaves a file nobody lists; the next
 * writer to open the store deletes it. Segments are concatenated (row groups copied, nothing
 * re-encoded) once 32 of a source are under 4 M rows, so a day holds thousands of files, not
 * 86,400.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { EnrichedColumns } from '../../flow/enrichment.js';
import type { FlowBatch } from '../../flow/record.js';
import {
  Converted,
  concatParquet,
  writeParquet,
  type ParquetColumn,
  type ParquetLayout,
} from '../parquet/writer.js';
import type { DuckDbDatabase } from './database.js';

/** A segment is written when it reaches this many rows, even before its commit interval ends
 * (~40 MB of columns: what bounds the writer's memory at high rates). */
export const SEGMENT_MAX_ROWS = 1 << 18;

/** Segments under this many rows are concatenated once `CONCAT_COUNT` of a source have piled up. */
export const CONCAT_MAX_ROWS = 4_000_000;
export const CONCAT_COUNT = 32;

/** The folder of a store's segment files. */
export function segmentDir(dbPath: string): string {
  return `${resolve(dbPath)}.segments`;
}

class Grow<T extends Int32Array | Uint32Array | Float64Array> {
  a: T;
  constructor(
    private readonly make: (n: number) => T,
    readonly perRow: number,
  ) {
    this.a = make(4096 * perRow);
  }
  /** Room for `rows` rows in all (keeps what is there); doubling stops at SEGMENT_MAX_ROWS rows
   * (a segment is written before it would pass them, so doubling past them only wasted memory:
   * 82 MB of columns instead of 41 at 200 k flows/s). */
  ensure(rows: number): T {
    if (rows * this.perRow > this.a.length) {
      const next = this.make(
        Math.max(rows * this.perRow, Math.min(this.a.length * 2, SEGMENT_MAX_ROWS * this.perRow)),
      );
      next.set(this.a);
      this.a = next;
    }
    return this.a;
  }
  bytes(rows: number): Uint8Array {
    return new Uint8Array(this.a.buffer, this.a.byteOffset, rows * this.perRow * this.a.BYTES_PER_ELEMENT);
  }
  get capacityRows(): number {
    return this.a.length / this.perRow;
  }
}

class Dict {
  values: string[] = [];
  private readonly ids = new Map<string, number>();
  readonly idx = new Grow((n) => new Uint32Array(n), 1);
  /** Empty again for the next file (each file carries its own); the index array is kept. */
  reset(): void {
    this.values = [];
    this.ids.clear();
  }
  id(s: string): number {
    let k = this.ids.get(s);
    if (k === undefined) {
      k = this.values.length;
      this.values.push(s);
      this.ids.set(s, k);
    }
    return k;
  }
}

const i32 = (n: number) => new Int32Array(n);
const u32 = (n: number) => new Uint32Array(n);
const f64 = (n: number) => new Float64Array(n);

/** One commit interval's flows, column by column in the layout of the segment file. */
export class SegmentBuilder {
  rows = 0;
  private minFirst = Infinity;
  private maxFirst = -Infinity;
  private firstId = 0;
  /** Ids and times as doubles (exact below 2^53), delta-coded by the writer. */
  private readonly id = new Grow(f64, 1);
  private readonly sourceId = new Grow(i32, 1);
  private readonly position = new Grow(f64, 1);
  private readonly first = new Grow(f64, 1);
  private readonly last = new Grow(f64, 1);
  private readonly ipVersion = new Grow(i32, 1);
  /** hi then lo, each a u64 as two little-endian u32 halves. */
  private readonly srcHi = new Grow(u32, 2);
  private readonly srcLo = new Grow(u32, 2);
  private readonly dstHi = new Grow(u32, 2);
  private readonly dstLo = new Grow(u32, 2);
  private readonly srcPort = new Grow(i32, 1);
  private readonly dstPort = new Grow(i32, 1);
  private readonly proto = new Grow(i32, 1);
  private readonly packets = new Grow(f64, 1);
  private readonly bytes = new Grow(f64, 1);
  private readonly revPackets = new Grow(f64, 1);
  private readonly revBytes = new Grow(f64, 1);
  private readonly tcpFlags = new Grow(i32, 1);
  private readonly sampling = new Grow(u32, 1);
  private readonly domain = new Grow(u32, 1);
  private readonly srcAsn = new Grow(u32, 1);
  private readonly dstAsn = new Grow(u32, 1);
  private readonly exporter = new Dict();
  private readonly srcCountry = new Dict();
  private readonly dstCountry = new Dict();
  private readonly srcWatch = new Dict();
  private readonly dstWatch = new Dict();

  /** Rows the columns have room for (the largest column's): at most SEGMENT_MAX_ROWS unless one
   * batch alone was larger. */
  get capacityRows(): number {
    const dicts = [this.exporter, this.srcCountry, this.dstCountry, this.srcWatch, this.dstWatch];
    const grows = [
      ...[this.id, this.sourceId, this.position, this.first, this.last, this.ipVersion],
      ...[this.srcHi, this.srcLo, this.dstHi, this.dstLo, this.srcPort, this.dstPort, this.proto],
      ...[this.packets, this.bytes, this.revPackets, this.revBytes, this.tcpFlags, this.sampling],
      ...[this.domain, this.srcAsn, this.dstAsn, ...dicts.map((d) => d.idx)],
    ];
    return Math.max(...grows.map((g) => g.capacityRows));
  }

  /** Adds a batch whose flows take the ids firstId, firstId + 1, … */
  add(b: FlowBatch, e: EnrichedColumns, firstId: number, sourceId: number): void {
    const n = b.length;
    if (n === 0) return;
    if (this.rows === 0) this.firstId = firstId;
    const r0 = this.rows;
    const rows = r0 + n;
    this.first.ensure(rows).set(b.firstMs.subarray(0, n), r0);
    this.last.ensure(rows).set(b.lastMs.subarray(0, n), r0);
    this.sourceId.ensure(rows).fill(sourceId, r0, rows);
    this.position.ensure(rows).set(b.position.subarray(0, n), r0);
    this.ipVersion.ensure(rows).set(b.ipVersion.subarray(0, n), r0);
    this.srcPort.ensure(rows).set(b.srcPort.subarray(0, n), r0);
    this.dstPort.ensure(rows).set(b.dstPort.subarray(0, n), r0);
    this.proto.ensure(rows).set(b.proto.subarray(0, n), r0);
    this.packets.ensure(rows).set(b.packets.subarray(0, n), r0);
    this.bytes.ensure(rows).set(b.bytes.subarray(0, n), r0);
    this.revPackets.ensure(rows).set(b.revPackets.subarray(0, n), r0);
    this.revBytes.ensure(rows).set(b.revBytes.subarray(0, n), r0);
    this.tcpFlags.ensure(rows).set(b.tcpFlags.subarray(0, n), r0);
    this.sampling.ensure(rows).set(b.samplingRate.subarray(0, n), r0);
    this.domain.ensure(rows).set(b.observationDomain.subarray(0, n), r0);
    this.srcAsn.ensure(rows).set(e.srcAsn.subarray(0, n), r0);
    this.dstAsn.ensure(rows).set(e.dstAsn.subarray(0, n), r0);
    const id = this.id.ensure(rows);
    const firstMs = b.firstMs;
    let lo = this.minFirst;
    let hi = this.maxFirst;
    for (let i = 0; i < n; i++) {
      id[r0 + i] = firstId + i;
      const f = firstMs[i];
      if (f < lo) lo = f;
      if (f > hi) hi = f;
    }
    // Rounding is monotonic: the rounded extremes are the extremes of the rounded times (as stored).
    this.minFirst = Math.round(lo);
    this.maxFirst = Math.round(hi);
    this.addresses(b.src, b.ipVersion, n, r0, this.srcHi.ensure(rows), this.srcLo.ensure(rows));
    this.addresses(b.dst, b.ipVersion, n, r0, this.dstHi.ensure(rows), this.dstLo.ensure(rows));
    // Exporters: a handful per batch, looked up once each.
    const exIds = b.exporters.map((x) => this.exporter.id(x ?? ''));
    const ex = this.exporter.idx.ensure(rows);
    for (let i = 0; i < n; i++) ex[r0 + i] = exIds[b.exporterIdx[i]] ?? this.exporter.id('');
    this.strings(this.srcCountry, e.srcCountry, n, r0, rows);
    this.strings(this.dstCountry, e.dstCountry, n, r0, rows);
    this.strings(this.srcWatch, e.srcWatch, n, r0, rows);
    this.strings(this.dstWatch, e.dstWatch, n, r0, rows);
    this.rows = rows;
  }

  private strings(d: Dict, values: string[], n: number, r0: number, rows: number): void {
    const idx = d.idx.ensure(rows);
    // Runs are common (one country per scope, '' for most watch columns): skip the map on a repeat.
    let prev: string | undefined;
    let prevId = 0;
    for (let i = 0; i < n; i++) {
      const s = values[i];
      if (s !== prev) {
        prev = s;
        prevId = d.id(s);
      }
      idx[r0 + i] = prevId;
    }
  }

  /** 16-byte network-order addresses → the 128-bit value of flow_table (IPv4 as ::ffff:a.b.c.d). */
  private addresses(
    addr: Uint8Array,
    ver: Uint8Array,
    n: number,
    r0: number,
    hi: Uint32Array,
    lo: Uint32Array,
  ): void {
    for (let i = 0; i < n; i++) {
      const a = i * 16;
      const o = 2 * (r0 + i);
      if (ver[i] === 6) {
        hi[o + 1] = ((addr[a] << 24) | (addr[a + 1] << 16) | (addr[a + 2] << 8) | addr[a + 3]) >>> 0;
        hi[o] = ((addr[a + 4] << 24) | (addr[a + 5] << 16) | (addr[a + 6] << 8) | addr[a + 7]) >>> 0;
        lo[o + 1] = ((addr[a + 8] << 24) | (addr[a + 9] << 16) | (addr[a + 10] << 8) | addr[a + 11]) >>> 0;
        lo[o] = ((addr[a + 12] << 24) | (addr[a + 13] << 16) | (addr[a + 14] << 8) | addr[a + 15]) >>> 0;
      } else {
        hi[o] = 0;
        hi[o + 1] = 0;
        lo[o + 1] = 0xffff;
        lo[o] = ((addr[a] << 24) | (addr[a + 1] << 16) | (addr[a + 2] << 8) | addr[a + 3]) >>> 0;
      }
    }
  }

  /** Writes the rows to `path` (flushed to disk) and empties the builder. */
  write(path: string): SegmentInfo {
    const n = this.rows;
    const dict = (name: string, d: Dict): ParquetColumn => ({
      name,
      kind: 'string',
      dict: d.values,
      indices: d.idx.a.subarray(0, n),
    });
    // Few distinct values (or long runs): dictionary-coded by the writer (smaller, fewer bytes to write).
    const int = (
      name: string,
      g: Grow<Int32Array | Uint32Array>,
      converted?: Converted,
      dict = true,
    ): ParquetColumn => ({
      name,
      kind: 'int32',
      converted,
      data: g.bytes(n),
      dict,
    });
    const long = (
      name: string,
      g: Grow<Int32Array | Uint32Array>,
      converted?: Converted,
      dict = false,
    ): ParquetColumn => ({ name, kind: 'int64', converted, data: g.bytes(n), dict });
    // Ids and times: neighbours differ by little (delta-coded, ~1–2 bytes a row instead of 8).
    const delta = (
      name: string,
      g: Grow<Float64Array>,
      stats?: { min: bigint; max: bigint },
    ): ParquetColumn => ({
      name,
      kind: 'int64-delta',
      values: g.a,
      stats,
    });
    // Counters repeat (packets above all; reverse counters of one-way NetFlow are all 0) and a
    // datagram's records share its position: dictionary-coded while the values stay few.
    const dbl = (name: string, g: Grow<Float64Array>, dict: boolean | number = true): ParquetColumn => ({
      name,
      kind: 'double',
      data: g.bytes(n),
      dict,
    });
    const info: SegmentInfo = {
      rows: n,
      bytes: 0,
      layout: null,
      minId: this.firstId,
      maxId: this.firstId + n - 1,
      firstMs: this.minFirst,
      lastMs: this.maxFirst,
    };
    const stats = (min: number, max: number) => ({ min: BigInt(min), max: BigInt(max) });
    info.layout = writeParquet(
      path,
      n,
      [
        delta('id', this.id, stats(info.minId, info.maxId)),
        int('source_id', this.sourceId),
        dbl('position', this.position, SEGMENT_MAX_ROWS / 4),
        delta('first_ms', this.first, stats(info.firstMs, info.lastMs)),
        delta('last_ms', this.last),
        int('ip_version', this.ipVersion, Converted.UINT_8),
        // Addresses repeat in real traffic (a network's hosts); a spread of them gives up early.
        long('src_ip_hi', this.srcHi, Converted.UINT_64, true),
        long('src_ip_lo', this.srcLo, Converted.UINT_64, true),
        long('dst_ip_hi', this.dstHi, Converted.UINT_64, true),
        long('dst_ip_lo', this.dstLo, Converted.UINT_64, true),
        int('src_port', this.srcPort, Converted.UINT_16, false),
        int('dst_port', this.dstPort, Converted.UINT_16),
        int('proto', this.proto, Converted.UINT_8),
        dbl('packets', this.packets),
        dbl('bytes', this.bytes),
        dbl('rev_packets', this.revPackets),
        dbl('rev_bytes', this.revBytes),
        int('tcp_flags', this.tcpFlags, Converted.UINT_8),
        int('sampling_rate', this.sampling, Converted.UINT_32),
        dict('exporter', this.exporter),
        int('observation_domain', this.domain, Converted.UINT_32),
        dict('src_country', this.srcCountry),
        dict('dst_country', this.dstCountry),
        int('src_asn', this.srcAsn, Converted.UINT_32),
        int('dst_asn', this.dstAsn, Converted.UINT_32),
        dict('src_watch', this.srcWatch),
        dict('dst_watch', this.dstWatch),
      ],
      { sync: true },
    );
    info.bytes = info.layout.bytes;
    this.clear();
    return info;
  }

  /** Empty, for the next file or after a rolled-back interval; the columns' arrays are kept. */
  clear(): void {
    this.rows = 0;
    this.minFirst = Infinity;
    this.maxFirst = -Infinity;
    // Dictionaries start again per file (each file carries its own); their arrays are reused, as
    // the columns' are: a new set per file was ~10 MB of garbage a second at 200 k flows/s.
    this.exporter.reset();
    this.srcCountry.reset();
    this.dstCountry.reset();
    this.srcWatch.reset();
    this.dstWatch.reset();
  }
}

export interface SegmentInfo {
  rows: number;
  bytes: number;
  /** Where its row groups lie (null: a file written by someone else, e.g. before layouts were kept). */
  layout: ParquetLayout | null;
  minId: number;
  maxId: number;
  firstMs: number;
  lastMs: number;
}

/**
 * The columns of a segment file in flow_table_rows's order and types (flows.sql). Segments hold live NetFlow/IPFIX
 * flows, which carry no tunnel context: its columns are constants here, not stored in the files.
 */
const SEGMENT_SELECT = `id, source_id, position, first_ms, last_ms, ip_version,
  (src_ip_hi::UHUGEINT << 64) | src_ip_lo::UHUGEINT AS src_ip,
  (dst_ip_hi::UHUGEINT << 64) | dst_ip_lo::UHUGEINT AS dst_ip,
  src_port, dst_port, proto, packets, bytes, rev_packets, rev_bytes, tcp_flags, sampling_rate,
  exporter, observation_domain, src_country, dst_country, src_asn, dst_asn, src_watch, dst_watch,
  '' AS tunnel, NULL::UINTEGER AS tunnel_id, 0::UTINYINT AS outer_ip_version,
  NULL::UHUGEINT AS outer_src_ip, NULL::UHUGEINT AS outer_dst_ip`;

const sqlText = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** The store's segments: registration, the view over them, concatenation, clean-up. */
export class Segments {
  private seq = 0;
  readonly dir: string;
  /** A concatenation under way (its file is not registered until `write` applies it). */
  private pending: Promise<Concatenated | null> | null = null;
  private done: Concatenated | null = null;
  /** Files replaced by a concatenation, deleted after the commit that replaced them. */
  private obsolete: string[] = [];
  /**
   * The registered files in id order, as the writer's transaction sees them: kept here, so a
   * commit does not read `flow_segments` back to rebuild the view (`resync` after a rollback).
   */
  private list: string[] = [];

  constructor(
    private readonly db: DuckDbDatabase,
    dbPath: string,
  ) {
    this.dir = segmentDir(dbPath);
  }

  /**
   * On open by the writer: make the view list the registered files, and delete files a crash left
   * behind (written, never registered; or a concatenation never applied).
   */
  async open(): Promise<void> {
    const files = await this.files();
    this.list = files;
    this.seq = files.reduce((m, f) => Math.max(m, Number(/-(\d+)\.parquet$/.exec(f)?.[1] ?? 0)), 0);
    if (existsSync(this.dir)) {
      const known = new Set(files);
      for (const f of readdirSync(this.dir)) if (!known.has(f)) rmSync(join(this.dir, f), { force: true });
    }
    await this.refreshView(files);
  }

  private async files(): Promise<string[]> {
    const rows = await this.db.all<{ file: string }>('SELECT file FROM flow_segments ORDER BY min_id');
    return rows.map((r) => r.file);
  }

  /**
   * After the writer's transaction was rolled back: the list and the view as the store holds them.
   * Files replaced by a concatenation it had applied are registered again, so they are not deleted
   * (they were waiting for the commit); files it had written or applied are no longer registered,
   * so they go (nobody else read them: only the writer's transaction listed them). A concatenation
   * still copying (a .tmp) stays, and is applied by a later write.
   */
  async rolledBack(): Promise<void> {
    this.obsolete = [];
    this.list = await this.files();
    await this.refreshView();
    if (!existsSync(this.dir)) return;
    const known = new Set(this.list);
    for (const f of readdirSync(this.dir))
      if (f.endsWith('.parquet') && !known.has(f)) rmSync(join(this.dir, f), { force: true });
  }

  /**
   * The rows that may hold flows with ids above `id`, shaped as flow_rows: the table, and only the
   * registered files with such ids (what the rollup reads at each commit, not every file).
   */
  async relationAfter(id: number, db: DuckDbDatabase = this.db): Promise<string> {
    const rows = await db.all<{ file: string }>(
      'SELECT file FROM flow_segments WHERE max_id > $1 ORDER BY min_id',
      [id],
    );
    if (rows.length === 0) return 'flow_table_rows';
    const files = rows.map((r) => sqlText(join(this.dir, r.file))).join(', ');
    return `(SELECT * FROM flow_table_rows UNION ALL SELECT ${SEGMENT_SELECT} FROM read_parquet([${files}]))`;
  }

  /** `flow_rows` = the table, and the registered files when there are any. */
  private async refreshView(files?: string[]): Promise<void> {
    const list = files ?? this.list;
    const seg = list.length
      ? `\nUNION ALL SELECT ${SEGMENT_SELECT} FROM read_parquet([${list.map((f) => sqlText(join(this.dir, f))).join(', ')}])`
      : '';
    await this.db.run(`CREATE OR REPLACE VIEW flow_rows AS SELECT * FROM flow_table_rows${seg}`);
  }

  /**
   * Writes the builder's rows as a new segment of `sourceId` and registers it (inside the caller's
   * transaction: the file counts once that commits). A finished concatenation is registered in the
   * same transaction; a new one may start.
   */
  async write(b: SegmentBuilder, sourceId: number): Promise<SegmentInfo | null> {
    await this.applyConcatenation();
    if (b.rows === 0) return null;
    mkdirSync(this.dir, { recursive: true });
    const file = `s${sourceId}-${++this.seq}.parquet`;
    const tmp = join(this.dir, `${file}.tmp`);
    let info: SegmentInfo;
    try {
      info = b.write(tmp);
    } catch (e) {
      // A file cut short (the disk full) is worth nothing, and holds the space it took.
      rmSync(tmp, { force: true });
      throw e;
    }
    renameSync(tmp, join(this.dir, file));
    await this.register(file, sourceId, info);
    this.list.push(file);
    await this.refreshView();
    await this.startConcatenation(sourceId);
    return info;
  }

  private async register(file: string, sourceId: number, s: SegmentInfo): Promise<void> {
    await this.db.run(
      `INSERT INTO flow_segments (file, source_id, rows, bytes, min_id, max_id, first_ms, last_ms, layout)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        file,
        sourceId,
        s.rows,
        s.bytes,
        s.minId,
        s.maxId,
        s.firstMs,
        s.lastMs,
        s.layout ? JSON.stringify(s.layout) : null,
      ],
    );
  }

  /**
   * One file a second is too many for a day (DuckDB reads each file's footer per query): once
   * CONCAT_COUNT of a source's committed segments are under CONCAT_MAX_ROWS, the oldest of them are
   * concatenated — row groups copied byte for byte, one new footer (parquet/writer.ts) — in the
   * thread pool while storing goes on, and swapped in by a later `write`.
   */
  private async startConcatenation(sourceId: number): Promise<void> {
    if (this.pending || this.done) return;
    const rows = await this.db.all<{
      file: string;
      rows: number;
      min_id: number;
      max_id: number;
      first_ms: number;
      last_ms: number;
      layout: string;
    }>(
      `SELECT file, rows, min_id, max_id, first_ms, last_ms, layout FROM flow_segments
       WHERE source_id = $1 AND rows < $2 AND layout IS NOT NULL ORDER BY min_id LIMIT $3`,
      [sourceId, CONCAT_MAX_ROWS, CONCAT_COUNT],
    );
    if (rows.length < CONCAT_COUNT) return;
    const file = `s${sourceId}-${++this.seq}.parquet`;
    const tmp = join(this.dir, `${file}.tmp`);
    const inputs = rows.map((r) => ({
      path: join(this.dir, r.file),
      layout: JSON.parse(r.layout) as ParquetLayout,
    }));
    this.pending = concatParquet(tmp, inputs).then(
      (layout): Concatenated => ({
        file,
        tmp,
        sourceId,
        replaces: rows.map((r) => r.file),
        info: {
          rows: rows.reduce((n, r) => n + Number(r.rows), 0),
          bytes: layout.bytes,
          layout,
          minId: Math.min(...rows.map((r) => Number(r.min_id))),
          maxId: Math.max(...rows.map((r) => Number(r.max_id))),
          firstMs: Math.min(...rows.map((r) => Number(r.first_ms))),
          lastMs: Math.max(...rows.map((r) => Number(r.last_ms))),
        },
      }),
      () => {
        // A failed copy changes nothing: the inputs stay registered; the partial file goes.
        rmSync(tmp, { force: true });
        return null;
      },
    );
    this.pending.then((c) => {
      this.done = c;
      this.pending = null;
    });
  }

  /** Registers a finished concatenation in place of its inputs (inside the caller's transaction). */
  private async applyConcatenation(): Promise<void> {
    const c = this.done;
    if (!c) return;
    this.done = null;
    renameSync(c.tmp, join(this.dir, c.file));
    await this.db.run("DELETE FROM flow_segments WHERE file IN (SELECT unnest(string_split($1, '/')))", [
      c.replaces.join('/'),
    ]);
    await this.register(c.file, c.sourceId, c.info);
    this.obsolete.push(...c.replaces);
    // The copy takes the place of the first file it replaces (its smallest ids), the rest go.
    const gone = new Set(c.replaces);
    const at = this.list.findIndex((f) => gone.has(f));
    this.list = this.list.filter((f) => !gone.has(f));
    this.list.splice(at < 0 ? this.list.length : at, 0, c.file);
    await this.refreshView();
  }

  /** Resolves when no concatenation is copying (tests; a finished one waits for the next write). */
  async idle(): Promise<void> {
    while (this.pending) await this.pending;
  }

  /** On the writer's last commit: a concatenation still copying is abandoned (its inputs stay). */
  async finish(): Promise<void> {
    await this.applyConcatenation();
    const p = this.pending;
    if (p) {
      this.pending = null;
      void p.then((c) => {
        if (c) rmSync(c.tmp, { force: true });
        this.done = null;
      });
    }
  }

  /**
   * After the caller's commit: the files a concatenation replaced, handed over for deletion (the
   * returned function deletes them; null when there are none).
   */
  takeReplaced(): (() => void) | null {
    if (this.obsolete.length === 0) return null;
    const files = this.obsolete;
    this.obsolete = [];
    return () => {
      for (const f of files) rmSync(join(this.dir, f), { force: true });
    };
  }

  /** Deletes every segment of these sources (re-ingest of a source, inside the caller's transaction). */
  async dropSources(ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    const list = ids.map((n) => Math.floor(n)).join(',');
    const rows = await this.db.all<{ file: string }>(
      `SELECT file FROM flow_segments WHERE source_id IN (${list})`,
    );
    if (rows.length === 0) return;
    await this.db.run(`DELETE FROM flow_segments WHERE source_id IN (${list})`);
    this.obsolete.push(...rows.map((r) => r.file));
    const gone = new Set(rows.map((r) => r.file));
    this.list = this.list.filter((f) => !gone.has(f));
    await this.refreshView();
  }
}

interface Concatenated {
  file: string;
  tmp: string;
  sourceId: number;
  replaces: string[];
  info: SegmentInfo;
}

/** For tests: the segment files of a store. */
export function segmentFiles(dbPath: string): string[] {
  const dir = segmentDir(dbPath);
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.parquet')) : [];
}
