/**
 * Labelled windows for training and cross-validation, from real captures (as pcap flows cut every
 * 5 min and every 60 s, as Zeek rows, as the NetFlow an exporter would send: softflowd → nfcapd →
 * nfdump CSV, and sampled 1:10 as the collector decodes it), the scenario generator's
 * miners and background, and synthetic long-lived keep-alive channels. A capture's windows are
 * labelled by what the payload rules saw in it (Stratum / getwork at payload confidence = miner);
 * the features never read payload.
 */
import { onEarlyExit } from '../../process/early-exit.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Diagnostics } from '../../flow/diagnostics.js';
import { detectFormat } from '../../flow/formats.js';
import { readHead } from '../../flow/ingest.js';
import type { FlowBatch } from '../../flow/record.js';
import '../../flow/all-formats.js';
import { NetflowDecoder } from '../../netflow/decoder.js';
import { udpSocketDrops, udpSocketInode } from '../../netflow/socket-drops.js';
import { createDetector, detectBatch } from '../registry.js';
import { buildWorld, defaultConfig, ipv4Text, type World } from '../../scenario/world.js';
import { flowBatches } from '../../scenario/generate.js';
import { collectGroups, GroupCollector, windowSamples, DEFAULT_WINDOW_MS } from './groups.js';
import { keepaliveBatches, KEEPALIVE_FAMILIES } from './keepalive.js';
import { minerBatches, MINER_COINS, RIGS } from './miners.js';

export interface Sample {
  /** Cross-validation unit: every window of one capture (in every variant) shares it. */
  unit: string;
  family: string;
  variant: string;
  key: string;
  windowStartMs: number;
  label: 0 | 1;
  records: number;
  connections: number;
  spanMs: number;
  packets: number;
  features: number[];
}

const r6 = (x: number) => Number(x.toPrecision(6));

/**
 * A file's flow batches; a capture's flow table cuts flows after `activeTimeoutMs` (default 5 min)
 * and ends them after `idleTimeoutMs` without a packet (default 60 s).
 */
export async function readBatches(
  path: string,
  payloadCap: number,
  activeTimeoutMs?: number,
  idleTimeoutMs?: number,
): Promise<FlowBatch[]> {
  const reader = detectFormat(readHead(path));
  if (!reader) throw new Error(`${path}: not a format coinradar reads`);
  const out: FlowBatch[] = [];
  const diagnostics = new Diagnostics(0);
  for await (const b of reader.read(path, { diagnostics, payloadCap, activeTimeoutMs, idleTimeoutMs }))
    out.push(b);
  return out;
}

/**
 * The capture's flows cut every minute, as an exporter with a 60 s active timeout sends them
 * (Juniper's default for services flow monitoring; most exporters allow it). softflowd reading a file
 * does not apply its `maxlife`, so the NetFlow variants below keep a session whole; this variant is
 * how the real miner sessions (17–19 min) get records enough for their timing
 * (`recordCountDispersion`).
 */
export const CUT_60S_VARIANT = { name: 'pcap-60s', activeTimeoutMs: 60_000 };

/**
 * The capture as Zeek's conn.log has it: one row per connection (no active timeout), a TCP
 * connection idle for Zeek's `tcp_inactivity_timeout` (5 min) ends its row. The behaviour model
 * reads TCP only, so Zeek's 1-min UDP timeout does not matter here.
 */
export const ZEEK_VARIANT = {
  name: 'zeek',
  activeTimeoutMs: Number.POSITIVE_INFINITY,
  idleTimeoutMs: 300_000,
};

const MINING_LABELS = new Set(['stratum', 'getblocktemplate']);

/** Group keys with a Stratum/getwork flow at payload confidence. */
export function minerKeys(batches: FlowBatch[]): Set<string> {
  const det = createDetector(null);
  const keys = new Set<string>();
  const c = new GroupCollector();
  for (const b of batches) {
    const rows = new Set<number>();
    detectBatch(det, b, (i, d) => {
      if (d.confidence === 'payload' && MINING_LABELS.has(d.label)) rows.add(i);
    });
    c.add(
      b,
      (i) => i,
      (i) => rows.has(i),
    );
  }
  for (const k of c.groups.keys()) keys.add(k);
  return keys;
}

