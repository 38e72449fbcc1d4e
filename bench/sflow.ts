/**
 * sFlow v5 benchmark, with pmacct's sfacctd on the same generated stream in the same run.
 *  (a) decode alone: SflowDecoder over the stream in memory (one thread), samples/s and samples per
 *      CPU-second.
 *  (b) sfacctd (Debian pmacct, print plugin aggregating by 5-tuple) given the stream over loopback
 *      at a pace it keeps up with: its core process's CPU time (the decoder) per sample, read from
 *      /proc, as a rate in samples per CPU-second; samples it counted (sum of its CSV's packets) vs
 *      sent. The ratio printed is (a) over (b): our decode rate per CPU-second against sfacctd's.
 *  (c) coinradar's live collector (in this process, in-memory store) given the same paced stream
 *      (and at most 256 datagrams ahead of what its receiver has read): samples stored vs sent, and the process's CPU per stored sample (receive, decode, enrich,
 *      store), against sfacctd's whole CPU (core and plugin) per sample.
 * Usage: node --import tsx bench/sflow.ts [datagrams=50000] [samplesPerDatagram=6] [datagramsPerSecond=10000]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Diagnostics } from '../src/flow/diagnostics.js';
import { NetflowCollector } from '../src/netflow/collector.js';
import { SflowDecoder } from '../src/sflow/decoder.js';
import { benchSflowStream } from '../src/sflow/encode.js';
import { openFlowStore } from '../src/store/open.js';

const DATAGRAMS = Number(process.argv[2] ?? 50_000);
const PER = Number(process.argv[3] ?? 6);
const PACE = Number(process.argv[4] ?? 10_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const say = (s: string) => console.log(s);

/** utime + stime of a process in seconds (Linux clock ticks of 10 ms). */
function cpuOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function childrenOf(pid: number): number[] {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

/**
 * Sends the stream at `perSecond` datagrams; with `read` (the collector's count of datagrams read
 * from its socket), also at most 256 datagrams ahead of the reader, so that a sender in the same
 * process as the collector cannot overrun the kernel buffer while the main thread stores.
 */
async function sendPaced(
  stream: Buffer[],
  port: number,
  perSecond: number,
  read?: () => number,
): Promise<number> {
  const sock = createSocket('udp4');
  sock.bind();
  await new Promise((r) => sock.once('listening', r));
  sock.setSendBufferSize(4 << 20);
  const t0 = performance.now();
  let sent = 0;
  while (sent < stream.length) {
    let due = Math.min(stream.length, Math.floor(((performance.now() - t0) * perSecond) / 1000) + 1);
    if (read) due = Math.min(due, read() + 256);
    const waits: Promise<void>[] = [];
    while (sent < due) {
      const m = stream[sent++];
      waits.push(new Promise((res, rej) => sock.send(m, port, '127.0.0.1', (e) => (e ? rej(e) : res()))));
    }
    await Promise.all(waits);
    await sleep(1);
  }
  sock.close();
  return (performance.now() - t0) / 1000;
}

async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const p = s.address().port;
  s.close();
  return p;
}

const stream = benchSflowStream(DATAGRAMS, PER);
const samples = DATAGRAMS * PER;
const bytes = stream.reduce((n, b) => n + b.length, 0);
say(
  `sFlow v5 stream: ${fmt(DATAGRAMS)} datagrams of ${PER} flow samples (128-byte Ethernet/IPv4/TCP headers + extended switch), ${fmt(samples)} samples, ${(bytes / DATAGRAMS).toFixed(0)} bytes per datagram`,
);

