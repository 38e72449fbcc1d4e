/**
 * Time series over the DuckDB flow store for surge detection: per-bucket flows, packets and bytes
 * (sampling-corrected), within a scope (country, AS, watchlist, host, server ports, a label hook),
 * with the buckets in which the store saw no flow at all marked as not observed.
 */
import { readFileSync } from 'node:fs';
import type { DuckDBValue } from '@duckdb/node-api';
import { SCAN_ATTEMPT_SQL } from '../../detect/scan.js';
import { EARLIEST_PLAUSIBLE_MS, latestPlausibleMs } from '../../flow/plausible-time.js';
import { DuckDbDatabase } from './database.js';
import { DuckDbFlowStore, ipValue } from './flows.js';
import { HOUR_MS, poolCondition, rollupRelation, rollupScope } from './rollup.js';
import { hostProfiles } from './hosts.js';
import type { HostProfile, HostProfileQuery } from '../queries.js';
export type { SeriesScope, SeriesQuery, SeriesBucket, SeriesData } from '../queries.js';
import { seriesOfRows, type SeriesScope, type SeriesQuery, type SeriesData } from '../queries.js';
// The report's row shapes are engine-neutral (../reader.ts); DuckDbSeries is a ReportReader's core.
export type { TopHost, Endpoint, HostConnection, PayloadSample } from '../reader.js';
import {
  connectionOfRow,
  endpointOfRow,
  payloadSampleOfRow,
  topHostOfRow,
  type TopHost,
  type Endpoint,
  type HostConnection,
  type PayloadSample,
} from '../reader.js';

const FILE = readFileSync(new URL('./series.sql', import.meta.url), 'utf8');
/** The statements of series.sql: the first is the series; the rest are named by `-- name:` lines. */
const STATEMENTS = new Map<string, string>();
{
  const parts = FILE.split(/^-- name: (\w+)$/m);
  STATEMENTS.set('series', parts[0]);
  for (let i = 1; i + 1 < parts.length; i += 2) STATEMENTS.set(parts[i], parts[i + 1]);
}
const SQL = STATEMENTS.get('series')!;

function statement(name: string, scopeSql: string, scope?: SeriesScope): string {
  const s = STATEMENTS.get(name);
  if (!s) throw new Error(`series.sql has no statement ${name}`);
  return s.replace('/*SCOPE*/', scopeSql).replace('/*FLOWS*/', flowTable(scope));
}

/**
 * The table a scope's query reads: the stored rows, or the `flows` view when the analyst's own
 * --where may name its text columns (src, dst). The view costs several times the table to scan
 * (bench/query.ts), so it is used only then.
 */
export function flowTable(scope: SeriesScope | undefined): string {
  return scope?.where ? 'flows' : 'flow_rows';
}

/** Addresses as one parameter: their stored 128-bit values, comma-separated (ip_list in SQL);
 * a text parameter, because an empty DuckDB list value has no item type to bind. */
export function addressList(addresses: string[]): string {
  return addresses.map((a) => ipValue(a).toString()).join(',');
}

/** How a label is turned into a flow condition; the detections schema may replace it. */
export let labelCondition = (param: string): string =>
  `id IN (SELECT flow_id FROM detections WHERE label = ${param})`;

export function setLabelCondition(f: (param: string) => string): void {
  labelCondition = f;
}

export function scopeConditions(
  scope: SeriesScope,
  firstParam: number,
): { sql: string; params: DuckDBValue[] } {
  const cond: string[] = [];
  const params: DuckDBValue[] = [];
  const p = (v: DuckDBValue) => {
    params.push(v);
    return `$${firstParam + params.length - 1}`;
  };
  if (scope.country) {
    const x = p(scope.country);
    cond.push(`(src_country = ${x} OR dst_country = ${x})`);
  }
  if (scope.srcCountry) cond.push(`src_country = ${p(scope.srcCountry)}`);
  if (scope.dstCountry) cond.push(`dst_country = ${p(scope.dstCountry)}`);
  if (scope.asn !== undefined) {
    const x = p(scope.asn);
    cond.push(`(src_asn = ${x} OR dst_asn = ${x})`);
  }
  if (scope.watch) {
    const x = p(scope.watch);
    cond.push(`(src_watch = ${x} OR dst_watch = ${x})`);
  }
  if (scope.host) {
    const x = p(ipValue(scope.host).toString());
    cond.push(`(src_ip = ${x}::UHUGEINT OR dst_ip = ${x}::UHUGEINT)`);
  }
  if (scope.dstPorts && scope.dstPorts.length > 0) {
    const ports = scope.dstPorts.map((n) => {
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`not a port: ${n}`);
      return n;
    });
    cond.push(`dst_port IN (${ports.join(', ')})`);
  }
  if (scope.pools) cond.push(poolCondition());
  if (scope.label) cond.push(labelCondition(p(scope.label)));
  if (scope.noScans) cond.push(`NOT ${SCAN_ATTEMPT_SQL}`);
  if (scope.filter) cond.push(`(${scope.filter})`);
  if (scope.where) cond.push(`(${scope.where})`);
  return { sql: cond.map((c) => ` AND ${c}`).join(''), params };
}

