/**
 * The storage interface the pipeline talks to. Engines live in store/<engine>/ with their SQL in
 * schema files; nothing outside store/ sees an engine type.
 */
import type { SeriesScope } from './queries.js';
import type { Diagnostics } from '../flow/diagnostics.js';
import type { EnrichedColumns } from '../flow/enrichment.js';
import type { FlowBatch } from '../flow/record.js';
import type { FlowQueries } from './queries.js';

export interface SourceInfo {
  /** Display name: file path or udp://listen address. */
  name: string;
  /** Format detected from the bytes, e.g. 'pcap', 'pcapng', 'netflow', 'nfdump-csv', 'zeek'. */
  kind: string;
  /**
   * Content fingerprint. Re-ingesting a source with the same fingerprint replaces its flows
   * (idempotent). Live sources have none.
   */
  fingerprint?: string;
}

/** Writes one source's flows. File sources are one transaction; live sources commit per batch. */
export interface SourceWriter {
  readonly sourceId: number;
  /** Store a batch; returns the id given to its first row (rows get consecutive ids). */
  append(batch: FlowBatch, enrichment: EnrichedColumns): Promise<number>;
  /** Make everything appended so far durable (live sources call this per batch). */
  /** With `diagnostics`, a live source also stores its counters so far (a kill -9 keeps them). */
  checkpoint(diagnostics?: Diagnostics): Promise<void>;
  commit(diagnostics: Diagnostics): Promise<void>;
  abort(): Promise<void>;
  /**
   * Counters of the store's own background work for this source, for a live collector's metrics
   * (e.g. `rollup.merges-failed`); absent where the store does none.
   */
  storeCounts?(): { counts: Record<string, number>; lastError: string | null };
  /**
   * A live source after an append or checkpoint failed with an error that can pass (DuckDB out of
   * memory, while readers' queries hold it; the disk full: isPassingFailure): the open interval is
   * rolled back and a new one begun, so collecting goes on. Resolves with the flows the rollback
   * discarded and those committed so far; with null when this attempt failed on the way for memory
   * or space again (nothing may be appended
   * until a later call resolves). Rejects with `cause` itself when it is not such an error, and
   * with the error of a step that failed otherwise: the caller stops. Absent where the store never
   * recovers (writers that are not live).
   */
  recover?(cause: unknown): Promise<{ discarded: number; committed: number } | null>;
  /**
   * Rows of the open interval that may already be in the store although it is not committed (a
   * store without transactions: ClickHouse inserts as it goes), by flow id runs [from, to), or
   * null when there are none or the store keeps nothing uncommitted (DuckDB). A collector killed
   * before it rolled the interval back leaves them; the next one deletes them
   * (FlowStore.discardUncommitted) before it stores that interval again from its spool.
   */
  uncommitted?(): Uncommitted | null;
}

/** A stored flow as read back (the JSON-lines shape of `coinradar flows`). */
export interface StoredFlow {
  id: number;
  first: string;
  last: string;
  ip_version: number;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  proto: number;
  packets: number;
  bytes: number;
  rev_packets: number;
  rev_bytes: number;
  tcp_flags: number;
  sampling_rate: number;
  exporter: string;
  observation_domain: number;
  src_country: string;
  dst_country: string;
  src_asn: number;
  dst_asn: number;
  src_watch: string;
  dst_watch: string;
  source: string;
  position: number;
}

export interface FlowQuery {
  /** A SQL boolean expression over the flow columns (e.g. `dst_port = 8333`). */
  where?: string;
  limit?: number;
  orderBy?: string;
}

export interface SummaryRow {
  key: string;
  label: string;
  flows: number;
  packets: number;
  bytes: number;
}

export interface FlowSummary {
  total: { flows: number; packets: number; bytes: number; sources: number };
  byCountry: SummaryRow[];
  byAsn: SummaryRow[];
  byPort: SummaryRow[];
}

/** What `summary --by` groups on, as nfdump's -s statistics: each key is its own table. */
export const SUMMARY_KEYS = ['country', 'asn', 'dport', 'sport', 'proto', 'src', 'dst'] as const;
export type SummaryKey = (typeof SUMMARY_KEYS)[number];

export interface KeyedSummaryQuery {
  by: SummaryKey[];
  top?: number;
  /** Rank by this counter, highest first (default bytes). */
  order?: 'flows' | 'packets' | 'bytes';
  where?: string;
  /** A compiled nfdump filter (src/flow/nfdump-filter.ts): SQL over flow_rows' own columns only, so
   * the store can run it on the table rather than the slower text view. ANDed with `where`. */
  filter?: string;
  /** A scope as the series takes it (the API's), ANDed with the rest: the store may answer it from
   * its rollup (DuckDB: country and AS tables of a country, AS, watchlist or label scope). */
  scope?: SeriesScope;
}

export interface StoredSource {
  id: number;
  name: string;
  kind: string;
  fingerprint: string | null;
  flows: number;
  ingestedAt: string;
  complete: boolean;
}

/**
 * A stored payload sample: the first bytes of each direction and when their segments arrived
 * (packed entries of src/flow/payload-times.ts; null for NetFlow-era or older stores).
 */
export interface StoredPayload {
  fwd: Buffer | null;
  rev: Buffer | null;
  fwdTimes: Buffer | null;
  revTimes: Buffer | null;
}

/** A flow store: writes sources, reads flows and summaries, answers the scope queries (queries.ts). */
export interface FlowStore extends FlowQueries {
  beginSource(info: SourceInfo, opts?: { live?: boolean }): Promise<SourceWriter>;
  flows(q: FlowQuery): Promise<StoredFlow[]>;
  /** Payload samples of stored flows with their segment times (for re-running detection). */
  payloads(flowIds: number[]): Promise<Map<number, StoredPayload>>;
  summary(opts?: { top?: number; where?: string; filter?: string }): Promise<FlowSummary>;
  /** One table per key, computing only those (summary --by). */
  summarize(q: KeyedSummaryQuery): Promise<Map<SummaryKey, SummaryRow[]>>;
  sources(): Promise<StoredSource[]>;
  /**
   * Let other processes read the store while this one writes it for long (collect, ingest): their
   * read commands see what is committed. Returns where they connect, or null where not needed.
   */
  serveReaders(): Promise<string | null>;
  /** Deletes what a writer that is gone said it had not committed (SourceWriter.uncommitted). */
  discardUncommitted?(u: Uncommitted): Promise<void>;
  close(): Promise<void>;
}

/** A live source's flow ids not committed: runs [from, to) in `ids`, flat. */
export interface Uncommitted {
  sourceId: number;
  ids: number[];
}

export const DEFAULT_DB = 'coinradar.duckdb';

export function defaultDbPath(): string {
  return process.env.COINRADAR_DB || DEFAULT_DB;
}

/**
 * The store has no data to read yet (a ClickHouse database no writer has made the schema in): the
 * API answers 503 with this message, a command exits 2 with it.
 */
export class StoreNotReady extends Error {
  override name = 'StoreNotReady';
}
