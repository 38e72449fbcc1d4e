// Acceptance of `report` and `serve` on the ClickHouse engine: the demo's scenario ingested into
// DuckDB and into ClickHouse (Debian's server 18.16 on loopback, and chDB, a current release
// in-process) gives the same report — the model `report --json` writes, its Markdown and its HTML
// with the inline SVG charts — and the same answers from `serve`'s network routes over HTTP with an
// API key (/v1/series, /v1/summary, /v1/hosts, /v1/hosts/:ip with its sessions and detections,
// /v1/search, /v1/report) — and the same shared findings (`export stix|misp|zeek-intel`) and
// `estimate hashrate --host` for a miner of the scope. On ClickHouse the keys, audit log and sanctions lists live in the local
// state file (--state-db), and the key check holds as on DuckDB: no key or a wrong one is refused
// and audited there.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openScreeningServer, type ScreeningServer } from '../../src/cli/serve.js';
import { buildReport } from '../../src/report/build.js';
import type { InvestigationReport } from '../../src/report/model.js';
import { auditPathFor } from '../../src/server/audit.js';
import { ApiKeyFile, keysPathFor } from '../../src/server/keys.js';
import { openFlowStore } from '../../src/store/open.js';
import { redact } from '../../src/store/clickhouse/connection.js';
import { openNetworkReader } from '../../src/store/reader.js';
import { runCli } from '../cli-run.js';
import { writeDemoFiles } from '../helpers/demo-files.js';
import { readAudit } from '../server/fixture.js';
import { ingestDemo } from './clickhouse-demo.js';
import {
  haveChdb,
  haveServer,
  PASSWORD,
  startCluster,
  startServer,
  type RunningCluster,
  type RunningServer,
} from './clickhouse-server.js';

