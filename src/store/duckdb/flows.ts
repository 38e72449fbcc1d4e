import {
  BIGINT,
  BLOB,
  DOUBLE,
  INTEGER,
  UHUGEINT,
  UINTEGER,
  USMALLINT,
  UTINYINT,
  VARCHAR,
  listValue,
  type DuckDBAppender,
  type DuckDBType,
} from '@duckdb/node-api';
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
import { CHUNK_ROWS, StagedChunk, setInt64, type ColumnKind } from './chunk.js';
import { DuckDbDatabase } from './database.js';
import { SEGMENT_MAX_ROWS, SegmentBuilder, Segments } from './segments.js';
import { flowSource, keyedSummary } from './summary.js';
import type { HostProfile, HostProfileQuery, SeriesData, SeriesQuery } from '../queries.js';
import { DuckDbSeries } from './series.js';
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
const FLOW_COLUMNS: [DuckDBType, ColumnKind][] = [
  [BIGINT, 'BIGINT'], // id
  [INTEGER, 'INTEGER'], // source_id
  [DOUBLE, 'DOUBLE'], // position
  [BIGINT, 'BIGINT'], // first_ms
  [BIGINT, 'BIGINT'], // last_ms
  [UTINYINT, 'UTINYINT'], // ip_version
  [UHUGEINT, 'UHUGEINT'], // src_ip
  [UHUGEINT, 'UHUGEINT'], // dst_ip
  [USMALLINT, 'USMALLINT'], // src_port
  [USMALLINT, 'USMALLINT'], // dst_port
  [UTINYINT, 'UTINYINT'], // proto
  [DOUBLE, 'DOUBLE'], // packets
  [DOUBLE, 'DOUBLE'], // bytes
  [DOUBLE, 'DOUBLE'], // rev_packets
  [DOUBLE, 'DOUBLE'], // rev_bytes
  [UTINYINT, 'UTINYINT'], // tcp_flags
  [UINTEGER, 'UINTEGER'], // sampling_rate
  [VARCHAR, 'VARCHAR'], // exporter
  [UINTEGER, 'UINTEGER'], // observation_domain
  [VARCHAR, 'VARCHAR'], // src_country
  [VARCHAR, 'VARCHAR'], // dst_country
  [UINTEGER, 'UINTEGER'], // src_asn
  [UINTEGER, 'UINTEGER'], // dst_asn
  [VARCHAR, 'VARCHAR'], // src_watch
  [VARCHAR, 'VARCHAR'], // dst_watch
  [VARCHAR, 'VARCHAR'], // tunnel
  [UINTEGER, 'UINTEGER'], // tunnel_id
  [UTINYINT, 'UTINYINT'], // outer_ip_version
  [UHUGEINT, 'UHUGEINT'], // outer_src_ip
  [UHUGEINT, 'UHUGEINT'], // outer_dst_ip
];

/** The tunnel columns of flows.sql's flow_table, added to a store written before them. */
const TUNNEL_MIGRATION = [
  "ALTER TABLE flow_table ADD COLUMN tunnel VARCHAR DEFAULT ''",
  'ALTER TABLE flow_table ADD COLUMN tunnel_id UINTEGER',
  'ALTER TABLE flow_table ADD COLUMN outer_ip_version UTINYINT DEFAULT 0',
  'ALTER TABLE flow_table ADD COLUMN outer_src_ip UHUGEINT',
  'ALTER TABLE flow_table ADD COLUMN outer_dst_ip UHUGEINT',
];

/**
 * An address of a FlowBatch (16 bytes, network order; IPv4 in the first 4) as the UHUGEINT of
 * `flow_table` in DuckDB's memory layout: the 128-bit value little-endian, IPv4 as ::ffff:a.b.c.d.
 */
function stageAddress(out: Uint8Array, row: number, addr: Uint8Array, i: number, version: number): void {
  const o = row * 16;
  const a = i * 16;
  if (version === 6) {
    for (let k = 0; k < 16; k++) out[o + k] = addr[a + 15 - k];
    return;
  }
  out[o] = addr[a + 3];
  out[o + 1] = addr[a + 2];
  out[o + 2] = addr[a + 1];
  out[o + 3] = addr[a];
  out[o + 4] = 0xff;
  out[o + 5] = 0xff;
  out.fill(0, o + 6, o + 16);
}

/** The UHUGEINT value `flow_table` stores for an address given as text (for SQL parameters). */
export function ipValue(text: string): bigint {
  const b = new Uint8Array(16);
  const version = writeIp(b, 0, text);
  const le = new Uint8Array(16);
  stageAddress(le, 0, b, 0, version);
  const v = new DataView(le.buffer);
  return (v.getBigUint64(8, true) << 64n) | v.getBigUint64(0, true);
}

export class DuckDbFlowStore implements FlowStore {
  private nextFlowId = 1;
  private writing = false;

  private constructor(
    readonly db: DuckDbDatabase,
    /** Live sources' Parquet segments (null: an in-memory store, or a reader through the writer). */
    readonly segments: Segments | null,
  ) {}

  static async open(path: string): Promise<DuckDbFlowStore> {
    const db = await DuckDbDatabase.open(path);
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
    await db.applySchema('flows.sql');
    const segments = db.remote || path === ':memory:' ? null : new Segments(db, path);
    await segments?.open();
    const store = new DuckDbFlowStore(db, segments);
    // A crash mid-ingest rolls back its transaction; live sources left incomplete keep what
    // they checkpointed. Either way the next id follows the largest stored one.
    const [row] = await db.all<{ m: number }>('SELECT coalesce(max(id), 0) AS m FROM flow_rows');
    store.nextFlowId = row.m + 1;
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
    await this.db.close();
  }
}

