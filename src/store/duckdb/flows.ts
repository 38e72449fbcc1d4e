import {
  BIGINT,
  BLOB,
  DOUBLE,
  INTEGER,
  UBIGINT,
  UINTEGER,
  USMALLINT,
  UTINYINT,
  VARCHAR,
  listValue,
  type DuckDBAppender,
  type DuckDBType,
} from '@duckdb/node-api';
import { dirname, resolve } from 'node:path';
import type { Diagnostics } from '../../flow/diagnostics.js';
import type { EnrichedColumns } from '../../flow/enrichment.js';
import { TUNNEL_KINDS, writeIp, type FlowBatch } from '../../flow/record.js';
import type {
  FlowQuery,
  FlowStore,
  FlowSummary,
  SourceInfo,
  SourceWriter,
  StoredFlow,
  StoredPayload,
  StoredSource,
  SummaryRow,
  KeyedSummaryQuery,
  SummaryKey,
} from '../store.js';
import {
  CHUNK_ROWS,
  StagedChunk,
  closeAppender,
  discardAppender,
  setInt64,
  type ColumnKind,
} from './chunk.js';
import { DuckDbDatabase, type DatabaseOptions } from './database.js';
import { isDiskFull, isPassingFailure, spaceIsBack } from '../passing-failures.js';
import { SEGMENT_MAX_ROWS, SegmentBuilder, Segments } from './segments.js';
import { flowSource, keyedSummary } from './summary.js';
import type { HostProfile, HostProfileQuery, SeriesData, SeriesQuery } from '../queries.js';
import { DuckDbSeries } from './series.js';
import { ROLLUP_LAG, Rollup, RollupMerger } from './rollup.js';
import { hostProfiles } from './hosts.js';

// The inner view has every raw column (src_port, dst_port, first_ms, ...) plus `source`, so that
// --where speaks the column names of the schema; the outer select shapes the JSON-lines record.
const FLOW_SELECT = (where: string, order: string, limit: string) => `
  SELECT f.id, strftime(epoch_ms(f.first_ms), '%Y-%m-%dT%H:%M:%S.%gZ') AS first,
         strftime(epoch_ms(f.last_ms), '%Y-%m-%dT%H:%M:%S.%gZ') AS last,
         f.ip_version, f.src, f.src_port AS sport, f.dst, f.dst_port AS dport, f.proto,
         f.packets, f.bytes, f.rev_packets, f.rev_bytes, f.tcp_flags, f.sampling_rate, f.exporter,
         f.observation_domain, f.src_country, f.dst_country, f.src_asn, f.dst_asn, f.src_watch,
         f.dst_watch, f.source, f.position
  FROM (SELECT fl.*, s.name AS source FROM flows fl JOIN sources s ON s.id = fl.source_id) f
  ${where} ORDER BY ${order} ${limit}`;

/** Columns of `flow_table`, in schema order (flows.sql). */
const FLOW_COLUMNS: [string, DuckDBType, ColumnKind][] = [
  ['id', BIGINT, 'BIGINT'],
  ['source_id', INTEGER, 'INTEGER'],
  ['position', DOUBLE, 'DOUBLE'],
  ['first_ms', BIGINT, 'BIGINT'],
  ['last_ms', BIGINT, 'BIGINT'],
  ['ip_version', UTINYINT, 'UTINYINT'],
  ['src_ip_hi', UBIGINT, 'UBIGINT'],
  ['src_ip_lo', UBIGINT, 'UBIGINT'],
  ['dst_ip_hi', UBIGINT, 'UBIGINT'],
  ['dst_ip_lo', UBIGINT, 'UBIGINT'],
  ['src_port', USMALLINT, 'USMALLINT'],
  ['dst_port', USMALLINT, 'USMALLINT'],
  ['proto', UTINYINT, 'UTINYINT'],
  ['packets', DOUBLE, 'DOUBLE'],
  ['bytes', DOUBLE, 'DOUBLE'],
  ['rev_packets', DOUBLE, 'DOUBLE'],
  ['rev_bytes', DOUBLE, 'DOUBLE'],
  ['tcp_flags', UTINYINT, 'UTINYINT'],
  ['sampling_rate', UINTEGER, 'UINTEGER'],
  ['exporter', VARCHAR, 'VARCHAR'],
  ['observation_domain', UINTEGER, 'UINTEGER'],
  ['src_country', VARCHAR, 'VARCHAR'],
  ['dst_country', VARCHAR, 'VARCHAR'],
  ['src_asn', UINTEGER, 'UINTEGER'],
  ['dst_asn', UINTEGER, 'UINTEGER'],
  ['src_watch', VARCHAR, 'VARCHAR'],
  ['dst_watch', VARCHAR, 'VARCHAR'],
  ['tunnel', VARCHAR, 'VARCHAR'],
  ['tunnel_id', UINTEGER, 'UINTEGER'],
  ['outer_ip_version', UTINYINT, 'UTINYINT'],
  ['outer_src_ip_hi', UBIGINT, 'UBIGINT'],
  ['outer_src_ip_lo', UBIGINT, 'UBIGINT'],
  ['outer_dst_ip_hi', UBIGINT, 'UBIGINT'],
  ['outer_dst_ip_lo', UBIGINT, 'UBIGINT'],
];

