/**
 * What the report and the server's network routes read from a flow store, engine-neutral: the
 * scope series, keyed summaries, host profiles, a host's sessions and detections, the labels the
 * store holds, the report's host, endpoint and payload questions, and the wallet search. DuckDB
 * answers with its own SQL and rollup (duckdb/reader.ts, unchanged queries); ClickHouse with
 * clickhouse/reader.ts (18.16 and current releases). `openNetworkReader` picks by the store.
 */
import type { StoredDetection } from './detections.js';
import type { HostProfile, HostProfileQuery, SeriesData, SeriesQuery, SeriesScope } from './queries.js';
import type { FlowStore, KeyedSummaryQuery, StoredPayload, SummaryKey, SummaryRow } from './store.js';

export interface TopHost {
  host: string;
  flows: number;
  packetsEst: number;
  bytesEst: number;
  firstMs: number;
  lastMs: number;
  ports: number[];
}

export interface Endpoint {
  dst: string;
  dstPort: number;
  hosts: number;
  flows: number;
  firstMs: number;
  lastMs: number;
}

export interface HostConnection {
  dst: string;
  dstPort: number;
  packetsEst: number;
  bytesEst: number;
  activeSeconds: number;
  firstMs: number;
  lastMs: number;
  flows: number;
}

export interface PayloadSample {
  flowId: number;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  firstMs: number;
  lastMs: number;
  fwd: Buffer | null;
  rev: Buffer | null;
  /** Segment times of the samples (src/flow/payload-times.ts); null when not recorded. */
  fwdTimes: Buffer | null;
  revTimes: Buffer | null;
}

/**
 * The report's rows from an engine's result rows, whose columns both engines name alike (as
 * duckdb/series.sql does): host/dst, dst_port, flows, hosts, packets_est, bytes_est, active_s,
 * first_ms, last_ms, ports.
 */
export function topHostOfRow(r: Record<string, unknown>): TopHost {
  return {
    host: String(r.host),
    flows: Number(r.flows),
    packetsEst: Number(r.packets_est),
    bytesEst: Number(r.bytes_est),
    firstMs: Number(r.first_ms),
    lastMs: Number(r.last_ms),
    ports: (r.ports as unknown[]).map(Number),
  };
}

/**
 * A payload sample from an engine's result row (id, src, src_port, dst, dst_port, first_ms,
 * last_ms); the four byte columns come through `bytes`, as each engine returns them
 * (`fwd`, `rev`, `fwd_times`, `rev_times`).
 */
export function payloadSampleOfRow(
  r: Record<string, unknown>,
  bytes: (column: 'fwd' | 'rev' | 'fwd_times' | 'rev_times') => Buffer | null,
): PayloadSample {
  return {
    flowId: Number(r.id),
    src: String(r.src),
    srcPort: Number(r.src_port),
    dst: String(r.dst),
    dstPort: Number(r.dst_port),
    firstMs: Number(r.first_ms),
    lastMs: Number(r.last_ms),
    fwd: bytes('fwd'),
    rev: bytes('rev'),
    fwdTimes: bytes('fwd_times'),
    revTimes: bytes('rev_times'),
  };
}

export function endpointOfRow(r: Record<string, unknown>): Endpoint {
  return {
    dst: String(r.dst),
    dstPort: Number(r.dst_port),
    hosts: Number(r.hosts),
    flows: Number(r.flows),
    firstMs: Number(r.first_ms),
    lastMs: Number(r.last_ms),
  };
}

export function connectionOfRow(r: Record<string, unknown>): HostConnection {
  return {
    dst: String(r.dst),
    dstPort: Number(r.dst_port),
    packetsEst: Number(r.packets_est),
    bytesEst: Number(r.bytes_est),
    activeSeconds: Number(r.active_s),
    firstMs: Number(r.first_ms),
    lastMs: Number(r.last_ms),
    flows: Number(r.flows),
  };
}

