/**
 * Stratum v1: newline-delimited JSON-RPC over TCP between a miner and a pool. Three dialects:
 * Bitcoin-style (mining.subscribe/authorize/submit/notify/set_difficulty), CryptoNote/Monero-style
 * (login/job/submit/keepalived) and Ethereum-style (eth_submitLogin/eth_getWork/eth_submitWork, or
 * mining.subscribe with "EthereumStratum/1.0.0" as NiceHash specified it).
 */
import { PayloadClock, isoMicros } from '../flow/payload-times.js';
import { bestClaim, type CoinClaim } from './coin-rule.js';
import { agentCoin, nameCoin, splitLogin } from './coins.js';
import {
  addArtifact,
  scanWindow,
  type Artifact,
  type Detection,
  type FlowView,
  type PayloadMatcher,
} from './types.js';

export type StratumDialect = 'bitcoin' | 'cryptonote' | 'ethereum';

/** One Stratum message as far as detection cares. */
export interface StratumMessage {
  method: string;
  dialect: StratumDialect | '';
  /** Sent by the miner (request) or by the pool (notification/response). */
  from: 'miner' | 'pool';
  /** A message type is counted: job handed out, share submitted. */
  job: boolean;
  share: boolean;
  artifacts: Artifact[];
  difficulty?: number;
  target?: string;
  /** Capture time (ms) of the segment the line starts in, when the payload carries times. */
  timeMs?: number;
}

const BITCOIN_MINER_METHODS = new Set([
  'mining.subscribe',
  'mining.authorize',
  'mining.submit',
  'mining.extranonce.subscribe',
  'mining.configure',
  'mining.suggest_difficulty',
  'mining.suggest_target',
  'mining.get_transactions',
  'mining.multi_version',
]);
const BITCOIN_POOL_METHODS = new Set([
  'mining.notify',
  'mining.set_difficulty',
  'mining.set_target',
  'mining.set_extranonce',
  'mining.set_version_mask',
]);
const ETH_METHODS = new Set(['eth_submitLogin', 'eth_getWork', 'eth_submitWork', 'eth_submitHashrate']);

/** Longest line handed to JSON.parse; longer lines are only scanned for their method name. */
const MAX_JSON_LINE = 16 * 1024;
const MAX_LINES = 256;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function loginArtifacts(out: Artifact[], login: unknown, pass: unknown): void {
  if (typeof login !== 'string') return;
  const p = splitLogin(login);
  addArtifact(out, 'wallet', p.wallet);
  addArtifact(out, 'account', p.account);
  addArtifact(out, 'account', p.email);
  addArtifact(out, 'worker', p.worker);
  if (typeof pass === 'string' && !TRIVIAL_PASSWORDS.has(pass.toLowerCase())) addArtifact(out, 'rig', pass);
}

/** Passwords that carry no rig id (pools ignore them). */
const TRIVIAL_PASSWORDS = new Set(['', 'x', 'password', 'pass', '1', '123', 'd=1']);

function looksLikeHost(s: unknown): s is string {
  return typeof s === 'string' && /^[a-z0-9.-]{3,253}$/i.test(s) && s.includes('.');
}

