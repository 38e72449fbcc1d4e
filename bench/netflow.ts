/**
 * NetFlow benchmarks, each with nfdump's tools on the same generated NetFlow v9 stream in the same run.
 *  (a) decode alone (v9 and v5), records/s — no peer runs the decoder alone; target ≥ 3 M/s.
 *  (b) decode + enrich + store into DuckDB, flows/s, vs nfcapd receiving the same stream over
 *      loopback into its file, and `nfdump -r` reading it back.
 *  (c) live collector at a paced rate (default 300,000 flows/s) on loopback: sent vs stored, and
 *      nfcapd given the same paced stream.
 *  (d) the same through the built CLI (`coinradar collect`, its own process, dist/ — npm run build
 *      first): CPU per committed flow and peak RSS from /proc against nfcapd's, exit time after
 *      SIGINT (env COLLECT_FLAGS: extra collect options, e.g. "--no-detect"; BUSY=1: another
 *      process keeps one core busy meanwhile); CPU is counted from when the collector listens, and
 *      also with its start-up included; when datagrams were dropped with the store behind, the
 *      seconds into the stream at which /healthz (read every 0.5 s) first counted them.
 * env MIX=P: instead of the default stream (every flow to port 8333 between private addresses),
 * a realistic mix: public addresses, P % of flows on crypto ports (encode.ts BenchMix).
 * Usage: node --import tsx bench/netflow.ts [flows=1500000] [rate=300000] [seconds=5] [parts=abc]
 * (env STORE_NICE=N: run (c) with the storing thread at nice N, as collect --store-nice N; MAX_BACKLOG=N and
 * BACKLOG_MS=MS: the collector's backlog bounds, as collect --max-backlog / --max-backlog-ms)
 * (internal: node --import tsx bench/netflow.ts --send PORT RATE SECONDS sends the paced stream)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Diagnostics } from '../src/flow/diagnostics.js';
import { loadEnricher } from '../src/cli/enricher.js';
import { FlowBatch } from '../src/flow/record.js';
import { NetflowCollector } from '../src/netflow/collector.js';
import { NetflowDecoder } from '../src/netflow/decoder.js';
import { benchV9Stream, v5Packet, type BenchMix, type V5Flow } from '../src/netflow/encode.js';
import { openFlowStore } from '../src/store/open.js';

const PER_DATAGRAM = 30;
const MIX: BenchMix =
  process.env.MIX !== undefined
    ? { kind: 'mix', cryptoPercent: Number(process.env.MIX) }
    : { kind: 'crypto' };
const MIX_WORDS =
  MIX.kind === 'mix' ? `mixed stream, ${MIX.cryptoPercent} % on crypto ports` : 'every flow on port 8333';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sendPaced(port: number, rate: number, seconds: number): Promise<number> {
  const datagrams = Math.round((rate * seconds) / PER_DATAGRAM);
  const stream = [...benchV9Stream(datagrams, PER_DATAGRAM, 20, 1700000000, MIX)];
  const sock = createSocket('udp4');
  // The stream is generated first (seconds under load): the parent times the collector from here.
  process.stdout.write('sending\n');
  const t0 = performance.now();
  let sent = 0;
  const perMs = rate / PER_DATAGRAM / 1000;
  while (sent < datagrams) {
    const due = Math.min(datagrams, Math.floor((performance.now() - t0) * perMs) + 1);
    const waits: Promise<void>[] = [];
    while (sent < due) {
      const m = stream[sent++];
      waits.push(new Promise((res, rej) => sock.send(m, port, '127.0.0.1', (e) => (e ? rej(e) : res()))));
    }
    await Promise.all(waits);
    await sleep(1);
  }
  const dt = (performance.now() - t0) / 1000;
  sock.close();
  process.stderr.write(`sender: ${sent} datagrams (${sent * PER_DATAGRAM} flows) in ${dt.toFixed(2)} s\n`);
  return sent;
}

if (process.argv[2] === '--send') {
  const sent = await sendPaced(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]));
  process.stdout.write(`${sent}\n`);
  process.exit(0);
}

const FLOWS = Number(process.argv[2] ?? 1_500_000);
const RATE = Number(process.argv[3] ?? 300_000);
const SECONDS = Number(process.argv[4] ?? 5);
const PARTS = process.argv[5] ?? 'abc';

/** CPU seconds (utime + stime, 10 ms ticks) of each thread of a process (default this one), by thread name. */
function threadCpu(pid: number | 'self' = 'self'): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(`${name}#${t}`, (Number(f[11]) + Number(f[12])) / 100);
  }
  return out;
}

