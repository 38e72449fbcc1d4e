/**
 * Checks shared by the targets whose parsers produce flow batches (files and datagrams), and the
 * breaches of those checks that are reported but not fixed here.
 */
import { DEFAULT_PAYLOAD_CAP, type FlowBatch } from '../../src/flow/record.js';
import { check } from '../target.js';

/** The largest time a JS Date holds (±100,000,000 days from 1970). */
const MAX_TIME_MS = 8.64e15;

/** Row-level promises every reader makes about the batches it hands downstream. */
export function checkBatch(b: FlowBatch, what: string): void {
  check(
    b.length >= 0 && b.length <= b.capacity,
    `${what}: batch length ${b.length} beyond capacity ${b.capacity}`,
  );
  for (let i = 0; i < b.length; i++) {
    const v = b.ipVersion[i];
    check(v === 4 || v === 6, `${what}: row ${i} has ip version ${v}`);
    for (const [name, col] of [
      ['packets', b.packets],
      ['bytes', b.bytes],
      ['revPackets', b.revPackets],
      ['revBytes', b.revBytes],
    ] as const)
      check(Number.isFinite(col[i]) && col[i] >= 0, `${what}: row ${i} ${name} = ${col[i]}`);
    // Times go to BIGINT milliseconds and TIMESTAMP views: within the range of a JS Date.
    check(
      Math.abs(b.firstMs[i]) <= MAX_TIME_MS && Math.abs(b.lastMs[i]) <= MAX_TIME_MS,
      `${what}: row ${i} times ${b.firstMs[i]}..${b.lastMs[i]} not finite or beyond a Date's range`,
    );
    check(b.exporterIdx[i] < b.exporters.length, `${what}: row ${i} exporter index out of range`);
    for (const p of [b.payloadFwd[i], b.payloadRev[i]])
      check(!p || p.length <= DEFAULT_PAYLOAD_CAP, `${what}: row ${i} payload of ${p?.length} bytes`);
  }
}
