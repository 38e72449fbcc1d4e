import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import {
  HARDWARE,
  hashrateBoundsFromFlows,
  hashrateFromShares,
  power,
  revenue,
  type MinedCoin,
  type Range,
} from '../analysis/estimate.js';
import { shareTimeEstimates } from '../analysis/share-times.js';
import { stratumEvidence, type StratumLine } from '../analysis/stratum-evidence.js';
import { fmtHashrate, fmtRange } from '../report/render.js';
import { ipv4Text, poolCatalogue } from '../scenario/world.js';
import { openFlowStore } from '../store/open.js';
import { openNetworkReader } from '../store/reader.js';
import { defaultDbPath } from '../store/store.js';
import { existingStore, parseFormat, parseNumberOption, render, renderTable } from './output.js';

const SI: Record<string, number> = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** "14T", "13.5e12", "500" → H/s. */
export function parseHashrate(v: string): number {
  const m = /^(\d+(?:\.\d+)?(?:e\d+)?)\s*([kKMGTPE]?)(?:H\/s)?$/.exec(v.trim());
  if (!m) throw new Error(`not a hash rate: ${v} (e.g. 14T, 500, 2.5k)`);
  return Number(m[1]) * SI[m[2]];
}

/** "0.03-0.15" or "0.05" → [lo, hi]. */
function parsePair(v: string, name: string): [number, number] {
  const [a, b] = v.split(/[-–]/).map(Number);
  const lo = a;
  const hi = b === undefined ? a : b;
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || lo > hi)
    throw new Error(`${name}: expected a number or a range lo-hi, not ${v}`);
  return [lo, hi];
}

/** --hashrate with its optional range, read back by rangeOf. */
function hashrateOptions(c: Command): Command {
  return c
    .requiredOption('--hashrate <h>', 'hash rate, e.g. 14T (H/s)')
    .option('--hashrate-low <h>', 'lower end of the hash-rate range')
    .option('--hashrate-high <h>', 'upper end of the hash-rate range');
}

function rangeOf(o: { hashrate: string; hashrateLow?: string; hashrateHigh?: string }): Range {
  const mid = parseHashrate(o.hashrate);
  return {
    low: o.hashrateLow ? parseHashrate(o.hashrateLow) : mid,
    mid,
    high: o.hashrateHigh ? parseHashrate(o.hashrateHigh) : mid,
  };
}

