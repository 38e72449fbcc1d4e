// The hourly rollup (src/store/duckdb/rollup.ts) answers exactly what the flows answer: the demo's
// scenario ingested with detection and geo — as files (the table) and as a live source (Parquet
// segments, rolled up at each commit) — and every series and country/AS summary the console and
// the CLI ask, over every scope the rollup keeps, read both ways and compared; then after a
// re-ingest, detections replaced, a rollup of another version, and flows written behind its back.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEnricher } from '../../src/cli/enricher.js';
import { detectionHookFor } from '../../src/detect/pipeline.js';
import '../../src/flow/all-formats.js';
import { ingestFile } from '../../src/flow/ingest.js';
import type { BatchHook } from '../../src/flow/ingest.js';
import { CRYPTO_PORTS } from '../../src/scenario/world.js';
import { writeDemoFiles } from '../helpers/demo-files.js';
import { flowRecord } from '../detect/flow-record.js';
import { DuckDbDetectionStore } from '../../src/store/duckdb/detections.js';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import { emptyEnrichment } from '../../src/flow/enrichment.js';
import { FlowBatch } from '../../src/flow/record.js';
import type { DuckDbDatabase } from '../../src/store/duckdb/database.js';
import { DuckDbFlowStore } from '../../src/store/duckdb/flows.js';
import {
  CHECKPOINT,
  MAX_MERGE_HOURS,
  MERGE_GROWTH,
  MERGE_MIN_ROWS,
  ROLLUP_LAG,
} from '../../src/store/duckdb/rollup.js';
import { DuckDbSeries } from '../../src/store/duckdb/series.js';
import { keyedSummary } from '../../src/store/duckdb/summary.js';
import type { SeriesQuery, SeriesScope } from '../../src/store/queries.js';
import type { FlowStore, SourceWriter } from '../../src/store/store.js';

