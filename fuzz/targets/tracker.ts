/**
 * The behaviour tracker (src/detect/classifier/tracker.ts) fed hostile flow rows, as a live
 * collector feeds it whatever exporters send: addresses from a small space (so groups collide and
 * evict each other), any ports, times that jump, repeat, run backwards or are NaN/Infinity, huge
 * counters. One input is a sequence of 24-byte rows (below), cut into batches of up to 64.
 */
import { FlowBatch } from '../../src/flow/record.js';
import { BehaviourTracker } from '../../src/detect/classifier/tracker.js';
import { check, type FuzzTarget } from '../target.js';

const ROW = 24;
const LIMITS = { maxGroups: 16, maxRecordsPerGroup: 64, maxRecords: 256 };
const T0 = 1_494_979_200_000;
const SPECIAL_TIMES = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 8.64e15, -8.64e15];

/**
 * Row bytes: 0 flags (bit 0 IPv6; bits 1–3 a special time when non-zero; bit 4 UDP), 1 client host,
 * 2 server host, 3–4 client port, 5–6 server port, 7 TCP flags, 8–11 time step (ms, signed),
 * 12–15 duration (ms), 16–17 packets, 18–19 reverse packets, 20–21 bytes per packet, 22–23 reverse
 * bytes per packet.
 */
function fill(b: FlowBatch, input: Buffer, from: number, rows: number, clock: { t: number }): void {
  b.length = 0;
  for (let r = 0; r < rows; r++) {
    const p = from + r * ROW;
    const i = b.length++;
    const flags = input[p];
    const v6 = flags & 1;
    b.ipVersion[i] = v6 ? 6 : 4;
    b.src.fill(0, i * 16, i * 16 + 16);
    b.dst.fill(0, i * 16, i * 16 + 16);
    if (v6) {
      b.src[i * 16] = 0x20;
      b.src[i * 16 + 15] = input[p + 1];
      b.dst[i * 16] = 0x20;
      b.dst[i * 16 + 15] = input[p + 2];
    } else {
      b.src.set([10, 0, 0, input[p + 1]], i * 16);
      b.dst.set([198, 51, 100, input[p + 2]], i * 16);
    }
    b.srcPort[i] = input.readUInt16BE(p + 3);
    b.dstPort[i] = input.readUInt16BE(p + 5);
    b.proto[i] = flags & 16 ? 17 : 6;
    b.tcpFlags[i] = input[p + 7];
    clock.t += input.readInt32BE(p + 8);
    const special = (flags >> 1) & 7;
    const first = special ? SPECIAL_TIMES[(special - 1) % SPECIAL_TIMES.length] : clock.t;
    b.firstMs[i] = first;
    b.lastMs[i] = first + input.readUInt32BE(p + 12);
    b.packets[i] = input.readUInt16BE(p + 16);
    b.revPackets[i] = input.readUInt16BE(p + 18);
    b.bytes[i] = b.packets[i] * input.readUInt16BE(p + 20);
    b.revBytes[i] = b.revPackets[i] * input.readUInt16BE(p + 22);
    b.samplingRate[i] = 1;
  }
}

export const trackerTargets: FuzzTarget[] = [
  {
    name: 'behaviour-tracker',
    description:
      'hostile flow rows → BehaviourTracker (the behaviour model in a stream: groups, windows, judging)',
    invariants: [
      'batch() never throws on any rows (NaN, infinite, backward and repeated times, huge counters)',
      `groups held <= maxGroups (${LIMITS.maxGroups}), records held <= maxRecords (${LIMITS.maxRecords}), never negative`,
      'every verdict names a row of its batch once, with a score in [0, 1] and a group key',
      'terminates (10 s per input), resident memory < 1.5 GB',
    ],
    async run(input) {
      const tracker = new BehaviourTracker(undefined, LIMITS);
      const b = new FlowBatch(64);
      const clock = { t: T0 };
      const rows = Math.floor(input.length / ROW);
      for (let from = 0; from < rows; from += 64) {
        const n = Math.min(64, rows - from);
        fill(b, input, from * ROW, n, clock);
        const out = tracker.batch(b);
        check(tracker.size <= LIMITS.maxGroups, `${tracker.size} groups held`);
        check(
          tracker.records >= 0 && tracker.records <= LIMITS.maxRecords,
          `${tracker.records} records held`,
        );
        const seen = new Set<number>();
        for (const [row, v] of out) {
          check(row >= 0 && row < b.length && !seen.has(row), `verdict for row ${row} of ${b.length}`);
          seen.add(row);
          check(v.score >= 0 && v.score <= 1, `score ${v.score}`);
          check(typeof v.key === 'string' && v.key.length > 0, 'a verdict without its group key');
        }
      }
    },
  },
];
