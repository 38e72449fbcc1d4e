/**
 * The main job on the embedded default: the 2017 case, end to end, on this machine alone.
 * 1. the real captures in test/fixtures are ingested and their crypto traffic detected;
 * 2. the 2017 scenario (North Korean address space, background from 1 April, Bitcoin and Monero
 *    mining from 17 May with an exponential ramp, 90 days) is generated, replayed as NetFlow v9
 *    over loopback UDP into the live collector, enriched and detected as it arrives, plus a packet
 *    capture of a sample of hosts (Stratum payloads → wallets);
 * 3. series, surge, hosts, estimates and the report (HTML + Markdown) are built from the store, and
 *    the headline is checked against the scenario's ground truth.
 */
import type { Command } from 'commander';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectionHookFor } from '../detect/pipeline.js';
import { formatProblem } from '../flow/diagnostics.js';
import { ingestFile } from '../flow/ingest.js';
import '../flow/all-formats.js';
import { NetflowCollector } from '../netflow/collector.js';
import { buildReport } from '../report/build.js';
import { screenReportWallets } from '../report/screen-wallets.js';
import { Diagnostics } from '../flow/diagnostics.js';
import { loadListFiles } from '../sanctions/load.js';
import { openSanctionsStore } from '../store/sanctions.js';
import { renderHtml, renderMarkdown } from '../report/render.js';
import { replay } from '../scenario/replay.js';
import { buildWorld, defaultConfig } from '../scenario/world.js';
import { writeScenario } from '../scenario/write.js';
import { DuckDbSeries } from '../store/duckdb/series.js';
import { openFlowStore } from '../store/open.js';
import type { FlowStore } from '../store/store.js';
import { loadEnricher } from './enricher.js';
import { ApiKeyFile, keysPathFor } from '../server/keys.js';
import { Progress } from './progress.js';
import { formatSummary } from './summary.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function captures(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, name.name);
    if (name.isDirectory()) out.push(...captures(p));
    else if (/\.pcap(ng)?$/.test(name.name)) out.push(p);
  }
  return out.sort();
}

function fresh(path: string): void {
  rmSync(path, { force: true });
  rmSync(`${path}.wal`, { force: true });
}

const say = (s: string) => process.stdout.write(s + '\n');

interface DemoOptions {
  out: string;
  hosts: string;
  seed: string;
  rate: string;
}

/** Part 1: the real captures shipped with the project. */
async function realCaptures(db: string): Promise<void> {
  fresh(db);
  const dir = join(ROOT, 'test', 'fixtures', 'pcap');
  if (!existsSync(dir)) throw new Error(`no captures at ${dir}`);
  const files = captures(dir);
  const store = await openFlowStore(db);
  const enricher = await loadEnricher({ geo: true });
  const detection = await detectionHookFor(store);
  const progress = new Progress('real captures', files.length);
  let flows = 0;
  let problems = 0;
  const named: string[] = [];
  try {
    for (const [k, f] of files.entries()) {
      progress.update(k, relative(ROOT, f));
      const r = await ingestFile(f, { store, enricher, hooks: [detection.hook] });
      flows += r.flows;
      problems += r.diagnostics.get('problems');
      for (const p of r.diagnostics.problems)
        named.push(formatProblem({ ...p, source: relative(ROOT, p.source) }));
      if (r.error) process.stderr.write(`warning: ${r.error}\n`);
    }
    progress.done();
    say(
      `== 1. Real captures: ${files.length} files in test/fixtures/pcap → ${flows} flows, ${problems} input problems`,
    );
    for (const line of named.slice(0, 5)) say(`problem: ${line}`);
    say(`detections: ${detection.summary()}`);
    say(`database: ${db}`);
    say('');
    say(formatSummary(await store.summary({ top: 5 })));
  } finally {
    await store.close();
  }
}

