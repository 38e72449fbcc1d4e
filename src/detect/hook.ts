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
  /**
   * `behaviour`: a tracker keeps groups across calls; `true` judges this batch alone. `seen`: the
   * tracker has seen these rows before (given its verdicts, not added again).
   */
  opts: { behaviour?: boolean | BehaviourTracker; connections?: ConnectionMemory; seen?: boolean } = {},
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
    for (const [i, d] of behaviourOnBatch(batch, (row) => known.has(row), tracker, opts.seen))
      rows.push(detectionRow(firstFlowId + i, d, detector.version));
  }
  return rows;
}

export interface DetectionHook {
  /**
   * The hook; it also answers `holdUntilCommit()` (keep the rows until `beforeCommit()` or until
   * HELD_ROWS_MAX are held, instead of writing them batch by batch) and `beforeCommit()` (write
   * what it holds): the live collector calls both (netflow/collector.ts).
   */
  hook: BatchHook & HeldWrites;
  /** Detections written so far, by label. */
  counts: Map<string, number>;
}

export interface HeldWrites {
  /**
   * `true`: hold rows until `beforeCommit()`. `false` (the collector, once it has committed for the
   * last time): write batch by batch again, and forget rows still held (they name flows no commit
   * stored). A hook held and never released would keep the rows of whatever runs it next: the demo
   * ingests its payload sample with the collector's hook, and lost every detection of it.
   */
  holdUntilCommit(on?: boolean): void;
  beforeCommit(): Promise<void>;
  /**
   * The store rolled the open interval back (SourceWriter.recover): forget the rows held, which
   * name its flows, and take the next batch's ids as going on from there (the rollback took the
   * interval's detections with it: nothing stale to drop).
   */
  discardHeld(): void;
  /**
   * `true`: the batches that follow were run through this hook before, in an interval the store
   * rolled back, and are stored again: detected again, but the behaviour tracker, which already
   * holds their records, gives its verdicts without adding them twice. `false`: new batches again.
   */
  seenBefore(on: boolean): void;
}

/**
 * Rows held at most before they are written anyway: a detection per flow (every flow on a crypto
 * port) at 200 k flows/s would otherwise hold a second of them, tens of MB.
 */
export const HELD_ROWS_MAX = 16_384;

/**
 * A hook that stores detections of every batch. Before the first batch of each source it drops
 * stale detections (of flows a re-ingest replaced), so re-ingesting a file never doubles them.
 * Each write opens the store's appenders (two, ~2 ms to open and close, bench/detect-hook.ts), so
 * a collector asks it to hold rows and write them once per commit.
 */
export function createDetectionHook(store: DetectionStore, detector: Detector): DetectionHook {
  const counts = new Map<string, number>();
  // A new source starts a new run of ids; its first batch is where stale rows are dropped.
  let nextId = -1;
  const connections = new ConnectionMemory();
  const behaviour = new BehaviourTracker();
  let hold = false;
  let held: DetectionInput[] = [];
  let goingOn = false;
  let seen = false;
  const beforeCommit = async () => {
    if (held.length === 0) return;
    const rows = held;
    held = [];
    await store.add(rows);
  };
  const run = async (batch: FlowBatch, firstFlowId: number) => {
    if (firstFlowId !== nextId && !goingOn) {
      await beforeCommit();
      await store.dropStale(firstFlowId);
    }
    goingOn = false;
    nextId = firstFlowId + batch.length;
    const rows = detectBatchRows(detector, batch, firstFlowId, { behaviour, connections, seen });
    // Counted in runs of one label and confidence (a batch's rows mostly share them): no key
    // string per row when every flow gets a detection.
    for (let i = 0; i < rows.length;) {
      const { label, confidence } = rows[i];
      let j = i + 1;
      while (j < rows.length && rows[j].label === label && rows[j].confidence === confidence) j++;
      const k = `${label}/${confidence}`;
      counts.set(k, (counts.get(k) ?? 0) + j - i);
      i = j;
    }
    if (!hold) return store.add(rows);
    for (const r of rows) held.push(r);
    if (held.length >= HELD_ROWS_MAX) await beforeCommit();
  };
  const hook: BatchHook & HeldWrites = Object.assign(
    (batch: FlowBatch, _enrichment: unknown, firstFlowId: number) => run(batch, firstFlowId),
    {
      holdUntilCommit: (on = true) => {
        hold = on;
        if (!on) held = [];
      },
      beforeCommit,
      discardHeld: () => {
        held = [];
        goingOn = true;
      },
      seenBefore: (on: boolean) => {
        seen = on;
      },
    },
  );
  return { hook, counts };
}
