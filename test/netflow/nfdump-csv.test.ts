import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import { detectFormat } from '../../src/flow/formats.js';
import { readHead } from '../../src/flow/ingest.js';
import type { FlowRecord } from '../../src/flow/record.js';
import '../../src/flow/all-formats.js';
import {
  parseNfdumpFlags,
  parseNfdumpTime,
  readNfdumpCsv,
  writeAddress,
} from '../../src/netflow/nfdump-csv.js';
import { writeIp } from '../../src/flow/record.js';

const FIX = 'test/fixtures/nfdump';

async function readAll(path: string, batchSize = 4096): Promise<{ flows: FlowRecord[]; d: Diagnostics }> {
  const d = new Diagnostics();
  const flows: FlowRecord[] = [];
  for await (const b of readNfdumpCsv(path, { diagnostics: d, batchSize })) flows.push(...b.records());
  return { flows, d };
}

/** The records of `nfdump -o raw`: the binary file's own values (times in ms). */
interface RawRecord {
  first: number;
  last: number;
  proto: number;
  flags: number;
  sa: string;
  da: string;
  sp: number;
  dp: number;
  ipkt: number;
  ibyt: number;
  opkt: number;
  obyt: number;
  exporter: string;
}

function parseRaw(text: string): RawRecord[] {
  return text
    .split('Flow Record:')
    .slice(1)
    .map((block) => {
      const kv = new Map<string, string>();
      for (const l of block.split('\n')) {
        const m = /^\s+([a-zA-Z ]+?)\s+=\s+(\S+)/.exec(l);
        if (m) kv.set(m[1], m[2]);
      }
      const n = (k: string) => Number(kv.get(k) ?? 0);
      return {
        first: n('first'),
        last: n('last'),
        proto: n('proto'),
        flags: parseInt(kv.get('tcp flags') ?? '0', 16),
        sa: kv.get('src addr')!,
        da: kv.get('dst addr')!,
        sp: n('src port'),
        dp: n('dst port'),
        ipkt: n('in packets'),
        ibyt: n('in bytes'),
        opkt: n('out packets'),
        obyt: n('out bytes'),
        exporter: kv.get('ip exporter') ?? '',
      };
    });
}

/** Same flows, matched by 5-tuple: counters, flags and exporter equal; duration exact; times within the CSV's 1 s resolution. */
function assertSameFlows(got: FlowRecord[], want: RawRecord[]): void {
  assert.equal(got.length, want.length, 'flow count');
  const key = (sa: string, sp: number, da: string, dp: number, p: number) => `${p} ${sa}:${sp} ${da}:${dp}`;
  const byKey = new Map(want.map((r) => [key(r.sa, r.sp, r.da, r.dp, r.proto), r]));
  assert.equal(byKey.size, want.length, '5-tuples are unique in this capture');
  for (const f of got) {
    const k = key(f.src, f.srcPort, f.dst, f.dstPort, f.proto);
    const r = byKey.get(k);
    assert.ok(r, `flow ${k} is in nfdump -o raw`);
    assert.equal(f.packets, r.ipkt, `${k} packets`);
    assert.equal(f.bytes, r.ibyt, `${k} bytes`);
    assert.equal(f.revPackets, r.opkt, `${k} reverse packets`);
    assert.equal(f.revBytes, r.obyt, `${k} reverse bytes`);
    assert.equal(f.tcpFlags, r.flags, `${k} TCP flags`);
    assert.equal(f.exporter, r.exporter, `${k} exporter`);
    assert.equal(f.lastMs - f.firstMs, r.last - r.first, `${k} duration`);
    assert.ok(f.firstMs <= r.first && r.first - f.firstMs < 1000, `${k} first ${f.firstMs} vs ${r.first}`);
    assert.ok(f.lastMs <= r.last && r.last - f.lastMs < 1000, `${k} last ${f.lastMs} vs ${r.last}`);
    byKey.delete(k);
  }
}

