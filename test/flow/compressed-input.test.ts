/**
 * Compressed input and standard input (issue 12 point 3): every format fixture compressed with the
 * real gzip, zstd, bzip2 and xz tools stores the same flows as the plain file (and replaces it: the
 * fingerprint is of the decompressed bytes); `-` and /dev/stdin through the built CLI; truncated
 * and corrupt inputs give the error with its location; the spool limit refuses a bomb.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import '../../src/flow/all-formats.js';
import {
  sniffCompression,
  parseSize,
  zstdWindow,
  ZSTD_MAX_WINDOW,
  type Compression,
} from '../../src/flow/decompress.js';
import { detectFormat } from '../../src/flow/formats.js';
import { ingestFile, readHead } from '../../src/flow/ingest.js';
import { ZEEK_CONN_FIELDS, ZEEK_CONN_TYPES } from '../../src/netflow/zeek.js';
import { openFlowStore } from '../../src/store/open.js';
import { Progress } from '../../src/cli/progress.js';
import type { FlowStore } from '../../src/store/store.js';
import { blockBytes, layout2Header, v3Record } from '../netflow/nfcapd-synth.js';

const dir = mkdtempSync(join(tmpdir(), 'coinradar-compressed-'));
/** Spool files go here, so the test can see that none is left behind. */
const spoolDir = join(dir, 'spool');
execFileSync('mkdir', ['-p', spoolDir]);
test.after(() => rmSync(dir, { recursive: true, force: true }));

const TOOLS: Record<Compression, { tool: string; ext: string; args: string[] }> = {
  gzip: { tool: 'gzip', ext: 'gz', args: ['-c'] },
  zstd: { tool: 'zstd', ext: 'zst', args: ['-q', '-c'] },
  bzip2: { tool: 'bzip2', ext: 'bz2', args: ['-c'] },
  xz: { tool: 'xz', ext: 'xz', args: ['-c'] },
};

