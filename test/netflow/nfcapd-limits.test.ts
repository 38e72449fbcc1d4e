// The nfcapd reader on hostile and broken files, built by hand (no peer needed): every problem names
// the file and the block's byte offset, reading goes on at the next block where the block header
// allows it, and the decompressors end (a RangeError or a result inside the output buffer) on any input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Diagnostics, InputError, formatProblem } from '../../src/flow/diagnostics.js';
import { ingestFile } from '../../src/flow/ingest.js';
import { MAX_DATE_MS } from '../../src/flow/plausible-time.js';
import type { FlowBatch } from '../../src/flow/record.js';
import { ipText } from '../../src/flow/record.js';
import { bz2Decompress } from '../../src/netflow/nfcapd-bz2.js';
import { lz4BlockDecompress } from '../../src/netflow/nfcapd-lz4.js';
import { lzo1xDecompress } from '../../src/netflow/nfcapd-lzo.js';
import { readNfcapd, sniffNfcapd } from '../../src/netflow/nfcapd.js';
import { openFlowStore } from '../../src/store/open.js';
import { blockBytes, layout1File, layout2Header, literalLz4, literalLzo, v3Record } from './nfcapd-synth.js';

const dir = mkdtempSync(join(tmpdir(), 'cr-nfcapd-lim-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function flow(n: number): Buffer {
  return v3Record({
    first: 1494979200000 + n,
    last: 1494979201000 + n,
    src: 0xaf2db001 + n, // 175.45.176.1 + n
    dst: 0x0a000002,
    srcPort: 40000 + n,
    dstPort: 3333,
    proto: 6,
    packets: 10 + n,
    bytes: 1000 + n,
  });
}

function block(records: Buffer[], numRecords = records.length, flags = 0): Buffer {
  return blockBytes({ numRecords, type: 3, flags, data: Buffer.concat(records) });
}

let n = 0;
async function readFile(bytes: Buffer): Promise<{ path: string; batches: FlowBatch[]; d: Diagnostics }> {
  const path = join(dir, `f${n++}`);
  writeFileSync(path, bytes);
  const d = new Diagnostics();
  const batches: FlowBatch[] = [];
  for await (const b of readNfcapd(path, { diagnostics: d })) batches.push(b);
  return { path, batches, d };
}

const rows = (bs: FlowBatch[]) => bs.reduce((s, b) => s + b.length, 0);

test('a hand-built file reads back field by field', async () => {
  const { batches, d } = await readFile(Buffer.concat([layout2Header(), block([flow(0), flow(1)])]));
  assert.equal(d.get('problems'), 0, d.summary());
  const b = batches[0];
  assert.equal(b.length, 2);
  assert.equal(ipText(b.src, 16, 4), '175.45.176.2');
  assert.equal(ipText(b.dst, 0, 4), '10.0.0.2');
  assert.deepEqual(
    [b.firstMs[1], b.lastMs[1], b.srcPort[1], b.dstPort[1], b.proto[1], b.packets[1], b.bytes[1]],
    [1494979200001, 1494979201001, 40001, 3333, 6, 11, 1001],
  );
  assert.equal(b.exporters[b.exporterIdx[0]], '10.0.0.1');
  assert.equal(b.position[0], 40 + 12, "position: the record's file offset");
});

test('sniffer: both layouts and byte orders, nothing else', () => {
  assert.ok(sniffNfcapd(layout2Header()));
  assert.ok(sniffNfcapd(Buffer.from([0x0c, 0xa5, 1, 0])));
  assert.ok(sniffNfcapd(Buffer.from([0xa5, 0x0c, 0, 2])), 'big-endian claimed, to be named');
  assert.ok(!sniffNfcapd(Buffer.from([0x0c, 0xa5, 3, 0])));
  assert.ok(!sniffNfcapd(Buffer.from([0xd4, 0xc3, 0xb2, 0xa1])), 'pcap is not nfcapd');
  assert.ok(!sniffNfcapd(Buffer.from([0x0c, 0xa5])));
});

test('a record claiming 0 bytes ends its block; the next block is read', async () => {
  const zero = Buffer.alloc(8);
  zero.writeUInt16LE(11, 0);
  const file = Buffer.concat([layout2Header(), block([flow(0), zero, flow(1)]), block([flow(2)])]);
  const { path, batches, d } = await readFile(file);
  assert.equal(rows(batches), 2);
  assert.equal(d.get('problem.bad-record'), 1);
  assert.equal(d.get('records.skipped'), 2, 'the bad record and the one after it');
  const p = formatProblem(d.problems[0]);
  assert.ok(p.startsWith(`${path}:${40 + 12 + flow(0).length}: bad-record: block 0: record 1 of 3`), p);
});

test('an element overrunning its record skips that record only', async () => {
  const bad = flow(1);
  bad.writeUInt16LE(200, 12 + 2); // EXgenericFlow claims 200 bytes
  const { batches, d } = await readFile(Buffer.concat([layout2Header(), block([flow(0), bad, flow(2)])]));
  assert.equal(rows(batches), 2);
  assert.equal(d.get('problem.bad-record'), 1);
  assert.match(d.problems[0].message, /record 1 \(type 11\): element 1 claims 200 bytes/);
});

test('a time beyond any date makes the record bad, not a flow', async () => {
  const bad = flow(1);
  bad.writeBigUInt64LE(0xffffffffffffffffn, 12 + 4);
  const { batches, d } = await readFile(Buffer.concat([layout2Header(), block([flow(0), bad])]));
  assert.equal(rows(batches), 1);
  assert.match(
    d.problems[0].message,
    /record 1 \(type 11\): time 18446744073709552000 \/ \d+ ms is beyond any date/,
  );
});

test('legacy, exporter and unknown records are counted and passed over; flows around them read', async () => {
  const rec = (type: number, size: number) => {
    const r = Buffer.alloc(size);
    r.writeUInt16LE(type, 0);
    r.writeUInt16LE(size, 2);
    return r;
  };
  const { batches, d } = await readFile(
    Buffer.concat([
      layout2Header(),
      block([rec(7, 32), flow(0), rec(1, 40), flow(1), rec(99, 8), rec(15, 24)]),
    ]),
  );
  assert.equal(rows(batches), 2);
  assert.equal(d.get('problems'), 0, d.summary());
  assert.deepEqual(
    ['records.exporter-info', 'records.legacy', 'records.other', 'records.kept'].map((k) => d.get(k)),
    [2, 1, 1, 2],
  );
});

test('a block of an unknown type is named and skipped; array blocks are counted', async () => {
  const odd = blockBytes({ numRecords: 1, type: 9, flags: 0, data: flow(1) });
  const array = blockBytes({ numRecords: 0, type: 4, flags: 0, data: Buffer.alloc(8) });
  const { path, batches, d } = await readFile(Buffer.concat([layout2Header(), odd, array, block([flow(2)])]));
  assert.equal(rows(batches), 1);
  assert.equal(d.get('blocks.array'), 1);
  assert.equal(d.get('problem.unknown-block'), 1);
  assert.ok(formatProblem(d.problems[0]).startsWith(`${path}:40: unknown-block: block 0: type 9`));
});

test('a block that says more records than it holds is named; its records are kept', async () => {
  const { batches, d } = await readFile(Buffer.concat([layout2Header(), block([flow(0), flow(1)], 5)]));
  assert.equal(rows(batches), 2);
  assert.equal(d.get('problem.bad-record'), 1);
  assert.equal(d.get('records.skipped'), 3);
});

test('a block larger than nfdump reads is skipped by its size; later blocks read', async () => {
  const big = Buffer.alloc(12 + 5 * 1048576 + 16);
  big.writeUInt32LE(1, 0);
  big.writeUInt32LE(5 * 1048576 + 16, 4);
  big.writeUInt16LE(3, 8);
  const { path, batches, d } = await readFile(Buffer.concat([layout2Header(), big, block([flow(0)])]));
  assert.equal(rows(batches), 1);
  assert.equal(d.get('problem.bad-block'), 1);
  assert.ok(formatProblem(d.problems[0]).startsWith(`${path}:40: bad-block: block 0: 5242896 bytes`));
});

test('a block header claiming more than the file holds: truncated, counted, not fatal', async () => {
  const cut = block([flow(1), flow(2)]);
  const { path, batches, d } = await readFile(
    Buffer.concat([layout2Header(), block([flow(0)]), cut.subarray(0, 30)]),
  );
  assert.equal(rows(batches), 1);
  assert.equal(d.get('problem.truncated-block'), 1);
  assert.equal(d.get('records.skipped'), 2);
  const at = 40 + block([flow(0)]).length;
  assert.ok(formatProblem(d.problems[0]).startsWith(`${path}:${at}: truncated-block: block 1:`));
  const half = await readFile(Buffer.concat([layout2Header(), block([flow(0)]), cut.subarray(0, 7)]));
  assert.equal(rows(half.batches), 1);
  assert.match(half.d.problems[0].message, /ends 7 bytes into its 12-byte header/);
});

test('compressed blocks (literal LZO and LZ4 streams) and the uncompressed-block flag', async () => {
  const data = Buffer.concat([flow(0), flow(1), flow(2)]);
  for (const [code, enc] of [
    [1, literalLzo],
    [3, literalLz4],
  ] as const) {
    const packed = blockBytes({ numRecords: 3, type: 3, flags: 0, data: enc(data) });
    const plain = block([flow(3)], 1, 1); // flag bit 0: this block is stored uncompressed
    const { batches, d } = await readFile(Buffer.concat([layout2Header(code), packed, plain]));
    assert.equal(d.get('problems'), 0, d.summary());
    assert.equal(rows(batches), 4);
    assert.equal(batches[0].position[0], 40, 'position of a compressed record: its block');
  }
});

test('ZSTD, encryption, big-endian files and unknown compression: one error that says why', async () => {
  const store = await openFlowStore(':memory:');
  try {
    const cases: [Buffer, string, RegExp][] = [
      [layout2Header(4), 'unsupported-compression', /ZSTD/],
      [layout2Header(7), 'bad-header', /unknown compression 7/],
      [Buffer.concat([layout2Header().fill(1, 17, 18)]), 'bad-header', /encrypted/],
      [Buffer.from([0xa5, 0x0c, 0, 2, ...new Array(36).fill(0)]), 'bad-header', /big-endian/],
    ];
    for (const [bytes, kind, message] of cases) {
      const path = join(dir, `h${n++}`);
      writeFileSync(path, Buffer.concat([bytes, block([flow(0)])]));
      const r = await ingestFile(path, { store });
      assert.equal(r.kind, 'nfcapd');
      assert.equal(r.flows, 0);
      assert.equal(r.diagnostics.problems[0]?.kind, kind, r.error);
      assert.match(r.error ?? '', message);
      assert.ok(r.error?.startsWith(`${path}:`));
    }
  } finally {
    await store.close();
  }
});

test('a header-only file is an empty source, no problem', async () => {
  const { batches, d } = await readFile(layout2Header());
  assert.equal(rows(batches), 0);
  assert.equal(d.get('problems'), 0);
});

test('decompressors end on any input: a RangeError or bytes inside the output, never a hang', () => {
  const out = Buffer.alloc(4096);
  const sample = Buffer.concat([flow(0), flow(1)]);
  const streams = [literalLzo(sample), literalLz4(sample)];
  // Known answers first: literal streams, and an overlapping LZ4 match ("abc" then 9 more from 3 back).
  assert.equal(lzo1xDecompress(streams[0], out), sample.length);
  assert.ok(out.subarray(0, sample.length).equals(sample));
  assert.equal(lz4BlockDecompress(streams[1], out), sample.length);
  const lz4 = Buffer.from([0x35, 0x61, 0x62, 0x63, 0x03, 0x00, 0x10, 0x64]);
  assert.equal(out.toString('latin1', 0, lz4BlockDecompress(lz4, out)), 'abcabcabcabcd');
  // Every truncation of a valid stream is refused (the end marker / last literals are missing).
  for (let cut = 0; cut < streams[0].length - 1; cut++)
    assert.throws(() => lzo1xDecompress(streams[0].subarray(0, cut), out), RangeError);
  // LZ4: a cut right after the first sequence's literals is itself a valid block ("abc").
  for (let cut = 0; cut < lz4.length; cut++) {
    if (cut === 4) assert.equal(lz4BlockDecompress(lz4.subarray(0, cut), out), 3);
    else assert.throws(() => lz4BlockDecompress(lz4.subarray(0, cut), out), RangeError, `cut at ${cut}`);
  }
  // Random bytes, and random damage to valid streams: bounded in count and time.
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) & 0xff;
  const deadline = Date.now() + 10_000;
  let runs = 0;
  for (let k = 0; k < 3000 && Date.now() < deadline; k++, runs++) {
    const input = k % 2 ? Buffer.from(streams[k % 4 < 2 ? 0 : 1]) : Buffer.alloc(1 + (rnd() % 200));
    if (k % 2) for (let j = 0; j < 4; j++) input[rnd() % input.length] = rnd();
    else for (let j = 0; j < input.length; j++) input[j] = rnd();
    for (const fn of [lzo1xDecompress, lz4BlockDecompress, bz2Decompress]) {
      try {
        const got = fn(input, out);
        assert.ok(got >= 0 && got <= out.length);
      } catch (e) {
        assert.ok(e instanceof Error, String(e));
      }
    }
  }
  assert.ok(runs >= 100, `${runs} inputs tried`);
});

