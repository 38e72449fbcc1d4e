/**
 * The capture readers on files written by the test: every pcap magic and both pcapng byte
 * orders (from real packets of bitcoin.pcap), every link type we decode, and bad input.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, openSync, ftruncateSync, closeSync, writeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Diagnostics, InputError } from '../../src/flow/diagnostics.js';
import { pcapMagic, readCapture } from '../../src/capture/reader.js';
import { unpackPayloadTimes } from '../../src/flow/payload-times.js';
import { coinradarFlows } from './peers.js';
import {
  ether,
  ipv4,
  ipv6,
  nullLink,
  pcapFile,
  pcapngBlock,
  pcapngEpb,
  pcapngFile,
  pcapngIdb,
  pcapngShb,
  pcapngSpb,
  pcapRecord,
  sll,
  sll2,
  u32,
  type SynthPacket,
} from './synth.js';

const dir = mkdtempSync(join(tmpdir(), 'coinradar-capture-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function tmp(content: Buffer): string {
  const p = join(dir, `f${n++}.cap`);
  writeFileSync(p, content);
  return p;
}

async function packetsOf(path: string, diag = new Diagnostics()) {
  const out: {
    tsMs: number;
    data: Buffer;
    origLen: number;
    linkType: number;
    fileOffset: number;
    interfaceId: number;
  }[] = [];
  await readCapture(path, diag, (p) =>
    out.push({
      tsMs: p.tsMs,
      data: Buffer.from(p.data),
      origLen: p.origLen,
      linkType: p.linkType,
      fileOffset: p.fileOffset,
      interfaceId: p.interfaceId,
    }),
  );
  return out;
}

const BITCOIN = 'test/fixtures/pcap/ndpi/bitcoin.pcap';

test('all four pcap magics and both pcapng byte orders give the same packets and flows', async () => {
  const real = (await packetsOf(BITCOIN)).slice(0, 120);
  const packets: SynthPacket[] = real.map((p) => ({ tsMs: p.tsMs, data: p.data, origLen: p.origLen }));
  const reference = await coinradarFlows(tmp(pcapFile(packets)));
  assert.ok(reference.length >= 2);
  const variants: [string, Buffer][] = [
    ['pcap µs little-endian', pcapFile(packets, { le: true })],
    ['pcap µs big-endian', pcapFile(packets, { le: false })],
    ['pcap ns little-endian', pcapFile(packets, { le: true, nano: true })],
    ['pcap ns big-endian', pcapFile(packets, { le: false, nano: true })],
    ['pcapng little-endian', pcapngFile(packets, { le: true })],
    [
      'pcapng big-endian (ns resolution)',
      pcapngFile(packets, { le: false, interfaces: [{ linkType: 1, tsresol: 9 }] }),
    ],
  ];
  for (const [name, content] of variants) {
    const path = tmp(content);
    assert.equal(pcapMagic(content), name.startsWith('pcapng') ? 'pcapng' : 'pcap', name);
    const got = await packetsOf(path);
    assert.equal(got.length, packets.length, name);
    for (let k = 0; k < got.length; k++) {
      assert.ok(got[k].data.equals(packets[k].data), `${name} packet ${k}`);
      assert.equal(got[k].origLen, packets[k].origLen);
      assert.ok(
        Math.abs(got[k].tsMs - packets[k].tsMs) < 0.001,
        `${name} ts ${got[k].tsMs} vs ${packets[k].tsMs}`,
      );
    }
    const flows = await coinradarFlows(path);
    // Segment times to the microsecond, as the packet times above: a nanosecond file gives the
    // same instants with other rounding in the last bits of the float.
    const micros = (t: Buffer | null | undefined) =>
      unpackPayloadTimes(t).map(([o, ms]) => [o, Math.round(ms * 1000)]);
    const strip = (fs: typeof flows) =>
      fs.map((f) => ({
        ...f,
        source: '',
        position: 0,
        payloadTimesFwd: micros(f.payloadTimesFwd),
        payloadTimesRev: micros(f.payloadTimesRev),
      }));
    assert.deepEqual(strip(flows), strip(reference), name);
  }
});

test('pcapng: several interfaces with their own link type and resolution, SPB, unknown blocks skipped', async () => {
  const tcp = ipv4('10.0.0.1', '10.0.0.2', { sport: 40000, dport: 8333, flags: 2 });
  const udp = ipv6('2001:db8::1', '2001:db8::2', { proto: 17, sport: 5353, dport: 53, payload: 'q' });
  for (const le of [true, false]) {
    const content = Buffer.concat([
      pcapngShb(le),
      pcapngIdb(1, le),
      pcapngIdb(101, le, 0x80 | 20), // raw IP, 2^-20 s units
      pcapngBlock(0x40000bad, Buffer.alloc(16, 7), le),
      pcapngEpb({ tsMs: 1494979200123.5, data: ether(tcp), interfaceId: 0 }, le),
      pcapngEpb({ tsMs: 1494979201000, data: udp, interfaceId: 1 }, le, 2 ** 20 / 1000),
      pcapngBlock(5, Buffer.alloc(20), le), // interface statistics
      pcapngSpb({ tsMs: 0, data: ether(tcp) }, le),
      // A second section restarts interface numbering, in the other byte order.
      pcapngShb(!le),
      pcapngIdb(113, !le),
      pcapngEpb({ tsMs: 1494979300000, data: sll(tcp), interfaceId: 0 }, !le),
    ]);
    const diag = new Diagnostics();
    const got = await packetsOf(tmp(content), diag);
    assert.deepEqual(
      got.map((p) => [p.linkType, p.interfaceId]),
      [
        [1, 0],
        [101, 1],
        [1, 0],
        [113, 0],
      ],
    );
    assert.ok(Math.abs(got[0].tsMs - 1494979200123.5) < 0.001);
    assert.ok(Math.abs(got[1].tsMs - 1494979201000) < 0.01);
    assert.equal(got[2].tsMs, got[1].tsMs, 'an SPB has no timestamp: it takes the last one');
    assert.equal(diag.get('pcapng.blocks-skipped'), 2);
    assert.equal(diag.get('problems'), 0);
  }
});

test('link types: Ethernet, 802.1Q, QinQ, Linux cooked v1/v2, raw, null and loop decode to the same flow', async () => {
  const a = ipv4('192.0.2.1', '198.51.100.7', { sport: 51000, dport: 3333, flags: 2 });
  const b = ipv4('198.51.100.7', '192.0.2.1', { sport: 3333, dport: 51000, flags: 0x12 });
  const cases: [string, number, (ip: Buffer) => Buffer][] = [
    ['ethernet', 1, (ip) => ether(ip)],
    ['802.1Q', 1, (ip) => ether(ip, [785])],
    ['QinQ 802.1ad', 1, (ip) => ether(ip, [100, 200], 0x88a8)],
    ['QinQ 0x9100', 1, (ip) => ether(ip, [100, 200, 300], 0x9100)],
    ['linux cooked', 113, sll],
    ['linux cooked v2', 276, sll2],
    ['raw', 101, (ip) => ip],
    ['raw ipv4', 228, (ip) => ip],
    ['null (little-endian family)', 0, (ip) => nullLink(ip, true)],
    ['null (big-endian family)', 0, (ip) => nullLink(ip, false)],
    ['loop', 108, (ip) => nullLink(ip, false)],
  ];
  for (const [name, linkType, wrap] of cases) {
    const path = tmp(
      pcapFile(
        [
          { tsMs: 1000, data: wrap(a) },
          { tsMs: 1001, data: wrap(b) },
        ],
        { linkType },
      ),
    );
    const diag = new Diagnostics();
    const flows = await coinradarFlows(path, {}, diag);
    assert.equal(flows.length, 1, name);
    const f = flows[0];
    assert.deepEqual(
      [f.src, f.srcPort, f.dst, f.dstPort, f.proto, f.packets, f.revPackets, f.bytes, f.revBytes],
      ['192.0.2.1', 51000, '198.51.100.7', 3333, 6, 1, 1, 40, 40],
      name,
    );
    assert.equal(diag.get('packets.ip'), 2, name);
  }
  // IPv6 over raw (229) and over Ethernet.
  const v6 = ipv6('2001:db8::1', '2001:db8::2', { sport: 40000, dport: 18080, flags: 2 });
  for (const [linkType, data] of [
    [229, v6],
    [1, ether(v6)],
    [0, nullLink(v6, true)],
  ] as const) {
    const flows = await coinradarFlows(tmp(pcapFile([{ tsMs: 1, data }], { linkType })));
    assert.deepEqual(
      [flows[0].src, flows[0].dst, flows[0].dstPort, flows[0].bytes],
      ['2001:db8::1', '2001:db8::2', 18080, 60],
    );
  }
});

function tcpFrames(count: number, t0 = 1_600_000_000_000): SynthPacket[] {
  const out: SynthPacket[] = [];
  for (let k = 0; k < count; k++) {
    out.push({
      tsMs: t0 + k,
      data: ether(ipv4('10.1.1.1', '10.2.2.2', { sport: 40000 + k, dport: 80, flags: 2 })),
    });
  }
  return out;
}

test('bad input: wrong magic is an InputError at offset 0', async () => {
  const path = tmp(Buffer.from('this is not a capture file at all, just text\n'));
  await assert.rejects(
    readCapture(path, new Diagnostics(), () => {}),
    (e: unknown) =>
      e instanceof InputError &&
      e.problem.offset === 0 &&
      e.problem.kind === 'bad-magic' &&
      e.problem.source === path,
  );
  const empty = tmp(Buffer.alloc(0));
  await assert.rejects(
    readCapture(empty, new Diagnostics(), () => {}),
    InputError,
  );
});

test('bad input: a truncated last record is reported at its offset, earlier records kept', async () => {
  const frames = tcpFrames(5);
  const whole = pcapFile(frames);
  const lastAt = whole.length - pcapRecord(frames[4]).length;
  const diag = new Diagnostics();
  const got = await packetsOf(tmp(whole.subarray(0, whole.length - 10)), diag);
  assert.equal(got.length, 4);
  assert.equal(diag.problems.length, 1);
  assert.equal(diag.problems[0].kind, 'truncated-record');
  assert.equal(diag.problems[0].offset, lastAt);
  // pcapng: same, with the last block cut.
  const ng = pcapngFile(frames);
  const lastBlock = ng.length - pcapngEpb(frames[4], true).length;
  const d2 = new Diagnostics();
  const got2 = await packetsOf(tmp(ng.subarray(0, ng.length - 3)), d2);
  assert.equal(got2.length, 4);
  assert.deepEqual(
    d2.problems.map((p) => [p.kind, p.offset]),
    [['truncated-record', lastBlock]],
  );
});

test('bad input: pcap caplen beyond snaplen is skipped with its offset; absurd caplen resynchronises', async () => {
  const frames = tcpFrames(6);
  const recs = frames.map((f) => pcapRecord(f));
  // Record 2 claims a caplen above the snaplen (but its bytes are there): skipped, rest kept.
  const big = { tsMs: frames[2].tsMs, data: Buffer.concat([frames[2].data, Buffer.alloc(200)]) };
  const head = pcapFile([], { snaplen: 96 });
  const file1 = Buffer.concat([head, recs[0], recs[1], pcapRecord(big), recs[3], recs[4]]);
  const d1 = new Diagnostics();
  const got1 = await packetsOf(tmp(file1), d1);
  assert.equal(got1.length, 4);
  assert.deepEqual(
    d1.problems.map((p) => [p.kind, p.offset]),
    [['caplen-exceeds-snaplen', head.length + recs[0].length + recs[1].length]],
  );
  // The same as the last record of the file.
  const d3 = new Diagnostics();
  const got3 = await packetsOf(tmp(Buffer.concat([head, recs[0], recs[1], pcapRecord(big)])), d3);
  assert.equal(got3.length, 2);
  assert.deepEqual(
    d3.problems.map((p) => [p.kind, p.offset]),
    [['caplen-exceeds-snaplen', head.length + recs[0].length + recs[1].length]],
  );
  // Record 2's caplen is absurd (3 GB): report it, scan to the next plausible record, keep the rest.
  const bad = Buffer.from(recs[2]);
  bad.writeUInt32LE(0xc0000000, 8);
  const file2 = Buffer.concat([pcapFile([]), recs[0], recs[1], bad, recs[3], recs[4], recs[5]]);
  const d2 = new Diagnostics();
  const got2 = await packetsOf(tmp(file2), d2);
  const badAt = 24 + recs[0].length + recs[1].length;
  assert.deepEqual(
    got2.map((p) => p.tsMs),
    [frames[0], frames[1], frames[3], frames[4], frames[5]].map((f) => f.tsMs),
  );
  assert.deepEqual(
    d2.problems.map((p) => [p.kind, p.offset]),
    [
      ['bad-record-length', badAt],
      ['resynchronised', badAt],
    ],
  );
  assert.equal(got2[2].fileOffset, badAt + recs[2].length);
});

test('bad input: a corrupt pcapng block length is reported at file:offset and reading resynchronises', async () => {
  const frames = tcpFrames(6);
  const head = Buffer.concat([pcapngShb(true), pcapngIdb(1, true)]);
  const blocks = frames.map((f) => pcapngEpb(f, true));
  for (const [name, corrupt] of [
    ['leading length', (b: Buffer) => b.writeUInt32LE(0x7ffffff0, 4)],
    ['trailing length', (b: Buffer) => b.writeUInt32LE(b.length + 8, b.length - 4)],
    ['odd length', (b: Buffer) => b.writeUInt32LE(b.length - 3, 4)],
  ] as const) {
    const bad = Buffer.from(blocks[2]);
    corrupt(bad);
    const path = tmp(Buffer.concat([head, blocks[0], blocks[1], bad, blocks[3], blocks[4], blocks[5]]));
    const d = new Diagnostics();
    const got = await packetsOf(path, d);
    const badAt = head.length + blocks[0].length + blocks[1].length;
    assert.deepEqual(
      got.map((p) => p.tsMs),
      [frames[0], frames[1], frames[3], frames[4], frames[5]].map((f) => f.tsMs),
      name,
    );
    assert.deepEqual(
      d.problems.map((p) => [p.kind, p.offset, p.source]),
      [
        ['bad-block-length', badAt, path],
        ['resynchronised', badAt, path],
      ],
      name,
    );
  }
  // Garbage to the end: everything before is kept and reading stops cleanly.
  const bad = Buffer.from(blocks[2]);
  bad.writeUInt32LE(13, 4);
  const path = tmp(
    Buffer.concat([head, blocks[0], blocks[1], bad.subarray(0, 12), Buffer.alloc(5000, 0xee)]),
  );
  const d = new Diagnostics();
  const got = await packetsOf(path, d);
  assert.equal(got.length, 2);
  assert.deepEqual(
    d.problems.map((p) => p.kind),
    ['bad-block-length', 'resync-failed'],
  );
});

test('bad input: random bytes end quickly without hanging or allocating by their lengths', async () => {
  // 1 GB file: random bytes at the start, the rest sparse. It is not a capture: error at offset 0.
  const path = join(dir, 'random-1g.bin');
  const fd = openSync(path, 'w');
  writeSync(fd, randomBytes(8 << 20));
  ftruncateSync(fd, 1 << 30);
  closeSync(fd);
  let t = Date.now();
  await assert.rejects(
    readCapture(path, new Diagnostics(), () => {}),
    (e: unknown) => e instanceof InputError && e.problem.offset === 0,
  );
  assert.ok(Date.now() - t < 2000);
  // Valid headers followed by 48 MiB of random bytes: the readers scan through and stop.
  const noise = randomBytes(48 << 20);
  for (const head of [pcapFile([]), Buffer.concat([pcapngShb(true), pcapngIdb(1, true)])]) {
    const p = tmp(Buffer.concat([head, noise]));
    t = Date.now();
    const before = process.memoryUsage().rss;
    const d = new Diagnostics();
    await readCapture(p, d, () => {});
    assert.ok(Date.now() - t < 30000, `took ${Date.now() - t} ms`);
    assert.ok(process.memoryUsage().rss - before < 256 << 20);
    assert.ok(d.get('problems') >= 1);
  }
});

test('progress reports reach the file size', async () => {
  const content = pcapFile(tcpFrames(50));
  let last = 0;
  await readCapture(tmp(content), new Diagnostics(), () => {}, { onProgress: (b) => (last = b) });
  assert.equal(last, content.length);
});

test('pcapMagic recognises captures only by their magic numbers', () => {
  assert.equal(pcapMagic(Buffer.from('d4c3b2a1', 'hex')), 'pcap');
  assert.equal(pcapMagic(Buffer.from('a1b2c3d4', 'hex')), 'pcap');
  assert.equal(pcapMagic(Buffer.from('4d3cb2a1', 'hex')), 'pcap');
  assert.equal(pcapMagic(Buffer.from('a1b23c4d', 'hex')), 'pcap');
  assert.equal(pcapMagic(pcapngShb(true)), 'pcapng');
  assert.equal(pcapMagic(pcapngShb(false)), 'pcapng');
  assert.equal(pcapMagic(Buffer.concat([u32(0x0a0d0d0a, true), u32(28, true), u32(0x12345678, true)])), null);
  assert.equal(pcapMagic(Buffer.from('hello world')), null);
  assert.equal(pcapMagic(Buffer.alloc(2)), null);
});

test('ingest formats: pcap and pcapng are registered and detected from the bytes', async () => {
  await import('../../src/flow/all-formats.js');
  const { detectFormat } = await import('../../src/flow/formats.js');
  const { readHead } = await import('../../src/flow/ingest.js');
  assert.equal(detectFormat(readHead(BITCOIN))?.kind, 'pcap');
  assert.equal(detectFormat(readHead('test/fixtures/pcap/ndpi/mining.pcapng'))?.kind, 'pcapng');
  // dns.pcap is a pcapng file despite its name: the bytes decide.
  assert.equal(detectFormat(readHead('test/fixtures/pcap/ndpi/dns.pcap'))?.kind, 'pcapng');
});

test('forEachUdpPayload: every UDP datagram with endpoints, time and offset', async () => {
  const { forEachUdpPayload } = await import('../../src/capture/udp-payloads.js');
  const seen: string[] = [];
  const diag = new Diagnostics();
  await forEachUdpPayload('test/fixtures/pcap/ndpi/dns.pcap', diag, (payload, src, sp, dst, dp, ts, off) => {
    assert.ok(ts > 0 && off > 0);
    seen.push(`${src}:${sp}>${dst}:${dp} ${payload.length}`);
  });
  // Per nDPI: 82.178.113.245:47255 <-> 82.178.158.181:53 (1/1), 192.168.170.20:53 <-> 192.168.170.8:32795 (2/1).
  assert.equal(seen.length, 5);
  assert.equal(seen.filter((s) => s.startsWith('192.168.170.20:53>192.168.170.8:32795')).length, 2);
  assert.equal(seen.filter((s) => s.startsWith('82.178.113.245:47255>82.178.158.181:53')).length, 1);
  // A real QinQ + PPPoE frame (VLANs 421 and 785): 91 = 14 + 2 × 4 + 8 (PPPoE/PPP) + 61-byte IP packet,
  // UDP length 41, so 33 bytes of DNS.
  assert.ok(seen.includes('82.178.113.245:47255>82.178.158.181:53 33'), seen.join('\n'));
  assert.equal(diag.get('udp.datagrams'), 5);
});

test('records straddling chunk ends: tiny read sizes give the same packets and problems', async () => {
  const files = [
    BITCOIN,
    'test/fixtures/pcap/ndpi/gnutella.pcap',
    'test/fixtures/pcap/nesfit/cgminer.s0.pcapng',
  ];
  // Corrupt files too: resynchronisation must work across chunk ends.
  const frames = tcpFrames(40);
  const blocks = frames.map((f) => pcapngEpb(f, true));
  const bad = Buffer.from(blocks[7]);
  bad.writeUInt32LE(0x7ffffff0, 4);
  files.push(
    tmp(Buffer.concat([pcapngShb(true), pcapngIdb(1, true), ...blocks.slice(0, 7), bad, ...blocks.slice(8)])),
  );
  const recs = frames.map((f) => pcapRecord(f));
  const badRec = Buffer.from(recs[9]);
  badRec.writeUInt32LE(0xc0000000, 8);
  files.push(tmp(Buffer.concat([pcapFile([]), ...recs.slice(0, 9), badRec, ...recs.slice(10)])));
  for (const path of files) {
    const digest = async (chunkBytes?: number) => {
      const d = new Diagnostics();
      const out: string[] = [];
      await readCapture(
        path,
        d,
        (p) => out.push(`${p.fileOffset} ${p.tsMs} ${p.caplen} ${p.data.toString('base64')}`),
        {
          chunkBytes,
        },
      );
      return { out, problems: d.problems.map((p) => `${p.kind}@${p.offset}`) };
    };
    const ref = await digest();
    assert.ok(ref.out.length > 30, path);
    for (const chunk of [64, 1000, 4096])
      assert.deepEqual(await digest(chunk), ref, `${path} chunk ${chunk}`);
  }
});