export function samplesOf(
  batches: Iterable<FlowBatch>,
  meta: { unit: string; family: string; variant: string },
  label: (key: string) => 0 | 1,
  windowMs = DEFAULT_WINDOW_MS,
): Sample[] {
  const c = collectGroups(batches);
  const out: Sample[] = [];
  for (const g of [...c.groups.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    for (const w of windowSamples(g, windowMs)) {
      out.push({
        ...meta,
        key: w.key,
        windowStartMs: w.windowStartMs,
        label: label(w.key),
        records: w.records,
        connections: w.connections,
        spanMs: w.spanMs,
        packets: r6(w.packets),
        features: Array.from(w.features, r6),
      });
    }
  }
  return out;
}

function freeUdpPort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createSocket('udp4');
    s.once('error', rej);
    s.bind(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const exited = (p: ChildProcess) =>
  p.exitCode !== null ? Promise.resolve(p.exitCode) : new Promise<number | null>((r) => p.once('exit', r));

/** NetFlow exporter settings the captures are replayed through (softflowd flags). */
export const NETFLOW_VARIANTS: { name: string; args: string[] }[] = [
  // One-way NetFlow v5, records cut every 5 minutes (an active timeout).
  { name: 'netflow-v5', args: ['-v', '5', '-t', 'maxlife=300'] },
  // Bidirectional IPFIX with millisecond times, cut every minute.
  { name: 'ipfix-biflow', args: ['-v', '10', '-A', 'milli', '-b', '-t', 'maxlife=60'] },
];

/**
 * Sampled NetFlow as `coinradar collect` receives it: softflowd samples 1 packet in N and says so
 * in the v5 header, the collector's decoder keeps the rate with each record (exportedDirect). Read
 * through nfcapd and `nfdump -o csv` instead, the rate is lost (nfcapd scales the counts and the CSV
 * has no sampling column). 1:100 is not trained on: the captures' sessions of minutes leave 0–3
 * packets a record there, records without a shape (docs/detection-rules.md, variants).
 */
export const SAMPLED_VARIANTS: { name: string; args: string[] }[] = [
  { name: 'netflow-v5-1:10', args: [...NETFLOW_VARIANTS[0].args, '-s', '10'] },
];

export function haveNetflowTools(): string[] {
  return ['softflowd', 'nfcapd', 'nfdump'].filter(
    (c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0,
  );
}

/**
 * A capture replayed by softflowd into nfcapd on loopback, read back with `nfdump -o csv` and
 * coinradar's nfdump CSV reader. Returns the batches.
 */
export async function netflowOf(capture: string, args: string[]): Promise<FlowBatch[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cr-train-'));
  let nfcapd: ChildProcess | null = null;
  let sfd: ChildProcess | null = null;
  // Ended by a signal (SIGTERM to node alone too), the children must not outlive this process.
  const release = onEarlyExit(() => {
    nfcapd?.kill('SIGKILL');
    sfd?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    const port = await freeUdpPort();
    nfcapd = spawn('nfcapd', ['-w', dir, '-p', String(port), '-b', '127.0.0.1', '-t', '3600'], {
      stdio: 'ignore',
    });
    for (let k = 0; k < 250 && !readdirSync(dir).some((f) => f.startsWith('nfcapd.current')); k++) {
      if (nfcapd.exitCode !== null) throw new Error(`nfcapd exited with ${nfcapd.exitCode}`);
      await sleep(20);
    }
    await sleep(50);
    sfd = spawn('softflowd', ['-r', capture, '-n', `127.0.0.1:${port}`, '-a', ...args], {
      stdio: 'ignore',
    });
    const code = await exited(sfd);
    sfd = null;
    if (code !== 0) throw new Error(`softflowd ${args.join(' ')} on ${capture} exited with ${code}`);
    await sleep(150);
    nfcapd.kill('SIGTERM');
    await exited(nfcapd);
    nfcapd = null;
    const files = readdirSync(dir).filter((f) => /^nfcapd\.\d{12}$/.test(f));
    if (files.length !== 1) throw new Error(`nfcapd left ${files.length} files for ${capture}`);
    const r = spawnSync('nfdump', ['-r', join(dir, files[0]), '-o', 'csv'], {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
      env: { ...process.env, TZ: 'UTC' },
    });
    if (r.status !== 0) throw new Error(`nfdump on ${capture}: ${r.stderr}`);
    const csv = join(dir, 'flows.csv');
    writeFileSync(csv, r.stdout);
    return await readBatches(csv, 0);
  } finally {
    // A failed replay must not leave nfcapd running (it would also keep this process alive).
    if (nfcapd && nfcapd.exitCode === null) {
      nfcapd.kill('SIGTERM');
      await exited(nfcapd);
    }
    rmSync(dir, { recursive: true, force: true });
    release();
  }
}

/**
 * A capture replayed by softflowd to a UDP socket here, its datagrams decoded by the collector's
 * NetflowDecoder: what `coinradar collect` stores. Datagrams lost on loopback are an error, so no
 * figure rests on a short read: the kernel's drop counter for the socket (Linux) covers the last
 * datagrams, which sequence gaps cannot show.
 */
export async function exportedDirect(capture: string, args: string[]): Promise<FlowBatch[]> {
  const sock = createSocket('udp4');
  const datagrams: Buffer[] = [];
  sock.on('message', (m) => datagrams.push(m));
  await new Promise<void>((res, rej) => {
    sock.once('error', rej);
    sock.bind(0, '127.0.0.1', () => res());
  });
  let release = () => {};
  try {
    const port = sock.address().port;
    const inode = udpSocketInode(port);
    const sfd = spawn('softflowd', ['-r', capture, '-n', `127.0.0.1:${port}`, '-a', ...args], {
      stdio: 'ignore',
    });
    release = onEarlyExit(() => sfd.kill('SIGKILL'));
    const code = await exited(sfd);
    if (code !== 0) throw new Error(`softflowd ${args.join(' ')} on ${capture} exited with ${code}`);
    await sleep(100);
    const dropped = inode ? udpSocketDrops(inode) : null;
    if (dropped) throw new Error(`export read short: the kernel dropped ${dropped} datagrams`);
  } finally {
    release();
    sock.close();
  }
  const out: FlowBatch[] = [];
  const diagnostics = new Diagnostics(0);
  const decoder = new NetflowDecoder({
    source: capture,
    unit: 'datagram',
    diagnostics,
    onBatch: (b) => out.push(b),
  });
  datagrams.forEach((d, i) => decoder.decode(d, '127.0.0.1', 0, i));
  decoder.finish();
  const lost = [...diagnostics.counts].filter(([k, v]) => /missing/.test(k) && v > 0);
  if (lost.length) throw new Error(`export read short: ${lost.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  return out;
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export interface CaptureSpec {
  path: string;
  family: string;
  /** Label windows by the payload rules (miner captures); otherwise every window is 0. */
  labelByPayload: boolean;
}

/**
 * The samples of one capture in every variant (the capture's flows three ways, then each NetFlow
 * export). A variant
 * that cannot be made (softflowd refuses some fuzzed captures) is skipped and named in `problems`.
 */
export async function captureSamples(
  spec: CaptureSpec,
  netflow: boolean,
  problems: string[] = [],
): Promise<Sample[]> {
  const unit = `${spec.family}/${basename(spec.path)}`;
  let pcap: FlowBatch[];
  try {
    pcap = await readBatches(spec.path, 2048);
  } catch (e) {
    problems.push(`${unit} pcap: ${(e as Error).message.replace(/\/[^ ]*\//g, '')}`);
    return [];
  }
  const miners = spec.labelByPayload ? minerKeys(pcap) : new Set<string>();
  const label = (k: string): 0 | 1 => (miners.has(k) ? 1 : 0);
  const out = samplesOf(pcap, { unit, family: spec.family, variant: 'pcap' }, label);
  const cut = await readBatches(spec.path, 0, CUT_60S_VARIANT.activeTimeoutMs);
  out.push(...samplesOf(cut, { unit, family: spec.family, variant: CUT_60S_VARIANT.name }, label));
  const zeek = await readBatches(spec.path, 0, ZEEK_VARIANT.activeTimeoutMs, ZEEK_VARIANT.idleTimeoutMs);
  out.push(...samplesOf(zeek, { unit, family: spec.family, variant: ZEEK_VARIANT.name }, label));
  if (netflow) {
    const exports = [
      ...NETFLOW_VARIANTS.map((v) => ({ ...v, read: () => netflowOf(spec.path, v.args) })),
      ...SAMPLED_VARIANTS.map((v) => ({ ...v, read: () => exportedDirect(spec.path, v.args) })),
    ];
    for (const v of exports) {
      let batches: FlowBatch[];
      try {
        batches = await v.read();
      } catch (e) {
        problems.push(`${unit} ${v.name}: ${(e as Error).message.replace(/\/[^ ]*\//g, '')}`);
        continue;
      }
      out.push(...samplesOf(batches, { unit, family: spec.family, variant: v.name }, label));
    }
  }
  return out;
}

/** Scenario worlds: a few miners among ordinary hosts for two days; each seed is a CV unit. */
export const SCENARIO_RUNS: { seed: number; sampling: number; activeTimeoutS: number }[] = [
  { seed: 101, sampling: 1, activeTimeoutS: 1800 },
  { seed: 102, sampling: 1, activeTimeoutS: 300 },
  { seed: 103, sampling: 10, activeTimeoutS: 60 },
  { seed: 104, sampling: 100, activeTimeoutS: 300 },
  { seed: 105, sampling: 1, activeTimeoutS: 120 },
];

/**
 * A scenario world as training builds it (a few miners among ordinary hosts, from 17 May 2017) and
 * its miners' groups (`client -> pool:port`).
 */
export function scenarioWorld(
  run: { seed: number; sampling: number; activeTimeoutS: number },
  days = 2,
): { world: World; miners: Set<string> } {
  const start = Date.UTC(2017, 4, 17);
  const world = buildWorld(
    defaultConfig({
      seed: run.seed,
      startMs: start,
      days,
      onsetMs: start,
      growth: 'step',
      hosts: 24,
      miners: 6,
      btcNodes: 1,
      moneroShare: 0.5,
      sampling: run.sampling,
      activeTimeoutS: run.activeTimeoutS,
      outageRate: 0,
    }),
  );
  const miners = new Set<string>();
  for (const c of world.cryptoByHost.values())
    if (c.kind === 'miner' && c.pool)
      miners.add(`${ipv4Text(c.ip)} -> ${ipv4Text(c.pool.ip)}:${c.pool.port}`);
  return { world, miners };
}

export function scenarioSamples(run: (typeof SCENARIO_RUNS)[number]): Sample[] {
  const { world, miners } = scenarioWorld(run);
  const unit = `scenario/seed-${run.seed}`;
  const variant = `scenario-1:${run.sampling}-active-${run.activeTimeoutS}s`;
  return samplesOf(flowBatches(world), { unit, family: 'scenario', variant }, (k) => (miners.has(k) ? 1 : 0));
}

export function keepaliveSamples(seed: number): Sample[] {
  const out: Sample[] = [];
  for (const fam of KEEPALIVE_FAMILIES) {
    for (const [variant, batches] of keepaliveBatches(fam, seed)) {
      out.push(
        ...samplesOf(batches, { unit: `keepalive/${fam}-${seed}`, family: 'keepalive', variant }, () => 0),
      );
    }
  }
  return out;
}

export function synthMinerSamples(seed: number, rigs = RIGS): Sample[] {
  const out: Sample[] = [];
  for (const coin of Object.keys(MINER_COINS)) {
    for (const [variant, batches] of minerBatches(coin, seed, rigs)) {
      out.push(
        ...samplesOf(
          batches,
          { unit: `stratum-synth/${coin}-${seed}`, family: 'stratum-synth', variant },
          () => 1,
        ),
      );
    }
  }
  return out;
}