function date(v: string, n: string): number {
  const t = Date.parse(`${v}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(t))
    throw new Error(`${n}: expected YYYY-MM-DD, not ${v}`);
  return t;
}

function coinOf(v: string): MinedCoin {
  const c = v.toUpperCase();
  if (c !== 'BTC' && c !== 'XMR') throw new Error(`--coin must be BTC or XMR, not ${v}`);
  return c;
}

export function register(program: Command): void {
  const cmd = program
    .command('estimate')
    .description('hash rate, revenue and power estimates with ranges and named assumptions');
  hashrateOptions(
    cmd
      .command('revenue')
      .description(
        'coin and USD earned by a hash rate over a period, from each day’s network figures and prices',
      ),
  )
    .option('--coin <c>', 'BTC | XMR', 'BTC')
    .requiredOption('--from <date>', 'first day (UTC)')
    .requiredOption('--to <date>', 'day after the last (UTC)')
    .option('--pool-fee <f>', 'pool fee fraction or range', '0-0.04')
    .option('--xmr-network-hashrate <lo-hi>', 'Monero network hash rate range in H/s (no shipped file)')
    .option('--xmr-reward <lo-hi>', 'Monero block reward range in XMR')
    .option('--format <f>', 'table | json', 'table')
    .action(
      (o: {
        hashrate: string;
        hashrateLow?: string;
        hashrateHigh?: string;
        coin: string;
        from: string;
        to: string;
        poolFee: string;
        xmrNetworkHashrate?: string;
        xmrReward?: string;
        format: string;
      }) => {
        const coin = coinOf(o.coin);
        const h = rangeOf(o);
        const xmr =
          o.xmrNetworkHashrate && o.xmrReward
            ? (() => {
                const [a, b] = parsePair(o.xmrNetworkHashrate!, '--xmr-network-hashrate');
                const [c, d] = parsePair(o.xmrReward!, '--xmr-reward');
                return {
                  hashrate: { low: a, mid: (a + b) / 2, high: b },
                  rewardPerBlock: { low: c, mid: (c + d) / 2, high: d },
                  source: 'given on the command line',
                };
              })()
            : undefined;
        const r = revenue(coin, h, date(o.from, '--from'), date(o.to, '--to'), {
          poolFee: parsePair(o.poolFee, '--pool-fee'),
          xmrNetwork: xmr,
        });
        if (o.format === 'json') {
          process.stdout.write(JSON.stringify(r, null, 2) + '\n');
          return;
        }
        process.stdout.write(
          `${fmtHashrate(h)} of ${coin} from ${o.from} to ${o.to} (${r.days.length} days${r.missing.length ? `, ${r.missing.length} without data` : ''}):\n` +
            `  ${fmtRange(r.totalCoin, coin)}\n  ${fmtRange(r.totalUsd, 'USD')}\n\nAssumptions:\n` +
            renderTable(r.assumptions as unknown as Record<string, unknown>[]) +
            '\n',
        );
      },
    );
  hashrateOptions(
    cmd
      .command('power')
      .description('power draw and electricity cost of a hash rate on hardware of the period'),
  )
    .option('--hardware <name>', Object.keys(HARDWARE).join(' | '), 'antminer-s9')
    .option('--price <usd>', 'electricity price per kWh, number or range', '0.03-0.15')
    .option('--format <f>', 'table | json', 'table')
    .action(
      (o: {
        hashrate: string;
        hashrateLow?: string;
        hashrateHigh?: string;
        hardware: string;
        price: string;
        format: string;
      }) => {
        const p = power(rangeOf(o), o.hardware, parsePair(o.price, '--price'));
        if (o.format === 'json') {
          process.stdout.write(JSON.stringify(p, null, 2) + '\n');
          return;
        }
        process.stdout.write(
          `${fmtRange(p.watts, 'W')}, ${fmtRange(p.kWhPerDay, 'kWh/day')}, ${fmtRange(p.costUsdPerDay, 'USD/day')}\n\nAssumptions:\n` +
            renderTable(p.assumptions as unknown as Record<string, unknown>[]) +
            '\n',
        );
      },
    );
  cmd
    .command('hashrate')
    .description(
      'hash rate from Stratum lines (JSON lines of {timeMs, fromClient, line}), or for a host of a store: bounds from its flows to catalogued pools and, where its payload samples carry share times, an estimate from those',
    )
    .option('--stratum <file>', 'Stratum conversation as JSON lines')
    .option(
      '--db <file>',
      'DuckDB file or clickhouse://USER:PASSWORD@HOST:PORT/DATABASE store (or COINRADAR_DB)',
      defaultDbPath(),
    )
    .option('--host <ip>', 'host whose flows to catalogued pools to use')
    .option('--difficulty <d>', 'share difficulty when known (flows only)')
    .option('--format <f>', 'table | csv | json | jsonl', 'table')
    .action(
      async (o: { stratum?: string; db: string; host?: string; difficulty?: string; format: string }) => {
        const format = parseFormat(o.format);
        const difficulty = o.difficulty ? parseNumberOption('--difficulty', o.difficulty, 1e-9) : undefined;
        if (o.stratum) {
          const lines: StratumLine[] = readFileSync(o.stratum, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l, i) => {
              try {
                return JSON.parse(l) as StratumLine;
              } catch {
                throw new Error(`${o.stratum}: line ${i + 1}: not JSON`);
              }
            });
          const ev = stratumEvidence(lines);
          if (!ev.coin) throw new Error(`${o.stratum}: no Stratum login found`);
          const est = hashrateFromShares(ev.coin, ev.shares);
          if (!est) throw new Error(`${o.stratum}: fewer than two accepted shares`);
          const out = {
            wallet: ev.wallet,
            worker: ev.worker,
            agent: ev.agent,
            rejected: ev.rejected,
            ...est,
          };
          process.stdout.write(
            format === 'json'
              ? JSON.stringify(out, null, 2) + '\n'
              : format !== 'table'
                ? render([out], format) + '\n'
                : `${ev.coin} ${ev.wallet ?? ''}: ${fmtHashrate(est.hashrate)} from ${est.shares} shares over ${Math.round(est.seconds)} s\n`,
          );
          return;
        }
        if (!o.host) throw new Error('give --stratum FILE or --host IP');
        const pools = poolCatalogue();
        const store = await openFlowStore(existingStore(o.db));
        try {
          const series = await openNetworkReader(store);
          const conns = await series.hostConnections(o.host, [...new Set(pools.map((p) => ipv4Text(p.ip)))]);
          const rows = conns.map((c) => {
            const pool =
              pools.find((p) => ipv4Text(p.ip) === c.dst && p.port === c.dstPort) ??
              pools.find((p) => ipv4Text(p.ip) === c.dst);
            const coin: MinedCoin = pool?.coin === 'XMR' ? 'XMR' : 'BTC';
            const b = hashrateBoundsFromFlows({
              coin,
              packets: c.packetsEst,
              bytes: c.bytesEst,
              seconds: Math.max(1, (c.lastMs - c.firstMs) / 1000),
              difficulty,
            });
            return {
              pool: `${pool?.pool ?? '?'} ${c.dst}:${c.dstPort}`,
              coin,
              method: 'flow counters',
              flows: c.flows,
              shares_per_min: fmtRange(b.sharesPerMinute),
              hashrate: fmtHashrate(b.hashrate),
              assumptions: b.assumptions,
            };
          });
          // Share times in the host's payload samples (captures): an estimate of its own.
          const timed = shareTimeEstimates(await series.stratumPayloads({ host: o.host }, 100_000));
          for (const est of timed.estimates) {
            rows.push({
              pool: 'all pools (payload samples)',
              coin: est.coin,
              method: est.method,
              flows: est.samples ?? 0,
              shares_per_min: ((est.shares * 60) / est.seconds).toPrecision(3),
              hashrate: fmtHashrate(est.hashrate),
              assumptions: est.assumptions,
            });
          }
          const notUsed = timed.notUsed.join(', ');
          if (format === 'json') process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
          else if (format !== 'table')
            process.stdout.write(
              render(
                rows.map((r) => ({ host: o.host, ...r, assumptions: r.assumptions })),
                format,
              ) + '\n',
            );
          else
            process.stdout.write(
              rows.length
                ? renderTable(rows, ['pool', 'coin', 'flows', 'shares_per_min', 'hashrate', 'method']) +
                    '\n' +
                    (notUsed ? `payload samples not used: ${notUsed}\n` : '')
                : `${o.host}: no flows to catalogued pools\n`,
            );
        } finally {
          await store.close();
        }
      },
    );
}