test('writeAddress (fast dotted-quad path) agrees with writeIp, errors included', () => {
  const cases = ['0.0.0.0', '1.2.3.4', '255.255.255.255', '192.168.001.010', '256.1.1.1', '1.2.3', '1..2.3', '1.2.3.4.',
    '.1.2.3', '1.2.3.4a', '1234.1.1.1', ' 1.2.3.4', '::1', '2001:db8::8333', '::ffff:1.2.3.4', 'nonsense', '']; // prettier-ignore
  for (const c of cases) {
    const a = new Uint8Array(16).fill(9);
    const b = new Uint8Array(16).fill(9);
    let ea = '';
    let eb = '';
    let va = 0;
    let vb = 0;
    try {
      va = writeAddress(a, 0, c);
    } catch (e) {
      ea = String(e);
    }
    try {
      vb = writeIp(b, 0, c);
    } catch (e) {
      eb = String(e);
    }
    assert.equal(!!ea, !!eb, `${JSON.stringify(c)} throws in both or neither (${ea} / ${eb})`);
    if (!ea) {
      assert.equal(va, vb, c);
      assert.deepEqual(a, b, c);
    }
  }
});

test('nfdump CSV columns: times, flags', () => {
  assert.equal(parseNfdumpTime('2011-03-28 15:58:57'), Date.UTC(2011, 2, 28, 15, 58, 57));
  assert.equal(parseNfdumpTime('2011-03-28 15:58:57.725'), Date.UTC(2011, 2, 28, 15, 58, 57, 725));
  assert.ok(Number.isNaN(parseNfdumpTime('2011-03-28T15:58:57')));
  assert.ok(Number.isNaN(parseNfdumpTime('2011-03-28 24:00:00')));
  assert.ok(Number.isNaN(parseNfdumpTime('2011-13-28 10:00:00')));
  assert.equal(parseNfdumpFlags('...AP...'), 0x18);
  assert.equal(parseNfdumpFlags('C..AP...'), 0x98);
  assert.equal(parseNfdumpFlags('......SF'), 0x03);
  assert.equal(parseNfdumpFlags('CEUAPRSF'), 0xff);
  assert.ok(Number.isNaN(parseNfdumpFlags('..X.....')));
});

test('checked-in nfdump 1.7.1 CSV (softflowd IPFIX of bitcoin.pcap) decodes to the flows of nfdump -o raw', async () => {
  for (const name of ['bitcoin-ipfix', 'bitcoin-ipfix-bidir']) {
    const csv = join(FIX, `${name}.csv`);
    assert.equal(detectFormat(readHead(csv))?.kind, 'nfdump-csv');
    const { flows, d } = await readAll(csv, 5); // small batches: crosses batch boundaries
    assert.equal(d.get('problems'), 0, d.summary());
    assert.equal(d.get('summary.flows'), flows.length);
    assertSameFlows(flows, parseRaw(readFileSync(join(FIX, `${name}.raw.txt`), 'utf8')));
  }
  // Totals equal the capture's (529 packets / 419,138 bytes, see PEER-TOOLS.md).
  const { flows } = await readAll(join(FIX, 'bitcoin-ipfix-bidir.csv'));
  assert.equal(flows.length, 6);
  assert.equal(
    flows.reduce((s, f) => s + f.packets + f.revPackets, 0),
    529,
  );
  assert.equal(
    flows.reduce((s, f) => s + f.bytes + f.revBytes, 0),
    419138,
  );
});