// (a) decode alone, best of five (the first warms the JIT up): wall time, and the CPU time this
// process used meanwhile (the rate compared with sfacctd's, since a loaded machine stretches wall time).
let ours: number;
{
  let best = Infinity;
  let bestCpu = Infinity;
  let rows = 0;
  for (let run = 0; run < 5; run++) {
    rows = 0;
    const dec = new SflowDecoder({
      source: 'bench',
      unit: 'datagram',
      diagnostics: new Diagnostics(),
      onBatch: (b) => (rows += b.length),
    });
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let k = 0; k < stream.length; k++) dec.decode(stream[k], k, 0);
    dec.finish();
    best = Math.min(best, (performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    bestCpu = Math.min(bestCpu, (c.user + c.system) / 1e6);
  }
  if (rows !== samples) throw new Error(`decoded ${rows} of ${samples} samples`);
  ours = samples / bestCpu;
  say(
    `(a) decode alone: ${fmt(samples)} samples in ${best.toFixed(3)} s = ${fmt(samples / best)} samples/s; CPU ${bestCpu.toFixed(3)} s = ${fmt(ours)} samples per CPU-second (best of 5)`,
  );
}

// (b) sfacctd on the same stream.
const have = spawnSync('sh', ['-c', 'command -v sfacctd']).status === 0;
let sfTotalPerSample = 0;
if (!have) say('(b) sfacctd not installed (apt-get install pmacct): peer skipped');
else {
  const dir = mkdtempSync(join(tmpdir(), 'bench-sflow-'));
  let p: ChildProcess | null = null;
  try {
    const port = await freePort();
    const csv = join(dir, 'out.csv');
    writeFileSync(
      join(dir, 'sfacctd.conf'),
      [
        'daemonize: false',
        `sfacctd_port: ${port}`,
        'sfacctd_ip: 127.0.0.1',
        'sfacctd_pipe_size: 4194304',
        'plugins: print',
        'aggregate: src_host, dst_host, src_port, dst_port, proto',
        'print_output: csv',
        `print_output_file: ${csv}`,
        'print_output_file_append: true',
        'print_refresh_time: 3600',
        '',
      ].join('\n'),
    );
    p = spawn('sfacctd', ['-f', join(dir, 'sfacctd.conf')], { stdio: 'ignore' });
    await sleep(1500);
    const kids = childrenOf(p.pid!);
    const core0 = cpuOf(p.pid!);
    const kids0 = kids.reduce((n, k) => n + cpuOf(k), 0);
    const secs = await sendPaced(stream, port, PACE);
    await sleep(1000);
    const core = cpuOf(p.pid!) - core0;
    const all = core + kids.reduce((n, k) => n + cpuOf(k), 0) - kids0;
    p.kill('SIGINT');
    await new Promise((r) => p!.once('exit', r));
    p = null;
    let counted = 0;
    if (existsSync(csv))
      for (const line of readFileSync(csv, 'utf8').split('\n').slice(1)) {
        const f = line.split(',');
        if (f.length > 6 && f[0] !== 'SRC_IP') counted += Number(f[f.length - 2]);
      }
    const rate = counted / Math.max(core, 0.01);
    sfTotalPerSample = all / Math.max(1, counted);
    say(
      `(b) sfacctd ${spawnSync('sfacctd', ['-V'], { encoding: 'utf8' }).stdout.split('\n')[0]}: sent ${fmt(samples)} samples in ${secs.toFixed(2)} s, it counted ${fmt(counted)}; core (decoder) CPU ${core.toFixed(2)} s = ${fmt(rate)} samples per CPU-second; core + plugin CPU ${all.toFixed(2)} s = ${(sfTotalPerSample * 1e6).toFixed(2)} µs per sample`,
    );
    say(`    ratio decode rate per CPU-second ours/sfacctd ${(ours / rate).toFixed(1)}x`);
  } finally {
    if (p) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

// (c) coinradar's live collector on the same paced stream.
{
  const store = await openFlowStore(':memory:');
  try {
    const collector = await NetflowCollector.start({ listen: 'udp://127.0.0.1:0', store, flushMs: 200 });
    const c0 = process.cpuUsage();
    const secs = await sendPaced(stream, collector.port, PACE, () => collector.datagramsRead());
    await sleep(1000);
    const r = await collector.stop();
    const c = process.cpuUsage(c0);
    if (process.env.VERBOSE) say(r.diagnostics.summary());
    const cpu = (c.user + c.system) / 1e6;
    say(
      `(c) coinradar live collector (in-process, in-memory DuckDB): sent ${fmt(samples)} samples in ${secs.toFixed(2)} s, stored ${fmt(r.flows)}; process CPU ${cpu.toFixed(2)} s (sender included) = ${((cpu / Math.max(1, r.flows)) * 1e6).toFixed(2)} µs per stored sample`,
    );
    if (sfTotalPerSample > 0)
      say(
        `    ratio CPU per sample ours/sfacctd (core + plugin) ${(cpu / Math.max(1, r.flows) / sfTotalPerSample).toFixed(1)}x`,
      );
  } finally {
    await store.close();
  }
}
