/**
 * The behaviour classifier needs many flows at once: it runs as a pass over the store (after the
 * per-flow matchers, in `coinradar detect`) and over each batch in the ingest/collect hook.
 */
import type { FlowBatch } from '../flow/record.js';
import type { DetectionInput, DetectionStore } from '../store/detections.js';
import {
  behaviourDetection,
  behaviourScore,
  BEHAVIOUR_THRESHOLD,
  groupFeatures,
  type BehaviourGroup,
  type BehaviourRecord,
} from './behaviour.js';
import { detectionRow } from './rows.js';

export const DEFAULT_BEHAVIOUR_WINDOW_MS = 3_600_000;

function periodicityOf(starts: number[]): number | null {
  if (starts.length < 4) return null;
  const gaps = starts.slice(1).map((s, k) => s - starts[k]);
  const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
  if (mean <= 0) return null;
  return Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / gaps.length) / mean;
}

/** Score every stored group; detections for the flows of groups at or above the threshold. */
export async function behaviourPass(
  store: DetectionStore,
  detectorVersion: string,
  windowMs = DEFAULT_BEHAVIOUR_WINDOW_MS,
): Promise<number> {
  const out: DetectionInput[] = [];
  for (const g of await store.behaviourGroups(windowMs)) {
    if (g.flow_ids.length === 0) continue;
    const group: BehaviourGroup = {
      records: g.records,
      features: {
        ackpush: g.ackpush,
        bytesPerPacket: g.bytes_per_packet,
        packetsPerFlow: g.packets_per_flow,
        packetsPerMinute: g.packets_per_minute,
        requests: g.requests,
        syn: g.syn,
        rst: g.rst,
        fin: g.fin,
      },
      periodicity: periodicityOf(g.starts),
    };
    const score = behaviourScore(group.features);
    if (score < BEHAVIOUR_THRESHOLD) continue;
    const window = `${new Date(g.window_start_ms).toISOString()} + ${windowMs / 60000} min`;
    const d = behaviourDetection(group, score, window);
    d.evidence.group = `${g.client} -> ${g.server}:${g.server_port}`;
    for (const id of g.flow_ids) out.push(detectionRow(id, d, detectorVersion));
  }
  await store.add(out);
  return out.length;
}

/**
 * The same classifier over one batch (the ingest/collect hook): TCP rows without payload and
 * without a stronger detection, grouped per (client, server, server port). Returns (row, detection) pairs.
 */
export function behaviourOnBatch(
  b: FlowBatch,
  skip: (row: number) => boolean,
): [number, ReturnType<typeof behaviourDetection>][] {
  const groups = new Map<string, { rows: number[]; recs: BehaviourRecord[] }>();
  for (let i = 0; i < b.length; i++) {
    // Telemetry without payload only: a flow with payload bytes was judged by the matchers.
    if (b.proto[i] !== 6 || b.payloadFwd[i] || b.payloadRev[i]) continue;
    const request = b.revPackets[i] > 0 || b.srcPort[i] >= b.dstPort[i];
    const client = request ? b.srcText(i) : b.dstText(i);
    const server = request ? b.dstText(i) : b.srcText(i);
    const port = request ? b.dstPort[i] : b.srcPort[i];
    const key = `${client} -> ${server}:${port}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { rows: [], recs: [] }));
    g.rows.push(i);
    g.recs.push({
      firstMs: b.firstMs[i],
      lastMs: b.lastMs[i],
      packets: b.packets[i],
      bytes: b.bytes[i],
      tcpFlags: b.tcpFlags[i],
      request,
    });
  }
  const out: [number, ReturnType<typeof behaviourDetection>][] = [];
  for (const [key, g] of groups) {
    const rows = g.rows.filter((i) => !skip(i));
    if (rows.length === 0) continue;
    const group = groupFeatures(g.recs);
    const score = behaviourScore(group.features);
    if (score < BEHAVIOUR_THRESHOLD) continue;
    const d = behaviourDetection(group, score, 'one ingest batch');
    d.evidence.group = key;
    for (const i of rows) out.push([i, d]);
  }
  return out;
}