/** One crypto session of a host: its flows to one remote end and service port, merged by gap. */
export interface HostSession {
  peer: string;
  port: number;
  firstMs: number;
  lastMs: number;
  flows: number;
  bytesEst: number;
  /** Labels of the detections on the session's flows. */
  labels: string[];
}

export interface HostSessionQuery {
  /** Ports (either end) that count as crypto activity. */
  ports: number[];
  /** Flows to the same endpoint starting within this gap after the last one ended are one session. */
  gapMs: number;
  limit: number;
}

/** What the report reads (report/build.ts). DuckDbSeries answers it as it is. */
export interface ReportReader {
  series(q: SeriesQuery): Promise<SeriesData>;
  hostProfiles(q: HostProfileQuery): Promise<HostProfile[]>;
  /** Hosts of the scope whose flows use the ports (either end) or reach the addresses, busiest first. */
  topHosts(scope: SeriesScope, ports: number[], addresses: string[], limit?: number): Promise<TopHost[]>;
  /** Server endpoints among the addresses that hosts of the scope reached as clients. */
  endpoints(scope: SeriesScope, addresses: string[]): Promise<Endpoint[]>;
  /** Client-side counters of one host's connections to the addresses, busiest first. */
  hostConnections(host: string, addresses: string[]): Promise<HostConnection[]>;
  /** Payload samples of the scope that look like Stratum, oldest first. */
  stratumPayloads(scope: SeriesScope, limit?: number): Promise<PayloadSample[]>;
}

/** What the network routes read (server/network.ts, search.ts, export-routes.ts). */
export interface NetworkReader extends ReportReader {
  readonly engine: 'duckdb' | 'clickhouse';
  /** One table per key (summary --by), a structured scope allowed. */
  summarize(q: KeyedSummaryQuery): Promise<Map<SummaryKey, SummaryRow[]>>;
  /** The labels detections carry in this store, sorted (none without detections). */
  labels(): Promise<string[]>;
  /** Whether the store can hold detections at all (DuckDB: the table exists). */
  hasDetections(): Promise<boolean>;
  /** Detections on flows of this address (either end), as `coinradar detections` orders them. */
  hostDetections(ip: string, limit: number): Promise<StoredDetection[]>;
  /** The address's crypto sessions, oldest first (`coinradar hosts` counts them alike). */
  hostSessions(ip: string, q: HostSessionQuery): Promise<HostSession[]>;
  /** The hosts (sources of flows) whose detections named `value` as an artifact, with its kind. */
  artifactHosts(value: string, limit: number): Promise<{ kind: string; host: string }[]>;
  /** Payload samples of stored flows. */
  payloads(flowIds: number[]): Promise<Map<number, StoredPayload>>;
  /**
   * An address range (stored 128-bit values, IPv4 as ::ffff:a.b.c.d) on either end as a condition
   * in this engine's SQL, built from the two numbers only (server/scope.ts's cidr:).
   */
  addressRange(lo: bigint, hi: bigint): string;
  /** Whether a compiled nfdump filter (DuckDB SQL) can be run; where not, it is refused. */
  readonly takesFilter: boolean;
}

/** The reader over an open flow store (same connection, same database). */
export async function openNetworkReader(store: FlowStore): Promise<NetworkReader> {
  const { DuckDbFlowStore } = await import('./duckdb/flows.js');
  if (store instanceof DuckDbFlowStore) {
    const { DuckDbNetworkReader } = await import('./duckdb/reader.js');
    return new DuckDbNetworkReader(store.db, (ids) => store.payloads(ids));
  }
  const { ClickHouseFlowStore } = await import('./clickhouse/flows.js');
  if (store instanceof ClickHouseFlowStore) {
    const { ClickHouseNetworkReader } = await import('./clickhouse/reader.js');
    return new ClickHouseNetworkReader(store);
  }
  throw new Error('the network read API runs on the DuckDB and ClickHouse flow stores only');
}
