/**
 * nfcapd file reading: coinradar's reader against `nfdump -r FILE -o csv > /dev/null` (and `-o null`,
 * nfdump reading without printing) on the same files, one per block compression, in the same run.
 * The files are real: nfcapd (Debian's 1.7.1) receives the same generated NetFlow v9 stream over
 * loopback once per compression (none, -z LZO, -y LZ4, -j BZ2). Each timing is the median of 3 runs.
 *   ours, decode: readNfcapd to FlowBatches (what `ingest` does before enrichment and storing)
 *   ours, ingest: ingestFile into an in-memory DuckDB store, no geo, no detection
 * Usage: node --import tsx bench/nfcapd.ts [flows=1000000]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Diagnostics } from '../src/flow/diagnostics.js';
import { ingestFile } from '../src/flow/ingest.js';
import { benchV9Stream } from '../src/netflow/encode.js';
import { readNfcapd } from '../src/netflow/nfcapd.js';
import { openFlowStore } from '../src/store/open.js';

const FLOWS = Number(process.argv[2] ?? 1_000_000);
const PER_DATAGRAM = 30;
const RUNS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

if (spawnSync('sh', ['-c', 'command -v nfcapd && command -v nfdump']).status !== 0) {
  process.stdout.write('nfcapd/nfdump not installed: this benchmark needs them (apt-get install nfdump)\n');
  process.exit(0);
}

async function capture(dir: string, flag: string[], stream: Buffer[]): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const port = 39000 + Math.floor(Math.random() * 1000);
  const p: ChildProcess = spawn(
    'nfcapd',
    ['-w', dir, '-p', String(port), '-b', '127.0.0.1', '-t', '3600', '-B', '4194304', ...flag],
    { stdio: 'ignore' },
  );
  for (let k = 0; k < 100 && !readdirSync(dir).some((f) => f.startsWith('nfcapd.current')); k++)
    await sleep(20);
  await sleep(100);
  const sock = createSocket('udp4');
  // nfcapd only reads from a socket: send as fast as it stays lossless (yield every 64 datagrams;
  // with -j nfcapd compresses with bzip2 on its receiving path and loses most of an unpaced stream,
  // so that one is paced at 2 ms per 16 datagrams).
  const bz2 = flag.includes('-j');
  for (let k = 0; k < stream.length; k++) {
    await new Promise<void>((res) => sock.send(stream[k], port, '127.0.0.1', () => res()));
    if (bz2 ? k % 16 === 15 : k % 64 === 63) await sleep(bz2 ? 2 : 0);
  }
  sock.close();
  await sleep(200);
  p.kill('SIGTERM');
  if (p.exitCode === null) await new Promise((r) => p.once('exit', r));
  const [file] = readdirSync(dir).filter((f) => /^nfcapd\.\d{12}$/.test(f));
  return join(dir, file);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timed(fn: () => Promise<number>): Promise<{ seconds: number; flows: number }> {
  const times: number[] = [];
  let flows = 0;
  for (let k = 0; k < RUNS; k++) {
    const t0 = performance.now();
    flows = await fn();
    times.push((performance.now() - t0) / 1000);
  }
  return { seconds: median(times), flows };
}

async function oursDecode(file: string): Promise<number> {
  let n = 0;
  const d = new Diagnostics();
  for await (const b of readNfcapd(file, { diagnostics: d })) n += b.length;
  if (d.get('problems')) throw new Error(`${file}: ${d.summary()}`);
  return n;
}

async function oursIngest(file: string): Promise<number> {
  const store = await openFlowStore(':memory:');
  try {
    const r = await ingestFile(file, { store });
    if (r.error) throw new Error(r.error);
    return r.flows;
  } finally {
    await store.close();
  }
}

function nfdump(file: string, output: 'csv' | 'null'): Promise<number> {
  // -o csv to /dev/null (the shell's redirect, as a user runs it); -o null prints nothing.
  const r = spawnSync('sh', ['-c', `nfdump -r '${file}' -o ${output} > /dev/null`], {
    env: { ...process.env, TZ: 'UTC' },
  });
  if (r.status !== 0) throw new Error(`nfdump -r ${file} failed: ${r.stderr}`);
  return Promise.resolve(-1);
}

function nfdumpFlows(file: string): number {
  const r = spawnSync('nfdump', ['-r', file, '-o', 'null'], { encoding: 'utf8' });
  const m = /total flows: (\d+)/.exec(r.stdout);
  if (!m) throw new Error(`nfdump summary not found: ${r.stdout.slice(-300)}`);
  return Number(m[1]);
}

const dir = mkdtempSync(join(tmpdir(), 'cr-bench-nfcapd-'));
try {
  process.stdout.write(
    `nfcapd files: ${fmt(FLOWS)} flows of NetFlow v9 into nfcapd 1.7.1 per compression; load average at start ${load()}\n`,
  );
  const stream = [...benchV9Stream(Math.ceil(FLOWS / PER_DATAGRAM), PER_DATAGRAM)];
  for (const [name, flag] of [
    ['uncompressed', []],
    ['LZO (-z)', ['-z']],
    ['LZ4 (-y)', ['-y']],
    ['BZ2 (-j)', ['-j']],
  ] as const) {
    const file = await capture(join(dir, name.slice(0, 3)), [...flag], stream);
    const flows = nfdumpFlows(file);
    const size = statSync(file).size;
    const dec = await timed(() => oursDecode(file));
    const ing = await timed(() => oursIngest(file));
    const csv = await timed(() => nfdump(file, 'csv'));
    const nul = await timed(() => nfdump(file, 'null'));
    if (dec.flows !== flows || ing.flows !== flows)
      throw new Error(`${name}: ours ${dec.flows}/${ing.flows} flows, nfdump ${flows}`);
    process.stdout.write(
      `${name}: ${fmt(flows)} of ${fmt(stream.length * PER_DATAGRAM)} flows sent were written by nfcapd, ${(size / 1048576).toFixed(1)} MiB; load ${load()}\n` +
        `  coinradar decode          ${dec.seconds.toFixed(3)} s = ${fmt(flows / dec.seconds)} flows/s\n` +
        `  coinradar ingest (no geo) ${ing.seconds.toFixed(3)} s = ${fmt(flows / ing.seconds)} flows/s\n` +
        `  nfdump -r -o csv >/dev/null ${csv.seconds.toFixed(3)} s = ${fmt(flows / csv.seconds)} flows/s\n` +
        `  nfdump -r -o null           ${nul.seconds.toFixed(3)} s = ${fmt(flows / nul.seconds)} flows/s\n` +
        `  ratio decode/nfdump-csv ${(csv.seconds / dec.seconds).toFixed(2)}x, decode/nfdump-null ${(nul.seconds / dec.seconds).toFixed(2)}x, ingest/nfdump-csv ${(csv.seconds / ing.seconds).toFixed(2)}x (>1: coinradar faster)\n`,
    );
  }
  process.stdout.write(`load average at end ${load()}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