const dir = mkdtempSync(join(tmpdir(), 'coinradar-rollup-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files: string[] = [];
/** The most rows one (source, hour) of the rollup held per key, over every check. */
let stacked = 0;
before(() => {
  files = writeDemoFiles(dir, 3);
});

/**
 * The store as a live source writes it: every source live (Parquet segments), and a commit after
 * every third batch's detections (the collector commits each interval after its hooks ran).
 */
function liveStore(store: DuckDbFlowStore, every = 3): { store: FlowStore; afterHook: BatchHook } {
  let writer: SourceWriter | null = null;
  let n = 0;
  const proxy = Object.create(store) as DuckDbFlowStore;
  proxy.beginSource = async (info) => (writer = await store.beginSource(info, { live: true }));
  return {
    store: proxy,
    afterHook: async () => {
      if (++n % every === 0) await writer?.checkpoint();
    },
  };
}

async function ingestScenario(
  path: string,
  live: boolean,
  only?: string[],
  o: { batchSize: number; commitEvery: number } = { batchSize: 2048, commitEvery: 3 },
): Promise<number> {
  const store = await DuckDbFlowStore.open(path);
  let flows = 0;
  try {
    const detection = await detectionHookFor(store);
    const enricher = await loadEnricher({ geo: true });
    const l = live ? liveStore(store, o.commitEvery) : null;
    for (const f of only ?? files) {
      const r = await ingestFile(f, {
        store: l?.store ?? store,
        enricher,
        batchSize: o.batchSize,
        hooks: l ? [detection.hook, l.afterHook] : [detection.hook],
      });
      assert.equal(r.error, undefined);
      flows += r.flows;
    }
  } finally {
    await store.close();
  }
  return flows;
}

const SCOPES: SeriesScope[] = [
  {},
  { watch: 'kp' },
  { country: 'KP' },
  { srcCountry: 'KP' },
  { dstCountry: 'US' },
  { asn: 131279 },
  { dstPorts: [...CRYPTO_PORTS] },
  { watch: 'kp', dstPorts: [...CRYPTO_PORTS].reverse() },
  { pools: true },
  { country: 'KP', pools: true },
  { label: 'stratum' },
  { label: 'crypto-port' },
  { watch: 'kp', label: 'pool-endpoint' },
];

function queries(): SeriesQuery[] {
  const out: SeriesQuery[] = [];
  for (const scope of SCOPES)
    for (const bucket of ['day', 'hour'] as const) {
      out.push({ bucket, scope });
      out.push({ bucket, scope, fromMs: Date.UTC(2017, 4, 16), toMs: Date.UTC(2017, 4, 19) });
    }
  return out;
}

/** Every query both ways; each must have been answered by the rollup and equal the flows' answer. */
async function compare(path: string, expectRollup = true): Promise<{ nonEmpty: number }> {
  const store = await DuckDbFlowStore.open(path);
  try {
    return await compareOn(store.db, expectRollup);
  } finally {
    await store.close();
  }
}

async function compareOn(db: DuckDbDatabase, expectRollup = true): Promise<{ nonEmpty: number }> {
  let nonEmpty = 0;
  const flows = new DuckDbSeries(db, false);
  const rolled = new DuckDbSeries(db);
  for (const q of queries()) {
    const want = await flows.series(q);
    const got = await rolled.series(q);
    assert.equal(rolled.lastRead, expectRollup ? 'rollup' : 'flows', JSON.stringify(q));
    assert.deepEqual(got, want, JSON.stringify(q));
    if (want.buckets.some((b) => b.flows > 0)) nonEmpty++;
  }
  for (const scope of [{}, { country: 'KP' }, { watch: 'kp' }, { label: 'stratum' }, { pools: true }])
    for (const order of ['flows', 'packets', 'bytes'] as const) {
      const q = { by: ['country', 'asn'] as ('country' | 'asn')[], top: 300, order, scope };
      assert.deepEqual(
        await keyedSummary(db, q),
        await keyedSummary(db, q, { rollup: false }),
        JSON.stringify(q),
      );
    }
  return { nonEmpty };
}

async function rollupRows(path: string): Promise<number> {
  const store = await DuckDbFlowStore.open(path);
  try {
    const [r] = await store.db.all<{ n: number; f: number }>(
      "SELECT count(*)::INTEGER AS n, sum(flows) FILTER (WHERE label = '')::INTEGER AS f FROM flow_rollup",
    );
    const [c] = await store.db.all<{ n: number }>('SELECT count(*)::INTEGER AS n FROM flow_rows');
    assert.equal(r.f, c.n, 'the rollup counts every flow once');
    // A live source's commits (every few batches here) are merged, not stacked: each hour holds
    // fewer than twice the rows of one per key (merged when its rows double: rollup.ts compact).
    const hours = await store.db.all<{ source_id: number; hour_ms: number; n: number; keys: number }>(
      `SELECT source_id, hour_ms, count(*)::INTEGER AS n,
              count(DISTINCT (label, kind, src_country, dst_country, src_asn, dst_asn, src_watch, dst_watch))::INTEGER AS keys
       FROM flow_rollup GROUP BY ALL`,
    );
    for (const h of hours)
      assert.ok(
        h.n < Math.max(MERGE_MIN_ROWS, MERGE_GROWTH * h.keys),
        `source ${h.source_id} hour ${new Date(Number(h.hour_ms)).toISOString()}: ${h.n} rows for ${h.keys} keys`,
      );
    stacked = Math.max(stacked, ...hours.map((h) => h.n / h.keys));
    return r.n;
  } finally {
    await store.close();
  }
}

test(
  'rollup: files into the table — every series and country/AS summary equals the flows’ own',
  { timeout: 300_000 },
  async () => {
    const db = join(dir, 'files.duckdb');
    const flows = await ingestScenario(db, false);
    assert.ok(flows > 10_000, `the scenario has flows (${flows})`);
    const { nonEmpty } = await compare(db);
    // Not vacuous: most scopes have activity (a label or two may be absent from this world).
    assert.ok(nonEmpty >= queries().length - 12, `${nonEmpty} of ${queries().length} series had flows`);
    const rows = await rollupRows(db);
    assert.ok(rows < flows / 5, `the rollup is smaller than the flows (${rows} rows for ${flows} flows)`);

    // Re-ingesting a file replaces its flows: the rollup follows.
    await ingestScenario(db, false, [files[1]]);
    await compare(db);
    await rollupRows(db);

    // Detections replaced (coinradar detect): the label rows follow.
    {
      const store = await DuckDbFlowStore.open(db);
      try {
        const det = await DuckDbDetectionStore.open(store.db);
        // As `coinradar detect` replaces them (begin, clear, add, commit): here the infrastructure
        // grade goes (pool-endpoint), and its label rows must go with it.
        const [before] = await store.db.all<{ n: number }>(
          "SELECT count(*)::INTEGER AS n FROM detections WHERE confidence = 'infrastructure'",
        );
        assert.ok(before.n > 0, 'the scenario has infrastructure detections');
        await det.begin();
        await det.clear(['infrastructure']);
        await det.commit();
      } finally {
        await store.close();
      }
      await compare(db);
    }

    // A rollup of another version is rebuilt on open; one missing flows is not read.
    {
      const store = await DuckDbFlowStore.open(db);
      await store.db.run("UPDATE rollup_state SET version = 'old'");
      await store.close();
      await compare(db);
      // A detection written another way: label scopes read the flows; the rest keep the rollup.
      const other = await DuckDbFlowStore.open(db);
      try {
        await other.db.run(
          "INSERT INTO detections SELECT id, 'stratum', '', 'payload', 4, '{}', '[]', '', '' FROM flow_rows LIMIT 1",
        );
        const series = new DuckDbSeries(other.db);
        const q = { bucket: 'day', scope: { label: 'stratum' } } as const;
        assert.deepEqual(await series.series(q), await new DuckDbSeries(other.db, false).series(q));
        assert.equal(series.lastRead, 'flows');
        await series.series({ bucket: 'day', scope: { watch: 'kp' } });
        assert.equal(series.lastRead, 'rollup');
      } finally {
        await other.close();
      }
      // Flows written past the rollup by a writer that does not roll up them (as a live writer's
      // commits between its roll-ups, or an older coinradar), with detections of their own: the
      // readers group them and add them to the rollup's rows — every answer still the flows' own.
      const again = await DuckDbFlowStore.open(db);
      try {
        await again.db.run('DELETE FROM detections WHERE rowid = (SELECT max(rowid) FROM detections)');
        const [{ m }] = await again.db.all<{ m: number }>('SELECT max(id)::BIGINT AS m FROM flow_table');
        await again.db.run(
          `INSERT INTO flow_table SELECT * REPLACE (id + ${m} AS id, first_ms + 86400000 AS first_ms) FROM flow_table WHERE id % 7 = 0`,
        );
        await again.db.run(
          `INSERT INTO detections SELECT * REPLACE (flow_id + ${m} AS flow_id) FROM detections WHERE flow_id % 7 = 0`,
        );
        const [st] = await again.db.all<{ behind: number; tail: number }>(
          `SELECT (SELECT max_id FROM rollup_state) < ${m} + 1 AS behind,
                  (SELECT count(*)::INTEGER FROM detections WHERE flow_id > ${m}) AS tail`,
        );
        assert.ok(st.behind && st.tail > 0, 'flows and detections past the rollup');
      } finally {
        await again.close();
      }
      await compare(db);
    }
  },
);

test(
  'rollup: a live source (Parquet segments, rolled up at each commit) — the same answers',
  { timeout: 300_000 },
  async () => {
    const db = join(dir, 'live.duckdb');
    const lag = { ...ROLLUP_LAG };
    ROLLUP_LAG.flows = 0;
    const flows = await ingestScenario(db, true).finally(() => Object.assign(ROLLUP_LAG, lag));
    assert.ok(flows > 10_000);
    const store = await DuckDbFlowStore.open(db);
    const [s] = await store.db.all<{ n: number }>('SELECT count(*)::INTEGER AS n FROM flow_segments');
    await store.close();
    assert.ok(s.n > 1, `flows went to segments (${s.n} files)`);
    await compare(db);
    await rollupRows(db);
    console.log(`rollup: at most ${stacked.toFixed(2)} rows per key in one hour`);
  },
);

test('rollup: a live source committing many times an hour — each hour merged as its rows double, the same answers', async () => {
  // 60 commits of 100 flows, all in one hour, two keys (a crypto port and not): unmerged, the hour
  // would hold two rows per commit. Rolled up at every commit.
  const lag = { ...ROLLUP_LAG };
  ROLLUP_LAG.flows = 0;
  after(() => Object.assign(ROLLUP_LAG, lag));
  const db = join(dir, 'many-commits.duckdb');
  let store = await DuckDbFlowStore.open(db);
  const w = await store.beginSource({ name: 'live', kind: 'netflow' }, { live: true });
  const t0 = Date.UTC(2017, 4, 17, 3);
  for (let k = 0; k < 60; k++) {
    const b = new FlowBatch(100);
    for (let i = 0; i < 100; i++) {
      const n = k * 100 + i;
      b.pushRecord(
        flowRecord({
          firstMs: t0 + n * 500,
          lastMs: t0 + n * 500 + 1000,
          src: `175.45.176.${n % 250}`,
          dst: '203.0.113.9',
          srcPort: 40000 + (n % 20000),
          dstPort: n % 2 ? 3333 : 443,
          packets: 10,
          bytes: 1000,
          revPackets: 5,
          revBytes: 500,
          tcpFlags: 0x1b,
          source: 'live',
          position: n,
        }),
      );
    }
    await w.append(b, emptyEnrichment(100));
    await w.checkpoint(new Diagnostics());
  }
  await w.commit(new Diagnostics());
  const rows = async () =>
    (await store.db.all<{ n: number }>('SELECT count(*)::INTEGER AS n FROM flow_rollup'))[0].n;
  const n = await rows();
  assert.ok(n < MERGE_MIN_ROWS, `${n} rollup rows for one hour of two keys after 60 commits`);
  // Merged beside the writer (RollupMerger, its own connection and transactions), none failed.
  assert.ok(store.merger, 'a live source merges on its own connection');
  assert.equal(store.merger.failed, 0, store.merger.lastError ?? '');
  const all = new DuckDbSeries(store.db);
  const flows = new DuckDbSeries(store.db, false);
  for (const scope of [{}, { dstPorts: CRYPTO_PORTS }]) {
    const q: SeriesQuery = { bucket: 'hour', scope };
    assert.deepEqual(await all.series(q), await flows.series(q));
    assert.equal(all.lastRead, 'rollup');
  }
  await store.close();
  // Reopened: the rollup is as the writer left it (nothing rebuilt on open).
  store = await DuckDbFlowStore.open(db);
  assert.equal(await rows(), n);
  await store.close();
});

test(
  'rollup: a live source between its roll-ups — readers add the flows and detections committed past the rollup',
  { timeout: 300_000 },
  async () => {
    // The rollup lags as on a live collector (ROLLUP_LAG); a second connection reads while the
    // writer is in the middle of a source, after some commits, and must see every committed flow.
    const path = join(dir, 'lagging.duckdb');
    const store = await DuckDbFlowStore.open(path);
    const lag = { ...ROLLUP_LAG };
    Object.assign(ROLLUP_LAG, { flows: 1 << 30, ms: 1e9 });
    let checked = 0;
    try {
      const detection = await detectionHookFor(store);
      const enricher = await loadEnricher({ geo: true });
      const l = liveStore(store, 2);
      let batches = 0;
      const probe: BatchHook = async () => {
        if (++batches % 10 !== 0 || checked >= 3) return;
        // After a commit (liveStore commits every second batch): read beside the writer.
        const reader = await store.reader();
        const [st] = await reader.db.all<{ covered: number; flows: number; dets: number }>(
          `SELECT (SELECT max_id FROM rollup_state)::BIGINT AS covered, (SELECT max(id) FROM flow_rows)::BIGINT AS flows,
                  (SELECT count(*) FROM detections WHERE flow_id > (SELECT max_id FROM rollup_state))::BIGINT AS dets`,
        );
        if (Number(st.flows) <= Number(st.covered) || Number(st.dets) === 0) return;
        const t = performance.now();
        await compareOn(reader.db);
        console.log(
          `read beside the writer: ${Number(st.flows) - Number(st.covered)} flows and ${st.dets} detections past the rollup, ${Math.round(performance.now() - t)} ms`,
        );
        checked++;
      };
      for (const f of files.slice(0, 2)) {
        const r = await ingestFile(f, {
          store: l.store,
          enricher,
          batchSize: 1024,
          hooks: [detection.hook, l.afterHook, probe],
        });
        assert.equal(r.error, undefined);
      }
    } finally {
      Object.assign(ROLLUP_LAG, lag);
      await store.close();
    }
    assert.ok(
      checked >= 2,
      `read beside the writer with flows and detections past the rollup (${checked} times)`,
    );
    await compare(path);
  },
);

test('rollup: flows a sender spreads over thousands of hours — at most MAX_MERGE_HOURS merged a roll-up, the sums exact', async () => {
  // Whoever sends the flows chooses their times: 3,000 hours of 16 keys each, twice, rolled up at
  // each commit. The merge must not name 3,000 hours in one statement or queue them all; the rest
  // stay unmerged and still add up.
  const lag = { ...ROLLUP_LAG };
  ROLLUP_LAG.flows = 0;
  const db = join(dir, 'spread-hours.duckdb');
  const store = await DuckDbFlowStore.open(db);
  try {
    const w = await store.beginSource({ name: 'live', kind: 'netflow' }, { live: true });
    const HOURS = 3000;
    const t0 = Date.UTC(2017, 0, 1);
    for (let pass = 0; pass < 2; pass++) {
      const n = HOURS * 16;
      const b = new FlowBatch(n);
      const e = emptyEnrichment(n);
      for (let i = 0; i < n; i++) {
        b.pushRecord(flowRecord({ firstMs: t0 + Math.floor(i / 16) * 3_600_000 + pass, position: i }));
        e.srcAsn[i] = 64512 + (i % 16);
      }
      await w.append(b, e);
      await w.checkpoint(new Diagnostics());
    }
    await w.commit(new Diagnostics());
    assert.ok(store.merger, 'a live source merges on its own connection');
    assert.equal(store.merger.failed, 0, store.merger.lastError ?? '');
    const [r] = await store.db.all<{ hours: number; merged: number; flows: number }>(
      `SELECT count(DISTINCT hour_ms)::INTEGER AS hours,
              count(DISTINCT hour_ms) FILTER (WHERE n = 16)::INTEGER AS merged, sum(f)::INTEGER AS flows
       FROM (SELECT hour_ms, count(*) AS n, sum(flows) AS f FROM flow_rollup WHERE label = '' GROUP BY hour_ms)`,
    );
    assert.equal(r.hours, HOURS);
    assert.equal(r.flows, 2 * HOURS * 16, 'every flow counted once');
    // Merged: one row per key (16); the hours past the bound keep both passes' rows (32).
    assert.ok(r.merged > 0 && r.merged <= MAX_MERGE_HOURS, `${r.merged} hours merged`);
    assert.ok(r.hours - r.merged >= HOURS - MAX_MERGE_HOURS, `${r.hours - r.merged} hours left unmerged`);
    const q: SeriesQuery = { bucket: 'day', scope: {} };
    const rolled = new DuckDbSeries(store.db);
    assert.deepEqual(await rolled.series(q), await new DuckDbSeries(store.db, false).series(q));
    assert.equal(rolled.lastRead, 'rollup');
  } finally {
    Object.assign(ROLLUP_LAG, lag);
    await store.close();
  }
});

/** Commit interval k of a live source: 1,000 flows 100 ms apart from 03:00 on 17 May 2017 (sources
 * in AS64512–AS64611), then the writer's commit. */
async function liveCommit(w: SourceWriter, k: number): Promise<void> {
  const t0 = Date.UTC(2017, 4, 17, 3);
  const b = new FlowBatch(1000);
  const e = emptyEnrichment(1000);
  for (let i = 0; i < 1000; i++) {
    b.pushRecord(flowRecord({ firstMs: t0 + (k * 1000 + i) * 100, position: k * 1000 + i }));
    e.srcAsn[i] = 64512 + (i % 100);
  }
  await w.append(b, e);
  await w.checkpoint(new Diagnostics());
}

test('a live writer checkpoints beside itself once the log passes CHECKPOINT.walBytes: the log emptied, nothing lost, none failed', async () => {
  // Lowered so that every commit's log is past it; the checkpoint runs on the merger's connection
  // after the writer's commit, not inside it (DuckDB's own would run in the commit).
  const was = CHECKPOINT.walBytes;
  CHECKPOINT.walBytes = 1;
  const db = join(dir, 'checkpoints.duckdb');
  const store = await DuckDbFlowStore.open(db);
  try {
    const w = await store.beginSource({ name: 'live', kind: 'netflow' }, { live: true });
    const walSizes: number[] = [];
    for (let k = 0; k < 5; k++) {
      await liveCommit(w, k);
      await store.merger?.idle();
      walSizes.push(existsSync(`${db}.wal`) ? statSync(`${db}.wal`).size : 0);
    }
    await w.commit(new Diagnostics());
    assert.ok(store.merger, 'a live source has a merger');
    const counts = w.storeCounts?.().counts ?? {};
    assert.equal(counts['store.checkpoints-failed'], 0, store.merger.lastError ?? '');
    assert.ok(counts['store.checkpoints'] >= 5, `checkpoints: ${counts['store.checkpoints']}`);
    // Each commit's log is checkpointed away before the next one writes.
    for (const n of walSizes) assert.ok(n < 4096, `log after a checkpoint: ${walSizes.join(', ')} bytes`);
    const [r] = await store.db.all<{ n: number }>('SELECT count(*)::INTEGER AS n FROM flow_rows');
    assert.equal(r.n, 5000);
    const q: SeriesQuery = { bucket: 'hour', scope: {} };
    assert.deepEqual(
      await new DuckDbSeries(store.db).series(q),
      await new DuckDbSeries(store.db, false).series(q),
    );
  } finally {
    CHECKPOINT.walBytes = was;
    await store.close();
  }
});

test("a live writer's checkpoint waits for a reader statement that holds a snapshot older than the writer's last commit, and readers wait for it (DuckDB refuses it meanwhile)", async () => {
  const was = { ...CHECKPOINT };
  CHECKPOINT.walBytes = 1;
  const db = join(dir, 'checkpoint-readers.duckdb');
  const store = await DuckDbFlowStore.open(db);
  try {
    const w = await store.beginSource({ name: 'live', kind: 'netflow' }, { live: true });
    const interval = (k: number) => liveCommit(w, k);
    await interval(0);
    await store.merger!.idle();
    const reader = await store.reader();
    // A reader statement in flight, its snapshot taken before the writer's next commit: held open
    // here as a transaction, counted as running until released (as a long query would be).
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const statement = reader.db.reads.track(
      (async () => {
        await reader.db.run('BEGIN TRANSACTION');
        await reader.db.all('SELECT count(*) FROM flow_rows');
        await released;
        await reader.db.run('COMMIT');
      })(),
    );
    await new Promise((r) => setTimeout(r, 50));
    const checkpointsBefore = store.merger!.checkpoints;
    await interval(1);
    // The merger's checkpoint is due; it waits for the statement instead of failing.
    const merged = store.merger!.idle();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(store.merger!.checkpointsFailed, 0, store.merger!.lastError ?? '');
    // Meanwhile a new reader statement waits for the checkpoint (it starts once that is over).
    release();
    const [{ n }] = await reader.db.all<{ n: number }>('SELECT count(*)::INTEGER AS n FROM flow_rows');
    assert.equal(n, 2000);
    assert.equal(
      store.merger!.checkpoints,
      checkpointsBefore + 1,
      'the statement started after the checkpoint',
    );
    await statement;
    await merged;
    const counts = () => w.storeCounts?.().counts ?? {};
    assert.equal(counts()['store.checkpoints-failed'], 0, store.merger!.lastError ?? '');
    assert.equal(counts()['store.checkpoints-deferred'], 0);
    // A statement still running past CHECKPOINT.maxReaderWaitMs: the checkpoint is left for the next turn…
    CHECKPOINT.maxReaderWaitMs = 100;
    CHECKPOINT.maxDeferrals = 1;
    const hold = () => {
      let release!: () => void;
      const held = reader.db.reads.track(new Promise<void>((r) => (release = r)));
      return { held, release };
    };
    const long = hold();
    await interval(2);
    await store.merger!.idle();
    assert.equal(counts()['store.checkpoints-deferred'], 1);
    // …but after CHECKPOINT.maxDeferrals in a row, the next one waits for it however long it runs.
    const made = store.merger!.checkpoints;
    await interval(3);
    const patient = store.merger!.idle();
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(store.merger!.checkpoints, made, 'still waiting for the statement');
    long.release();
    await long.held;
    await patient;
    assert.equal(store.merger!.checkpoints, made + 1);
    assert.equal(counts()['store.checkpoints-deferred'], 1);
    // A source's end does not wait: its last checkpoint gives up at once on a statement still
    // running (the exit promise), even after deferrals.
    const last = hold();
    await interval(4);
    await store.merger!.idle();
    assert.equal(counts()['store.checkpoints-deferred'], 2);
    const began = performance.now();
    await w.commit(new Diagnostics());
    assert.ok(performance.now() - began < 1500, `the commit took ${performance.now() - began} ms`);
    last.release();
    await last.held;
    await reader.close();
    assert.equal(counts()['store.checkpoints-failed'], 0, store.merger!.lastError ?? '');
  } finally {
    Object.assign(CHECKPOINT, was);
    await store.close();
  }
});

test("a live writer's commit does not wait for its roll-up: the merger's connection makes it after, and readers count every flow meanwhile", async () => {
  // Rolled up at every commit. The merger's connection is held back until the writer has
  // committed twice: the commits must return meanwhile (a roll-up of a million flows inside the
  // writer's commit stalled storing for 0.6–0.9 s), with the rollup where it was and readers still
  // counting every flow (the flows past the rollup grouped in their query).
  const lag = { ...ROLLUP_LAG };
  ROLLUP_LAG.flows = 0;
  const db = join(dir, 'off-path.duckdb');
  const store = await DuckDbFlowStore.open(db);
  try {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const reader = store.db.reader.bind(store.db);
    // Reads on a connection of their own, as another process's would be (the writer's sees its
    // open transaction's snapshot).
    const look = await reader();
    store.db.reader = async () => {
      await held;
      return reader();
    };
    const w = await store.beginSource({ name: 'live', kind: 'netflow' }, { live: true });
    const t0 = Date.UTC(2017, 4, 17, 3);
    const maxId = async () =>
      Number((await look.all<{ m: number }>('SELECT max_id AS m FROM rollup_state'))[0]?.m ?? 0);
    const before = await maxId();
    const q: SeriesQuery = { bucket: 'hour', scope: {} };
    for (let k = 0; k < 2; k++) {
      const b = new FlowBatch(500);
      for (let i = 0; i < 500; i++)
        b.pushRecord(
          flowRecord({ firstMs: t0 + (k * 500 + i) * 1000, dstPort: i % 2 ? 3333 : 443, position: i }),
        );
      await w.append(b, emptyEnrichment(500));
      await w.checkpoint(new Diagnostics());
      assert.equal(await maxId(), before, 'the commit returned before any roll-up was made');
      assert.deepEqual(await new DuckDbSeries(look).series(q), await new DuckDbSeries(look, false).series(q));
    }
    release();
    await store.merger?.idle();
    assert.equal(await maxId(), 1000, 'rolled up by the merger once its connection was there');
    assert.equal(store.merger?.failed, 0, store.merger?.lastError ?? '');
    const [r] = await look.all<{ n: number }>(
      "SELECT sum(flows)::INTEGER AS n FROM flow_rollup WHERE label = ''",
    );
    assert.equal(r.n, 1000);
    await look.close();
    await w.commit(new Diagnostics());
    const series = new DuckDbSeries(store.db);
    assert.deepEqual(await series.series(q), await new DuckDbSeries(store.db, false).series(q));
    assert.equal(series.lastRead, 'rollup');
  } finally {
    Object.assign(ROLLUP_LAG, lag);
    await store.close();
  }
});

/** Descriptors of this process open on `path` (Linux: /proc/self/fd), or null where there is no /proc. */
function openDescriptors(path: string): number | null {
  if (!existsSync('/proc/self/fd')) return null;
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) n++;
    } catch {
      // closed while listed
    }
  }
  return n;
}

