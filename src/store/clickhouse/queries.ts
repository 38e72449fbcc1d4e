/**
 * The scope queries (queries.ts: series, host profiles) in ClickHouse SQL, for 18.16 and current
 * releases alike: FILTER becomes the -If combinators, lists are IN (…) literals, and what 18.16
 * cannot say in SQL (window functions: the sessions of hosts.sql) is done over the rows it returns
 * — one sorted pass per host and endpoint.
 */
import { poolAddresses } from '../../scenario/world.js';
import { SCAN_ATTEMPT_SQL } from '../../detect/scan.js';
import { CONFIDENCE_RANK } from '../../detect/types.js';
import { EARLIEST_PLAUSIBLE_MS, latestPlausibleMs } from '../../flow/plausible-time.js';
import { writeIp } from '../../flow/record.js';
import {
  seriesOfRows,
  type HostProfile,
  type HostProfileQuery,
  type SeriesData,
  type SeriesQuery,
  type SeriesScope,
} from '../queries.js';
import { lit, str, type ChConnection } from './connection.js';
import { FLOWS_VIEW, FLOW_ROWS, flowScan, ipText } from './flows.js';

/** An address as the 16 stored bytes (IPv4 as ::ffff:a.b.c.d), as a FixedString(16) literal. */
export function ipLiteral(text: string): string {
  const b = new Uint8Array(16);
  if (writeIp(b, 0, text) === 4) {
    const v4 = b.slice(0, 4);
    b.fill(0);
    b[10] = 0xff;
    b[11] = 0xff;
    b.set(v4, 12);
  }
  return `toFixedString(unhex('${Buffer.from(b).toString('hex')}'), 16)`;
}

/** `col IN (…)`, or false for an empty list (ClickHouse has no empty IN list). */
export function inList(col: string, items: string[]): string {
  return items.length ? `${col} IN (${items.join(', ')})` : '0';
}

/** Port numbers as literals (anything but a port is refused). */
export const ports = (list: number[]) =>
  list.map((n) => {
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`not a port: ${n}`);
    return String(n);
  });

/** DuckDB's `a & b` is ClickHouse's bitAnd(a, b): the scan rule of detect/scan.ts in this dialect. */
export const SCAN_ATTEMPT = SCAN_ATTEMPT_SQL.replace(/\((\w+) & (\w+)\)/g, 'bitAnd($1, $2)');

/** The scope as an AND-list (" AND a AND b"), as series.ts scopeConditions gives it on DuckDB. */
export function scopeSql(scope: SeriesScope): string {
  const c: string[] = [];
  if (scope.country) c.push(`(src_country = ${str(scope.country)} OR dst_country = ${str(scope.country)})`);
  if (scope.srcCountry) c.push(`src_country = ${str(scope.srcCountry)}`);
  if (scope.dstCountry) c.push(`dst_country = ${str(scope.dstCountry)}`);
  if (scope.asn !== undefined) c.push(`(src_asn = ${lit(scope.asn)} OR dst_asn = ${lit(scope.asn)})`);
  if (scope.watch) c.push(`(src_watch = ${str(scope.watch)} OR dst_watch = ${str(scope.watch)})`);
  if (scope.host) c.push(`(src_ip = ${ipLiteral(scope.host)} OR dst_ip = ${ipLiteral(scope.host)})`);
  if (scope.dstPorts && scope.dstPorts.length > 0) c.push(inList('dst_port', ports(scope.dstPorts)));
  if (scope.pools) c.push(inList('dst_ip', poolAddresses().map(ipLiteral)));
  if (scope.label) c.push(`id IN (SELECT flow_id FROM detections WHERE label = ${str(scope.label)})`);
  if (scope.noScans) c.push(`NOT ${SCAN_ATTEMPT}`);
  if (scope.where) c.push(`(${scope.where})`);
  refuseFilter(scope.filter);
  return c.map((x) => ` AND ${x}`).join('');
}

