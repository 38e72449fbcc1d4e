// Random scenarios for the surge acceptance tests: onset, growth shape, ramp, background level,
// population and miner counts all drawn from a seeded stream, series from the generator's flow model.
import { detectSurges, type SurgeResult } from '../../src/analysis/surge.js';
import { dailyPortSeries } from '../../src/scenario/generate.js';
import { Rng } from '../../src/scenario/rng.js';
import {
  buildWorld,
  CRYPTO_PORTS,
  defaultConfig,
  poolCatalogue,
  type Growth,
  type ScenarioConfig,
} from '../../src/scenario/world.js';

const DAY = 86400000;

export interface ScenarioRun {
  config: ScenarioConfig;
  counts: number[];
  result: SurgeResult;
}

/** Config of scenario `i` of a family; `crypto` false gives the same population without crypto activity. */
export function randomConfig(i: number, crypto: boolean, sampling = 1): ScenarioConfig {
  const r = new Rng(1000 + i, 99);
  const days = crypto ? 90 : r.int(90, 180);
  const startMs = Date.UTC(2016, 0, 1) + r.int(0, 700) * DAY;
  const onsetDay = r.int(14, days - 14);
  const growth = r.pick(['step', 'linear', 'exponential'] as Growth[]);
  return defaultConfig({
    seed: 5000 + i,
    startMs,
    days,
    onsetMs: crypto ? startMs + onsetDay * DAY : null,
    growth,
    rampDays: r.int(7, 45),
    hosts: r.int(30, 60),
    miners: r.int(1, 15),
    btcNodes: r.int(0, 2),
    // Background of ordinary flows on crypto ports: from almost none to several hundred a day.
    cryptoPortBackground: Math.exp(r.uniform(Math.log(0.05), Math.log(3))),
    sampling,
  });
}

/** Scenario `i` of a family; `crypto` false gives the same population without crypto activity. */
export function randomScenario(i: number, crypto: boolean, sampling = 1): ScenarioRun {
  const config = randomConfig(i, crypto, sampling);
  // The crypto label: a crypto port or a known pool address (as detection's port and
  // infrastructure rules give it).
  const pools = [...new Set(poolCatalogue().map((p) => p.ip))];
  const s = dailyPortSeries(buildWorld(config), CRYPTO_PORTS, pools);
  const result = detectSurges({
    label: 'crypto',
    timesMs: s.dayMs,
    bucketMs: DAY,
    counts: s.flows,
    exposure: s.observed.map(Number),
  });
  return { config, counts: s.flows, result };
}

export function onsetErrorDays(run: ScenarioRun): number {
  const first = run.result.changes.find((c) => c.kind === 'increase');
  if (!first || run.config.onsetMs === null) return NaN;
  return (first.onsetMs - run.config.onsetMs) / DAY;
}
