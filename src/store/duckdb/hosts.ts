/**
 * Host profiles over the DuckDB flow store: per internal host of a scope, its crypto activity —
 * first and last seen, sessions, hours active and duty cycle, traffic, server ports and peers,
 * detection labels and coins, and the artifacts (wallets, workers, agents, pools) of its flows.
 */
import { readFileSync } from 'node:fs';
import type { DuckDBValue } from '@duckdb/node-api';
import { SCAN_ATTEMPT_SQL } from '../../detect/scan.js';
import { CONFIDENCE_RANK } from '../../detect/types.js';
import type { DuckDbDatabase } from './database.js';
import { addressList, flowTable, internalSide, scopeConditions } from './series.js';
export type { HostProfileQuery, HostProfile } from '../queries.js';
import type { HostProfileQuery, HostProfile } from '../queries.js';

const SQL = readFileSync(new URL('./hosts.sql', import.meta.url), 'utf8');

const NO_DETECTIONS =
  "(SELECT NULL::BIGINT AS flow_id, ''::VARCHAR AS label, ''::VARCHAR AS coin, ''::VARCHAR AS confidence, 0::UTINYINT AS confidence_rank WHERE false)";
const NO_ARTIFACTS =
  "(SELECT NULL::BIGINT AS flow_id, ''::VARCHAR AS kind, ''::VARCHAR AS value WHERE false)";

export async function hostProfiles(db: DuckDbDatabase, q: HostProfileQuery): Promise<HostProfile[]> {
  const [t] = await db.all<{ n: number }>(
    "SELECT count(*) AS n FROM information_schema.tables WHERE table_name IN ('detections', 'artifacts')",
  );
  const haveDetections = t.n === 2;
  const params: DuckDBValue[] = [
    q.ports.map((n) => Math.trunc(n)).join(','),
    addressList(q.addresses ?? []),
    q.sessionGapMs ?? 10 * 60_000,
    q.fromMs ?? -8.64e15,
    q.toMs ?? 8.64e15,
    q.limit ?? 1000,
    CONFIDENCE_RANK[q.minConfidence ?? 'port'],
    addressList(q.hosts ?? []),
  ];
  const p = (v: DuckDBValue) => {
    params.push(v);
    return `$${params.length}`;
  };
  const scope = scopeConditions(q.scope, params.length + 1);
  params.push(...scope.params);
  const side = internalSide(q.scope, p);
  // A `scan` detection (detect/scan.ts) marks a flow that was no activity: it never makes one.
  const labels =
    " AND d.label <> 'scan'" +
    (q.labels && q.labels.length ? ` AND d.label IN (${q.labels.map((l) => p(l)).join(', ')})` : '');
  // Port-level activity leaves out attempts without data: a scanned host is not a miner.
  const byPort = (q.minConfidence ?? 'port') === 'port' ? `NOT ${SCAN_ATTEMPT_SQL}` : 'FALSE';
  // A store without detections: the two per-flow lookups in them are constant (the rank parameter
  // stays named in a per-row test that is false, so the numbering holds).
  const lookups = haveDetections || q.labels?.length;
  const sql = SQL.replace(
    '/*STRONG*/',
    lookups ? 'f.id IN (SELECT flow_id FROM /*DETECTIONS*/ d WHERE d.confidence_rank >= 2)' : 'FALSE',
  )
    .replace(
      '/*BY_DETECTION*/',
      lookups
        ? 'f.id IN (SELECT flow_id FROM /*DETECTIONS*/ d WHERE d.confidence_rank >= $7 /*LABELS*/)'
        : '($7 IS NULL AND f.id < 0)',
    )
    .replace('/*SIDE*/', side)
    .replace('/*FLOWS*/', flowTable(q.scope))
    .replace('/*BY_PORT*/', byPort)
    .replace('/*SCOPE*/', scope.sql)
    .replace('/*LABELS*/', labels)
    .replaceAll('/*DETECTIONS*/', haveDetections ? 'detections' : NO_DETECTIONS)
    .replace('/*ARTIFACTS*/', haveDetections ? 'artifacts' : NO_ARTIFACTS);
  const rows = await db.all<Record<string, unknown>>(sql, params);
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
  return rows.map((r) => ({
    host: String(r.host),
    country: String(r.country ?? ''),
    asn: Number(r.asn),
    flows: Number(r.flows),
    sessions: Number(r.sessions),
    hoursActive: Number(r.hours),
    dutyCycle: Number(r.duty_cycle),
    packetsEst: Number(r.packets_est),
    bytesEst: Number(r.bytes_est),
    firstMs: Number(r.first_ms),
    lastMs: Number(r.last_ms),
    firstStrongMs: r.first_strong_ms == null ? null : Number(r.first_strong_ms),
    lastStrongMs: r.last_strong_ms == null ? null : Number(r.last_strong_ms),
    ports: list(r.ports).map(Number),
    peers: Number(r.peers),
    labels: list(r.labels),
    coins: list(r.coins),
    wallets: list(r.wallets),
    workers: list(r.workers),
    agents: list(r.agents),
    pools: list(r.pools),
  }));
}
