/**
 * Capture → flows → detections, against tshark on the same capture in the same run.
 *
 *   node --import tsx bench/detect.ts [target MB, default 300]
 *
 * The capture is built from every real capture in test/fixtures/pcap (converted to pcap by
 * editcap), copied until it reaches the target size; each copy gets its own addresses (the second
 * and third octet of every IPv4 address, a byte of every IPv6 address, are changed per copy) and its
 * own time slot, so the flow table sees distinct flows — not one small capture repeated.
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { captureFlows } from '../src/capture/formats.js';
import { Diagnostics } from '../src/flow/diagnostics.js';
import type { FlowBatch } from '../src/flow/record.js';
import { loadInfrastructure } from '../src/detect/infrastructure.js';
import { createDetector } from '../src/detect/registry.js';
import { detectBatchRows } from '../src/detect/hook.js';
import { BehaviourTracker } from '../src/detect/classifier/tracker.js';
import { detectionHookFor } from '../src/detect/pipeline.js';
import { ingestFile } from '../src/flow/ingest.js';
import '../src/flow/all-formats.js';
import { openFlowStore } from '../src/store/open.js';

const targetMb = Number(process.argv[2] ?? 300);
const dir = process.env.BENCH_DIR ?? '/tmp/coinradar-bench';
const out = join(dir, `detect-${targetMb}mb.pcap`);

interface Rec {
  sec: number;
  usec: number;
  data: Buffer;
}

/** Records of a classic little-endian µs pcap (what editcap -F pcap writes here). */
function readPcap(path: string): Rec[] {
  const b = readFileSync(path);
  if (b.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error(`${path}: expected a little-endian µs pcap`);
  if (b.readUInt32LE(20) !== 1) throw new Error(`${path}: expected Ethernet`);
  const recs: Rec[] = [];
  for (let off = 24; off + 16 <= b.length;) {
    const len = b.readUInt32LE(off + 8);
    recs.push({
      sec: b.readUInt32LE(off),
      usec: b.readUInt32LE(off + 4),
      data: b.subarray(off + 16, off + 16 + len),
    });
    off += 16 + len;
  }
  return recs;
}

function buildCapture(): { packets: number; bytes: number } {
  mkdirSync(dir, { recursive: true });
  const sources: Rec[][] = [];
  for (const d of ['test/fixtures/pcap/ndpi', 'test/fixtures/pcap/nesfit']) {
    for (const name of readdirSync(d)
      .filter((n) => /\.pcap(ng)?$/.test(n))
      .sort()) {
      const tmp = join(dir, `${name}.pcap`);
      const r = spawnSync('editcap', ['-F', 'pcap', join(d, name), tmp]);
      if (r.status !== 0) throw new Error(`editcap failed on ${name}`);
      sources.push(readPcap(tmp));
      rmSync(tmp);
    }
  }
  const fd = openSync(`${out}.part`, 'w');
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(262144, 16);
  head.writeUInt32LE(1, 20);
  writeSync(fd, head);
  let bytes = 24;
  let packets = 0;
  let slot = Date.UTC(2017, 4, 17) / 1000;
  const rec = Buffer.alloc(16);
  for (let copy = 0; bytes < targetMb * 1e6; copy++) {
    for (const src of sources) {
      // Gaps longer than 10 minutes (some captures span months) are shortened to 10 minutes.
      let prev = src[0].sec;
      let rel = 0;
      for (const r of src) {
        rel += Math.min(600, Math.max(0, r.sec - prev));
        prev = r.sec;
        const data = Buffer.from(r.data);
        const type = data.length >= 14 ? data.readUInt16BE(12) : 0;
        if (type === 0x0800 && data.length >= 34) {
          for (const a of [26, 30]) {
            data[a + 1] ^= copy & 0xff;
            data[a + 2] ^= (copy >> 8) & 0xff;
          }
        } else if (type === 0x86dd && data.length >= 54) {
          data[23] ^= copy & 0xff;
          data[39] ^= copy & 0xff;
        }
        rec.writeUInt32LE(slot + rel, 0);
        rec.writeUInt32LE(r.usec, 4);
        rec.writeUInt32LE(data.length, 8);
        rec.writeUInt32LE(data.length, 12);
        writeSync(fd, rec);
        writeSync(fd, data);
        bytes += 16 + data.length;
        packets++;
      }
      slot += rel + 180; // every flow of the previous slot is idle by then
    }
  }
  closeSync(fd);
  renameSync(`${out}.part`, out);
  return { packets, bytes };
}

function time<T>(f: () => T): [T, number] {
  const t = performance.now();
  const v = f();
  return [v, (performance.now() - t) / 1000];
}

async function timeAsync<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const v = await f();
  return [v, (performance.now() - t) / 1000];
}

