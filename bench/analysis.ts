// Benchmark of the analysis area: generator throughput, NetFlow v9 export, and the daily series +
// surge over a DuckDB store of many flows; nfdump (the peer) reads the same flows in the same run.
//   node --import tsx bench/analysis.ts [--days 7] [--hosts 120] [--store-flows 50000000]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { surgeOfBuckets } from '../src/analysis/series.js';
import { loadEnricher } from '../src/cli/enricher.js';
import { Progress } from '../src/cli/progress.js';
import { Diagnostics } from '../src/flow/diagnostics.js';
import { openFlowStore } from '../src/store/open.js';
import { flowBatches } from '../src/scenario/generate.js';
import { replay } from '../src/scenario/replay.js';
import { buildWorld, CRYPTO_PORTS, defaultConfig } from '../src/scenario/world.js';
import { writeScenario } from '../src/scenario/write.js';
import { DuckDbDatabase } from '../src/store/duckdb/database.js';
import { DuckDbSeries } from '../src/store/duckdb/series.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const days = arg('days', 7);
const hosts = arg('hosts', 120);
const storeFlows = arg('store-flows', 50_000_000);
const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'cr-bench-'));
const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

try {
  const cfg = defaultConfig({
    seed: 7,
    days,
    hosts,
    startMs: Date.UTC(2017, 4, 14),
    onsetMs: Date.UTC(2017, 4, 17),
  });
  // 1. Generator: FlowBatch in time order.
  let t = performance.now();
  let flows = 0;
  for (const b of flowBatches(buildWorld(cfg))) flows += b.length;
  const genS = (performance.now() - t) / 1000;
  console.log(`generator: ${fmt(flows)} flows in ${genS.toFixed(2)} s = ${fmt(flows / genS)} flows/s`);
  // 2. Generator + NetFlow v9 encoding + export pcap.
  t = performance.now();
  const s = writeScenario(buildWorld(cfg), join(dir, 'v9'), { format: 'netflow9' });
  const encS = (performance.now() - t) / 1000;
  console.log(
    `generate + v9 export: ${fmt(s.records)} records in ${fmt(s.datagrams)} datagrams, ${encS.toFixed(2)} s = ${fmt(s.records / encS)} records/s`,
  );
  // 3. Peer: nfcapd collects the replayed datagrams; nfdump reads the file back (full scan).
  let nfdumpRate = 0;
  let nfFile = '';
  if (have('nfcapd') && have('nfdump')) {
    const out = join(dir, 'nfc');
    spawnSync('mkdir', ['-p', out]);
    const nf = spawn(
      'nfcapd',
      ['-w', out, '-p', '29555', '-b', '127.0.0.1', '-t', '86400', '-B', '8388608'],
      { stdio: 'ignore' },
    );
    await new Promise((r) => setTimeout(r, 800));
    const rp = await replay(join(dir, 'v9', 'export.pcap'), { host: '127.0.0.1', port: 29555 }, 200000);
    await new Promise((r) => setTimeout(r, 1000));
    nf.kill('SIGTERM');
    await new Promise((r) => nf.once('exit', r));
    nfFile = join(
      out,
      readdirSync(out).find((f) => f.startsWith('nfcapd.2'))!,
    );
    const info = spawnSync('nfdump', ['-r', nfFile, '-I'], { encoding: 'utf8' }).stdout;
    const got = Number(/^Flows: (\d+)/m.exec(info)?.[1]);
    t = performance.now();
    spawnSync('nfdump', ['-r', nfFile, '-o', 'null'], { stdio: 'ignore' });
    const nfS = (performance.now() - t) / 1000;
    nfdumpRate = got / nfS;
    console.log(
      `replay: ${fmt(rp.records)} records at ${fmt(rp.records / rp.seconds)}/s; nfcapd kept ${fmt(got)}`,
    );
    console.log(
      `peer nfdump -r FILE -o null: ${fmt(got)} records in ${nfS.toFixed(2)} s = ${fmt(nfdumpRate)} records/s`,
    );
    console.log(`ratio generator+v9 encode / nfdump read: ${(s.records / encS / nfdumpRate).toFixed(2)}`);
  } else console.log('nfcapd/nfdump not installed: no peer figures');

  // 4. Store: generate flows straight into the DuckDB flow store through the pipeline's own path
  //    (enrich with geo + watchlists, FlowStore append), then the daily crypto-port series and surge.
  const perHostDay = flows / (hosts * days);
  const bigHosts = Math.min(1500, Math.max(50, Math.ceil(Math.sqrt(storeFlows / perHostDay / 1.3))));
  // The small world under-predicts a long one (weekends, outages, ramp): aim 15 % high.
  const bigDays = Math.max(14, Math.ceil((storeFlows * 1.15) / perHostDay / bigHosts));
  const big = defaultConfig({
    seed: 8,
    hosts: bigHosts,
    days: bigDays,
    startMs: Date.UTC(2017, 3, 1),
    onsetMs: Date.UTC(2017, 3, 1) + Math.floor(bigDays / 2) * 86400000,
    miners: 20,
  });
  const enricher = await loadEnricher({ geo: true });
  const store = await openFlowStore(join(dir, 'bench.duckdb'));
  const w = await store.beginSource({ name: 'bench-world', kind: 'scenario' });
  const progress = new Progress('generate + enrich + store', storeFlows);
  let n = 0;
  let tGen = 0;
  let tEnrich = 0;
  let tStore = 0;
  t = performance.now();
  const gen = flowBatches(buildWorld(big))[Symbol.iterator]();
  for (;;) {
    const ta = performance.now();
    const next = gen.next();
    const tb = performance.now();
    tGen += tb - ta;
    if (next.done) break;
    const b = next.value;
    const e = enricher.enrich(b);
    const tc = performance.now();
    await w.append(b, e);
    tEnrich += tc - tb;
    tStore += performance.now() - tc;
    n += b.length;
    progress.update(n);
  }
  const tc = performance.now();
  await w.commit(new Diagnostics());
  const tCommit = performance.now() - tc;
  progress.done();
  await store.close();
  const loadS = (performance.now() - t) / 1000;
  console.log(
    `store world: ${bigHosts} hosts × ${bigDays} days = ${fmt(n)} flows in ${loadS.toFixed(1)} s = ${fmt(n / loadS)} flows/s ` +
      `(generate ${(tGen / 1000).toFixed(1)} s, enrich ${(tEnrich / 1000).toFixed(1)} s, DuckDB append ${(tStore / 1000).toFixed(1)} s, commit ${(tCommit / 1000).toFixed(1)} s; ` +
      `file ${(statSync(join(dir, 'bench.duckdb')).size / 1e9).toFixed(2)} GB)`,
  );
  const db = await DuckDbDatabase.open(join(dir, 'bench.duckdb'));
  const series = new DuckDbSeries(db);
  t = performance.now();
  const d = await series.series({ bucket: 'day', scope: { country: 'KP', dstPorts: CRYPTO_PORTS } });
  const qS = (performance.now() - t) / 1000;
  t = performance.now();
  const r = surgeOfBuckets('crypto ports', d);
  const sS = (performance.now() - t) / 1000;
  const inc = r.changes.find((c) => c.kind === 'increase');
  console.log(
    `daily series (country KP, crypto ports; two scans incl. observed buckets) over ${fmt(n)} flows: ${qS.toFixed(2)} s = ${fmt(n / qS)} flows/s; surge ${(sS * 1000).toFixed(1)} ms`,
  );
  console.log(
    `  onset found ${inc?.onset.slice(0, 10) ?? 'none'} (truth ${new Date(big.onsetMs!).toISOString().slice(0, 10)}), shape ${inc?.shape ?? '-'}`,
  );
  // More of the queries an investigation runs, each timed on its own.
  const timed = async (name: string, f: () => Promise<unknown>) => {
    const t0 = performance.now();
    await f();
    console.log(`  ${name}: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  };
  console.log(`queries over ${fmt(n)} stored flows:`);
  await timed('hourly series, watchlist kp, all flows', () =>
    series.series({ bucket: 'hour', scope: { watch: 'kp' } }),
  );
  await timed('top hosts of country KP on crypto ports', () =>
    series.topHosts({ country: 'KP' }, CRYPTO_PORTS, [], 20),
  );
  const [busiest] = await series.topHosts({ country: 'KP' }, CRYPTO_PORTS, [], 1);
  if (busiest)
    await timed(`daily series of one host (${busiest.host})`, () =>
      series.series({ bucket: 'day', scope: { host: busiest.host } }),
    );
  db.close();
  if (nfFile) {
    // Peer on the step-3 file: the same filter (crypto server ports) as a statistic.
    const filter = `dst port in [ ${CRYPTO_PORTS.join(' ')} ]`;
    t = performance.now();
    spawnSync('nfdump', ['-r', nfFile, '-q', '-s', 'dstport/flows', filter], { stdio: 'ignore' });
    const pS = (performance.now() - t) / 1000;
    const info = spawnSync('nfdump', ['-r', nfFile, '-I'], { encoding: 'utf8' }).stdout;
    const got = Number(/^Flows: (\d+)/m.exec(info)?.[1]);
    console.log(
      `peer nfdump -s dstport/flows '${filter}': ${fmt(got)} records in ${pS.toFixed(2)} s = ${fmt(got / pS)} records/s`,
    );
    console.log(
      `ratio DuckDB series / nfdump filtered statistic (flows/s): ${(n / qS / (got / pS)).toFixed(2)}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
