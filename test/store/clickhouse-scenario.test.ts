// Acceptance of the ClickHouse engine: the demo's scenario (src/scenario, as `coinradar demo` builds
// it: North Korean address space, mining from an onset, a NetFlow v9 export and a packet capture of
// a few hosts) ingested with detection and geo into DuckDB and into ClickHouse — Debian's server
// 18.16 on loopback, a two-shard cluster of two such servers (Distributed tables over local ones
// on each), and chDB (a current release in-process, alone and as a one-shard cluster) — gives
// byte-identical output of `summary`, `series`, `surge`, `hosts`, `detections` and `artifacts`.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEnricher } from '../../src/cli/enricher.js';
import { detectionHookFor } from '../../src/detect/pipeline.js';
import '../../src/flow/all-formats.js';
import { ingestFile } from '../../src/flow/ingest.js';
import { ingestDemo } from './clickhouse-demo.js';
import { writeDemoFiles } from '../helpers/demo-files.js';
import type { ClickHouseFlowStore } from '../../src/store/clickhouse/flows.js';
import { openFlowStore } from '../../src/store/open.js';
import { runCli } from '../cli-run.js';
import {
  haveChdb,
  haveServer,
  startCluster,
  startServer,
  type RunningCluster,
  type RunningServer,
} from './clickhouse-server.js';

