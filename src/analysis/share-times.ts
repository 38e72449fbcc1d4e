/**
 * Hash rate from the share times in payload samples. A flow assembled from packets keeps the first
 * bytes of each direction and when each segment arrived (docs/capture.md); every share the miner
 * submitted between the first and the last timed share of a sample is in that sample, so each
 * sample is a window in which the share process was seen whole. Samples of one connection come
 * one per 30-minute flow piece; the windows are summed, the gaps between them left out.
 */
import { matchStratum, parseStratumPayload, type StratumMessage } from '../detect/stratum.js';
import type { PayloadSample } from '../store/duckdb/series.js';
import {
  hashesPerShare,
  hashrateFromShareTimes,
  type HashrateEstimate,
  type MinedCoin,
  type ShareSpan,
} from './estimate.js';
import { cryptonoteDifficulty } from './stratum-evidence.js';

/** What the estimate needs of a stored payload sample (the series query's PayloadSample). */
export type StratumPayloadSample = Pick<
  PayloadSample,
  'flowId' | 'src' | 'srcPort' | 'dst' | 'dstPort' | 'firstMs' | 'fwd' | 'rev' | 'fwdTimes' | 'revTimes'
>;

export interface TimedShareSpans {
  /** Windows of whole share sequences, per coin whose share work is known (BTC, XMR). */
  spans: Map<MinedCoin, ShareSpan[]>;
  /** Samples that could not be used, by reason (for the assumptions and the analyst). */
  skipped: Map<string, number>;
}

function difficultyOf(m: StratumMessage, coin: MinedCoin): number {
  if (m.difficulty !== undefined && m.difficulty > 0) return m.difficulty;
  // CryptoNote job targets; a Bitcoin-style set_target is a 256-bit target, not used here.
  if (coin === 'XMR' && m.target !== undefined) return cryptonoteDifficulty(m.target);
  return 0;
}

/**
 * The share windows of Stratum payload samples. Each share's work uses the difficulty in force
 * when it was sent: the last difficulty (set_difficulty, or a CryptoNote job target) the pool sent
 * before it, in this sample or, before the first one in it, earlier on the same connection
 * (src:port → dst:port; later flow pieces of a connection do not repeat the difficulty).
 */
export function shareSpansOf(samples: readonly StratumPayloadSample[]): TimedShareSpans {
  const spans = new Map<MinedCoin, ShareSpan[]>();
  const skipped = new Map<string, number>();
  const skip = (why: string) => skipped.set(why, (skipped.get(why) ?? 0) + 1);
  const carried = new Map<string, number>();
  for (const s of [...samples].sort((a, b) => a.firstMs - b.firstMs || a.flowId - b.flowId)) {
    const [det] = matchStratum({
      proto: 6,
      srcPort: s.srcPort,
      dstPort: s.dstPort,
      payloadFwd: s.fwd,
      payloadRev: s.rev,
      payloadTimesFwd: s.fwdTimes,
      payloadTimesRev: s.revTimes,
    });
    if (!det) {
      skip('not Stratum');
      continue;
    }
    const coin = det.coin;
    if (coin !== 'BTC' && coin !== 'XMR') {
      skip(`coin ${coin || 'unknown'}: no share-work formula`);
      continue;
    }
    const key = `${s.src}:${s.srcPort}>${s.dst}:${s.dstPort}`;
    const messages = [
      ...parseStratumPayload(s.fwd, s.fwdTimes).messages,
      ...parseStratumPayload(s.rev, s.revTimes).messages,
    ];
    // Difficulty messages without a time cannot be placed before or after a share.
    const timed = messages.filter((m) => m.timeMs !== undefined).sort((a, b) => a.timeMs! - b.timeMs!);
    if (!timed.some((m) => m.share)) {
      skip(messages.some((m) => m.share) ? 'shares without times' : 'no shares');
      // Its difficulty still carries over to the next piece of the connection.
      for (const m of timed) {
        const d = difficultyOf(m, coin);
        if (d > 0) carried.set(key, d);
      }
      continue;
    }
    let difficulty = carried.get(key) ?? 0;
    let first = NaN;
    let last = NaN;
    let shares = 0;
    let work = 0;
    for (const m of timed) {
      const d = difficultyOf(m, coin);
      if (d > 0) difficulty = d;
      if (!m.share) continue;
      if (first !== first || difficulty === 0) {
        // The first share opens the window (its own work was done before it); so does every
        // share before the difficulty is known, whose work cannot be counted.
        first = m.timeMs!;
      } else {
        shares++;
        work += hashesPerShare(coin, difficulty);
      }
      last = m.timeMs!;
    }
    if (difficulty > 0) carried.set(key, difficulty);
    if (shares === 0 || !(last > first)) {
      skip(difficulty === 0 ? 'difficulty not seen' : 'one timed share');
      continue;
    }
    const list = spans.get(coin) ?? [];
    list.push({ firstMs: first, lastMs: last, shares, work });
    spans.set(coin, list);
  }
  return { spans, skipped };
}

/**
 * Hash-rate estimates from a host's payload samples, one per coin with timed shares
 * (`hashrateFromShareTimes`), and the samples left out, as "n reason" phrases.
 */
export function shareTimeEstimates(samples: readonly StratumPayloadSample[]): {
  estimates: HashrateEstimate[];
  notUsed: string[];
} {
  const { spans, skipped } = shareSpansOf(samples);
  const estimates: HashrateEstimate[] = [];
  for (const [coin, list] of spans) {
    const e = hashrateFromShareTimes(coin, list);
    if (e) estimates.push(e);
  }
  return { estimates, notUsed: [...skipped].map(([why, n]) => `${n} ${why}`) };
}