function hasTool(tool: string): boolean {
  try {
    execFileSync(tool, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const available = (Object.keys(TOOLS) as Compression[]).filter((c) => hasTool(TOOLS[c].tool));
const missing = (Object.keys(TOOLS) as Compression[]).filter((c) => !available.includes(c));

/** `data` compressed by the Debian tool (gzip falls back to node's zlib when the tool is missing). */
function compress(c: Compression, data: Buffer): Buffer {
  if (!available.includes(c)) {
    if (c === 'gzip') return gzipSync(data);
    throw new Error(`${TOOLS[c].tool} is not installed`);
  }
  return execFileSync(TOOLS[c].tool, TOOLS[c].args, { input: data, maxBuffer: 1 << 30 });
}

/** A Zeek conn.log (TSV) of a few connections, as Zeek writes it. */
function zeekConnLog(): Buffer {
  const lines = [
    '#separator \\x09',
    '#set_separator\t,',
    '#empty_field\t(empty)',
    '#unset_field\t-',
    '#path\tconn',
    '#open\t2017-05-17-00-00-00',
    `#fields\t${ZEEK_CONN_FIELDS.join('\t')}`,
    `#types\t${ZEEK_CONN_TYPES.join('\t')}`,
  ];
  for (let i = 0; i < 40; i++) {
    const ts = (1494979200 + i * 37.25).toFixed(6);
    lines.push(
      [ts, `C${i}x`, `175.45.176.${i % 7}`, 40000 + i, '104.18.1.2', i % 2 ? 3333 : 8333, 'tcp', '-',
        (i * 1.5).toFixed(6), 100 + i, 2000 + i, 'SF', '-', '-', 0, 'ShADadFf', 5 + i, 400 + i, 6 + i, 2600 + i, '-',
      ].join('\t'), // prettier-ignore
    );
  }
  lines.push('#close\t2017-05-17-01-00-00', '');
  return Buffer.from(lines.join('\n'));
}

/** An nfcapd (nfdump 1.7 layout) file with two blocks of V3 records. */
function nfcapdFile(): Buffer {
  const block = (from: number) => {
    const recs = [];
    for (let i = from; i < from + 25; i++) {
      recs.push(
        v3Record({
          first: 1494979200000 + i * 1000,
          last: 1494979200000 + i * 1000 + 500,
          src: 0xaf2db000 + i,
          dst: 0x68120102,
          srcPort: 40000 + i,
          dstPort: 3333,
          proto: 6,
          packets: 10 + i,
          bytes: 1000 + i * 7,
        }),
      );
    }
    return blockBytes({ numRecords: recs.length, type: 3, flags: 0, data: Buffer.concat(recs) });
  };
  return Buffer.concat([layout2Header(), block(0), block(25)]);
}

/**
 * Every fixture a reader claims (pcap, pcapng, NetFlow captures, nfcapd files, nfdump CSV), plus a
 * generated Zeek log and nfcapd file.
 */
function inputs(): { name: string; path: string }[] {
  const out: { name: string; path: string }[] = [];
  for (const sub of ['pcap', 'netflow', 'nfdump']) {
    const root = join('test/fixtures', sub);
    for (const f of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
      const path = join(root, f);
      if (!statSync(path).isFile() || !detectFormat(readHead(path))) continue;
      out.push({ name: relative('test/fixtures', path), path });
    }
  }
  const zeek = join(dir, 'conn.log');
  writeFileSync(zeek, zeekConnLog());
  const nfcapd = join(dir, 'nfcapd.201705170000');
  writeFileSync(nfcapd, nfcapdFile());
  out.push({ name: 'conn.log (generated)', path: zeek }, { name: 'nfcapd (generated)', path: nfcapd });
  return out;
}

/** Every stored flow, without the ids the store gives (they differ between two ingests). */
async function storedFlows(store: FlowStore): Promise<string[]> {
  const rows = await store.flows({ limit: 1_000_000, orderBy: 'position' });
  return rows.map((r) => {
    const o: Record<string, unknown> = { ...r };
    for (const k of ['id', 'source', 'source_id', 'flow_id']) delete o[k];
    return JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  });
}

const leftOver = () => readdirSync(spoolDir);

test('every format compressed with gzip, zstd, bzip2 and xz stores the same flows as the plain file', async (t) => {
  if (missing.length)
    t.diagnostic(`not installed, so not tested: ${missing.map((c) => TOOLS[c].tool).join(', ')}`);
  const all = inputs();
  const kinds = new Set<string>();
  for (const input of all) {
    const store = await openFlowStore(':memory:');
    try {
      const plain = await ingestFile(input.path, { store, tmpDir: spoolDir });
      assert.equal(plain.error, undefined, `${input.name}: ${plain.error}`);
      assert.ok(plain.flows > 0, `${input.name}: no flows`);
      assert.equal(plain.compression, undefined);
      kinds.add(plain.kind);
      const want = await storedFlows(store);
      const data = readFileSync(input.path);
      for (const c of available.includes('gzip') ? available : ['gzip' as const, ...available]) {
        const file = join(dir, `${input.path.replace(/[^A-Za-z0-9.]/g, '_')}.${TOOLS[c].ext}`);
        writeFileSync(file, compress(c, data));
        const r = await ingestFile(file, { store, tmpDir: spoolDir });
        assert.equal(r.error, undefined, `${input.name} ${c}: ${r.error}`);
        assert.equal(r.compression, c, `${input.name} ${c}: sniffed as ${r.compression}`);
        assert.equal(r.kind, plain.kind, `${input.name} ${c}`);
        assert.equal(r.flows, plain.flows, `${input.name} ${c}`);
        assert.equal(r.spooledBytes, data.length, `${input.name} ${c}: decompressed size`);
        // The fingerprint is of the decompressed bytes: the compressed copy replaced the plain one.
        const sources = await store.sources();
        assert.equal(sources.length, 1, `${input.name} ${c}: ${sources.length} sources after re-ingest`);
        assert.equal(sources[0].name, file, 'the source keeps the name it was given');
        assert.deepEqual(await storedFlows(store), want, `${input.name} ${c}: stored flows differ`);
        assert.deepEqual(leftOver(), [], 'spool removed');
      }
    } finally {
      await store.close();
    }
  }
  t.diagnostic(`${all.length} inputs (${[...kinds].sort().join(', ')}) × ${available.length} compressions`);
  for (const k of ['pcap', 'pcapng', 'nfdump-csv', 'nfcapd']) assert.ok(kinds.has(k), `no ${k} input`);
  assert.ok(
    [...kinds].some((k) => k.startsWith('netflow')),
    'no NetFlow capture',
  );
  assert.ok(
    [...kinds].some((k) => k.startsWith('zeek')),
    'no Zeek log',
  );
});

test('multi-member gzip, multi-frame zstd, multi-stream bzip2 and xz: every part is read', async () => {
  const data = readFileSync('test/fixtures/pcap/ndpi/bitcoin.pcap');
  const cut = 200_000;
  const store = await openFlowStore(':memory:');
  try {
    const plain = await ingestFile('test/fixtures/pcap/ndpi/bitcoin.pcap', { store, tmpDir: spoolDir });
    for (const c of available) {
      const file = join(dir, `two-part.pcap.${TOOLS[c].ext}`);
      writeFileSync(
        file,
        Buffer.concat([compress(c, data.subarray(0, cut)), compress(c, data.subarray(cut))]),
      );
      const r = await ingestFile(file, { store, tmpDir: spoolDir });
      assert.equal(r.error, undefined, `${c}: ${r.error}`);
      assert.equal(r.spooledBytes, data.length, `${c}: both parts decompressed`);
      assert.equal(r.flows, plain.flows, c);
    }
  } finally {
    await store.close();
  }
});

test('a truncated .gz and a corrupt .zst: an error naming the input and the offset; what came before is stored', async (t) => {
  const data = readFileSync('test/fixtures/pcap/ndpi/bitcoin.pcap');
  const store = await openFlowStore(':memory:');
  try {
    const plain = await ingestFile('test/fixtures/pcap/ndpi/bitcoin.pcap', { store, tmpDir: spoolDir });
    const gz = compress('gzip', data);
    const cutAt = Math.floor(gz.length / 2);
    const truncated = join(dir, 'truncated.pcap.gz');
    writeFileSync(truncated, gz.subarray(0, cutAt));
    const r = await ingestFile(truncated, { store, tmpDir: spoolDir });
    assert.match(
      r.error ?? '',
      new RegExp(`^${truncated}:${cutAt}: decompress-failed: gzip data ends early`),
    );
    assert.ok(
      r.flows > 0 && r.flows < plain.flows,
      `${r.flows} of ${plain.flows} flows stored from the decoded part`,
    );
    // The reader's own problem with the cut-off record names the input, not the spool file.
    const cutRecord = r.diagnostics.problems.find((p) => p.kind === 'truncated-record');
    assert.equal(cutRecord?.source, `${truncated} (gzip, decompressed)`);
    assert.ok((r.spooledBytes ?? 0) > 0 && (r.spooledBytes ?? 0) < data.length);
    assert.deepEqual(leftOver(), []);

    if (!available.includes('zstd')) return t.skip('zstd is not installed');
    const zst = compress('zstd', data);
    // Give a block header past the middle the reserved block type (3): a corrupt frame the decoder
    // must stop at. (fzstd does not check the frame's content checksum: damage inside a block's
    // entropy-coded data can decode to wrong bytes unnoticed; see docs/security-compress.md.)
    const corrupt = Buffer.from(zst);
    const at = blockHeaderPast(corrupt, corrupt.length / 2);
    corrupt[at] |= 0b110;
    const bad = join(dir, 'corrupt.pcap.zst');
    writeFileSync(bad, corrupt);
    const z = await ingestFile(bad, { store, tmpDir: spoolDir });
    const m = new RegExp(`^${bad}:(\\d+): decompress-failed: zstd data ends early or is corrupt at compressed byte \\d+ .* the (\\d+) compressed bytes from there to the end of the input \\(${corrupt.length} bytes\\) are not`).exec(z.error ?? ''); // prettier-ignore
    assert.ok(m, z.error);
    // The offset is where the decoder had read to when it failed: at or after the damage, before the end.
    assert.ok(Number(m[1]) >= at && Number(m[1]) < corrupt.length, `offset ${m[1]}`);
    assert.equal(Number(m[2]), corrupt.length - Number(m[1]));
    assert.ok(z.flows < plain.flows);
    assert.deepEqual(leftOver(), []);
  } finally {
    await store.close();
  }
});

/** Offset of the first block header of a single-frame zstd file at or after `min` (RFC 8878 section 3.1.1). */
function blockHeaderPast(zst: Buffer, min: number): number {
  const fhd = zst[4];
  const single = (fhd >> 5) & 1;
  const fcs = [single, 2, 4, 8][fhd >> 6];
  const dict = [0, 1, 2, 4][fhd & 3];
  let p = 4 + 1 + (single ? 0 : 1) + dict + fcs;
  for (;;) {
    const h = zst[p] | (zst[p + 1] << 8) | (zst[p + 2] << 16);
    if (p >= min) return p;
    assert.equal(h & 1, 0, 'the last block ends before the middle: no block header to corrupt');
    const type = (h >> 1) & 3;
    p += 3 + (type === 1 ? 1 : h >>> 3);
  }
}

test('the spool limit refuses a decompression bomb before it fills the disk', async () => {
  const bomb = join(dir, 'bomb.csv.gz');
  // 64 MiB of zeros after a CSV header: 65 KB compressed.
  writeFileSync(bomb, gzipSync(Buffer.concat([Buffer.from('ts,te,td,sa,da\n'), Buffer.alloc(64 << 20)])));
  const store = await openFlowStore(':memory:');
  try {
    const r = await ingestFile(bomb, { store, tmpDir: spoolDir, spoolLimit: 1 << 20 });
    assert.match(
      r.error ?? '',
      new RegExp(
        `^${bomb}:\\d+: spool-limit: decompressed gzip data passes the spool limit of 1048576 bytes`,
      ),
    );
    assert.equal(r.flows, 0);
    assert.equal((await store.sources()).length, 0, 'nothing stored');
    assert.deepEqual(leftOver(), [], 'the partial spool is removed');
    // Piped input is bounded the same way.
    const s = await ingestFile('-', {
      store,
      tmpDir: spoolDir,
      spoolLimit: 100_000,
      stdin: Readable.from([readFileSync('test/fixtures/pcap/ndpi/bitcoin.pcap')]),
    });
    assert.match(
      s.error ?? '',
      /^stdin:\d+: spool-limit: the input spooled from a stream passes the spool limit of 100000 bytes/,
    );
    assert.deepEqual(leftOver(), []);
  } finally {
    await store.close();
  }
  assert.equal(parseSize('64G'), 64 * 2 ** 30);
  assert.equal(parseSize('500M'), 500 * 2 ** 20);
  assert.ok(Number.isNaN(parseSize('lots')));
});

test("a zstd frame asking for a window past zstd's default limit is refused before it is allocated", async () => {
  // Frame header: no single segment, window descriptor exponent 20 → 2^30 bytes (fzstd would allocate it).
  const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 20 << 3]);
  assert.equal(zstdWindow(header), 2 ** 30);
  const file = join(dir, 'window.zst');
  // A raw last block of 16 bytes follows, so the frame is otherwise whole.
  const block = Buffer.from([(16 << 3) | 1, 0, 0]);
  writeFileSync(file, Buffer.concat([header, block, Buffer.alloc(16, 0x41)]));
  const store = await openFlowStore(':memory:');
  try {
    const r = await ingestFile(file, { store, tmpDir: spoolDir });
    assert.match(
      r.error ?? '',
      new RegExp(
        `^${file}:\\d+: decompress-failed: .*asks for a 1073741824-byte window, more than zstd's default limit of ${ZSTD_MAX_WINDOW}`,
      ),
    );
    assert.equal(r.spooledBytes, 0);
    assert.deepEqual(leftOver(), []);
  } finally {
    await store.close();
  }
  // The same frame with a 1 MiB window decodes (the check is not what fails it).
  const small = join(dir, 'window-small.zst');
  writeFileSync(
    small,
    Buffer.concat([header.subarray(0, 5), Buffer.from([10 << 3]), block, Buffer.alloc(16, 0x41)]),
  );
  const store2 = await openFlowStore(':memory:');
  try {
    const r = await ingestFile(small, { store: store2, tmpDir: spoolDir });
    assert.equal(r.spooledBytes, 16);
    assert.match(r.error ?? '', /unknown-format/, '16 bytes of A are no flow format');
  } finally {
    await store2.close();
  }
});

test('compression is sniffed from the bytes, not the name', () => {
  assert.equal(sniffCompression(gzipSync(Buffer.from('x'))), 'gzip');
  // Text that starts like a bzip2 stream header but has no block magic after it is not bzip2.
  assert.equal(sniffCompression(Buffer.from('BZh91 is not a bzip2 stream')), undefined);
  assert.equal(sniffCompression(readHead('test/fixtures/pcap/ndpi/bitcoin.pcap')), undefined);
  for (const c of available) assert.equal(sniffCompression(compress(c, Buffer.from('flows'))), c);
});

/**
 * Runs the built CLI with `file` on its standard input: through a shell pipe (`cat file | coinradar
 * …`, a FIFO) or, with `socket`, as node's spawn gives it (a socket, which /dev/stdin cannot open).
 */
function runBuilt(
  args: string[],
  file: string,
  socket = false,
): Promise<{ out: string; err: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const p = socket
      ? spawn(process.execPath, ['dist/cli/main.js', ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn('sh', ['-c', 'cat "$0" | "$NODE" dist/cli/main.js "$@"', file, ...args], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, NODE: process.execPath },
        });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d));
    p.stderr.on('data', (d: Buffer) => (err += d));
    const timer = setTimeout(() => p.kill(), 120_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ out, err, code });
    });
    if (p.stdin) {
      p.stdin.on('error', () => {});
      p.stdin.end(readFileSync(file));
    }
  });
}

