/**
 * Share evidence from a Stratum conversation (lines with times and direction, as a capture or a
 * detector hands them over): who logs in (wallet, worker, agent), which difficulty is in force,
 * which shares the pool accepted. Text at the edge: JSON.parse per line is fine here.
 */
import type { MinedCoin, ShareEvidence } from './estimate.js';

export interface StratumLine {
  timeMs: number;
  fromClient: boolean;
  line: string;
}

export interface StratumEvidence {
  coin: MinedCoin | null;
  wallet: string | null;
  worker: string | null;
  agent: string | null;
  shares: ShareEvidence[];
  rejected: number;
  /** Lines that were not JSON objects (counted, skipped). */
  badLines: number;
}

/** CryptoNote difficulty of a pool target (4- or 8-byte little-endian hex), as XMRig computes it. */
export function cryptonoteDifficulty(targetHex: string): number {
  const b = Buffer.from(targetHex, 'hex');
  if (b.length === 4) {
    const t = b.readUInt32LE(0);
    return t > 0 ? Math.floor(0xffffffff / t) : 0;
  }
  if (b.length === 8) {
    const t = Number(b.readBigUInt64LE(0));
    return t > 0 ? Math.floor(2 ** 64 / t) : 0;
  }
  return 0;
}

type Json = Record<string, unknown>;

export function stratumEvidence(lines: StratumLine[]): StratumEvidence {
  const ev: StratumEvidence = {
    coin: null,
    wallet: null,
    worker: null,
    agent: null,
    shares: [],
    rejected: 0,
    badLines: 0,
  };
  let difficulty = 0;
  const pending = new Map<string, { timeMs: number; difficulty: number }>();
  for (const l of lines) {
    let m: Json;
    try {
      const v: unknown = JSON.parse(l.line);
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
      m = v as Json;
    } catch {
      ev.badLines++;
      continue;
    }
    const method = typeof m.method === 'string' ? m.method : null;
    const id = m.id === null || m.id === undefined ? null : String(m.id);
    if (l.fromClient) {
      if (method === 'mining.authorize' && Array.isArray(m.params)) {
        ev.coin = 'BTC';
        const [user] = String(m.params[0] ?? '').split('.');
        ev.wallet = user || null;
        ev.worker =
          String(m.params[0] ?? '')
            .split('.')
            .slice(1)
            .join('.') || null;
      } else if (method === 'mining.subscribe' && Array.isArray(m.params)) {
        ev.coin = 'BTC';
        ev.agent = m.params[0] === undefined ? null : String(m.params[0]);
      } else if (method === 'login' && m.params && typeof m.params === 'object') {
        const p = m.params as Json;
        ev.coin = 'XMR';
        const login = String(p.login ?? '');
        ev.wallet = login.split(/[.+]/)[0] || null;
        ev.worker = p.pass === undefined ? null : String(p.pass);
        ev.agent = p.agent === undefined ? null : String(p.agent);
      } else if ((method === 'mining.submit' || method === 'submit') && id !== null) {
        pending.set(id, { timeMs: l.timeMs, difficulty });
      }
      continue;
    }
    // Pool → client.
    if (method === 'mining.set_difficulty' && Array.isArray(m.params)) {
      difficulty = Number(m.params[0]) || difficulty;
    } else if (method === 'job' && m.params && typeof m.params === 'object') {
      const t = (m.params as Json).target;
      if (typeof t === 'string') difficulty = cryptonoteDifficulty(t) || difficulty;
    } else if (id !== null) {
      const r = m.result as unknown;
      if (
        r &&
        typeof r === 'object' &&
        !Array.isArray(r) &&
        (r as Json).job &&
        typeof (r as Json).job === 'object'
      ) {
        const t = ((r as Json).job as Json).target;
        if (typeof t === 'string') difficulty = cryptonoteDifficulty(t) || difficulty;
      }
      const sub = pending.get(id);
      if (!sub) continue;
      pending.delete(id);
      const accepted = r === true || (!!r && typeof r === 'object' && (r as Json).status === 'OK');
      if (accepted)
        ev.shares.push({ timeMs: sub.timeMs, difficulty: sub.difficulty || difficulty, accepted: true });
      else ev.rejected++;
    }
  }
  return ev;
}
