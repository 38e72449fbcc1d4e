/**
 * Synthetic Stratum sessions for training, to widen the few real miner sessions the reference
 * captures hold (4 of ≥ 2 minutes): one connection per rig, the pool's jobs down at the coin's
 * cadence, shares up at a rate set by hash rate / difficulty — from fast GPU rigs to slow CPU
 * miners that send a share every few minutes (those look most like keep-alives, which is the
 * point). Sizes are IP bytes of the JSON lines seen in the real captures (docs/detection-rules.md).
 */
import type { FlowBatch } from '../../flow/record.js';
import { Rng } from '../../scenario/rng.js';
import { inEveryFormat, sessionRun, type Exchange, type SynthConnection } from './synth.js';

interface CoinShape {
  ports: number[];
  /** Seconds between jobs (mean, exponential). */
  jobEvery: [number, number];
  /** IP bytes of a job and of a share. */
  job: [number, number];
  share: [number, number];
  /** Seconds between shares (mean), slow CPU miners to fast rigs. */
  shareEvery: [number, number];
}

export const MINER_COINS: Record<string, CoinShape> = {
  // mining.notify every 30–90 s (merkle branches: big), mining.submit ~180 B.
  btc: {
    ports: [3333, 4444, 25, 443, 8888],
    jobEvery: [30, 90],
    job: [500, 1100],
    share: [160, 220],
    shareEvery: [5, 120],
  },
  // CryptoNote: a job per block (~2 min) or on vardiff, submit ~200 B.
  xmr: {
    ports: [3333, 5555, 7777, 14444, 443],
    jobEvery: [60, 150],
    job: [300, 520],
    share: [180, 240],
    shareEvery: [10, 180],
  },
  // Ethash: new work every 10–30 s (pools rate-limit notifies), small JSON both ways.
  eth: {
    ports: [9999, 4444, 8008, 3333],
    jobEvery: [10, 30],
    job: [200, 320],
    share: [180, 260],
    shareEvery: [10, 200],
  },
  // Equihash: solutions of ~1.4 KB up.
  zec: {
    ports: [6666, 3357, 3333],
    jobEvery: [60, 150],
    job: [300, 500],
    share: [1400, 1500],
    shareEvery: [20, 300],
  },
};

const HOUR = 3_600_000;

/** Rigs 0–3 of a coin send shares at the coin's own rates (`shareEvery`): the training rigs. */
export const RIGS = [0, 1, 2, 3];
/**
 * Rigs 4–5 are fast (FAST_SHARE_EVERY): GPU rigs at a low fixed difficulty, and stratum proxies
 * that carry a farm's shares on one connection. Not trained on; scored by heldout.ts.
 */
export const FAST_RIGS = [4, 5];
/**
 * Seconds between a fast rig's shares (mean). The study's 273 confirmed miners
 * (pcap/nesfit/flow-features-miners.csv, NetFlow of a national network) send a median 154 packets
 * a minute client → server (90th percentile 448, the most 716); no miner window the model is
 * trained on sends more than 34 (docs/detection-rules.md, "Miners unlike those trained on").
 */
export const FAST_SHARE_EVERY: [number, number] = [0.15, 4];

/**
 * Rigs of a coin over `hours`: each a session that may reconnect once in a while. Each rig has
 * its own seeded generator and addresses, so a rig is the same whichever others are made.
 */
export function minerConnections(coin: string, seed: number, hours = 3, rigs = RIGS): SynthConnection[] {
  const s = MINER_COINS[coin];
  const ci = Object.keys(MINER_COINS).indexOf(coin);
  const out: SynthConnection[] = [];
  const t00 = Date.UTC(2024, 3, 2);
  for (const rig of rigs) {
    const rng = new Rng(seed, 60, ci, rig);
    const port = s.ports[rng.int(0, s.ports.length - 1)];
    const jobEvery = rng.uniform(s.jobEvery[0], s.jobEvery[1]) * 1000;
    // Share intervals spread on a log scale: as many slow miners as fast ones.
    const range = FAST_RIGS.includes(rig) ? FAST_SHARE_EVERY : s.shareEvery;
    const shareEvery = Math.exp(rng.uniform(Math.log(range[0]), Math.log(range[1]))) * 1000;
    const addr = {
      client: `10.${100 + ci}.${seed % 250}.${10 + rig}`,
      server: `203.0.113.${10 + ci * 10 + rig}`,
    };
    const fill = (t: number, end: number) => {
      // Subscribe/authorize and their answers, then jobs down and shares up with their results.
      const ex: Exchange[] = [
        { t: t + 100, up: true, bytes: 180 },
        { t: t + 200, up: false, bytes: 220 },
      ];
      for (let j = t + 300; j < end; j += rng.exponential(1 / jobEvery))
        ex.push({ t: j, up: false, bytes: Math.round(rng.uniform(s.job[0], s.job[1])) });
      for (let h = t + rng.exponential(1 / shareEvery); h < end; h += rng.exponential(1 / shareEvery)) {
        ex.push({ t: h, up: true, bytes: Math.round(rng.uniform(s.share[0], s.share[1])) });
        ex.push({ t: h + rng.uniform(30, 300), up: false, bytes: Math.round(rng.uniform(90, 110)) });
      }
      return ex;
    };
    out.push(
      ...sessionRun(
        rng,
        addr,
        port,
        t00 + rng.uniform(0, 600_000),
        t00 + hours * HOUR,
        () => rng.uniform(0.5, 6) * HOUR,
        fill,
        () => rng.uniform(1000, 30_000),
      ),
    );
  }
  return out;
}

/** Rigs of a farm (FARM_SIZE of them, at the coin's own rates: rig numbers outside RIGS and FAST_RIGS). */
export const FARM_SIZE = 8;
const FARM_RIG0 = 100;

/**
 * A farm behind one address (NAT): FARM_SIZE rigs of the coin's own rates, each its own connection,
 * all from one client address to one pool address and port, so a (client, server, port) window
 * holds all their traffic. Not trained on; scored by heldout.ts.
 */
export function farmConnections(coin: string, seed: number, hours = 3): SynthConnection[] {
  const ci = Object.keys(MINER_COINS).indexOf(coin);
  const rigs = Array.from({ length: FARM_SIZE }, (_, i) => FARM_RIG0 + i);
  const conns = minerConnections(coin, seed, hours, rigs);
  const client = `10.${100 + ci}.${seed % 250}.250`;
  const server = `203.0.113.${10 + ci * 10 + 9}`;
  return conns.map((c) => ({ ...c, client, server, serverPort: conns[0].serverPort }));
}

/** The coin's rigs in every telemetry format. */
export function minerBatches(coin: string, seed: number, rigs = RIGS): [string, FlowBatch[]][] {
  return inEveryFormat(minerConnections(coin, seed, 3, rigs));
}

/** The coin's farm (farmConnections) in every telemetry format. */
export function farmBatches(coin: string, seed: number): [string, FlowBatch[]][] {
  return inEveryFormat(farmConnections(coin, seed));
}
