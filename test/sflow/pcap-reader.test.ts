// Format 'sflow-pcap': captures of sFlow datagrams are recognised (and no ordinary capture or
// capture of NetFlow is), samples take the packet's capture time, and a bad datagram is reported
// at its packet's file offset while the rest of the file is read. The exporter is the agent address
// in the datagram, not the UDP source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/flow/all-formats.js';
import { detectFormat } from '../../src/flow/formats.js';
import { ingestFile, readHead } from '../../src/flow/ingest.js';
import { benchSflowStream, flowSample, rawHeaderRecord, sflowDatagram } from '../../src/sflow/encode.js';
import { sniffSflowCapture } from '../../src/sflow/pcap-reader.js';
import { openFlowStore } from '../../src/store/open.js';
import { ether, ipv4, pcapFile, udpFragments4 } from '../capture/synth.js';
import { captureFixtures } from '../netflow/peers.js';

test('sniffing: no ordinary capture fixture and no capture of NetFlow export is sflow-pcap', () => {
  const files = [
    ...captureFixtures(),
    'test/fixtures/netflow/softflowd-v5-gnutella.pcap',
    'test/fixtures/netflow/softflowd-v9-bitcoin.pcapng',
  ];
  assert.ok(files.length >= 10);
  for (const f of files) assert.equal(sniffSflowCapture(readHead(f)), false, f);
});

test('a capture of sFlow datagrams: flows at capture time, a bad datagram located by file offset', async () => {
  const inner = ipv4('10.9.8.7', '10.1.2.3', { proto: 6, sport: 50000, dport: 3333, flags: 2 });
  const good = sflowDatagram([flowSample([rawHeaderRecord(inner, inner.length, 11, 0)], { rate: 16 })]);
  const bad = Buffer.from(good);
  bad.writeUInt32BE(0xffff, bad.length - inner.length - 16 - 4); // the record's length
  const wrap = (d: Buffer) =>
    ether(ipv4('198.51.100.1', '198.51.100.2', { proto: 17, sport: 40000, dport: 6343, payload: d }));
  const packets = [good, bad, good].map((d, k) => ({ tsMs: 1_600_000_000_000 + k * 1000, data: wrap(d) }));
  const dir = mkdtempSync(join(tmpdir(), 'cr-sflow-pcap-'));
  const store = await openFlowStore(':memory:');
  try {
    const path = join(dir, 'sflow.pcap');
    writeFileSync(path, pcapFile(packets));
    assert.equal(detectFormat(readHead(path))?.kind, 'sflow-pcap');
    const r = await ingestFile(path, { store });
    const rows = await store.flows({});
    assert.equal(rows.length, 2);
    assert.deepEqual(
      rows.map((f) => [f.src, f.dst, f.sport, f.dport, f.packets, f.bytes, f.sampling_rate, f.exporter]),
      [
        ['10.9.8.7', '10.1.2.3', 50000, 3333, 1, inner.length, 16, '192.0.2.1'],
        ['10.9.8.7', '10.1.2.3', 50000, 3333, 1, inner.length, 16, '192.0.2.1'],
      ],
    );
    assert.deepEqual(
      rows.map((f) => new Date(f.first).getTime()),
      [1_600_000_000_000, 1_600_000_002_000],
    );
    const p = r.diagnostics.problems.find((x) => x.kind === 'truncated-record');
    assert.ok(p, r.diagnostics.summary());
    // The second packet's record starts after the 24-byte file header and the first 16+len record.
    assert.equal(p.offset, 24 + 16 + packets[0].data.length);
    assert.equal(p.unit, 'byte');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sFlow datagrams larger than the MTU, captured as IP fragments: reassembled and read as whole ones', async () => {
  // 8 datagrams of 20 samples (~4 KB: three fragments each), the odd ones' fragments last first.
  const datagrams = benchSflowStream(8, 20);
  const l4 = (payload: Buffer) => ({ sport: 40000, dport: 6343, payload });
  const at = (k: number) => 1_600_000_000_000 + k * 1000;
  const whole = datagrams.map((d, k) => ({
    tsMs: at(k),
    data: ether(ipv4('198.51.100.1', '198.51.100.2', { proto: 17, ...l4(d) })),
  }));
  const fragmented = datagrams.flatMap((d, k) => {
    const frags = udpFragments4('198.51.100.1', '198.51.100.2', l4(d), 500 + k);
    assert.ok(frags.length >= 3, `${frags.length} fragments`);
    return (k % 2 ? frags.reverse() : frags).map((f) => ({ tsMs: at(k), data: ether(f) }));
  });
  const dir = mkdtempSync(join(tmpdir(), 'cr-sflow-frag-'));
  try {
    const rowsOf = async (name: string, packets: { tsMs: number; data: Buffer }[]) => {
      const path = join(dir, name);
      writeFileSync(path, pcapFile(packets));
      assert.equal(detectFormat(readHead(path))?.kind, 'sflow-pcap', name);
      const store = await openFlowStore(':memory:');
      try {
        const r = await ingestFile(path, { store });
        const rows = (await store.flows({})).map((f) =>
          [f.src, f.dst, f.sport, f.dport, f.packets, f.bytes, new Date(f.first).getTime()].join(' '),
        );
        return { r, rows };
      } finally {
        await store.close();
      }
    };
    const a = await rowsOf('whole.pcap', whole);
    const b = await rowsOf('fragmented.pcap', fragmented);
    assert.ok(a.rows.length > 0);
    assert.deepEqual(b.rows.sort(), a.rows.sort());
    assert.equal(b.r.diagnostics.get('ipv4.datagrams-reassembled'), 8, b.r.diagnostics.summary());
    assert.equal(b.r.diagnostics.get('udp.fragments-skipped'), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
