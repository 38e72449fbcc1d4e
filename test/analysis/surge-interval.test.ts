import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectSurges, type SurgeChange } from '../../src/analysis/surge.js';
import { portOnsetLag } from '../../src/report/build.js';
import type { Timeline } from '../../src/report/model.js';
import { buildWorld } from '../../src/scenario/world.js';
import { randomConfig } from './random-scenarios.js';
import { REPORT_SERIES, reportSeries, type ReportSeriesKind } from './report-series.js';

const DAY = 86400000;
const SCENARIOS = 200;

const EVIDENCE: Record<ReportSeriesKind, 'port' | 'stronger'> = {
  'crypto ports': 'port',
  pools: 'stronger',
  'label stratum': 'stronger',
  'label crypto-port': 'port',
};

const covers = (c: SurgeChange, t: number) =>
  Date.parse(c.onsetInterval[0]) <= t && t <= Date.parse(c.onsetInterval[1]);

test(`95 % onset intervals cover the true onset in ≥ 90 % of ${SCENARIOS} scenarios for each series the report draws; port-only lag is flagged`, () => {
  const started = Date.now();
  const tally = Object.fromEntries(
    REPORT_SERIES.map((k) => [k, { series: 0, covered: 0, scenarioOnset: 0, width: 0, found: 0 }]),
  ) as Record<
    ReportSeriesKind,
    { series: number; covered: number; scenarioOnset: number; width: number; found: number }
  >;
  const misses: string[] = [];
  const lag = { real: 0, flagged: 0, none: 0, falseFlags: 0 };
  for (let i = 0; i < SCENARIOS; i++) {
    const config = randomConfig(i, true);
    const s = reportSeries(buildWorld(config));
    const timelines: Timeline[] = [];
    for (const kind of REPORT_SERIES) {
      const r = detectSurges({
        label: kind,
        timesMs: s.dayMs,
        bucketMs: DAY,
        counts: s.counts[kind],
        exposure: s.observed.map(Number),
      });
      timelines.push({
        label: kind,
        evidence: EVIDENCE[kind],
        unit: 'flows per day',
        bucketMs: DAY,
        points: [],
        changes: r.changes,
      });
      // The series' own onset: the first day a crypto host's flow fell in it. A series no crypto
      // flow reached has no onset to cover.
      const truth = s.firstCryptoMs[kind];
      if (truth === null) continue;
      const t = tally[kind];
      t.series++;
      const inc = r.changes.find((c) => c.kind === 'increase');
      if (!inc) {
        misses.push(`#${i} ${kind}: no increase found`);
        continue;
      }
      t.found++;
      t.width += (Date.parse(inc.onsetInterval[1]) - Date.parse(inc.onsetInterval[0])) / DAY + 1;
      if (covers(inc, truth)) t.covered++;
      else
        misses.push(
          `#${i} ${kind} ${config.growth}: truth ${new Date(truth).toISOString().slice(0, 10)}, interval ${inc.onsetInterval.map((x) => x.slice(0, 10)).join(' – ')}`,
        );
      if (covers(inc, config.onsetMs!)) t.scenarioOnset++;
    }
    // Lag: crypto-port flows began ≥ 3 days after the first pool flows (a real lag), or on the
    // same day (none); the report's flag should follow.
    const portStart = s.firstCryptoMs['crypto ports'];
    const poolStart = s.firstCryptoMs.pools;
    if (portStart === null || poolStart === null) continue;
    const flagged = portOnsetLag(timelines[0], timelines) !== undefined;
    if (portStart - poolStart >= 3 * DAY) {
      lag.real++;
      if (flagged) lag.flagged++;
    } else if (portStart === poolStart) {
      lag.none++;
      if (flagged) lag.falseFlags++;
    }
  }
  for (const kind of REPORT_SERIES) {
    const t = tally[kind];
    console.log(
      `${kind}: own onset covered ${t.covered}/${t.series}, scenario onset covered ${t.scenarioOnset}/${t.series}, mean interval ${(t.width / Math.max(1, t.found)).toFixed(2)} days`,
    );
  }
  console.log(
    `port-only lag ≥ 3 days: flagged ${lag.flagged}/${lag.real}; no lag: flagged ${lag.falseFlags}/${lag.none}`,
  );
  console.log(`misses: ${misses.join('; ') || 'none'}`);
  console.log(`${SCENARIOS} scenarios in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  for (const kind of REPORT_SERIES) {
    const t = tally[kind];
    assert.ok(t.series >= 100, `${kind}: only ${t.series} scenarios with activity in the series`);
    assert.ok(t.covered >= 0.9 * t.series, `${kind}: covered ${t.covered}/${t.series}`);
  }
  assert.ok(lag.real >= 20, `only ${lag.real} scenarios with a port-only lag`);
  assert.ok(lag.flagged >= 0.9 * lag.real, `lag flagged in ${lag.flagged}/${lag.real}`);
  assert.ok(lag.falseFlags <= 0.05 * lag.none, `lag flagged without one in ${lag.falseFlags}/${lag.none}`);
});
