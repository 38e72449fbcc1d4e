/**
 * Builds an InvestigationReport from a flow store: crypto-port and pool-endpoint timelines with
 * their surges, top hosts, pools, wallets from Stratum payload samples, and per-miner estimates
 * (hash-rate bounds from flow counters, revenue over the active period, power). Detections by
 * label join in through the series scope's label hook once the detections table exists. It asks
 * a ReportReader (store/reader.ts): DuckDbSeries on DuckDB, the ClickHouse reader on ClickHouse —
 * the same questions of either engine, so the same report.
 */
import { hashrateBoundsFromFlows, power, revenue, type MinedCoin, type Range } from '../analysis/estimate.js';
import { shareTimeEstimates } from '../analysis/share-times.js';
import { surgeOfBuckets } from '../analysis/series.js';
import { stratumEvidence, type StratumLine } from '../analysis/stratum-evidence.js';
import { CRYPTO_PORTS, ipv4Text, poolAddresses, poolCatalogue } from '../scenario/world.js';
import { fmtHashrate } from './render.js';
import type { SeriesScope } from '../store/queries.js';
import type { ReportReader } from '../store/reader.js';
import type {
  Claim,
  EstimateRow,
  HostRow,
  InvestigationReport,
  OnsetLag,
  PoolRow,
  Timeline,
  WalletRow,
} from './model.js';

export interface BuildOptions {
  scope: SeriesScope;
  /** Scope as the analyst wrote it, for the page and the commands in the evidence table. */
  scopeText: string;
  /** The CLI arguments that reproduce the scope (e.g. `--scope country:KP`). */
  scopeArgs: string;
  title?: string;
  fromMs?: number;
  toMs?: number;
  topHosts?: number;
  /** Hosts given per-miner estimates (busiest first). */
  estimateHosts?: number;
  electricityUsdPerKWh?: [number, number];
  /** Detection labels to draw a timeline for each (needs the detections table). */
  labels?: string[];
  /** Told when each stage of REPORT_STAGES begins (the CLI shows progress with it). */
  onStage?: (stage: ReportStage, index: number) => void;
}

/** The stages of buildReport, in order. */
export const REPORT_STAGES = ['timelines', 'hosts', 'pools and wallets', 'estimates', 'findings'] as const;
export type ReportStage = (typeof REPORT_STAGES)[number];

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The series arguments that reproduce a timeline: crypto ports, catalogued pools, or a label. */
function scopeArgsOf(tl: Timeline, all: Timeline[]): string {
  if (tl === all[0]) return '--ports crypto';
  if (tl === all[1]) return '--where "dst IN (…catalogued pool addresses…)"';
  return `--scope label:${tl.label.replace(/^label /, '')}`;
}

/**
 * Whether a port-only series' first increase comes after the earliest first increase on stronger
 * evidence by more than the two 95 % intervals allow (they do not overlap). Port-only data lags
 * when the first hosts used ports outside the crypto-port list (pools listen on 25, 80, 443 …):
 * its onset then dates the port evidence, not the activity.
 */
export function portOnsetLag(tl: Timeline, all: readonly Timeline[]): OnsetLag | undefined {
  if (tl.evidence !== 'port') return undefined;
  const own = tl.changes.find((c) => c.kind === 'increase');
  if (!own) return undefined;
  let ref: { t: Timeline; c: typeof own } | undefined;
  for (const t of all) {
    if (t.evidence !== 'stronger') continue;
    const c = t.changes.find((x) => x.kind === 'increase');
    if (c && (!ref || c.onsetMs < ref.c.onsetMs)) ref = { t, c };
  }
  if (!ref || Date.parse(own.onsetInterval[0]) <= Date.parse(ref.c.onsetInterval[1])) return undefined;
  const days = Math.round((own.onsetMs - ref.c.onsetMs) / 86400000);
  const d = (s: string) => s.slice(0, 10);
  return {
    behind: ref.t.label,
    behindOnset: ref.c.onset,
    behindInterval: ref.c.onsetInterval,
    days,
    text: `Port-only data lags: ${tl.label} rose from ${d(own.onset)} (95 % ${d(own.onsetInterval[0])} – ${d(own.onsetInterval[1])}), ${days} days after ${ref.t.label} (${d(ref.c.onset)}, 95 % ${d(ref.c.onsetInterval[0])} – ${d(ref.c.onsetInterval[1])}); the intervals do not overlap, so the port-only onset dates when activity reached crypto ports, not when it began.`,
  };
}

function lines(buf: Buffer | null, fromClient: boolean, timeMs: number): StratumLine[] {
  if (!buf) return [];
  return buf
    .toString('latin1')
    .split('\n')
    .filter((l) => l.startsWith('{') && l.endsWith('}'))
    .map((line) => ({ timeMs, fromClient, line }));
}