/** Each column's index in FLOW_COLUMNS, by name. */
const C = Object.fromEntries(FLOW_COLUMNS.map(([name], i) => [name, i])) as Record<string, number>;

/** Columns NULL in a flow outside a tunnel. */
const NO_TUNNEL_NULLS = [
  'tunnel_id',
  'outer_src_ip_hi',
  'outer_src_ip_lo',
  'outer_dst_ip_hi',
  'outer_dst_ip_lo',
].map((n) => C[n]);

/** The tunnel columns of flows.sql's flow_table, added to a store written before them. */
const TUNNEL_MIGRATION = [
  "ALTER TABLE flow_table ADD COLUMN tunnel VARCHAR DEFAULT ''",
  'ALTER TABLE flow_table ADD COLUMN tunnel_id UINTEGER',
  'ALTER TABLE flow_table ADD COLUMN outer_ip_version UTINYINT DEFAULT 0',
  'ALTER TABLE flow_table ADD COLUMN outer_src_ip UHUGEINT',
  'ALTER TABLE flow_table ADD COLUMN outer_dst_ip UHUGEINT',
];

/** A 128-bit address column of the old layout as the two words of the new one. */
const words = (c: string) =>
  `(${c} >> 64)::UBIGINT AS ${c}_hi, (${c} & 18446744073709551615::UHUGEINT)::UBIGINT AS ${c}_lo`;

/**
 * Stores written before addresses were two words (UHUGEINT src_ip, dst_ip, outer_src_ip,
 * outer_dst_ip): the table is rewritten once, in one transaction, into flows.sql's layout (same
 * rows, same ids). Run before flows.sql, which creates the new table in the old one's place.
 */
const WORDS_MIGRATION = {
  before: ['BEGIN TRANSACTION', 'ALTER TABLE flow_table RENAME TO flow_table_v1'],
  after: [
    `INSERT INTO flow_table SELECT id, source_id, position, first_ms, last_ms, ip_version,
       ${words('src_ip')}, ${words('dst_ip')}, src_port, dst_port, proto, packets, bytes, rev_packets,
       rev_bytes, tcp_flags, sampling_rate, exporter, observation_domain, src_country, dst_country,
       src_asn, dst_asn, src_watch, dst_watch, tunnel, tunnel_id, outer_ip_version,
       ${words('outer_src_ip')}, ${words('outer_dst_ip')}
     FROM flow_table_v1 ORDER BY id`,
    'DROP TABLE flow_table_v1',
    'COMMIT',
    'CHECKPOINT',
  ],
};

/**
 * An address of a FlowBatch (16 bytes, network order; IPv4 in the first 4) as `flow_table`'s two
 * UBIGINT words (hi, lo), each 8 little-endian bytes per row: the high and low halves of the
 * 128-bit value (IPv6 as is, IPv4 as ::ffff:a.b.c.d).
 */
function stageWords(
  hi: Uint8Array,
  lo: Uint8Array,
  row: number,
  addr: Uint8Array,
  i: number,
  version: number,
): void {
  const o = row * 8;
  const a = i * 16;
  if (version === 6) {
    for (let k = 0; k < 8; k++) {
      lo[o + k] = addr[a + 15 - k];
      hi[o + k] = addr[a + 7 - k];
    }
    return;
  }
  lo[o] = addr[a + 3];
  lo[o + 1] = addr[a + 2];
  lo[o + 2] = addr[a + 1];
  lo[o + 3] = addr[a];
  lo[o + 4] = 0xff;
  lo[o + 5] = 0xff;
  lo[o + 6] = 0;
  lo[o + 7] = 0;
  hi.fill(0, o, o + 8);
}

/** The 128-bit value of an address given as text, as `flow_rows` gives it (for SQL parameters). */
export function ipValue(text: string): bigint {
  const b = new Uint8Array(16);
  const version = writeIp(b, 0, text);
  const hi = new Uint8Array(8);
  const lo = new Uint8Array(8);
  stageWords(hi, lo, 0, b, 0, version);
  return (
    (new DataView(hi.buffer).getBigUint64(0, true) << 64n) | new DataView(lo.buffer).getBigUint64(0, true)
  );
}

