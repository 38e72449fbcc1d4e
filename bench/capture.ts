/**
 * Capture → flows throughput against tshark on the same file, in the same run.
 *
 *   node --import tsx bench/capture.ts [MB=400] [--before DIR] [--rounds N=5] [--fragment-mtu M]
 *
 * `--before DIR`: another checkout's capture → flows (its src/capture/formats.ts, loaded in this
 * process) is measured in the same rounds as this one and as this one without fragment
 * reassembly, the order alternating per round, for before/after figures on the same file.
 * `--fragment-mtu M`: the input's IPv4 packets longer than M bytes are cut into fragments as a
 * router on a link of that MTU would (a file of its own), to measure reassembly itself.
 *
 * The input is built from the real packets of every capture in test/fixtures/pcap: copy k of
 * them has its IPv4/IPv6 addresses rewritten (two bytes of each address from k), so every copy
 * is a new set of flows, and timestamps advance steadily so flows age out as in a live capture.
 * (Repeating one capture unchanged would only measure cache hits on the same flows.)
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { Diagnostics } from '../src/flow/diagnostics.js';
import { childCpuSeconds, pcapFileHeader } from './peer-cpu.js';
import { readCapture } from '../src/capture/reader.js';
import { captureFlows } from '../src/capture/formats.js';

const argv = process.argv.slice(2);
const option = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const targetMB = Number(argv.find((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--')) ?? 400);
const beforeRoot = option('before');
const rounds = Number(option('rounds') ?? 5);
const fragmentMtu = Number(option('fragment-mtu') ?? 0);
const outDir = 'bench/out';
const path = join(outDir, `capture-${targetMB}MB${fragmentMtu ? `-mtu${fragmentMtu}` : ''}.pcap`);

interface Pkt {
  data: Buffer;
  /** Offsets of the source and destination address in `data` and their length (4/16), or -1. */
  src: number;
  dst: number;
  alen: number;
}

async function loadPackets(): Promise<Pkt[]> {
  const out: Pkt[] = [];
  const dirs = ['test/fixtures/pcap/ndpi', 'test/fixtures/pcap/nesfit'];
  for (const d of dirs) {
    for (const f of readdirSync(d).filter((x) => /\.pcap(ng)?$/.test(x))) {
      await readCapture(join(d, f), new Diagnostics(), (p) => {
        if (p.linkType !== 1) return;
        const data = Buffer.from(p.data);
        if (data.length < 14) {
          out.push({ data, src: -1, dst: -1, alen: 0 });
          return;
        }
        let o = 12;
        let type = data.readUInt16BE(o);
        while ((type === 0x8100 || type === 0x88a8) && o + 6 <= data.length) {
          o += 4;
          type = data.readUInt16BE(o);
        }
        const ip = o + 2;
        if (type === 0x0800 && data.length >= ip + 20) {
          for (const f of fragmentMtu ? fragments(data, ip, fragmentMtu, out.length) : [data])
            out.push({ data: f, src: ip + 12, dst: ip + 16, alen: 4 });
        } else if (type === 0x86dd && data.length >= ip + 40)
          out.push({ data, src: ip + 8, dst: ip + 24, alen: 16 });
        else out.push({ data, src: -1, dst: -1, alen: 0 });
      });
    }
  }
  return out;
}

/** An IPv4 packet (header at `ip`) cut into fragments of at most `mtu` bytes, or itself. */
function fragments(data: Buffer, ip: number, mtu: number, id: number): Buffer[] {
  const ihl = (data[ip] & 15) * 4;
  const total = data.readUInt16BE(ip + 2);
  const len = total - ihl;
  if (total <= mtu || ip + total > data.length || data.readUInt16BE(ip + 6) & 0x3fff) return [data];
  const step = (mtu - ihl) & ~7;
  const out: Buffer[] = [];
  for (let o = 0; o < len; o += step) {
    const n = Math.min(step, len - o);
    const f = Buffer.alloc(ip + ihl + n);
    data.copy(f, 0, 0, ip + ihl);
    data.copy(f, ip + ihl, ip + ihl + o, ip + ihl + o + n);
    f.writeUInt16BE(ihl + n, ip + 2);
    f.writeUInt16BE(id & 0xffff, ip + 4);
    f.writeUInt16BE((o + n < len ? 0x2000 : 0) | (o >> 3), ip + 6);
    out.push(f);
  }
  return out;
}

async function generate(): Promise<void> {
  if (existsSync(path) && statSync(path).size >= targetMB * 1e6) return;
  mkdirSync(outDir, { recursive: true });
  const packets = await loadPackets();
  const fd = openSync(path, 'w');
  writeSync(fd, pcapFileHeader());
  const out = Buffer.alloc(8 << 20);
  let used = 0;
  let written = 24;
  let usec = 1_494_979_200 * 1e6; // 17 May 2017
  for (let k = 0; written < targetMB * 1e6; k++) {
    for (const p of packets) {
      const len = p.data.length;
      if (used + 16 + len > out.length) {
        writeSync(fd, out, 0, used);
        written += used;
        used = 0;
      }
      usec += 40; // 25 k packets per second of capture time
      out.writeUInt32LE(Math.floor(usec / 1e6), used);
      out.writeUInt32LE(usec % 1e6, used + 4);
      out.writeUInt32LE(len, used + 8);
      out.writeUInt32LE(len, used + 12);
      p.data.copy(out, used + 16);
      if (p.src >= 0) {
        // Second and third bytes of each address carry the copy number: distinct flows per copy.
        for (const a of [p.src, p.dst]) {
          out[used + 16 + a + 1] ^= k & 0xff;
          out[used + 16 + a + 2] ^= (k >> 8) & 0xff;
        }
      }
      used += 16 + len;
    }
  }
  writeSync(fd, out, 0, used);
  closeSync(fd);
}