async function main(): Promise<void> {
  if (!existsSync(out)) {
    const [b, s] = time(buildCapture);
    console.log(`built ${out}: ${b.packets} packets, ${(b.bytes / 1e6).toFixed(1)} MB in ${s.toFixed(1)} s`);
  }
  const size = statSync(out).size;
  const mb = size / 1e6;
  const detector = createDetector(loadInfrastructure());

  let packets = 0;
  const [flowsOnly, tFlows] = await timeAsync(async () => {
    const diag = new Diagnostics();
    let flows = 0;
    for await (const b of captureFlows(out, { diagnostics: diag })) flows += b.length;
    packets = diag.get('packets.read');
    return flows;
  });
  const [det, tDet] = await timeAsync(async () => {
    const diag = new Diagnostics();
    let flows = 0;
    let dets = 0;
    let payload = 0;
    const behaviour = new BehaviourTracker();
    for await (const b of captureFlows(out, { diagnostics: diag })) {
      flows += b.length;
      // The hook's whole work: every matcher, lists, ports and the behaviour model (groups kept across batches).
      for (const d of detectBatchRows(detector, b, 0, { behaviour })) {
        dets++;
        if (d.confidence === 'payload') payload++;
      }
    }
    return { flows, dets, payload };
  });
  // Detection alone, warm, over batches held in memory (the first ~60k flows), best of 3: µs per flow.
  const held: FlowBatch[] = [];
  let heldFlows = 0;
  for await (const b of captureFlows(out, { diagnostics: new Diagnostics() })) {
    held.push(b);
    heldFlows += b.length;
    if (heldFlows >= 60000) break;
  }
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const t = performance.now();
    const behaviour = new BehaviourTracker();
    for (const b of held) detectBatchRows(detector, b, 0, { behaviour });
    best = Math.min(best, performance.now() - t);
  }
  const usPerFlow = (best * 1000) / heldFlows;
  // The behaviour model alone over the same batches (a fresh tracker each round, as one ingest).
  let bestModel = Infinity;
  for (let round = 0; round < 3; round++) {
    const cpu0 = process.cpuUsage();
    const tracker = new BehaviourTracker();
    for (const b of held) tracker.batch(b);
    const c = process.cpuUsage(cpu0);
    bestModel = Math.min(bestModel, (c.user + c.system) / 1000);
  }
  const modelUsPerFlow = (bestModel * 1000) / heldFlows;

  // End to end as `coinradar ingest` runs it: flows and detections written to a DuckDB file.
  const dbPath = join(dir, 'bench.duckdb');
  rmSync(dbPath, { force: true });
  const ingestCpu0 = process.cpuUsage();
  const [stored, tIngest] = await timeAsync(async () => {
    const store = await openFlowStore(dbPath);
    const hook = await detectionHookFor(store);
    const r = await ingestFile(out, { store, hooks: [hook.hook] });
    await store.close();
    return r.flows;
  });
  const ingestCpu = process.cpuUsage(ingestCpu0);
  // DuckDB's own threads count in process CPU too: this is the whole ingest's CPU per flow.
  const ingestUsPerFlow = (ingestCpu.user + ingestCpu.system) / stored;
  rmSync(dbPath, { force: true });
  rmSync(`${dbPath}.wal`, { force: true });
  const [, tTshark] = time(() => {
    const r = spawnSync('tshark', ['-r', out, '-q', '-z', 'conv,tcp'], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    if (r.status !== 0) throw new Error('tshark failed');
  });
  const cpu = cpus()[0]?.model ?? '?';
  const rows = [
    ['coinradar capture → flows', tFlows],
    ['coinradar capture → flows → detections', tDet],
    [`coinradar ingest into DuckDB with detection (${stored} flows stored)`, tIngest],
    ['tshark -q -z conv,tcp', tTshark],
  ] as const;
  console.log(
    `capture: ${mb.toFixed(1)} MB, ${packets || '?'} packets, ${flowsOnly} flows; ${det.dets} detections (${det.payload} payload)`,
  );
  console.log(`machine: ${cpus().length} cpus, ${cpu}`);
  console.log('| run | seconds | MB/s | packets/s |');
  console.log('| --- | --- | --- | --- |');
  for (const [name, t] of rows) {
    console.log(
      `| ${name} | ${t.toFixed(2)} | ${(mb / t).toFixed(1)} | ${packets ? Math.round(packets / t).toLocaleString('en') : '?'} |`,
    );
  }
  console.log(
    `detection alone, warm, in memory: ${usPerFlow.toFixed(2)} µs per flow (${heldFlows} flows, best of 3)`,
  );
  console.log(
    `behaviour model alone: ${modelUsPerFlow.toFixed(2)} µs CPU per flow (best of 3) = ${((100 * modelUsPerFlow) / ingestUsPerFlow).toFixed(1)} % of ingest CPU (${ingestUsPerFlow.toFixed(2)} µs per stored flow, ${((ingestCpu.user + ingestCpu.system) / 1e6).toFixed(2)} CPU-s)`,
  );
  console.log(`ratio coinradar (with detection) / tshark: ${(tTshark / tDet).toFixed(2)}x faster`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