export class DuckDbFlowStore implements FlowStore {
  private nextFlowId = 1;
  /** @internal A live source's rollup merges (rollup.ts), once one has rolled up. */
  merger: RollupMerger | null = null;
  /** AS names this connection's writers wrote (writeOrgs): not written again. */
  readonly writtenOrgs = new Map<number, string>();
  /** The last flow id the writer rolled up, and when (rollUp). */
  private rolledTo = 0;
  private rolledAt = 0;
  private writing = false;

  private constructor(
    readonly db: DuckDbDatabase,
    /** Live sources' Parquet segments (null: an in-memory store, or a reader through the writer). */
    readonly segments: Segments | null,
  ) {}

  /** The directories the store writes to: the database file's and its segments'. */
  directories(): string[] {
    const p = this.db.path;
    if (p === ':memory:' || this.db.remote) return [];
    return [dirname(resolve(p)), ...(this.segments ? [this.segments.dir] : [])];
  }

  static async open(path: string, opts: DatabaseOptions = {}): Promise<DuckDbFlowStore> {
    const db = await DuckDbDatabase.open(path, opts);
    const tables = async (name: string) =>
      (
        await db.all<{ n: number }>(
          "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = $1 AND table_type = 'BASE TABLE'",
          [name],
        )
      )[0].n > 0;
    if (await tables('flows')) {
      await db.close();
      throw new Error(
        `${path}: written by an older coinradar (flows as a table with text addresses), which this version cannot read; rebuild it from its inputs into a new store: coinradar ingest --db NEW.duckdb FILE…`,
      );
    }
    // Stores from before segments kept flows in the table `flow_rows`, now a view over
    // `flow_table` and the segments: renamed in place, nothing copied (docs/data-model.md).
    if (!db.remote && (await tables('flow_rows'))) await db.run('ALTER TABLE flow_rows RENAME TO flow_table');
    // Stores written before tunnel columns get them in place, before flows.sql's views name them.
    // Run only when missing: each ALTER costs ~35 ms even when it has nothing to do.
    if (!db.remote && (await tables('flow_table'))) {
      const [{ n }] = await db.all<{ n: number }>(
        "SELECT count(*)::INTEGER AS n FROM information_schema.columns WHERE table_name = 'flow_table' AND column_name = 'tunnel'",
      );
      if (n === 0) for (const sql of TUNNEL_MIGRATION) await db.run(sql);
    }
    const oldWords =
      !db.remote &&
      (await tables('flow_table')) &&
      (
        await db.all<{ n: number }>(
          "SELECT count(*)::INTEGER AS n FROM information_schema.columns WHERE table_name = 'flow_table' AND column_name = 'src_ip'",
        )
      )[0].n > 0;
    if (oldWords) for (const sql of WORDS_MIGRATION.before) await db.run(sql);
    await db.applySchema('flows.sql');
    if (oldWords) for (const sql of WORDS_MIGRATION.after) await db.run(sql);
    const segments = db.remote || path === ':memory:' ? null : new Segments(db, path);
    await segments?.open();
    const store = new DuckDbFlowStore(db, segments);
    // A crash mid-ingest rolls back its transaction; live sources left incomplete keep what
    // they checkpointed. Either way the next id follows the largest stored one.
    const [row] = await db.all<{ m: number }>('SELECT coalesce(max(id), 0) AS m FROM flow_rows');
    store.nextFlowId = row.m + 1;
    store.rolledTo = row.m;
    store.rolledAt = performance.now();
    // A store without the hourly rollup (or with one of another version) is rolled up whole, once.
    await Rollup.ensure(db, row.m);
    return store;
  }

  /** The same store through a second connection (DuckDbDatabase.reader): for reads beside a writer. */
  async reader(): Promise<DuckDbFlowStore> {
    return new DuckDbFlowStore(await this.db.reader(), null);
  }

