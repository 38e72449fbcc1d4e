/**
 * The packed segment-time format and its readers: pack/unpack round trip, the clock's lookups,
 * and ISO-8601 with microseconds against Date#toISOString (whose millisecond text it extends).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PayloadClock,
  isoMicros,
  packPayloadTimes,
  payloadSegmentCap,
  unpackPayloadTimes,
} from '../../src/flow/payload-times.js';

test('isoMicros equals Date#toISOString to the millisecond plus the microsecond digits', () => {
  let seed = 99;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const reference = (ms: number) => {
    const us = Math.round(ms * 1000);
    return `${new Date(Math.floor(us / 1000)).toISOString().slice(0, 19)}.${String(us % 1e6).padStart(6, '0')}Z`;
  };
  for (let i = 0; i < 100000; i++) {
    // Whole microseconds from 1970 to 2200, as pcap and pcapng give them.
    const ms = Math.floor(rnd() * 7.2e12) + Math.floor(rnd() * 1000) / 1000;
    assert.equal(isoMicros(ms), reference(ms), String(ms));
  }
  assert.equal(isoMicros(1484582245915.512), '2017-01-16T15:57:25.915512Z');
  assert.equal(isoMicros(0), '1970-01-01T00:00:00.000000Z');
  // Rounding into the next second, minute, hour and day.
  assert.equal(isoMicros(Date.UTC(2017, 4, 16, 23, 59, 59, 999) + 0.9996), '2017-05-17T00:00:00.000000Z');
});

test('packed entries round-trip; the clock maps offsets to the segment they lie in', () => {
  const entries: [number, number][] = [
    [0, 1000.5],
    [10, 2000.25],
    [25, 3000],
  ];
  const packed = packPayloadTimes(entries);
  assert.equal(packed.length, 36);
  assert.deepEqual(unpackPayloadTimes(packed), entries);
  const c = new PayloadClock(packed);
  assert.ok(c.timed);
  assert.deepEqual(
    [0, 9, 10, 24, 25, 1e6, 5].map((o) => c.at(o)),
    [1000.5, 1000.5, 2000.25, 2000.25, 3000, 3000, 1000.5],
  );
  // A trailing partial entry is dropped; no list, no times.
  assert.deepEqual(unpackPayloadTimes(Buffer.concat([packed, Buffer.alloc(5)])), entries);
  assert.equal(new PayloadClock(null).timed, false);
  assert.ok(Number.isNaN(new PayloadClock(null).at(0)));
  assert.deepEqual([0, 100, 2048, 65536, 1 << 30].map(payloadSegmentCap), [16, 16, 128, 4096, 65535]);
});
