/**
 * Detections stored beside their flows: the ingest hook, idempotent re-ingest, `detect --db` re-runs,
 * the detections / artifacts queries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import { emptyEnrichment } from '../../src/flow/enrichment.js';
import { FlowBatch, type FlowRecord } from '../../src/flow/record.js';
import { openFlowStore } from '../../src/store/open.js';
import { openDetectionStore } from '../../src/store/detections.js';
import type { FlowStore } from '../../src/store/store.js';
import { createDetectionHook } from '../../src/detect/hook.js';
import { loadInfrastructure } from '../../src/detect/infrastructure.js';
import { createDetector } from '../../src/detect/registry.js';
import { redetectStore } from '../../src/detect/rerun.js';
import { behaviourPass } from '../../src/detect/behaviour-pass.js';
import { haveTshark, tsharkFlows } from './tshark-flows.js';

const skip = haveTshark() ? false : 'tshark not installed';

/** Store flows as ingestFile does: one source, batches, hooks after each append. */
async function ingestFlows(
  store: FlowStore,
  name: string,
  flows: FlowRecord[],
  hook?: ReturnType<typeof createDetectionHook>['hook'],
) {
  const w = await store.beginSource({ name, kind: 'pcapng', fingerprint: `fp:${name}` });
  for (let i = 0; i < flows.length; i += 3) {
    const b = new FlowBatch(3, name);
    for (const f of flows.slice(i, i + 3)) b.pushRecord(f);
    const e = emptyEnrichment(b.length);
    const first = await w.append(b, e);
    if (hook) await hook(b, e, first);
  }
  await w.commit(new Diagnostics());
}