/** Classify one parsed JSON-RPC object; null when it is not a Stratum message. */
export function classifyStratumObject(o: Record<string, unknown>): StratumMessage | null {
  const method = typeof o.method === 'string' ? o.method : '';
  const params = o.params;
  const arts: Artifact[] = [];
  if (method) {
    if (BITCOIN_MINER_METHODS.has(method)) {
      const list = Array.isArray(params) ? params : [];
      let dialect: StratumDialect = 'bitcoin';
      if (method === 'mining.subscribe') {
        addArtifact(arts, 'agent', list[0]);
        if (typeof list[1] === 'string' && /^EthereumStratum/i.test(list[1])) dialect = 'ethereum';
        if (looksLikeHost(list[2])) addArtifact(arts, 'pool', list[3] ? `${list[2]}:${list[3]}` : list[2]);
      } else if (method === 'mining.authorize') loginArtifacts(arts, list[0], list[1]);
      else if (method === 'mining.submit') loginArtifacts(arts, list[0], undefined);
      return {
        method,
        dialect,
        from: 'miner',
        job: false,
        share: method === 'mining.submit',
        artifacts: arts,
      };
    }
    if (BITCOIN_POOL_METHODS.has(method)) {
      const list = Array.isArray(params) ? params : [];
      const m: StratumMessage = {
        method,
        dialect: 'bitcoin',
        from: 'pool',
        job: method === 'mining.notify',
        share: false,
        artifacts: arts,
      };
      if (method === 'mining.set_difficulty' && typeof list[0] === 'number') m.difficulty = list[0];
      if (method === 'mining.set_target' && typeof list[0] === 'string') m.target = list[0];
      return m;
    }
    if (ETH_METHODS.has(method)) {
      const list = Array.isArray(params) ? params : [];
      if (method === 'eth_submitLogin') loginArtifacts(arts, list[0], list[1]);
      if (typeof o.worker === 'string') addArtifact(arts, 'worker', o.worker);
      return {
        method,
        dialect: 'ethereum',
        from: 'miner',
        job: false,
        share: method === 'eth_submitWork',
        artifacts: arts,
      };
    }
    // CryptoNote: the method names are generic words, so their parameters must have the shape too.
    if (
      method === 'login' &&
      isObj(params) &&
      typeof params.login === 'string' &&
      ('pass' in params || 'agent' in params)
    ) {
      loginArtifacts(arts, params.login, params.pass);
      addArtifact(arts, 'agent', params.agent);
      addArtifact(arts, 'rig', params.rigid);
      return { method, dialect: 'cryptonote', from: 'miner', job: false, share: false, artifacts: arts };
    }
    if (method === 'submit' && isObj(params) && 'job_id' in params && 'nonce' in params) {
      return { method, dialect: 'cryptonote', from: 'miner', job: false, share: true, artifacts: arts };
    }
    if (method === 'job' && isObj(params) && typeof params.blob === 'string' && 'job_id' in params) {
      const m: StratumMessage = {
        method,
        dialect: 'cryptonote',
        from: 'pool',
        job: true,
        share: false,
        artifacts: arts,
      };
      if (typeof params.target === 'string') m.target = params.target;
      return m;
    }
    if (method === 'keepalived' && (isObj(params) || params === undefined)) {
      return { method, dialect: 'cryptonote', from: 'miner', job: false, share: false, artifacts: arts };
    }
    return null;
  }
  // Responses that carry work: a CryptoNote login result with a job, an eth_getWork result.
  const result = o.result;
  if (isObj(result) && isObj(result.job) && typeof result.job.blob === 'string') {
    const m: StratumMessage = {
      method: 'login-result',
      dialect: 'cryptonote',
      from: 'pool',
      job: true,
      share: false,
      artifacts: arts,
    };
    if (typeof result.job.target === 'string') m.target = result.job.target;
    return m;
  }
  if (
    Array.isArray(result) &&
    result.length >= 3 &&
    result.slice(0, 3).every((x) => typeof x === 'string' && /^0x[0-9a-f]{64}$/i.test(x))
  ) {
    return {
      method: 'getwork-result',
      dialect: 'ethereum',
      from: 'pool',
      job: true,
      share: false,
      artifacts: arts,
    };
  }
  return null;
}

const METHOD_RE = /"method"\s*:\s*"([A-Za-z_.]{1,40})"/;

/** Parse one line (without its newline). Never throws; null when it is not a Stratum message. */
export function parseStratumLine(line: string): StratumMessage | null {
  let s = line.trim();
  if (s.length === 0 || s.charCodeAt(0) !== 0x7b /* { */) return null;
  if (s.length > MAX_JSON_LINE) s = s.slice(0, MAX_JSON_LINE);
  let o: unknown;
  try {
    o = JSON.parse(s);
  } catch {
    return parseTruncatedLine(s);
  }
  return isObj(o) ? classifyStratumObject(o) : null;
}

/**
 * A line cut by the end of the payload sample (a long mining.submit): only the method name can be
 * trusted, and only the unambiguous ones count.
 */
function parseTruncatedLine(s: string): StratumMessage | null {
  const m = METHOD_RE.exec(s);
  if (!m) return null;
  const method = m[1];
  if (BITCOIN_MINER_METHODS.has(method) || BITCOIN_POOL_METHODS.has(method)) {
    const pool = BITCOIN_POOL_METHODS.has(method);
    return {
      method,
      dialect: 'bitcoin',
      from: pool ? 'pool' : 'miner',
      job: method === 'mining.notify',
      share: method === 'mining.submit',
      artifacts: [],
    };
  }
  if (ETH_METHODS.has(method)) {
    return {
      method,
      dialect: 'ethereum',
      from: 'miner',
      job: false,
      share: method === 'eth_submitWork',
      artifacts: [],
    };
  }
  return null;
}