export async function buildReport(series: ReportReader, o: BuildOptions): Promise<InvestigationReport> {
  const pools = poolCatalogue();
  const poolByAddr = new Map<string, (typeof pools)[number]>();
  for (const p of pools) poolByAddr.set(`${ipv4Text(p.ip)}:${p.port}`, p);
  const poolIps = poolAddresses();

  o.onStage?.('timelines', 0);
  // Timelines: flows to crypto ports, and flows to catalogued pool addresses (any port).
  // Scans of crypto ports are not activity on them (detect/scan.ts).
  const portScope: SeriesScope = { ...o.scope, dstPorts: [...CRYPTO_PORTS], noScans: true };
  const poolScope: SeriesScope = { ...o.scope, pools: true };
  const timelines: Timeline[] = [];
  const periodData = await series.series({ bucket: 'day', fromMs: o.fromMs, toMs: o.toMs, scope: portScope });
  for (const [label, scope] of [
    ['crypto ports (port match only)', portScope],
    ['catalogued mining pools (2018 catalogue)', poolScope],
  ] as const) {
    const d =
      scope === portScope
        ? periodData
        : await series.series({ bucket: 'day', fromMs: periodData.fromMs, toMs: periodData.toMs, scope });
    const r = surgeOfBuckets(label, d);
    timelines.push({
      label,
      evidence: scope === portScope ? 'port' : 'stronger',
      unit: 'flows per day',
      bucketMs: d.bucketMs,
      points: d.buckets.map((b) => ({ t: b.bucketMs, value: b.flows, observed: b.observed })),
      changes: r.changes,
    });
  }

  for (const label of o.labels ?? []) {
    const d = await series.series({
      bucket: 'day',
      fromMs: periodData.fromMs,
      toMs: periodData.toMs,
      scope: { ...o.scope, label },
    });
    const r = surgeOfBuckets(label, d);
    timelines.push({
      label: `label ${label}`,
      // The crypto-port label is the port rule alone; every other label has stronger evidence.
      evidence: label === 'crypto-port' ? 'port' : 'stronger',
      unit: 'flows per day',
      bucketMs: d.bucketMs,
      points: d.buckets.map((b) => ({ t: b.bucketMs, value: b.flows, observed: b.observed })),
      changes: r.changes,
    });
  }

  for (const tl of timelines) {
    const lag = portOnsetLag(tl, timelines);
    if (lag) tl.lag = lag;
  }

  o.onStage?.('hosts', 1);
  const top = await series.topHosts(o.scope, [...CRYPTO_PORTS], poolIps, o.topHosts ?? 20);
  // Profiles of the same hosts (coinradar hosts): sessions, duty cycle, coins by evidence grade.
  const profiles = new Map(
    (
      await series.hostProfiles({
        scope: o.scope,
        ports: [...CRYPTO_PORTS],
        addresses: poolIps,
        fromMs: o.fromMs,
        toMs: o.toMs,
        hosts: top.map((h) => h.host),
      })
    ).map((h) => [h.host, h]),
  );
  const hosts: HostRow[] = top.map((h) => {
    const p = profiles.get(h.host);
    return {
      host: h.host,
      flows: h.flows,
      packets: h.packetsEst,
      bytes: h.bytesEst,
      firstSeen: day(h.firstMs),
      lastSeen: day(h.lastMs),
      labels: h.ports.map((p) => `port ${p}`),
      ...(p
        ? {
            sessions: p.sessions,
            dutyCycle: p.dutyCycle,
            coins: p.coins,
            firstStrong: p.firstStrongMs === null ? undefined : day(p.firstStrongMs),
          }
        : {}),
    };
  });

  o.onStage?.('pools and wallets', 2);
  const eps = await series.endpoints(o.scope, poolIps);
  const poolRows: PoolRow[] = eps.map((e) => {
    const p = poolByAddr.get(`${e.dst}:${e.dstPort}`) ?? pools.find((x) => ipv4Text(x.ip) === e.dst);
    return {
      endpoint: `${e.dst}:${e.dstPort}`,
      name: p ? `${p.pool} (${p.server}, ${p.coin})` : 'catalogued pool address',
      hosts: e.hosts,
      flows: e.flows,
      firstSeen: day(e.firstMs),
      firstSeenAt: new Date(e.firstMs).toISOString(),
      lastSeenAt: new Date(e.lastMs).toISOString(),
    };
  });

  // Wallets and difficulties from payload samples.
  const samples = await series.stratumPayloads(o.scope);
  const wallets = new Map<string, WalletRow>();
  const difficultyByHost = new Map<string, number>();
  for (const s of samples) {
    const ev = stratumEvidence([...lines(s.fwd, true, s.firstMs), ...lines(s.rev, false, s.firstMs + 1)]);
    if (ev.wallet) {
      const w = wallets.get(ev.wallet) ?? {
        wallet: ev.wallet,
        coin: ev.coin ?? '?',
        hosts: [],
        workers: [],
        evidence: '',
      };
      if (!w.hosts.includes(s.src)) w.hosts.push(s.src);
      if (ev.worker && !w.workers.includes(ev.worker)) w.workers.push(ev.worker);
      if (!w.evidence)
        w.evidence = `Stratum ${ev.coin === 'XMR' ? 'login' : 'mining.authorize'} in flow ${s.flowId} (${s.src} → ${s.dst}:${s.dstPort}, ${day(s.firstMs)})`;
      wallets.set(ev.wallet, w);
    }
    const d = ev.shares[0]?.difficulty;
    const setDiff =
      ev.coin === 'BTC'
        ? /"mining\.set_difficulty","params":\[(\d+(?:\.\d+)?)\]/.exec(s.rev?.toString('latin1') ?? '')
        : null;
    const diff = setDiff ? Number(setDiff[1]) : d;
    if (diff) difficultyByHost.set(s.src, diff);
  }

  o.onStage?.('estimates', 3);
  // Per-miner estimates: hosts with connections to catalogued pools.
  const estimates: EstimateRow[] = [];
  const miners = top.filter((h) => h.flows > 0).slice(0, o.estimateHosts ?? 10);
  let totalUsd: Range = { low: 0, mid: 0, high: 0 };
  let totalCoin: Record<string, Range> = {};
  for (const h of miners) {
    const conns = (await series.hostConnections(h.host, poolIps)).filter(
      (c) => poolByAddr.has(`${c.dst}:${c.dstPort}`) || true,
    );
    if (conns.length === 0) continue;
    const c = conns[0];
    const pool = poolByAddr.get(`${c.dst}:${c.dstPort}`) ?? pools.find((x) => ipv4Text(x.ip) === c.dst);
    const coin: MinedCoin = pool?.coin === 'XMR' ? 'XMR' : 'BTC';
    const seconds = Math.max(1, (c.lastMs - c.firstMs) / 1000);
    const bounds = hashrateBoundsFromFlows({
      coin,
      packets: c.packetsEst,
      bytes: c.bytesEst,
      seconds,
      difficulty: difficultyByHost.get(h.host),
    });
    const from = Date.UTC(
      new Date(c.firstMs).getUTCFullYear(),
      new Date(c.firstMs).getUTCMonth(),
      new Date(c.firstMs).getUTCDate(),
    );
    const rev = revenue(coin, bounds.hashrate, from, c.lastMs);
    const pw = power(bounds.hashrate, coin === 'BTC' ? 'antminer-s9' : 'cpu', o.electricityUsdPerKWh);
    const days = rev.days.length || Math.max(1, Math.round((c.lastMs - from) / 86400000));
    // Share times in the host's payload samples, where a capture gave them: a second estimate.
    const timed = shareTimeEstimates(await series.stratumPayloads({ ...o.scope, host: h.host }, 100_000));
    const byShares = timed.estimates.find((e) => e.coin === coin);
    estimates.push({
      subject: `${h.host} → ${pool ? pool.pool : c.dst}`,
      coin,
      hashrate: bounds.hashrate,
      hashrateMethod: `flow counters (${c.flows} records), ${difficultyByHost.has(h.host) ? 'difficulty seen in payload' : 'difficulty assumed'}`,
      ...(byShares ? { shareTimeHashrate: byShares.hashrate, shareTimeMethod: byShares.method } : {}),
      revenueCoin: rev.days.length ? rev.totalCoin : undefined,
      revenueUsd: rev.days.length ? rev.totalUsd : undefined,
      ...(rev.days.length
        ? {}
        : {
            revenueNote:
              rev.unavailable ??
              `not estimated: no network or price data for ${day(from)} – ${day(c.lastMs)}`,
          }),
      period: { from: day(from), to: day(c.lastMs), days },
      powerWatts: pw.watts,
      energyKWh: {
        low: pw.kWhPerDay.low * days,
        mid: pw.kWhPerDay.mid * days,
        high: pw.kWhPerDay.high * days,
      },
      electricityUsd: {
        low: pw.costUsdPerDay.low * days,
        mid: pw.costUsdPerDay.mid * days,
        high: pw.costUsdPerDay.high * days,
      },
      assumptions: [
        ...bounds.assumptions,
        ...(byShares?.assumptions ?? []),
        ...rev.assumptions,
        ...pw.assumptions,
        {
          name: 'hardware class',
          value: coin === 'BTC' ? 'Antminer S9' : 'desktop CPU',
          source: 'assumed: the ASIC/CPU of 2017 for the coin',
        },
      ],
    });
    if (rev.days.length) {
      totalUsd = {
        low: totalUsd.low + rev.totalUsd.low,
        mid: totalUsd.mid + rev.totalUsd.mid,
        high: totalUsd.high + rev.totalUsd.high,
      };
      const t = totalCoin[coin] ?? { low: 0, mid: 0, high: 0 };
      totalCoin = {
        ...totalCoin,
        [coin]: {
          low: t.low + rev.totalCoin.low,
          mid: t.mid + rev.totalCoin.mid,
          high: t.high + rev.totalCoin.high,
        },
      };
    }
  }

  // Findings and the evidence behind each.
  o.onStage?.('findings', 4);
  const findings: string[] = [];
  const evidence: Claim[] = [];
  const cmd = (s: string) => `coinradar ${s} ${o.scopeArgs}`.trim();
  for (const tl of timelines) {
    const inc = tl.changes.find((c) => c.kind === 'increase');
    if (!inc) {
      findings.push(`${tl.label}: no significant change in the period.`);
      continue;
    }
    const text = `${tl.label}: activity rose from ${inc.before.toFixed(1)} to ${inc.after.toFixed(1)} ${tl.unit} from ${inc.onset.slice(0, 10)} (95 % interval ${inc.onsetInterval[0].slice(0, 10)} – ${inc.onsetInterval[1].slice(0, 10)}; ${inc.shape}${inc.shape === 'exponential' ? `, doubling every ${inc.doublingBuckets!.toFixed(1)} days` : ''}; posterior probability ${inc.probability.toFixed(3)}).`;
    findings.push(text);
    if (tl.lag) findings.push(tl.lag.text);
    evidence.push({
      claim: text,
      support: [
        {
          kind: 'surge',
          ref: cmd(`surge ${scopeArgsOf(tl, timelines)} --format json`),
          detail: `change points ${inc.changePoints.map((x) => x.slice(0, 10)).join(', ')}`,
        },
        { kind: 'query', ref: cmd(`series ${scopeArgsOf(tl, timelines)}`) },
      ],
    });
  }
  if (poolRows.length) {
    // Every host of the scope that reached a pool address, not only the top hosts shown.
    const poolHosts = (await series.topHosts(o.scope, [], poolIps, 1_000_000)).length;
    const claim = `${poolHosts} hosts in scope reached ${poolRows.length} endpoints of catalogued mining pools.`;
    findings.push(claim);
    evidence.push({
      claim,
      support: poolRows.slice(0, 5).map((p) => ({
        kind: 'query' as const,
        ref: `coinradar flows --where "dst = '${p.endpoint.split(':')[0]}' AND dst_port = ${p.endpoint.split(':')[1]}"`,
        detail: p.name,
      })),
    });
  }
  for (const w of wallets.values()) {
    const claim = `Wallet ${w.wallet} (${w.coin}) logged in to a pool from ${w.hosts.join(', ')}.`;
    evidence.push({ claim, support: [{ kind: 'detection', ref: w.evidence }] });
  }
  if (wallets.size) findings.push(`${wallets.size} wallet address(es) seen in Stratum logins.`);
  if (estimates.some((e) => e.revenueUsd)) {
    const coins = Object.entries(totalCoin)
      .map(([c, r]) => `${r.mid.toPrecision(3)} ${c} (${r.low.toPrecision(2)}–${r.high.toPrecision(2)})`)
      .join(', ');
    const claim = `The ${estimates.length} busiest miners earned about ${coins}, ${Math.round(totalUsd.mid)} USD (${Math.round(totalUsd.low)}–${Math.round(totalUsd.high)}) over their active periods.`;
    findings.push(claim);
    evidence.push({
      claim,
      support: estimates.map((e) => ({
        kind: 'estimate' as const,
        ref: e.subject,
        detail: e.shareTimeMethod
          ? `${e.hashrateMethod}; also ${fmtHashrate(e.shareTimeHashrate)} from ${e.shareTimeMethod}`
          : e.hashrateMethod,
      })),
    });
  }
  return {
    title: o.title ?? 'Cryptocurrency activity report',
    generatedAt: new Date().toISOString().slice(0, 19) + 'Z',
    scope: o.scopeText,
    period: { from: day(periodData.fromMs), to: day(periodData.toMs - 1) },
    findings,
    timelines,
    hosts,
    pools: poolRows,
    wallets: [...wallets.values()],
    estimates,
    evidence,
    notes: [
      'Port matches are called "crypto ports", not mining: ordinary software uses some of these ports too. Pool addresses come from the May 2018 catalogue of Veselý & Žádník.',
      'Surge detection: PELT change points under a negative-binomial likelihood with a weekly profile, each kept only at posterior probability ≥ 0.99; growth shape by BIC (docs/analysis.md).',
      "Hash rates from flow counters are bounds: share messages counted from client bytes, difficulty seen in payload samples or assumed. Revenue uses each day's network difficulty, hash rate, fees and price; every assumption is listed.",
    ],
  };
}
