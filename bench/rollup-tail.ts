/**
 * What the rollup's lag costs a reader (rollup.ts ROLLUP_LAG, rollupRelation): a live source's
 * flows are rolled up every 10 s or 1,048,576 flows, and a reader groups the flows committed since
 * in its own query. This stores the collector bench's stream (bench/collector-stream.ts) as a live
 * source whose rollup has not advanced — every flow past it, the worst a reader meets — and times
 * the console's kind of answers from a second connection, then again once the writer has rolled
 * up. No peer: this is the price of our own trade-off (the writer's roll-ups at half the cost,
 * docs/benchmarks.md), printed so it can be weighed.
 *
 *   node --import tsx bench/rollup-tail.ts [flows past the rollup=1048576] [mix percent=2]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEnricher } from '../src/cli/enricher.js';
import { detectionHookFor } from '../src/detect/pipeline.js';
import { Diagnostics } from '../src/flow/diagnostics.js';
import { CRYPTO_PORTS } from '../src/scenario/world.js';
import { ROLLUP_LAG } from '../src/store/duckdb/rollup.js';
import { DuckDbFlowStore } from '../src/store/duckdb/flows.js';
import { DuckDbSeries } from '../src/store/duckdb/series.js';
import { keyedSummary } from '../src/store/duckdb/summary.js';
import { benchMix, decodedBenchStream, mixWords } from './collector-stream.js';

const FLOWS = Number(process.argv[2] ?? ROLLUP_LAG.flows);
const MIX = benchMix(process.argv[3] ?? '2');
const batches = decodedBenchStream(FLOWS, MIX);
const enricher = (await loadEnricher({ geo: true }))!;
const dir = mkdtempSync(join(tmpdir(), 'cr-rollup-tail-'));
const lag = { ...ROLLUP_LAG };
try {
  Object.assign(ROLLUP_LAG, { flows: Number.MAX_SAFE_INTEGER, ms: Number.MAX_SAFE_INTEGER });
  const store = await DuckDbFlowStore.open(join(dir, 'tail.duckdb'));
  const detection = await detectionHookFor(store);
  const w = await store.beginSource({ name: 'udp://bench', kind: 'netflow-live' }, { live: true });
  // As the collector stores: enrich, append, detect; the held detections written before each commit.
  detection.hook.holdUntilCommit();
  const commit = async () => {
    await detection.hook.beforeCommit();
    await w.checkpoint();
  };
  let n = 0;
  for (const b of batches) {
    const e = enricher.enrich(b);
    await detection.hook(b, e, await w.append(b, e));
    if (++n % 49 === 0) await commit();
  }
  await commit();
  const flows = batches.reduce((s, b) => s + b.length, 0);
  process.stdout.write(
    `${flows} flows (${mixWords(MIX)}) committed by a live source; load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}\n`,
  );
  const reader = await store.reader();
  const series = new DuckDbSeries(reader.db);
  const answers: [string, () => Promise<unknown>][] = [
    ['series by hour, every flow', () => series.series({ bucket: 'hour', scope: {} })],
    [
      'series by hour, crypto ports',
      () => series.series({ bucket: 'hour', scope: { dstPorts: CRYPTO_PORTS } }),
    ],
    [
      'series by hour, label crypto-port',
      () => series.series({ bucket: 'hour', scope: { label: 'crypto-port' } }),
    ],
    ['summary by country and AS', () => keyedSummary(reader.db, { by: ['country', 'asn'], top: 20 })],
  ];
  const time = async (when: string) => {
    const [st] = await store.db.all<{ max_id: number }>('SELECT max_id FROM rollup_state');
    process.stdout.write(`${when} (rollup covers flow ids up to ${st.max_id}):\n`);
    for (const [name, f] of answers) {
      let best = Infinity;
      let cpu = Infinity;
      for (let r = 0; r < 3; r++) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await f();
        const c = process.cpuUsage(c0);
        best = Math.min(best, performance.now() - t0);
        cpu = Math.min(cpu, (c.user + c.system) / 1000);
      }
      const read = name.startsWith('series') ? `, read the ${series.lastRead}` : '';
      process.stdout.write(
        `  ${name}: ${best.toFixed(0)} ms wall, ${cpu.toFixed(0)} ms CPU (best of 3)${read}\n`,
      );
    }
  };
  await time(`every flow past the rollup`);
  ROLLUP_LAG.flows = 0;
  await commit();
  await time('after the writer rolled up');
  detection.hook.holdUntilCommit(false);
  await w.commit(new Diagnostics());
  await store.close();
} finally {
  Object.assign(ROLLUP_LAG, lag);
  rmSync(dir, { recursive: true, force: true });
}
