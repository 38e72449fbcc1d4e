/**
 * What the mining is worth and what it costs: hash rate from Stratum evidence (or bounds from flow
 * counters alone), revenue in coin and USD from the network's figures of each day, power and
 * electricity from hardware profiles of the period. Every figure is a range; every assumption is
 * named in the result (docs/analysis.md has the formulas).
 */
import { bitcoinNetwork, bitcoinSubsidy, dailyPrices, type BitcoinNetworkDay } from './market.js';
import { poissonInterval } from './stats.js';

export interface Range {
  low: number;
  mid: number;
  high: number;
}

export interface Assumption {
  name: string;
  value: string;
  source: string;
}

export type MinedCoin = 'BTC' | 'XMR';

const TWO32 = 2 ** 32;

/** One accepted share as Stratum shows it: when, and the difficulty in force. */
export interface ShareEvidence {
  timeMs: number;
  difficulty: number;
  accepted?: boolean;
}

export interface HashrateEstimate {
  coin: MinedCoin;
  /** Hashes per second. */
  hashrate: Range;
  shares: number;
  seconds: number;
  /** Payload samples the estimate drew on (share-time estimates). */
  samples?: number;
  method: string;
  assumptions: Assumption[];
}

/** Work represented by one share of difficulty d, in hashes. */
export function hashesPerShare(coin: MinedCoin, difficulty: number): number {
  // SHA-256d: difficulty 1 is 2^32 hashes on average; CryptoNote difficulty counts hashes directly.
  return coin === 'BTC' ? difficulty * TWO32 : difficulty;
}

/**
 * Hash rate from accepted shares. Shares arrive as a Poisson process with rate H / work(D), so
 * H = Σ work(D_i) / T; the interval is Garwood's for the share count, scaled by the mean work.
 * Without an observation window, the time from first to last share carries n − 1 shares.
 */
export function hashrateFromShares(
  coin: MinedCoin,
  shares: ShareEvidence[],
  window?: { startMs: number; endMs: number },
  level = 0.95,
): HashrateEstimate | null {
  const ok = shares.filter((s) => s.accepted !== false).sort((a, b) => a.timeMs - b.timeMs);
  let counted: ShareEvidence[];
  let seconds: number;
  if (window) {
    counted = ok.filter((s) => s.timeMs >= window.startMs && s.timeMs <= window.endMs);
    seconds = (window.endMs - window.startMs) / 1000;
  } else {
    if (ok.length < 2) return null;
    seconds = (ok[ok.length - 1].timeMs - ok[0].timeMs) / 1000;
    counted = ok.slice(1);
  }
  if (!(seconds > 0) || counted.length === 0) return null;
  let work = 0;
  for (const s of counted) work += hashesPerShare(coin, s.difficulty);
  const n = counted.length;
  return {
    coin,
    hashrate: shareRateRange(n, work, seconds, level),
    shares: n,
    seconds,
    method: window
      ? 'accepted shares in the observation window'
      : 'accepted shares between the first and last share',
    assumptions: [
      shareWorkAssumption(coin, 'Stratum mining.set_difficulty / job target'),
      intervalAssumption(level),
    ],
  };
}

/** Hash rate of `n` shares worth `work` hashes in `seconds`: Garwood on n, scaled by the mean work. */
function shareRateRange(n: number, work: number, seconds: number, level: number): Range {
  const perShare = work / n;
  const [lo, hi] = poissonInterval(n, level);
  return { low: (lo * perShare) / seconds, mid: work / seconds, high: (hi * perShare) / seconds };
}

function shareWorkAssumption(coin: MinedCoin, source: string): Assumption {
  return {
    name: 'share work',
    value:
      coin === 'BTC'
        ? 'difficulty × 2^32 hashes per share (SHA-256d)'
        : 'difficulty hashes per share (CryptoNote)',
    source,
  };
}

function intervalAssumption(level: number): Assumption {
  return {
    name: 'interval',
    value: `${Math.round(level * 100)} % Garwood interval on the share count`,
    source: 'Poisson share arrivals',
  };
}