  async beginSource(info: SourceInfo, opts: { live?: boolean } = {}): Promise<SourceWriter> {
    if (this.writing) throw new Error('one source at a time per store connection');
    this.writing = true;
    const db = this.db;
    const live = opts.live ?? false;
    if (!live) await db.run('BEGIN TRANSACTION');
    // A live source's merges and checkpoints run beside it from its first commit (RollupMerger).
    else {
      this.merger ??= new RollupMerger(this.db);
      this.merger.ending = false;
    }
    try {
      if (info.fingerprint) {
        // Idempotent re-ingest: the same bytes replace what they produced before.
        const old = await db.all<{ id: number }>('SELECT id FROM sources WHERE fingerprint = $1', [
          info.fingerprint,
        ]);
        for (const { id } of old) {
          await db.run(
            'DELETE FROM flow_payloads WHERE flow_id IN (SELECT id FROM flow_rows WHERE source_id = $1)',
            [id],
          );
          await db.run('DELETE FROM flow_table WHERE source_id = $1', [id]);
          await this.segments?.dropSources([id]);
          await Rollup.dropSource(db, id);
          await db.run('DELETE FROM sources WHERE id = $1', [id]);
        }
      }
      const [{ id }] = await db.all<{ id: number }>("SELECT nextval('source_id_seq')::INTEGER AS id");
      await db.run(
        'INSERT INTO sources (id, name, kind, fingerprint, ingested_at, flows, complete) VALUES ($1, $2, $3, $4, now(), 0, false)',
        [id, info.name, info.kind, info.fingerprint ?? null],
      );
      if (live) {
        // The source row is durable at once; then each checkpoint interval is one transaction,
        // so a live source costs what a file does and a crash loses at most the open interval.
        await db.run('CHECKPOINT');
        await db.run('BEGIN TRANSACTION');
      }
      return new DuckDbSourceWriter(this, id, live);
    } catch (e) {
      if (!live) await db.run('ROLLBACK');
      this.writing = false;
      throw e;
    }
  }

  /** @internal */
  takeFlowIds(n: number): number {
    const first = this.nextFlowId;
    this.nextFlowId += n;
    return first;
  }

  /**
   * @internal Rolls up the flows appended so far (rollup.ts). A file's: inside the writer's open
   * transaction, so the rollup commits with them. A live source's: after a commit, handed to its
   * merger (RollupMerger.rollUpTo), which makes it on its own connection — grouping a million flows
   * in the writer's commit stalled storing for 0.6–0.9 s, long enough to drop flows at 300 k
   * flows/s (docs/benchmarks.md).
   */
  async rollUp(final: boolean, live: boolean): Promise<void> {
    const last = this.nextFlowId - 1;
    // A live source's commits every second are rolled up every few seconds (ROLLUP_LAG): readers
    // group the flows past the rollup themselves (rollupRelation), and a roll-up groups several
    // commits' flows at once — half the rollup's cost on a spread stream (docs/benchmarks.md).
    if (
      !final &&
      last - this.rolledTo < ROLLUP_LAG.flows &&
      performance.now() - this.rolledAt < ROLLUP_LAG.ms
    )
      return;
    const segments = this.segments;
    const relation = (covered: number, db?: DuckDbDatabase) =>
      segments ? segments.relationAfter(covered, db) : Promise.resolve('flow_table_rows');
    if (live && this.merger) this.merger.rollUpTo(last, relation);
    else await Rollup.advance(this.db, last, relation);
    this.rolledTo = last;
    this.rolledAt = performance.now();
  }

  /** @internal */
  finished(): void {
    this.writing = false;
  }

  async flows(q: FlowQuery): Promise<StoredFlow[]> {
    const where = q.where ? `WHERE ${q.where}` : '';
    const order = q.orderBy ?? 'f.first_ms, f.id';
    const limit = q.limit !== undefined ? `LIMIT ${Math.max(0, Math.floor(q.limit))}` : '';
    return this.db.all<StoredFlow>(FLOW_SELECT(where, order, limit));
  }

  async payloads(flowIds: number[]): Promise<Map<number, StoredPayload>> {
    const out = new Map<number, StoredPayload>();
    if (flowIds.length === 0) return out;
    const rows = await this.db.all<{
      flow_id: number;
      fwd: Buffer | null;
      rev: Buffer | null;
      fwd_times: Buffer | null;
      rev_times: Buffer | null;
    }>(
      `SELECT flow_id, fwd, rev, fwd_times, rev_times FROM flow_payloads WHERE flow_id IN (${flowIds.map((n) => Math.floor(n)).join(',')})`,
    );
    for (const r of rows)
      out.set(r.flow_id, { fwd: r.fwd, rev: r.rev, fwdTimes: r.fwd_times, revTimes: r.rev_times });
    return out;
  }

