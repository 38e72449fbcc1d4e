/**
 * A full disk under a live collector, against nfcapd on the same stream: `coinradar collect` (the
 * built CLI, detection on, no geo) and nfcapd each write to a small tmpfs of their own, and every
 * NetFlow v9 datagram goes to both. Three phases of PHASE seconds at RATE flows/s: space left;
 * both disks filled to the last byte (a file of zeros); the file deleted. At the end: whether each
 * was still running, what each kept of each phase's flows (every flow has its own source address),
 * what coinradar's /healthz said while the disk was full and how long after the space came back
 * it said "ok" again. Needs root (it mounts the two tmpfs) and nfcapd/nfdump for the peer.
 *
 *   npm run build && node --import tsx bench/disk-full.ts [RATE=20000] [PHASE=10] [SIZE_MB=64]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DuckDbFlowStore } from '../src/store/duckdb/flows.js';
import { openFlowStore } from '../src/store/open.js';
import { flowNumber, v9Datagram } from '../test/netflow/live-sender.js';
import { smallDisk } from '../test/helpers/small-disk.js';
import { fmt, load, say, sleep } from './report.js';

const RATE = Number(process.argv[2] ?? 20_000);
const PHASE_S = Number(process.argv[3] ?? 10);
const SIZE_MB = Number(process.argv[4] ?? 64);
const PER = 30;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

if (process.getuid?.() !== 0) {
  say('disk-full bench: needs root (it mounts two small tmpfs)');
  process.exit(0);
}
const haveNf = spawnSync('sh', ['-c', 'command -v nfcapd && command -v nfdump']).status === 0;

const exited = (p: ChildProcess) =>
  p.exitCode !== null || p.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((r) => p.once('exit', () => r()));

/** A tmpfs of SIZE_MB (test/helpers/small-disk.ts, as the disk-full tests use). */
function mountSmall() {
  const d = smallDisk(SIZE_MB);
  if (typeof d === 'string') {
    say(`disk-full bench: ${d}`);
    process.exit(0);
  }
  return d;
}
const oursDisk = mountSmall();
const theirsDisk = haveNf ? mountSmall() : null;
const ours = oursDisk.dir;
const theirs = theirsDisk?.dir ?? null;
const port = 40000 + Math.floor(Math.random() * 1000);
const nfPort = port + 1000;
let out = '';
const cli = spawn(
  process.execPath,
  [
    join(root, 'dist/cli/main.js'),
    'collect',
    '--listen',
    `udp://127.0.0.1:${port}`,
    '--db',
    join(ours, 'live.duckdb'),
    '--no-geo',
    '--metrics',
    '127.0.0.1:0',
  ],
  { stdio: ['ignore', 'pipe', 'pipe'] },
);
cli.stdout.on('data', (c: Buffer) => (out += c.toString()));
cli.stderr.on('data', (c: Buffer) => (out += c.toString()));
const nfcapd = theirs
  ? spawn('nfcapd', ['-w', theirs, '-p', String(nfPort), '-b', '127.0.0.1', '-t', '3600', '-B', '4194304'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
  : null;
let nfErr = '';
nfcapd?.stderr?.on('data', (c: Buffer) => (nfErr += c.toString()));
try {
  for (let k = 0; k < 200 && !/metrics on http/.test(out); k++) await sleep(50);
  const metrics = /metrics on (http:\/\/\S+)\/metrics/.exec(out)?.[1];
  if (!metrics) throw new Error(`collect did not start:\n${out}`);
  const health = async () => {
    try {
      return (await (await fetch(`${metrics}/healthz`)).json()) as Record<string, unknown>;
    } catch {
      return null;
    }
  };
  await sleep(300);
  say(
    `disk-full bench: ${fmt(RATE)} flows/s, ${PHASE_S} s per phase, ${SIZE_MB} MiB tmpfs each; load ${load()}`,
  );
  const sock = createSocket('udp4');
  let k = 0;
  const phaseStart: number[] = [];
  const send = async (seconds: number) => {
    phaseStart.push(k * PER);
    const perTick = Math.max(1, Math.round(RATE / PER / 100));
    const t0 = Date.now();
    for (let tick = 0; Date.now() - t0 < seconds * 1000; tick++) {
      for (let i = 0; i < perTick; i++, k++) {
        const d = v9Datagram(0, k, PER, k);
        sock.send(d, port, '127.0.0.1');
        if (nfcapd) sock.send(d, nfPort, '127.0.0.1');
      }
      const next = t0 + (tick + 1) * 10;
      await sleep(Math.max(0, next - Date.now()));
    }
  };
  await send(PHASE_S);
  const fillers = [oursDisk.fill(), ...(theirsDisk ? [theirsDisk.fill()] : [])];
  say(`  disks filled (${fillers.length}); sending on`);
  await send(PHASE_S);
  const during = await health();
  const aliveFull = { ours: cli.exitCode === null, nfcapd: nfcapd ? nfcapd.exitCode === null : null };
  for (const f of fillers) rmSync(f, { force: true });
  const freed = Date.now();
  let okAfter = -1;
  const watch = (async () => {
    while (okAfter < 0 && Date.now() - freed < PHASE_S * 1000 + 5000 && cli.exitCode === null) {
      if ((await health())?.status === 'ok') okAfter = (Date.now() - freed) / 1000;
      else await sleep(100);
    }
  })();
  await send(PHASE_S);
  await watch;
  const sent = k * PER;
  phaseStart.push(sent);
  sock.close();
  await sleep(500);
  const aliveEnd = { ours: cli.exitCode === null, nfcapd: nfcapd ? nfcapd.exitCode === null : null };
  cli.kill('SIGINT');
  nfcapd?.kill('SIGTERM');
  await exited(cli);
  // nfcapd may not end on SIGTERM: given 5 s, then killed (and said).
  let nfHung = false;
  if (nfcapd) {
    const t = setTimeout(() => {
      nfHung = true;
      nfcapd.kill('SIGKILL');
    }, 5000);
    await exited(nfcapd);
    clearTimeout(t);
  }

  const byPhase = (numbers: Iterable<number>) => {
    const n = [0, 0, 0];
    for (const j of numbers)
      for (let p = 0; p < 3; p++) if (j >= phaseStart[p] && j < phaseStart[p + 1]) n[p]++;
    return n;
  };
  const sentBy = [0, 1, 2].map((p) => phaseStart[p + 1] - phaseStart[p]);
  const line = (who: string, kept: number[]) =>
    say(
      `  ${who}: kept ${kept.map((n, p) => `${fmt(n)} of ${fmt(sentBy[p])}`).join(' | ')} (before | disk full | after)`,
    );
  say(`  sent ${fmt(sent)} flows to each`);

  // Ours: the store as it is on disk after the stop.
  const store = (await openFlowStore(join(ours, 'live.duckdb'))) as DuckDbFlowStore;
  let kept: number[];
  try {
    const rows = await store.db.all<{ src: string }>('SELECT src FROM flows');
    kept = byPhase(rows.map((r) => flowNumber(r.src)));
  } finally {
    await store.close();
  }
  line('coinradar collect', kept);
  say(
    `    running while full: ${aliveFull.ours}; at the end: ${aliveEnd.ours}; exit code ${cli.exitCode}; /healthz while full: ${during?.status} (${String(during?.error ?? '').slice(0, 60)}); "ok" again ${okAfter >= 0 ? `${okAfter.toFixed(1)} s after the space came back` : 'never'}`,
  );
  const last = out
    .trim()
    .split('\n')
    .filter((l) => /flows stored|storing failed/.test(l));
  say(`    its summary: ${last.at(-1) ?? '(none)'}`);
  const tmp = readdirSync(join(ours, 'live.duckdb.segments')).filter((f) => f.endsWith('.tmp'));
  say(`    partial segment files left: ${tmp.length}`);

  if (theirs && nfcapd) {
    const files = readdirSync(theirs).filter((f) => f.startsWith('nfcapd.'));
    const nums: number[] = [];
    const errors: string[] = [];
    for (const f of files) {
      const r = spawnSync('nfdump', ['-r', join(theirs, f), '-q', '-o', 'fmt:%sa'], {
        encoding: 'utf8',
        maxBuffer: 1 << 30,
      });
      if (r.status !== 0) errors.push(`${f}: ${(r.stderr || r.stdout).trim().slice(0, 120)}`);
      for (const l of r.stdout.split('\n')) if (/^\s*10\./.test(l)) nums.push(flowNumber(l.trim()));
    }
    line('nfcapd', byPhase(nums));
    say(
      `    running while full: ${aliveFull.nfcapd}; at the end: ${aliveEnd.nfcapd}; ${nfHung ? 'did not end within 5 s of SIGTERM (killed)' : `exit code ${nfcapd.exitCode}`}; files ${files.join(', ')}${errors.length ? `; nfdump: ${errors.join('; ')}` : ''}`,
    );
    const words = nfErr.trim().split('\n').filter(Boolean);
    const errs = words.filter((w) => /error|fail|space|write/i.test(w));
    say(
      `    nfcapd said ${words.length} lines; errors: ${errs.slice(0, 3).join(' / ').slice(0, 400) || 'none'}`,
    );
  } else say('  nfcapd/nfdump not installed: peer skipped');
  say(`  load ${load()}`);
} finally {
  if (cli.exitCode === null) cli.kill('SIGKILL');
  if (nfcapd && nfcapd.exitCode === null) nfcapd.kill('SIGKILL');
  oursDisk.unmount();
  theirsDisk?.unmount();
}
