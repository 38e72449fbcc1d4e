// The overview chart's time axis: a single bucket (a store's first day) spans a bucket either side
// of it; uPlot alone padded one point by years (the axis ran from 2027 to 2029 for flows of today).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { xScale } from '../../console/src/x-range.js';

test("the chart's time axis: one bucket either side of a single bucket; uPlot's own range otherwise", () => {
  const day = 86_400_000;
  const t = Date.UTC(2026, 11, 7) / 1000;
  assert.deepEqual(xScale([t], day), { time: true, auto: false, range: [t - 86_400, t + 86_400] });
  assert.deepEqual(xScale([t], 3_600_000), { time: true, auto: false, range: [t - 3600, t + 3600] });
  assert.deepEqual(xScale([t, t + 86_400], day), { time: true });
  assert.deepEqual(xScale([], day), { time: true });
});