  async summary(opts: { top?: number; where?: string; filter?: string } = {}): Promise<FlowSummary> {
    const top = opts.top ?? 15;
    const base = flowSource(opts.where, opts.filter);
    const [t] = await this.db.all<{ flows: number; packets: number; bytes: number; sources: number }>(
      `SELECT count(*) AS flows, coalesce(sum(packets + rev_packets), 0) AS packets,
              coalesce(sum(bytes + rev_bytes), 0) AS bytes, count(DISTINCT source_id) AS sources FROM ${base}`,
    );
    // A flow counts for each end's country/AS (an internal flow once); shares are of ends, not flows.
    const byEnd = (col: 'country' | 'asn') => `
      SELECT key, count(*) AS flows, sum(p) AS packets, sum(b) AS bytes FROM (
        SELECT src_${col} AS key, packets + rev_packets AS p, bytes + rev_bytes AS b FROM ${base}
        UNION ALL
        SELECT dst_${col} AS key, packets + rev_packets AS p, bytes + rev_bytes AS b FROM ${base}
          WHERE dst_${col} IS DISTINCT FROM src_${col}
      ) GROUP BY key ORDER BY bytes DESC, key LIMIT ${top}`;
    const byCountry = await this.db.all<SummaryRow>(byEnd('country'));
    for (const r of byCountry) {
      r.key = String(r.key || '??');
      r.label = r.key;
    }
    const byAsn = await this.db.all<SummaryRow & { org: string | null }>(
      `SELECT e.*, o.org FROM (${byEnd('asn')}) e LEFT JOIN as_orgs o ON o.asn = e.key ORDER BY e.bytes DESC, e.key`,
    );
    for (const r of byAsn) {
      r.label = Number(r.key) === 0 ? 'unknown' : (r.org ?? '');
      r.key = Number(r.key) === 0 ? '-' : `AS${r.key}`;
    }
    // The service port: the lower of the two for flows without a clear server side.
    const byPort = await this.db.all<SummaryRow>(
      `SELECT proto || '/' || dst_port AS key, count(*) AS flows, sum(packets + rev_packets) AS packets,
              sum(bytes + rev_bytes) AS bytes
       FROM ${base} GROUP BY proto, dst_port ORDER BY bytes DESC, key LIMIT ${top}`,
    );
    const names: Record<string, string> = { '6': 'tcp', '17': 'udp', '1': 'icmp', '58': 'icmp6' };
    for (const r of byPort) {
      const [p, port] = r.key.split('/');
      r.key = `${names[p] ?? p}/${port}`;
      r.label = '';
    }
    return { total: t, byCountry, byAsn, byPort };
  }

  summarize(q: KeyedSummaryQuery): Promise<Map<SummaryKey, SummaryRow[]>> {
    return keyedSummary(this.db, q);
  }

  series(q: SeriesQuery): Promise<SeriesData> {
    return new DuckDbSeries(this.db).series(q);
  }

  hostProfiles(q: HostProfileQuery): Promise<HostProfile[]> {
    return hostProfiles(this.db, q);
  }

  async sources(): Promise<StoredSource[]> {
    return this.db.all<StoredSource>(
      `SELECT id, name, kind, fingerprint, flows, strftime(ingested_at, '%Y-%m-%dT%H:%M:%SZ') AS "ingestedAt", complete
       FROM sources ORDER BY id`,
    );
  }

  async serveReaders(): Promise<string | null> {
    // Readers cannot set tables up through this process: the ones read commands look for exist
    // (empty) before they come.
    if (!this.db.remote) {
      await this.db.applySchema('detections.sql');
      await this.db.applySchema('sanctions.sql');
      await this.db.applySchema('chain.sql');
    }
    return (await this.db.serveReaders())?.path ?? null;
  }

  async close(): Promise<void> {
    await this.merger?.idle();
    await this.db.close();
  }
}

/** ROLLBACK, when a transaction is open: a failed COMMIT has already ended it. */
async function rollBackOpen(db: DuckDbDatabase): Promise<void> {
  try {
    await db.run('ROLLBACK');
  } catch (e) {
    if (!/no transaction is active/i.test(String((e as Error).message))) throw e;
  }
}

class DuckDbSourceWriter implements SourceWriter {
  private appender: DuckDBAppender | null = null;
  private payloadAppender: DuckDBAppender | null = null;
  private flows = 0;
  /** A live source's flows as of its last commit (what a rolled-back interval goes back to). */
  private committedFlows = 0;
  private orgs = new Map<number, string>();
  private done = false;
  private chunk: StagedChunk | null = null;
  /** A live source's current commit interval (null: rows go to flow_table). */
  private readonly segment: SegmentBuilder | null;

  constructor(
    private readonly store: DuckDbFlowStore,
    readonly sourceId: number,
    private readonly live: boolean,
  ) {
    this.segment = live && store.segments ? new SegmentBuilder() : null;
  }

  /** Writes and registers the interval's segment (inside the open transaction). */
  private async writeSegment(): Promise<void> {
    if (this.segment && this.store.segments) await this.store.segments.write(this.segment, this.sourceId);
  }

