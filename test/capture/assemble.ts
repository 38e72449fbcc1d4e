/**
 * Feeding frames straight to a FlowTable, as the reader would, for the flow assembly tests.
 */
import assert from 'node:assert/strict';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import type { FlowBatch, FlowRecord } from '../../src/flow/record.js';
import { FlowTable, type FlowTableOptions } from '../../src/capture/flow-table.js';
import type { PacketView } from '../../src/capture/reader.js';

/** A frame (time, bytes) with, optionally, how many of its bytes were captured. */
export type Frame = [number, Buffer] | [number, Buffer, number];

/**
 * Feed Ethernet frames to a FlowTable (`each` sees the table after every packet) and return the
 * flows. Each frame sits inside a larger buffer, as packets sit in the reader's chunk; file
 * offsets advance as in a pcap (24-byte header, 16 bytes per record).
 */
export function assemble(
  packets: Frame[],
  opts: FlowTableOptions = {},
  diag = new Diagnostics(),
  each?: (t: FlowTable) => void,
): FlowRecord[] {
  const batches: FlowBatch[] = [];
  const table = new FlowTable({ batchSize: 3, ...opts }, (b) => batches.push(b));
  const view: PacketView = {
    linkType: 1,
    tsMs: 0,
    caplen: 0,
    origLen: 0,
    data: Buffer.alloc(0),
    fileOffset: 0,
    interfaceId: 0,
    buf: Buffer.alloc(0),
    offset: 0,
  };
  let off = 24;
  for (const [t, frame, caplen] of packets) {
    const cap = caplen ?? frame.length;
    const chunk = Buffer.concat([Buffer.alloc(7, 0xaa), frame.subarray(0, cap), Buffer.alloc(5, 0xbb)]);
    Object.assign(view, {
      tsMs: t,
      caplen: cap,
      origLen: frame.length,
      buf: chunk,
      offset: 7,
      fileOffset: off,
    });
    table.addPacket(view);
    each?.(table);
    off += 16 + cap;
  }
  table.flush(diag);
  for (const b of batches) assert.ok(b.length <= (opts.batchSize ?? 3));
  return batches.flatMap((b) => [...b.records()]);
}
