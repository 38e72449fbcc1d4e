/**
 * Market and network data of the day: Bitcoin network statistics (hash rate, difficulty, miners'
 * revenue, fees) and daily USD prices. Shipped CSVs in analysis/data (see PROVENANCE.md there).
 */
import { readFileSync } from 'node:fs';

export interface BitcoinNetworkDay {
  /** YYYY-MM-DD (UTC). */
  date: string;
  /** Market price in USD (blockchain.info's daily average). */
  priceUsd: number;
  /** Network hash rate, TH/s (blockchain.info's daily estimate). */
  hashRateThs: number;
  difficulty: number;
  /** Miners' revenue (subsidy + fees), USD per day. */
  minersRevenueUsd: number;
  /** Transaction fees, BTC per day. */
  feesBtc: number;
}

export interface PriceDay {
  date: string;
  open: number;
  high: number;
  low: number;
  close: number;
}

const cache = new Map<string, unknown>();

function dataFile(name: string): string {
  return readFileSync(new URL(`./data/${name}`, import.meta.url), 'utf8');
}

/** "5/17/2017 0:00" → "2017-05-17". */
function usDate(s: string): string {
  const [d] = s.split(' ');
  const [m, day, y] = d.split('/');
  return `${y}-${m.padStart(2, '0')}-${day.padStart(2, '0')}`;
}

export function bitcoinNetwork(text?: string): Map<string, BitcoinNetworkDay> {
  const key = text === undefined ? 'btc-net' : '';
  if (key && cache.has(key)) return cache.get(key) as Map<string, BitcoinNetworkDay>;
  const lines = (text ?? dataFile('bitcoin-network-daily-2010-2018.csv')).split(/\r?\n/);
  const head = lines[0].split(',');
  const col = (n: string) => {
    const i = head.indexOf(n);
    if (i < 0) throw new Error(`bitcoin network data: no column ${n}`);
    return i;
  };
  const c = {
    date: col('Date'),
    price: col('btc_market_price'),
    hash: col('btc_hash_rate'),
    diff: col('btc_difficulty'),
    rev: col('btc_miners_revenue'),
    fees: col('btc_transaction_fees'),
  };
  const out = new Map<string, BitcoinNetworkDay>();
  for (let i = 1; i < lines.length; i++) {
    if (!lines[i]) continue;
    const f = lines[i].split(',');
    const date = usDate(f[c.date]);
    out.set(date, {
      date,
      priceUsd: Number(f[c.price]),
      hashRateThs: Number(f[c.hash]),
      difficulty: Number(f[c.diff]),
      minersRevenueUsd: Number(f[c.rev]),
      feesBtc: Number(f[c.fees]),
    });
  }
  if (key) cache.set(key, out);
  return out;
}

export type PricedCoin = 'BTC' | 'XMR';

export function dailyPrices(coin: PricedCoin): Map<string, PriceDay> {
  const key = `price-${coin}`;
  if (cache.has(key)) return cache.get(key) as Map<string, PriceDay>;
  const lines = dataFile(`${coin}-USD.csv`).split(/\r?\n/);
  const out = new Map<string, PriceDay>();
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i].split(',');
    // Yahoo leaves 'null' rows on days without data.
    if (f.length < 5 || f[1] === 'null') continue;
    out.set(f[0], {
      date: f[0],
      open: Number(f[1]),
      high: Number(f[2]),
      low: Number(f[3]),
      close: Number(f[4]),
    });
  }
  cache.set(key, out);
  return out;
}

/** Block subsidy in BTC at a date (halvings on 2012-11-28, 2016-07-09, 2020-05-11). */
export function bitcoinSubsidy(date: string): number {
  if (date < '2012-11-28') return 50;
  if (date < '2016-07-09') return 25;
  if (date < '2020-05-11') return 12.5;
  return 6.25;
}