/**
 * A window in which every share a miner submitted was seen with its time (one payload sample):
 * from its first to its last timed share, the shares after the first and their work in hashes.
 */
export interface ShareSpan {
  firstMs: number;
  lastMs: number;
  shares: number;
  work: number;
}

/**
 * Hash rate from share times in payload samples: within each window the shares after the first
 * were found in the time from the first to the last, so H = Σ work / Σ (last − first) over the
 * windows (shares × difficulty × 2^32 / time for SHA-256d). Interval: Garwood on the share count,
 * scaled by the mean work per share. Null without a window holding two shares.
 */
export function hashrateFromShareTimes(
  coin: MinedCoin,
  spans: readonly ShareSpan[],
  level = 0.95,
): HashrateEstimate | null {
  let n = 0;
  let work = 0;
  let ms = 0;
  let windows = 0;
  for (const s of spans) {
    if (!(s.shares > 0) || !(s.lastMs > s.firstMs) || !(s.work > 0)) continue;
    n += s.shares;
    work += s.work;
    ms += s.lastMs - s.firstMs;
    windows++;
  }
  if (n === 0) return null;
  const seconds = ms / 1000;
  return {
    coin,
    hashrate: shareRateRange(n, work, seconds, level),
    shares: n,
    seconds,
    samples: windows,
    method: `share times in payload samples (${n} shares in ${windows} sample${windows === 1 ? '' : 's'}, first to last share of each)`,
    assumptions: [
      shareWorkAssumption(
        coin,
        'the difficulty the pool set before each share (mining.set_difficulty / job target), in the sample or earlier on the connection',
      ),
      {
        name: 'shares',
        value:
          'every share the miner submitted counts (rejected ones too: the pool answers are not all in the sample)',
        source: 'Stratum mining.submit / submit lines with their capture times',
      },
      {
        name: 'coverage',
        value: `${fmtSeconds(seconds)} of share windows; the time between samples is not seen and not counted`,
        source: 'payload samples: the first bytes of each flow and the capture time of each segment',
      },
      intervalAssumption(level),
    ],
  };
}

function fmtSeconds(s: number): string {
  return s >= 3600
    ? `${(s / 3600).toFixed(1)} h`
    : s >= 60
      ? `${(s / 60).toFixed(1)} min`
      : `${s.toFixed(1)} s`;
}

/** The flow side of one Stratum connection: client → pool counters over a duration. */
export interface StratumFlowCounters {
  coin: MinedCoin;
  packets: number;
  bytes: number;
  seconds: number;
  /** Sampling rate the counters were exported with (they are scaled up by it). */
  samplingRate?: number;
  /** Difficulty when known (e.g. from one payload sample); otherwise a range is assumed. */
  difficulty?: number;
  difficultyRange?: [number, number];
}

/** Bytes of one mining.submit / submit message, smallest and largest seen from common miners. */
export const SUBMIT_BYTES: Record<MinedCoin, [number, number]> = { BTC: [110, 230], XMR: [150, 280] };
/** Vardiff difficulties pools settle on for the hardware of 2017, when the difficulty was not seen. */
export const DEFAULT_DIFFICULTY_RANGE: Record<MinedCoin, [number, number]> = {
  BTC: [1024, 1048576],
  XMR: [1000, 200000],
};

export interface ShareRateBounds {
  sharesPerMinute: Range;
  hashrate: Range;
  assumptions: Assumption[];
}

/**
 * Bounds from flows alone: client payload bytes (IP/TCP headers of 40–52 bytes taken off) divided
 * by the largest and smallest submit message give the share count; the difficulty (seen or assumed)
 * turns shares into work. Under vardiff the share rate barely moves with hash rate, so without a
 * seen difficulty the range is as wide as the difficulty assumption.
 */
