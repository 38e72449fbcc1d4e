/**
 * The flow store on ClickHouse: the FlowStore interface over a server (or chDB). Inserts go out as
 * TabSeparated batches of up to INSERT_BYTES; a source's flows become visible when it completes
 * (file sources) or as each batch lands (live sources), and a re-ingested file's old flows are
 * hidden at once by its `sources` row and removed by ALTER … DELETE (schema.sql says why).
 */
import type { Diagnostics } from '../../flow/diagnostics.js';
import type { EnrichedColumns } from '../../flow/enrichment.js';
import type { FlowBatch } from '../../flow/record.js';
import { keyedRow } from '../summary-rows.js';
import type {
  FlowQuery,
  FlowStore,
  FlowSummary,
  KeyedSummaryQuery,
  SourceInfo,
  SourceWriter,
  StoredFlow,
  StoredPayload,
  StoredSource,
  SummaryKey,
  SummaryRow,
  Uncommitted,
} from '../store.js';
import { StoreNotReady } from '../store.js';
import { isPassingFailure } from '../passing-failures.js';
import { storeTimeoutMs, unbounded } from '../request-timeout.js';
import { connect, lit, str, withCluster, type ChConnection, type ClickHouseTarget } from './connection.js';
import { BLOCK, IdClaims } from './ids.js';
import { clusterOfTables, clusterStatements, schemaStatements } from './schema.js';
import { TsvBuilder } from './tsv.js';
import { RowBinaryBuilder } from './rowbinary.js';
import { hostProfiles, refuseFilter, scopeSql, series } from './queries.js';
import type { HostProfile, HostProfileQuery, SeriesData, SeriesQuery } from '../queries.js';

/** Flush a writer's rows once this many bytes of TSV are staged (ClickHouse wants big inserts). */
const INSERT_BYTES = 16 << 20;
/** How long a delete is waited for before DeleteStillRunning (deleteWhere), outside withStoreTimeout. */
const DELETE_WAIT_MS = 600_000;

/**
 * A delete (an ALTER … DELETE mutation) still running when its wait ended: left to finish on the
 * server; a failure that passes (its words match isUnreachable's "server busy" case).
 */
export class DeleteStillRunning extends Error {
  override name = 'DeleteStillRunning';
}

/** How long recovery waits for inserts given up on to end, outside withStoreTimeout (settleGivenUp). */
const DEFAULT_SETTLE_MS = 10_000;

/** The sources whose flows are visible (schema.sql). */
export const VISIBLE_SOURCES =
  'SELECT id FROM sources FINAL WHERE dropped = 0 AND (complete = 1 OR live = 1)';
/** The stored flows that count: those of visible sources. */
export const FLOW_ROWS = `(SELECT * FROM flow_table WHERE source_id IN (${VISIBLE_SOURCES}))`;

/** Address text as coinradar prints it: dotted IPv4, ::ffff:a.b.c.d for mapped IPv6, RFC 5952. */
export const ipText = (col: string, ver: string) =>
  `if(${ver} = 4, substring(IPv6NumToString(${col}), 8), IPv6NumToString(${col}))`;

/**
 * Every flow with its text columns (src, dst, source) beside the stored ones, so that --where
 * speaks the column names of the schema as on DuckDB.
 */
export const FLOWS_VIEW = `(SELECT *, ${ipText('src_ip', 'ip_version')} AS src, ${ipText('dst_ip', 'ip_version')} AS dst
  FROM flow_table ANY LEFT JOIN (SELECT id AS source_id, name AS source FROM sources FINAL) AS s USING source_id
  WHERE source_id IN (${VISIBLE_SOURCES}))`;

/**
 * The flows that count as a FROM clause with its WHERE (callers add ` AND …`), for a query that
 * aggregates in the same SELECT: on a cluster the Distributed table then aggregates on each shard
 * and merges the partial states, where a subquery (FLOW_ROWS) streams every row to the server
 * asked. With a --where (which may name the text columns src, dst, source): the text view.
 */
export const flowScan = (where?: string) =>
  where
    ? `(SELECT * FROM ${FLOWS_VIEW} WHERE ${where}) WHERE 1`
    : `flow_table WHERE source_id IN (${VISIBLE_SOURCES})`;

/**
 * Flows by a value of either end (country, AS), as summary.ts counts them: at the source's value,
 * and at the destination's where it differs. Each end aggregates in its own SELECT (see flowScan).
 */
function eitherEnd(scan: string, col: 'country' | 'asn', key: string): string {
  const counters = 'count() AS n, sum(packets + rev_packets) AS p, sum(bytes + rev_bytes) AS b';
  return `SELECT ${key}, sum(n) AS flows, sum(p) AS packets, sum(b) AS bytes FROM (
      SELECT src_${col} AS ${key}, ${counters} FROM ${scan} GROUP BY ${key}
      UNION ALL
      SELECT dst_${col} AS ${key}, ${counters} FROM ${scan} AND dst_${col} != src_${col} GROUP BY ${key}
    ) GROUP BY ${key}`;
}

