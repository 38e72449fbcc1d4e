/**
 * pcap → store against nDPI's ndpiReader, on the same file in the same run (issue 15 point 3).
 *
 *   node --import tsx bench/pcap-ndpi.ts [--copies 4,16] [--runs 3] [--data DIR] [--no-build] [--keep]
 *                                        [--before DIR]
 *
 * Input: every capture in ../shared/data/pcap/ndpi-train merged into one Ethernet pcap in time
 * order (stable sort on the timestamp, as mergecap does for sorted inputs), then replicated N
 * times: each packet is written N times with the same timestamp, copy k with one byte of both
 * addresses changed (IPv4 third octet, IPv6 byte 13 XOR k) and the IPv4 header and TCP/UDP/ICMPv6
 * checksums updated (RFC 1624), so every copy is a distinct set of hosts and flows at the same
 * time — N times the traffic of the same network, not N passes over the same flows. Link types
 * other than Ethernet are converted (Linux cooked v1/v2, raw IP, BSD null/loop, PPP and Cisco HDLC
 * get an Ethernet header with the ethertype they name: both tools read those link types, but the
 * merged file has one); what carries no IP (PPP control protocols, SLARP) or another link type is
 * left out and counted. Written once per run into a temporary directory.
 *
 * Each round runs, on the same file, one after the other:
 *   ndpiReader -i FILE -q                               (Debian libndpi-bin; installed if root)
 *   node dist/cli/main.js ingest FILE --db fresh.duckdb  (the real CLI: geo + detection into DuckDB)
 *   bench/pcap-ingest-split.ts FILE nostore             (the same ingest, store writes replaced by nothing)
 *   bench/pcap-ingest-split.ts FILE flows               (capture → flows only)
 * and once more per input, bench/pcap-ingest-split.ts FILE phases DB: the CPU of each step of the
 * DuckDB store (import, open + schema, appends, detections, commit, close).
 * CPU is user + system of each child (cutime + cstime from /proc/self/stat around a waited-for
 * child, so DuckDB's and libuv's threads count), and the ratio is ndpiReader's CPU over ours
 * (≥ 1 means coinradar is the faster one). The best of `--runs` rounds is reported, and each
 * round's ratio too, with the load average around it. `--before DIR` measures another checkout's
 * build (its dist/, built beforehand) in the same rounds, for before/after figures.
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { Diagnostics } from '../src/flow/diagnostics.js';
import { childCpuSeconds, pcapFileHeader } from './peer-cpu.js';
import { readCapture } from '../src/capture/reader.js';
import { DecodedPacket, Decoded, decodePacket } from '../src/capture/decode.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const flag = (name: string) => process.argv.includes(`--${name}`);
const copiesList = arg('copies', '4,16').split(',').map(Number);
const runs = Number(arg('runs', '3'));
const dataDir = resolve(arg('data', '../shared/data/pcap/ndpi-train'));
const root = resolve('.');

const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** One merged packet: an Ethernet frame, its timestamp in µs and its original length. */
interface Frame {
  usec: number;
  frame: Buffer;
  origLen: number;
}

