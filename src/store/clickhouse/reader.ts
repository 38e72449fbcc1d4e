/**
 * The network reader (../reader.ts) on ClickHouse: what the report and the server's network
 * routes ask, in SQL that 18.16 and current releases both run (no window functions, no FILTER,
 * aliases that are not column names — 18.16 replaces a column by a same-named alias everywhere in
 * its SELECT). The rules and orders are DuckDB's (duckdb/series.sql, duckdb/reader.ts), so both
 * engines answer alike; the sessions' gap merge, a window on DuckDB, is one sorted pass here.
 */
import type { StoredDetection } from '../detections.js';
import type { HostProfile, HostProfileQuery, SeriesData, SeriesQuery, SeriesScope } from '../queries.js';
import {
  connectionOfRow,
  endpointOfRow,
  payloadSampleOfRow,
  topHostOfRow,
  type Endpoint,
  type HostConnection,
  type HostSession,
  type HostSessionQuery,
  type NetworkReader,
  type PayloadSample,
  type TopHost,
} from '../reader.js';
import type { KeyedSummaryQuery, StoredPayload, SummaryKey, SummaryRow } from '../store.js';
import { lit, str } from './connection.js';
import { ClickHouseDetectionStore } from './detections.js';
import { FLOWS_VIEW, FLOW_ROWS, ipText, type ClickHouseFlowStore } from './flows.js';
import { flowsOf, inList, ipLiteral, ports, SCAN_ATTEMPT, scopeSql, sideSql } from './queries.js';

/** A stored 128-bit address value as its FixedString(16) literal (network order). */
function ipValueLiteral(v: bigint): string {
  if (v < 0n || v >= 1n << 128n) throw new Error(`not a 128-bit address value: ${v}`);
  return `toFixedString(unhex('${v.toString(16).padStart(32, '0')}'), 16)`;
}

/** Binary columns come back as hex (JSON output would mangle bytes that are not UTF-8). */
const hexOf = (col: string) => `if(isNull(${col}), NULL, hex(assumeNotNull(${col})))`;
const bytesOf = (v: unknown) => (v === null || v === undefined ? null : Buffer.from(String(v), 'hex'));