/** The scope's host end (series.ts internalSide): true when it is the source. */
export function sideSql(scope: SeriesScope): string {
  const c: string[] = [];
  if (scope.country) c.push(`src_country = ${str(scope.country)}`);
  if (scope.srcCountry) c.push(`src_country = ${str(scope.srcCountry)}`);
  if (scope.asn !== undefined) c.push(`src_asn = ${lit(scope.asn)}`);
  if (scope.watch) c.push(`src_watch = ${str(scope.watch)}`);
  if (scope.host) c.push(`src_ip = ${ipLiteral(scope.host)}`);
  return c.length ? c.join(' AND ') : '1';
}

/** The rows a scope reads: the stored flows, or the text view when its --where may name src/dst. */
export const flowsOf = (scope: SeriesScope) => (scope.where ? FLOWS_VIEW : FLOW_ROWS);

export async function series(conn: ChConnection, q: SeriesQuery): Promise<SeriesData> {
  const width = q.bucket === 'hour' ? 3600000 : 86400000;
  let from = q.fromMs;
  let to = q.toMs;
  if (from === undefined || to === undefined) {
    // Implausible times (epoch 0, the far future) never stretch the period (flow/plausible-time.ts).
    const [r] = await conn.rows<{ lo: number; hi: number; n: number }>(
      `SELECT min(first_ms) AS lo, max(first_ms) AS hi, count() AS n FROM ${flowScan()}
       AND first_ms >= ${lit(EARLIEST_PLAUSIBLE_MS)} AND first_ms <= ${lit(latestPlausibleMs())}`,
    );
    const none = Number(r.n) === 0;
    from ??= none ? 0 : Math.floor(Number(r.lo) / width) * width;
    to ??= none ? 0 : (Math.floor(Number(r.hi) / width) + 1) * width;
  }
  // The scope's condition (m) and host end inside the aggregates, so that the aggregation is in the
  // SELECT that reads the flows (flowScan: on each shard of a cluster). Every stored flow of the
  // period is read, in scope or not: a bucket with flows but none in scope is observed (and 0).
  // A --where is part of the scope (m), over the text view, not a filter of the rows.
  const host = q.sources ? `uniqExactIf(if(${sideSql(q.scope)}, src_ip, dst_ip), m)` : '0';
  const rows = await conn.rows<Record<string, number | string | null>>(
    // Aliases that are not column names (ClickHouse would read `packets` inside packets_est as the alias).
    `SELECT bucket_ms, n_flows AS flows, n_flows_est AS flows_est, n_packets AS packets, n_packets_est AS packets_est,
            n_bytes_est AS bytes_est, n_sources AS sources FROM (
     SELECT intDiv(first_ms, ${width}) * ${width} AS bucket_ms, countIf((1${scopeSql(q.scope)}) AS m) AS n_flows,
            sumIf(sampling_rate, m) AS n_flows_est, sumIf(packets + rev_packets, m) AS n_packets,
            sumIf((packets + rev_packets) * sampling_rate, m) AS n_packets_est,
            sumIf((bytes + rev_bytes) * sampling_rate, m) AS n_bytes_est, ${host} AS n_sources
     FROM ${q.scope.where ? `${FLOWS_VIEW} WHERE 1` : flowScan()} AND first_ms >= ${lit(from)} AND first_ms < ${lit(to)}
     GROUP BY bucket_ms) ORDER BY bucket_ms`,
  );
  return seriesOfRows(rows, q, width, from, to);
}