const dir = mkdtempSync(join(tmpdir(), 'coinradar-ch-serve-'));
const LISTS = ['sdn.csv', 'add.csv', 'alt.csv'].map((f) => join('test/fixtures/sanctions', f));
let server: RunningServer | null = null;
let cluster: RunningCluster | null = null;
after(async () => {
  await server?.stop();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

let files: string[] = [];
before(() => {
  files = writeDemoFiles(dir, 1);
});

/** Times of this run (the report's generatedAt) in a text: the scenario's own are 2017's. */
const NOW = /20[2-9]\d-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g;
const withoutNow = (text: string) => text.replace(NOW, '<now>');
const escape = (s: string) => s.replace(/[^\w]/g, '\\$&');

interface Engine {
  db: string;
  /** Where keys, audit and lists are: the DuckDB file itself, or the ClickHouse store's state file. */
  state: string;
  flows: number;
}

let duck: Promise<Engine> | null = null;
function duckdb(): Promise<Engine> {
  duck ??= (async () => {
    const db = join(dir, 'scenario.duckdb');
    const flows = await ingestDemo(db, files);
    await runCli(['sanctions', 'load', '--db', db, ...LISTS]);
    return { db, state: db, flows };
  })();
  return duck;
}

async function clickhouse(db: string, name: string, cluster?: string): Promise<Engine> {
  const flows = await ingestDemo(db, files, cluster);
  const state = join(dir, `${name}-state.duckdb`);
  await runCli(['sanctions', 'load', '--db', state, ...LISTS]);
  return { db: cluster ? `${db}${db.includes('?') ? '&' : '?'}cluster=${cluster}` : db, state, flows };
}

/** The report as `coinradar report` writes it: the JSON model, Markdown and HTML, generation time masked. */
async function reportFiles(
  e: Engine,
  name: string,
): Promise<{ out: string; json: string; md: string; html: string }> {
  const base = join(dir, `report-${name}`);
  const r = await runCli([
    'report',
    '--db',
    e.db,
    '--state-db',
    e.state,
    '--scope',
    'watch:kp',
    '--labels',
    'stratum,crypto-port',
    '--out',
    `${base}.html`,
    '--markdown',
    `${base}.md`,
    '--json',
    `${base}.json`,
  ]);
  // The evidence table's commands name the store (redacted), which differs between the engines.
  const read = (ext: string) =>
    withoutNow(readFileSync(`${base}.${ext}`, 'utf8')).replaceAll(redact(e.db), '<db>');
  assert.doesNotMatch(read('html'), new RegExp(escape(PASSWORD)));
  return { out: r.out.replaceAll(base, '<out>'), json: read('json'), md: read('md'), html: read('html') };
}

/**
 * The shared findings as `coinradar export` writes them (STIX 2.1, MISP, Zeek Intel) and
 * `coinradar estimate --host` for a miner of the scope, the store's name masked.
 */
async function exportsOf(e: Engine, name: string, host: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const format of ['stix', 'misp', 'zeek-intel']) {
    const file = join(dir, `export-${name}.${format}`);
    const r = await runCli(['export', format, '--db', e.db, '--scope', 'watch:kp', '-o', file]);
    assert.equal(r.exitCode, 0, r.err);
    out[format] = withoutNow(readFileSync(file, 'utf8')).replaceAll(redact(e.db), '<db>');
    out[`${format} line`] = r.err.replaceAll(file, '<out>');
  }
  const est = await runCli(['estimate', 'hashrate', '--db', e.db, '--host', host, '--format', 'json']);
  assert.equal(est.exitCode, 0, est.err);
  out.estimate = est.out;
  return out;
}

/** buildReport's model straight from the engine's reader (another scope than the CLI's). */
async function reportModel(db: string): Promise<InvestigationReport> {
  const store = await openFlowStore(db);
  try {
    const r = await buildReport(await openNetworkReader(store), {
      scope: { country: 'KP' },
      scopeText: 'country:KP',
      scopeArgs: '--scope country:KP',
      fromMs: Date.UTC(2017, 4, 10),
      toMs: Date.UTC(2017, 4, 31),
    });
    return { ...r, generatedAt: '<now>' };
  } finally {
    await store.close();
  }
}

interface Served {
  server: ScreeningServer;
  base: string;
  key: string;
}

async function serve(e: Engine): Promise<Served> {
  const { key } = new ApiKeyFile(keysPathFor(e.state)).create('analyst');
  const server = await openScreeningServer({ db: e.db, stateDb: e.state, consoleDir: null, rate: 0 });
  try {
    const addr = await server.app.listen({ host: '127.0.0.1', port: 0 });
    return { server, base: addr, key };
  } catch (err) {
    await server.close();
    throw err;
  }
}

async function get(s: Served, path: string, key: string | null = s.key) {
  const r = await fetch(`${s.base}${path}`, { headers: key === null ? {} : { 'x-api-key': key } });
  const text = await r.text();
  return { status: r.status, type: r.headers.get('content-type'), text };
}

/** The network routes asked, with paths that name hosts and a wallet from DuckDB's answers. */
async function routes(s: Served): Promise<string[]> {
  const hosts = JSON.parse((await get(s, '/v1/hosts?scope=watch:kp')).text).hosts as {
    host: string;
    wallets: string[];
  }[];
  assert.ok(hosts.length >= 5, `hosts in scope: ${hosts.length}`);
  const wallet = hosts.find((h) => h.wallets.length > 0)?.wallets[0];
  assert.ok(wallet, 'a host with a wallet from its Stratum login');
  const q = encodeURIComponent;
  return [
    '/v1/series?scope=watch:kp',
    '/v1/series',
    '/v1/series?scope=watch:kp&bucket=hour&since=2017-05-16&until=2017-05-19',
    '/v1/series?scope=cidr:175.45.176.0/22',
    '/v1/summary',
    '/v1/summary?scope=watch:kp&by=country&by=asn&by=dport&by=src&by=dst&top=8',
    '/v1/summary?scope=country:KP&order=bytes',
    '/v1/summary?scope=label:stratum&by=dport',
    `/v1/summary?scope=${q('cidr:175.45.176.0/22')}&by=src`,
    '/v1/hosts?scope=watch:kp',
    '/v1/hosts?scope=watch:kp&minConfidence=infrastructure&format=csv',
    '/v1/hosts?scope=country:KP&since=2017-05-20&until=2017-05-25&limit=5',
    `/v1/hosts?scope=${q('cidr:175.45.176.0/22')}`,
    ...hosts.slice(0, 4).map((h) => `/v1/hosts/${q(h.host)}`),
    `/v1/hosts/${q(hosts[hosts.length - 1].host)}`,
    '/v1/hosts/192.0.2.1',
    `/v1/search?q=${q(wallet)}`,
    `/v1/search?q=${q(hosts[0].host)}`,
    '/v1/search?q=KP',
    '/v1/search?q=175.45.176.0/22',
    '/v1/search?q=nanopool',
    '/v1/report?scope=watch:kp',
    '/v1/series?scope=cidr:999.1.1.1/8',
  ];
}

async function answers(s: Served, paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const r = await get(s, p);
    out.push(`GET ${p}\n${r.status} ${r.type}\n${withoutNow(r.text)}`);
  }
  return out;
}