/** Where the CPU went between two threadCpu() readings, per thread (threads under 0.05 s left out). */
function threadSplit(before: Map<string, number>, after: Map<string, number>, mainTid = process.pid): string {
  const by = new Map<string, number>();
  for (const [k, v] of after) {
    // Node names every thread "node": the thread id tells them apart (the main thread's is the pid).
    const tid = k.slice(k.lastIndexOf('#') + 1);
    const name = tid === String(mainTid) ? 'main' : k;
    by.set(name, (by.get(name) ?? 0) + v - (before.get(k) ?? 0));
  }
  return [...by]
    .filter(([, v]) => v >= 0.05)
    .sort((a, b) => b[1] - a[1])
    .map(([n, v]) => `${n} ${v.toFixed(2)} s`)
    .join(', ');
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function nfcapdFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /^nfcapd\.\d{12}$/.test(f))
    .map((f) => join(dir, f));
}

async function startNfcapd(dir: string, port: number): Promise<ChildProcess> {
  const p = spawn(
    'nfcapd',
    // NFCAPD_BUFFER: its -B (socket buffer); 212992 is what Debian's default rmem_max grants.
    [
      '-w',
      dir,
      '-p',
      String(port),
      '-b',
      '127.0.0.1',
      '-t',
      '3600',
      '-B',
      process.env.NFCAPD_BUFFER ?? '4194304',
    ],
    {
      stdio: 'ignore',
    },
  );
  for (let k = 0; k < 100 && !readdirSync(dir).some((f) => f.startsWith('nfcapd.current')); k++)
    await sleep(20);
  await sleep(100);
  return p;
}

async function stopNfcapd(p: ChildProcess): Promise<void> {
  p.kill('SIGTERM');
  if (p.exitCode === null) await new Promise((r) => p.once('exit', r));
}

/** A process's CPU seconds so far (all threads, 10 ms ticks), peak RSS and the part of its RSS now
 * that is mapped files (its binary and libraries: node and libduckdb for us), in MB, from /proc. */
function procCpu(pid: number): { cpu: number; hwmMb: number; fileMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024;
  return { cpu: (Number(f[11]) + Number(f[12])) / 100, hwmMb: kb('VmHWM'), fileMb: kb('RssFile') };
}

function nfdumpCount(file: string): { flows: number; seconds: number } {
  const t0 = performance.now();
  const r = spawnSync('nfdump', ['-r', file, '-o', 'null'], {
    encoding: 'utf8',
    env: { ...process.env, TZ: 'UTC' },
  });
  const seconds = (performance.now() - t0) / 1000;
  const m = /total flows: (\d+)/.exec(r.stdout);
  if (!m) throw new Error(`nfdump summary not found: ${r.stdout.slice(-300)} ${r.stderr}`);
  return { flows: Number(m[1]), seconds };
}

const haveNf = spawnSync('sh', ['-c', 'command -v nfcapd && command -v nfdump']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'cr-bench-netflow-'));
const lines: string[] = [];
process.stdout.write(
  `load average at start: ${(await import('node:os'))
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}\n`,
);
const say = (s: string) => {
  lines.push(s);
  process.stdout.write(s + '\n');
};

