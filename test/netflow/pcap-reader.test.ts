// Format 'netflow-pcap': captures of export traffic are recognised (and no ordinary capture is),
// decoded per flow like tshark's cflow dissector and nfdump read them, bad datagrams reported at
// their file offset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/flow/all-formats.js';
import { detectFormat } from '../../src/flow/formats.js';
import { ingestFile, readHead } from '../../src/flow/ingest.js';
import { sniffNetflowCapture } from '../../src/netflow/pcap-reader.js';
import { benchV9Stream } from '../../src/netflow/encode.js';
import { ether, ipv4, pcapFile, udpFragments4 } from '../capture/synth.js';
import { openFlowStore } from '../../src/store/open.js';
import {
  byFiveTuple,
  storedAsPeer,
  canonIp,
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

const FIXTURES = [
  { path: 'test/fixtures/netflow/softflowd-v5-gnutella.pcap', port: 20557 },
  { path: 'test/fixtures/netflow/softflowd-v9-bitcoin.pcapng', port: 20555 },
  { path: 'test/fixtures/netflow/softflowd-ipfix-bidir-mining.pcap', port: 20556 },
];

async function ingestFlows(path: string) {
  const store = await openFlowStore(':memory:');
  try {
    const r = await ingestFile(path, { store });
    const rows = await store.flows({});
    return { r, rows };
  } finally {
    await store.close();
  }
}

test('sniffing: captures of export traffic are netflow-pcap; no ordinary capture fixture is', () => {
  for (const f of FIXTURES) assert.equal(detectFormat(readHead(f.path))?.kind, 'netflow-pcap', f.path);
  const ordinary = captureFixtures();
  assert.ok(ordinary.length >= 10);
  for (const f of ordinary) assert.equal(sniffNetflowCapture(readHead(f)), false, f);
});

test('NetFlow v5 and v9 captures (dumpcap of softflowd) decode per flow as tshark decodes them', async (t) => {
  if (!have('tshark')) {
    t.skip('tshark not installed');
    return;
  }
  for (const f of FIXTURES.slice(0, 2)) {
    const r = spawnSync(
      'tshark',
      [
        '-r',
        f.path,
        '-d',
        `udp.port==${f.port},cflow`,
        '-T',
        'fields',
        '-E',
        'separator=|',
        ...['srcaddr', 'dstaddr', 'srcport', 'dstport', 'protocol', 'packets', 'octets'].flatMap((x) => [
          '-e',
          `cflow.${x}`,
        ]),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const theirs: PeerFlow[] = [];
    for (const line of r.stdout.trim().split('\n')) {
      const cols = line.split('|').map((c) => c.split(','));
      cols[0].forEach((_, k) =>
        theirs.push({
          src: canonIp(cols[0][k]),
          dst: canonIp(cols[1][k]),
          srcPort: Number(cols[2][k]),
          dstPort: Number(cols[3][k]),
          proto: Number(cols[4][k]),
          packets: Number(cols[5][k]),
          bytes: Number(cols[6][k]),
          revPackets: 0,
          revBytes: 0,
        }),
      );
    }
    const { r: res, rows } = await ingestFlows(f.path);
    assert.equal(res.kind, 'netflow-pcap');
    // softflowd -r writes flow times from its own uptime clock (1970 dates): the one problem allowed
    // is that, counted per flow (flow/plausible-time.ts); every flow is still kept.
    const d = res.diagnostics;
    assert.equal(d.get('problems') - d.get('problem.implausible-time'), 0, d.summary());
    assert.ok(d.get('flows.implausible-time') <= rows.length);
    const a = byFiveTuple(storedAsPeer(rows));
    const b = byFiveTuple(theirs);
    assert.ok(b.total.flows >= 12, f.path);
    assert.deepEqual(a.total, b.total, f.path);
    assert.deepEqual(a.keys, b.keys, f.path);
    for (const row of rows) {
      assert.equal(row.source, f.path);
      assert.equal(row.exporter, '127.0.0.1');
    }
  }
});

test('IPFIX biflow capture: 4 records carrying all 673 packets / 209,656 bytes of mining.pcapng', async () => {
  const { r, rows } = await ingestFlows(FIXTURES[2].path);
  assert.equal(r.diagnostics.get('problems'), 0, r.diagnostics.summary());
  assert.equal(rows.length, 4);
  assert.equal(
    rows.reduce((s, f) => s + f.packets + f.rev_packets, 0),
    673,
  );
  assert.equal(
    rows.reduce((s, f) => s + f.bytes + f.rev_bytes, 0),
    209656,
  );
  assert.ok(rows.every((f) => f.rev_packets > 0));
  assert.ok(rows.every((f) => f.first.startsWith('20')));
});

/** A classic pcap (Ethernet, IPv4, UDP) of the given datagrams, all from 127.0.0.1:sport. */
function writePcap(path: string, datagrams: Buffer[], sport: number): number[] {
  const parts: Buffer[] = [];
  const g = Buffer.alloc(24);
  g.writeUInt32LE(0xa1b2c3d4, 0);
  g.writeUInt16LE(2, 4);
  g.writeUInt16LE(4, 6);
  g.writeUInt32LE(65535, 16);
  g.writeUInt32LE(1, 20);
  parts.push(g);
  const offsets: number[] = [];
  let off = 24;
  datagrams.forEach((d, k) => {
    const eth = Buffer.alloc(14);
    eth.writeUInt16BE(0x0800, 12);
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + 8 + d.length, 2);
    ip[8] = 64;
    ip[9] = 17;
    Buffer.from([127, 0, 0, 1, 127, 0, 0, 1]).copy(ip, 12);
    const udp = Buffer.alloc(8);
    udp.writeUInt16BE(sport, 0);
    udp.writeUInt16BE(2055, 2);
    udp.writeUInt16BE(8 + d.length, 4);
    const pkt = Buffer.concat([eth, ip, udp, d]);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(1700000000 + k, 0);
    rec.writeUInt32LE(pkt.length, 8);
    rec.writeUInt32LE(pkt.length, 12);
    offsets.push(off);
    parts.push(rec, pkt);
    off += 16 + pkt.length;
  });
  writeFileSync(path, Buffer.concat(parts));
  return offsets;
}

test('a pcap of real softflowd IPFIX datagrams (with bad ones between) equals nfdump per flow; problems at file offsets', async (t) => {
  const missing = ['softflowd', 'nfcapd', 'nfdump'].filter((c) => !have(c));
  if (missing.length) {
    t.skip(`${missing.join(', ')} not installed`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'cr-nfpcap-'));
  try {
    // Receive softflowd's datagrams verbatim while nfcapd gets the same ones.
    const got: Buffer[] = [];
    const sock = createSocket('udp4');
    sock.on('message', (m) => got.push(Buffer.from(m)));
    await new Promise<void>((res) => sock.bind(0, '127.0.0.1', res));
    const nfPort = await freeUdpPort();
    const nf = await startNfcapd(dir, nfPort);
    const sfd = spawn(
      'softflowd',
      [
        '-r',
        'test/fixtures/pcap/ndpi/gnutella.pcap',
        '-n',
        `127.0.0.1:${sock.address().port},127.0.0.1:${nfPort}`,
        '-a',
        '-v',
        '10',
        '-A',
        'milli',
      ],
      { stdio: 'ignore' },
    );
    assert.equal(await exited(sfd), 0);
    await sleep(200);
    sock.close();
    const theirs = nfdumpFlows(await stopNfcapd(nf, dir));
    assert.ok(got.length >= 3, `softflowd sent ${got.length} datagrams`);
    const junk = Buffer.from('GET / HTTP/1.1\r\nHost: example\r\n\r\n');
    const short = got[1].subarray(0, 10);
    const stream = [got[0], junk, ...got.slice(1), short];
    const file = join(dir, 'export.pcap');
    const offsets = writePcap(file, stream, 41000);
    const { r, rows } = await ingestFlows(file);
    assert.equal(r.kind, 'netflow-pcap');
    const a = byFiveTuple(storedAsPeer(rows));
    const b = byFiveTuple(theirs);
    assert.deepEqual(a.total, b.total);
    assert.deepEqual(a.keys, b.keys);
    // 'GET ' is not a NetFlow version: counted as other UDP, not decoded. The cut one is reported.
    assert.equal(r.diagnostics.get('udp.not-netflow'), 1);
    assert.deepEqual(
      r.diagnostics.problems
        .filter((p) => p.kind !== 'implausible-time')
        .map((p) => `${p.source}:${p.offset} ${p.kind}`),
      [`${file}:${offsets[offsets.length - 1]} truncated-header`],
    );
    // softflowd's 1970 flow times, if any, are named once, at the datagram of the first such flow.
    for (const p of r.diagnostics.problems.filter((x) => x.kind === 'implausible-time'))
      assert.ok(offsets.includes(p.offset), `implausible-time at datagram offset ${p.offset}`);
    const dgOffsets = new Set(offsets);
    for (const row of rows)
      assert.ok(dgOffsets.has(row.position), `position ${row.position} is a packet offset`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ingest of a netflow-pcap survives a cut last packet', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-nfpcap-cut-'));
  try {
    const whole = readHead(FIXTURES[0].path, 1 << 20);
    const cut = join(dir, 'cut.pcap');
    writeFileSync(cut, whole.subarray(0, whole.length - 100));
    const { r, rows } = await ingestFlows(cut);
    assert.equal(r.kind, 'netflow-pcap');
    assert.ok(rows.length > 800, `${rows.length} flows kept`);
    assert.ok(r.diagnostics.get('problems') >= 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('export datagrams larger than the MTU, captured as IP fragments: reassembled, sniffed, the same flows as whole; one never completed is counted', async () => {
  // 12 v9 datagrams of 120 records (~4.3 KB each: three fragments at a 1,500-byte MTU). Every
  // third datagram's fragments arrive last first; datagram 7 loses its last fragment.
  const datagrams = [...benchV9Stream(12, 120, 4)];
  const l4 = (payload: Buffer) => ({ sport: 40000, dport: 2055, payload });
  const EXPORTER = '198.51.100.7';
  const COLLECTOR = '198.51.100.9';
  const whole = datagrams.map((d, k) => ({
    tsMs: 1_700_000_000_000 + k * 10,
    data: ether(ipv4(EXPORTER, COLLECTOR, { proto: 17, ...l4(d) })),
  }));
  const fragmented = datagrams.flatMap((d, k) => {
    let frags = udpFragments4(EXPORTER, COLLECTOR, l4(d), 100 + k);
    assert.ok(frags.length >= 3);
    if (k % 3 === 0) frags = frags.reverse();
    if (k === 7) frags = frags.slice(0, -1);
    return frags.map((f) => ({ tsMs: 1_700_000_000_000 + k * 10, data: ether(f) }));
  });
  const dir = mkdtempSync(join(tmpdir(), 'cr-nf-frag-'));
  try {
    const flowsOf = async (name: string, packets: { tsMs: number; data: Buffer }[]) => {
      const path = join(dir, name);
      writeFileSync(path, pcapFile(packets));
      assert.equal(detectFormat(readHead(path))?.kind, 'netflow-pcap', name);
      const { r, rows } = await ingestFlows(path);
      return { r, rows: rows.map((f) => `${f.src}:${f.sport}>${f.dst}:${f.dport} ${f.packets}/${f.bytes}`) };
    };
    const a = await flowsOf('whole.pcap', whole);
    const b = await flowsOf('fragmented.pcap', fragmented);
    assert.equal(a.rows.length, 12 * 120);
    // Every flow of the 11 completed datagrams, and none of datagram 7's.
    const lost = new Set(a.rows.slice(7 * 120, 8 * 120));
    assert.deepEqual(b.rows.sort(), a.rows.filter((x) => !lost.has(x)).sort());
    const diag = b.r.diagnostics;
    assert.equal(diag.get('ipv4.datagrams-reassembled'), 11, diag.summary());
    assert.equal(diag.get('ip.reassembly-unfinished-at-end'), 1);
    assert.equal(diag.get('udp.fragments-skipped'), 2, 'the two fragments of datagram 7');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