const FLOW_COLUMNS = [
  'id',
  'source_id',
  'position',
  'first_ms',
  'last_ms',
  'ip_version',
  'src_ip',
  'dst_ip',
  'src_port',
  'dst_port',
  'proto',
  'packets',
  'bytes',
  'rev_packets',
  'rev_bytes',
  'tcp_flags',
  'sampling_rate',
  'exporter',
  'observation_domain',
  'src_country',
  'dst_country',
  'src_asn',
  'dst_asn',
  'src_watch',
  'dst_watch',
] as const;

const SOURCE_COLUMNS = [
  'id',
  'name',
  'kind',
  'fingerprint',
  'ingested_at',
  'flows',
  'complete',
  'live',
  'dropped',
  'diagnostics',
  'version',
];

/** Epoch ms as the ISO text DuckDB's strftime gives ('%Y-%m-%dT%H:%M:%S.%gZ'). */
export const isoMs = (ms: number) => new Date(ms).toISOString();

const MAPPED = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);

/**
 * The 16 stored bytes of an address of a FlowBatch (network order, IPv4 as ::ffff:a.b.c.d): the
 * batch's own array for IPv6 (the row at i * 16), else `scratch` filled (at 0).
 */
function addressBytes(addr: Uint8Array, i: number, version: number, scratch: Uint8Array): Uint8Array {
  if (version === 6) return addr;
  scratch.set(MAPPED, 0);
  scratch.set(addr.subarray(i * 16, i * 16 + 4), 12);
  return scratch;
}

/** Monotonic row versions for the ReplacingMergeTree tables (several per millisecond). */
let lastVersion = 0;
function nextVersion(): number {
  lastVersion = Math.max(lastVersion + 1, Date.now() * 1000);
  return lastVersion;
}

export class ClickHouseFlowStore implements FlowStore {
  /** Flow ids this connection owns and has not used: [nextFlowId, endFlowId) (ids.ts). */
  private nextFlowId = 0;
  private endFlowId = 0;
  private writing = false;
  /** The schema is there (read commands refuse a store without it; writes create it). */
  private ready: boolean;
  private readonly ids: IdClaims;
  /** Every shard's connection (this one for one server): DDL and mutations run on each. */
  private shardConns: ChConnection[] | null = null;

  private constructor(
    private readonly raw: ChConnection,
    private readonly target: ClickHouseTarget,
    /** The cluster name, or null on one server. */
    readonly cluster: string | null,
    ready: boolean,
  ) {
    this.ready = ready;
    this.ids = new IdClaims(raw);
    // Reads through a guard: a database without the schema answers with what to do, not with
    // "table doesn't exist" (and read commands never create it). A long-lived reader (serve) looks
    // again, so that it answers once a writer elsewhere has made the store.
    const guard = async () => {
      if (this.ready) return;
      const tables = await raw.tables();
      if (tables.has('flow_table') && tables.has('sources')) this.ready = true;
      else throw this.noSchema();
    };
    this.conn = {
      ...raw,
      rows: async (sql) => {
        await guard();
        return raw.rows(sql);
      },
      command: async (sql) => {
        await guard();
        return raw.command(sql);
      },
    };
  }

  /** The connection the queries use. */
  readonly conn: ChConnection;

  /**
   * Open the store at a clickhouse:// or chdb: URL. Nothing is created here: the first write
   * (a source, detections) creates the database and tables, so a read of a database without
   * them says so. A store made on a cluster is read through its Distributed tables with or
   * without `cluster=`; one made on one server refuses a cluster and the other way round.
   */
  static async open(db: string): Promise<ClickHouseFlowStore> {
    let { conn, target } = await connect(db);
    try {
      let tables = await conn.tables();
      let made = tables.has('flow_table') ? clusterOfTables(tables) : undefined;
      if (made && !target.cluster) {
        // Made on a cluster and opened without naming it: the cluster's settings are wanted.
        await conn.close();
        ({ conn, target } = await connect(withCluster(db, made)));
        tables = await conn.tables();
        made = clusterOfTables(tables);
      }
      if (made === null && target.cluster)
        throw new Error(
          `${conn.display}: database ${conn.database} was made on one server (its flow_table is not Distributed); open it without a cluster`,
        );
      if (made && target.cluster && made !== target.cluster)
        throw new Error(
          `${conn.display}: database ${conn.database} is on cluster ${made}, not ${target.cluster}`,
        );
      const cluster = made || target.cluster || null;
      const ready = tables.has('flow_table') && tables.has('sources');
      return new ClickHouseFlowStore(conn, target, cluster, ready);
    } catch (e) {
      await conn.close();
      throw e;
    }
  }

  get display(): string {
    return this.conn.display;
  }

  private noSchema(): Error {
    return new StoreNotReady(
      `${this.display}: no coinradar store in database ${this.raw.database} (read commands never create one; ingest or collect into it first)`,
    );
  }