const MAC_HEADER = Buffer.from([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);

function ethernet(ethType: number, ip: Buffer): Buffer {
  const f = Buffer.alloc(14 + ip.length);
  MAC_HEADER.copy(f, 0);
  f.writeUInt16BE(ethType, 12);
  ip.copy(f, 14);
  return f;
}

/** The ethertype of an IP packet from its version nibble, or 0. */
function ipEthType(b: Buffer, at: number): number {
  if (b.length <= at) return 0;
  const v = b[at] >> 4;
  return v === 4 ? 0x0800 : v === 6 ? 0x86dd : 0;
}

/** The packet as an Ethernet frame, or null when its link type is not one we convert. */
function toEthernet(linkType: number, data: Buffer): { frame: Buffer; header: number } | null {
  switch (linkType) {
    case 1:
      return { frame: Buffer.from(data), header: 14 };
    case 113: // Linux cooked v1: 16-byte header, protocol at 14
      if (data.length < 16) return null;
      return { frame: ethernet(data.readUInt16BE(14), data.subarray(16)), header: 16 };
    case 276: // Linux cooked v2: 20-byte header, protocol at 0
      if (data.length < 20) return null;
      return { frame: ethernet(data.readUInt16BE(0), data.subarray(20)), header: 20 };
    case 0: // BSD null, OpenBSD loop: 4-byte family, then IP
    case 108: {
      const t = ipEthType(data, 4);
      return t ? { frame: ethernet(t, data.subarray(4)), header: 4 } : null;
    }
    case 101: // raw IP
    case 12:
    case 14:
    case 228:
    case 229: {
      const t = ipEthType(data, 0);
      return t ? { frame: ethernet(t, data), header: 0 } : null;
    }
    case 9: // PPP, PPP in HDLC-like framing: optional ff 03, a 1- or 2-byte protocol, then IP
    case 50: {
      // Cisco HDLC framing is found on PPP links too (decode.ts reads it the same way).
      if (data[0] === 0x0f || data[0] === 0x8f) return toEthernet(104, data);
      let h = data.length >= 2 && data[0] === 0xff && data[1] === 0x03 ? 2 : 0;
      if (data.length <= h) return null;
      let proto = data[h];
      if (proto & 1) h += 1;
      else {
        if (data.length < h + 2) return null;
        proto = data.readUInt16BE(h);
        h += 2;
      }
      const t = proto === 0x21 ? 0x0800 : proto === 0x57 ? 0x86dd : 0;
      return t ? { frame: ethernet(t, data.subarray(h)), header: h } : null;
    }
    case 104: // Cisco HDLC: address, control, ethertype
      if (data.length < 4) return null;
      if (data.readUInt16BE(2) !== 0x0800 && data.readUInt16BE(2) !== 0x86dd) return null;
      return { frame: ethernet(data.readUInt16BE(2), data.subarray(4)), header: 4 };
    default:
      return null;
  }
}

async function mergeCaptures(): Promise<{ frames: Frame[]; files: number; skipped: Map<string, number> }> {
  const frames: Frame[] = [];
  const skipped = new Map<string, number>();
  const names = readdirSync(dataDir)
    .filter((f) => /\.(pcap|pcapng|cap)$/.test(f))
    .sort();
  for (const name of names) {
    await readCapture(join(dataDir, name), new Diagnostics(), (p) => {
      const e = toEthernet(p.linkType, p.data);
      if (!e) {
        const k = `link type ${p.linkType}`;
        skipped.set(k, (skipped.get(k) ?? 0) + 1);
        return;
      }
      frames.push({
        usec: Math.round(p.tsMs * 1000),
        frame: e.frame,
        origLen: Math.max(e.frame.length, p.origLen - e.header + 14),
      });
    });
  }
  // Array.prototype.sort is stable: packets with equal times keep their file order.
  frames.sort((a, b) => a.usec - b.usec);
  return { frames, files: names.length, skipped };
}

/** RFC 1624: the checksum at `at` after one 16-bit word it covers changed from `from` to `to`. */
function adjustChecksum(b: Buffer, at: number, from: number, to: number): void {
  let sum = (~b.readUInt16BE(at) & 0xffff) + (~from & 0xffff) + to;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  b.writeUInt16BE(~sum & 0xffff, at);
}

/** Where a frame's addresses and checksums are, worked out once per merged packet. */
interface Rewrite {
  /** Offsets of the changed byte in the source and destination address, or -1. */
  srcByte: number;
  dstByte: number;
  /** IPv4 header checksum, transport checksum (-1 when absent, not captured or a UDP zero). */
  ipSum: number;
  l4Sum: number;
}

const decoded = new DecodedPacket();

function rewriteOf(f: Buffer): Rewrite {
  const none = { srcByte: -1, dstByte: -1, ipSum: -1, l4Sum: -1 };
  if (decodePacket(f, 0, f.length, f.length, 1, decoded) !== Decoded.Ok) return none;
  const v4 = decoded.ipVersion === 4;
  const at = v4 ? 2 : 13;
  let ipSum = -1;
  let l4 = -1;
  let proto = -1;
  if (v4) {
    const ip = decoded.srcOffset - 12;
    ipSum = ip + 10;
    if (decoded.fragment === 0) {
      l4 = ip + (f[ip] & 15) * 4;
      proto = f[ip + 9];
    }
  } else if (decoded.fragment === 0) {
    const ip = decoded.srcOffset - 8;
    // Only a transport header right after the fixed header; extension headers keep their sum.
    proto = f[ip + 6];
    l4 = ip + 40;
  }
  let l4Sum = -1;
  if (proto === 6) l4Sum = l4 + 16;
  else if (proto === 17) l4Sum = l4 + 6;
  else if (proto === 58 && !v4) l4Sum = l4 + 2;
  if (l4Sum >= 0 && (l4Sum + 2 > f.length || (proto === 17 && f.readUInt16BE(l4Sum) === 0))) l4Sum = -1;
  return { srcByte: decoded.srcOffset + at, dstByte: decoded.dstOffset + at, ipSum, l4Sum };
}

function changeByte(f: Buffer, r: Rewrite, at: number, k: number): void {
  const w = at & ~1;
  const from = f.readUInt16BE(w);
  f[at] ^= k;
  const to = f.readUInt16BE(w);
  if (r.ipSum >= 0) adjustChecksum(f, r.ipSum, from, to);
  if (r.l4Sum >= 0) adjustChecksum(f, r.l4Sum, from, to);
}

function writeReplicated(path: string, frames: Frame[], copies: number): void {
  const fd = openSync(path, 'w');
  writeSync(fd, pcapFileHeader());
  const out = Buffer.alloc(8 << 20);
  let used = 0;
  for (const p of frames) {
    const r = rewriteOf(p.frame);
    const sec = Math.floor(p.usec / 1e6);
    for (let k = 0; k < copies; k++) {
      const len = p.frame.length;
      if (used + 16 + len > out.length) {
        writeSync(fd, out, 0, used);
        used = 0;
      }
      out.writeUInt32LE(sec >>> 0, used);
      out.writeUInt32LE(p.usec - sec * 1e6, used + 4);
      out.writeUInt32LE(len, used + 8);
      out.writeUInt32LE(p.origLen, used + 12);
      const f = out.subarray(used + 16, used + 16 + len);
      p.frame.copy(f);
      if (k > 0 && r.srcByte >= 0) {
        changeByte(f, r, r.srcByte, k);
        changeByte(f, r, r.dstByte, k);
      }
      used += 16 + len;
    }
  }
  writeSync(fd, out, 0, used);
  closeSync(fd);
}

interface Measured {
  cpu: number;
  wall: number;
  out: string;
}

function measure(cmd: string, args: string[], cwd?: string): Measured {
  const c = childCpuSeconds();
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26, cwd });
  const wall = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status ?? r.signal}\n${r.stderr}`);
  return { cpu: childCpuSeconds() - c, wall, out: `${r.stdout}${r.stderr}` };
}

function ensureNdpiReader(): boolean {
  if (spawnSync('ndpiReader', ['-h']).error === undefined) return true;
  if (process.getuid?.() !== 0) return false;
  console.log('installing libndpi-bin (ndpiReader) with apt-get');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
  spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'libndpi-bin'], {
    stdio: 'inherit',
    env,
  });
  return spawnSync('ndpiReader', ['-h']).error === undefined;
}

if (!existsSync(dataDir)) {
  console.log(`skipped: no captures at ${dataDir} (--data DIR)`);
  process.exit(0);
}
if (!ensureNdpiReader()) {
  console.log('skipped: ndpiReader (Debian libndpi-bin) is not installed and we are not root to install it');
  process.exit(0);
}
if (!flag('no-build')) {
  const b = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
  if (b.status !== 0) process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'coinradar-pcap-ndpi-'));
// The split runs as plain JavaScript (transpiled once here): tsx's loader would add ~0.2 CPU s to
// each run, which the CLI does not pay.
const split = join(dir, 'pcap-ingest-split.mjs');
writeFileSync(
  split,
  ts.transpileModule(readFileSync(join(root, 'bench/pcap-ingest-split.ts'), 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
  }).outputText,
);
const ndpiHelp = spawnSync('ndpiReader', ['-h'], { encoding: 'utf8' });
const ndpiVersion = /nDPI ([\d.]+)/.exec(`${ndpiHelp.stdout}${ndpiHelp.stderr}`)?.[1];
console.log(
  `machine: ${cpus().length} CPUs, ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ` +
    `nDPI ${ndpiVersion ?? '?'}; load ${load()}`,
);
const merged = await mergeCaptures();
console.log(
  `input: ${merged.files} captures in ${dataDir}, ${merged.frames.length} packets merged` +
    (merged.skipped.size
      ? `; left out: ${[...merged.skipped].map(([k, n]) => `${n} packets of ${k}`).join(', ')}`
      : ''),
);

interface Build {
  name: string;
  root: string;
  best: { ingest: number; nostore: number; flows: number };
}
const builds: Build[] = [{ name: 'this build', root, best: { ingest: 0, nostore: 0, flows: 0 } }];
const beforeRoot = arg('before', '');
if (beforeRoot)
  builds.unshift({
    name: `before (${beforeRoot})`,
    root: resolve(beforeRoot),
    best: { ingest: 0, nostore: 0, flows: 0 },
  });

try {
  for (const copies of copiesList) {
    const file = join(dir, `ndpi-train-x${copies}.pcap`);
    writeReplicated(file, merged.frames, copies);
    const mb = statSync(file).size / 1e6;
    console.log(`\n== ${copies}x: ${file}, ${mb.toFixed(1)} MB, ${merged.frames.length * copies} packets`);
    let bestNdpi = Infinity;
    for (const b of builds) b.best = { ingest: Infinity, nostore: Infinity, flows: Infinity };
    let stored = '';
    let detections = '';
    for (let r = 0; r < runs; r++) {
      const before = load();
      const ndpi = measure('ndpiReader', ['-i', file, '-q']);
      bestNdpi = Math.min(bestNdpi, ndpi.cpu);
      const line: string[] = [`ndpiReader ${ndpi.cpu.toFixed(2)}`];
      for (const b of builds) {
        const db = join(dir, `store-${copies}-${r}.duckdb`);
        const ingest = measure(process.execPath, [
          join(b.root, 'dist/cli/main.js'),
          'ingest',
          file,
          '--db',
          db,
        ]);
        rmSync(db, { force: true });
        rmSync(`${db}.wal`, { force: true });
        stored = /(\d+) flows stored/.exec(ingest.out)?.[1] ?? '?';
        detections = /detections: (.*)/.exec(ingest.out)?.[1] ?? '?';
        // The split resolves dist/ from its working directory: the build's own.
        const nostore = measure(process.execPath, [split, file, 'nostore'], b.root);
        const flows = measure(process.execPath, [split, file, 'flows'], b.root);
        b.best.ingest = Math.min(b.best.ingest, ingest.cpu);
        b.best.nostore = Math.min(b.best.nostore, nostore.cpu);
        b.best.flows = Math.min(b.best.flows, flows.cpu);
        line.push(
          `${builds.length > 1 ? `${b.name}: ` : ''}ingest ${ingest.cpu.toFixed(2)} (wall ${ingest.wall.toFixed(2)}), ` +
            `without store ${nostore.cpu.toFixed(2)}, flows only ${flows.cpu.toFixed(2)}, ` +
            `ratio ndpiReader/ingest ${(ndpi.cpu / ingest.cpu).toFixed(2)}x [${nostore.out.trim().split('\n').pop()}]`,
        );
      }
      console.log(`round ${r + 1} (load ${before} → ${load()}), CPU s: ${line.join('; ')}`);
    }
    console.log(`ingest: ${stored} flows stored; detections: ${detections}`);
    // Where the store's share goes: one more ingest through the real store, its steps timed.
    for (const b of builds) {
      const db = join(dir, `phases-${copies}.duckdb`);
      const ph = measure(process.execPath, [split, file, 'phases', db], b.root);
      rmSync(db, { force: true });
      rmSync(`${db}.wal`, { force: true });
      console.log(`${builds.length > 1 ? `${b.name}: ` : ''}${ph.out.trim().split('\n').pop()}`);
    }
    const rate = (cpu: number) => `${cpu.toFixed(2)} CPU s (${(mb / cpu).toFixed(1)} MB per CPU s)`;
    console.log(`best of ${runs}: ndpiReader -i FILE -q ${rate(bestNdpi)}`);
    for (const b of builds) {
      const { ingest, nostore, flows } = b.best;
      if (builds.length > 1) console.log(` ${b.name}:`);
      console.log(
        `  coinradar ingest (geo + detection + DuckDB) ${rate(ingest)}: ratio ${(bestNdpi / ingest).toFixed(2)}x`,
      );
      console.log(
        `  the same without the store writes ${rate(nostore)}: ratio ${(bestNdpi / nostore).toFixed(2)}x`,
      );
      console.log(`  capture → flows only ${rate(flows)}: ratio ${(bestNdpi / flows).toFixed(2)}x`);
      console.log(
        `  split: the store costs ${(ingest - nostore).toFixed(2)} CPU s, everything else ${nostore.toFixed(2)} ` +
          `(store/rest ${((ingest - nostore) / nostore).toFixed(2)})`,
      );
    }
    if (!flag('keep')) rmSync(file, { force: true });
  }
} finally {
  if (!flag('keep')) rmSync(dir, { recursive: true, force: true });
  else console.log(`\nkept ${dir}`);
}
console.log(`\nload at the end: ${load()}`);