test('`ingest -` and `ingest /dev/stdin` read piped input, plain and compressed (built CLI)', async (t) => {
  if (!existsSync('dist/cli/main.js')) return t.skip('dist/cli/main.js missing: run `npm run build` first');
  const plainPath = 'test/fixtures/nfdump/bitcoin-ipfix.csv';
  const store = await openFlowStore(':memory:');
  const plain = await ingestFile(plainPath, { store, tmpDir: spoolDir });
  await store.close();
  const gz = join(dir, 'piped.csv.gz');
  writeFileSync(gz, compress('gzip', readFileSync(plainPath)));
  const n = plain.flows;
  const cases: [string, string, boolean, RegExp][] = [
    ['-', plainPath, false, new RegExp(`^stdin: nfdump-csv \\([\\d.]+ KB spooled\\), ${n} flows stored`, 'm')],
    ['-', gz, false, new RegExp(`^stdin: nfdump-csv \\(gzip, [\\d.]+ KB decompressed\\), ${n} flows stored`, 'm')],
    ['/dev/stdin', gz, false, new RegExp(`^/dev/stdin: nfdump-csv \\(gzip, [\\d.]+ KB decompressed\\), ${n} flows stored`, 'm')],
    ['/dev/stdin', gz, true, new RegExp(`^/dev/stdin: nfdump-csv \\(gzip, [\\d.]+ KB decompressed\\), ${n} flows stored`, 'm')],
  ]; // prettier-ignore
  for (const [i, [arg, file, socket, want]] of cases.entries()) {
    const db = join(dir, `stdin-${i}.duckdb`);
    const r = await runBuilt(['ingest', '--db', db, '--no-geo', '--no-detect', arg], file, socket);
    const how = `${arg} < ${file}${socket ? ' (socket)' : ' (pipe)'}`;
    assert.equal(r.code, 0, `${how}: ${r.err}`);
    assert.match(r.out, want, how);
  }
});

