import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { hashHex, hexInto } from '../../src/chain/hash.js';

test('hexInto equals Buffer hex, in byte order and reversed (hash display order)', () => {
  const out = new Uint8Array(80);
  for (let i = 0; i < 100; i++) {
    const src = randomBytes(40);
    const n = 1 + (i % 32);
    assert.equal(hexInto(src, 3, n, out, 5), 2 * n);
    assert.equal(Buffer.from(out.subarray(5, 5 + 2 * n)).toString(), src.toString('hex', 3, 3 + n));
    hexInto(src, 4, 32, out, 0, true);
    assert.equal(Buffer.from(out.subarray(0, 64)).toString(), hashHex(src, 4));
  }
});
