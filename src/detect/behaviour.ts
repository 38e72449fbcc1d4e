/**
 * Flow-behaviour classifier for telemetry without payload (NetFlow/IPFIX, or captures whose
 * payload was not kept). Per (client, server, server port) over a window it computes the features
 * of Veselý & Žádník (Digital Investigation 2019) and scores them with hand-fitted rules; above
 * BEHAVIOUR_THRESHOLD the group's flows get label `mining-behaviour`, confidence `behaviour`.
 * Training data, rules and held-out rates: docs/detection-rules.md.
 */
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../flow/record.js';
import type { Detection } from './types.js';

/** The study's eight features (percentages 0..100 or raw values, as in its data). */
export interface BehaviourFeatures {
  /** % of records with both ACK and PSH. */
  ackpush: number;
  /** Bytes per packet (IP bytes). */
  bytesPerPacket: number;
  packetsPerFlow: number;
  /** Packets per minute of the group's active span (at least one minute). */
  packetsPerMinute: number;
  /** % of records in the client → server direction. */
  requests: number;
  syn: number;
  rst: number;
  fin: number;
}

/** One record as the classifier needs it (a FlowBatch row or a stored flow). */
export interface BehaviourRecord {
  firstMs: number;
  lastMs: number;
  packets: number;
  bytes: number;
  tcpFlags: number;
  /** The record runs client → server. */
  request: boolean;
}

export interface BehaviourGroup {
  records: number;
  features: BehaviourFeatures;
  /** Coefficient of variation of the gaps between record starts (needs ≥ 4 records), null otherwise. */
  periodicity: number | null;
}

export function groupFeatures(recs: BehaviourRecord[]): BehaviourGroup {
  let packets = 0;
  let bytes = 0;
  let ap = 0;
  let req = 0;
  let syn = 0;
  let rst = 0;
  let fin = 0;
  let first = Infinity;
  let last = -Infinity;
  for (const r of recs) {
    packets += r.packets;
    bytes += r.bytes;
    if ((r.tcpFlags & (TCP_ACK | TCP_PSH)) === (TCP_ACK | TCP_PSH)) ap++;
    if (r.request) req++;
    if (r.tcpFlags & TCP_SYN) syn++;
    if (r.tcpFlags & TCP_RST) rst++;
    if (r.tcpFlags & TCP_FIN) fin++;
    first = Math.min(first, r.firstMs);
    last = Math.max(last, r.lastMs);
  }
  const n = recs.length || 1;
  const minutes = Math.max(1, (last - first) / 60000);
  let periodicity: number | null = null;
  if (recs.length >= 4) {
    const starts = recs.map((r) => r.firstMs).sort((a, b) => a - b);
    const gaps = starts.slice(1).map((s, k) => s - starts[k]);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / gaps.length);
    periodicity = mean > 0 ? sd / mean : null;
  }
  return {
    records: recs.length,
    features: {
      ackpush: (100 * ap) / n,
      bytesPerPacket: packets ? bytes / packets : 0,
      packetsPerFlow: packets / n,
      packetsPerMinute: packets / minutes,
      requests: (100 * req) / n,
      syn: (100 * syn) / n,
      rst: (100 * rst) / n,
      fin: (100 * fin) / n,
    },
    periodicity,
  };
}

/**
 * The rules, fitted on the training split by test/detect/behaviour-fit.ts (a grid over the bounds,
 * TP − 3·FP on training data only; docs/detection-rules.md): each is a range a miner's records fall
 * into; the score is the weighted share of rules met.
 */
export const BEHAVIOUR_RULES: {
  feature: keyof BehaviourFeatures;
  min: number;
  max: number;
  weight: number;
  why: string;
}[] = [
  {
    feature: 'ackpush',
    min: 75,
    max: 100,
    weight: 1,
    why: 'a miner pushes small JSON lines: nearly every record has ACK+PSH',
  },
  {
    feature: 'bytesPerPacket',
    min: 40,
    max: 110,
    weight: 1,
    why: 'Stratum packets are small (share submits, job notices)',
  },
  { feature: 'requests', min: 50, max: 100, weight: 1, why: 'the miner keeps talking to the pool' },
  { feature: 'syn', min: 0, max: 35, weight: 1, why: 'long connections: few records see the handshake' },
  { feature: 'rst', min: 0, max: 25, weight: 1, why: 'sessions are rarely reset' },
  { feature: 'fin', min: 0, max: 5, weight: 1, why: 'sessions are rarely closed' },
];

/** Score at or above which a group is reported (all rules met = 1). */
export const BEHAVIOUR_THRESHOLD = 1;

export function behaviourScore(f: BehaviourFeatures): number {
  let got = 0;
  let total = 0;
  for (const r of BEHAVIOUR_RULES) {
    total += r.weight;
    const v = f[r.feature];
    if (v >= r.min && v <= r.max) got += r.weight;
  }
  return got / total;
}

export function behaviourDetection(g: BehaviourGroup, score: number, window: string): Detection {
  const f = g.features;
  const r1 = (x: number) => Math.round(x * 10) / 10;
  return {
    label: 'mining-behaviour',
    coin: '',
    confidence: 'behaviour',
    evidence: {
      rule: 'behaviour.rules',
      detail: `flow shape of a miner over ${g.records} record(s) in ${window}: ${r1(f.ackpush)}% ACK+PSH, ${r1(f.bytesPerPacket)} B/packet, ${r1(f.syn)}% SYN, ${r1(f.fin)}% FIN (score ${r1(score)})`,
      score,
      threshold: BEHAVIOUR_THRESHOLD,
      window,
      records: g.records,
      features: Object.fromEntries(Object.entries(f).map(([k, v]) => [k, r1(v)])),
      ...(g.periodicity !== null ? { periodicity: r1(g.periodicity) } : {}),
    },
    artifacts: [],
  };
}
