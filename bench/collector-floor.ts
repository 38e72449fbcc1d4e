/**
 * The floor of a UDP receiver in Node: a socket that only counts what it gets, given the paced v9
 * stream of bench/netflow.ts, against nfcapd (which also stores) on the same stream in the same run.
 * What a Node collector pays per datagram before it decodes or stores anything (libuv's recvmsg,
 * a Buffer and an address object per datagram, the call into JS), so what is left of a 3× budget.
 * Usage: node --import tsx bench/collector-floor.ts [flows/s=200000] [seconds=10]
 */
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const RATE = Number(process.argv[2] ?? 200_000);
const SECONDS = Number(process.argv[3] ?? 10);
const PER_DATAGRAM = 30;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const netflowBench = new URL('./netflow.ts', import.meta.url).pathname;

/** The paced stream (bench/netflow.ts --send) to a port; the datagrams sent. */
async function sendTo(port: number): Promise<number> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', netflowBench, '--send', String(port), String(RATE), String(SECONDS)],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let out = '';
  child.stdout.on('data', (x) => (out += x));
  await new Promise((r) => child.once('exit', r));
  return Number(out.trim().split('\n').pop());
}

/** utime + stime of a process (all threads), seconds, 10 ms ticks. */
function procCpu(pid: number | 'self'): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

console.log(
  `load average at start: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
const sock = createSocket('udp4');
let got = 0;
sock.on('message', () => got++);
await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
sock.setRecvBufferSize(8 << 20);
const cpu0 = procCpu('self');
const sent = await sendTo(sock.address().port);
await sleep(300);
const cpu = procCpu('self') - cpu0;
sock.close();
const usDg = (cpu / Math.max(1, got)) * 1e6;
console.log(
  `Node receiver that only counts: ${got} of ${sent} datagrams, ${cpu.toFixed(2)} CPU-s = ${usDg.toFixed(2)} µs per datagram, ${(usDg / PER_DATAGRAM).toFixed(3)} µs per flow`,
);

if (spawnSync('sh', ['-c', 'command -v nfcapd']).status === 0) {
  const dir = mkdtempSync(join(tmpdir(), 'cr-bench-floor-'));
  try {
    const port = 42000 + Math.floor(Math.random() * 1000);
    const nf = spawn(
      'nfcapd',
      ['-w', dir, '-p', String(port), '-b', '127.0.0.1', '-t', '3600', '-B', '4194304'],
      {
        stdio: 'ignore',
      },
    );
    for (let k = 0; k < 100 && !readdirSync(dir).some((f) => f.startsWith('nfcapd.current')); k++)
      await sleep(20);
    const nsent = await sendTo(port);
    await sleep(500);
    const nfCpu = procCpu(nf.pid!);
    nf.kill('SIGTERM');
    await new Promise((r) => (nf.exitCode !== null ? r(null) : nf.once('exit', r)));
    const nfUs = (nfCpu / Math.max(1, nsent * PER_DATAGRAM)) * 1e6;
    console.log(
      `nfcapd (receives and stores), same stream: ${nfCpu.toFixed(2)} CPU-s for ${nsent} datagrams sent = ${nfUs.toFixed(3)} µs per flow; the Node floor is ${(usDg / PER_DATAGRAM / nfUs).toFixed(2)}x of it`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else console.log('nfcapd not installed: peer skipped');