  /**
   * The connections of every shard of the cluster (system.clusters; each host at this URL's
   * port, the same user), or this one alone on one server.
   */
  private async shards(): Promise<ChConnection[]> {
    if (this.shardConns) return this.shardConns;
    if (!this.cluster) return (this.shardConns = [this.raw]);
    const hosts = await this.raw.systemRows<{ host: string; local: number; shard: number; replica: number }>(
      `SELECT host_name AS host, is_local AS local, shard_num AS shard, replica_num AS replica
       FROM system.clusters WHERE cluster = ${str(this.cluster)} ORDER BY shard_num, replica_num`,
    );
    if (hosts.length === 0)
      throw new Error(
        `${this.display}: the server has no cluster ${this.cluster} (remote_servers in its config)`,
      );
    if (hosts.some((h) => Number(h.replica) > 1))
      throw new Error(
        `${this.display}: cluster ${this.cluster} has replicas; the local tables are MergeTree, not ReplicatedMergeTree (not done): give a cluster of one replica per shard`,
      );
    const out: ChConnection[] = [];
    try {
      for (const h of hosts) {
        if (Number(h.local) === 1) out.push(this.raw);
        else if (this.raw.onHost) out.push(await this.raw.onHost(h.host));
        else
          throw new Error(
            `${this.display}: shard ${h.shard} (${h.host}) is not this process (chDB reaches no other host)`,
          );
      }
    } catch (e) {
      for (const c of out) if (c !== this.raw) await c.close();
      throw e;
    }
    return (this.shardConns = out);
  }

  /**
   * Create the database and tables if they are not there (the first write of a store): on a
   * cluster, on every shard — ON CLUSTER would need ZooKeeper (18.16's distributed DDL), so the
   * statements go to each shard of system.clusters in turn.
   */
  async ensureSchema(): Promise<void> {
    if (this.ready && this.schemaDone) return;
    const o = { ttlDays: this.target.ttlDays };
    for (const c of await this.shards()) {
      await c.createDatabase();
      const statements = this.cluster
        ? clusterStatements(c.version, this.cluster, c.database, o)
        : schemaStatements(c.version, o);
      for (const s of statements) await c.command(s);
    }
    this.ready = true;
    this.schemaDone = true;
  }
  /** ensureSchema ran on this connection (tables added to schema.sql since are created too). */
  private schemaDone = false;

  /** Inserts given up on (no answer in time) not yet known to have ended on the server. */
  private givenUp: string[] = [];