/** Replay export datagrams into a live collector in this process and wait until all are stored. */
async function collectReplay(
  store: FlowStore,
  exportPcap: string,
  rate: number,
  hook: Parameters<typeof NetflowCollector.start>[0]['hooks'],
): Promise<{ sent: number; stored: number; seconds: number; problems: number }> {
  const enricher = await loadEnricher({ geo: true });
  const collector = await NetflowCollector.start({
    listen: 'udp://127.0.0.1:0',
    store,
    enricher,
    hooks: hook,
    // The receiver thread must win the CPU over storing, or the kernel drops datagrams (see netflow docs).
    storeNice: 10,
    // A replay must arrive whole: the backlog may grow (memory, not dropped datagrams), unlike
    // `coinradar collect`, whose bound keeps its crash-loss promise (docs/netflow.md).
    maxBacklogBatches: 1 << 20,
    backlogMs: Infinity,
    onProblem: (p) => process.stderr.write(`warning: ${formatProblem(p)}\n`),
  });
  const t0 = Date.now();
  const progress = new Progress(`NetFlow v9 → ${collector.source}`);
  // Paced by what the receiver has read, not only by the clock: on a loaded machine a fixed rate
  // can outrun it and the kernel drops datagrams (a CI run lost 1,366 of 2.2 M records). At most half the
  // granted buffer in flight, counting 4 KiB of kernel memory per datagram (Linux reports double).
  const window = {
    read: () => collector.datagramsRead(),
    datagrams: Math.max(16, Math.floor(collector.recvBuffer / 8192)),
  };
  const sent = await replay(
    exportPcap,
    { host: '127.0.0.1', port: collector.port },
    rate,
    (r) => progress.update(r.records, `${r.records} records sent, ${collector.flows} stored`),
    window,
  );
  // Wait for the collector to store what was sent (it stops waiting once nothing moves for 5 s).
  let last = -1;
  let still = 0;
  while (collector.flows < sent.records && still < 50) {
    progress.update(collector.flows, `${sent.records} records sent, ${collector.flows} stored`);
    await new Promise((r) => setTimeout(r, 100));
    still = collector.flows === last ? still + 1 : 0;
    last = collector.flows;
  }
  await collector.stop();
  const r = await collector.done;
  progress.done();
  return {
    sent: sent.records,
    stored: r.flows,
    seconds: (Date.now() - t0) / 1000,
    problems: r.diagnostics.get('problems'),
  };
}

async function loadShippedSanctions(db: string): Promise<void> {
  const dir = join(ROOT, 'test', 'fixtures', 'sanctions');
  const store = await openSanctionsStore(db);
  try {
    // The files carry no date; the months are those of ../shared/data/README.md.
    for (const [files, published] of [
      [['sdn.csv', 'add.csv', 'alt.csv'].map((f) => join(dir, f)), '2022-01'],
      [[join(dir, 'ofac-address-lists-2024-09')], '2024-09'],
    ] as const) {
      await store.saveVersion(await loadListFiles([...files], { published, diagnostics: new Diagnostics() }));
    }
  } finally {
    await store.close();
  }
}

