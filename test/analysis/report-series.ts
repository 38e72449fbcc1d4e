// The daily series the report draws, generated from the scenario's flow model in one pass: flows to
// crypto ports (port evidence only), flows to catalogued pool addresses, and the two detection
// labels the scenario's flows get (stratum from pool endpoints, crypto-port from the port rule when
// nothing stronger fired). Beside each series, the first day a crypto host's flow fell in it: the
// series' own onset, which can lag the scenario's onset (the first miners may use pool ports that
// are not crypto ports).
import { portHint } from '../../src/detect/ports.js';
import {
  FlowModel,
  HourFlows,
  SERVICE_NAMES,
  servicesForAddresses,
  servicesForPorts,
  type Service,
} from '../../src/scenario/model.js';
import { CRYPTO_PORTS, poolCatalogue, type World } from '../../src/scenario/world.js';

const DAY = 86400000;
const HOUR = 3600000;

export const REPORT_SERIES = ['crypto ports', 'pools', 'label stratum', 'label crypto-port'] as const;
export type ReportSeriesKind = (typeof REPORT_SERIES)[number];

export interface ReportSeries {
  dayMs: number[];
  observed: boolean[];
  counts: Record<ReportSeriesKind, number[]>;
  /** First day (ms) with a crypto host's flow in the series; null when none fell in it. */
  firstCryptoMs: Record<ReportSeriesKind, number | null>;
}

const STRATUM = SERVICE_NAMES.indexOf('stratum');
const BTC_P2P = SERVICE_NAMES.indexOf('bitcoin-p2p');
const P2P = SERVICE_NAMES.indexOf('p2p') as Service;

export function reportSeries(world: World): ReportSeries {
  const c = world.config;
  const pools = poolCatalogue();
  const poolIps = new Set(pools.map((p) => p.ip));
  const endpoints = new Set(pools.map((p) => p.ip * 65536 + p.port));
  const cryptoPorts = new Uint8Array(65536);
  for (const p of CRYPTO_PORTS) cryptoPorts[p] = 1;
  // Only the services that can put a flow into one of the series (ordinary traffic elsewhere).
  const hintPorts: number[] = [];
  for (let p = 1; p < 65536; p++) if (portHint(6, p) || portHint(17, p)) hintPorts.push(p);
  const services = servicesForPorts([...CRYPTO_PORTS, ...hintPorts]);
  for (const s of servicesForAddresses([...poolIps])) services.add(s);
  // Ordinary P2P picks a random high port: one in ~4000 of its flows lands on a listed port above
  // 10000. Leaving that service out halves the run time and changes no onset.
  services.delete(P2P);
  const model = new FlowModel(world, services);
  const kinds = REPORT_SERIES;
  const out: ReportSeries = {
    dayMs: [],
    observed: [],
    counts: Object.fromEntries(kinds.map((k) => [k, new Array<number>(c.days).fill(0)])) as Record<
      ReportSeriesKind,
      number[]
    >,
    firstCryptoMs: Object.fromEntries(kinds.map((k) => [k, null])) as Record<ReportSeriesKind, number | null>,
  };
  for (let d = 0; d < c.days; d++) {
    out.dayMs.push(c.startMs + d * DAY);
    out.observed.push(!model.outage(d));
  }
  const buf = new HourFlows();
  const end = c.startMs + c.days * DAY;
  const hit = (k: ReportSeriesKind, d: number, crypto: boolean) => {
    out.counts[k][d]++;
    if (crypto && out.firstCryptoMs[k] === null) out.firstCryptoMs[k] = out.dayMs[d];
  };
  for (let t = c.startMs; t < end; t += HOUR) {
    buf.clear();
    model.hour(t, buf);
    const d = Math.floor((t - c.startMs) / DAY);
    for (let i = 0; i < buf.length; i++) {
      const crypto = buf.service[i] === STRATUM || buf.service[i] === BTC_P2P;
      const port = buf.dstPort[i];
      const pool = endpoints.has(buf.dst[i] * 65536 + port);
      if (cryptoPorts[port]) hit('crypto ports', d, crypto);
      if (poolIps.has(buf.dst[i])) hit('pools', d, crypto);
      if (pool) hit('label stratum', d, crypto);
      else if (portHint(buf.proto[i], port)) hit('label crypto-port', d, crypto);
    }
  }
  return out;
}