  /**
   * Inserts this store gave up on (request-timeout.ts: no answer in time) may still run on the
   * server: a slow one that had the whole body commits it after the client left. They are told to
   * stop (KILL QUERY) and waited for on every shard, up to `waitMs`, so that the rows of an
   * interval deleted next are all there to delete. One stuck reading a body the network cut off
   * (the server waits for the rest until its own receive timeout) cannot write a row: an insert
   * writes its block when the body ends (INSERT_BYTES holds far fewer than the 1,048,576 rows of one), so it is not waited
   * for past `waitMs`. Throws (the ids kept for the next try) when the server cannot be asked.
   */
  async settleGivenUp(waitMs: number): Promise<void> {
    this.givenUp.push(...(this.raw.takeTimedOut?.() ?? []));
    if (this.givenUp.length === 0) return;
    const ids = this.givenUp.map(str).join(', ');
    const shards = await this.shards();
    for (const c of shards) await c.command(`KILL QUERY WHERE initial_query_id IN (${ids}) ASYNC`);
    const until = Date.now() + waitMs;
    for (const c of shards)
      for (;;) {
        const [m] = await c.systemRows<{ n: number }>(
          `SELECT count() AS n FROM system.processes WHERE initial_query_id IN (${ids})`,
        );
        if (Number(m.n) === 0 || Date.now() > until) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    this.givenUp = [];
  }

  /**
   * Deletes the flows of `u` and what names them (artifacts, detections, payloads): flow ids are
   * the writer's own blocks, so nothing else matches; deleting them again finds nothing.
   */
  async discardUncommitted(u: Uncommitted): Promise<void> {
    if (u.ids.length === 0) return;
    // Within a bound (request-timeout.ts) the server is asked first whether it answers at all; the
    // deletes then run without it: their counts read the whole flow table (its key does not begin
    // with the id), which on a large store takes longer than any bound meant for an insert, and a
    // bound would then fail every try. (A link cut after the question holds this try for the
    // client's own timeout; the collector holds what arrives meanwhile.)
    const bound = storeTimeoutMs();
    if (bound) await this.raw.systemRows('SELECT 1');
    // Each delete is waited for up to the bound (or DELETE_WAIT_MS), then left running on the
    // server: the next try waits for it rather than begin another (deleteWhere).
    await unbounded(() => this.discardRuns(u, bound ?? DELETE_WAIT_MS));
  }

  private async discardRuns(u: Uncommitted, waitMs: number): Promise<void> {
    const runs = (col: string) => {
      const parts: string[] = [];
      for (let k = 0; k < u.ids.length; k += 2)
        parts.push(`(${col} >= ${lit(u.ids[k])} AND ${col} < ${lit(u.ids[k + 1])})`);
      return parts.join(' OR ');
    };
    await this.deleteWhere('artifacts', runs('flow_id'), waitMs);
    await this.deleteWhere('detections', runs('flow_id'), waitMs);
    await this.deleteWhere('flow_payloads', runs('flow_id'), waitMs);
    await this.deleteWhere('flow_table', `source_id = ${lit(u.sourceId)} AND (${runs('id')})`, waitMs);
  }

  /**
   * Run an ALTER … DELETE and wait for it (18.16 has no mutations_sync), up to `waitMs` (default
   * 10 minutes); past it a DeleteStillRunning error (a failure that passes: the server is busy) is
   * thrown and the mutation left to finish on the server. A mutation of the table still running (an
   * earlier call's) is waited for first, and the rows counted after it, so one is never begun twice
   * for the same rows. (A delete rewrites only the parts holding a matching row, the others are
   * hard-linked: docs/clickhouse.md, "What the delete costs".) On a cluster the mutation runs on each shard's local table (a Distributed table
   * has none).
   */
  async deleteWhere(table: string, where: string, waitMs = DELETE_WAIT_MS): Promise<void> {
    const local = this.cluster ? `${table}_local` : table;
    const shards = await this.shards();
    const until = Date.now() + waitMs;
    await this.mutationsDone(shards, local, until);
    const [n] = await this.conn.rows<{ n: number }>(`SELECT count() AS n FROM ${table} WHERE ${where}`);
    if (Number(n.n) === 0) return;
    for (const c of shards) await c.command(`ALTER TABLE ${local} DELETE WHERE ${where}`);
    await this.mutationsDone(shards, local, until);
  }

  /** Waits until no mutation of `local` runs on any shard, or throws DeleteStillRunning at `until`. */
  private async mutationsDone(shards: ChConnection[], local: string, until: number): Promise<void> {
    for (const c of shards)
      for (;;) {
        const [m] = await c.rows<{ n: number }>(
          `SELECT count() AS n FROM system.mutations WHERE database = currentDatabase() AND table = ${str(local)} AND is_done = 0`,
        );
        if (Number(m.n) === 0) break;
        if (Date.now() > until)
          throw new DeleteStillRunning(`${c.display}: ALTER TABLE ${local} DELETE still running`);
        await new Promise((r) => setTimeout(r, 50));
      }
  }

  /**
   * Remove the flows, payload samples, detections and artifacts of these (already hidden)
   * sources. Detections first: they are found through their flows.
   */
  async dropSources(ids: number[]): Promise<void> {
    const list = ids.map(lit).join(',');
    const ofFlows = `flow_id IN (SELECT id FROM flow_table WHERE source_id IN (${list}))`;
    await this.deleteWhere('artifacts', ofFlows);
    await this.deleteWhere('detections', ofFlows);
    await this.deleteWhere('flow_payloads', `source_id IN (${list})`);
    await this.deleteWhere('flow_table', `source_id IN (${list})`);
  }

  /**
   * @internal A query on each shard by itself (its local tables are `NAME_local`; on one server
   * the one answer): the tests and the bench check where rows landed.
   */
  async eachShard<T = Record<string, unknown>>(sql: string): Promise<T[][]> {
    const out: T[][] = [];
    for (const c of await this.shards()) out.push(await c.rows<T>(sql));
    return out;
  }

  /** @internal A new version of a source's row. */
  async putSource(s: {
    id: number;
    name: string;
    kind: string;
    fingerprint: string | null;
    ingestedAt: number;
    flows: number;
    complete: boolean;
    live: boolean;
    dropped: boolean;
    diagnostics: string;
  }): Promise<void> {
    const t = new TsvBuilder();
    t.num(s.id).tab().str(s.name).tab().str(s.kind).tab();
    if (s.fingerprint === null) t.null();
    else t.str(s.fingerprint);
    t.tab()
      .num(Math.floor(s.ingestedAt / 1000))
      .tab()
      .num(s.flows)
      .tab()
      .num(s.complete ? 1 : 0)
      .tab()
      .num(s.live ? 1 : 0)
      .tab()
      .num(s.dropped ? 1 : 0)
      .tab()
      .str(s.diagnostics)
      .tab()
      .num(nextVersion())
      .end();
    await this.conn.insertTsv('sources', SOURCE_COLUMNS, Buffer.from(t.take()));
  }

  async beginSource(info: SourceInfo, opts: { live?: boolean } = {}): Promise<SourceWriter> {
    if (this.writing) throw new Error('one source at a time per store connection');
    this.writing = true;
    try {
      await this.ensureSchema();
      const id = await this.ids.claim('source', 1, 0);
      const w = new ClickHouseSourceWriter(this, id, info, opts.live ?? false);
      await w.put(false);
      return w;
    } catch (e) {
      this.writing = false;
      throw e;
    }
  }

  /**
   * @internal The first of `n` consecutive flow ids for this source. The rest of the block
   * claimed last is used first; when it is too short, more blocks are claimed — and when they
   * follow it (no other writer in between), the run goes on without a gap.
   */
  async takeFlowIds(n: number, sourceId: number): Promise<number> {
    if (this.endFlowId - this.nextFlowId < n) {
      const need = n - (this.endFlowId - this.nextFlowId);
      const count = Math.ceil(need / BLOCK);
      const block = await this.ids.claim('flow', count, sourceId);
      if (block * BLOCK !== this.endFlowId || this.endFlowId === 0) this.nextFlowId = block * BLOCK;
      // Id 0 is never given (ids start at 1 as on DuckDB).
      if (this.nextFlowId === 0) this.nextFlowId = 1;
      this.endFlowId = (block + count) * BLOCK;
      if (this.endFlowId - this.nextFlowId < n) return this.takeFlowIds(n, sourceId);
    }
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
    const rows = await this.conn.rows<Record<string, unknown>>(
      `SELECT f.id AS id, f.first_ms AS first_ms, f.last_ms AS last_ms, f.ip_version AS ip_version, f.src AS src,
              f.src_port AS sport, f.dst AS dst, f.dst_port AS dport, f.proto AS proto, f.packets AS packets,
              f.bytes AS bytes, f.rev_packets AS rev_packets, f.rev_bytes AS rev_bytes, f.tcp_flags AS tcp_flags,
              f.sampling_rate AS sampling_rate, f.exporter AS exporter, f.observation_domain AS observation_domain,
              f.src_country AS src_country, f.dst_country AS dst_country, f.src_asn AS src_asn,
              f.dst_asn AS dst_asn, f.src_watch AS src_watch, f.dst_watch AS dst_watch, f.source AS source,
              f.position AS position
       FROM ${FLOWS_VIEW} AS f ${where} ORDER BY ${order} ${limit}`,
    );
    return rows.map(storedFlow);
  }

  async payloads(flowIds: number[]): Promise<Map<number, StoredPayload>> {
    const out = new Map<number, StoredPayload>();
    if (flowIds.length === 0) return out;
    // Binary samples come back as hex: JSON output would mangle bytes that are not UTF-8.
    const rows = await this.conn.rows<Record<string, string | null | number>>(
      `SELECT flow_id, if(isNull(fwd), NULL, hex(assumeNotNull(fwd))) AS fwd, if(isNull(rev), NULL, hex(assumeNotNull(rev))) AS rev,
              if(isNull(fwd_times), NULL, hex(assumeNotNull(fwd_times))) AS fwd_times,
              if(isNull(rev_times), NULL, hex(assumeNotNull(rev_times))) AS rev_times
       FROM flow_payloads WHERE flow_id IN (${flowIds.map((n) => lit(Math.floor(n))).join(',')}) ORDER BY flow_id`,
    );
    const b = (v: unknown) => (v === null || v === undefined ? null : Buffer.from(String(v), 'hex'));
    for (const r of rows)
      out.set(Number(r.flow_id), {
        fwd: b(r.fwd),
        rev: b(r.rev),
        fwdTimes: b(r.fwd_times),
        revTimes: b(r.rev_times),
      });
    return out;
  }

  async summary(opts: { top?: number; where?: string; filter?: string } = {}): Promise<FlowSummary> {
    refuseFilter(opts.filter);
    const top = lit(Math.trunc(opts.top ?? 15));
    const scan = flowScan(opts.where);
    const [t] = await this.conn.rows<Record<string, number>>(
      `SELECT count() AS flows, sum(packets + rev_packets) AS packets, sum(bytes + rev_bytes) AS bytes,
              uniqExact(source_id) AS sources FROM ${scan}`,
    );
    const total = {
      flows: Number(t.flows),
      packets: Number(t.packets),
      bytes: Number(t.bytes),
      sources: Number(t.sources),
    };
    const byEnd = (col: 'country' | 'asn') =>
      `${eitherEnd(scan, col, 'key')} ORDER BY bytes DESC, key LIMIT ${top}`;
    // Rows with DuckDB's keys in DuckDB's order, so that JSON output is the same on both engines.
    const counters = (r: Record<string, unknown>) => ({
      flows: Number(r.flows),
      packets: Number(r.packets),
      bytes: Number(r.bytes),
    });
    const byCountry: SummaryRow[] = (await this.conn.rows<Record<string, unknown>>(byEnd('country'))).map(
      (r) => {
        const key = String(r.key || '??');
        return { key, ...counters(r), label: key };
      },
    );
    const asnRows = await this.conn.rows<Record<string, unknown>>(byEnd('asn'));
    const orgs = await this.orgs(asnRows.map((r) => Number(r.key)));
    const byAsn: SummaryRow[] = asnRows.map((r) => {
      const asn = Number(r.key);
      const org = orgs.get(asn) ?? null;
      return {
        key: asn === 0 ? '-' : `AS${asn}`,
        ...counters(r),
        org,
        label: asn === 0 ? 'unknown' : (org ?? ''),
      };
    });
    const names: Record<string, string> = { '6': 'tcp', '17': 'udp', '1': 'icmp', '58': 'icmp6' };
    const byPort: SummaryRow[] = (
      await this.conn.rows<Record<string, unknown>>(
        `SELECT concat(toString(proto), '/', toString(dst_port)) AS key, count() AS flows,
                sum(packets + rev_packets) AS packets, sum(bytes + rev_bytes) AS bytes
         FROM ${scan} GROUP BY proto, dst_port ORDER BY bytes DESC, key LIMIT ${top}`,
      )
    ).map((r) => {
      const [p, port] = String(r.key).split('/');
      return { key: `${names[p] ?? p}/${port}`, ...counters(r), label: '' };
    });
    return { total, byCountry, byAsn, byPort };
  }

  /** Organisation names of these ASes (the newest name of each). */
  async orgs(asns: number[]): Promise<Map<number, string>> {
    const list = asns.filter((n) => n > 0);
    if (list.length === 0) return new Map();
    const rows = await this.conn.rows<{ asn: number; org: string }>(
      `SELECT asn, org FROM as_orgs FINAL WHERE asn IN (${list.map(lit).join(',')})`,
    );
    return new Map(rows.map((r) => [Number(r.asn), r.org]));
  }

  async summarize(q: KeyedSummaryQuery): Promise<Map<SummaryKey, SummaryRow[]>> {
    const top = Math.max(1, Math.trunc(q.top ?? 15));
    const order = q.order ?? 'bytes';
    if (!['flows', 'packets', 'bytes'].includes(order))
      throw new Error(`order must be flows, packets or bytes, not ${order}`);
    refuseFilter(q.filter);
    // A structured scope (scopeSql gives " AND a AND b") joins the analyst's where (1, not TRUE:
    // 18.16 has no boolean literals).
    const scoped = q.scope ? `1${scopeSql(q.scope)}` : '';
    const from = flowScan(
      [q.where, scoped]
        .filter(Boolean)
        .map((c) => `(${c})`)
        .join(' AND ') || undefined,
    );
    const out = new Map<SummaryKey, SummaryRow[]>();
    const COUNTERS =
      'count() AS flows, sum(packets + rev_packets) AS packets, sum(bytes + rev_bytes) AS bytes';
    const rank = `ORDER BY ${order} DESC, k1, k2 LIMIT ${top}`;
    for (const key of q.by) {
      if (out.has(key)) continue;
      let sql: string;
      switch (key) {
        case 'dport':
        case 'sport': {
          const col = key === 'dport' ? 'dst_port' : 'src_port';
          sql = `SELECT proto AS k1, ${col} AS k2, ${COUNTERS} FROM ${from} GROUP BY proto, ${col} ${rank}`;
          break;
        }
        case 'proto':
          sql = `SELECT proto AS k1, 0 AS k2, ${COUNTERS} FROM ${from} GROUP BY proto ${rank}`;
          break;
        case 'src':
        case 'dst': {
          const col = key === 'src' ? 'src_ip' : 'dst_ip';
          sql = `SELECT ${ipText('k1', 'k2')} AS k1, k2, flows, packets, bytes FROM (
                   SELECT ${col} AS k1, ip_version AS k2, ${COUNTERS} FROM ${from} GROUP BY ${col}, ip_version ${rank})
                 ORDER BY ${order} DESC, k1`;
          break;
        }
        case 'country':
        case 'asn':
          sql = `SELECT k1, 0 AS k2, flows, packets, bytes FROM (${eitherEnd(from, key, 'k1')}) ${rank}`;
          break;
      }
      const rows = await this.conn.rows<{
        k1: unknown;
        k2: unknown;
        flows: number;
        packets: number;
        bytes: number;
      }>(sql);
      const orgs = key === 'asn' ? await this.orgs(rows.map((r) => Number(r.k1))) : new Map<number, string>();
      out.set(
        key,
        rows.map((r) => keyedRow(key, r, orgs)),
      );
    }
    return out;
  }

  series(q: SeriesQuery): Promise<SeriesData> {
    return series(this.conn, q);
  }

  hostProfiles(q: HostProfileQuery): Promise<HostProfile[]> {
    return hostProfiles(this.conn, q);
  }

  async sources(): Promise<StoredSource[]> {
    const rows = await this.conn.rows<Record<string, unknown>>(
      `SELECT id, name, kind, fingerprint, flows, toUnixTimestamp(ingested_at) AS t, complete
       FROM sources FINAL WHERE dropped = 0 ORDER BY id`,
    );
    return rows.map((r) => ({
      id: Number(r.id),
      name: String(r.name),
      kind: String(r.kind),
      fingerprint: r.fingerprint === null ? null : String(r.fingerprint),
      flows: Number(r.flows),
      ingestedAt: new Date(Number(r.t) * 1000).toISOString().replace('.000Z', 'Z'),
      complete: Number(r.complete) === 1,
    }));
  }

  async serveReaders(): Promise<string | null> {
    // The server serves every reader itself.
    return null;
  }

  async close(): Promise<void> {
    for (const c of this.shardConns ?? []) if (c !== this.raw) await c.close();
    await this.raw.close();
  }
}

const NUMERIC = [
  'id',
  'ip_version',
  'sport',
  'dport',
  'proto',
  'packets',
  'bytes',
  'rev_packets',
  'rev_bytes',
  'tcp_flags',
  'sampling_rate',
  'observation_domain',
  'src_asn',
  'dst_asn',
  'position',
] as const;

/** A result row of FLOWS_VIEW as the StoredFlow shape, in DuckDB's key order. */
export function storedFlow(r: Record<string, unknown>): StoredFlow {
  for (const k of NUMERIC) r[k] = Number(r[k]);
  const { first_ms, last_ms, ...rest } = r;
  const f = { id: rest.id, first: isoMs(Number(first_ms)), last: isoMs(Number(last_ms)), ...rest };
  return f as unknown as StoredFlow;
}

class ClickHouseSourceWriter implements SourceWriter {
  private flows = 0;
  /** Flows as of the last checkpoint the server acknowledged. */
  private committedFlows = 0;
  /** Flow ids given out since then: [first, end) runs, within this writer's own id blocks. */
  private intervalIds: number[] = [];
  /** Flows of a failed interval whose recover() has not finished yet; -1 when none. */
  private discarding = -1;
  private done = false;
  private readonly rows = new TsvBuilder();
  /** Flow rows as RowBinary where the engine takes it (a server), else as TSV (`rows`). */
  private readonly binary: RowBinaryBuilder | null;
  private readonly payloadRows = new TsvBuilder();
  private readonly orgs = new Map<number, string>();
  private readonly scratch = new Uint8Array(16);
  private readonly startedAt = Date.now();
  private diagnostics = '';

