/**
 * Time series over the DuckDB flow store for surge detection: per-bucket flows, packets and bytes
 * (sampling-corrected), within a scope (country, AS, watchlist, host, server ports, a label hook),
 * with the buckets in which the store saw no flow at all marked as not observed.
 */
import { readFileSync } from 'node:fs';
import type { DuckDBValue } from '@duckdb/node-api';
import { DuckDbDatabase } from './database.js';
import { DuckDbFlowStore } from './flows.js';

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
  /** Extra SQL condition over flow columns (trusted input: the analyst's own). */
  where?: string;
}

export interface SeriesQuery {
  bucket: 'day' | 'hour';
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

const SQL = readFileSync(new URL('./series.sql', import.meta.url), 'utf8');

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
    const x = p(scope.host);
    cond.push(`(src = ${x} OR dst = ${x})`);
  }
  if (scope.dstPorts && scope.dstPorts.length > 0) {
    const ports = scope.dstPorts.map((n) => {
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`not a port: ${n}`);
      return n;
    });
    cond.push(`dst_port IN (${ports.join(', ')})`);
  }
  if (scope.label) cond.push(labelCondition(p(scope.label)));
  if (scope.where) cond.push(`(${scope.where})`);
  return { sql: cond.map((c) => ` AND ${c}`).join(''), params };
}

export class DuckDbSeries {
  constructor(readonly db: DuckDbDatabase) {}

  static async open(path: string): Promise<{ series: DuckDbSeries; close: () => Promise<void> }> {
    const store = await DuckDbFlowStore.open(path);
    return { series: new DuckDbSeries(store.db), close: () => store.close() };
  }

  async hasTable(name: string): Promise<boolean> {
    const [r] = await this.db.all<{ n: number }>(
      'SELECT count(*) AS n FROM information_schema.tables WHERE table_name = $1',
      [name],
    );
    return r.n > 0;
  }

  async series(q: SeriesQuery): Promise<SeriesData> {
    const width = q.bucket === 'hour' ? 3600000 : 86400000;
    if (q.scope.label && !(await this.hasTable('detections'))) {
      throw new Error(
        `no detections in this store: run detection first, or scope by --ports instead of --label ${q.scope.label}`,
      );
    }
    let from = q.fromMs;
    let to = q.toMs;
    if (from === undefined || to === undefined) {
      const [r] = await this.db.all<{ lo: number | null; hi: number | null }>(
        'SELECT min(first_ms) AS lo, max(first_ms) AS hi FROM flows',
      );
      from ??= r.lo === null ? 0 : Math.floor(r.lo / width) * width;
      to ??= r.hi === null ? 0 : (Math.floor(r.hi / width) + 1) * width;
    }
    const { sql, params } = scopeConditions(q.scope, 4);
    const rows = await this.db.all<Record<string, number>>(SQL.replace('/*SCOPE*/', sql), [
      width,
      from,
      to,
      ...params,
    ]);
    const all = await this.db.all<{ bucket_ms: number }>(SQL.replace('/*SCOPE*/', ''), [width, from, to]);
    const seen = new Set(all.map((r) => Number(r.bucket_ms)));
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
        sources: r ? Number(r.sources) : 0,
        observed: seen.has(t),
      });
    }
    return { bucketMs: width, fromMs: from, toMs: to, buckets };
  }
}