export interface StratumSession {
  messages: StratumMessage[];
  /** Lines that looked like JSON but were not Stratum (ordinary JSON-RPC stays here). */
  otherLines: number;
}

/**
 * Split a direction's payload into lines and parse each; bounded in lines and bytes. With the
 * sample's segment times (src/flow/payload-times.ts) each message gets the capture time of the
 * segment its line starts in.
 */
export function parseStratumPayload(buf: Buffer | null, times?: Buffer | null): StratumSession {
  const out: StratumSession = { messages: [], otherLines: 0 };
  const b = scanWindow(buf);
  const k = jsonStart(b);
  if (!b || k < 0) return out;
  const clock = times ? new PayloadClock(times) : null;
  let start = k;
  for (let n = 0; n < MAX_LINES && start < b.length; n++) {
    let end = b.indexOf(0x0a, start);
    if (end < 0) end = b.length;
    if (b[start] === 0x7b) {
      const m = parseStratumLine(b.toString('utf8', start, Math.min(end, start + MAX_JSON_LINE)));
      if (m) {
        if (clock) {
          const t = clock.at(start);
          if (t === t) m.timeMs = t;
        }
        out.messages.push(m);
      } else out.otherLines++;
    } else if (end > start + 1) out.otherLines++;
    start = end + 1;
  }
  return out;
}

/**
 * Where the first JSON object of a direction starts, after leading white space; -1 when the
 * direction does not start with one (Stratum does; binary and text protocols stop here).
 */
function jsonStart(b: Buffer | null): number {
  if (!b) return -1;
  let k = 0;
  while (k < b.length && (b[k] === 0x20 || b[k] === 0x0a || b[k] === 0x0d || b[k] === 0x09)) k++;
  return b[k] === 0x7b ? k : -1;
}

/** One direction of a flow; its segment times are asked for only when the payload is JSON. */
function parseDirection(flow: FlowView, forward: boolean): StratumSession {
  const buf = forward ? flow.payloadFwd : flow.payloadRev;
  if (jsonStart(scanWindow(buf)) < 0) return { messages: [], otherLines: 0 };
  return parseStratumPayload(buf, forward ? flow.payloadTimesFwd : flow.payloadTimesRev);
}

function dialectCoin(d: StratumDialect | ''): string {
  return d === 'ethereum' ? 'ETH' : d === 'cryptonote' ? 'XMR' : '';
}

/** Share times listed in the evidence at most (the count and first/last cover all of them). */
export const MAX_SHARE_TIMES = 64;

/**
 * When shares and jobs were seen, for hash-rate estimation: first and last share and job as
 * ISO-8601 UTC (microseconds, as captures time packets), the first share times, and the spacing
 * of shares. Empty when the payload carries no times (NetFlow, stores written before times).
 */
export function stratumTimes(messages: StratumMessage[]): Record<string, unknown> {
  const shares: number[] = [];
  const jobs: number[] = [];
  for (const m of messages) {
    if (m.timeMs === undefined) continue;
    if (m.share) shares.push(m.timeMs);
    if (m.job) jobs.push(m.timeMs);
  }
  const out: Record<string, unknown> = {};
  if (shares.length > 0) {
    // Both directions' messages come in one list; shares of a reversed flow still sort in time.
    shares.sort((a, b) => a - b);
    out.sharesTimed = shares.length;
    out.firstShare = isoMicros(shares[0]);
    out.lastShare = isoMicros(shares[shares.length - 1]);
    out.shareTimes = shares.slice(0, MAX_SHARE_TIMES).map(isoMicros);
    if (shares.length >= 2) out.shareIntervals = intervalStats(shares);
  }
  if (jobs.length > 0) {
    jobs.sort((a, b) => a - b);
    out.jobsTimed = jobs.length;
    out.firstJob = isoMicros(jobs[0]);
    out.lastJob = isoMicros(jobs[jobs.length - 1]);
  }
  return out;
}