export function hashrateBoundsFromFlows(c: StratumFlowCounters): ShareRateBounds {
  const n = c.samplingRate && c.samplingRate > 1 ? c.samplingRate : 1;
  const packets = c.packets * n;
  const bytes = c.bytes * n;
  const payloadMax = Math.max(0, bytes - packets * 40);
  const payloadMin = Math.max(0, bytes - packets * 52);
  const [minMsg, maxMsg] = SUBMIT_BYTES[c.coin];
  const sharesHigh = Math.min(packets, payloadMax / minMsg);
  const sharesLow = payloadMin / maxMsg;
  const minutes = c.seconds / 60;
  const [dLo, dHi] = c.difficulty
    ? [c.difficulty, c.difficulty]
    : (c.difficultyRange ?? DEFAULT_DIFFICULTY_RANGE[c.coin]);
  const rate = (shares: number, d: number) => (shares * hashesPerShare(c.coin, d)) / c.seconds;
  const assumptions: Assumption[] = [
    { name: 'headers', value: '40–52 bytes of IPv4+TCP per packet', source: 'TCP with/without timestamps' },
    {
      name: 'submit size',
      value: `${minMsg}–${maxMsg} bytes per share message`,
      source: 'cgminer/XMRig submit lines',
    },
    {
      name: 'difficulty',
      value: c.difficulty ? `${c.difficulty} (seen)` : `${dLo}–${dHi} (assumed vardiff range)`,
      source: c.difficulty ? 'Stratum payload sample' : 'pool vardiff for 2017 hardware',
    },
  ];
  if (n > 1)
    assumptions.push({ name: 'sampling', value: `counters × ${n}`, source: 'exporter sampling rate' });
  return {
    sharesPerMinute: {
      low: sharesLow / minutes,
      mid: (sharesLow + sharesHigh) / 2 / minutes,
      high: sharesHigh / minutes,
    },
    hashrate: {
      low: rate(sharesLow, dLo),
      mid: rate((sharesLow + sharesHigh) / 2, Math.sqrt(dLo * dHi)),
      high: rate(sharesHigh, dHi),
    },
    assumptions,
  };
}

export interface RevenueDay {
  date: string;
  coin: Range;
  usd: Range;
}

export interface RevenueEstimate {
  coin: MinedCoin;
  days: RevenueDay[];
  totalCoin: Range;
  totalUsd: Range;
  assumptions: Assumption[];
  /** Days without network or price data (left out of the totals). */
  missing: string[];
  /** Why no revenue could be estimated at all (no day had the inputs), for the reader. */
  unavailable?: string;
}

export interface RevenueOptions {
  /** Pool fee range as a fraction (default 0–0.04). */
  poolFee?: [number, number];
  /** Network data (default: the shipped Bitcoin daily file). */
  network?: Map<string, BitcoinNetworkDay>;
  /** Monero has no shipped network file: network hash rate (H/s) and block reward (XMR) per day. */
  xmrNetwork?: { hashrate: Range; rewardPerBlock: Range; source: string };
}

/**
 * Expected Bitcoin mined on one day by hash rate H (H/s), two ways:
 *  (a) difficulty: blocks = H·86400 / (D·2^32), each worth subsidy + the day's mean fees per block;
 *  (b) share of network: H / H_network × the day's miners' revenue in BTC (USD ÷ price).
 */
export function bitcoinPerDay(
  h: number,
  day: BitcoinNetworkDay,
): { byDifficulty: number; byShare: number; blocksPerDay: number } {
  const subsidy = bitcoinSubsidy(day.date);
  const revenueBtc = day.minersRevenueUsd / day.priceUsd;
  const blocksPerDay = (revenueBtc - day.feesBtc) / subsidy;
  const feesPerBlock = day.feesBtc / blocksPerDay;
  const byDifficulty = ((h * 86400) / (day.difficulty * TWO32)) * (subsidy + feesPerBlock);
  const byShare = (h / (day.hashRateThs * 1e12)) * revenueBtc;
  return { byDifficulty, byShare, blocksPerDay };
}

