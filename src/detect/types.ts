/**
 * The detection vocabulary: what a matcher returns for a flow. One list of labels, four ordered
 * confidence levels, artifacts as {kind, value}. docs/detection-rules.md is the reference.
 */

/** Ordered from strongest to weakest: protocol bytes seen > known endpoint > flow shape > port number. */
export type Confidence = 'payload' | 'infrastructure' | 'behaviour' | 'port';

export const CONFIDENCE_RANK: Record<Confidence, number> = {
  payload: 4,
  infrastructure: 3,
  behaviour: 2,
  port: 1,
};

export function parseConfidence(v: string): Confidence {
  if (!(v in CONFIDENCE_RANK))
    throw new Error(`confidence must be one of payload, infrastructure, behaviour, port, not ${v}`);
  return v as Confidence;
}

export const LABELS = [
  'bitcoin-p2p',
  'monero-p2p',
  'ethereum-p2p',
  'stratum',
  'getblocktemplate',
  'node-rpc',
  'pool-tls',
  'pool-dns',
  'pool-endpoint',
  'mining-behaviour',
  'crypto-port',
  'scan',
] as const;
export type Label = (typeof LABELS)[number];

/**
 * wallet: a chain address the pool pays; worker: the rig name after the address/account;
 * agent: mining software; pool: a pool host name (or host:port); client: node software (user
 * agent); account: a pool login that is not an address (or an e-mail); rig: a password field that
 * carries a rig id.
 */
export type ArtifactKind = 'wallet' | 'worker' | 'agent' | 'pool' | 'client' | 'account' | 'rig';

export interface Artifact {
  kind: ArtifactKind;
  value: string;
}

/** Why a detection was made. `rule` names the rule (docs/detection-rules.md), `detail` says it in words. */
export interface Evidence {
  rule: string;
  detail: string;
  [field: string]: unknown;
}

export interface Detection {
  label: Label;
  /** Ticker (BTC, LTC, DOGE, BCH, XMR, ZEC, ETH, ...), several joined by '|', '' when unknown. */
  coin: string;
  confidence: Confidence;
  evidence: Evidence;
  artifacts: Artifact[];
  /** The version of the list that said so (infrastructure and domain matches). */
  listVersion?: string;
}

/** What a payload matcher sees of a flow: ports, protocol and the first bytes of each direction. */
export interface FlowView {
  proto: number;
  srcPort: number;
  dstPort: number;
  payloadFwd: Buffer | null;
  payloadRev: Buffer | null;
  /** Segment times of the samples (src/flow/payload-times.ts), when the flow came from packets. */
  payloadTimesFwd?: Buffer | null;
  payloadTimesRev?: Buffer | null;
}

/** A payload matcher: a pure function of the flow; returns [] when it does not recognise it. */
export interface PayloadMatcher {
  name: string;
  labels: readonly Label[];
  match(flow: FlowView): Detection[];
}

/**
 * Matchers never look past this many bytes of a direction, whatever the caller passes: the capture
 * keeps 2 KiB by default; a larger cap is honoured up to here, so a huge sample cannot cost more.
 */
export const MAX_SCAN = 64 * 1024;

export function scanWindow(b: Buffer | null): Buffer | null {
  if (!b || b.length === 0) return null;
  return b.length > MAX_SCAN ? b.subarray(0, MAX_SCAN) : b;
}

export function addArtifact(list: Artifact[], kind: ArtifactKind, value: unknown): void {
  if (typeof value !== 'string') return;
  const v = value.trim();
  if (!v || v.length > 256) return;
  if (!list.some((a) => a.kind === kind && a.value === v)) list.push({ kind, value: v });
}
