/**
 * `summary --by KEY`: one top-N table per key, each one aggregate over the stored integer columns
 * (not the text `flows` view unless a --where needs its columns), addresses turned into text only
 * for the rows shown. Nothing is computed that was not asked for.
 */
import type { KeyedSummaryQuery, SummaryKey, SummaryRow } from '../store.js';
import { keyedRow } from '../summary-rows.js';
import type { DuckDbDatabase } from './database.js';

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

export async function keyedSummary(
  db: DuckDbDatabase,
  q: KeyedSummaryQuery,
): Promise<Map<SummaryKey, SummaryRow[]>> {
  const top = Math.max(1, Math.trunc(q.top ?? 15));
  const order = q.order ?? 'bytes';
  if (!['flows', 'packets', 'bytes'].includes(order))
    throw new Error(`order must be flows, packets or bytes, not ${order}`);
  const from = flowSource(q.where, q.filter);
  const out = new Map<SummaryKey, SummaryRow[]>();
  for (const key of q.by) {
    if (out.has(key)) continue;
    const rows = await db.all<{ k1: unknown; k2: unknown; flows: number; packets: number; bytes: number }>(
      keySql(key, from, order, top),
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