function isoDays(fromMs: number, toMs: number): string[] {
  const out: string[] = [];
  for (let t = Math.floor(fromMs / 86400000) * 86400000; t < toMs; t += 86400000)
    out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

/** Revenue of hash rate `h` (a range, H/s) mined from `fromMs` to `toMs` (whole UTC days). */
export function revenue(
  coin: MinedCoin,
  h: Range,
  fromMs: number,
  toMs: number,
  opts: RevenueOptions = {},
): RevenueEstimate {
  const [feeLo, feeHi] = opts.poolFee ?? [0, 0.04];
  const prices = dailyPrices(coin);
  const days: RevenueDay[] = [];
  const missing: string[] = [];
  const assumptions: Assumption[] = [
    {
      name: 'hash rate',
      value: `${fmt(h.low)}–${fmt(h.high)} H/s, constant over the period`,
      source: 'estimate from Stratum evidence or flows',
    },
    {
      name: 'pool fee',
      value: `${feeLo * 100}–${feeHi * 100} %`,
      source: 'typical PPS/PPLNS fees of 2017 pools',
    },
    { name: 'USD price', value: "the day's low–high (close as mid)", source: `${coin}-USD daily OHLC` },
  ];
  if (coin === 'BTC') {
    const net = opts.network ?? bitcoinNetwork();
    assumptions.push(
      {
        name: 'network',
        value: "the day's difficulty, hash rate, fees and miners' revenue",
        source: 'bitcoin-network-daily-2010-2018.csv (blockchain.info)',
      },
      {
        name: 'luck',
        value: 'expected value; range spans the difficulty-based and share-of-network estimates',
        source: 'method',
      },
    );
    for (const date of isoDays(fromMs, toMs)) {
      const nd = net.get(date);
      const p = prices.get(date);
      if (!nd || !p || !(nd.priceUsd > 0)) {
        missing.push(date);
        continue;
      }
      const lo = bitcoinPerDay(h.low, nd);
      const mid = bitcoinPerDay(h.mid, nd);
      const hi = bitcoinPerDay(h.high, nd);
      const c: Range = {
        low: Math.min(lo.byDifficulty, lo.byShare) * (1 - feeHi),
        mid: mid.byDifficulty * (1 - (feeLo + feeHi) / 2),
        high: Math.max(hi.byDifficulty, hi.byShare) * (1 - feeLo),
      };
      days.push({ date, coin: c, usd: { low: c.low * p.low, mid: c.mid * p.close, high: c.high * p.high } });
    }
  } else {
    const x = opts.xmrNetwork;
    if (!x) {
      assumptions.push({
        name: 'network',
        value: 'not available: no Monero network file shipped; give --xmr-network-hashrate and --xmr-reward',
        source: 'none',
      });
      return {
        coin,
        days: [],
        totalCoin: zero(),
        totalUsd: zero(),
        assumptions,
        missing: isoDays(fromMs, toMs),
        unavailable:
          "not estimated: a miner's share of Monero's block rewards needs the network's hash rate (or difficulty) on each day, and none is shipped (src/analysis/data holds XMR-USD prices only, no Monero network file). The price alone cannot give it; `coinradar estimate revenue --coin XMR --xmr-network-hashrate LO-HI --xmr-reward LO-HI` makes the estimate from figures you supply.",
      };
    }
    assumptions.push({
      name: 'network',
      value: `hash rate ${fmt(x.hashrate.low)}–${fmt(x.hashrate.high)} H/s, reward ${x.rewardPerBlock.low}–${x.rewardPerBlock.high} XMR per 120 s block`,
      source: x.source,
    });
    for (const date of isoDays(fromMs, toMs)) {
      const p = prices.get(date);
      if (!p) {
        missing.push(date);
        continue;
      }
      const blocks = 86400 / 120;
      const c: Range = {
        low: (h.low / x.hashrate.high) * blocks * x.rewardPerBlock.low * (1 - feeHi),
        mid: (h.mid / x.hashrate.mid) * blocks * x.rewardPerBlock.mid * (1 - (feeLo + feeHi) / 2),
        high: (h.high / x.hashrate.low) * blocks * x.rewardPerBlock.high * (1 - feeLo),
      };
      days.push({ date, coin: c, usd: { low: c.low * p.low, mid: c.mid * p.close, high: c.high * p.high } });
    }
  }
  const sum = (f: (d: RevenueDay) => Range): Range => ({
    low: days.reduce((a, d) => a + f(d).low, 0),
    mid: days.reduce((a, d) => a + f(d).mid, 0),
    high: days.reduce((a, d) => a + f(d).high, 0),
  });
  return { coin, days, totalCoin: sum((d) => d.coin), totalUsd: sum((d) => d.usd), assumptions, missing };
}

function zero(): Range {
  return { low: 0, mid: 0, high: 0 };
}

function fmt(x: number): string {
  return x >= 1e4 ? x.toExponential(3) : x.toFixed(1);
}

export interface HardwareProfile {
  name: string;
  coin: MinedCoin;
  /** Joules per hash at the wall: low, typical, high. */
  joulesPerHash: Range;
  source: string;
}

/** Hardware of the period. ASIC figures from the makers' specifications; CPU/GPU from 2017 benchmarks. */
export const HARDWARE: Record<string, HardwareProfile> = {
  'antminer-s9': {
    name: 'Bitmain Antminer S9 (2016–2017)',
    coin: 'BTC',
    joulesPerHash: { low: 0.098e-9 * 0.95, mid: 0.098e-9, high: 0.098e-9 * 1.1 },
    source: 'Bitmain specification: 0.098 J/GH at the wall (−5 % / +10 %)',
  },
  'antminer-s7': {
    name: 'Bitmain Antminer S7 (2015)',
    coin: 'BTC',
    joulesPerHash: { low: 0.25e-9, mid: 0.273e-9, high: 0.3e-9 },
    source: 'Bitmain specification: 1,293 W for 4.73 TH/s',
  },
  cpu: {
    name: 'desktop CPU, CryptoNight (2017)',
    coin: 'XMR',
    joulesPerHash: { low: 0.15, mid: 0.3, high: 0.5 },
    source: 'XMRig/xmr-stak CPU benchmarks of 2017: 200–600 H/s at 65–140 W',
  },
  gpu: {
    name: 'AMD RX 470/480 class GPU, CryptoNight (2017)',
    coin: 'XMR',
    joulesPerHash: { low: 0.15, mid: 0.2, high: 0.3 },
    source: 'xmr-stak GPU benchmarks of 2017: 600–800 H/s at 110–160 W',
  },
};

export interface PowerEstimate {
  profile: string;
  /** Watts. */
  watts: Range;
  kWhPerDay: Range;
  costUsdPerDay: Range;
  assumptions: Assumption[];
}

/** Power draw and electricity cost of hash rate `h` on the given hardware. */
export function power(
  h: Range,
  profile: string,
  priceUsdPerKWh: [number, number] = [0.03, 0.15],
): PowerEstimate {
  const p = HARDWARE[profile];
  if (!p) throw new Error(`unknown hardware profile ${profile} (one of ${Object.keys(HARDWARE).join(', ')})`);
  const watts: Range = {
    low: h.low * p.joulesPerHash.low,
    mid: h.mid * p.joulesPerHash.mid,
    high: h.high * p.joulesPerHash.high,
  };
  const kwh = (w: number) => (w * 86400) / 3.6e6;
  const kWhPerDay: Range = { low: kwh(watts.low), mid: kwh(watts.mid), high: kwh(watts.high) };
  const [eLo, eHi] = priceUsdPerKWh;
  return {
    profile,
    watts,
    kWhPerDay,
    costUsdPerDay: {
      low: kWhPerDay.low * eLo,
      mid: (kWhPerDay.mid * (eLo + eHi)) / 2,
      high: kWhPerDay.high * eHi,
    },
    assumptions: [
      {
        name: 'hardware',
        value: `${p.name}: ${p.joulesPerHash.low}–${p.joulesPerHash.high} J/H`,
        source: p.source,
      },
      {
        name: 'electricity price',
        value: `${eLo}–${eHi} USD/kWh`,
        source: 'assumed: no published tariff for the studied network; world industrial range',
      },
      { name: 'duty', value: 'runs 24 h a day', source: 'Stratum sessions seen around the clock' },
    ],
  };
}
