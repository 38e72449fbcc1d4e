import { test } from 'node:test';
import assert from 'node:assert/strict';
import { float64Column, int32Column, TextColumn } from '../../src/store/columns.js';

test('NumberColumn and TextColumn grow past their first capacity and clear for reuse', () => {
  const ints = int32Column();
  const doubles = float64Column();
  const text = new TextColumn();
  const value = (i: number) => (i % 9 === 0 ? '' : `row ${i} ✓ ${'x'.repeat(i % 300)}`);
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 5000; i++) {
      ints.push(i - 7);
      doubles.push(i * 2 ** 40);
      if (i % 2) text.push(value(i));
      else {
        const bytes = Buffer.from(value(i));
        const at = text.reserve(bytes.length + 10);
        text.bytes.set(bytes, at);
        text.commit(bytes.length);
      }
    }
    assert.equal(ints.length, 5000);
    assert.equal(text.length, 5000);
    for (let i = 0; i < 5000; i++) {
      assert.equal(ints.data[i], i - 7);
      assert.equal(doubles.data[i], i * 2 ** 40);
      assert.equal(text.get(i), value(i));
    }
    ints.clear();
    doubles.clear();
    text.clear();
  }
});