test('closing a live store closes its file, the roll-up merger’s connection included: opened again in the same process, it is one database, not two writing one file', async (t) => {
  const db = join(dir, 'close-live.duckdb');
  const store = await DuckDbFlowStore.open(db);
  const w = await store.beginSource({ name: 'live', kind: 'netflow' }, { live: true });
  for (let k = 0; k < 3; k++) await liveCommit(w, k);
  await store.merger?.idle();
  await w.commit(new Diagnostics());
  await store.close();
  const left = openDescriptors(db);
  if (left === null) t.diagnostic('no /proc/self/fd here: the descriptor check is left out');
  // Before: the merger's reader connection kept the file open after close(); the demo then opened
  // it again for its report and sanctions, and the store could no longer be read afterwards.
  else assert.equal(left, 0, 'descriptors still open on the store after close()');
  const again = await DuckDbFlowStore.open(db);
  try {
    const [r] = await again.db.all<{ n: number }>('SELECT count(*)::INTEGER AS n FROM flow_rows');
    assert.equal(r.n, 3000);
  } finally {
    await again.close();
  }
  // Another process reads what both left.
  const read = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { DuckDBInstance } from '@duckdb/node-api';
       const i = await DuckDBInstance.create(process.argv[1]);
       const c = await i.connect();
       const r = await c.runAndReadAll('SELECT count(*)::INTEGER FROM flow_rows');
       console.log(r.getRows()[0][0]);`,
      db,
    ],
    { encoding: 'utf8', cwd: new URL('../..', import.meta.url).pathname },
  );
  assert.equal(read.stderr, '');
  assert.equal(read.stdout.trim(), '3000');
});