const dir = mkdtempSync(join(tmpdir(), 'coinradar-ch-scenario-'));
let server: RunningServer | null = null;
let cluster: RunningCluster | null = null;
after(async () => {
  await server?.stop();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The read commands compared, each with the options an analyst of the demo would give. */
const COMMANDS: string[][] = [
  ['summary'],
  ['summary', '--by', 'dport', '--by', 'src', '--by', 'country', '--by', 'asn', '--top', '8'],
  ['series', '--scope', 'watch:kp', '--ports', 'crypto', '--format', 'csv'],
  [
    'series',
    '--scope',
    'watch:kp',
    '--bucket',
    'hour',
    '--since',
    '2017-05-16',
    '--until',
    '2017-05-19',
    '--format',
    'csv',
  ],
  ['series', '--scope', 'label:stratum', '--format', 'csv'],
  // A --where over the text columns: part of the scope, every stored day still observed.
  [
    'series',
    '--scope',
    'watch:kp',
    '--where',
    "src LIKE '175.45.176.%' AND dst_port = 3333",
    '--format',
    'csv',
  ],
  ['surge', '--scope', 'watch:kp', '--ports', 'crypto'],
  ['surge', '--scope', 'watch:kp', '--ports', 'crypto', '--measure', 'sources', '--format', 'json'],
  ['hosts', '--scope', 'watch:kp', '--format', 'jsonl'],
  ['hosts', '--scope', 'watch:kp', '--min-confidence', 'infrastructure', '--format', 'csv'],
  ['detections', '--format', 'jsonl'],
  ['detections', '--min-confidence', 'payload', '--where', 'f.dst_port > 1000'],
  ['artifacts', '--format', 'csv'],
  [
    'flows',
    '--where',
    "src LIKE '175.45.%' AND dst_port IN (3333, 4444, 8333)",
    '--limit',
    '20',
    '--format',
    'jsonl',
  ],
];

let files: string[] = [];
before(() => {
  files = writeDemoFiles(dir, 1);
});

const ingestScenario = (db: string, cluster?: string) => ingestDemo(db, files, cluster);

async function outputs(db: string, extra: string[] = []): Promise<string[]> {
  const out: string[] = [];
  for (const c of COMMANDS) {
    const r = await runCli([...c, '--db', db, ...extra]);
    out.push(`$ ${c.join(' ')}\n${r.out}`);
  }
  return out;
}

let duck: Promise<{ flows: number; out: string[] }> | null = null;
function duckdb() {
  duck ??= (async () => {
    const db = join(dir, 'scenario.duckdb');
    const flows = await ingestScenario(db);
    return { flows, out: await outputs(db) };
  })();
  return duck;
}

async function compare(db: string, cluster?: string): Promise<void> {
  const want = await duckdb();
  assert.ok(want.flows > 10_000, `the scenario has flows (${want.flows})`);
  // Not vacuous: every command said something, and the scope has crypto activity.
  if (process.env.COINRADAR_CH_DUMP) writeFileSync(process.env.COINRADAR_CH_DUMP, want.out.join('\n'));
  for (const o of want.out) assert.ok(o.split('\n').length > 3, o);
  assert.match(want.out[10], /"label":"stratum"/);
  assert.equal(await ingestScenario(db, cluster), want.flows);
  // The cluster's commands name it with --cluster, as an analyst would.
  const got = await outputs(db, cluster ? ['--cluster', cluster] : []);
  if (process.env.COINRADAR_CH_DUMP)
    writeFileSync(`${process.env.COINRADAR_CH_DUMP}.${db.slice(0, 4)}`, got.join('\n'));
  for (let i = 0; i < COMMANDS.length; i++) assert.equal(got[i], want.out[i]);
}

test(
  'the demo scenario: clickhouse-server 18.16 gives DuckDB’s summary, series, surge, hosts and detections',
  {
    skip: !haveServer() && 'clickhouse-server not installed (scripts/install-test-deps.sh)',
    timeout: 600_000,
  },
  async () => {
    server = await startServer();
    await compare(server.url);
  },
);

test('the demo scenario: chDB (current ClickHouse) gives the same', { timeout: 600_000 }, async (t) => {
  const missing = await haveChdb();
  if (missing) return t.skip(`chdb cannot load here: ${missing}`);
  await compare(`chdb:${join(dir, 'chdb')}`);
});

/** Where the rows landed: per shard, the flows, detections and the watched hosts' addresses. */
async function shards(db: string) {
  const store = (await openFlowStore(db)) as ClickHouseFlowStore;
  try {
    const count = async (t: string) =>
      (await store.eachShard<{ n: number }>(`SELECT count() AS n FROM ${t}_local`)).map((r) =>
        Number(r[0].n),
      );
    // The sharding key's end (schema.ts SHARDING_KEYS): the watched one of each flow.
    const hosts = (
      await store.eachShard<{ h: string }>(
        `SELECT DISTINCT hex(if(src_watch = '' AND dst_watch != '', dst_ip, src_ip)) AS h
         FROM flow_table_local WHERE src_watch != '' OR dst_watch != ''`,
      )
    ).map((rows) => new Set(rows.map((r) => r.h)));
    return { flows: await count('flow_table'), detections: await count('detections'), hosts };
  } finally {
    await store.close();
  }
}

/**
 * The capture ingested again replaces its first copy: the old rows are deleted on each shard
 * (ALTER … DELETE on the local tables, waited for on each), nothing counts twice. The outputs
 * without flow ids (a new connection claims new ids) stay DuckDB's.
 */
async function reingest(db: string, cluster: string): Promise<void> {
  const want = await duckdb();
  const store = await openFlowStore(db, { cluster });
  try {
    const detection = await detectionHookFor(store);
    const enricher = await loadEnricher({ geo: true });
    assert.equal((await ingestFile(files[1], { store, enricher, hooks: [detection.hook] })).error, undefined);
  } finally {
    await store.close();
  }
  const again = await outputs(db, ['--cluster', cluster]);
  for (const i of [0, 1, 2, 5, 6, 8, 12]) assert.equal(again[i], want.out[i]);
  const after = await shards(db);
  assert.equal(
    after.flows.reduce((a, b) => a + b),
    want.flows,
  );
}

test(
  'the demo scenario: a two-shard cluster of clickhouse-server 18.16 gives the same, its rows on both shards',
  {
    skip: !haveServer() && 'clickhouse-server not installed (scripts/install-test-deps.sh)',
    timeout: 900_000,
  },
  async () => {
    cluster = await startCluster('two');
    await compare(cluster.url, 'two');
    const want = await duckdb();
    const s = await shards(cluster.url);
    assert.equal(s.flows.length, 2);
    assert.equal(
      s.flows.reduce((a, b) => a + b),
      want.flows,
    );
    for (const n of s.flows) assert.ok(n > want.flows / 10, `flows on each shard: ${s.flows.join(', ')}`);
    for (const n of s.detections) assert.ok(n > 0, `detections on each shard: ${s.detections.join(', ')}`);
    // One watched host's flows, either direction, on one shard only.
    const both = [...s.hosts[0]].filter((h) => s.hosts[1].has(h));
    assert.ok(s.hosts[0].size > 0 && s.hosts[1].size > 0, 'watched hosts on both shards');
    assert.deepEqual(both, []);
    // Any shard answers for the cluster: the second one's HTTP port gives the same output.
    const second = cluster.servers[1].url;
    assert.deepEqual(await outputs(second), await outputs(cluster.url, ['--cluster', 'two']));
    await reingest(cluster.url, 'two');
  },
);

test(
  'the demo scenario: chDB as a one-shard cluster (Distributed tables in-process) gives the same',
  { timeout: 600_000 },
  async (t) => {
    const missing = await haveChdb();
    if (missing) return t.skip(`chdb cannot load here: ${missing}`);
    // chDB has no cluster of its own; a config naming one whose only shard is this process (its
    // tcp_port) runs the same Distributed tables in place.
    const config = join(dir, 'chdb-cluster.xml');
    writeFileSync(
      config,
      '<clickhouse><tcp_port>9000</tcp_port><remote_servers><one><shard><replica><host>127.0.0.1</host><port>9000</port></replica></shard></one></remote_servers></clickhouse>',
    );
    const db = `chdb:${join(dir, 'chdb-cluster')}?config=${config}`;
    await compare(db, 'one');
    const s = await shards(db);
    assert.deepEqual(s.flows, [(await duckdb()).flows]);
    await reingest(db, 'one');
  },
);
