/**
 * A live collector's memory over minutes: `coinradar collect` (the built CLI, detection and geo on)
 * takes the mixed stream of bench/netflow.ts at RATE flows/s for SECONDS, and every EVERY seconds
 * this prints its resident memory (now and peak, from /proc), the write-ahead log's size, what
 * /healthz says was committed and dropped, how far the rollup is behind the committed flows, and
 * what DuckDB accounts for (`duckdb_memory()`, read through the collector's reader socket). The
 * totals against nfcapd (CPU, loss, peak RSS) come from `bench/netflow.ts FLOWS RATE SECONDS d`
 * over the same duration; this shows the curve between. READERS=1: meanwhile another process reads
 * the store without a pause (`coinradar summary --by dst`, one after another, as a polling console
 * would), and the end says how many answered and how many failed, and how long they took.
 * STORE_MEMORY=SIZE: `collect --store-memory SIZE` (default: the collector's own, a quarter of RAM
 * up to 1 GiB); the samples and the end say how many commit intervals the store failed and how
 * many flows went with them (a collector that stops is said, with its last words). KEEP=1 keeps
 * the store and prints its path.
 *
 *   npm run build && node --import tsx bench/collector-memory.ts [SECONDS=240] [RATE=200000] [EVERY=10]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QueryClient } from '../src/store/duckdb/query-socket.js';

const SECONDS = Number(process.argv[2] ?? 240);
const RATE = Number(process.argv[3] ?? 200_000);
const EVERY = Number(process.argv[4] ?? 10);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'coinradar-collector-memory-'));
const db = join(dir, 'live.duckdb');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (n: number) => Math.round(n / 1048576);

const cli = spawn(
  process.execPath,
  [
    join(root, 'dist/cli/main.js'),
    'collect',
    '--db',
    db,
    '--listen',
    'udp://127.0.0.1:0',
    '--metrics',
    '127.0.0.1:0',
    ...(process.env.STORE_MEMORY ? ['--store-memory', process.env.STORE_MEMORY] : []),
  ],
  { stdio: ['ignore', 'pipe', 'pipe'] },
);
let err = '';
let out = '';
cli.stderr.on('data', (d) => (err += d));
cli.stdout.on('data', (d) => (out += d));
let stopping = false;
cli.once('exit', (code) => {
  if (!stopping) console.log(`collect stopped by itself (exit ${code}): ${err.trim().split('\n').pop()}`);
});
for (let k = 0; k < 1200 && !/metrics on http/.test(err) && cli.exitCode === null; k++) await sleep(50);
const port = /collecting on udp:\/\/127\.0\.0\.1:(\d+)/.exec(err)?.[1];
const metrics = /metrics on (http:\/\/127\.0\.0\.1:\d+)/.exec(err)?.[1];
if (!port || !metrics) throw new Error(`collect did not start: ${err}`);
const reader = await QueryClient.connect(db);
if (!reader) throw new Error('no reader socket beside the collector');

console.log(
  `machine: load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}; ${RATE} flows/s for ${SECONDS} s`,
);
const sender = spawn(
  process.execPath,
  ['--import', 'tsx', join(root, 'bench/netflow.ts'), '--send', port, String(RATE), String(SECONDS)],
  { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, MIX: process.env.MIX ?? '2' } },
);
let sent = '';
sender.stdout.on('data', (d) => (sent += d));
const senderDone = new Promise((r) => sender.once('exit', r));
// READERS=1: summaries from another process, back to back, while the stream lasts.
const summaries = { ok: 0, failed: 0, lastError: '', ms: [] as number[] };
const readersDone =
  process.env.READERS === '1'
    ? (async () => {
        let streaming = true;
        void senderDone.then(() => (streaming = false));
        while (streaming) {
          const r = spawn(
            process.execPath,
            [join(root, 'dist/cli/main.js'), 'summary', '--db', db, '--by', 'dst'],
            {
              stdio: ['ignore', 'ignore', 'pipe'],
            },
          );
          let e = '';
          const began = performance.now();
          r.stderr.on('data', (d) => (e += d));
          const code = await new Promise((res) => r.once('exit', res));
          summaries.ms.push(performance.now() - began);
          if (code === 0) summaries.ok++;
          else
            [summaries.failed, summaries.lastError] = [
              summaries.failed + 1,
              e.trim().split('\n').pop() ?? '',
            ];
        }
      })()
    : Promise.resolve();

const t0 = Date.now();
const sample = async () => {
  if (cli.exitCode !== null) return;
  const status = readFileSync(`/proc/${cli.pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  let wal = 0;
  try {
    wal = statSync(`${db}.wal`).size;
  } catch {
    // no log yet
  }
  // How far the rollup (made beside the writer) is behind the committed flows: readers group that many themselves.
  // Read before /healthz: the rollup may move on between the two reads, never past the commits.
  const [st] = await reader.all<{ m: bigint }>('SELECT max_id AS m FROM rollup_state').catch(() => []);
  const h = (await (await fetch(`${metrics}/healthz`)).json()) as {
    flowsCommitted: number;
    counts: Record<string, number>;
    memoryMB: { heapUsed: number; heapTotal: number; external: number };
  };
  const mem = await reader.all<{ tag: string; memory_usage_bytes: bigint }>(
    'SELECT tag, memory_usage_bytes FROM duckdb_memory() WHERE memory_usage_bytes > 0',
  );
  const duck = mem.map((m) => `${m.tag} ${mb(Number(m.memory_usage_bytes))}`).join(', ');
  console.log(
    `${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s: committed ${h.flowsCommitted}, resident ${mb(kb('VmRSS'))} MB (peak ${mb(kb('VmHWM'))}; main thread's heap ${h.memoryMB.heapUsed} of ${h.memoryMB.heapTotal}, external ${h.memoryMB.external}), log ${mb(wal)} MB, ` +
      `dropped ${h.counts['datagrams.dropped-backlog'] ?? 0} + ${h.counts['datagrams.kernel-drops'] ?? 0} (kernel) datagrams, ` +
      `store intervals failed ${h.counts['store.intervals-failed'] ?? 0} (flows lost ${h.counts['flows.lost-store'] ?? 0}), ` +
      `checkpoints ${h.counts['store.checkpoints'] ?? 0} (failed ${h.counts['store.checkpoints-failed'] ?? 0}, deferred ${h.counts['store.checkpoints-deferred'] ?? 0}), rollup ${st ? h.flowsCommitted - Number(st.m) : '?'} flows behind; DuckDB MB: ${duck}`,
  );
};
let running = true;
void senderDone.then(() => (running = false));
while (running) {
  await Promise.race([sleep(EVERY * 1000), senderDone]);
  await sample().catch((e: unknown) => console.log(`sample failed: ${(e as Error).message}`));
}
await readersDone;
if (process.env.READERS === '1') {
  const ms = summaries.ms.sort((a, b) => a - b);
  const at = (q: number) =>
    ms.length ? (ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] / 1000).toFixed(1) : '-';
  console.log(
    `summaries from another process meanwhile: ${summaries.ok} answered, ${summaries.failed} failed${summaries.lastError ? ` (last: ${summaries.lastError})` : ''}; ` +
      `wall s each: median ${at(0.5)}, p95 ${at(0.95)}, max ${at(1)}`,
  );
}
await sleep(3000);
await sample();
stopping = true;
cli.kill('SIGINT');
await new Promise((r) => (cli.exitCode !== null ? r(null) : cli.once('exit', r)));
console.log(`sent ${Number(sent.trim().split('\n').pop()) * 30} flows; collect: ${out.split('\n')[0]}`);
// KEEP=1: the store stays, for a look afterwards (e.g. how many flows a stopped collector left).
if (process.env.KEEP === '1') console.log(`store kept: ${db}`);
else rmSync(dir, { recursive: true, force: true });