  constructor(
    private readonly store: ClickHouseFlowStore,
    readonly sourceId: number,
    private readonly info: SourceInfo,
    private readonly live: boolean,
  ) {
    this.binary = store.conn.insertRowBinary ? new RowBinaryBuilder() : null;
  }

  /** @internal A new version of this source's row. */
  put(complete: boolean, dropped = false): Promise<void> {
    return this.store.putSource({
      id: this.sourceId,
      name: this.info.name,
      kind: this.info.kind,
      fingerprint: this.info.fingerprint ?? null,
      ingestedAt: this.startedAt,
      flows: this.flows,
      complete,
      live: this.live,
      dropped,
      diagnostics: this.diagnostics,
    });
  }

  async append(b: FlowBatch, e: EnrichedColumns): Promise<number> {
    if (b.length === 0) return 0;
    const firstId = await this.store.takeFlowIds(b.length, this.sourceId);
    const ids = this.intervalIds;
    if (ids.length > 0 && ids[ids.length - 1] === firstId) ids[ids.length - 1] = firstId + b.length;
    else ids.push(firstId, firstId + b.length);
    if (this.binary) this.appendBinary(this.binary, b, e, firstId);
    else this.appendTsv(this.rows, b, e, firstId);
    for (let i = 0; i < b.length; i++) {
      const pf = b.payloadFwd[i];
      const pr = b.payloadRev[i];
      if (!pf && !pr) continue;
      const p = this.payloadRows;
      const blob = (x: Uint8Array | null) => (x ? p.bytes(x) : p.null());
      p.num(firstId + i)
        .tab()
        .num(this.sourceId)
        .tab();
      blob(pf).tab();
      blob(pr).tab();
      blob(b.payloadTimesFwdOf(i)).tab();
      blob(b.payloadTimesRevOf(i)).end();
    }
    for (const [asn, org] of e.asOrgs) this.orgs.set(asn, org);
    this.flows += b.length;
    const staged = Math.max(this.rows.length, this.binary?.length ?? 0, this.payloadRows.length);
    if (staged >= INSERT_BYTES) await this.flush();
    return firstId;
  }

