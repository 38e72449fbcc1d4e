/**
 * Batches the live collector keeps in memory so that a store failure that passes costs no flow
 * (collector.ts): copies of the open commit interval's batches (stored again if the store rolls it
 * back) and the batches that arrive while the store fails (stored once it writes again).
 */
import { FlowBatch } from '../flow/record.js';
import type { SpoolRef } from './spool.js';
import { BATCH_COLUMNS, type TransferredBatch } from './udp-receiver.js';

export interface HeldBatch {
  /** Its columns in memory; null when they are only in the spool (`ref`). */
  batch: FlowBatch | null;
  flows: number;
  /** Bytes of its columns in memory (0 when only in the spool). */
  bytes: number;
  /** Where it is in the spool (spool.ts), when it was written there. */
  ref?: SpoolRef;
  /** Run through the hooks before (an interval rolled back): detection must not count it twice. */
  seen: boolean;
  /** Its columns are a CopyPool set (given back once its interval commits). */
  pooled?: boolean;
}

/**
 * NetFlow and sFlow carry no payload, so no segment times either: every batch shares one set of
 * empty columns (nobody on this side writes them; decoders fill only their own batches), sized
 * to the largest batch so far. New ones per batch were ~130 KB of garbage per 4096 flows.
 */
let blank: {
  payload: null[];
  times: Uint32Array;
} = { payload: [], times: new Uint32Array(0) };

export function batchFrom(t: TransferredBatch, source: string): FlowBatch {
  if (blank.payload.length < t.length)
    blank = { payload: new Array<null>(t.length).fill(null), times: new Uint32Array(t.length) };
  const b = new FlowBatch(0, source);
  Object.assign(b, t.cols, { capacity: t.length, length: t.length, exporters: t.exporters });
  b.payloadFwd = blank.payload;
  b.payloadRev = blank.payload;
  b.timesFwdLen = blank.times;
  b.timesRevLen = blank.times;
  b.timesFwdAt = blank.times;
  b.timesRevAt = blank.times;
  return b;
}

/** Bytes a compact copy of `batch` takes: its columns cut to its flows. */
export function compactBytes(batch: FlowBatch): number {
  let bytes = 0;
  for (const c of BATCH_COLUMNS) {
    const a = batch[c];
    bytes += batch.length * (a.length / batch.firstMs.length) * a.BYTES_PER_ELEMENT;
  }
  return bytes;
}

/** Bytes of columns one flow takes in a batch (a batch of capacity n takes n times this). */
export const FLOW_COLUMN_BYTES = (() => {
  const one = new FlowBatch(1);
  one.length = 1;
  return compactBytes(one);
})();

/**
 * A copy of `batch` with its columns cut to its flows (a batch flushed by the clock holds a few
 * flows in columns for 4096); payload columns are not copied (NetFlow and sFlow carry none).
 */
export function compactCopy(batch: FlowBatch): FlowBatch {
  const cols: Record<string, ArrayBufferView> = {};
  for (const c of BATCH_COLUMNS) {
    const a = batch[c];
    cols[c] = a.slice(0, batch.length * (a.length / batch.firstMs.length));
  }
  return batchFrom({ length: batch.length, exporters: batch.exporters, cols }, batch.source);
}

/**
 * Copies of whole batches in column sets that are used again: the open interval's copies go back
 * here when it commits, so a collector at 300 k flows/s copies ~75 batches a second without
 * allocating (new buffers for each were ~0.5 µs a flow, in V8's collection of external memory).
 */
export class CopyPool {
  private free: Record<string, ArrayBufferView>[] = [];

  constructor(private readonly max = 128) {}

  /** A copy of `batch` in columns as long as its own (its capacity), and their bytes. */
  copy(batch: FlowBatch): { batch: FlowBatch; flows: number; bytes: number } {
    const cap = batch.firstMs.length;
    let set = this.free.pop();
    if (set && (set.firstMs as Float64Array).length !== cap) set = undefined;
    if (!set) {
      set = {};
      for (const c of BATCH_COLUMNS) {
        const a = batch[c];
        set[c] = new (a.constructor as new (n: number) => ArrayBufferView)(a.length);
      }
    }
    let bytes = 0;
    for (const c of BATCH_COLUMNS) {
      const a = batch[c];
      const n = batch.length * (a.length / cap);
      (set[c] as Uint8Array).set((a as Uint8Array).subarray(0, n));
      bytes += set[c].byteLength;
    }
    return {
      batch: batchFrom({ length: batch.length, exporters: batch.exporters, cols: set }, batch.source),
      flows: batch.length,
      bytes,
    };
  }

  /** A copy no longer needed: its columns for the next one (copies of other sizes are dropped). */
  release(b: FlowBatch): void {
    if (this.free.length >= this.max) return;
    const set: Record<string, ArrayBufferView> = {};
    for (const c of BATCH_COLUMNS) set[c] = b[c];
    this.free.push(set);
  }
}

/** A queue of held batches with their bytes and flows. */
export class HeldQueue {
  items: HeldBatch[] = [];
  bytes = 0;
  flows = 0;

  push(h: HeldBatch): void {
    this.items.push(h);
    this.bytes += h.bytes;
    this.flows += h.flows;
  }

  shift(): HeldBatch | undefined {
    const h = this.items.shift();
    if (h) {
      this.bytes -= h.bytes;
      this.flows -= h.flows;
    }
    return h;
  }

  /** Everything of `q` before what this holds, marked `seen`; `q` emptied. */
  takeFront(q: HeldQueue): void {
    for (const h of q.items) h.seen = true;
    this.items = [...q.items, ...this.items];
    this.bytes += q.bytes;
    this.flows += q.flows;
    q.clear();
  }

  clear(): void {
    this.items = [];
    this.bytes = 0;
    this.flows = 0;
  }
}
