import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomScenario } from './random-scenarios.js';

test('at most one false alarm per 10 series-years on 200 scenarios without crypto activity', () => {
  let alarms = 0;
  let years = 0;
  const seen: string[] = [];
  for (let i = 0; i < 200; i++) {
    const run = randomScenario(i, false);
    years += run.config.days / 365.25;
    const inc = run.result.changes.filter((c) => c.kind === 'increase');
    alarms += inc.length;
    for (const c of inc)
      seen.push(
        `#${i} ${c.onset} ${c.before.toFixed(1)}→${c.after.toFixed(1)} p=${c.probability.toFixed(4)}`,
      );
  }
  console.log(`false alarms: ${alarms} over ${years.toFixed(1)} series-years ${seen.join('; ')}`);
  assert.ok(alarms <= years / 10, `${alarms} false alarms over ${years.toFixed(1)} series-years`);
});
