/**
 * The synthetic world: a national address space with a population of hosts, the outside services
 * they talk to (real AS space), and — from an onset date — crypto activity (Stratum miners talking
 * to pools from the 2018 mining-server catalogue, Bitcoin P2P nodes talking to public peers).
 * Built once from a config and a seed; the flow model (model.ts) turns it into flows.
 */
import { readFileSync } from 'node:fs';
import { Rng } from './rng.js';
import { btcP2pkhAddress, moneroAddress } from './wallets.js';

export type Growth = 'step' | 'linear' | 'exponential';

export interface ScenarioConfig {
  seed: number;
  /** First day (UTC midnight), ms since epoch. */
  startMs: number;
  days: number;
  /** Onset of crypto activity (UTC midnight of that day), or null for none. */
  onsetMs: number | null;
  growth: Growth;
  /** Days from onset until all crypto hosts are active (linear/exponential). */
  rampDays: number;
  /** Background population size. */
  hosts: number;
  /** Crypto hosts once fully ramped: Stratum miners and Bitcoin P2P nodes. */
  miners: number;
  btcNodes: number;
  /** Fraction of miners that mine Monero (CPU/GPU) rather than Bitcoin (ASIC). */
  moneroShare: number;
  /** 1:N packet sampling applied as an exporter would (1 = unsampled). */
  sampling: number;
  /** Address blocks of the studied space. */
  cidrs: string[];
  /** Local time offset of the population (hours east of UTC; 9 for Pyongyang). */
  utcOffsetHours: number;
  /** Multiplies the rate of ordinary flows that happen to use crypto-associated ports. */
  cryptoPortBackground: number;
  /** Probability that the exporter is down for a whole day (no flows at all). */
  outageRate: number;
  /** Active timeout of the exporter: long connections are cut into records of this length. */
  activeTimeoutS: number;
  /** Fraction of hosts whose flows carry payload samples (as flows built from a capture do). */
  payloadHosts: number;
}

export const DEFAULT_CIDRS = ['175.45.176.0/22', '210.52.109.0/24', '77.94.35.0/24'];

export function defaultConfig(over: Partial<ScenarioConfig> = {}): ScenarioConfig {
  return {
    seed: 1,
    startMs: Date.UTC(2017, 3, 1),
    days: 90,
    onsetMs: Date.UTC(2017, 4, 17),
    growth: 'exponential',
    rampDays: 30,
    hosts: 120,
    miners: 12,
    btcNodes: 2,
    moneroShare: 0.25,
    sampling: 1,
    cidrs: DEFAULT_CIDRS,
    utcOffsetHours: 9,
    cryptoPortBackground: 1,
    outageRate: 0.01,
    activeTimeoutS: 1800,
    payloadHosts: 0,
    ...over,
  };
}

export type HostRole = 'workstation' | 'elite' | 'server';

export interface Host {
  index: number;
  ip: number;
  role: HostRole;
  /** Overall activity multiplier (log-normal across the population). */
  activity: number;
  /** Whether this host runs P2P file sharing (a minority). */
  p2p: boolean;
  payload: boolean;
}

export interface Endpoint {
  ip: number;
  port: number;
  asn: number;
  org: string;
}

export interface PoolServer {
  pool: string;
  server: string;
  ip: number;
  port: number;
  coin: 'BTC' | 'XMR';
}

export type HardwareProfile = 'antminer-s9' | 'antminer-s7' | 'cpu' | 'gpu';

export interface CryptoHost {
  host: number;
  ip: number;
  kind: 'miner' | 'btc-node';
  /** First day of activity (UTC midnight, ms). */
  startMs: number;
  coin: 'BTC' | 'XMR';
  pool?: PoolServer;
  wallet?: string;
  worker?: string;
  hardware?: HardwareProfile;
  /** Hash rate in H/s. */
  hashrate?: number;
  /** Share difficulty set by the pool (vardiff settles on it). */
  difficulty?: number;
  /** Mean seconds between accepted shares. */
  shareIntervalS?: number;
  peers?: Endpoint[];
}

export interface World {
  config: ScenarioConfig;
  hosts: Host[];
  crypto: CryptoHost[];
  /** Crypto host by host index. */
  cryptoByHost: Map<number, CryptoHost>;
}