let want: Promise<{
  report: Awaited<ReturnType<typeof reportFiles>>;
  model: InvestigationReport;
  exports: Record<string, string>;
  miner: string;
  paths: string[];
  answers: string[];
  /** How long the routes took on DuckDB. */
  ms: number;
}> | null = null;
function duckdbAnswers() {
  want ??= (async () => {
    const e = await duckdb();
    const report = await reportFiles(e, 'duckdb');
    const model = await reportModel(e.db);
    // A host of the scope with a Stratum login: its estimate from the flow counters.
    const miner = (JSON.parse(report.json) as InvestigationReport).wallets[0]?.hosts[0] ?? '';
    const exports = await exportsOf(e, 'duckdb', miner);
    const s = await serve(e);
    try {
      const paths = await routes(s);
      const t0 = performance.now();
      const a = await answers(s, paths);
      return { report, model, exports, miner, paths, answers: a, ms: performance.now() - t0 };
    } finally {
      await s.server.close();
    }
  })();
  return want;
}

/** Compare the engine at `e` with DuckDB; resolves to a line of how long the routes took on each. */
async function compare(e: Engine, name: string): Promise<string> {
  const w = await duckdbAnswers();
  assert.equal(e.flows, (await duckdb()).flows);
  // Not vacuous: the report found the onset, hosts, pools and wallets; the routes answered.
  const model = JSON.parse(w.report.json) as InvestigationReport;
  assert.ok(
    model.timelines.some((t) => t.changes.some((c) => c.kind === 'increase')),
    'a surge',
  );
  assert.ok(model.hosts.length > 0 && model.pools.length > 0 && model.wallets.length > 0, w.report.out);
  assert.ok(model.estimates.length > 0, 'per-miner estimates');
  assert.ok(
    model.wallets.every((x) => x.screening === 'not listed'),
    'wallets screened against the lists',
  );
  assert.ok(w.model.hosts.length > 0, 'hosts in the country:KP model');
  const host = w.answers.find((a) => a.startsWith('GET /v1/hosts/') && a.includes('"sessions":[{'));
  assert.ok(host && /"detections":\[\{/.test(host), 'a host page with sessions and detections');
  assert.ok(
    w.answers.some((a) => a.includes('"kind":"wallet"')),
    'search finds the wallet’s hosts',
  );
  w.paths.forEach((p, i) => {
    const status = p.endsWith('192.0.2.1') ? 404 : p.includes('999.1.1.1') ? 400 : 200;
    assert.match(w.answers[i], new RegExp(`\n${status} `), w.answers[i].slice(0, 300));
  });

  const got = await reportFiles(e, name.replace(/\W+/g, '-'));
  assert.equal(got.out, w.report.out);
  assert.equal(got.json, w.report.json);
  assert.equal(got.md, w.report.md);
  assert.equal(got.html, w.report.html);
  assert.deepEqual(await reportModel(e.db), w.model);
  // Not vacuous: indicators, sightings and wallets shared; the miner's hash rate estimated.
  assert.match(
    w.exports['stix line'],
    /[1-9]\d* indicators, [1-9]\d* infrastructure, [1-9]\d* sightings, .* [1-9]\d* wallets/,
  );
  assert.match(w.exports['misp line'], /[1-9]\d* attributes \(.*btc/);
  assert.match(
    w.exports.estimate,
    /"flows": [1-9]\d*,[^]*"hashrate": "[^"]*\d[^"]*H\/s"/,
    `${w.miner}: ${w.exports.estimate}`,
  );
  const exports = await exportsOf(e, name.replace(/\W+/g, '-'), w.miner);
  for (const k of Object.keys(w.exports)) assert.equal(exports[k], w.exports[k], `export ${k}`);

  const s = await serve(e);
  try {
    const t0 = performance.now();
    const mine = await answers(s, w.paths);
    const ms = performance.now() - t0;
    // Every route that differs named at once, then the first difference in full.
    const differ = w.paths.filter((_, i) => mine[i] !== w.answers[i]);
    const first = w.paths.findIndex((_, i) => mine[i] !== w.answers[i]);
    if (first >= 0) assert.equal(mine[first], w.answers[first], `differ: ${differ.join(', ')}`);
    await keyCheck(s, e);
    return `${w.paths.length} requests, one at a time: DuckDB ${Math.round(w.ms)} ms, ${name} ${Math.round(ms)} ms`;
  } finally {
    await s.server.close();
  }
}

/** The key check on a ClickHouse serve: no key and a wrong key refused (401), each audited. */
async function keyCheck(s: Served, e: Engine): Promise<void> {
  assert.match(s.server.summary, /network API and console on the store/);
  assert.doesNotMatch(s.server.summary, new RegExp(escape(PASSWORD)));
  for (const key of [null, 'crk_not-a-key']) {
    const r = await get(s, '/v1/hosts?scope=watch:kp', key);
    assert.equal(r.status, 401, r.text);
    assert.doesNotMatch(r.text, /175\.45\./);
  }
  assert.equal((await get(s, '/healthz', null)).status, 200);
  // nfdump filters compile to DuckDB SQL: refused here, never answered for every flow.
  const f = await get(s, '/v1/series?filter=dst%20port%203333');
  assert.equal(f.status, 400, f.text);
  assert.match(f.text, /not supported on a clickhouse store/);
  await s.server.audit.close();
  const audit = readAudit(auditPathFor(e.state));
  const refused = audit.filter((a) => a.status === 401 && a.route.startsWith('GET /v1/hosts?'));
  assert.deepEqual(
    refused.map((a) => a.key),
    ['none', 'invalid_api_key'],
    JSON.stringify(audit.slice(-3)),
  );
}

test(
  'report and serve on clickhouse-server 18.16 give DuckDB’s report and network answers',
  {
    skip: !haveServer() && 'clickhouse-server not installed (scripts/install-test-deps.sh)',
    timeout: 900_000,
  },
  async (t) => {
    server = await startServer();
    t.diagnostic(await compare(await clickhouse(server.url, 'server'), 'clickhouse-server 18.16'));
  },
);

test('report and serve on chDB (current ClickHouse) give the same', { timeout: 900_000 }, async (t) => {
  const missing = await haveChdb();
  if (missing) return t.skip(`chdb cannot load here: ${missing}`);
  t.diagnostic(await compare(await clickhouse(`chdb:${join(dir, 'chdb')}`, 'chdb'), 'chDB'));
});

test(
  'report and serve on a two-shard cluster of clickhouse-server 18.16 give the same',
  {
    skip: !haveServer() && 'clickhouse-server not installed (scripts/install-test-deps.sh)',
    timeout: 900_000,
  },
  async (t) => {
    cluster = await startCluster('two');
    t.diagnostic(await compare(await clickhouse(cluster.url, 'cluster', 'two'), 'two-shard cluster'));
  },
);
