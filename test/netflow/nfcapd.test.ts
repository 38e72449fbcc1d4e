// nfcapd files: softflowd exports the real captures as NetFlow v9 and bidirectional IPFIX to Debian's
// nfcapd on loopback, once per block compression (none, -z LZO, -y LZ4, -j BZ2); coinradar's reader
// must give the same flows, packets and bytes per 5-tuple as `nfdump -r` on the same file. The 1.6
// layout, several blocks, cut and corrupted files are built from those real files (nfcapd-synth.ts)
// and nfdump -r stays the oracle for what they hold.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Diagnostics, formatProblem } from '../../src/flow/diagnostics.js';
import { detectFormat } from '../../src/flow/formats.js';
import '../../src/flow/all-formats.js';
import { ingestFile, readHead } from '../../src/flow/ingest.js';
import { ipText, type FlowBatch } from '../../src/flow/record.js';
import { nfcapdFilesIn, readNfcapd } from '../../src/netflow/nfcapd.js';
import { openFlowStore } from '../../src/store/open.js';
import {
  byFiveTuple,
  captureFixtures,
  exited,
  freeUdpPort,
  have,
  nfdumpFlows,
  sleep,
  startNfcapd,
  stopNfcapd,
  type PeerFlow,
} from './peers.js';
import { layout1File, layout2File, splitBlocks } from './nfcapd-synth.js';

const missing = ['softflowd', 'nfcapd', 'nfdump'].filter((c) => !have(c));
const COMPRESSIONS = [
  { name: 'uncompressed', flag: [], code: 0 },
  { name: 'LZO (-z)', flag: ['-z'], code: 1 },
  { name: 'LZ4 (-y)', flag: ['-y'], code: 3 },
  { name: 'BZ2 (-j)', flag: ['-j'], code: 2 },
];

let work = '';
/** One nfcapd file per compression, all from the same softflowd runs. */
const files = new Map<string, string>();

async function read(path: string): Promise<{ batches: FlowBatch[]; d: Diagnostics }> {
  const d = new Diagnostics();
  const batches: FlowBatch[] = [];
  for await (const b of readNfcapd(path, { diagnostics: d, batchSize: 500 })) batches.push(b);
  return { batches, d };
}

function peerFlows(batches: FlowBatch[]): PeerFlow[] {
  const out: PeerFlow[] = [];
  for (const b of batches)
    for (let i = 0; i < b.length; i++)
      out.push({
        src: ipText(b.src, i * 16, b.ipVersion[i]),
        dst: ipText(b.dst, i * 16, b.ipVersion[i]),
        srcPort: b.srcPort[i],
        dstPort: b.dstPort[i],
        proto: b.proto[i],
        packets: b.packets[i],
        bytes: b.bytes[i],
        revPackets: b.revPackets[i],
        revBytes: b.revBytes[i],
      });
  return out;
}

/** Per-5-tuple differences between our reading and nfdump's of the same file (empty: equal). */
function differences(ours: PeerFlow[], theirs: PeerFlow[]): string[] {
  const a = byFiveTuple(ours);
  const b = byFiveTuple(theirs);
  const diffs: string[] = [];
  for (const [k, v] of b.keys) {
    const mine = a.keys.get(k);
    if (!mine) diffs.push(`missing ${k} ${JSON.stringify(v)}`);
    else if (JSON.stringify(mine) !== JSON.stringify(v))
      diffs.push(`${k}: ours ${JSON.stringify(mine)} nfdump ${JSON.stringify(v)}`);
  }
  for (const [k, v] of a.keys) if (!b.keys.has(k)) diffs.push(`extra ${k} ${JSON.stringify(v)}`);
  if (JSON.stringify(a.total) !== JSON.stringify(b.total))
    diffs.push(`totals: ours ${JSON.stringify(a.total)} nfdump ${JSON.stringify(b.total)}`);
  return diffs;
}