/**
 * Spacing of consecutive shares in seconds. Shares of a miner at a steady hash rate arrive as a
 * Poisson process: the coefficient of variation of the gaps is then near 1.
 */
function intervalStats(sorted: number[]): {
  count: number;
  meanS: number;
  minS: number;
  maxS: number;
  cv: number;
} {
  const n = sorted.length - 1;
  let sum = 0;
  let min = Infinity;
  let max = 0;
  for (let k = 1; k < sorted.length; k++) {
    const g = (sorted[k] - sorted[k - 1]) / 1000;
    sum += g;
    if (g < min) min = g;
    if (g > max) max = g;
  }
  const mean = sum / n;
  let sq = 0;
  for (let k = 1; k < sorted.length; k++) sq += ((sorted[k] - sorted[k - 1]) / 1000 - mean) ** 2;
  const round = (x: number) => Math.round(x * 1e6) / 1e6;
  return {
    count: n,
    meanS: round(mean),
    minS: round(min),
    maxS: round(max),
    cv: mean > 0 ? round(Math.sqrt(sq / n) / mean) : 0,
  };
}

export function matchStratum(flow: FlowView): Detection[] {
  if (flow.proto !== 6) return [];
  const fwd = parseDirection(flow, true);
  const rev = parseDirection(flow, false);
  const all = [...fwd.messages, ...rev.messages];
  if (all.length === 0) return [];
  const artifacts: Artifact[] = [];
  const methods: string[] = [];
  const dialects = new Set<StratumDialect>();
  let jobs = 0;
  let shares = 0;
  let difficulty: number | undefined;
  let target: string | undefined;
  // Later messages that set another difficulty or target (vardiff retargeting in the sample).
  let difficultyChanges = 0;
  for (const m of all) {
    if (!methods.includes(m.method)) methods.push(m.method);
    if (m.dialect) dialects.add(m.dialect);
    for (const a of m.artifacts) addArtifact(artifacts, a.kind, a.value);
    if (m.job) jobs++;
    if (m.share) shares++;
    if (m.difficulty !== undefined) {
      if (difficulty === undefined) difficulty = m.difficulty;
      else if (m.difficulty !== difficulty) difficultyChanges++;
    }
    if (m.target !== undefined) {
      if (target === undefined) target = m.target;
      else if (m.target !== target) difficultyChanges++;
    }
  }
  // Ethereum-style marks win over the bitcoin-style subscribe NiceHash's variant shares.
  const dialect: StratumDialect | '' = dialects.has('ethereum')
    ? 'ethereum'
    : dialects.has('cryptonote')
      ? 'cryptonote'
      : dialects.has('bitcoin')
        ? 'bitcoin'
        : '';
  const wallet = artifacts.find((a) => a.kind === 'wallet');
  const pool = artifacts.find((a) => a.kind === 'pool');
  const agent = artifacts.find((a) => a.kind === 'agent');
  // Strongest first (coin-rule.ts): the wallet and the dialect are the protocol's own evidence.
  const claims: CoinClaim[] = [];
  if (wallet) claims.push({ from: 'wallet', coin: splitLogin(wallet.value).coin });
  claims.push({ from: 'dialect', coin: dialectCoin(dialect) });
  if (pool) claims.push({ from: 'pool', coin: nameCoin(pool.value) });
  if (agent) claims.push({ from: 'agent', coin: agentCoin(agent.value) });
  const named = claims.filter((c) => c.coin);
  const best = bestClaim(named);
  const coin = best?.coin ?? '';
  const coinFrom = best?.from ?? '';
  return [
    {
      label: 'stratum',
      coin,
      confidence: 'payload',
      evidence: {
        rule: `stratum.${dialect || 'bitcoin'}`,
        detail: `Stratum (${dialect}-style) JSON-RPC: ${methods.join(', ')}`,
        dialect,
        methods,
        jobs,
        shares,
        ...(difficulty !== undefined ? { difficulty } : {}),
        ...(target !== undefined ? { target } : {}),
        ...(difficultyChanges > 0 ? { difficultyChanges } : {}),
        ...stratumTimes(all),
        ...(coin ? { coinFrom } : {}),
        ...(named.length > 1 ? { coinClaims: named } : {}),
        sampled: true,
      },
      artifacts,
    },
  ];
}

export const stratum: PayloadMatcher = { name: 'stratum', labels: ['stratum'], match: matchStratum };