test('broken rows: each reported with its line, counted, every good row kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfcsv-'));
  try {
    const lines = readFileSync(join(FIX, 'bitcoin-ipfix.csv'), 'utf8').split('\n');
    // lines[0] header, lines[1..12] rows; break rows 2, 5, 9 and insert junk before row 7 (file lines 3, 6, 11; 8).
    const bad = [...lines];
    bad[2] = bad[2].replace(/^2011-03-28 15:58:57/, '2011-03-28 25:58:57');
    bad[5] = bad[5].replace(',TCP,', ',XYZ,');
    bad[9] = bad[9].split(',').slice(0, 6).join(',');
    bad.splice(7, 0, 'not,a,row');
    const path = join(dir, 'broken.csv');
    writeFileSync(path, bad.join('\n'));
    const { flows, d } = await readAll(path, 3);
    const where = d.problems.filter((p) => p.kind === 'bad-row').map((p) => p.offset);
    assert.deepEqual(where, [3, 6, 8, 11]);
    assert.match(d.problems[0].message, /bad time/);
    assert.match(d.problems[1].message, /unknown protocol "XYZ"/);
    assert.equal(d.get('records.skipped'), 4);
    assert.equal(d.get('records.kept'), 9);
    assert.equal(flows.length, 9);
    // The summary still says 12 flows; 13 rows were read (one of them junk): reported.
    assert.equal(d.get('problem.summary-mismatch'), 1);
    const good = (await readAll(join(FIX, 'bitcoin-ipfix.csv'))).flows;
    const keep = good.filter((_, k) => ![1, 4, 8].includes(k)); // rows 2, 5 and 9 of the original
    assert.deepEqual(
      flows.map((f) => [f.src, f.srcPort, f.packets, f.firstMs]),
      keep.map((f) => [f.src, f.srcPort, f.packets, f.firstMs]),
    );
    // -q output (no header, no summary) reads with the 1.7 layout.
    const q = join(dir, 'q.csv');
    writeFileSync(q, lines.slice(1, 13).join('\n') + '\n');
    assert.equal(detectFormat(readHead(q))?.kind, 'nfdump-csv');
    const rq = await readAll(q);
    assert.equal(rq.flows.length, 12);
    assert.equal(rq.d.get('problems'), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function have(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('live: softflowd → nfcapd → nfdump -o csv decodes to the flows of nfdump -o raw', async (t) => {
  const missing = ['nfcapd', 'nfdump', 'softflowd'].filter((x) => !have(x));
  if (missing.length) {
    t.skip(`${missing.join(', ')} not installed`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'nfcapd-'));
  try {
    for (const args of [
      ['-v', '10', '-a', '-A', 'milli'],
      ['-v', '10', '-a', '-A', 'milli', '-b'],
      ['-v', '9', '-a'],
    ]) {
      const out = mkdtempSync(join(dir, 'run-'));
      const port = await freeUdpPort();
      const cap = spawn('nfcapd', ['-w', out, '-p', String(port), '-b', '127.0.0.1', '-t', '3600'], {
        stdio: 'ignore',
      });
      await new Promise((r) => setTimeout(r, 700));
      const sf = spawnSync(
        'softflowd',
        ['-r', 'test/fixtures/pcap/ndpi/bitcoin.pcap', '-n', `127.0.0.1:${port}`, ...args],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(sf.status, 0, sf.stderr);
      await new Promise((r) => setTimeout(r, 500));
      const exited = new Promise((r) => cap.once('exit', r));
      cap.kill('SIGTERM');
      await exited;
      const file = readdirSync(out).find((f) => f.startsWith('nfcapd.2'));
      assert.ok(file, 'nfcapd wrote a file');
      const env = { ...process.env, TZ: 'UTC' };
      const csv = spawnSync('nfdump', ['-r', join(out, file), '-o', 'csv'], { encoding: 'utf8', env });
      const raw = spawnSync('nfdump', ['-r', join(out, file), '-o', 'raw'], { encoding: 'utf8', env });
      assert.equal(csv.status, 0, csv.stderr);
      writeFileSync(join(out, 'flows.csv'), csv.stdout);
      const { flows, d } = await readAll(join(out, 'flows.csv'));
      assert.equal(d.get('problems'), 0, d.summary());
      const want = parseRaw(raw.stdout);
      assert.ok(want.length >= 6, `softflowd ${args.join(' ')} exported ${want.length} flows`);
      assertSameFlows(flows, want);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
