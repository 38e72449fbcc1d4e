import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import { emptyEnrichment } from '../../src/flow/enrichment.js';
import { FlowBatch, type FlowRecord } from '../../src/flow/record.js';
import { openFlowStore } from '../../src/store/open.js';

function flow(i: number, over: Partial<FlowRecord> = {}): FlowRecord {
  return {
    firstMs: Date.UTC(2017, 4, 17, 0, 0, i),
    lastMs: Date.UTC(2017, 4, 17, 0, 1, i),
    ipVersion: 4,
    src: `175.45.176.${i % 250}`,
    dst: '8.8.8.8',
    srcPort: 40000 + i,
    dstPort: 8333,
    proto: 6,
    packets: 10,
    bytes: 1000,
    revPackets: 5,
    revBytes: 500,
    tcpFlags: 0x1b,
    samplingRate: 1,
    exporter: '',
    observationDomain: 0,
    source: 't',
    position: i,
    payloadFwd: i === 0 ? Buffer.from([0xf9, 0xbe, 0xb4, 0xd9]) : null,
    payloadRev: null,
    ...over,
  };
}

function batchOf(n: number, start = 0): FlowBatch {
  const b = new FlowBatch(n);
  for (let i = 0; i < n; i++) b.pushRecord(flow(start + i));
  return b;
}

test('flows stored, read back, summarised; re-ingest with the same fingerprint does not double count', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-store-'));
  try {
    const path = join(dir, 'db.duckdb');
    let store = await openFlowStore(path);
    for (let round = 0; round < 2; round++) {
      const w = await store.beginSource({ name: 'a.pcap', kind: 'pcap', fingerprint: 'fp-a' });
      const e = emptyEnrichment(3);
      e.srcCountry.fill('KP');
      e.srcAsn.fill(131279);
      e.asOrgs.set(131279, 'Ryugyong-dong');
      await w.append(batchOf(3), e);
      await w.commit(new Diagnostics());
    }
    const rows = await store.flows({});
    assert.equal(rows.length, 3);
    assert.equal(rows[0].first, '2017-05-17T00:00:00.000Z');
    assert.equal(rows[0].dport, 8333);
    assert.equal(rows[0].src_country, 'KP');
    assert.equal(rows[0].source, 'a.pcap');
    const pl = await store.payloads([rows[0].id]);
    assert.deepEqual(pl.get(rows[0].id)?.fwd, Buffer.from([0xf9, 0xbe, 0xb4, 0xd9]));
    const s = await store.summary();
    assert.equal(s.total.flows, 3);
    assert.equal(s.total.packets, 45);
    assert.equal(s.byAsn.find((r) => r.key === 'AS131279')?.label, 'Ryugyong-dong');
    assert.equal(s.byPort[0].key, 'tcp/8333');
    await store.close();
    // Reopen: ids continue, a filtered query works.
    store = await openFlowStore(path);
    const w = await store.beginSource({ name: 'b.pcap', kind: 'pcap', fingerprint: 'fp-b' });
    const first = await w.append(batchOf(2, 10), emptyEnrichment(2));
    await w.commit(new Diagnostics());
    assert.ok(first > rows[2].id);
    assert.equal((await store.flows({ where: "source = 'b.pcap'" })).length, 2);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an aborted ingest leaves nothing behind', async () => {
  const store = await openFlowStore(':memory:');
  const w = await store.beginSource({ name: 'c', kind: 'pcap', fingerprint: 'fp-c' });
  await w.append(batchOf(5), emptyEnrichment(5));
  await w.abort();
  assert.equal((await store.flows({})).length, 0);
  assert.equal((await store.sources()).length, 0);
  await store.close();
});
