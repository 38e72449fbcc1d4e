import { test } from 'node:test';
import assert from 'node:assert/strict';
import { onsetErrorDays, randomScenario } from './random-scenarios.js';

test('onset found from 1:100 packet-sampled flows (60 random scenarios)', () => {
  let hit = 0;
  const misses: string[] = [];
  for (let i = 0; i < 60; i++) {
    const run = randomScenario(300 + i, true, 100);
    const err = onsetErrorDays(run);
    if (Math.abs(err) <= 1) hit++;
    else misses.push(`#${300 + i} ${run.config.growth}: error ${err}`);
  }
  console.log(`1:100 sampled: onset within ±1 day ${hit}/60; misses: ${misses.join('; ') || 'none'}`);
  assert.ok(hit >= 57, `only ${hit}/60 onsets within ±1 day under 1:100 sampling`);
});
