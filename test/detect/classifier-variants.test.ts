// The variants runner (npm run train:classifier -- --variants) changes the shipped dataset only
// where a variant says so: with the shipped keep-alive seeds it regenerates exactly the dataset's
// keep-alive rows, so its first row is the shipped setup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { KEEPALIVE_FAMILIES } from '../../src/detect/classifier/keepalive.js';
import { KEEPALIVE_SEEDS, type Dataset } from '../../src/detect/classifier/train.js';
import { keepaliveRows, symmetry, VARIANTS } from '../../src/detect/classifier/variants.js';

const dataset = JSON.parse(
  readFileSync(new URL('../../src/detect/data/behaviour-dataset.json', import.meta.url), 'utf8'),
) as Dataset;

test("keep-alive rows for the shipped seeds are the dataset's, in its order", () => {
  const made = keepaliveRows(Object.fromEntries(KEEPALIVE_FAMILIES.map((f) => [f, KEEPALIVE_SEEDS])));
  assert.deepEqual(
    made.samples,
    dataset.samples.filter((s) => s.family === 'keepalive'),
  );
  assert.deepEqual(
    made.ungated,
    dataset.ungated.filter((u) => u.family === 'keepalive'),
  );
});

test('the symmetry feature: log10(down ÷ up bytes per packet), 0 when a direction is empty', () => {
  const f = (up: number, down: number) => [0, 0, 0, 0, up, down];
  assert.equal(symmetry(f(100, 1000)), 1);
  assert.equal(symmetry(f(200, 200)), 0);
  assert.ok(Math.abs(symmetry(f(1000, 100)) + 1) < 1e-12);
  assert.equal(symmetry(f(0, 500)), 0);
  assert.equal(symmetry(f(500, 0)), 0);
});

test('the first variant is the shipped setup', () => {
  const v = VARIANTS[0];
  assert.equal(v.extra, undefined);
  assert.equal(v.keepalive, undefined);
  assert.equal(v.keepaliveWeight, undefined);
  assert.equal(v.params, undefined);
});