export function parseCidr(cidr: string): { base: number; size: number } {
  const [a, bits] = cidr.split('/');
  const p = a.split('.').map(Number);
  const n = Number(bits);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255) || !(n >= 8 && n <= 32)) {
    throw new Error(`not an IPv4 CIDR block: ${cidr}`);
  }
  const ip = ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
  const size = 2 ** (32 - n);
  return { base: ip - (ip % size), size };
}

export function ipv4Text(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

export function ipv4Value(text: string): number {
  return parseCidr(`${text}/32`).base;
}

/** Outside prefixes in real AS space that the population talks to, by service. */
export const OUTSIDE: Record<string, { cidr: string; asn: number; org: string }[]> = {
  web: [
    { cidr: '123.125.0.0/16', asn: 4808, org: 'China Unicom Beijing' },
    { cidr: '220.181.0.0/16', asn: 23724, org: 'China Telecom (IDC)' },
    { cidr: '172.217.0.0/16', asn: 15169, org: 'Google' },
    { cidr: '104.16.0.0/13', asn: 13335, org: 'Cloudflare' },
    { cidr: '23.32.0.0/11', asn: 20940, org: 'Akamai' },
    { cidr: '157.240.0.0/16', asn: 32934, org: 'Facebook' },
    { cidr: '13.64.0.0/11', asn: 8075, org: 'Microsoft' },
    { cidr: '87.250.224.0/19', asn: 13238, org: 'Yandex' },
  ],
  dns: [
    { cidr: '202.106.0.20/32', asn: 4808, org: 'China Unicom Beijing' },
    { cidr: '8.8.8.8/32', asn: 15169, org: 'Google' },
    { cidr: '77.88.8.8/32', asn: 13238, org: 'Yandex' },
  ],
  mail: [
    { cidr: '74.125.0.0/16', asn: 15169, org: 'Google' },
    { cidr: '77.88.21.0/24', asn: 13238, org: 'Yandex' },
    { cidr: '220.181.12.0/24', asn: 23724, org: 'China Telecom (IDC)' },
  ],
  vpn: [
    { cidr: '159.89.0.0/16', asn: 14061, org: 'DigitalOcean' },
    { cidr: '51.68.0.0/16', asn: 16276, org: 'OVH' },
    { cidr: '88.198.0.0/16', asn: 24940, org: 'Hetzner' },
  ],
  p2p: [
    { cidr: '110.0.0.0/10', asn: 4837, org: 'China Unicom' },
    { cidr: '95.24.0.0/13', asn: 8402, org: 'Beeline' },
    { cidr: '49.128.0.0/11', asn: 4134, org: 'Chinanet' },
  ],
  misc: [
    { cidr: '52.0.0.0/11', asn: 16509, org: 'Amazon' },
    { cidr: '47.88.0.0/14', asn: 45102, org: 'Alibaba' },
    { cidr: '119.28.0.0/15', asn: 132203, org: 'Tencent' },
  ],
  scan: [
    { cidr: '71.6.128.0/17', asn: 10439, org: 'CariNet (scanners)' },
    { cidr: '80.82.64.0/20', asn: 202425, org: 'IP Volume (scanners)' },
    { cidr: '185.142.236.0/24', asn: 211680, org: 'BitSight (scanners)' },
  ],
  btcPeers: [
    { cidr: '88.198.0.0/16', asn: 24940, org: 'Hetzner' },
    { cidr: '51.68.0.0/16', asn: 16276, org: 'OVH' },
    { cidr: '159.89.0.0/16', asn: 14061, org: 'DigitalOcean' },
    { cidr: '52.0.0.0/11', asn: 16509, org: 'Amazon' },
  ],
};

/** Ports that crypto software uses by default; many ordinary programs use some of them too. */
export const CRYPTO_PORTS = [
  3333, 4444, 5555, 7777, 8332, 8333, 9332, 9333, 9999, 14433, 14444, 18080, 18081, 45560,
];

let catalogue: PoolServer[] | null = null;
let poolIps: string[] | null = null;

/** The catalogue's distinct server addresses (dotted IPv4): what "a catalogued pool" matches. */
export function poolAddresses(): string[] {
  poolIps ??= [...new Set(poolCatalogue().map((p) => ipv4Text(p.ip)))];
  return poolIps;
}

/** Stratum servers for BTC and XMR from the 2018 catalogue (verified ones first). */
export function poolCatalogue(): PoolServer[] {
  if (catalogue) return catalogue;
  const text = readFileSync(new URL('./data/mining-servers-2018-05.csv', import.meta.url), 'utf8');
  const lines = text.split('\n');
  const head = lines[0].split(',');
  const col = (n: string) => head.indexOf(n);
  const seen = new Set<string>();
  const verified: PoolServer[] = [];
  const other: PoolServer[] = [];
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i].split(',');
    if (f.length < head.length || f[col('protocol')] !== 'stratum') continue;
    const coins = f[col('coins')];
    const coin = coins === 'XMR' ? 'XMR' : coins === 'BTC' || coins === 'BCH|BTC' ? 'BTC' : null;
    if (!coin) continue;
    const key = `${f[col('ip')]}:${f[col('port')]}:${coin}`;
    if (seen.has(key) || !/^\d+\.\d+\.\d+\.\d+$/.test(f[col('ip')])) continue;
    seen.add(key);
    const s: PoolServer = {
      pool: f[col('pool')],
      server: f[col('server')],
      ip: ipv4Value(f[col('ip')]),
      port: Number(f[col('port')]),
      coin,
    };
    (f[col('verified')] === '1' ? verified : other).push(s);
  }
  catalogue = [...verified, ...other];
  return catalogue;
}

