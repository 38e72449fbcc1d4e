import { redact } from '../store/clickhouse/connection.js';
import type { Command } from 'commander';
import { join } from 'node:path';
import { parseUdpUrl, replay } from '../scenario/replay.js';
import { buildWorld, defaultConfig, type Growth } from '../scenario/world.js';
import { writeScenario, type ScenarioFormat } from '../scenario/write.js';
import { Progress } from './progress.js';
import { openFlowStore } from '../store/open.js';
import { loadWorldIntoStore } from '../scenario/store.js';

function day(v: string, name: string): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) throw new Error(`${name} must be a date like 2017-05-17, not ${v}`);
  return Date.parse(`${v}T00:00:00Z`);
}

function int(v: string, name: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, not ${v}`);
  return n;
}

interface GenerateOpts {
  out?: string;
  db?: string;
  seed: string;
  start: string;
  days: string;
  onset: string;
  growth: string;
  rampDays: string;
  hosts: string;
  miners: string;
  btcNodes: string;
  sampling: string;
  format: string;
  background: string;
  payloadHosts: string;
  captureHosts: string;
  captureHours: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('scenario')
    .description('generate and replay a synthetic national network with (optional) crypto activity');
  cmd
    .command('generate')
    .description('write export datagrams (or a capture) and the ground truth to a directory')
    .option('--out <dir>', 'output directory (export or capture files and the ground truth)')
    .option('--db <file>', 'also load the flows straight into this store (no export/decode round trip)')
    .option('--seed <n>', 'random seed', '1')
    .option('--start <date>', 'first day (UTC)', '2017-04-01')
    .option('--days <n>', 'number of days', '90')
    .option('--onset <date|none>', 'first day of crypto activity', '2017-05-17')
    .option('--growth <shape>', 'step | linear | exponential', 'exponential')
    .option('--ramp-days <n>', 'days until every crypto host is active', '30')
    .option('--hosts <n>', 'hosts in the address space', '120')
    .option('--miners <n>', 'Stratum miners once ramped', '12')
    .option('--btc-nodes <n>', 'Bitcoin P2P nodes once ramped', '2')
    .option('--sampling <n>', '1:N packet sampling', '1')
    .option('--format <f>', 'netflow9 | ipfix (export.pcap) | pcap (capture.pcap with payloads)', 'netflow9')
    .option('--background <x>', 'scale of ordinary flows on crypto ports', '1')
    .option('--payload-hosts <fraction>', 'share of hosts whose flows carry payload samples', '0')
    .option('--capture-hosts <n>', 'pcap format: background hosts captured besides the miners', '3')
    .option('--capture-hours <n>', 'pcap format: hours captured from each miner start / the onset', '2')
    .action(async (o: GenerateOpts) => {
      const growth = o.growth as Growth;
      if (!['step', 'linear', 'exponential'].includes(growth))
        throw new Error(`--growth must be step, linear or exponential, not ${o.growth}`);
      const format = o.format as ScenarioFormat;
      if (!['netflow9', 'ipfix', 'pcap'].includes(format))
        throw new Error(`--format must be netflow9, ipfix or pcap, not ${o.format}`);
      const config = defaultConfig({
        seed: int(o.seed, '--seed', 0),
        startMs: day(o.start, '--start'),
        days: int(o.days, '--days', 1),
        onsetMs: o.onset === 'none' ? null : day(o.onset, '--onset'),
        growth,
        rampDays: int(o.rampDays, '--ramp-days', 0),
        hosts: int(o.hosts, '--hosts', 1),
        miners: int(o.miners, '--miners', 0),
        btcNodes: int(o.btcNodes, '--btc-nodes', 0),
        sampling: int(o.sampling, '--sampling', 1),
        cryptoPortBackground: Number(o.background),
        payloadHosts: Number(o.payloadHosts),
      });
      if (!o.out && !o.db) throw new Error('give --out DIR, --db FILE or both');
      const world = buildWorld(config);
      if (o.db) {
        const store = await openFlowStore(o.db);
        try {
          const progress = new Progress(`scenario → ${redact(o.db)}`);
          const n = await loadWorldIntoStore(world, store, (k) => progress.update(k, `${k} flows`));
          progress.done();
          process.stdout.write(`${redact(o.db)}: ${n} flows stored (source scenario:seed=${config.seed})\n`);
        } finally {
          await store.close();
        }
      }
      if (!o.out) return;
      const out = o.out;
      const progress = new Progress(`scenario ${out}`, config.days * 24);
      const t0 = Date.now();
      const s = writeScenario(world, out, {
        format,
        captureHosts: int(o.captureHosts, '--capture-hosts', 0),
        captureHours: Number(o.captureHours),
        onProgress: (d) => progress.update(d),
      });
      progress.done();
      const secs = (Date.now() - t0) / 1000;
      process.stdout.write(
        `${out}: ${s.flows} flows, ${s.records} export records in ${s.datagrams} datagrams, ${s.packets} packets (${s.files.join(', ')}) in ${secs.toFixed(1)} s\n` +
          `ground truth: ${join(out, 'truth.json')} (${world.crypto.length} crypto hosts${config.onsetMs === null ? ', no onset' : `, onset ${o.onset}`})\n`,
      );
    });
  cmd
    .command('replay')
    .description("send a generated scenario's export datagrams to a collector over UDP")
    .argument('<dir>', 'directory written by scenario generate')
    .requiredOption('--to <url>', 'collector, e.g. udp://127.0.0.1:2055')
    .option('--rate <n>', 'flow records per second (0 = as fast as possible)', '0')
    .action(async (dir: string, o: { to: string; rate: string }) => {
      const target = parseUdpUrl(o.to);
      const progress = new Progress(`replay ${dir}`);
      const r = await replay(join(dir, 'export.pcap'), target, Number(o.rate), (x) =>
        progress.update(x.records, `${x.datagrams} datagrams, ${x.records} records`),
      );
      progress.done();
      process.stdout.write(
        `${r.datagrams} datagrams, ${r.records} records sent to ${o.to} in ${r.seconds.toFixed(1)} s\n`,
      );
    });
}
