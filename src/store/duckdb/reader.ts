/**
 * The network reader (../reader.ts) over a DuckDB database: the queries the report, the CLI and
 * the server ran before there was a second engine, wrapped as they were — DuckDbSeries (with its
 * hourly rollup), hostProfiles, keyedSummary (rollup too), the detection store, and the host
 * sessions' window query that used to live in server/network.ts.
 */
import { SCAN_ATTEMPT_SQL } from '../../detect/scan.js';
import type { StoredDetection } from '../detections.js';
import type { HostProfile, HostProfileQuery, SeriesData, SeriesQuery, SeriesScope } from '../queries.js';
import type {
  Endpoint,
  HostConnection,
  HostSession,
  HostSessionQuery,
  NetworkReader,
  PayloadSample,
  TopHost,
} from '../reader.js';
import type { KeyedSummaryQuery, StoredPayload, SummaryKey, SummaryRow } from '../store.js';
import type { DuckDbDatabase } from './database.js';
import { DuckDbDetectionStore } from './detections.js';
import { ipValue } from './flows.js';
import { DuckDbSeries } from './series.js';
import { keyedSummary } from './summary.js';

/** Either end in [lo, hi] (stored 128-bit values), from the two numbers only. */
export function addressRangeSql(lo: bigint, hi: bigint): string {
  // As text cast to UHUGEINT: a bare literal above 2^127 would be parsed as a double.
  const r = `BETWEEN '${lo}'::UHUGEINT AND '${hi}'::UHUGEINT`;
  return `(src_ip ${r} OR dst_ip ${r})`;
}

export class DuckDbNetworkReader implements NetworkReader {
  readonly engine = 'duckdb' as const;
  readonly takesFilter = true;
  readonly seriesReader: DuckDbSeries;

  constructor(
    readonly db: DuckDbDatabase,
    /** Payload samples where the flow store is open (none: the host page shows no excerpt). */
    private readonly payloadsOf?: (flowIds: number[]) => Promise<Map<number, StoredPayload>>,
    series?: DuckDbSeries,
  ) {
    this.seriesReader = series ?? new DuckDbSeries(db);
  }

  get hasPayloads(): boolean {
    return this.payloadsOf !== undefined;
  }

  series(q: SeriesQuery): Promise<SeriesData> {
    return this.seriesReader.series(q);
  }

  hostProfiles(q: HostProfileQuery): Promise<HostProfile[]> {
    return this.seriesReader.hostProfiles(q);
  }

  topHosts(scope: SeriesScope, ports: number[], addresses: string[], limit?: number): Promise<TopHost[]> {
    return this.seriesReader.topHosts(scope, ports, addresses, limit);
  }

  endpoints(scope: SeriesScope, addresses: string[]): Promise<Endpoint[]> {
    return this.seriesReader.endpoints(scope, addresses);
  }

  hostConnections(host: string, addresses: string[]): Promise<HostConnection[]> {
    return this.seriesReader.hostConnections(host, addresses);
  }

  stratumPayloads(scope: SeriesScope, limit?: number): Promise<PayloadSample[]> {
    return this.seriesReader.stratumPayloads(scope, limit);
  }

  summarize(q: KeyedSummaryQuery): Promise<Map<SummaryKey, SummaryRow[]>> {
    return keyedSummary(this.db, q);
  }

  hasDetections(): Promise<boolean> {
    return this.seriesReader.hasTable('detections');
  }

  async labels(): Promise<string[]> {
    if (!(await this.hasDetections())) return [];
    const rows = await this.db.all<{ label: string }>('SELECT DISTINCT label FROM detections ORDER BY label');
    return rows.map((r) => r.label);
  }

  async hostDetections(ip: string, limit: number): Promise<StoredDetection[]> {
    if (!(await this.hasDetections())) return [];
    const v = `'${ipValue(ip)}'::UHUGEINT`;
    const det = await DuckDbDetectionStore.open(this.db);
    return det.detections({ where: `(f.src_ip = ${v} OR f.dst_ip = ${v})`, limit });
  }

  async payloads(flowIds: number[]): Promise<Map<number, StoredPayload>> {
    return this.payloadsOf ? this.payloadsOf(flowIds) : new Map();
  }

