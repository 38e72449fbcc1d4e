/**
 * The detector registry: every payload matcher (one file per protocol), then infrastructure lists,
 * then port hints. `detectFlow` runs them over one flow, `detectBatch` over a columnar batch.
 */
import type { FlowBatch, FlowRecord } from '../flow/record.js';
import { bitcoinP2p } from './bitcoin-p2p.js';
import { ethereumP2p } from './ethereum.js';
import { httpRpc } from './http-rpc.js';
import type { InfraEntry, InfrastructureList } from './infrastructure.js';
import { moneroLevin } from './monero-levin.js';
import { makePoolNameMatcher } from './pool-names.js';
import { portFallback } from './ports.js';
import type { FlowCounters } from './scan.js';
import { stratum } from './stratum.js';
import { resolveFlowCoin } from './coin-rule.js';
import type { ConnectionMemory } from './connections.js';
import type { Detection, FlowView, PayloadMatcher } from './types.js';

/** Bumped when a rule changes what it reports; stored with every detection. */
export const DETECTOR_VERSION = 'coinradar-detect/3';

/** Matchers that need nothing but the flow. */
export const PAYLOAD_MATCHERS: readonly PayloadMatcher[] = [
  bitcoinP2p,
  moneroLevin,
  ethereumP2p,
  stratum,
  httpRpc,
];

export interface Detector {
  readonly matchers: readonly PayloadMatcher[];
  readonly infrastructure: InfrastructureList | null;
  readonly version: string;
}

export function createDetector(infrastructure: InfrastructureList | null): Detector {
  const matchers = infrastructure
    ? [...PAYLOAD_MATCHERS, makePoolNameMatcher(infrastructure)]
    : [...PAYLOAD_MATCHERS];
  return { matchers, infrastructure, version: DETECTOR_VERSION };
}

function infraDetection(e: InfraEntry, side: string, ip: string, port: number): Detection {
  return {
    label: e.label,
    coin: e.coin,
    confidence: 'infrastructure',
    evidence: {
      rule: 'infrastructure.list',
      detail: `${side} ${ip}:${port} is listed as ${e.name} (${e.list})`,
      list: e.list,
      entry: e.port ? `${e.value}:${e.port}` : e.value,
      pool: e.name,
      ...(e.detail ?? {}),
    },
    artifacts: [{ kind: 'pool', value: typeof e.detail?.server === 'string' ? e.detail.server : e.name }],
    listVersion: e.listVersion,
  };
}

function runPayload(d: Detector, flow: FlowView, out: Detection[]): void {
  if (!flow.payloadFwd && !flow.payloadRev) return;
  for (const m of d.matchers) {
    for (const x of m.match(flow)) out.push(x);
  }
}

/** All detections for one flow in object form (tests, single-flow tools). */
export function detectFlow(d: Detector, f: FlowRecord): Detection[] {
  const out: Detection[] = [];
  runPayload(d, f, out);
  if (d.infrastructure) {
    for (const [side, ip, port] of [
      ['destination', f.dst, f.dstPort],
      ['source', f.src, f.srcPort],
    ] as const) {
      const hits = d.infrastructure.lookupIpText(ip, port);
      if (hits.length) {
        out.push(infraDetection(hits[0], side, ip, port));
        break;
      }
    }
  }
  if (out.length === 0) {
    const p = portFallback(f, f);
    if (p) out.push(p);
  }
  resolveFlowCoin(out);
  return out;
}

/**
 * One row of a batch as a FlowView, reused from row to row. The segment times are cut out of the
 * batch's column only when a matcher reads them (Stratum on JSON payloads, Ethereum on likely shapes).
 */
class BatchRowView implements FlowView, FlowCounters {
  proto = 0;
  tcpFlags = 0;
  packets = 0;
  bytes = 0;
  revPackets = 0;
  revBytes = 0;
  srcPort = 0;
  dstPort = 0;
  payloadFwd: Buffer | null = null;
  payloadRev: Buffer | null = null;
  row = 0;

  constructor(private readonly batch: FlowBatch) {}

  get payloadTimesFwd(): Buffer | null {
    return this.batch.payloadTimesFwdOf(this.row);
  }

  get payloadTimesRev(): Buffer | null {
    return this.batch.payloadTimesRevOf(this.row);
  }
}

/**
 * Detections of every row of a batch, as (row, detection) pairs, each flow's coin settled by the
 * coin rule (coin-rule.ts), with what earlier flows of its connection said when `connections` is
 * given. No object per flow unless the flow has payload or something matched.
 */
export function detectBatch(
  d: Detector,
  b: FlowBatch,
  onDetection: (row: number, det: Detection) => void,
  connections?: ConnectionMemory,
): number {
  let n = 0;
  const view = new BatchRowView(b);
  const out: Detection[] = [];
  for (let i = 0; i < b.length; i++) {
    out.length = 0;
    view.proto = b.proto[i];
    view.srcPort = b.srcPort[i];
    view.dstPort = b.dstPort[i];
    view.payloadFwd = b.payloadFwd[i];
    view.payloadRev = b.payloadRev[i];
    view.row = i;
    runPayload(d, view, out);
    if (d.infrastructure) {
      let hits = d.infrastructure.lookupIp(b.dst, i * 16, b.ipVersion[i], view.dstPort);
      if (hits.length) out.push(infraDetection(hits[0], 'destination', b.dstText(i), view.dstPort));
      else {
        hits = d.infrastructure.lookupIp(b.src, i * 16, b.ipVersion[i], view.srcPort);
        if (hits.length) out.push(infraDetection(hits[0], 'source', b.srcText(i), view.srcPort));
      }
    }
    if (out.length === 0) {
      view.tcpFlags = b.tcpFlags[i];
      view.packets = b.packets[i];
      view.bytes = b.bytes[i];
      view.revPackets = b.revPackets[i];
      view.revBytes = b.revBytes[i];
      const p = portFallback(view, view);
      if (p) out.push(p);
    }
    if (out.length === 0) continue;
    if (connections) for (const x of out) connections.apply(b, i, x);
    resolveFlowCoin(out);
    for (const x of out) {
      onDetection(i, x);
      n++;
    }
  }
  return n;
}