  /** The batch's flow rows as TabSeparated, in FLOW_COLUMNS order. */
  private appendTsv(t: TsvBuilder, b: FlowBatch, e: EnrichedColumns, firstId: number): void {
    const s = this.scratch;
    for (let i = 0; i < b.length; i++) {
      const v = b.ipVersion[i];
      t.num(firstId + i)
        .tab()
        .num(this.sourceId)
        .tab()
        .num(b.position[i])
        .tab();
      t.num(Math.round(b.firstMs[i])).tab().num(Math.round(b.lastMs[i])).tab().num(v).tab();
      t.bytes(addressBytes(b.src, i, v, s), v === 6 ? i * 16 : 0, 16).tab();
      t.bytes(addressBytes(b.dst, i, v, s), v === 6 ? i * 16 : 0, 16).tab();
      t.num(b.srcPort[i]).tab().num(b.dstPort[i]).tab().num(b.proto[i]).tab();
      t.num(b.packets[i]).tab().num(b.bytes[i]).tab().num(b.revPackets[i]).tab().num(b.revBytes[i]).tab();
      t.num(b.tcpFlags[i])
        .tab()
        .num(b.samplingRate[i])
        .tab()
        .str(b.exporters[b.exporterIdx[i]] ?? '')
        .tab();
      t.num(b.observationDomain[i]).tab().str(e.srcCountry[i]).tab().str(e.dstCountry[i]).tab();
      t.num(e.srcAsn[i]).tab().num(e.dstAsn[i]).tab().str(e.srcWatch[i]).tab().str(e.dstWatch[i]).end();
    }
  }