test('Ctrl-C while standard input is spooled removes the spool (built CLI)', async (t) => {
  if (!existsSync('dist/cli/main.js')) return t.skip('dist/cli/main.js missing: run `npm run build` first');
  const tmp = mkdtempSync(join(dir, 'sigint-'));
  const p = spawn(
    process.execPath,
    ['dist/cli/main.js', 'ingest', '--db', join(dir, 'sigint.duckdb'), '--no-geo', '-'],
    {
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { ...process.env, TMPDIR: tmp },
    },
  );
  const exited = new Promise<NodeJS.Signals | null>((resolve) => p.on('close', (_code, sig) => resolve(sig)));
  // Standard input stays open: the CLI waits in the spool until the signal.
  p.stdin.write(readFileSync('test/fixtures/pcap/ndpi/bitcoin.pcap'));
  const spools = () => readdirSync(tmp).filter((f) => f.startsWith('coinradar-spool-'));
  const until = Date.now() + 30_000;
  while (spools().length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  assert.equal(spools().length, 1, 'the spool exists while stdin is read');
  p.kill('SIGINT');
  assert.equal(await exited, 'SIGINT', 'ended by the signal, as without the handler');
  assert.deepEqual(spools(), [], 'spool removed');
});

test('progress over a pipe: bytes and rate, no percentage; over a compressed file: a percentage', () => {
  const pipe = Progress.bytes('decompress/spool stdin', 0).line(50e6, Date.now() + 2000);
  assert.doesNotMatch(pipe, /%/);
  assert.match(pipe, /^2[45]\.\d MB\/s $/, pipe);
  const file = Progress.bytes('decompress/spool x.gz', 100e6).line(50e6, Date.now() + 2000);
  assert.match(file, / 50% /);
});

test('a bad line in a compressed Zeek log is named by the input and its line in the decompressed text', async () => {
  const lines = zeekConnLog().toString().split('\n');
  // Line 12 (1-based): the fourth connection, its responder port made unreadable.
  const cols = lines[11].split('\t');
  cols[5] = 'port';
  lines[11] = cols.join('\t');
  const file = join(dir, 'bad-line.conn.log.gz');
  writeFileSync(file, compress('gzip', Buffer.from(lines.join('\n'))));
  const store = await openFlowStore(':memory:');
  try {
    const r = await ingestFile(file, { store, tmpDir: spoolDir });
    assert.equal(r.error, undefined);
    assert.equal(r.flows, 39);
    const p = r.diagnostics.problems[0];
    assert.equal(p?.source, `${file} (gzip, decompressed)`);
    assert.equal(p?.unit, 'line');
    assert.equal(p?.offset, 12);
  } finally {
    await store.close();
  }
});