const cidrCache = new Map<string, { base: number; size: number }>();

export function pickInCidr(rng: Rng, cidr: string): number {
  let c = cidrCache.get(cidr);
  if (!c) cidrCache.set(cidr, (c = parseCidr(cidr)));
  const { base, size } = c;
  if (size <= 2) return base;
  return base + 1 + Math.floor(rng.next() * (size - 2));
}

function addressSpace(cidrs: string[]): number[] {
  const out: number[] = [];
  for (const c of cidrs) {
    const { base, size } = parseCidr(c);
    // Network and broadcast addresses are not hosts.
    for (let k = 1; k < size - 1; k++) out.push(base + k);
  }
  return out;
}

const TWO32 = 2 ** 32;

/** Number of crypto hosts active `d` days after onset (≥ 1 from the onset day). */
export function activeCryptoHosts(total: number, growth: Growth, rampDays: number, d: number): number {
  if (d < 0 || total <= 0) return 0;
  if (growth === 'step' || rampDays <= 0) return total;
  if (growth === 'linear') return Math.min(total, Math.max(1, Math.ceil((total * (d + 1)) / rampDays)));
  const r = Math.log(total) / Math.max(1, rampDays - 1);
  return Math.min(total, Math.max(1, Math.floor(Math.exp(r * d) + 1e-9)));
}

