/**
 * What every export format is made from: the investigation report of a scope (report/build.ts,
 * the same queries `coinradar report` runs: timelines with surge onsets, hosts, catalogued pool
 * endpoints, wallets from Stratum logins) plus the wallet artifacts of stored detections. The
 * formats (stix.ts, misp.ts, zeek-intel.ts) are pure functions of this object.
 */
import { buildReport, type BuildOptions } from '../report/build.js';
import type { InvestigationReport, PoolRow } from '../report/model.js';
import { ipv4Text, poolCatalogue } from '../scenario/world.js';
import type { DetectionStore } from '../store/detections.js';
import type { ReportReader } from '../store/reader.js';

export interface PoolEndpoint {
  ip: string;
  port: number;
  /** Pool and server name from the catalogue ('' when only the address is catalogued). */
  pool: string;
  server: string;
  coin: string;
  hosts: number;
  flows: number;
  firstSeen: string;
  lastSeen: string;
}

export interface WalletFinding {
  address: string;
  coin: string;
  hosts: string[];
  /** How it was seen (a Stratum login in flow n, or the detections that carry it). */
  evidence: string;
  flows?: number;
  firstSeen?: string;
  lastSeen?: string;
}

export interface ExportFindings {
  report: InvestigationReport;
  pools: PoolEndpoint[];
  wallets: WalletFinding[];
  /** The time the export describes: the end of the report's period. Used as created/modified so
   * that the same store exports the same bytes. */
  asOf: string;
}

function poolEndpoint(row: PoolRow, period: InvestigationReport['period']): PoolEndpoint {
  const [ip, port] = [
    row.endpoint.slice(0, row.endpoint.lastIndexOf(':')),
    Number(row.endpoint.split(':').pop()),
  ];
  const cat = poolCatalogue();
  const c =
    cat.find((p) => ipv4Text(p.ip) === ip && p.port === port) ?? cat.find((p) => ipv4Text(p.ip) === ip);
  return {
    ip,
    port,
    pool: c?.pool ?? '',
    server: c?.server ?? '',
    coin: c?.coin ?? '',
    hosts: row.hosts,
    flows: row.flows,
    firstSeen: row.firstSeenAt ?? `${row.firstSeen}T00:00:00.000Z`,
    lastSeen: row.lastSeenAt ?? `${period.to}T23:59:59.999Z`,
  };
}

/** A store timestamp ('2017-05-17 10:00:00.123' or ISO) as ISO 8601 UTC with milliseconds. */
function isoTime(s: string): string {
  const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : `${s.replace(' ', 'T')}Z`);
  return Number.isFinite(t) ? new Date(t).toISOString() : s;
}

/**
 * The findings of a scope, from either engine's reader (store/reader.ts openNetworkReader) and its
 * detections (null: the store has none).
 */
export async function exportFindings(
  reader: ReportReader,
  detections: DetectionStore | null,
  o: Omit<BuildOptions, 'onStage' | 'title'>,
): Promise<ExportFindings> {
  const report = await buildReport(reader, o);
  const wallets = new Map<string, WalletFinding>();
  for (const w of report.wallets)
    wallets.set(w.wallet, { address: w.wallet, coin: w.coin, hosts: [...w.hosts], evidence: w.evidence });
  // Wallets the detectors stored as artifacts (any confidence).
  if (detections) {
    // The artifacts table is not scoped: a wallet joins when one of its hosts is a host of the scope.
    const inScope = new Set(report.hosts.map((h) => h.host));
    for (const a of await detections.artifacts({ kind: 'wallet', limit: 100_000 })) {
      const hosts = a.hosts ? a.hosts.split(/,\s*/).filter(Boolean) : [];
      const w = wallets.get(a.value);
      const seen = { flows: Number(a.flows), firstSeen: isoTime(a.first), lastSeen: isoTime(a.last) };
      if (w) {
        for (const h of hosts) if (!w.hosts.includes(h)) w.hosts.push(h);
        Object.assign(w, seen);
      } else if (hosts.some((h) => inScope.has(h)))
        wallets.set(a.value, {
          address: a.value,
          coin: (a.coins ?? '').split(/,\s*/)[0] || '?',
          hosts,
          evidence: `detections ${a.labels} in ${seen.flows} flow(s)`,
          ...seen,
        });
    }
  }
  return {
    report,
    pools: report.pools.map((p) => poolEndpoint(p, report.period)),
    wallets: [...wallets.values()].sort((a, b) => a.address.localeCompare(b.address)),
    asOf: `${report.period.to}T23:59:59.999Z`,
  };
}