type CaptureFlows = (
  path: string,
  opts: { diagnostics: Diagnostics; reassemble?: boolean },
) => AsyncIterable<{ length: number }>;

async function coinradar(
  flowsOf: CaptureFlows = captureFlows,
  reassemble = true,
): Promise<{ seconds: number; cpu: number; flows: number; diag: Diagnostics }> {
  const diag = new Diagnostics();
  const t = process.hrtime.bigint();
  const c = process.cpuUsage();
  let flows = 0;
  for await (const b of flowsOf(path, { diagnostics: diag, reassemble })) flows += b.length;
  const u = process.cpuUsage(c);
  return { seconds: Number(process.hrtime.bigint() - t) / 1e9, cpu: (u.user + u.system) / 1e6, flows, diag };
}

function tshark(): { seconds: number; cpu: number; conversations: number } | null {
  const t = process.hrtime.bigint();
  const c = childCpuSeconds();
  const r = spawnSync('tshark', ['-n', '-q', '-r', path, '-z', 'conv,tcp'], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  if (r.error || r.status !== 0) return null;
  const conversations = r.stdout.split('\n').filter((l) => /<->/.test(l)).length;
  return { seconds: Number(process.hrtime.bigint() - t) / 1e9, cpu: childCpuSeconds() - c, conversations };
}

await generate();
const mb = statSync(path).size / 1e6;
console.log(`input: ${path}, ${mb.toFixed(1)} MB; ${cpus().length} CPUs, ${cpus()[0]?.model}`);
console.log(`load average: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
await coinradar(); // warm-up (JIT, page cache)
const runs = [await coinradar(), await coinradar(), await coinradar()];
const ours = runs.reduce((a, b) => (b.cpu < a.cpu ? b : a));
console.log(
  `coinradar: ${ours.flows} flows; wall ${ours.seconds.toFixed(2)} s = ${(mb / ours.seconds).toFixed(1)} MB/s; ` +
    `CPU ${ours.cpu.toFixed(2)} s = ${(mb / ours.cpu).toFixed(1)} MB/s of CPU time ` +
    `(${(ours.diag.get('packets.read') / ours.cpu / 1e6).toFixed(2)} M packets per CPU second; best of 3)`,
);
console.log(`  ${ours.diag.summary()}`);
if (beforeRoot) await beforeAfter(resolve(beforeRoot));
const peer = tshark();
if (!peer) console.log('tshark: not installed, no ratio');
else {
  console.log(
    `tshark -n -q -z conv,tcp: ${peer.conversations} TCP conversations; wall ${peer.seconds.toFixed(2)} s = ` +
      `${(mb / peer.seconds).toFixed(1)} MB/s; CPU ${peer.cpu.toFixed(2)} s = ${(mb / peer.cpu).toFixed(1)} MB/s of CPU time`,
  );
  console.log(
    `ratio coinradar/tshark: wall ${(peer.seconds / ours.seconds).toFixed(1)}x, CPU ${(peer.cpu / ours.cpu).toFixed(1)}x`,
  );
}

/**
 * The other checkout's capture → flows, this one, and this one without reassembly, in `rounds`
 * rounds on the same file, the order rotating per round; CPU seconds best and median of each.
 */
async function beforeAfter(root: string): Promise<void> {
  const mod = (await import(pathToFileURL(join(root, 'src/capture/formats.ts')).href)) as {
    captureFlows: CaptureFlows;
  };
  const contenders: [string, () => ReturnType<typeof coinradar>][] = [
    [`before (${root})`, () => coinradar(mod.captureFlows)],
    ['this build', () => coinradar(captureFlows, true)],
    ['this build, reassembly off', () => coinradar(captureFlows, false)],
  ];
  const cpu: number[][] = contenders.map(() => []);
  for (const [, run] of contenders) await run(); // warm-up of each
  for (let r = 0; r < rounds; r++) {
    const line: string[] = [];
    for (let k = 0; k < contenders.length; k++) {
      const i = (k + r) % contenders.length;
      const o = await contenders[i][1]();
      cpu[i].push(o.cpu);
      line.push(`${contenders[i][0]} ${o.cpu.toFixed(3)}`);
    }
    console.log(
      `round ${r + 1} (load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}), CPU s: ${line.join('; ')}`,
    );
  }
  for (let i = 0; i < contenders.length; i++) {
    const sorted = [...cpu[i]].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    console.log(`${contenders[i][0]}: CPU best ${sorted[0].toFixed(3)} s, median ${median.toFixed(3)} s`);
  }
}