export function buildWorld(config: ScenarioConfig): World {
  const rng = new Rng(config.seed, 1);
  const space = addressSpace(config.cidrs);
  const nHosts = config.hosts;
  const nCrypto = config.onsetMs === null ? 0 : config.miners + config.btcNodes;
  if (nHosts > space.length) throw new Error(`${nHosts} hosts do not fit ${space.length} addresses`);
  // Partial shuffle: hosts take distinct addresses across the blocks.
  for (let i = 0; i < nHosts; i++) {
    const j = i + Math.floor(rng.next() * (space.length - i));
    [space[i], space[j]] = [space[j], space[i]];
  }
  const hosts: Host[] = [];
  for (let i = 0; i < nHosts; i++) {
    const u = rng.next();
    const role: HostRole = u < 0.7 ? 'workstation' : u < 0.9 ? 'elite' : 'server';
    hosts.push({
      index: i,
      ip: space[i],
      role,
      activity: rng.lognormal(1, 0.6),
      p2p: rng.next() < 0.15,
      payload: rng.next() < config.payloadHosts,
    });
  }
  const crypto: CryptoHost[] = [];
  if (config.onsetMs !== null && nCrypto > 0) {
    if (nCrypto > nHosts) throw new Error(`${nCrypto} crypto hosts but only ${nHosts} hosts`);
    // Crypto hosts are drawn among workstations and elite users first, servers last.
    const order = hosts
      .map((h) => ({ h, k: rng.next() + (h.role === 'server' ? 1 : 0) }))
      .sort((a, b) => a.k - b.k)
      .map((x) => x.h);
    const pools = poolCatalogue();
    const btcPools = pools.filter((p) => p.coin === 'BTC');
    const xmrPools = pools.filter((p) => p.coin === 'XMR');
    // Start days: the k-th crypto host starts on the first day the growth curve admits k hosts.
    const starts: number[] = [];
    for (let d = 0; starts.length < nCrypto; d++) {
      const n = activeCryptoHosts(nCrypto, config.growth, config.rampDays, d);
      while (starts.length < n) starts.push(config.onsetMs + d * 86400000);
    }
    // Nodes and miners interleave so both exist early; the first crypto host is always a miner.
    const kinds: ('miner' | 'btc-node')[] = [];
    for (let k = 0; k < nCrypto; k++) kinds.push(k < config.miners ? 'miner' : 'btc-node');
    for (let k = kinds.length - 1; k > 1; k--) {
      const j = 1 + Math.floor(rng.next() * k);
      [kinds[k], kinds[j]] = [kinds[j], kinds[k]];
    }
    for (let k = 0; k < nCrypto; k++) {
      const h = order[k];
      if (kinds[k] === 'btc-node') {
        const peers: Endpoint[] = [];
        const n = rng.int(8, 10);
        for (let p = 0; p < n; p++) {
          const o = rng.pick(OUTSIDE.btcPeers);
          peers.push({ ip: pickInCidr(rng, o.cidr), port: 8333, asn: o.asn, org: o.org });
        }
        crypto.push({ host: h.index, ip: h.ip, kind: 'btc-node', startMs: starts[k], coin: 'BTC', peers });
        continue;
      }
      const coin: 'BTC' | 'XMR' = rng.next() < config.moneroShare ? 'XMR' : 'BTC';
      const pool = rng.pick(coin === 'BTC' ? btcPools : xmrPools);
      let hashrate: number;
      let hardware: HardwareProfile;
      let difficulty: number;
      // Pools' vardiff aims at a share every 10-20 s; the difficulty is the power of two it settles on.
      const target = rng.uniform(10, 20);
      if (coin === 'BTC') {
        hardware = rng.next() < 0.8 ? 'antminer-s9' : 'antminer-s7';
        const units = rng.int(1, 4);
        hashrate =
          units * (hardware === 'antminer-s9' ? rng.uniform(12.5, 14) : rng.uniform(4.5, 4.86)) * 1e12;
        difficulty = 2 ** Math.round(Math.log2((hashrate * target) / TWO32));
      } else {
        hardware = rng.next() < 0.6 ? 'cpu' : 'gpu';
        hashrate = hardware === 'cpu' ? rng.uniform(150, 600) : rng.uniform(1500, 4000);
        difficulty = Math.max(1000, Math.round((hashrate * target) / 1000) * 1000);
      }
      const shareIntervalS = coin === 'BTC' ? (difficulty * TWO32) / hashrate : difficulty / hashrate;
      crypto.push({
        host: h.index,
        ip: h.ip,
        kind: 'miner',
        startMs: starts[k],
        coin,
        pool,
        wallet: coin === 'BTC' ? btcP2pkhAddress(rng) : moneroAddress(rng),
        worker: `w${rng.int(1, 99)}`,
        hardware,
        hashrate,
        difficulty,
        shareIntervalS,
      });
    }
  }
  const cryptoByHost = new Map<number, CryptoHost>();
  for (const c of crypto) cryptoByHost.set(c.host, c);
  return { config, hosts, crypto, cryptoByHost };
}

/** The ground truth written next to a generated scenario. */
export function groundTruth(world: World): Record<string, unknown> {
  const c = world.config;
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  return {
    seed: c.seed,
    start: day(c.startMs),
    days: c.days,
    onset: c.onsetMs === null ? null : new Date(c.onsetMs).toISOString(),
    growth: c.onsetMs === null ? null : c.growth,
    rampDays: c.rampDays,
    hosts: c.hosts,
    sampling: c.sampling,
    cidrs: c.cidrs,
    activeTimeoutS: c.activeTimeoutS,
    cryptoHosts: world.crypto.map((x) => ({
      ip: ipv4Text(x.ip),
      kind: x.kind,
      coin: x.coin,
      start: new Date(x.startMs).toISOString(),
      pool: x.pool
        ? { name: x.pool.pool, server: x.pool.server, ip: ipv4Text(x.pool.ip), port: x.pool.port }
        : undefined,
      wallet: x.wallet,
      worker: x.worker,
      hardware: x.hardware,
      hashrate: x.hashrate,
      difficulty: x.difficulty,
      shareIntervalS: x.shareIntervalS,
      peers: x.peers?.map((p) => `${ipv4Text(p.ip)}:${p.port}`),
    })),
  };
}
