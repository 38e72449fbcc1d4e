/**
 * `summary --by KEY`: one top-N table per key, each one aggregate over the stored integer columns
 * (not the text `flows` view unless a --where needs its columns), addresses turned into text only
 * for the rows shown. Nothing is computed that was not asked for.
 */
import type { KeyedSummaryQuery, SummaryKey, SummaryRow } from '../store.js';
import { keyedRow } from '../summary-rows.js';
import type { DuckDBValue } from '@duckdb/node-api';
import type { DuckDbDatabase } from './database.js';
import { rollupRelation, rollupScope } from './rollup.js';
import { scopeConditions } from './series.js';

export { protoName } from '../summary-rows.js';

const COUNTERS = 'count(*) AS flows, sum(packets + rev_packets) AS packets, sum(bytes + rev_bytes) AS bytes';

/** The SELECT for one key over `from`, ranked by `order`, `top` rows; columns k1 (and k2), flows, packets, bytes. */
function keySql(key: SummaryKey, from: string, order: string, top: number): string {
  const rank = `ORDER BY ${order} DESC, k1, k2 LIMIT ${top}`;
  switch (key) {
    case 'dport':
    case 'sport': {
      const col = key === 'dport' ? 'dst_port' : 'src_port';
      return `SELECT proto AS k1, ${col} AS k2, ${COUNTERS} FROM ${from} GROUP BY proto, ${col} ${rank}`;
    }
    case 'proto':
      return `SELECT proto AS k1, 0 AS k2, ${COUNTERS} FROM ${from} GROUP BY proto ${rank}`;
    case 'src':
    case 'dst': {
      const col = key === 'src' ? 'src_ip' : 'dst_ip';
      // Text for the shown rows only.
      return `SELECT ip_text(k1, k2) AS k1, k2, flows, packets, bytes FROM (
                SELECT ${col} AS k1, ip_version AS k2, ${COUNTERS} FROM ${from} GROUP BY ${col}, ip_version ${rank})
              ORDER BY ${order} DESC, k1`;
    }
    case 'country':
    case 'asn': {
      // A flow counts for each end's country/AS (an internal flow once): shares are of ends, not flows.
      const c = key;
      return `SELECT k1, 0 AS k2, count(*) AS flows, sum(p) AS packets, sum(b) AS bytes FROM (
                SELECT src_${c} AS k1, packets + rev_packets AS p, bytes + rev_bytes AS b FROM ${from}
                UNION ALL
                SELECT dst_${c} AS k1, packets + rev_packets AS p, bytes + rev_bytes AS b FROM ${from}
                  WHERE dst_${c} IS DISTINCT FROM src_${c}
              ) GROUP BY k1 ${rank}`;
    }
  }
}

/**
 * The rows a summary reads: the table itself unless a --where may name the view's text columns (the
 * view costs ~6x to scan and ~0.5 s to plan); a compiled nfdump filter needs only the table's columns.
 */
export function flowSource(where: string | undefined, filter: string | undefined): string {
  const cond = [filter, where]
    .filter(Boolean)
    .map((c) => `(${c})`)
    .join(' AND ');
  if (!cond) return 'flow_rows';
  return `(SELECT * FROM ${where ? 'flows' : 'flow_rows'} WHERE ${cond})`;
}

/**
 * Country and AS tables from the hourly rollup (rollup.ts) — the same sums as keySql's over the
 * flows, from a few thousand rows — or null when the query is not one it answers exactly.
 */
async function rollupSource(
  db: DuckDbDatabase,
  q: KeyedSummaryQuery,
  params: DuckDBValue[],
): Promise<string | null> {
  if (q.where || q.filter || !q.by.every((k) => k === 'country' || k === 'asn')) return null;
  const scope = rollupScope(q.scope ?? {}, params);
  const rollup = scope && (await rollupRelation(db, Boolean(q.scope?.label)));
  if (!scope || !rollup) return null;
  params.push(scope.label);
  return `(SELECT src_country, dst_country, src_asn, dst_asn, flows, packets, bytes FROM ${rollup}
           WHERE label = $${params.length} AND (${scope.cond}))`;
}

/** keySql's country/AS table over rollup rows (each row stands for `flows` flows). */
function rollupKeySql(key: 'country' | 'asn', from: string, order: string, top: number): string {
  return `SELECT k1, 0 AS k2, sum(n) AS flows, sum(p) AS packets, sum(b) AS bytes FROM (
            SELECT src_${key} AS k1, flows AS n, packets AS p, bytes AS b FROM ${from}
            UNION ALL
            SELECT dst_${key} AS k1, flows AS n, packets AS p, bytes AS b FROM ${from}
              WHERE dst_${key} IS DISTINCT FROM src_${key}
          ) GROUP BY k1 ORDER BY ${order} DESC, k1, k2 LIMIT ${top}`;
}

export async function keyedSummary(
  db: DuckDbDatabase,
  q: KeyedSummaryQuery,
  opts: { rollup?: boolean } = {},
): Promise<Map<SummaryKey, SummaryRow[]>> {
  const top = Math.max(1, Math.trunc(q.top ?? 15));
  const order = q.order ?? 'bytes';
  if (!['flows', 'packets', 'bytes'].includes(order))
    throw new Error(`order must be flows, packets or bytes, not ${order}`);
  const params: DuckDBValue[] = [];
  const rolled = opts.rollup === false ? null : await rollupSource(db, q, params);
  let from: string;
  if (rolled) from = rolled;
  else {
    params.length = 0;
    from = flowSource(q.where, q.filter);
    if (q.scope) {
      // A structured scope (the API's): its conditions as parameters, over the table's columns.
      const c = scopeConditions(q.scope, 1);
      params.push(...c.params);
      if (c.sql) from = `(SELECT * FROM ${from} WHERE TRUE${c.sql})`;
    }
  }
  const out = new Map<SummaryKey, SummaryRow[]>();
  for (const key of q.by) {
    if (out.has(key)) continue;
    const rows = await db.all<{ k1: unknown; k2: unknown; flows: number; packets: number; bytes: number }>(
      rolled ? rollupKeySql(key as 'country' | 'asn', from, order, top) : keySql(key, from, order, top),
      params,
    );
    let orgs = new Map<number, string>();
    if (key === 'asn' && rows.length) {
      const asns = rows.map((r) => Number(r.k1)).filter((n) => n > 0);
      if (asns.length)
        orgs = new Map(
          (
            await db.all<{ asn: number; org: string }>(
              `SELECT asn, org FROM as_orgs WHERE asn IN (${asns.join(',')})`,
            )
          ).map((r) => [Number(r.asn), r.org]),
        );
    }
    out.set(
      key,
      rows.map((r) => keyedRow(key, r, orgs)),
    );
  }
  return out;
}
