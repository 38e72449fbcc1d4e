/**
 * The ndpi-train captures of the shared reference data (../shared/data/pcap/ndpi-train: 261 of
 * nDPI's test captures, each with nDPI's verdicts in X.ndpi.out), read with coinradar's own capture
 * reader and flow table, and nDPI's per-flow lines parsed.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { captureFlows } from '../../src/capture/formats.js';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import type { FlowRecord } from '../../src/flow/record.js';

export const NDPI_TRAIN = join(process.cwd(), '..', 'shared', 'data', 'pcap', 'ndpi-train');

/** Why the tests that need the captures skip, or false when they are there. */
export const ndpiTrainSkip = existsSync(join(NDPI_TRAIN, 'ethereum.pcap'))
  ? false
  : `the shared captures are not at ${NDPI_TRAIN}`;

/** The capture files (not the verdicts). */
export function ndpiTrainCaptures(): string[] {
  return readdirSync(NDPI_TRAIN)
    .filter((f) => /\.(pcap|pcapng|cap)$/.test(f))
    .sort();
}

/** Every flow of a capture as records (payload samples of `payloadCap` bytes per direction). */
export async function captureRecords(path: string, payloadCap = 2048): Promise<FlowRecord[]> {
  const out: FlowRecord[] = [];
  for await (const b of captureFlows(path, { diagnostics: new Diagnostics(), payloadCap }))
    for (const r of b.records()) out.push(r);
  return out;
}

export interface NdpiVerdict {
  proto: 'TCP' | 'UDP';
  a: string;
  b: string;
  app: string;
  confidence: string;
}

/** nDPI's flow lines of `X.ndpi.out`: transport, the two endpoints, protocol, confidence. */
export function ndpiVerdicts(capture: string): NdpiVerdict[] {
  const out: NdpiVerdict[] = [];
  for (const line of readFileSync(`${capture}.ndpi.out`, 'utf8').split('\n')) {
    const m =
      /^\s+\d+\s+(TCP|UDP)\s+(\S+)\s+<?->\s+(\S+)\s+\[proto: [\d.]+\/([^\]]+)\].*?\[Confidence: ([^\]]+)\]/.exec(
        line,
      );
    if (m) out.push({ proto: m[1] as 'TCP' | 'UDP', a: m[2], b: m[3], app: m[4], confidence: m[5] });
  }
  return out;
}

/** The record of a verdict's flow (either orientation), or undefined. */
export function recordOf(flows: FlowRecord[], v: NdpiVerdict): FlowRecord | undefined {
  const proto = v.proto === 'TCP' ? 6 : 17;
  return flows.find((r) => {
    if (r.proto !== proto) return false;
    const s = `${r.src}:${r.srcPort}`;
    const d = `${r.dst}:${r.dstPort}`;
    return (s === v.a && d === v.b) || (s === v.b && d === v.a);
  });
}
