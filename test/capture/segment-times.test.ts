/**
 * The open flows' segment-time store against a plain reference (a list per sample): random adds,
 * writes and releases over many keys, so blocks are shared, freed and reused in every order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SegmentTimes } from '../../src/capture/segment-times.js';
import { PAYLOAD_TIME_BYTES, unpackPayloadTimes } from '../../src/flow/payload-times.js';

test('segment times: packed lists equal a reference through adds, releases and block reuse', () => {
  let seed = 12345;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const cap = 16;
  const st = new SegmentTimes(cap);
  const keys = 600;
  st.growSlots(keys / 2);
  const ref: [number, number][][] = Array.from({ length: keys }, () => []);
  const check = (k: number) => {
    const n = st.count(k);
    assert.equal(n, ref[k].length, `count of ${k}`);
    const buf = Buffer.alloc(n * PAYLOAD_TIME_BYTES + 8);
    st.write(k, new DataView(buf.buffer, buf.byteOffset + 8, n * PAYLOAD_TIME_BYTES), 0);
    assert.deepEqual(unpackPayloadTimes(buf.subarray(8)), ref[k], `entries of ${k}`);
  };
  for (let step = 0; step < 40000; step++) {
    const k = Math.floor(rnd() * keys);
    const r = rnd();
    if (r < 0.75) {
      const list = ref[k];
      const offset = list.length ? list[list.length - 1][0] + 1 + Math.floor(rnd() * 100) : 0;
      const ms = 1.5e12 + step + rnd();
      st.add(k, offset, ms);
      if (list.length < cap) list.push([offset, list.length === cap - 1 ? NaN : ms]);
    } else if (r < 0.9) check(k);
    else {
      check(k);
      st.release(k);
      ref[k] = [];
      assert.equal(st.count(k), 0);
    }
  }
  for (let k = 0; k < keys; k++) check(k);
  // Growing the slots keeps what is there.
  st.growSlots(keys);
  for (let k = 0; k < keys; k++) check(k);
  assert.throws(() => new SegmentTimes(1), RangeError);
  assert.throws(() => new SegmentTimes(70000), RangeError);
});