test(
  'ingest hook stores detections; re-ingest and detect --db replace them, never double',
  { skip },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cr-detect-'));
    try {
      const store = await openFlowStore(join(dir, 'db.duckdb'));
      const det = await openDetectionStore(store);
      const detector = createDetector(loadInfrastructure());
      const mining = tsharkFlows('test/fixtures/pcap/ndpi/mining.pcapng');
      const bitcoin = tsharkFlows('test/fixtures/pcap/ndpi/bitcoin.pcap');
      for (let round = 0; round < 2; round++) {
        await ingestFlows(store, 'mining.pcapng', mining, createDetectionHook(det, detector).hook);
        await ingestFlows(store, 'bitcoin.pcap', bitcoin, createDetectionHook(det, detector).hook);
      }
      const count = async () => (await det.detections({ minRank: 4 })).length;
      assert.equal(await count(), 10); // 4 Stratum + 6 Bitcoin, once each
      const before = JSON.stringify(await det.counts());
      const r = await redetectStore(store, det, detector);
      assert.equal(r.flows, 10);
      assert.equal(JSON.stringify(await det.counts()), before);

      const rows = await det.detections({ minRank: 4, label: 'stratum' });
      assert.equal(rows.length, 4);
      const zec = rows.find((x) => x.sport === 46838)!;
      assert.equal(zec.dst, '94.23.199.191');
      assert.equal(zec.dport, 3333);
      assert.equal(zec.coin, 'ZEC');
      assert.equal(zec.confidence, 'payload');
      assert.equal(zec.source, 'mining.pcapng');
      assert.deepEqual(
        zec.artifacts.find((a) => a.kind === 'wallet'),
        { kind: 'wallet', value: 't1fAhZF5aUJdY7CikGULHmeYk7id8qmvbAd' },
      );
      // infrastructure: the catalogue knows the Flypool server and says which list version
      const infra = await det.detections({
        minRank: 3,
        where: 'd.confidence_rank = 3 AND f.dst_port = 3333',
      });
      assert.ok(infra.length >= 1);
      assert.equal(infra[0].list_version, 'mining-servers-2018-05@2018-05-13');

      const wallets = await det.artifacts({ kind: 'wallet' });
      assert.deepEqual(wallets.map((w) => w.value).sort(), [
        '0x9c99d212f7e5daa18ab50810e0fd255d1f04303b',
        '4BCeEPhodgPMbPWFN1dPwhWXdRX8q4mhhdZdA1dtSMLTLCEYvAj9QXjXAfF7CugEbmfBhgkqHbdgK9b2wKA6nqRZQCgvCDm',
        't1fAhZF5aUJdY7CikGULHmeYk7id8qmvbAd',
        't1fJuHWrfcWnYMYyP9VAF96vRnvND2NziMG',
      ]);
      const w = wallets.find((x) => x.value.startsWith('t1fA'))!;
      assert.equal(w.hosts, '192.168.2.148');
      assert.equal(w.flows, 1);
      assert.match(w.first, /^20\d\d-\d\d-\d\dT/);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('a user list marks a flow infrastructure with its version; bad lines are reported with their line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-list-'));
  try {
    const path = join(dir, 'dprk.csv');
    writeFileSync(
      path,
      '# version: 2017-05-17\nvalue,label,coin,port,name\n175.45.176.0/22,pool-endpoint,,,Star JV block\nnot-a-label-line,bogus\n',
    );
    const problems: string[] = [];
    const infra = loadInfrastructure([path], (m) => problems.push(m));
    assert.equal(problems.length, 1);
    assert.match(problems[0], /dprk\.csv: line 4: /);
    const hit = infra.lookupIpText('175.45.177.9', 3333);
    assert.equal(hit[0].name, 'Star JV block');
    assert.equal(hit[0].listVersion, 'dprk.csv@2017-05-17');
    assert.deepEqual(infra.lookupIpText('175.45.180.1', 3333), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('detect --db runs the behaviour pass: a payload-less miner-shaped session is found, background is not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-beh-'));
  try {
    const store = await openFlowStore(join(dir, 'db.duckdb'));
    const det = await openDetectionStore(store);
    const t0 = Date.UTC(2017, 4, 17, 12);
    const recs: FlowRecord[] = [];
    const base = {
      ipVersion: 4 as const,
      proto: 6,
      revPackets: 0,
      revBytes: 0,
      samplingRate: 1,
      exporter: '10.0.0.254',
      observationDomain: 0,
      source: 'nf',
      position: 0,
      payloadFwd: null,
      payloadRev: null,
    };
    // One-way NetFlow records of one long Stratum session cut by a 60 s active timeout: shares
    // up (~100-byte packets), the pool's jobs down (~250-byte packets), ACK+PSH.
    for (let k = 0; k < 50; k++) {
      recs.push({
        ...base,
        firstMs: t0 + k * 60000,
        lastMs: t0 + k * 60000 + 59000,
        src: '175.45.176.10',
        dst: '198.51.100.7',
        srcPort: 50123,
        dstPort: 7777,
        packets: 12,
        bytes: 1250,
        tcpFlags: k === 0 ? 0x1a : 0x18,
      });
      recs.push({
        ...base,
        firstMs: t0 + k * 60000 + 200,
        lastMs: t0 + k * 60000 + 58000,
        src: '198.51.100.7',
        dst: '175.45.176.10',
        srcPort: 7777,
        dstPort: 50123,
        packets: 10,
        bytes: 2500,
        tcpFlags: k === 0 ? 0x1a : 0x18,
      });
    }
    // Web browsing: short connections with SYN and FIN, big packets.
    for (let k = 0; k < 50; k++) {
      recs.push({
        ...base,
        firstMs: t0 + k * 30000,
        lastMs: t0 + k * 30000 + 2000,
        src: '175.45.176.11',
        dst: '203.0.113.5',
        srcPort: 40000 + k,
        dstPort: 443,
        packets: 40,
        bytes: 48000,
        tcpFlags: 0x1b,
      });
    }
    await ingestFlows(store, 'netflow', recs);
    const detector = createDetector(null);
    await redetectStore(store, det, detector, { after: () => behaviourPass(det, detector.version) });
    const rows = await det.detections({ label: 'mining-behaviour' });
    assert.equal(rows.length, 100);
    assert.ok(rows.every((r) => [r.src, r.dst].includes('198.51.100.7') && r.confidence === 'behaviour'));
    assert.equal(rows[0].evidence.group, '175.45.176.10 -> 198.51.100.7:7777');
    // a second run replaces, never doubles
    await redetectStore(store, det, detector, { after: () => behaviourPass(det, detector.version) });
    assert.equal((await det.detections({ label: 'mining-behaviour' })).length, 100);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