/** Host profiles (duckdb/hosts.sql, the same rules): the crypto flows of the scope, per host. */
export async function hostProfiles(conn: ChConnection, q: HostProfileQuery): Promise<HostProfile[]> {
  const side = sideSql(q.scope);
  const portList = ports(q.ports.map((n) => Math.trunc(n)));
  const addrs = (q.addresses ?? []).map(ipLiteral);
  const minRank = CONFIDENCE_RANK[q.minConfidence ?? 'port'];
  // A `scan` detection (detect/scan.ts) marks a flow that was no activity: it never makes one.
  const labels =
    " AND label != 'scan'" +
    (q.labels && q.labels.length ? ` AND label IN (${q.labels.map(str).join(', ')})` : '');
  // Port-level activity leaves out attempts without data: a scanned host is not a miner.
  const byPort = (q.minConfidence ?? 'port') === 'port' ? `NOT ${SCAN_ATTEMPT}` : '0';
  const inPorts = (col: string) => inList(col, portList);
  const inAddrs = (col: string) => inList(col, addrs);
  const hosts = (q.hosts ?? []).map(ipLiteral);
  // The crypto flows of the scope, each with its host worked out (hosts.sql: m and c).
  const c = `(SELECT id, ip_version, first_ms, last_ms, strong,
            multiIf(${inPorts('dst_port')}, dst_port, ${inPorts('src_port')}, src_port, side, dst_port, src_port) AS service_port,
            if(side, src_ip, dst_ip) AS host_ip, if(side, dst_ip, src_ip) AS peer_ip,
            if(side, src_country, dst_country) AS country, if(side, src_asn, dst_asn) AS asn,
            (packets + rev_packets) * sampling_rate AS packets_est, (bytes + rev_bytes) * sampling_rate AS bytes_est
     FROM (SELECT *, (${side}) AS side, id IN (SELECT flow_id FROM detections WHERE confidence_rank >= 2) AS strong
           FROM ${flowsOf(q.scope)}
           WHERE first_ms >= ${lit(q.fromMs ?? -8.64e15)} AND first_ms < ${lit(q.toMs ?? 8.64e15)}
             AND (((${byPort}) AND (${inPorts('dst_port')} OR ${inPorts('src_port')} OR ${inAddrs('dst_ip')} OR ${inAddrs('src_ip')}))
                  OR id IN (SELECT flow_id FROM detections WHERE confidence_rank >= ${lit(minRank)}${labels}))
             ${scopeSql(q.scope)})
     ${hosts.length ? `WHERE ${inList('if(side, src_ip, dst_ip)', hosts)}` : ''})`;
  const agg = await conn.rows<Record<string, unknown>>(
    `SELECT hex(host_ip) AS k, ${ipText('host_ip', 'ipv')} AS host, * FROM (
       SELECT host_ip, any(ip_version) AS ipv, any(country) AS h_country, any(asn) AS h_asn, count() AS h_flows,
              sum(packets_est) AS h_packets_est, sum(bytes_est) AS h_bytes_est, min(first_ms) AS h_first_ms,
              max(last_ms) AS h_last_ms, countIf(strong) AS n_strong, minIf(first_ms, strong) AS first_strong_ms,
              maxIf(last_ms, strong) AS last_strong_ms, arraySort(groupUniqArray(service_port)) AS h_ports,
              uniqExact(peer_ip) AS peers,
              length(groupUniqArrayArray(arrayMap(x -> intDiv(first_ms, 3600000) + x,
                     range(toUInt64(intDiv(last_ms, 3600000) - intDiv(first_ms, 3600000) + 1))))) AS hours
       FROM ${c} GROUP BY host_ip)`,
  );
  if (agg.length === 0) return [];
  // Sessions: a host's flows to one endpoint, merged while each starts within the gap after the
  // latest end so far (hosts.sql does it with a window; 18.16 has none).
  const gap = q.sessionGapMs ?? 10 * 60_000;
  const sessions = new Map<string, number>();
  for (const r of await conn.rows<{ k: string; f: unknown[]; i: unknown[]; l: unknown[] }>(
    `SELECT hex(host_ip) AS k, groupArray(first_ms) AS f, groupArray(id) AS i, groupArray(last_ms) AS l
     FROM ${c} GROUP BY host_ip, peer_ip, service_port`,
  )) {
    const order = r.f.map((_, j) => j);
    const f = r.f.map(Number);
    const id = r.i.map(Number);
    const l = r.l.map(Number);
    order.sort((a, b) => f[a] - f[b] || id[a] - id[b]);
    let n = 0;
    let end = -Infinity;
    for (const j of order) {
      if (end === -Infinity || f[j] - end > gap) n++;
      end = Math.max(end, l[j]);
    }
    sessions.set(r.k, (sessions.get(r.k) ?? 0) + n);
  }
  const det = new Map<string, { labels: string[]; best: number }>();
  for (const r of await conn.rows<{ k: string; labels: string[]; best: number }>(
    `SELECT hex(host_ip) AS k, arraySort(groupUniqArray(concat(label, '/', confidence))) AS labels,
            max(confidence_rank) AS best
     FROM ${c} AS c ALL INNER JOIN (SELECT flow_id AS id, label, confidence, confidence_rank FROM detections) AS d USING id
     GROUP BY host_ip`,
  ))
    det.set(r.k, { labels: r.labels, best: Number(r.best) });
  const coins = new Map<string, { coin: string; rank: number; confidence: string }[]>();
  for (const r of await conn.rows<{ k: string; coin: string; rank: number; conf: string }>(
    `SELECT hex(host_ip) AS k, coin, max(confidence_rank) AS rank, argMax(confidence, confidence_rank) AS conf
     FROM ${c} AS c ALL INNER JOIN (SELECT flow_id AS id, coin, confidence, confidence_rank FROM detections WHERE coin != '') AS d USING id
     GROUP BY host_ip, coin`,
  )) {
    const list = coins.get(r.k) ?? [];
    list.push({ coin: r.coin, rank: Number(r.rank), confidence: r.conf });
    coins.set(r.k, list);
  }
  const art = new Map<string, Record<string, string[]>>();
  for (const r of await conn.rows<{ k: string; kind: string; v: string[] }>(
    `SELECT hex(host_ip) AS k, kind, arraySort(groupUniqArray(value)) AS v
     FROM ${c} AS c ALL INNER JOIN (SELECT flow_id AS id, kind, value FROM artifacts WHERE kind IN ('wallet', 'worker', 'agent', 'pool')) AS a USING id
     GROUP BY host_ip, kind`,
  )) {
    const m = art.get(r.k) ?? {};
    m[r.kind] = r.v;
    art.set(r.k, m);
  }
  const rows = agg.map((r) => {
    const k = String(r.k);
    const firstMs = Number(r.h_first_ms);
    const lastMs = Number(r.h_last_ms);
    const hours = Number(r.hours);
    const strong = Number(r.n_strong) > 0;
    const a = art.get(k) ?? {};
    const profile: HostProfile = {
      host: String(r.host),
      country: String(r.h_country ?? ''),
      asn: Number(r.h_asn),
      flows: Number(r.h_flows),
      sessions: sessions.get(k) ?? 0,
      hoursActive: hours,
      dutyCycle: hours / (Math.floor(lastMs / 3600000) - Math.floor(firstMs / 3600000) + 1),
      packetsEst: Number(r.h_packets_est),
      bytesEst: Number(r.h_bytes_est),
      firstMs,
      lastMs,
      firstStrongMs: strong ? Number(r.first_strong_ms) : null,
      lastStrongMs: strong ? Number(r.last_strong_ms) : null,
      ports: (r.h_ports as unknown[]).map(Number),
      peers: Number(r.peers),
      labels: det.get(k)?.labels ?? [],
      coins: (coins.get(k) ?? [])
        .sort((x, y) => y.rank - x.rank || (x.coin < y.coin ? -1 : x.coin > y.coin ? 1 : 0))
        .map((x) => `${x.coin}/${x.confidence}`),
      wallets: a.wallet ?? [],
      workers: a.worker ?? [],
      agents: a.agent ?? [],
      pools: a.pool ?? [],
    };
    return { profile, best: det.get(k)?.best ?? 0 };
  });
  // hosts.sql's order: the best detection, then traffic, then the address text.
  rows.sort(
    (x, y) =>
      y.best - x.best ||
      y.profile.bytesEst - x.profile.bytesEst ||
      (x.profile.host < y.profile.host ? -1 : x.profile.host > y.profile.host ? 1 : 0),
  );
  return rows.slice(0, q.limit ?? 1000).map((r) => r.profile);
}

/**
 * nfdump filters compile to DuckDB SQL over its address words (src/flow/nfdump-filter.ts); this
 * engine does not translate them yet, and ignoring one would answer for every flow.
 */
export function refuseFilter(filter: string | undefined): void {
  if (filter)
    throw new Error(
      '--filter (nfdump syntax) is not supported on a ClickHouse store yet; give the condition in ClickHouse SQL with --where',
    );
}