/** Text order as DuckDB's VARCHAR comparison (bytes). */
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class ClickHouseNetworkReader implements NetworkReader {
  readonly engine = 'clickhouse' as const;
  readonly takesFilter = false;

  constructor(private readonly store: ClickHouseFlowStore) {}

  private get conn() {
    return this.store.conn;
  }

  series(q: SeriesQuery): Promise<SeriesData> {
    return this.store.series(q);
  }

  hostProfiles(q: HostProfileQuery): Promise<HostProfile[]> {
    return this.store.hostProfiles(q);
  }

  summarize(q: KeyedSummaryQuery): Promise<Map<SummaryKey, SummaryRow[]>> {
    return this.store.summarize(q);
  }

  payloads(flowIds: number[]): Promise<Map<number, StoredPayload>> {
    return this.store.payloads(flowIds);
  }

  async hasDetections(): Promise<boolean> {
    // The schema makes the detections table with the flows (schema.sql).
    return true;
  }

  async labels(): Promise<string[]> {
    // GROUP BY, not DISTINCT: on a cluster a DISTINCT may be left per shard (see artifactHosts).
    const rows = await this.conn.rows<{ label: string }>(
      'SELECT label FROM detections GROUP BY label ORDER BY label',
    );
    return rows.map((r) => String(r.label));
  }

  hostDetections(ip: string, limit: number): Promise<StoredDetection[]> {
    const v = ipLiteral(ip);
    return new ClickHouseDetectionStore(this.store).detections({
      where: `(f.src_ip = ${v} OR f.dst_ip = ${v})`,
      limit,
    });
  }

  addressRange(lo: bigint, hi: bigint): string {
    return clickHouseAddressRange(lo, hi);
  }

  async artifactHosts(value: string, limit: number): Promise<{ kind: string; host: string }[]> {
    const rows = await this.conn.rows<{ kind: string; host: string }>(
      // GROUP BY, not DISTINCT: on a two-shard cluster 18.16 left the DISTINCT of this join per
      // shard, and a wallet's host came back twice (clickhouse-serve.test.ts).
      `SELECT kind, src AS host
       FROM (SELECT flow_id AS id, kind FROM artifacts WHERE value = ${str(value)}) AS a
         ALL INNER JOIN (SELECT id, src FROM ${FLOWS_VIEW}) AS fl USING id
       GROUP BY kind, host ORDER BY host, kind LIMIT ${lit(Math.trunc(limit))}`,
    );
    return rows.map((r) => ({ kind: String(r.kind), host: String(r.host) }));
  }

  async topHosts(
    scope: SeriesScope,
    portList: number[],
    addresses: string[],
    limit = 20,
  ): Promise<TopHost[]> {
    const p = ports(portList.map((n) => Math.trunc(n)));
    const a = addresses.map(ipLiteral);
    // As `coinradar hosts` counts port activity: attempts without data are not (detect/scan.ts).
    const s: SeriesScope = { ...scope, dstPorts: undefined, noScans: true };
    const rows = await this.conn.rows<Record<string, unknown>>(
      // Inner aliases are not column names (18.16); the outer SELECT gives DuckDB's (topHostOfRow).
      `SELECT ${ipText('host_ip', 'ipv')} AS host, t_flows AS flows, t_packets_est AS packets_est, t_bytes_est AS bytes_est,
              t_first_ms AS first_ms, t_last_ms AS last_ms, t_ports AS ports FROM (
         SELECT host_ip, ipv, count() AS t_flows, sum(p_est) AS t_packets_est, sum(b_est) AS t_bytes_est,
                min(first_ms) AS t_first_ms, max(last_ms) AS t_last_ms, arraySort(groupUniqArray(service_port)) AS t_ports
         FROM (SELECT if(side, src_ip, dst_ip) AS host_ip, ip_version AS ipv, first_ms, last_ms,
                      (packets + rev_packets) * sampling_rate AS p_est, (bytes + rev_bytes) * sampling_rate AS b_est,
                      multiIf(${inList('dst_port', p)}, dst_port, ${inList('src_port', p)}, src_port, side, dst_port, src_port) AS service_port
               FROM (SELECT *, (${sideSql(scope)}) AS side FROM ${flowsOf(scope)}
                     WHERE (${inList('dst_port', p)} OR ${inList('src_port', p)} OR ${inList('dst_ip', a)} OR ${inList('src_ip', a)})
                       ${scopeSql(s)}))
         GROUP BY host_ip, ipv)
       ORDER BY flows DESC, host LIMIT ${lit(Math.trunc(limit))}`,
    );
    return rows.map(topHostOfRow);
  }

  async endpoints(scope: SeriesScope, addresses: string[]): Promise<Endpoint[]> {
    const rows = await this.conn.rows<Record<string, unknown>>(
      `SELECT e_dst AS dst, e_port AS dst_port, e_hosts AS hosts, e_flows AS flows, e_first AS first_ms, e_last AS last_ms
       FROM (SELECT ${ipText('dst_ip', 'ip_version')} AS e_dst, dst_port AS e_port, uniqExact(src_ip) AS e_hosts,
                    count() AS e_flows, min(first_ms) AS e_first, max(last_ms) AS e_last
             FROM ${flowsOf(scope)}
             WHERE ${inList('dst_ip', addresses.map(ipLiteral))} AND (${sideSql(scope)}) ${scopeSql({ ...scope, dstPorts: undefined })}
             GROUP BY dst_ip, ip_version, dst_port)
       ORDER BY flows DESC, dst, dst_port`,
    );
    return rows.map(endpointOfRow);
  }

  async hostConnections(host: string, addresses: string[]): Promise<HostConnection[]> {
    const rows = await this.conn.rows<Record<string, unknown>>(
      `SELECT c_dst AS dst, c_port AS dst_port, c_packets_est AS packets_est, c_bytes_est AS bytes_est,
              c_active_s AS active_s, c_first AS first_ms, c_last AS last_ms, c_flows AS flows
       FROM (SELECT ${ipText('dst_ip', 'ip_version')} AS c_dst, dst_port AS c_port,
                    sum(packets * sampling_rate) AS c_packets_est, sum(bytes * sampling_rate) AS c_bytes_est,
                    sum(last_ms - first_ms) / 1000.0 AS c_active_s, min(first_ms) AS c_first, max(last_ms) AS c_last,
                    count() AS c_flows
             FROM ${FLOW_ROWS}
             WHERE src_ip = ${ipLiteral(host)} AND ${inList('dst_ip', addresses.map(ipLiteral))}
             GROUP BY dst_ip, ip_version, dst_port)
       ORDER BY flows DESC, dst, dst_port`,
    );
    return rows.map(connectionOfRow);
  }

  async stratumPayloads(scope: SeriesScope, limit = 500): Promise<PayloadSample[]> {
    const looks = ['mining.', '"login"', '"submit"'].map((s) => `position(ifNull(fwd, ''), ${str(s)}) > 0`);
    const rows = await this.conn.rows<Record<string, unknown>>(
      `SELECT id, src, src_port, dst, dst_port, first_ms, last_ms, ${hexOf('fwd')} AS x_fwd, ${hexOf('rev')} AS x_rev,
              ${hexOf('fwd_times')} AS x_fwd_times, ${hexOf('rev_times')} AS x_rev_times
       FROM (SELECT id, src, src_port, dst, dst_port, first_ms, last_ms FROM ${FLOWS_VIEW}
             WHERE 1 ${scopeSql({ ...scope, dstPorts: undefined })}) AS fl
         ALL INNER JOIN (SELECT flow_id AS id, fwd, rev, fwd_times, rev_times FROM flow_payloads
                         WHERE ${looks.join(' OR ')}) AS p USING id
       ORDER BY first_ms, id LIMIT ${lit(Math.trunc(limit))}`,
    );
    return rows.map((r) => payloadSampleOfRow(r, (c) => bytesOf(r[`x_${c}`])));
  }

  async hostSessions(ip: string, q: HostSessionQuery): Promise<HostSession[]> {
    const x = ipLiteral(ip);
    const p = ports(q.ports.map((n) => Math.trunc(n)));
    // The rules of hosts.sql: a `scan` detection and a port match without data (a scan attempt) are
    // no activity, so a scanned host has no session.
    const flowsOfHost = `(SELECT id, ip_version, first_ms, last_ms, if(src_ip = ${x}, dst_ip, src_ip) AS peer_ip,
              multiIf(${inList('dst_port', p)}, dst_port, ${inList('src_port', p)}, src_port, src_ip = ${x}, dst_port, src_port) AS service_port,
              (bytes + rev_bytes) * sampling_rate AS b_est
       FROM ${FLOW_ROWS}
       WHERE (src_ip = ${x} OR dst_ip = ${x})
         AND (((${inList('dst_port', p)} OR ${inList('src_port', p)}) AND NOT ${SCAN_ATTEMPT})
              OR id IN (SELECT flow_id FROM detections WHERE label != 'scan')))`;
    const groups = await this.conn.rows<{
      peer: string;
      port: number;
      i: unknown[];
      f: unknown[];
      l: unknown[];
      b: unknown[];
    }>(
      `SELECT ${ipText('peer_ip', 'any(ip_version)')} AS peer, service_port AS port, groupArray(id) AS i,
              groupArray(first_ms) AS f, groupArray(last_ms) AS l, groupArray(b_est) AS b
       FROM ${flowsOfHost} GROUP BY peer_ip, service_port`,
    );
    const sessions: (HostSession & { ids: number[] })[] = [];
    for (const g of groups) {
      const id = g.i.map(Number);
      const f = g.f.map(Number);
      const l = g.l.map(Number);
      const b = g.b.map(Number);
      const order = id.map((_, j) => j).sort((a, c) => f[a] - f[c] || id[a] - id[c]);
      let cur: (HostSession & { ids: number[] }) | null = null;
      let end = -Infinity;
      for (const j of order) {
        if (cur === null || f[j] - end > q.gapMs) {
          cur = {
            peer: g.peer,
            port: Number(g.port),
            firstMs: f[j],
            lastMs: l[j],
            flows: 0,
            bytesEst: 0,
            labels: [],
            ids: [],
          };
          sessions.push(cur);
        }
        end = Math.max(end, l[j]);
        cur.lastMs = Math.max(cur.lastMs, l[j]);
        cur.flows++;
        cur.bytesEst += b[j];
        cur.ids.push(id[j]);
      }
    }
    sessions.sort((a, c) => a.firstMs - c.firstMs || byText(a.peer, c.peer) || a.port - c.port);
    const shown = sessions.slice(0, q.limit);
    if (shown.length === 0) return [];
    const byFlow = new Map<number, string[]>();
    for (const r of await this.conn.rows<{ flow_id: number; label: string }>(
      `SELECT DISTINCT flow_id, label FROM detections
       WHERE label != 'scan' AND flow_id IN (SELECT id FROM ${flowsOfHost})`,
    )) {
      const list = byFlow.get(Number(r.flow_id));
      if (list) list.push(String(r.label));
      else byFlow.set(Number(r.flow_id), [String(r.label)]);
    }
    return shown.map(({ ids, ...s }) => {
      const labels = new Set<string>();
      for (const i of ids) for (const l of byFlow.get(i) ?? []) labels.add(l);
      return { ...s, labels: [...labels].sort() };
    });
  }
}

/** An address range on either end of a flow, in ClickHouse's SQL (NetworkReader.addressRange). */
export function clickHouseAddressRange(lo: bigint, hi: bigint): string {
  const r = `BETWEEN ${ipValueLiteral(lo)} AND ${ipValueLiteral(hi)}`;
  return `(src_ip ${r} OR dst_ip ${r})`;
}