test('a bzip2 stream that inflates past the block limit is refused, not grown', () => {
  // bzip2 -9 of 8000 zero bytes (made with Python's bz2 module, 45 bytes).
  const bomb = Buffer.from(
    '425a68393141592653592617d25200000fc200c00000080008200020a534198d55b00f1772453850902617d252',
    'hex',
  );
  assert.throws(() => bz2Decompress(bomb, Buffer.alloc(1000)), /BZ2 output exceeds 1000 bytes/);
  const ok = Buffer.alloc(8000);
  assert.equal(bz2Decompress(bomb, ok), 8000);
});

test('damaged files of both layouts: only InputError escapes, rows = records.kept, every row sane', async () => {
  const good = await readFile(
    Buffer.concat([layout2Header(), block([flow(0), flow(1), flow(2)]), block([flow(3)])]),
  );
  const seeds = [
    readFileSync(good.path),
    Buffer.concat([
      layout2Header(3),
      blockBytes({ numRecords: 2, type: 3, flags: 0, data: literalLz4(Buffer.concat([flow(4), flow(5)])) }),
    ]),
    Buffer.concat([
      layout2Header(1),
      blockBytes({ numRecords: 2, type: 3, flags: 0, data: literalLzo(Buffer.concat([flow(6), flow(7)])) }),
    ]),
    layout1File(good.batches, { perBlock: 2 }),
  ];
  let seed = 777;
  const rnd = (m: number) => (seed = (seed * 1103515245 + 12345) >>> 0) % m;
  const deadline = Date.now() + 15_000;
  let runs = 0;
  for (let k = 0; k < 600 && Date.now() < deadline; k++, runs++) {
    const input = Buffer.from(seeds[k % seeds.length]);
    // Damage past the magic (a file without it is not read as nfcapd at all).
    for (let j = 1 + rnd(6); j > 0; j--) {
      const at = 4 + rnd(input.length - 4);
      input[at] = [0, 0xff, rnd(256), input[at] ^ (1 << rnd(8))][rnd(4)];
    }
    const cut = k % 5 === 0 ? input.subarray(0, 4 + rnd(input.length - 4)) : input;
    const path = join(dir, 'damaged');
    writeFileSync(path, cut);
    const d = new Diagnostics(5);
    let got = 0;
    try {
      for await (const b of readNfcapd(path, { diagnostics: d, batchSize: 2 })) {
        got += b.length;
        for (let i = 0; i < b.length; i++) {
          assert.ok(b.ipVersion[i] === 4 || b.ipVersion[i] === 6);
          for (const v of [
            b.packets[i],
            b.bytes[i],
            b.revPackets[i],
            b.revBytes[i],
            b.firstMs[i],
            b.lastMs[i],
          ])
            assert.ok(Number.isFinite(v) && v >= 0, `counter ${v}`);
          assert.ok(b.firstMs[i] <= MAX_DATE_MS && b.lastMs[i] <= MAX_DATE_MS, 'times a Date can hold');
        }
      }
    } catch (e) {
      assert.ok(e instanceof InputError, `input ${k}: ${String(e)}`);
    }
    assert.equal(got, d.get('records.kept'), `input ${k}: ${d.summary()}`);
  }
  assert.ok(runs >= 100, `${runs} damaged files read`);
});
