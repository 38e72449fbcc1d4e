import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BytesMap } from '../../src/chain/bytes-map.js';

test('BytesMap agrees with a Map over random keys of several lengths and tags, across rehashes', () => {
  const m = new BytesMap();
  const ref = new Map<string, number>();
  const keys: [Buffer, number][] = [];
  for (let i = 0; i < 50_000; i++) {
    const k = randomBytes([20, 32, 33, 65, 3][i % 5]);
    const tag = i % 7;
    if (ref.has(tag + ':' + k.toString('hex'))) continue; // 3-byte keys can repeat by chance
    m.set(k, 0, k.length, i, tag);
    ref.set(tag + ':' + k.toString('hex'), i);
    keys.push([k, tag]);
  }
  assert.equal(m.size, ref.size);
  for (const [k, tag] of keys)
    assert.equal(m.get(k, 0, k.length, tag), ref.get(tag + ':' + k.toString('hex')));
  const [k0, t0] = keys[0];
  assert.equal(m.get(k0, 0, k0.length, (t0 + 1) % 7), -1, 'same bytes, other tag');
  assert.equal(m.get(randomBytes(32), 0, 32, 0), -1);
  // Keys read in place from a larger buffer.
  const big = Buffer.concat([Buffer.alloc(5), keys[1][0]]);
  assert.equal(m.get(big, 5, keys[1][0].length, keys[1][1]), 1);
});
