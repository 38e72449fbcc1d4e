/**
 * Flow batches → per (client, server, server port) record logs → windowed feature samples. Used
 * by training (whole sources at once) and by the store pass (`coinradar detect`); the streaming
 * hook keeps its own bounded state (tracker.ts) but the same RecordLog and featuresOf.
 */
import type { FlowBatch } from '../../flow/record.js';
import { FEATURE_COUNT, featuresOf, orient, RecordLog, STRIDE, type WindowSummary } from './features.js';

export const DEFAULT_WINDOW_MS = 3_600_000;

export interface GroupLog {
  key: string;
  log: RecordLog;
  /** Row ids (caller's numbering) of the group's records, in log order. */
  ids: number[];
}

/** Collects TCP rows of batches into groups. `id` numbers each row for the caller. */
export class GroupCollector {
  readonly groups = new Map<string, GroupLog>();

  add(b: FlowBatch, id: (row: number) => number, keep: (row: number) => boolean = () => true): void {
    for (let i = 0; i < b.length; i++) {
      if (b.proto[i] !== 6 || !keep(i)) continue;
      const o = orient(b, i);
      let g = this.groups.get(o.key);
      if (!g) this.groups.set(o.key, (g = { key: o.key, log: new RecordLog(), ids: [] }));
      g.log.addRow(b, i, o.up, o.clientPort);
      g.ids.push(id(i));
    }
  }
}

/** The TCP groups of a run of batches, rows numbered across them (0, 1, … in batch order). */
export function collectGroups(batches: Iterable<FlowBatch>): GroupCollector {
  const c = new GroupCollector();
  let n = 0;
  for (const b of batches) {
    const base = n;
    c.add(b, (i) => base + i);
    n += b.length;
  }
  return c;
}

export interface WindowSample extends WindowSummary {
  key: string;
  windowStartMs: number;
  features: Float64Array;
  /** Caller ids of the records in the window. */
  ids: number[];
}

/**
 * Tumbling windows of `windowMs` per group, from the group's first record start; a record belongs
 * to the window its start falls in.
 */
export function windowSamples(g: GroupLog, windowMs = DEFAULT_WINDOW_MS): WindowSample[] {
  const out: WindowSample[] = [];
  const d = g.log.data;
  const n = g.log.length;
  const starts: number[] = [];
  for (let r = 0; r < n; r++) starts.push(d[r * STRIDE]);
  const first = g.log.firstMs;
  const byWindow = new Map<number, number[]>();
  for (let r = 0; r < n; r++) {
    const w = Math.floor((starts[r] - first) / windowMs);
    let ids = byWindow.get(w);
    if (!ids) byWindow.set(w, (ids = []));
    ids.push(g.ids[r]);
  }
  for (const w of [...byWindow.keys()].sort((a, b) => a - b)) {
    const from = first + w * windowMs;
    const features = new Float64Array(FEATURE_COUNT);
    const s = featuresOf(g.log, from, from + windowMs, features);
    out.push({ ...s, key: g.key, windowStartMs: from, features, ids: byWindow.get(w)! });
  }
  return out;
}
