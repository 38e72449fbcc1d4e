/**
 * The behaviour model in a stream (ingest/collect hook): each (client, server, server port)
 * keeps its recent records across batches — a sliding window of the model's `windowMs` — so a
 * miner seen one record per batch is judged on an hour of records, not on one batch. Memory is
 * bounded: records per group, and groups (least recently seen dropped first, counted).
 */
import type { FlowBatch } from '../../flow/record.js';
import { FEATURE_COUNT, featuresOf, gateSummary, orient, RecordLog } from './features.js';
import { gated, judge, shippedModel, type BehaviourModel, type Verdict } from './model.js';

export interface TrackerLimits {
  maxGroups: number;
  maxRecordsPerGroup: number;
  /** Records over all groups (64 bytes each): 2 M ≈ 128 MB whatever the mix of groups. */
  maxRecords: number;
}

export const DEFAULT_TRACKER_LIMITS: TrackerLimits = {
  maxGroups: 100_000,
  maxRecordsPerGroup: 4096,
  maxRecords: 2_000_000,
};

export interface TrackedVerdict extends Verdict {
  key: string;
  features: Float64Array;
  records: number;
  connections: number;
  spanMs: number;
  windowFromMs: number;
}

export class BehaviourTracker {
  private readonly groups = new Map<string, RecordLog>();
  /** Groups dropped to stay within `maxGroups` / `maxRecords`. */
  evicted = 0;
  /** Records held over all groups. */
  records = 0;
  private readonly x = new Float64Array(FEATURE_COUNT);

  constructor(
    readonly model: BehaviourModel = shippedModel(),
    readonly limits: TrackerLimits = DEFAULT_TRACKER_LIMITS,
  ) {}

  get size(): number {
    return this.groups.size;
  }

  /**
   * Add the batch's TCP rows; for every group the batch touched, judge its window. Returns the
   * rows of this batch (not `skip`ped) whose group is called mining, with the group's verdict.
   */
  batch(b: FlowBatch, skip: (row: number) => boolean = () => false): [number, TrackedVerdict][] {
    const touched = new Map<string, number[]>();
    for (let i = 0; i < b.length; i++) {
      if (b.proto[i] !== 6) continue;
      const o = orient(b, i);
      let log = this.groups.get(o.key);
      if (log) {
        // Most recently seen last: Map order is the eviction order.
        this.groups.delete(o.key);
      } else log = new RecordLog();
      this.groups.set(o.key, log);
      log.addRow(b, i, o.up, o.clientPort);
      this.records++;
      let rows = touched.get(o.key);
      if (!rows) touched.set(o.key, (rows = []));
      rows.push(i);
    }
    const out: [number, TrackedVerdict][] = [];
    const win = this.model.windowMs;
    for (const key of touched.keys()) {
      const log = this.groups.get(key)!;
      const before = log.length;
      log.dropBefore(log.lastMs - win);
      log.keepLast(this.limits.maxRecordsPerGroup);
      this.records -= before - log.length;
    }
    // Least recently seen groups go first, until both bounds hold. One iterator for all of them: a
    // fresh keys() per eviction walks every entry deleted before it again (V8 keeps the holes
    // until the table is rebuilt), which made a full tracker quadratic in the groups it evicts.
    const oldestFirst = this.groups.keys();
    while (this.groups.size > this.limits.maxGroups || this.records > this.limits.maxRecords) {
      const oldest = oldestFirst.next().value!;
      this.records -= this.groups.get(oldest)!.length;
      this.groups.delete(oldest);
      touched.delete(oldest);
      this.evicted++;
    }
    for (const [key, rows] of touched) {
      const log = this.groups.get(key)!;
      // The gate first, on two sums: most groups touched are one short record, which it refuses.
      const g = gateSummary(log);
      if (!gated(this.model, g.spanMs, g.packets)) continue;
      // Every record left ended inside the window (a Zeek row may have started hours before).
      const s = featuresOf(log, -Infinity, Infinity, this.x);
      if (!gated(this.model, s.spanMs, s.packets)) continue;
      const v = judge(this.model, this.x);
      if (!v.mining) continue;
      const tv: TrackedVerdict = {
        ...v,
        key,
        features: Float64Array.from(this.x),
        ...s,
        windowFromMs: log.firstMs,
      };
      for (const i of rows) if (!skip(i)) out.push([i, tv]);
    }
    return out;
  }
}