  private async appenders(): Promise<[DuckDBAppender, DuckDBAppender]> {
    if (!this.appender) this.appender = await this.store.db.conn.createAppender('flow_table');
    if (!this.payloadAppender)
      this.payloadAppender = await this.store.db.conn.createAppender('flow_payloads');
    return [this.appender, this.payloadAppender];
  }

  async append(b: FlowBatch, e: EnrichedColumns): Promise<number> {
    if (b.length === 0) return 0;
    if (this.segment) {
      // A live source: flows go to the interval's segment; payload samples (rare live) to the table.
      // A segment's columns are held in memory until written: bounded in rows, not only in time.
      // Written before a batch would take it past the bound, so its columns never grow past it.
      const seg = this.segment;
      if (seg.rows > 0 && seg.rows + b.length > SEGMENT_MAX_ROWS) await this.writeSegment();
      const firstId = this.store.takeFlowIds(b.length);
      seg.add(b, e, firstId, this.sourceId);
      if (seg.rows >= SEGMENT_MAX_ROWS) await this.writeSegment();
      this.appendPayloads(b, firstId, await this.payloadAppenderOnly());
      this.noteOrgs(e);
      this.flows += b.length;
      return firstId;
    }
    const [a, pa] = await this.appenders();
    const firstId = this.store.takeFlowIds(b.length);
    // Column-wise through data chunks: each column staged in DuckDB's layout and copied in with
    // one native call (chunk.ts); addresses as 128-bit integers, never as text.
    const ch =
      this.chunk ??
      (this.chunk = new StagedChunk(
        FLOW_COLUMNS.map((c) => c[1]),
        FLOW_COLUMNS.map((c) => c[2]),
      ));
    const id = ch.i64(C.id),
      first = ch.i64(C.first_ms),
      last = ch.i64(C.last_ms),
      srcHi = ch.u64(C.src_ip_hi),
      srcLo = ch.u64(C.src_ip_lo),
      dstHi = ch.u64(C.dst_ip_hi),
      dstLo = ch.u64(C.dst_ip_lo),
      ex = ch.varchar(C.exporter),
      sc = ch.varchar(C.src_country),
      dc = ch.varchar(C.dst_country),
      sw = ch.varchar(C.src_watch),
      dw = ch.varchar(C.dst_watch),
      tun = ch.varchar(C.tunnel),
      tid = ch.u32(C.tunnel_id),
      osrcHi = ch.u64(C.outer_src_ip_hi),
      osrcLo = ch.u64(C.outer_src_ip_lo),
      odstHi = ch.u64(C.outer_dst_ip_hi),
      odstLo = ch.u64(C.outer_dst_ip_lo);
    for (let from = 0; from < b.length; from += CHUNK_ROWS) {
      const n = Math.min(CHUNK_ROWS, b.length - from);
      const to = from + n;
      ch.i32(C.source_id).fill(this.sourceId, 0, n);
      ch.f64(C.position).set(b.position.subarray(from, to));
      ch.u8(C.ip_version).set(b.ipVersion.subarray(from, to));
      ch.u16(C.src_port).set(b.srcPort.subarray(from, to));
      ch.u16(C.dst_port).set(b.dstPort.subarray(from, to));
      ch.u8(C.proto).set(b.proto.subarray(from, to));
      ch.f64(C.packets).set(b.packets.subarray(from, to));
      ch.f64(C.bytes).set(b.bytes.subarray(from, to));
      ch.f64(C.rev_packets).set(b.revPackets.subarray(from, to));
      ch.f64(C.rev_bytes).set(b.revBytes.subarray(from, to));
      ch.u8(C.tcp_flags).set(b.tcpFlags.subarray(from, to));
      ch.u32(C.sampling_rate).set(b.samplingRate.subarray(from, to));
      ch.u32(C.observation_domain).set(b.observationDomain.subarray(from, to));
      ch.u32(C.src_asn).set(e.srcAsn.subarray(from, to));
      ch.u32(C.dst_asn).set(e.dstAsn.subarray(from, to));
      ch.u8(C.outer_ip_version).set(b.outerVersion.subarray(from, to));
      for (let k = 0; k < n; k++) {
        const i = from + k;
        setInt64(id, k, firstId + i);
        setInt64(first, k, Math.round(b.firstMs[i]));
        setInt64(last, k, Math.round(b.lastMs[i]));
        stageWords(srcHi, srcLo, k, b.src, i, b.ipVersion[i]);
        stageWords(dstHi, dstLo, k, b.dst, i, b.ipVersion[i]);
        ex.set(k, b.exporters[b.exporterIdx[i]] ?? '');
        sc.set(k, e.srcCountry[i]);
        dc.set(k, e.dstCountry[i]);
        sw.set(k, e.srcWatch[i]);
        dw.set(k, e.dstWatch[i]);
        const ov = b.outerVersion[i];
        if (ov === 0) {
          tun.set(k, '');
          for (const c of NO_TUNNEL_NULLS) ch.setNull(c, k);
        } else {
          tun.set(k, TUNNEL_KINDS[b.tunnel[i]] ?? '');
          if (b.tunnelId[i] >= 0) tid[k] = b.tunnelId[i];
          else ch.setNull(C.tunnel_id, k);
          stageWords(osrcHi, osrcLo, k, b.outerSrc, i, ov);
          stageWords(odstHi, odstLo, k, b.outerDst, i, ov);
        }
      }
      ch.append(a, n);
    }
    this.appendPayloads(b, firstId, pa);
    this.noteOrgs(e);
    this.flows += b.length;
    return firstId;
  }

