/**
 * The investigation report as data. Builders fill it from the store, detections and estimates;
 * renderers (html.ts, markdown.ts) only lay it out, so every number on the page is in this object.
 */
import type { Assumption, Range } from '../analysis/estimate.js';
import type { SurgeChange } from '../analysis/surge.js';

export interface TimelinePoint {
  /** Bucket start, ms since epoch (UTC). */
  t: number;
  value: number;
  /** false when nothing at all was observed in the bucket (drawn as a gap). */
  observed?: boolean;
}

export interface Timeline {
  label: string;
  /**
   * What evidence puts a flow in the series: port numbers only (crypto ports, the crypto-port
   * label) or something stronger (catalogued pool addresses, other detection labels).
   */
  evidence?: 'port' | 'stronger';
  /** What the values count, e.g. 'flows per day'. */
  unit: string;
  bucketMs: number;
  points: TimelinePoint[];
  changes: SurgeChange[];
  /** Set when this port-only series' onset comes later than stronger evidence's can explain. */
  lag?: OnsetLag;
}

/** A port-only onset later than the onset on stronger evidence, beyond both 95 % intervals. */
export interface OnsetLag {
  /** The stronger series it lags (its label) and that series' onset and interval. */
  behind: string;
  behindOnset: string;
  behindInterval: [string, string];
  /** Days from the stronger onset to the port-only onset. */
  days: number;
  /** One sentence for the reader. */
  text: string;
}

export interface HostRow {
  host: string;
  flows: number;
  packets: number;
  bytes: number;
  firstSeen: string;
  lastSeen: string;
  /** Labels or ports that put the host in the table. */
  labels: string[];
  /** From its host profile: sessions, share of hours active, coins with the evidence grade, and
   * the first day with evidence better than a port. */
  sessions?: number;
  dutyCycle?: number;
  coins?: string[];
  firstStrong?: string;
}

export interface PoolRow {
  endpoint: string;
  name: string;
  hosts: number;
  flows: number;
  firstSeen: string;
  /** The last flow's end, to the second (ISO 8601, UTC): exports date sightings by it. */
  lastSeenAt?: string;
  /** First flow's start to the second, likewise. */
  firstSeenAt?: string;
}

export interface WalletRow {
  wallet: string;
  coin: string;
  hosts: string[];
  workers: string[];
  /** How the wallet was seen, e.g. 'Stratum mining.authorize in flow 123'. */
  evidence: string;
  /** Sanctions screening result, when lists are loaded ('not listed' or 'LISTED: ...'). */
  screening?: string;
}

export interface EstimateRow {
  subject: string;
  coin: string;
  /** Hash rate in H/s. */
  hashrate?: Range;
  hashrateMethod?: string;
  /**
   * A second hash-rate estimate from the share times in the host's payload samples (captures),
   * beside the flow-counter one that revenue and power use; absent without timed shares.
   */
  shareTimeHashrate?: Range;
  shareTimeMethod?: string;
  revenueCoin?: Range;
  revenueUsd?: Range;
  /** Why revenue is absent (e.g. no Monero network data), said instead of a dash. */
  revenueNote?: string;
  period?: { from: string; to: string; days: number };
  powerWatts?: Range;
  energyKWh?: Range;
  electricityUsd?: Range;
  assumptions: Assumption[];
}

export interface EvidenceRef {
  kind: 'detection' | 'query' | 'surge' | 'estimate' | 'ground-truth';
  /** What to run or look up to see it again (a CLI command, a SQL query, a flow id). */
  ref: string;
  detail?: string;
}

export interface Claim {
  claim: string;
  support: EvidenceRef[];
}

export interface InvestigationReport {
  title: string;
  generatedAt: string;
  scope: string;
  period: { from: string; to: string };
  /** Key findings, one sentence each. */
  findings: string[];
  timelines: Timeline[];
  hosts: HostRow[];
  pools: PoolRow[];
  wallets: WalletRow[];
  estimates: EstimateRow[];
  evidence: Claim[];
  /** Method notes and caveats (e.g. 'port-only hits are called crypto ports, not mining'). */
  notes: string[];
}