try {
  const datagrams = Math.ceil(FLOWS / PER_DATAGRAM);
  const v9 = [...benchV9Stream(datagrams, PER_DATAGRAM, 20, 1700000000, MIX)];
  if (PARTS.includes('a')) {
    // ---- (a) decode alone ----
    const v5flows: V5Flow[] = Array.from({ length: 30 }, (_, r) => ({
      src: `10.0.${r}.1`,
      dst: '192.168.1.1',
      srcPort: 1024 + r,
      dstPort: 8333,
      proto: 6,
      packets: 1 + r,
      bytes: 64 * (1 + r),
      first: 1000,
      last: 2000,
    }));
    const v5 = Array.from({ length: datagrams }, (_, k) =>
      v5Packet({ sysUptime: 5000 + k, unixSecs: 1700000000, seq: k * 30 }, v5flows),
    );
    const decodeRate = (stream: Buffer[]) => {
      const pool: FlowBatch[] = [];
      const d = new Diagnostics();
      const dec = new NetflowDecoder({
        source: 'bench',
        unit: 'datagram',
        diagnostics: d,
        batchSize: 4096,
        onBatch: (b) => {
          b.clear();
          pool.push(b);
        },
        newBatch: (n, s) => pool.pop() ?? new FlowBatch(n, s),
      });
      const rates: number[] = [];
      const cpuRates: number[] = [];
      for (let round = 0; round < 5; round++) {
        const before = d.get('records');
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        for (let k = 0; k < stream.length; k++) dec.decode(stream[k], '127.0.0.1', 9995, k + 1);
        const n = d.get('records') - before;
        rates.push(n / ((performance.now() - t0) / 1000));
        const c = process.cpuUsage(c0);
        cpuRates.push(n / ((c.user + c.system) / 1e6));
      }
      rates.sort((x, y) => x - y);
      cpuRates.sort((x, y) => x - y);
      return { median: rates[2], best: rates[4], cpu: cpuRates[2] };
    };
    const a9 = decodeRate(v9);
    const a5 = decodeRate(v5);
    say(`(a) decode alone, ${fmt(datagrams * PER_DATAGRAM)} records x 5 rounds (batches recycled)`);
    say(
      `    NetFlow v9: median ${fmt(a9.median)} records/s, best ${fmt(a9.best)}; per CPU-second ${fmt(a9.cpu)} (target 3,000,000)`,
    );
    say(
      `    NetFlow v5: median ${fmt(a5.median)} records/s, best ${fmt(a5.best)}; per CPU-second ${fmt(a5.cpu)} (target 3,000,000)`,
    );
  }
  if (PARTS.includes('b')) {
    // ---- (b) decode + enrich + store ----
    // The CLI's enricher: country/AS data + default watchlists, loaded before the clock starts.
    const enricher = await loadEnricher({ geo: true });
    const store = await openFlowStore(join(dir, 'b.duckdb'));
    const w = await store.beginSource({ name: 'bench-v9', kind: 'netflow-file', fingerprint: 'bench-v9' });
    const batches: FlowBatch[] = [];
    const d = new Diagnostics();
    let tDecode = 0;
    let tEnrich = 0;
    let tStore = 0;
    const t0 = performance.now();
    const dec = new NetflowDecoder({
      source: 'bench',
      unit: 'byte',
      diagnostics: d,
      batchSize: 4096,
      onBatch: (b) => batches.push(b),
    });
    let stored = 0;
    for (let k = 0; k < v9.length; k++) {
      const ta = performance.now();
      dec.decode(v9[k], '127.0.0.1', 9995, k);
      if (k === v9.length - 1) dec.finish();
      tDecode += performance.now() - ta;
      while (batches.length) {
        const b = batches.shift()!;
        const tb = performance.now();
        const e = enricher!.enrich(b);
        const tc = performance.now();
        await w.append(b, e);
        const td = performance.now();
        tEnrich += tc - tb;
        tStore += td - tc;
        stored += b.length;
      }
    }
    const tc0 = performance.now();
    await w.commit(d);
    const tCommit = performance.now() - tc0;
    const ours = (performance.now() - t0) / 1000;
    await store.close();
    say(
      `(b) decode + enrich + store into DuckDB, ${fmt(stored)} flows: ${ours.toFixed(2)} s = ${fmt(stored / ours)} flows/s (target 400,000)`,
    );
    say(
      `    time: decode ${(tDecode / 1000).toFixed(2)} s, enrich (country/AS/watchlists) ${(tEnrich / 1000).toFixed(2)} s, DuckDB append ${(tStore / 1000).toFixed(2)} s, commit ${(tCommit / 1000).toFixed(2)} s`,
    );
    if (haveNf) {
      const nfDir = join(dir, 'b-nfcapd');
      spawnSync('mkdir', ['-p', nfDir]);
      const port = 39000 + Math.floor(Math.random() * 1000);
      const nf = await startNfcapd(nfDir, port);
      // nfcapd only reads from a socket: send as fast as it stays lossless (PEER-TOOLS: v9 ~1.5 M/s with -B 4 MiB).
      const sock = createSocket('udp4');
      const tn = performance.now();
      for (let k = 0; k < v9.length; k++) {
        await new Promise<void>((res) => sock.send(v9[k], port, '127.0.0.1', () => res()));
        if (k % 64 === 63) await sleep(0);
      }
      sock.close();
      await stopNfcapd(nf);
      const tnfcapd = (performance.now() - tn) / 1000;
      const [file] = nfcapdFiles(nfDir);
      const r = nfdumpCount(file);
      say(
        `    nfcapd: ${fmt(r.flows)} of ${fmt(stored)} flows received and written in ${tnfcapd.toFixed(2)} s = ${fmt(r.flows / tnfcapd)} flows/s (paced by its sender); ratio ours/nfcapd ${(stored / ours / (r.flows / tnfcapd)).toFixed(2)}`,
      );
      say(
        `    nfdump -r FILE -o null: ${fmt(r.flows)} flows in ${r.seconds.toFixed(2)} s = ${fmt(r.flows / r.seconds)} flows/s`,
      );
    } else say('    nfcapd/nfdump not installed: peer skipped');
  }
  /** The paced stream sent to a port by a child process; the number of datagrams sent. */
  const sendTo = async (port: number, onStart?: () => void) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', process.argv[1], '--send', String(port), String(RATE), String(SECONDS)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (x) => {
      out += x;
      if (onStart && out.startsWith('sending\n')) {
        onStart();
        onStart = undefined;
      }
    });
    await new Promise((r) => child.once('exit', r));
    return Number(out.trim().split('\n').pop());
  };
  /** nfcapd given the same paced stream: its CPU per stored flow (µs), printed. */
  const nfcapdPaced = async (): Promise<number> => {
    const nfDir = join(dir, `nfcapd-${Math.random().toString(36).slice(2)}`);
    spawnSync('mkdir', ['-p', nfDir]);
    const port = 40000 + Math.floor(Math.random() * 1000);
    const nf = await startNfcapd(nfDir, port);
    const nsent = await sendTo(port);
    await sleep(500);
    // nfcapd's own CPU (utime + stime, 10 ms ticks) and peak RSS, read before it exits.
    const { cpu: nfCpu, hwmMb, fileMb: nfFileMb } = procCpu(nf.pid!);
    await stopNfcapd(nf);
    const nfFile = nfcapdFiles(nfDir)[0];
    const r = nfdumpCount(nfFile);
    say(
      `    nfcapd file (as run: no compression): ${(statSync(nfFile).size / Math.max(1, r.flows)).toFixed(1)} bytes per flow`,
    );
    say(
      `    nfcapd -B ${process.env.NFCAPD_BUFFER ?? '4194304'}, same paced stream: sent ${fmt(nsent * PER_DATAGRAM)} flows, stored ${fmt(r.flows)}; lost ${fmt(nsent * PER_DATAGRAM - r.flows)}`,
    );
    const us = (nfCpu / Math.max(1, r.flows)) * 1e6;
    say(
      `    nfcapd CPU ${nfCpu.toFixed(2)} s = ${us.toFixed(2)} µs per stored flow; peak RSS ${hwmMb.toFixed(0)} MB (${nfFileMb.toFixed(0)} MB of it mapped files)`,
    );
    return us;
  };

  if (PARTS.includes('c')) {
    // ---- (c) live collector loss at RATE ----
    const liveStore = await openFlowStore(join(dir, 'c.duckdb'));
    const cpu0 = process.cpuUsage();
    const threads0 = threadCpu();
    const c = await NetflowCollector.start({
      listen: 'udp://127.0.0.1:0',
      store: liveStore,
      enricher: await loadEnricher({ geo: true }),
      // As `coinradar collect` does (--store-nice off); STORE_NICE=N lowers the storing thread.
      storeNice:
        process.env.STORE_NICE === undefined || process.env.STORE_NICE === 'off'
          ? undefined
          : Number(process.env.STORE_NICE),
      // MAX_BACKLOG / BACKLOG_MS: the backlog bounds (collect --max-backlog / --max-backlog-ms).
      ...(process.env.MAX_BACKLOG ? { maxBacklogBatches: Number(process.env.MAX_BACKLOG) } : {}),
      ...(process.env.BACKLOG_MS ? { backlogMs: Number(process.env.BACKLOG_MS) } : {}),
      ...(process.env.FLUSH_MS ? { flushMs: Number(process.env.FLUSH_MS) } : {}),
    });
    const tl = performance.now();
    const sent = await sendTo(c.port);
    const tSent = (performance.now() - tl) / 1000;
    await sleep(500);
    const threads1 = threadCpu();
    const res = await c.stop();
    const tAll = (performance.now() - tl) / 1000;
    // This process is the collector (the sender is a child): its CPU from start to committed stop.
    const cpuUsed = process.cpuUsage(cpu0);
    const ourCpu = (cpuUsed.user + cpuUsed.system) / 1e6;
    const [src] = await liveStore.sources();
    await liveStore.close();
    say(
      `(c) live collector, ${fmt(RATE)} flows/s for ${SECONDS} s on loopback (receive buffer granted ${fmt(c.recvBuffer)} bytes as reported by the kernel):`,
    );
    say(
      `    sent ${fmt(sent)} datagrams (${fmt(sent * PER_DATAGRAM)} flows) in ${tSent.toFixed(2)} s; received ${fmt(res.datagrams)} datagrams; stored ${fmt(src.flows)} flows (all committed ${tAll.toFixed(2)} s after the first send); lost ${fmt(sent * PER_DATAGRAM - src.flows)}`,
    );
    say(
      `    collector CPU ${ourCpu.toFixed(2)} s = ${((ourCpu / Math.max(1, src.flows)) * 1e6).toFixed(2)} µs per stored flow (geo enrichment, no detection); peak RSS of this process ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
    );
    say(`    by thread, until stop was called: ${threadSplit(threads0, threads1)}`);
    if (haveNf) {
      const nfUs = await nfcapdPaced();
      say(
        `    ratio of CPU per stored flow ours/nfcapd ${(((ourCpu / Math.max(1, src.flows)) * 1e6) / nfUs).toFixed(1)}x`,
      );
    }
  }

  /**
   * One run of a built CLI's `collect` (its own process) given the paced stream; its CPU per
   * committed flow (µs) from when it listens, and with its start-up.
   */
  const collectRun = async (
    root: string,
    label: string,
  ): Promise<{ us: number; usAll: number; usSteady: number } | null> => {
    const main = join(root, 'dist/cli/main.js');
    if (!existsSync(main)) {
      say(`(d) ${label} skipped: ${main} missing (run npm run build first)`);
      return null;
    }
    const flags = (process.env.COLLECT_FLAGS ?? '').split(' ').filter(Boolean);
    const port = 41000 + Math.floor(Math.random() * 1000);
    const db = join(dir, `d-${Math.random().toString(36).slice(2)}.duckdb`);
    const cli = spawn(
      process.execPath,
      [
        // CPU_PROF=DIR: a V8 CPU profile of the collector into DIR.
        ...(process.env.CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CPU_PROF}`] : []),
        // NODE_ARGS: node options for the collector's process (experiments: --v8-pool-size=N, …).
        ...(process.env.NODE_ARGS ?? '').split(' ').filter(Boolean),
        main,
        'collect',
        '--db',
        db,
        '--listen',
        `udp://127.0.0.1:${port}`,
        '--metrics',
        '127.0.0.1:0',
        ...flags,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    cli.stderr!.on('data', (d) => (err += d));
    for (let k = 0; k < 600 && !/metrics on http/.test(err) && cli.exitCode === null; k++) await sleep(25);
    const metrics = /metrics on (http:\/\/127\.0\.0\.1:\d+)/.exec(err)?.[1];
    if (!metrics) throw new Error(`collect did not start: ${err}`);
    const health = async () =>
      (await (await fetch(`${metrics}/healthz`, { signal: AbortSignal.timeout(2000) })).json()) as {
        flowsCommitted: number;
        flowsStored: number;
        counts: Record<string, number>;
      };
    const committed = async () => (await health()).flowsCommitted;
    // Start-up (module loading, the store opened, geo and detection loaded) is what the
    // process used before it listens: reported apart, and included in a second ratio.
    const cpu0 = procCpu(cli.pid!).cpu;
    const threads0 = threadCpu(cli.pid!);
    // BUSY=1: another process keeps one core busy while the stream is sent (the issue's case).
    const busy =
      process.env.BUSY === '1'
        ? spawn(process.execPath, ['-e', 'const t = Date.now(); while (Date.now() - t < 600000);'], {
            stdio: 'ignore',
          })
        : null;
    // Steady state: CPU per flow stored between a third of the way into the stream (the JIT has
    // compiled the hot paths by then; a long-running collector pays that once) and its end.
    let warm: { cpu: number; stored: number } | null = null;
    let warmTimer: NodeJS.Timeout | undefined;
    const startWarm = () => {
      warmTimer = setTimeout(
        () =>
          void health()
            .then((h) => (warm = { cpu: procCpu(cli.pid!).cpu, stored: h.flowsStored }))
            .catch(() => undefined),
        (SECONDS * 1000) / 3,
      );
    };
    // When the store fell behind: datagrams dropped at the socket, per second of the stream.
    const dropsAt: string[] = [];
    let dropped = 0;
    const t0Stream = performance.now();
    const dropWatch = setInterval(
      () =>
        void health()
          .then((h) => {
            const d = h.counts['datagrams.dropped-backlog'] ?? 0;
            if (d > dropped)
              dropsAt.push(`${((performance.now() - t0Stream) / 1000).toFixed(1)} s: ${fmt(d - dropped)}`);
            dropped = d;
          })
          .catch(() => undefined),
      500,
    );
    const sent = (await sendTo(port, startWarm)) * PER_DATAGRAM;
    clearTimeout(warmTimer);
    clearInterval(dropWatch);
    const endOfStream = { cpu: procCpu(cli.pid!).cpu, stored: (await health()).flowsStored };
    busy?.kill('SIGKILL');
    // Until everything sent is committed, or nothing more comes for 3 s (what is missing is lost).
    let last = -1;
    let still = 0;
    for (let k = 0; k < 600; k++) {
      const c = await committed().catch(() => last);
      if (c >= sent) {
        last = c;
        break;
      }
      still = c === last ? still + 1 : 0;
      last = c;
      if (still >= 30) break;
      await sleep(100);
    }
    const { cpu, hwmMb, fileMb } = procCpu(cli.pid!);
    // Where what is missing went: dropped while the store was behind, or by the kernel (buffer full).
    const counts = (await health().catch(() => ({ counts: {} as Record<string, number> }))).counts;
    const drops = `${fmt(counts['datagrams.dropped-backlog'] ?? 0)} datagrams dropped with the store behind, ${fmt(counts['datagrams.kernel-drops'] ?? 0)} by the kernel${counts['store.stalls'] ? `; ${counts['store.stalls']} store turn(s) stalled past the backlog's bound` : ''}`;
    const split = threadSplit(threads0, threadCpu(cli.pid!), cli.pid!);
    const t0 = performance.now();
    cli.kill('SIGINT');
    await new Promise((r) => (cli.exitCode !== null ? r(null) : cli.once('exit', r)));
    const exitS = (performance.now() - t0) / 1000;
    const used = cpu - cpu0;
    const us = (used / Math.max(1, last)) * 1e6;
    // On disk: the database file, its WAL and the segment files.
    const segDir = `${db}.segments`;
    const onDisk = [db, `${db}.wal`]
      .filter((f) => existsSync(f))
      .concat(existsSync(segDir) ? readdirSync(segDir).map((f) => join(segDir, f)) : [])
      .reduce((n, f) => n + statSync(f).size, 0);
    say(
      `(d) ${label}: coinradar collect (built CLI${flags.length ? ' ' + flags.join(' ') : ''}${busy ? ', one core kept busy by another process' : ''}; ${MIX_WORDS}), ${fmt(RATE)} flows/s for ${SECONDS} s: sent ${fmt(sent)}, committed ${fmt(last)}, lost ${fmt(sent - last)} (${drops}); CPU ${used.toFixed(2)} s = ${us.toFixed(2)} µs per stored flow; peak RSS ${hwmMb.toFixed(0)} MB (${fileMb.toFixed(0)} MB of it mapped files: node and libduckdb); exit ${exitS.toFixed(2)} s after SIGINT; ${(onDisk / Math.max(1, last)).toFixed(1)} bytes per flow on disk`,
    );
    say(`    by thread: ${split}`);
    if (dropsAt.length > 0)
      say(`    datagrams dropped with the store behind, by when it was seen: ${dropsAt.join(', ')}`);
    const usAll = (cpu / Math.max(1, last)) * 1e6;
    say(
      `    start-up before listening ${cpu0.toFixed(2)} CPU-s; with it ${cpu.toFixed(2)} s = ${usAll.toFixed(2)} µs per stored flow`,
    );
    const w = warm as { cpu: number; stored: number } | null;
    const usSteady =
      w && endOfStream.stored > w.stored
        ? ((endOfStream.cpu - w.cpu) / (endOfStream.stored - w.stored)) * 1e6
        : NaN;
    if (w)
      say(
        `    steady state (from ${(SECONDS / 3).toFixed(1)} s into the stream to its end): ${(endOfStream.cpu - w.cpu).toFixed(2)} CPU-s for ${fmt(endOfStream.stored - w.stored)} flows = ${usSteady.toFixed(2)} µs per flow`,
      );
    return { us, usAll, usSteady };
  };

  if (PARTS.includes('d')) {
    // ---- (d) the built CLI, `coinradar collect`, as users run it: a process of its own ----
    // BEFORE=DIR: another checkout's build (its dist/) measured in the same run, for before/after.
    const builds: [string, string][] = [[process.cwd(), 'this checkout']];
    if (process.env.BEFORE) builds.push([process.env.BEFORE, `before (${process.env.BEFORE})`]);
    const runs: [string, { us: number; usAll: number; usSteady: number } | null][] = [];
    for (const [root, label] of builds) runs.push([label, await collectRun(root, label)]);
    if (haveNf) {
      const nfUs = await nfcapdPaced();
      for (const [label, r] of runs)
        if (r)
          say(
            `    ${label}: ratio of CPU per stored flow coinradar collect/nfcapd ${(r.us / nfUs).toFixed(1)}x (${(r.usAll / nfUs).toFixed(1)}x with start-up, ${(r.usSteady / nfUs).toFixed(1)}x in the steady state)`,
          );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