before(async () => {
  if (missing.length) return;
  work = mkdtempSync(join(tmpdir(), 'cr-nfcapd-'));
  const ports: number[] = [];
  const procs = [];
  for (const c of COMPRESSIONS) {
    const dir = join(work, c.code.toString());
    mkdirSync(dir);
    const port = await freeUdpPort();
    ports.push(port);
    procs.push({ c, dir, p: await startNfcapd(dir, port, c.flag) });
  }
  // softflowd sends every datagram to two collectors at most (-n A,B): two runs per capture and mode.
  for (const capture of captureFixtures()) {
    for (const mode of [
      ['-v', '9'],
      ['-v', '10', '-A', 'milli', '-b'],
    ]) {
      for (const pair of [ports.slice(0, 2), ports.slice(2, 4)]) {
        const sfd = spawn(
          'softflowd',
          ['-r', capture, '-n', pair.map((p) => `127.0.0.1:${p}`).join(','), ...mode],
          {
            stdio: 'ignore',
          },
        );
        assert.equal(await exited(sfd), 0, `softflowd ${mode.join(' ')} on ${capture}`);
      }
    }
  }
  await sleep(300);
  for (const { c, dir, p } of procs) files.set(c.name, await stopNfcapd(p, dir));
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

for (const c of COMPRESSIONS) {
  test(`nfcapd ${c.name} file from softflowd: the same flows, packets and bytes as nfdump -r`, async (t) => {
    if (missing.length) return t.skip(`${missing.join(', ')} not installed`);
    const file = files.get(c.name)!;
    const head = readFileSync(file).subarray(0, 40);
    assert.equal(head.readUInt16LE(2), 2, 'nfcapd 1.7 writes layout 2');
    assert.equal(head[16], c.code, 'the file is compressed as asked');
    assert.equal(detectFormat(readHead(file))?.kind, 'nfcapd', 'sniffed from the bytes');
    const { batches, d } = await read(file);
    const theirs = nfdumpFlows(file);
    assert.deepEqual(differences(peerFlows(batches), theirs).slice(0, 12), []);
    assert.equal(d.get('problems'), 0, d.summary());
    assert.equal(d.get('summary.flows'), theirs.length, "the file's own statistics agree");
    assert.ok(theirs.length > 1000, `softflowd exported flows (${theirs.length})`);
    const all = peerFlows(batches);
    assert.ok(
      all.some((f) => f.revPackets > 0),
      'bidirectional IPFIX gave reverse counters',
    );
    assert.ok(
      all.some((f) => f.src.includes(':')),
      'IPv6 flows present',
    );
    for (const b of batches)
      for (let i = 0; i < b.length; i++) {
        assert.equal(b.exporters[b.exporterIdx[i]], '127.0.0.1', 'exporter from EXipReceivedV4');
        assert.ok(b.firstMs[i] <= b.lastMs[i]);
      }
  });
}

test('flow times equal nfdump -r to the millisecond', async (t) => {
  if (missing.length) return t.skip(`${missing.join(', ')} not installed`);
  const file = files.get('uncompressed')!;
  // %tsr: first packet, seconds since the epoch with milliseconds (no time zone); %td: duration.
  // (%ter is not used: nfdump 1.7.1 prints the last packet's milliseconds wrong, e.g. .085 for .685.)
  const r = spawnSync('nfdump', ['-6', '-r', file, '-q', '-o', 'fmt:%tsr,%td,%sa,%sp'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const theirs = r.stdout
    .trim()
    .split('\n')
    .map((l) => l.split(',').map((s) => s.trim()))
    .map(([ts, td, sa, sp]) => {
      const m = /^(\d+):(\d\d):(\d\d)\.(\d\d\d)$/.exec(td);
      assert.ok(m, `duration ${td}`);
      const dur = ((+m[1] * 60 + +m[2]) * 60 + +m[3]) * 1000 + +m[4];
      const first = Math.round(Number(ts) * 1000);
      return `${first} ${first + dur} ${sa} ${sp}`;
    })
    .sort();
  const { batches } = await read(file);
  const ours: string[] = [];
  for (const b of batches)
    for (let i = 0; i < b.length; i++)
      ours.push(`${b.firstMs[i]} ${b.lastMs[i]} ${ipText(b.src, i * 16, b.ipVersion[i])} ${b.srcPort[i]}`);
  assert.ok(theirs.length > 1000);
  ours.sort();
  assert.deepEqual(
    ours.filter((x, k) => x !== theirs[k]).slice(0, 10),
    [],
    'first and last packet times, per flow',
  );
  assert.equal(ours.length, theirs.length);
});

for (const compression of ['none', 'lzo', 'lz4'] as const) {
  test(`nfdump 1.6 layout (${compression}): the same flows as nfdump -r`, async (t) => {
    if (missing.length) return t.skip(`${missing.join(', ')} not installed`);
    const { batches } = await read(files.get('LZ4 (-y)')!);
    const file = join(work, `v1-${compression}`);
    writeFileSync(file, layout1File(batches, { compression, perBlock: 300 }));
    assert.equal(detectFormat(readHead(file))?.kind, 'nfcapd');
    const again = await read(file);
    assert.equal(again.d.get('problems'), 0, again.d.summary());
    assert.ok(again.d.get('blocks.read') >= 3, 'several blocks');
    const theirs = nfdumpFlows(file);
    assert.ok(theirs.length > 1000);
    assert.deepEqual(differences(peerFlows(again.batches), theirs).slice(0, 12), []);
    const exporters = new Set(
      again.batches.flatMap((b) => [...b.exporterIdx.subarray(0, b.length)].map((x) => b.exporters[x])),
    );
    assert.deepEqual([...exporters].sort(), ['127.0.0.1', '::1'], 'router addresses of both families');
  });
}

test('nfcapd -s 4 (its default sampling rate): counters scaled as nfdump prints them, records marked sampled', async (t) => {
  if (missing.length) return t.skip(`${missing.join(', ')} not installed`);
  const dir = join(work, 'sampled');
  mkdirSync(dir);
  const port = await freeUdpPort();
  const nf = await startNfcapd(dir, port, ['-s', '4']);
  const sfd = spawn('softflowd', ['-r', captureFixtures()[0], '-n', `127.0.0.1:${port}`, '-v', '9'], {
    stdio: 'ignore',
  });
  assert.equal(await exited(sfd), 0);
  await sleep(300);
  const file = await stopNfcapd(nf, dir);
  const { batches, d } = await read(file);
  const theirs = nfdumpFlows(file);
  assert.ok(theirs.length > 0);
  assert.deepEqual(differences(peerFlows(batches), theirs), []);
  assert.equal(d.get('records.sampled'), theirs.length, 'every record carries the sampled flag');
  for (const f of peerFlows(batches)) assert.equal(f.packets % 4, 0, 'packets multiplied by 4');
  for (const b of batches) assert.ok(b.samplingRate.subarray(0, b.length).every((r) => r === 1));
});

test('a file cut inside its last block: earlier blocks read, the cut block counted, not fatal', async (t) => {
  if (missing.length) return t.skip(`${missing.join(', ')} not installed`);
  for (const name of ['uncompressed', 'LZ4 (-y)']) {
    const { header, blocks } = splitBlocks(readFileSync(files.get(name)!));
    const data = blocks.filter((b) => !b.appendix);
    const whole = layout2File(header, [...data, ...data]);
    const file = join(work, `cut-${header[16]}`);
    writeFileSync(file, whole.subarray(0, whole.length - 100));
    // What the cut file still holds whole: the same blocks without the last one, as nfdump reads them.
    const intact = join(work, `intact-${header[16]}`);
    writeFileSync(intact, layout2File(header, [...data, ...data.slice(0, -1)]));
    const { batches, d } = await read(file);
    assert.deepEqual(
      differences(peerFlows(batches), nfdumpFlows(intact)).slice(0, 12),
      [],
      `${name}: every whole block read`,
    );
    assert.equal(d.get('problem.truncated-block'), 1, d.summary());
    assert.equal(d.get('problems'), 1);
    const p = formatProblem(d.problems[0]);
    const blocks2 = [...data, ...data];
    const last = 40 + blocks2.slice(0, -1).reduce((s, b) => s + 12 + b.data.length, 0);
    assert.ok(p.startsWith(`${file}:${last}: truncated-block: block ${blocks2.length - 1}:`), p);
  }
});

test('a corrupt compressed block is named by file, block and offset; the next block is read', async (t) => {
  if (missing.length) return t.skip(`${missing.join(', ')} not installed`);
  for (const name of ['LZO (-z)', 'LZ4 (-y)', 'BZ2 (-j)']) {
    const { header, blocks } = splitBlocks(readFileSync(files.get(name)!));
    const good = blocks.filter((b) => !b.appendix);
    const bad = good.map((b) => {
      const data = Buffer.from(b.data);
      // Garbage over the middle of the compressed stream (the bz2 stream's CRC catches any change).
      for (let k = 0; k < 64; k++) data[Math.floor(data.length / 2) + k] = (k * 37) ^ 0xa5;
      return { ...b, data };
    });
    const file = join(work, `corrupt-${header[16]}`);
    writeFileSync(file, layout2File(header, [...bad, ...good]));
    const { batches, d } = await read(file);
    assert.ok(d.get('problem.bad-block') + d.get('problem.bad-record') >= 1, `${name}: ${d.summary()}`);
    const p = formatProblem(d.problems[0]);
    assert.match(p, new RegExp(`^${file.replace(/[.()]/g, '\\$&')}:40: bad-(block|record): block 0`), p);
    // Every flow of the good copy is read; the corrupt copy adds at most what decoded before the damage.
    const once = byFiveTuple(nfdumpFlows(files.get(name)!));
    const ours = byFiveTuple(peerFlows(batches));
    for (const [k, v] of once.keys)
      assert.ok((ours.keys.get(k)?.packets ?? -1) >= v.packets, `${name}: ${k} read`);
  }
});

test('ingest: sniffed, stored, and a directory of nfcapd files read in time order', async (t) => {
  if (missing.length) return t.skip(`${missing.join(', ')} not installed`);
  const dir = join(work, 'dir');
  mkdirSync(join(dir, '2026', '12'), { recursive: true });
  const src = readFileSync(files.get('LZ4 (-y)')!);
  writeFileSync(join(dir, '2026', '12', 'nfcapd.202612061005'), src);
  writeFileSync(join(dir, 'nfcapd.202612060955'), readFileSync(files.get('uncompressed')!));
  writeFileSync(join(dir, '2026', 'nfcapd.202612061000'), readFileSync(files.get('BZ2 (-j)')!));
  writeFileSync(join(dir, 'nfcapd.current.4242'), src);
  writeFileSync(join(dir, 'README'), 'not a flow file\n');
  symlinkSync(files.get('uncompressed')!, join(dir, 'link'));
  const { files: list, skipped } = await nfcapdFilesIn(dir);
  assert.deepEqual(
    list.map((f) => f.slice(dir.length + 1)),
    ['nfcapd.202612060955', '2026/nfcapd.202612061000', '2026/12/nfcapd.202612061005'],
  );
  assert.deepEqual(skipped.map((f) => f.slice(dir.length + 1)).sort(), [
    'README',
    'link',
    'nfcapd.current.4242',
  ]);

  const db = join(work, 'ingest.duckdb');
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'ingest', dir, '--db', db, '--no-geo', '--no-detect'],
    {
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(
    lines[0],
    `${dir}: 3 nfcapd files in time order (3 other files left out, e.g. ${join(dir, 'README')})`,
  );
  // softflowd -r stamps flows of some captures with its 1970 uptime clock: the one problem named.
  const expected = list.map((f) => `${f}: nfcapd, ${nfdumpFlows(f).length} flows stored, 1 problems (`);
  assert.deepEqual(
    lines.slice(1).map((l) => l.slice(0, l.indexOf('(') + 1)),
    expected,
  );
  for (const l of lines.slice(1)) assert.match(l, /problem\.implausible-time=1 problems=1 /);
  const store = await openFlowStore(db);
  try {
    const rows = await store.flows({ limit: 100000 });
    assert.equal(
      rows.length,
      list.reduce((s, f) => s + nfdumpFlows(f).length, 0),
    );
  } finally {
    await store.close();
  }
});

test('ingest of one file through ingestFile: every flow stored, none lost', async (t) => {
  if (missing.length) return t.skip(`${missing.join(', ')} not installed`);
  const store = await openFlowStore(':memory:');
  try {
    const file = files.get('LZO (-z)')!;
    const r = await ingestFile(file, { store });
    assert.equal(r.kind, 'nfcapd');
    assert.equal(r.error, undefined);
    assert.equal(r.flows, nfdumpFlows(file).length);
  } finally {
    await store.close();
  }
});
