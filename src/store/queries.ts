/**
 * What the read commands ask of a flow store beyond flows and summaries, engine-neutral: the
 * count series within a scope (`series`, `surge`, the report) and host profiles (`hosts`). Each
 * engine answers them in its own SQL (duckdb/series.sql, duckdb/hosts.sql; clickhouse/queries.ts).
 */
import type { Confidence } from '../detect/types.js';

export interface SeriesScope {
  /** Either end in this country (ISO alpha-2). */
  country?: string;
  srcCountry?: string;
  dstCountry?: string;
  /** Either end in this AS. */
  asn?: number;
  /** Either end on this watchlist (src_watch/dst_watch). */
  watch?: string;
  /** Either end is this address. */
  host?: string;
  /** Server (destination) port in this set. */
  dstPorts?: number[];
  /** Flows carrying this detection label (needs the detections table). */
  label?: string;
  /** The destination is a catalogued pool server (scenario/world.ts poolAddresses). */
  pools?: boolean;
  /** Leave out TCP attempts without data (scans, refused connections: detect/scan.ts). */
  noScans?: boolean;
  /** Extra SQL condition over flow columns (trusted input: the analyst's own). */
  where?: string;
  /** A compiled nfdump filter (src/flow/nfdump-filter.ts): SQL over flow_rows' own columns only, so
   * the store can run it on the table rather than the slower text view. ANDed with `where`. */
  filter?: string;
}

export interface SeriesQuery {
  bucket: 'day' | 'hour';
  /** Count the scope's hosts per bucket (`sources`); NaN in every bucket when not asked. */
  sources?: boolean;
  fromMs?: number;
  toMs?: number;
  scope: SeriesScope;
}

export interface SeriesBucket {
  bucketMs: number;
  flows: number;
  flowsEst: number;
  packets: number;
  packetsEst: number;
  bytesEst: number;
  sources: number;
  /** false when the store has no flow at all in this bucket (exporter or collector down). */
  observed: boolean;
}

export interface SeriesData {
  bucketMs: number;
  fromMs: number;
  toMs: number;
  buckets: SeriesBucket[];
}

export interface HostProfileQuery {
  scope: SeriesScope;
  /** Ports (either end) that count as crypto activity (e.g. the crypto port set); [] for none. */
  ports: number[];
  /** Remote addresses (either end) that count as crypto activity (e.g. catalogued pools). */
  addresses?: string[];
  /** Only detections with these labels count (default: every label). */
  labels?: string[];
  /** Least confidence that counts (default 'port': detections of any grade, and the port and
   * address lists); above 'port' only detections of that grade or better count. */
  minConfidence?: Confidence;
  /** Flows to the same server endpoint starting within this gap after the last one ended are one session. */
  sessionGapMs?: number;
  fromMs?: number;
  toMs?: number;
  /** Only these internal hosts (default: every host of the scope). */
  hosts?: string[];
  limit?: number;
}

export interface HostProfile {
  host: string;
  country: string;
  asn: number;
  flows: number;
  sessions: number;
  /** Hours in which a crypto flow of the host was open. */
  hoursActive: number;
  /** hoursActive over the hours from its first to its last crypto activity (0–1). */
  dutyCycle: number;
  packetsEst: number;
  bytesEst: number;
  firstMs: number;
  lastMs: number;
  /** First and last flow with evidence better than its port (behaviour, infrastructure, payload). */
  firstStrongMs: number | null;
  lastStrongMs: number | null;
  ports: number[];
  peers: number;
  /** "label/confidence" of the detections on its flows. */
  labels: string[];
  /** "coin/confidence", each coin with the best confidence any of its detections had. */
  coins: string[];
  wallets: string[];
  workers: string[];
  agents: string[];
  pools: string[];
}

/**
 * The series of a period from an engine's per-bucket rows (bucket_ms, flows, flows_est, packets,
 * packets_est, bytes_est, sources): every bucket from `from` to `to`, the ones without a row
 * marked as not observed.
 */
export function seriesOfRows(
  rows: Record<string, unknown>[],
  q: { sources?: boolean },
  width: number,
  from: number,
  to: number,
): SeriesData {
  const byBucket = new Map(rows.map((r) => [Number(r.bucket_ms), r]));
  const buckets: SeriesBucket[] = [];
  for (let t = from; t < to; t += width) {
    const r = byBucket.get(t);
    buckets.push({
      bucketMs: t,
      flows: r ? Number(r.flows) : 0,
      flowsEst: r ? Number(r.flows_est) : 0,
      packets: r ? Number(r.packets) : 0,
      packetsEst: r ? Number(r.packets_est) : 0,
      bytesEst: r ? Number(r.bytes_est) : 0,
      sources: !q.sources ? NaN : r ? Number(r.sources) : 0,
      observed: r !== undefined,
    });
  }
  return { bucketMs: width, fromMs: from, toMs: to, buckets };
}

export interface FlowQueries {
  /** Per-bucket counters of a scope, every bucket of the period, unobserved ones marked. */
  series(q: SeriesQuery): Promise<SeriesData>;
  /** The hosts of a scope with crypto activity, as `coinradar hosts` lists them. */
  hostProfiles(q: HostProfileQuery): Promise<HostProfile[]>;
}
