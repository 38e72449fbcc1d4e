// Helpers for tests that run softflowd and nfcapd/nfdump as real peers on loopback.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ipText, writeIp } from '../../src/flow/record.js';
import type { StoredFlow } from '../../src/store/store.js';

export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', res));
  const port = s.address().port;
  await new Promise<void>((res) => s.close(res));
  return port;
}

export function exited(p: ChildProcess): Promise<number | null> {
  if (p.exitCode !== null) return Promise.resolve(p.exitCode);
  return new Promise((res) => p.once('exit', (code) => res(code)));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until `cond` holds, looking every 20 ms; past `ms` an error names `what`. */
export async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(20);
  }
}

/** Node's arguments for `coinradar collect` from the sources, listening on `listen`, into `db`. */
export const collectArgs = (db: string, listen: string, ...extra: string[]) => [
  '--import',
  'tsx',
  'src/cli/main.ts',
  'collect',
  '--listen',
  listen,
  '--db',
  db,
  ...extra,
];

/** nfcapd writing into `dir` on 127.0.0.1:port; resolves once it has opened its current file. */
export async function startNfcapd(dir: string, port: number, extra: string[] = []): Promise<ChildProcess> {
  const p = spawn('nfcapd', ['-w', dir, '-p', String(port), '-b', '127.0.0.1', '-t', '3600', ...extra], {
    stdio: 'ignore',
  });
  for (let k = 0; k < 100; k++) {
    if (readdirSync(dir).some((f) => f.startsWith('nfcapd.current'))) break;
    if (p.exitCode !== null) throw new Error(`nfcapd exited with ${p.exitCode}`);
    await sleep(20);
  }
  await sleep(50);
  return p;
}

export async function stopNfcapd(p: ChildProcess, dir: string): Promise<string> {
  p.kill('SIGTERM');
  await exited(p);
  const files = readdirSync(dir).filter((f) => /^nfcapd\.\d{12}$/.test(f));
  if (files.length !== 1) throw new Error(`nfcapd left ${files.length} files in ${dir}`);
  return join(dir, files[0]);
}

export interface PeerFlow {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  proto: number;
  packets: number;
  bytes: number;
  revPackets: number;
  revBytes: number;
}

const PROTO: Record<string, number> = { TCP: 6, UDP: 17, ICMP: 1, ICMP6: 58, IGMP: 2, GRE: 47, ESP: 50 };

/** Addresses in one canonical text form (nfdump and coinradar print IPv6 slightly differently). */
/** Stored flows in the peers' comparison shape. */
export function storedAsPeer(rows: StoredFlow[]): PeerFlow[] {
  return rows.map((f) => ({
    src: canonIp(f.src),
    dst: canonIp(f.dst),
    srcPort: f.sport,
    dstPort: f.dport,
    proto: f.proto,
    packets: f.packets,
    bytes: f.bytes,
    revPackets: f.rev_packets,
    revBytes: f.rev_bytes,
  }));
}

export function canonIp(text: string): string {
  const b = new Uint8Array(16);
  const v = writeIp(b, 0, text.trim());
  return ipText(b, 0, v);
}

/** Flows of an nfcapd file as nfdump reports them (`nfdump -r FILE -o csv`). */
export function nfdumpFlows(file: string): PeerFlow[] {
  const r = spawnSync('nfdump', ['-r', file, '-o', 'csv', '-q'], {
    env: { ...process.env, TZ: 'UTC' },
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0)
    throw new Error(`nfdump -r ${file} failed: ${r.error?.message ?? `status ${r.status}`} ${r.stderr}`);
  const out: PeerFlow[] = [];
  for (const line of r.stdout.split('\n')) {
    const c = line.split(',');
    if (c.length < 16 || !/^\d{4}-/.test(c[0])) continue;
    const proto = PROTO[c[7].trim()] ?? Number(c[7]);
    if (!Number.isFinite(proto)) throw new Error(`unknown protocol in nfdump output: ${c[7]}`);
    out.push({
      src: canonIp(c[3]),
      dst: canonIp(c[4]),
      srcPort: Number(c[5]),
      dstPort: Number(c[6]),
      proto,
      packets: Number(c[11]),
      bytes: Number(c[12]),
      revPackets: Number(c[13]),
      revBytes: Number(c[14]),
    });
  }
  return out;
}

export interface FlowTotals {
  flows: number;
  packets: number;
  bytes: number;
  revPackets: number;
  revBytes: number;
}

/** Per 5-tuple sums (several records may share a 5-tuple) and overall totals. */
export function byFiveTuple(flows: PeerFlow[]): { keys: Map<string, FlowTotals>; total: FlowTotals } {
  const keys = new Map<string, FlowTotals>();
  const total: FlowTotals = { flows: 0, packets: 0, bytes: 0, revPackets: 0, revBytes: 0 };
  for (const f of flows) {
    const k = `${f.proto} ${f.src}:${f.srcPort} > ${f.dst}:${f.dstPort}`;
    const t = keys.get(k) ?? { flows: 0, packets: 0, bytes: 0, revPackets: 0, revBytes: 0 };
    for (const s of [t, total]) {
      s.flows++;
      s.packets += f.packets;
      s.bytes += f.bytes;
      s.revPackets += f.revPackets;
      s.revBytes += f.revBytes;
    }
    keys.set(k, t);
  }
  return { keys, total };
}

export function captureFixtures(): string[] {
  const out: string[] = [];
  for (const dir of ['test/fixtures/pcap/ndpi', 'test/fixtures/pcap/nesfit']) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) if (/\.pcap(ng)?$/.test(f)) out.push(join(dir, f));
  }
  return out;
}