/**
 * The scope's host of a flow — one definition for `hosts`, the report, `surge` and the API: the
 * end of the flow that lies inside the scope. This is the condition "the source end is the
 * scope's host": the end the scope names by country, AS, watchlist or address (all that are
 * given); when the scope names no end (or only the destination's country), the source — the
 * client — is the host. Where it is false the destination end is.
 */
export function internalSide(scope: SeriesScope, p: (v: DuckDBValue) => string): string {
  const c: string[] = [];
  if (scope.country) c.push(`src_country = ${p(scope.country)}`);
  if (scope.srcCountry) c.push(`src_country = ${p(scope.srcCountry)}`);
  if (scope.asn !== undefined) c.push(`src_asn = ${p(scope.asn)}`);
  if (scope.watch) c.push(`src_watch = ${p(scope.watch)}`);
  if (scope.host) c.push(`src_ip = ${p(ipValue(scope.host).toString())}::UHUGEINT`);
  return c.length ? c.join(' AND ') : 'TRUE';
}

/** Parameter numbering shared by a statement's fixed parameters and the scope's. */
function paramSink(params: DuckDBValue[]): (v: DuckDBValue) => string {
  return (v) => {
    params.push(v);
    return `$${params.length}`;
  };
}

/**
 * A statement of series.sql over the scope's flows with the scope's host side (SIDE) filled in:
 * the scope's parameters (server ports left to the statement) are appended to `params`.
 */
function sideStatement(name: string, scope: SeriesScope, params: DuckDBValue[]): string {
  const side = internalSide(scope, paramSink(params));
  const { sql, params: scoped } = scopeConditions({ ...scope, dstPorts: undefined }, params.length + 1);
  params.push(...scoped);
  return statement(name, sql, scope).replaceAll('/*SIDE*/', side);
}

export class DuckDbSeries {
  constructor(
    readonly db: DuckDbDatabase,
    /** Read the hourly rollup where it answers exactly (rollup.ts); false: always the flows. */
    private readonly useRollup = true,
  ) {}

  /** What the last `series` read: the hourly rollup or the flows. */
  lastRead: 'rollup' | 'flows' | null = null;

  static async open(path: string): Promise<{ series: DuckDbSeries; close: () => Promise<void> }> {
    const store = await DuckDbFlowStore.open(path);
    return { series: new DuckDbSeries(store.db), close: () => store.close() };
  }

  hasTable(name: string): Promise<boolean> {
    return this.db.hasTable(name);
  }

  async series(q: SeriesQuery): Promise<SeriesData> {
    const width = q.bucket === 'hour' ? 3600000 : 86400000;
    if (q.scope.label && !(await this.hasTable('detections'))) {
      throw new Error(
        `no detections in this store: run detection first, or scope by --ports instead of --label ${q.scope.label}`,
      );
    }
    const rolled = await this.rollupSeries(q, width);
    this.lastRead = rolled ? 'rollup' : 'flows';
    if (rolled) return rolled;
    let from = q.fromMs;
    let to = q.toMs;
    if (from === undefined || to === undefined) {
      // Flows with implausible times (epoch 0 from a device without a clock, the far future) are
      // kept in the store but never stretch the period (flow/plausible-time.ts).
      const [r] = await this.db.all<{ lo: number | null; hi: number | null }>(
        'SELECT min(first_ms) AS lo, max(first_ms) AS hi FROM flow_rows WHERE first_ms >= $1 AND first_ms <= $2',
        [EARLIEST_PLAUSIBLE_MS, latestPlausibleMs()],
      );
      from ??= r.lo === null ? 0 : Math.floor(r.lo / width) * width;
      to ??= r.hi === null ? 0 : (Math.floor(r.hi / width) + 1) * width;
    }
    const params: DuckDBValue[] = [width, from, to];
    const { sql, params: scoped } = scopeConditions(q.scope, 4);
    params.push(...scoped);
    // scopeConditions gives " AND a AND b"; as one FILTER condition: "TRUE AND a AND b".
    const cond = `(TRUE${sql})`;
    const host = q.sources
      ? `, CASE WHEN (${internalSide(q.scope, paramSink(params))}) THEN src_ip ELSE dst_ip END AS host`
      : '';
    const rows = await this.db.all<Record<string, number | null>>(
      SQL.replace('/*COND*/', cond)
        .replace('/*FLOWS*/', flowTable(q.scope))
        .replace('/*HOST*/', host)
        .replace('/*SOURCES*/', q.sources ? 'count(DISTINCT host) FILTER (WHERE m)' : 'NULL'),
      params,
    );
    return seriesOfRows(rows, q, width, from, to);
  }