  private async payloadAppenderOnly(): Promise<DuckDBAppender> {
    if (!this.payloadAppender)
      this.payloadAppender = await this.store.db.conn.createAppender('flow_payloads');
    return this.payloadAppender;
  }

  private payloadChunk: StagedChunk | null = null;

  /** Payload samples, column-wise like the flows (was four appends and an endRow per flow). */
  private appendPayloads(b: FlowBatch, firstId: number, pa: DuckDBAppender): void {
    let ch: StagedChunk | null = null;
    let n = 0;
    for (let i = 0; i < b.length; i++) {
      const pf = b.payloadFwd[i];
      const pr = b.payloadRev[i];
      if (!pf && !pr) continue;
      ch ??= this.payloadChunk ??= new StagedChunk(
        [BIGINT, BLOB, BLOB, BLOB, BLOB],
        ['BIGINT', 'BLOB', 'BLOB', 'BLOB', 'BLOB'],
      );
      setInt64(ch.i64(0), n, firstId + i);
      const blob = (c: number, v: Uint8Array | null) => {
        if (v) ch!.heap(c).setBytes(n, v);
        else ch!.setNull(c, n);
      };
      blob(1, pf);
      blob(2, pr);
      blob(3, b.payloadTimesFwdOf(i));
      blob(4, b.payloadTimesRevOf(i));
      if (++n === CHUNK_ROWS) {
        ch.append(pa, n);
        n = 0;
      }
    }
    if (ch && n > 0) ch.append(pa, n);
  }

  async checkpoint(diagnostics?: Diagnostics): Promise<void> {
    await this.writeSegment();
    if (this.live) this.closeAppenders();
    else {
      this.appender?.flushSync();
      this.payloadAppender?.flushSync();
    }
    await this.writeOrgs();
    if (diagnostics)
      await this.store.db.run('UPDATE sources SET flows = $1, diagnostics = $2 WHERE id = $3', [
        this.flows,
        JSON.stringify(diagnostics.stored()),
        this.sourceId,
      ]);
    else await this.store.db.run('UPDATE sources SET flows = $1 WHERE id = $2', [this.flows, this.sourceId]);
    if (this.live) {
      await this.store.db.run('COMMIT');
      this.committedFlows = this.flows;
      // After the commit: the merger's connection sees these flows once it is made.
      await this.store.rollUp(false, true);
      this.store.merger?.start();
      this.filesReplaced();
      await this.store.db.run('BEGIN TRANSACTION');
    }
  }

  /**
   * The batch's AS names not yet written by this store connection: a live source met the same few
   * thousand ASes in every commit, and writing them all again each second (an upsert through
   * lists of values) cost ~0.2 µs per flow (docs/benchmarks.md).
   */
  private noteOrgs(e: EnrichedColumns): void {
    const written = this.store.writtenOrgs;
    for (const [asn, org] of e.asOrgs) if (written.get(asn) !== org) this.orgs.set(asn, org);
  }

  private async writeOrgs(): Promise<void> {
    if (this.orgs.size === 0) return;
    // One statement for all of them: one INSERT per AS cost ~2 ms each, seconds for a capture
    // whose flows reach thousands of ASes.
    await this.store.db.run(
      `INSERT INTO as_orgs SELECT unnest($1::UINTEGER[]), unnest($2::VARCHAR[])
       ON CONFLICT (asn) DO UPDATE SET org = excluded.org`,
      // The AS numbers as BigInts: a list of numbers takes its type from its first item, so a
      // list that starts with a small AS number is INTEGER[], and a 32-bit AS number past
      // 2^31 - 1 later in it (AS4294967294 is in the packaged data) fails to bind — it stopped a
      // live collector after 27 M flows of a spread stream.
      [listValue([...this.orgs.keys()].map(BigInt)), listValue([...this.orgs.values()])],
    );
    // Bounded by the AS numbers there are (the enricher's table), not by what senders send.
    for (const [asn, org] of this.orgs) this.store.writtenOrgs.set(asn, org);
    this.orgs.clear();
  }