  /** The batch's flow rows as RowBinary, in FLOW_COLUMNS order. */
  private appendBinary(r: RowBinaryBuilder, b: FlowBatch, e: EnrichedColumns, firstId: number): void {
    const s = this.scratch;
    for (let i = 0; i < b.length; i++) {
      const v = b.ipVersion[i];
      r.i64(firstId + i)
        .u32(this.sourceId)
        .f64(b.position[i]);
      r.i64(Math.round(b.firstMs[i])).i64(Math.round(b.lastMs[i])).u8(v);
      r.fixed(addressBytes(b.src, i, v, s), v === 6 ? i * 16 : 0, 16);
      r.fixed(addressBytes(b.dst, i, v, s), v === 6 ? i * 16 : 0, 16);
      r.u16(b.srcPort[i]).u16(b.dstPort[i]).u8(b.proto[i]);
      r.f64(b.packets[i]).f64(b.bytes[i]).f64(b.revPackets[i]).f64(b.revBytes[i]);
      r.u8(b.tcpFlags[i])
        .u32(b.samplingRate[i])
        .str(b.exporters[b.exporterIdx[i]] ?? '');
      r.u32(b.observationDomain[i]).str(e.srcCountry[i]).str(e.dstCountry[i]);
      r.u32(e.srcAsn[i]).u32(e.dstAsn[i]).str(e.srcWatch[i]).str(e.dstWatch[i]);
    }
  }

