// The live collector under a flood it cannot store: peak RSS, what it stored, what it counted as
// dropped, and how long SIGINT takes to commit and exit. Runs the built CLI (npm run build first),
// floods 30-flow NetFlow v9 datagrams on loopback for SECONDS, then sends SIGINT.
//   node --import tsx bench/collector-overload.ts [--seconds 10] [--main dist/cli/main.js] [-- collect args]
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchV9Stream } from '../src/netflow/encode.js';

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = argv.indexOf(name);
  const end = argv.includes('--') ? argv.indexOf('--') : argv.length;
  return i >= 0 && i < end ? argv[i + 1] : def;
};
const seconds = Number(opt('--seconds', '10'));
const main = opt('--main', 'dist/cli/main.js');
const extra = argv.includes('--') ? argv.slice(argv.indexOf('--') + 1) : [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(join(tmpdir(), 'cr-overload-'));
const port = 20000 + Math.floor(Math.random() * 20000);
const p = spawn(
  process.execPath,
  [main, 'collect', '--listen', `udp://127.0.0.1:${port}`, '--db', join(dir, 'f.duckdb'), ...extra],
  { stdio: ['ignore', 'pipe', 'pipe'] },
);
let out = '';
let err = '';
let summaryAt = 0;
p.stdout.on('data', (d) => {
  summaryAt ||= Date.now();
  out += d;
});
p.stderr.on('data', (d) => (err += d));
for (let k = 0; k < 1200 && !err.includes('collecting on'); k++) {
  if (p.exitCode !== null) throw new Error(`collect exited: ${err}`);
  await sleep(50);
}
/** Peak resident set (VmHWM, kB) of the collector. */
const hwm = () => {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
};
let peak = 0;
const monitor = setInterval(() => (peak = Math.max(peak, hwm())), 200);
const sock = createSocket('udp4');
const stream = benchV9Stream(1e9, 30, 20);
const t0 = Date.now();
let sent = 0;
while (Date.now() - t0 < seconds * 1000) {
  for (let i = 0; i < 200; i++) {
    sock.send(stream.next().value as Buffer, port, '127.0.0.1');
    sent++;
  }
  await new Promise((r) => setImmediate(r));
}
const stopAt = Date.now();
peak = Math.max(peak, hwm());
p.kill('SIGINT');
await new Promise((r) => p.once('exit', r));
clearInterval(monitor);
sock.close();
console.log(
  `${sent} datagrams (${sent * 30} flows) in ${seconds} s; peak RSS ${Math.round(peak / 1024)} MB; SIGINT to summary (committed) ${summaryAt - stopAt} ms, to exit ${Date.now() - stopAt} ms`,
);
console.log(out.trim());
rmSync(dir, { recursive: true, force: true });