  addressRange(lo: bigint, hi: bigint): string {
    return addressRangeSql(lo, hi);
  }

  async artifactHosts(value: string, limit: number): Promise<{ kind: string; host: string }[]> {
    if (!(await this.seriesReader.hasTable('artifacts'))) return [];
    return this.db.all<{ kind: string; host: string }>(
      `SELECT DISTINCT a.kind, f.src AS host FROM artifacts a JOIN flows f ON f.id = a.flow_id
       WHERE a.value = $1 ORDER BY host LIMIT $2`,
      [value, limit],
    );
  }

  async hostSessions(ip: string, q: HostSessionQuery): Promise<HostSession[]> {
    const withDetections = await this.hasDetections();
    // The rules of hosts.sql: a `scan` detection and a port match without data (a scan attempt) are
    // no activity, so a scanned host has no session.
    const detected = withDetections
      ? " OR f.id IN (SELECT flow_id FROM detections WHERE label <> 'scan')"
      : '';
    const rows = await this.db.all<{
      peer: string;
      port: number;
      first_ms: number;
      last_ms: number;
      flows: number;
      bytes_est: number;
      ids: number[];
    }>(
      `WITH c AS (
         SELECT f.id, f.ip_version, f.first_ms, f.last_ms,
                CASE WHEN f.src_ip = $1::UHUGEINT THEN f.dst_ip ELSE f.src_ip END AS peer,
                CASE WHEN list_contains(int_list($2), f.dst_port) THEN f.dst_port
                     WHEN list_contains(int_list($2), f.src_port) THEN f.src_port
                     WHEN f.src_ip = $1::UHUGEINT THEN f.dst_port ELSE f.src_port END AS port,
                (f.bytes + f.rev_bytes) * f.sampling_rate AS bytes_est
         FROM flow_rows f
         WHERE (f.src_ip = $1::UHUGEINT OR f.dst_ip = $1::UHUGEINT)
           AND (((list_contains(int_list($2), f.dst_port) OR list_contains(int_list($2), f.src_port))
                 AND NOT ${SCAN_ATTEMPT_SQL})${detected})
       ),
       s AS (
         SELECT *, max(last_ms) OVER (PARTITION BY peer, port ORDER BY first_ms, id
                                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
         FROM c
       ),
       g AS (
         SELECT *, sum(CASE WHEN prev_end IS NULL OR first_ms - prev_end > $3 THEN 1 ELSE 0 END)
                     OVER (PARTITION BY peer, port ORDER BY first_ms, id) AS n
         FROM s
       )
       SELECT ip_text(peer, any_value(ip_version)) AS peer, any_value(port)::INTEGER AS port,
              min(first_ms)::DOUBLE AS first_ms, max(last_ms)::DOUBLE AS last_ms,
              count(*)::INTEGER AS flows, sum(bytes_est)::DOUBLE AS bytes_est, list(id) AS ids
       FROM g GROUP BY peer, port, n ORDER BY min(first_ms), peer, port LIMIT $4`,
      [ipValue(ip).toString(), q.ports.map((n) => Math.trunc(n)).join(','), q.gapMs, q.limit],
    );
    const byFlow = new Map<number, string[]>();
    if (withDetections && rows.length > 0) {
      const d = await this.db.all<{ flow_id: number; label: string }>(
        `SELECT DISTINCT d.flow_id::DOUBLE AS flow_id, d.label FROM detections d
         JOIN flow_rows f ON f.id = d.flow_id
         WHERE (f.src_ip = $1::UHUGEINT OR f.dst_ip = $1::UHUGEINT) AND d.label <> 'scan'`,
        [ipValue(ip).toString()],
      );
      for (const r of d) {
        const l = byFlow.get(Number(r.flow_id));
        if (l) l.push(r.label);
        else byFlow.set(Number(r.flow_id), [r.label]);
      }
    }
    return rows.map((r) => {
      const labels = new Set<string>();
      for (const id of r.ids) for (const l of byFlow.get(Number(id)) ?? []) labels.add(l);
      return {
        peer: r.peer,
        port: Number(r.port),
        firstMs: Number(r.first_ms),
        lastMs: Number(r.last_ms),
        flows: Number(r.flows),
        bytesEst: Number(r.bytes_est),
        labels: [...labels].sort(),
      };
    });
  }
}
