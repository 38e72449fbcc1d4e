import type { Diagnostics } from './diagnostics.js';
import type { FlowBatch } from './record.js';

/** Options every flow source understands. */
export interface FlowSourceOptions {
  /** Rows per emitted batch. */
  batchSize?: number;
  /** Bytes of payload kept per direction (pcap sources). */
  payloadCap?: number;
  /** A capture's flows end after this long and go on as a new one (pcap sources; default 5 min). */
  activeTimeoutMs?: number;
  /** A capture's flows end after this long without a packet (pcap sources; default 60 s). */
  idleTimeoutMs?: number;
  diagnostics: Diagnostics;
  /** Called with bytes consumed so far, for progress display. */
  onProgress?: (bytesRead: number) => void;
}

/**
 * A flow source yields batches. A batch is handed over and not touched again by the source
 * (sources allocate a fresh batch after yielding), so consumers may keep it.
 */
export type FlowSource = AsyncIterable<FlowBatch>;