/** Part 2: the 2017 scenario through the whole pipeline. */
async function investigation(o: DemoOptions, db: string): Promise<void> {
  const dir = join(o.out, 'scenario');
  rmSync(dir, { recursive: true, force: true });
  fresh(db);
  const config = defaultConfig({
    seed: Number(o.seed),
    startMs: Date.UTC(2017, 3, 1),
    days: 90,
    onsetMs: Date.UTC(2017, 4, 17),
    growth: 'exponential',
    hosts: Number(o.hosts),
  });
  const world = buildWorld(config);
  const t0 = Date.now();
  const progress = new Progress('generate 2017 scenario', config.days * 24);
  const exp = writeScenario(world, dir, { format: 'netflow9', onProgress: (d) => progress.update(d) });
  progress.done();
  // A packet capture of the miners and a few other hosts (first hours of each): the payload sample.
  const cap = writeScenario(world, join(dir, 'capture'), {
    format: 'pcap',
    captureHosts: 3,
    captureHours: 2,
  });
  say('');
  say(
    `== 2. The 2017 scenario: ${config.hosts} hosts in 175.45.176.0/22, 210.52.109.0/24, 77.94.35.0/24; ${exp.flows} flows → ${exp.records} NetFlow v9 records in ${exp.datagrams} datagrams, plus a ${cap.packets}-packet capture of ${cap.flows} flows (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );
  const truth = JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8')) as {
    onset: string | null;
    cryptoHosts: { ip: string; kind: string; coin: string; wallet?: string }[];
  };

  const store = await openFlowStore(db);
  try {
    const detection = await detectionHookFor(store);
    const c = await collectReplay(store, join(dir, 'export.pcap'), Number(o.rate), [detection.hook]);
    say(
      `collector: ${c.sent} records sent over loopback UDP, ${c.stored} stored (${c.sent === c.stored ? 'none lost' : `${c.sent - c.stored} lost`}), ${c.problems} problems, ${c.seconds.toFixed(1)} s`,
    );
    const r = await ingestFile(join(dir, 'capture', 'capture.pcap'), {
      store,
      enricher: await loadEnricher({ geo: true }),
      hooks: [detection.hook],
    });
    say(`payload sample: ${r.flows} flows from capture.pcap`);
    say(`detections: ${detection.summary()}`);
  } finally {
    await store.close();
  }

  const { series, close } = await DuckDbSeries.open(db);
  let report;
  try {
    report = await buildReport(series, {
      scope: { watch: 'kp' },
      scopeText: 'watchlist kp (North Korea: 175.45.176.0/22, 210.52.109.0/24, 77.94.35.0/24)',
      scopeArgs: `--db ${db} --scope watch:kp`,
      title: 'North Korea, April–June 2017: cryptocurrency activity (synthetic replay)',
      // NetFlow has no payload: stratum comes from catalogued pools (infrastructure) and the payload
      // sample; port-only evidence has its own label and is never called mining.
      labels: ['stratum', 'crypto-port'],
    });
  } finally {
    await close();
  }
  // The OFAC lists shipped with the tests (January 2022 CSV, September 2024 address lists) go into
  // the same database; every wallet the report names is screened against them.
  await loadShippedSanctions(db);
  const screening = await screenReportWallets(db, report);
  const html = join(o.out, 'report.html');
  const md = join(o.out, 'report.md');
  writeFileSync(html, renderHtml(report));
  writeFileSync(md, renderMarkdown(report));
  writeFileSync(join(o.out, 'report.json'), JSON.stringify(report, null, 2) + '\n');

  // The headline, and how it compares with what the scenario put there.
  const pools = report.timelines.find((t) => t.label.startsWith('catalogued mining pools'));
  const onset = pools?.changes.find((x) => x.kind === 'increase');
  const miners = truth.cryptoHosts.filter((h) => h.kind === 'miner');
  const truthWallets = new Set(miners.map((m) => m.wallet).filter(Boolean));
  const foundWallets = report.wallets.filter((w) => truthWallets.has(w.wallet)).length;
  const minerIps = new Set(miners.map((m) => m.ip));
  const foundHosts = report.hosts.filter((h) => minerIps.has(h.host)).length;
  say('');
  say(`== 3. Report: ${resolve(html)} (also ${md})`);
  for (const f of report.findings) say(`- ${f}`);
  if (screening)
    say(
      `sanctions: ${screening.screened} wallets screened against ${screening.lists}: ${screening.listed.length} listed`,
    );
  say('');
  if (onset) {
    say(
      `headline: onset ${onset.onset.slice(0, 10)} (posterior ${onset.probability.toFixed(3)}, ${onset.shape}), ${report.hosts.length} hosts on crypto ports or pools, ${report.wallets.length} wallets from Stratum logins`,
    );
  } else say('headline: no onset found');
  say(
    `ground truth: onset ${truth.onset?.slice(0, 10) ?? 'none'}, ${miners.length} miners (${foundHosts} among the report's hosts), ${truthWallets.size} wallets (${foundWallets} found)`,
  );
}

export function register(program: Command): void {
  program
    .command('demo')
    .description(
      'the main job on the embedded default: real captures, then the 2017 North Korea scenario replayed as NetFlow v9 into the live collector → detection → series → surge → estimates → report',
    )
    .option('--out <dir>', 'output directory', 'out/demo')
    .option('--hosts <n>', 'hosts in the scenario address space', '14')
    .option('--seed <n>', 'scenario seed', '1')
    .option('--rate <n>', 'replay rate, NetFlow records per second (0 = unpaced)', '100000')
    .action(async (o: DemoOptions) => {
      const t0 = Date.now();
      mkdirSync(o.out, { recursive: true });
      await realCaptures(join(o.out, 'captures.duckdb'));
      const db = join(o.out, 'investigation.duckdb');
      await investigation(o, db);
      say(`demo finished in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      // One more command to see it in the console: a key for this store, made now.
      const { key } = new ApiKeyFile(keysPathFor(db)).create('demo');
      say(
        `console: coinradar serve --db ${db}   then open http://127.0.0.1:8787/ and sign in with the key ${key}`,
      );
    });
}
