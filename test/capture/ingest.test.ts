/** pcap/pcapng through the real ingest path into a DuckDB store. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/flow/all-formats.js';
import { ingestFile } from '../../src/flow/ingest.js';
import { openFlowStore } from '../../src/store/open.js';

test('ingest stores capture flows with counts, positions and problems', async () => {
  const store = await openFlowStore(':memory:');
  try {
    const r = await ingestFile('test/fixtures/pcap/ndpi/bitcoin.pcap', { store, payloadCap: 64 });
    assert.equal(r.kind, 'pcap');
    assert.equal(r.error, undefined);
    // 20 connections; the long ones are cut into 5-minute pieces (the active timeout): 26 flows.
    assert.equal(r.flows, 26);
    assert.equal(r.diagnostics.get('flows.ended-active'), 6);
    assert.equal(r.diagnostics.get('packets.read'), 529);
    const rows = await store.flows({ where: 'dport = 8333', limit: 100, orderBy: 'position' });
    assert.equal(rows.length, 26);
    assert.equal(
      rows.reduce((a, f) => a + Number(f.packets) + Number(f.rev_packets), 0),
      529,
    );
    assert.equal(
      rows.reduce((a, f) => a + Number(f.bytes) + Number(f.rev_bytes), 0),
      419_138,
    );
    assert.equal(Number(rows[0].position), 24, 'first flow starts at the first record');
    assert.ok(rows.every((f) => f.src === '192.168.1.142'));

    // A cut-off copy: flows before the cut are stored, the problem is reported with its offset.
    const dir = mkdtempSync(join(tmpdir(), 'coinradar-ingest-'));
    const cut = join(dir, 'cut.pcap');
    const whole = readFileSync('test/fixtures/pcap/ndpi/bitcoin.pcap');
    writeFileSync(cut, whole.subarray(0, 200_000));
    const c = await ingestFile(cut, { store });
    assert.equal(c.error, undefined);
    assert.ok(c.flows > 0);
    assert.equal(c.diagnostics.get('problem.truncated-record'), 1);
    assert.ok(c.diagnostics.problems[0].offset < 200_000 && c.diagnostics.problems[0].offset > 198_000);

    // Not a capture: no reader claims it.
    const junk = join(dir, 'junk.pcap');
    writeFileSync(junk, Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    const j = await ingestFile(junk, { store });
    assert.match(j.error ?? '', /junk\.pcap:0: unknown-format/);
    rmSync(dir, { recursive: true, force: true });
  } finally {
    await store.close();
  }
});