  /**
   * After a commit: delete the segment files that a concatenation it registered replaced. A live
   * source's merger may be reading them in a roll-up that began before the commit, and readers
   * (the reader socket, `serve --collect`) in statements that began before it, so they go once
   * those are over (what begins later reads the concatenation instead).
   */
  private filesReplaced(): void {
    const rm = this.store.segments?.takeReplaced();
    if (!rm) return;
    const merger = this.store.merger;
    this.store.db.reads.afterCurrent(() => (merger ? merger.afterCurrentRun(rm) : rm()));
  }

  /** Flush and close the appenders; `discard`: drop what they hold instead (before a rollback). */
  private closeAppenders(discard = false): void {
    const [a, pa] = [this.appender, this.payloadAppender];
    this.appender = null;
    this.payloadAppender = null;
    if (discard) {
      if (a) discardAppender(a);
      if (pa) discardAppender(pa);
      return;
    }
    try {
      if (a) closeAppender(a);
    } catch (e) {
      if (pa) discardAppender(pa);
      throw e;
    }
    if (pa) closeAppender(pa);
  }

  async commit(diagnostics: Diagnostics): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      await this.writeSegment();
      await this.store.segments?.finish();
      this.closeAppenders();
      await this.writeOrgs();
      await this.store.db.run(
        'UPDATE sources SET flows = $1, complete = true, diagnostics = $2 WHERE id = $3',
        [this.flows, JSON.stringify(diagnostics.stored()), this.sourceId],
      );
      // A file's roll-up commits with its flows; a live source's follows its last commit.
      if (!this.live) await this.store.rollUp(true, false);
      await this.store.db.run('COMMIT');
      if (this.live) await this.store.rollUp(true, true);
      if (this.live && this.store.merger) this.store.merger.ending = true;
      this.store.merger?.start();
      // A source's end leaves its rollup made and merged (a reopened store reads what it left).
      await this.store.merger?.idle();
      this.filesReplaced();
    } finally {
      this.store.finished();
    }
  }

  /**
   * A live source's background work (RollupMerger): merges that failed, hours left unmerged past
   * the bound, checkpoints made and failed. None loses a flow — unmerged rows still add up, a
   * failed checkpoint is tried again — but an operator should see them (the collector's /metrics
   * and /healthz).
   */
  storeCounts(): { counts: Record<string, number>; lastError: string | null } {
    const m = this.store.merger;
    return {
      counts: {
        'rollup.merges-failed': m?.failed ?? 0,
        'rollup.hours-skipped': m?.skipped ?? 0,
        'store.checkpoints': m?.checkpoints ?? 0,
        'store.checkpoints-failed': m?.checkpointsFailed ?? 0,
        'store.checkpoints-deferred': m?.checkpointsDeferred ?? 0,
      },
      lastError: m?.lastError ?? null,
    };
  }

  /** Flows of a failed interval rolled back by a recover() whose new interval is not begun yet. */
  private discarding = -1;

  async recover(cause: unknown): Promise<{ discarded: number; committed: number } | null> {
    if (!this.live || this.done || !isPassingFailure(cause)) throw cause;
    if (this.discarding < 0) {
      // The interval's state here goes at once; the store's when the rollback below has run (an
      // attempt that fails on the way is made again by the next call: each step can be repeated).
      this.closeAppenders(true);
      this.discarding = this.flows - this.committedFlows;
      this.flows = this.committedFlows;
      this.segment?.clear();
      // The AS names written in the interval go with it.
      this.store.writtenOrgs.clear();
    }
    try {
      await rollBackOpen(this.store.db);
      await this.store.segments?.rolledBack();
      // A full disk: not before there is room again (the collector holds what arrives meanwhile).
      if (isDiskFull(cause) && !spaceIsBack(this.store.directories())) return null;
      await this.store.db.run('BEGIN TRANSACTION');
    } catch (e) {
      // Memory or disk space still short: the next call tries again. Anything else (DuckDB
      // "database has been invalidated") ends the source.
      if (isPassingFailure(e)) return null;
      throw e;
    }
    const discarded = this.discarding;
    this.discarding = -1;
    return { discarded, committed: this.committedFlows };
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      this.closeAppenders(true);
      await rollBackOpen(this.store.db);
      this.store.merger?.discard();
      // What this source wrote is gone: write the AS names again when next met.
      this.store.writtenOrgs.clear();
      await this.store.segments?.rolledBack();
    } finally {
      this.store.finished();
    }
  }
}
