/**
 * Detection inside the pipeline: a BatchHook for flow/ingest.ts (and the live collector) that runs
 * the registry over every stored batch and writes the detections beside the flows.
 */
import type { BatchHook } from '../flow/ingest.js';
import type { FlowBatch } from '../flow/record.js';
import type { DetectionInput, DetectionStore } from '../store/detections.js';
import { behaviourOnBatch } from './behaviour-pass.js';
import { BehaviourTracker } from './classifier/tracker.js';
import { detectBatch, type Detector } from './registry.js';
import { ConnectionMemory } from './connections.js';
import { detectionRow } from './rows.js';
import { CONFIDENCE_RANK } from './types.js';

/** Detections of a batch whose first row has id `firstFlowId`, as store rows. */
export function detectBatchRows(
  detector: Detector,
  batch: FlowBatch,
  firstFlowId: number,
  /** `behaviour`: a tracker keeps groups across calls; `true` judges this batch alone. */
  opts: { behaviour?: boolean | BehaviourTracker; connections?: ConnectionMemory } = {},
): DetectionInput[] {
  const rows: DetectionInput[] = [];
  const known = new Set<number>();
  detectBatch(
    detector,
    batch,
    (i, d) => {
      rows.push(detectionRow(firstFlowId + i, d, detector.version));
      if (CONFIDENCE_RANK[d.confidence] >= CONFIDENCE_RANK.infrastructure) known.add(i);
    },
    opts.connections,
  );
  if (opts.behaviour) {
    const tracker = opts.behaviour instanceof BehaviourTracker ? opts.behaviour : undefined;
    for (const [i, d] of behaviourOnBatch(batch, (row) => known.has(row), tracker))
      rows.push(detectionRow(firstFlowId + i, d, detector.version));
  }
  return rows;
}

export interface DetectionHook {
  hook: BatchHook;
  /** Detections written so far, by label. */
  counts: Map<string, number>;
}

/**
 * A hook that stores detections of every batch. Before the first batch of each source it drops
 * stale detections (of flows a re-ingest replaced), so re-ingesting a file never doubles them.
 */
export function createDetectionHook(store: DetectionStore, detector: Detector): DetectionHook {
  const counts = new Map<string, number>();
  // A new source starts a new run of ids; its first batch is where stale rows are dropped.
  let nextId = -1;
  const connections = new ConnectionMemory();
  const behaviour = new BehaviourTracker();
  const hook: BatchHook = async (batch, _enrichment, firstFlowId) => {
    if (firstFlowId !== nextId) await store.dropStale(firstFlowId);
    nextId = firstFlowId + batch.length;
    const rows = detectBatchRows(detector, batch, firstFlowId, { behaviour, connections });
    for (const r of rows)
      counts.set(`${r.label}/${r.confidence}`, (counts.get(`${r.label}/${r.confidence}`) ?? 0) + 1);
    await store.add(rows);
  };
  return { hook, counts };
}