class DuckDbSourceWriter implements SourceWriter {
  private appender: DuckDBAppender | null = null;
  private payloadAppender: DuckDBAppender | null = null;
  private flows = 0;
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
      const firstId = this.store.takeFlowIds(b.length);
      this.segment.add(b, e, firstId, this.sourceId);
      // A segment's columns are held in memory until written: bounded in rows, not only in time.
      if (this.segment.rows >= SEGMENT_MAX_ROWS) await this.writeSegment();
      this.appendPayloads(b, firstId, await this.payloadAppenderOnly());
      for (const [asn, org] of e.asOrgs) this.orgs.set(asn, org);
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
        FLOW_COLUMNS.map((c) => c[0]),
        FLOW_COLUMNS.map((c) => c[1]),
      ));
    const id = ch.i64(0),
      first = ch.i64(3),
      last = ch.i64(4),
      src = ch.u128(6),
      dst = ch.u128(7),
      ex = ch.varchar(17),
      sc = ch.varchar(19),
      dc = ch.varchar(20),
      sw = ch.varchar(23),
      dw = ch.varchar(24),
      tun = ch.varchar(25),
      tid = ch.u32(26),
      osrc = ch.u128(28),
      odst = ch.u128(29);
    for (let from = 0; from < b.length; from += CHUNK_ROWS) {
      const n = Math.min(CHUNK_ROWS, b.length - from);
      const to = from + n;
      ch.i32(1).fill(this.sourceId, 0, n);
      ch.f64(2).set(b.position.subarray(from, to));
      ch.u8(5).set(b.ipVersion.subarray(from, to));
      ch.u16(8).set(b.srcPort.subarray(from, to));
      ch.u16(9).set(b.dstPort.subarray(from, to));
      ch.u8(10).set(b.proto.subarray(from, to));
      ch.f64(11).set(b.packets.subarray(from, to));
      ch.f64(12).set(b.bytes.subarray(from, to));
      ch.f64(13).set(b.revPackets.subarray(from, to));
      ch.f64(14).set(b.revBytes.subarray(from, to));
      ch.u8(15).set(b.tcpFlags.subarray(from, to));
      ch.u32(16).set(b.samplingRate.subarray(from, to));
      ch.u32(18).set(b.observationDomain.subarray(from, to));
      ch.u32(21).set(e.srcAsn.subarray(from, to));
      ch.u32(22).set(e.dstAsn.subarray(from, to));
      ch.u8(27).set(b.outerVersion.subarray(from, to));
      for (let k = 0; k < n; k++) {
        const i = from + k;
        setInt64(id, k, firstId + i);
        setInt64(first, k, Math.round(b.firstMs[i]));
        setInt64(last, k, Math.round(b.lastMs[i]));
        stageAddress(src, k, b.src, i, b.ipVersion[i]);
        stageAddress(dst, k, b.dst, i, b.ipVersion[i]);
        ex.set(k, b.exporters[b.exporterIdx[i]] ?? '');
        sc.set(k, e.srcCountry[i]);
        dc.set(k, e.dstCountry[i]);
        sw.set(k, e.srcWatch[i]);
        dw.set(k, e.dstWatch[i]);
        const ov = b.outerVersion[i];
        if (ov === 0) {
          tun.set(k, '');
          ch.setNull(26, k);
          ch.setNull(28, k);
          ch.setNull(29, k);
        } else {
          tun.set(k, TUNNEL_KINDS[b.tunnel[i]] ?? '');
          if (b.tunnelId[i] >= 0) tid[k] = b.tunnelId[i];
          else ch.setNull(26, k);
          stageAddress(osrc, k, b.outerSrc, i, ov);
          stageAddress(odst, k, b.outerDst, i, ov);
        }
      }
      ch.append(a, n);
    }
    this.appendPayloads(b, firstId, pa);
    for (const [asn, org] of e.asOrgs) this.orgs.set(asn, org);
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
      this.store.segments?.committed();
      await this.store.db.run('BEGIN TRANSACTION');
    }
  }

  private async writeOrgs(): Promise<void> {
    if (this.orgs.size === 0) return;
    // One statement for all of them: one INSERT per AS cost ~2 ms each, seconds for a capture
    // whose flows reach thousands of ASes.
    await this.store.db.run(
      `INSERT INTO as_orgs SELECT unnest($1::UINTEGER[]), unnest($2::VARCHAR[])
       ON CONFLICT (asn) DO UPDATE SET org = excluded.org`,
      [listValue([...this.orgs.keys()]), listValue([...this.orgs.values()])],
    );
    this.orgs.clear();
  }

  private closeAppenders(): void {
    this.appender?.closeSync();
    this.payloadAppender?.closeSync();
    this.appender = null;
    this.payloadAppender = null;
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
      await this.store.db.run('COMMIT');
      this.store.segments?.committed();
    } finally {
      this.store.finished();
    }
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      try {
        this.closeAppenders();
      } catch {
        // the rollback below discards whatever the appenders held
      }
      await this.store.db.run('ROLLBACK');
      await this.store.segments?.resync();
    } finally {
      this.store.finished();
    }
  }
}