  /**
   * The series from the hourly rollup (rollup.ts), when it answers the query exactly: a scope it
   * keeps (country, AS, watchlist, label, crypto ports, pools), whole hours, no host counts, and a
   * rollup that covers every flow. Otherwise null, and the flows are read.
   */
  private async rollupSeries(q: SeriesQuery, width: number): Promise<SeriesData | null> {
    if (!this.useRollup || q.sources) return null;
    if ((q.fromMs ?? 0) % HOUR_MS !== 0 || (q.toMs ?? 0) % HOUR_MS !== 0) return null;
    if (!rollupScope(q.scope, [])) return null;
    const rollup = await rollupRelation(this.db, Boolean(q.scope.label));
    if (!rollup) return null;
    let from = q.fromMs;
    let to = q.toMs;
    if (from === undefined || to === undefined) {
      // The flows' own period, plausible times only (as below): exact when no row of the rollup
      // holds flows on both sides of a bound of the plausible range; else the flows are read.
      const [r] = await this.db.all<{ lo: number | null; hi: number | null; straddle: number }>(
        `SELECT min(min_first_ms) FILTER (WHERE inside) AS lo, max(max_first_ms) FILTER (WHERE inside) AS hi,
                count(*) FILTER (WHERE NOT inside AND min_first_ms <= $2 AND max_first_ms >= $1)::INTEGER AS straddle
         FROM (SELECT min_first_ms, max_first_ms, min_first_ms >= $1 AND max_first_ms <= $2 AS inside
               FROM ${rollup} WHERE label = '')`,
        [EARLIEST_PLAUSIBLE_MS, latestPlausibleMs()],
      );
      if (r.straddle > 0) return null;
      from ??= r.lo === null ? 0 : Math.floor(Number(r.lo) / width) * width;
      to ??= r.hi === null ? 0 : (Math.floor(Number(r.hi) / width) + 1) * width;
    }
    const params: DuckDBValue[] = [width, from, to];
    const scope = rollupScope(q.scope, params)!;
    params.push(scope.label);
    const l = `$${params.length}`;
    const rows = await this.db.all<Record<string, number | null>>(
      `SELECT (hour_ms // $1) * $1 AS bucket_ms,
              coalesce(sum(flows) FILTER (WHERE m), 0) AS flows,
              coalesce(sum(flows_est) FILTER (WHERE m), 0) AS flows_est,
              coalesce(sum(packets) FILTER (WHERE m), 0) AS packets,
              coalesce(sum(packets_est) FILTER (WHERE m), 0) AS packets_est,
              coalesce(sum(bytes_est) FILTER (WHERE m), 0) AS bytes_est,
              NULL AS sources
       FROM (SELECT hour_ms, flows, flows_est, packets, packets_est, bytes_est,
                    label = ${l} AND (${scope.cond}) AS m
             FROM ${rollup}
             WHERE (label = '' OR label = ${l}) AND hour_ms >= $2 AND hour_ms < $3)
       GROUP BY 1 ORDER BY 1`,
      params,
    );
    return seriesOfRows(rows, q, width, from, to);
  }

  /** Host profiles (hosts.ts), so that DuckDbSeries answers everything the report reads. */
  hostProfiles(q: HostProfileQuery): Promise<HostProfile[]> {
    return hostProfiles(this.db, q);
  }

  /**
   * Hosts of the scope (internalSide) whose flows use the given ports (either end) or reach the
   * given addresses, busiest first: the same hosts and flows as `coinradar hosts` counts by port.
   */
  async topHosts(scope: SeriesScope, ports: number[], addresses: string[], limit = 20): Promise<TopHost[]> {
    const params: DuckDBValue[] = [ports.map((n) => Math.trunc(n)).join(','), addressList(addresses), limit];
    const rows = await this.db.all<Record<string, unknown>>(
      // As `coinradar hosts` counts port activity: attempts without data are not (detect/scan.ts).
      sideStatement('top_hosts', { ...scope, noScans: true }, params),
      params,
    );
    return rows.map(topHostOfRow);
  }

  /** Server endpoints among the given addresses that hosts of the scope (internalSide, as clients) reached. */
  async endpoints(scope: SeriesScope, addresses: string[]): Promise<Endpoint[]> {
    const params: DuckDBValue[] = [addressList(addresses)];
    const rows = await this.db.all<Record<string, unknown>>(
      sideStatement('endpoints', scope, params),
      params,
    );
    return rows.map(endpointOfRow);
  }

  async hostConnections(host: string, addresses: string[]): Promise<HostConnection[]> {
    const rows = await this.db.all<Record<string, unknown>>(statement('host_stratum', ''), [
      ipValue(host).toString(),
      addressList(addresses),
    ]);
    return rows.map(connectionOfRow);
  }

  async stratumPayloads(scope: SeriesScope, limit = 500): Promise<PayloadSample[]> {
    const { sql, params } = scopeConditions({ ...scope, dstPorts: undefined }, 2);
    const rows = await this.db.all<Record<string, unknown>>(
      statement(
        'stratum_payloads',
        sql.replace(
          /\b(src|dst|src_ip|dst_ip|src_port|dst_port|src_country|dst_country|src_asn|dst_asn|src_watch|dst_watch|id)\b/g,
          'f.$1',
        ),
      ),
      [limit, ...params],
    );
    return rows.map((r) => payloadSampleOfRow(r, (c) => (r[c] as Buffer | null) ?? null));
  }
}
