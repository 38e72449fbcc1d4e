/**
 * Where the behaviour model runs: as a pass over the store (`coinradar detect`: every TCP flow,
 * tumbling windows per group, the same as training) and in the ingest/collect hook (a
 * BehaviourTracker keeps each group's records across batches, sliding window).
 */
import { FlowBatch } from '../flow/record.js';
import type { DetectionInput, DetectionStore } from '../store/detections.js';
import { behaviourDetection } from './behaviour.js';
import { GroupCollector, windowSamples } from './classifier/groups.js';
import { judgeWindow, shippedModel, type BehaviourModel } from './classifier/model.js';
import { BehaviourTracker, type TrackedVerdict } from './classifier/tracker.js';
import type { Detection } from './types.js';
import { detectionRow } from './rows.js';

export const DEFAULT_BEHAVIOUR_WINDOW_MS = 3_600_000;

/** Judge every stored TCP group per window; detections for its flows without a stronger one. */
export async function behaviourPass(
  store: DetectionStore,
  detectorVersion: string,
  windowMs = DEFAULT_BEHAVIOUR_WINDOW_MS,
  model: BehaviourModel = shippedModel(),
): Promise<number> {
  const flows = await store.behaviourFlows();
  const collector = new GroupCollector();
  const known = new Set<number>();
  // Rebuilt as batches so the store pass orients and scales rows exactly as the hook does.
  for (let at = 0; at < flows.length; at += 4096) {
    const part = flows.slice(at, at + 4096);
    const b = new FlowBatch(part.length, 'store');
    for (const f of part) {
      b.pushRecord({
        firstMs: Number(f.first_ms),
        lastMs: Number(f.last_ms),
        ipVersion: f.src.includes(':') ? 6 : 4,
        src: f.src,
        dst: f.dst,
        srcPort: f.src_port,
        dstPort: f.dst_port,
        proto: 6,
        packets: f.packets,
        bytes: f.bytes,
        revPackets: f.rev_packets,
        revBytes: f.rev_bytes,
        tcpFlags: f.tcp_flags,
        samplingRate: f.sampling_rate,
        exporter: '',
        observationDomain: 0,
        source: 'store',
        position: 0,
        payloadFwd: null,
        payloadRev: null,
      });
      if (f.known) known.add(Number(f.id));
    }
    collector.add(b, (i) => Number(part[i].id));
  }
  const out: DetectionInput[] = [];
  for (const g of collector.groups.values()) {
    for (const w of windowSamples(g, windowMs)) {
      const v = judgeWindow(model, w);
      if (!v?.mining) continue;
      const d = behaviourDetection(model, {
        ...w,
        score: v.score,
        windowFromMs: w.windowStartMs,
        windowKind: 'tumbling',
      });
      for (const id of w.ids) if (!known.has(id)) out.push(detectionRow(id, d, detectorVersion));
    }
  }
  await store.add(out);
  return out.length;
}

/**
 * The detection of a verdict: one object per judgment, shared by the rows of every batch that
 * verdict covers (the tracker hands the same verdict out until it judges the group again).
 */
const detectionOf = new WeakMap<TrackedVerdict, Detection>();

/**
 * The model over one more batch of a stream: rows whose group (with its earlier records, kept by
 * `tracker`) is called mining and that carry no stronger detection (`skip`).
 */
export function behaviourOnBatch(
  b: FlowBatch,
  skip: (row: number) => boolean,
  tracker: BehaviourTracker = new BehaviourTracker(),
  /** The tracker has seen these rows before (BehaviourTracker.seenBefore): not added again. */
  seen = false,
): [number, Detection][] {
  const out: [number, Detection][] = [];
  for (const [i, v] of seen ? tracker.seenBefore(b, skip) : tracker.batch(b, skip)) {
    let d = detectionOf.get(v);
    if (!d) {
      d = behaviourDetection(tracker.model, { ...v, windowKind: 'sliding' });
      detectionOf.set(v, d);
    }
    out.push([i, d]);
  }
  return out;
}
