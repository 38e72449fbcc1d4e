import { test } from 'node:test';
import assert from 'node:assert/strict';
import { onsetErrorDays, randomScenario } from './random-scenarios.js';

test('surge onset within ±1 day in ≥ 95 % of 200 random scenarios (onset, growth shape, background)', () => {
  let hit = 0;
  const misses: string[] = [];
  const shapes = new Map<string, number>();
  for (let i = 0; i < 200; i++) {
    const run = randomScenario(i, true);
    const err = onsetErrorDays(run);
    if (Math.abs(err) <= 1) hit++;
    else
      misses.push(
        `#${i} ${run.config.growth} background×${run.config.cryptoPortBackground.toFixed(2)}: error ${err} days`,
      );
    const first = run.result.changes.find((c) => c.kind === 'increase');
    if (first)
      shapes.set(
        `${run.config.growth}→${first.shape}`,
        (shapes.get(`${run.config.growth}→${first.shape}`) ?? 0) + 1,
      );
  }
  console.log(`onset within ±1 day: ${hit}/200; misses: ${misses.join('; ') || 'none'}`);
  console.log(`growth → fitted shape: ${[...shapes].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  assert.ok(hit >= 190, `only ${hit}/200 onsets within ±1 day`);
  // Step growth is recognised as a step (the shape fit is not a coin toss).
  const stepOk = shapes.get('step→step') ?? 0;
  const stepAll = [...shapes].filter(([k]) => k.startsWith('step→')).reduce((a, [, v]) => a + v, 0);
  assert.ok(stepOk >= 0.9 * stepAll, `step recognised ${stepOk}/${stepAll}`);
});