  private async flush(): Promise<void> {
    if (this.binary && this.binary.length > 0)
      await this.store.conn.insertRowBinary!('flow_table', FLOW_COLUMNS, this.binary.take());
    if (this.rows.length > 0) await this.store.conn.insertTsv('flow_table', FLOW_COLUMNS, this.rows.take());
    if (this.payloadRows.length > 0)
      await this.store.conn.insertTsv(
        'flow_payloads',
        ['flow_id', 'source_id', 'fwd', 'rev', 'fwd_times', 'rev_times'],
        this.payloadRows.take(),
      );
    if (this.orgs.size > 0) {
      const t = new TsvBuilder();
      for (const [asn, org] of this.orgs) t.num(asn).tab().str(org).end();
      this.orgs.clear();
      await this.store.conn.insertTsv('as_orgs', ['asn', 'org'], t.take());
    }
  }

  async checkpoint(diagnostics?: Diagnostics): Promise<void> {
    await this.flush();
    if (diagnostics) this.diagnostics = JSON.stringify(diagnostics.stored());
    if (this.live) await this.put(false);
    this.committedFlows = this.flows;
    this.intervalIds = [];
  }

  /**
   * After an insert or the source row's update failed with a failure that passes (the server down
   * or restarting, out of memory or disk space): what was staged goes, and once the server answers
   * again the rows of the interval that did arrive — flows, payloads, detections and artifacts with
   * the interval's flow ids, all in this writer's own id blocks — are deleted, so the store holds
   * what the source's row counts and nothing else. Null while the server still cannot be reached
   * (called again later); any other failure is thrown (the collector stops).
   */
  async recover(cause: unknown): Promise<{ discarded: number; committed: number } | null> {
    if (!this.live || this.done || !isPassingFailure(cause)) throw cause;
    if (this.discarding < 0) {
      this.discarding = this.flows - this.committedFlows;
      this.flows = this.committedFlows;
      this.rows.take();
      this.binary?.take();
      this.payloadRows.take();
      this.orgs.clear();
    }
    try {
      const u = this.uncommitted();
      if (u) {
        await this.store.settleGivenUp(storeTimeoutMs() ?? DEFAULT_SETTLE_MS);
        await this.store.discardUncommitted(u);
      }
    } catch (e) {
      if (isPassingFailure(e)) return null;
      throw e;
    }
    this.intervalIds = [];
    const discarded = this.discarding;
    this.discarding = -1;
    return { discarded, committed: this.committedFlows };
  }

  async commit(diagnostics: Diagnostics): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      await this.flush();
      this.diagnostics = JSON.stringify(diagnostics.stored());
      // The same bytes ingested before: their copy is hidden by the row that marks it dropped
      // (in the same insert as this source's completion would be ideal; two inserts, the old
      // one hidden first, so nothing is ever counted twice) and then deleted.
      const old = this.info.fingerprint
        ? await this.store.conn.rows<Record<string, unknown>>(
            `SELECT id, name, kind, fingerprint, toUnixTimestamp(ingested_at) AS t, flows, complete, live, diagnostics
             FROM sources FINAL WHERE fingerprint = ${str(this.info.fingerprint)} AND id != ${lit(this.sourceId)} AND dropped = 0`,
          )
        : [];
      for (const r of old)
        await this.store.putSource({
          id: Number(r.id),
          name: String(r.name),
          kind: String(r.kind),
          fingerprint: String(r.fingerprint),
          ingestedAt: Number(r.t) * 1000,
          flows: Number(r.flows),
          complete: Number(r.complete) === 1,
          live: Number(r.live) === 1,
          dropped: true,
          diagnostics: String(r.diagnostics),
        });
      await this.put(true);
      if (old.length) await this.store.dropSources(old.map((r) => Number(r.id)));
    } finally {
      this.store.finished();
    }
  }

  uncommitted(): Uncommitted | null {
    return this.intervalIds.length > 0 ? { sourceId: this.sourceId, ids: [...this.intervalIds] } : null;
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      if (this.live) {
        // As on DuckDB: what a live source committed stays; the open interval's rows go.
        const u = this.uncommitted();
        if (u) {
          await this.store.settleGivenUp(storeTimeoutMs() ?? DEFAULT_SETTLE_MS);
          await this.store.discardUncommitted(u);
        }
        this.intervalIds = [];
        this.flows = this.committedFlows;
        await this.put(false);
        return;
      }
      await this.put(false, true);
      await this.store.dropSources([this.sourceId]);
    } finally {
      this.store.finished();
    }
  }
}
