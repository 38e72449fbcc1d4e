/**
 * Stratum messages as real miners and pools send them: cgminer-style `mining.*` for Bitcoin and
 * XMRig-style `login`/`job`/`submit` for Monero. One JSON object per line ('\n'), as on the wire.
 * Used for payload samples on flows and for the packet capture of a sample of hosts.
 */
import type { Rng } from './rng.js';

function hex(rng: Rng, bytes: number): string {
  let s = '';
  for (let i = 0; i < bytes; i++) s += (rng.u32() & 255).toString(16).padStart(2, '0');
  return s;
}

export interface StratumIdentity {
  coin: 'BTC' | 'XMR';
  wallet: string;
  worker: string;
  difficulty: number;
  agent?: string;
}

/** Client → pool lines that open a session. */
export function clientHello(id: StratumIdentity, rng: Rng): string[] {
  if (id.coin === 'XMR') {
    return [
      JSON.stringify({
        id: 1,
        jsonrpc: '2.0',
        method: 'login',
        params: {
          login: id.wallet,
          pass: id.worker,
          agent: id.agent ?? 'XMRig/2.4.2 (Windows NT 6.1; Win64; x64) libuv/1.14.1 msvc/2015',
          algo: ['cn/1'],
        },
      }),
    ];
  }
  void rng;
  return [
    JSON.stringify({ id: 1, method: 'mining.subscribe', params: [id.agent ?? 'cgminer/4.10.0'] }),
    JSON.stringify({ id: 2, method: 'mining.authorize', params: [`${id.wallet}.${id.worker}`, 'x'] }),
  ];
}

/** Pool → client lines answering the hello: subscription, difficulty, first job. */
export function poolHello(id: StratumIdentity, rng: Rng, jobId: number): string[] {
  if (id.coin === 'XMR') {
    return [
      JSON.stringify({
        id: 1,
        jsonrpc: '2.0',
        error: null,
        result: { id: hex(rng, 8), job: xmrJobParams(id, rng, jobId), status: 'OK' },
      }),
    ];
  }
  return [
    JSON.stringify({
      id: 1,
      result: [
        [
          ['mining.set_difficulty', hex(rng, 4)],
          ['mining.notify', hex(rng, 4)],
        ],
        hex(rng, 4),
        4,
      ],
      error: null,
    }),
    JSON.stringify({ id: 2, result: true, error: null }),
    setDifficulty(id.difficulty),
    btcNotify(rng, jobId, true),
  ];
}

export function setDifficulty(d: number): string {
  return JSON.stringify({ id: null, method: 'mining.set_difficulty', params: [d] });
}

/** CryptoNote target for a difficulty, as pools send it (4-byte little-endian hex). */
export function xmrTarget(difficulty: number): string {
  const t = Math.floor(0xffffffff / difficulty);
  const b = Buffer.alloc(4);
  b.writeUInt32LE(t >>> 0);
  return b.toString('hex');
}

function xmrJobParams(id: StratumIdentity, rng: Rng, jobId: number): Record<string, string> {
  return { blob: hex(rng, 76), job_id: String(jobId), target: xmrTarget(id.difficulty), id: hex(rng, 8) };
}

export function btcNotify(rng: Rng, jobId: number, clean: boolean): string {
  const branches: string[] = [];
  for (let i = 0; i < 11; i++) branches.push(hex(rng, 32));
  return JSON.stringify({
    id: null,
    method: 'mining.notify',
    params: [
      jobId.toString(16),
      hex(rng, 32),
      hex(rng, 50),
      hex(rng, 40),
      branches,
      '20000000',
      '1801310b',
      hex(rng, 4),
      clean,
    ],
  });
}

export function xmrJob(id: StratumIdentity, rng: Rng, jobId: number): string {
  return JSON.stringify({ jsonrpc: '2.0', method: 'job', params: xmrJobParams(id, rng, jobId) });
}

export function submit(id: StratumIdentity, rng: Rng, msgId: number, jobId: number, ntime: number): string {
  if (id.coin === 'XMR') {
    return JSON.stringify({
      id: msgId,
      jsonrpc: '2.0',
      method: 'submit',
      params: { id: hex(rng, 8), job_id: String(jobId), nonce: hex(rng, 4), result: hex(rng, 32) },
    });
  }
  return JSON.stringify({
    id: msgId,
    method: 'mining.submit',
    params: [
      `${id.wallet}.${id.worker}`,
      jobId.toString(16),
      hex(rng, 4),
      (ntime >>> 0).toString(16),
      hex(rng, 4),
    ],
  });
}

export function submitResult(coin: 'BTC' | 'XMR', msgId: number, accepted = true): string {
  if (coin === 'XMR')
    return JSON.stringify({
      id: msgId,
      jsonrpc: '2.0',
      error: null,
      result: { status: accepted ? 'OK' : 'Low difficulty share' },
    });
  return JSON.stringify({
    id: msgId,
    result: accepted,
    error: accepted ? null : [23, 'Low difficulty share', null],
  });
}

/** Typical payload sizes in bytes (one message per TCP segment), for flows without payload. */
export const STRATUM_SIZES = {
  BTC: { submit: 150, notify: 900, result: 40, hello: 220, helloReply: 1250 },
  XMR: { submit: 190, notify: 260, result: 75, hello: 250, helloReply: 420 },
} as const;

export interface StratumMessage {
  timeMs: number;
  fromClient: boolean;
  line: string;
}

export interface StratumMiner extends StratumIdentity {
  /** Mean seconds between accepted shares (work(difficulty) / hash rate). */
  shareIntervalS: number;
}

/**
 * One Stratum session as it appears on the wire: hello, then shares as a Poisson process at the
 * miner's cadence (each answered by the pool) and new jobs from the pool.
 */
export function stratumSession(
  m: StratumMiner,
  startMs: number,
  seconds: number,
  rng: Rng,
): StratumMessage[] {
  const out: StratumMessage[] = [];
  for (const line of clientHello(m, rng)) out.push({ timeMs: startMs, fromClient: true, line });
  let jobId = 1;
  for (const line of poolHello(m, rng, jobId)) out.push({ timeMs: startMs + 40, fromClient: false, line });
  const end = startMs + seconds * 1000;
  const jobEveryS = m.coin === 'BTC' ? 40 : 60;
  let nextShare = startMs + 40 + rng.exponential(1 / m.shareIntervalS) * 1000;
  let nextJob = startMs + 40 + rng.exponential(1 / jobEveryS) * 1000;
  let msgId = 10;
  while (Math.min(nextShare, nextJob) < end) {
    if (nextShare <= nextJob) {
      const t = Math.round(nextShare);
      out.push({ timeMs: t, fromClient: true, line: submit(m, rng, msgId, jobId, Math.floor(t / 1000)) });
      out.push({ timeMs: t + 35, fromClient: false, line: submitResult(m.coin, msgId) });
      msgId++;
      nextShare += rng.exponential(1 / m.shareIntervalS) * 1000;
    } else {
      jobId++;
      const t = Math.round(nextJob);
      out.push({
        timeMs: t,
        fromClient: false,
        line: m.coin === 'BTC' ? btcNotify(rng, jobId, false) : xmrJob(m, rng, jobId),
      });
      nextJob += rng.exponential(1 / jobEveryS) * 1000;
    }
  }
  return out.sort((a, b) => a.timeMs - b.timeMs);
}
