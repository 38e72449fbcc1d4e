// Features are computed the same way whatever the telemetry: a session cut into records by a
// capture's flow table, NetFlow v5 (one-way), bidirectional IPFIX or Zeek gives the same features,
// sampled counters are scaled back; the streaming tracker keeps groups across batches within
// bounds; and the model is wired into the ingest hook and the store pass with its evidence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/flow/all-formats.js';
import { FlowBatch } from '../../src/flow/record.js';
import { ingestFile } from '../../src/flow/ingest.js';
import { openFlowStore } from '../../src/store/open.js';
import { openDetectionStore } from '../../src/store/detections.js';
import { createDetector } from '../../src/detect/registry.js';
import { createDetectionHook } from '../../src/detect/hook.js';
import { behaviourPass } from '../../src/detect/behaviour-pass.js';
import { redetectStore } from '../../src/detect/rerun.js';
import {
  FEATURE_COUNT,
  FEATURE_NAMES,
  RecordLog,
  featuresOf,
  gateSummary,
} from '../../src/detect/classifier/features.js';
import { GroupCollector, windowSamples } from '../../src/detect/classifier/groups.js';
import { BehaviourTracker } from '../../src/detect/classifier/tracker.js';
import { shippedModel } from '../../src/detect/classifier/model.js';
import { batchesOf, recordsOf, session, SYNTH_FORMATS } from '../../src/detect/classifier/synth.js';
import { Rng } from '../../src/scenario/rng.js';

const T0 = Date.UTC(2025, 5, 2, 10);

function conn(port: number, minutes: number) {
  const ex = [];
  for (let t = T0 + 5000; t < T0 + minutes * 60_000; t += 30_000)
    ex.push({ t, up: false, bytes: 700 }, { t: t + 9000, up: true, bytes: 200 });
  return session(
    { client: '10.9.8.7', server: '192.0.2.1', clientPort: port, serverPort: 3333 },
    T0,
    T0 + minutes * 60_000,
    ex,
    true,
  );
}

function features(batches: FlowBatch[]) {
  const c = new GroupCollector();
  for (const b of batches) c.add(b, (i) => i);
  assert.equal(c.groups.size, 1, 'one (client, server, port) group');
  const w = windowSamples([...c.groups.values()][0]);
  assert.equal(w.length, 1);
  return w[0];
}

const DISPERSION = FEATURE_NAMES.indexOf('recordCountDispersion');

test('a session gives the same features as pcap flows, NetFlow v5, IPFIX biflow and Zeek', () => {
  const c = conn(50000, 40);
  const counts = SYNTH_FORMATS.map((f) => recordsOf(c, f).length);
  // The formats really do cut it differently (1 zeek row, 8 pcap flows, 16 v5 and 40 IPFIX records).
  assert.equal(new Set(counts).size, counts.length, `record counts differ: ${counts}`);
  const base = features(batchesOf([c], 'pcap'));
  assert.equal(base.connections, 1);
  for (const f of SYNTH_FORMATS) {
    const x = features(batchesOf([c], f));
    for (let k = 0; k < FEATURE_COUNT; k++)
      if (k !== DISPERSION)
        assert.ok(
          Math.abs(x.features[k] - base.features[k]) < 1e-9,
          `${f} ${FEATURE_NAMES[k]}: ${x.features[k]} vs ${base.features[k]}`,
        );
  }
  // The one feature that needs records cut short (the count of packets in each of them): only the
  // forms that cut a 40-minute session into enough records have it (a capture's flow table and
  // NetFlow, not Zeek's one row), and there it says "on a clock".
  const dispersion = Object.fromEntries(
    SYNTH_FORMATS.map((f) => [f, features(batchesOf([c], f)).features[DISPERSION]]),
  );
  assert.equal(dispersion.zeek, -1);
  assert.ok(dispersion.pcap >= 0 && dispersion.pcap < 0.2, JSON.stringify(dispersion));
  assert.ok(dispersion['netflow-v5'] >= 0 && dispersion['netflow-v5'] < 0.2, JSON.stringify(dispersion));
  assert.ok(dispersion['ipfix-biflow'] >= 0 && dispersion['ipfix-biflow'] < 0.2, JSON.stringify(dispersion));
});

test('record dispersion: near 0 for a clock, near 1 for shares found at random', () => {
  // The same mean rate (a share every 10 s, its result and the ACKs), on a clock and at random.
  const rng = new Rng(7);
  const clock = [];
  const random = [];
  for (let t = T0 + 5000; t < T0 + 60 * 60_000; t += 10_000) clock.push({ t, up: true, bytes: 200 });
  for (let t = T0 + 5000; t < T0 + 60 * 60_000; t += rng.exponential(1 / 10_000))
    random.push({ t, up: true, bytes: 200 });
  const at = (ex: { t: number; up: boolean; bytes: number }[], port: number) =>
    session(
      { client: '10.9.8.7', server: '192.0.2.1', clientPort: port, serverPort: 3333 },
      T0,
      T0 + 3_599_000,
      ex,
      false,
    );
  for (const f of ['netflow-v5', 'ipfix-biflow'] as const) {
    const onClock = features(batchesOf([at(clock, 50010)], f)).features[DISPERSION];
    const atRandom = features(batchesOf([at(random, 50011)], f)).features[DISPERSION];
    assert.ok(onClock >= 0 && onClock < 0.2, `${f} clock ${onClock}`);
    // Shares up and their ACKs down are each a Poisson count: index 1 (± about 0.2 over an hour).
    assert.ok(atRandom > 0.5 && atRandom < 2, `${f} random ${atRandom}`);
  }
});

test('record dispersion counts a short last record by its length: a clock stays near 0', () => {
  // A ping every 3 s for 58 min: cut every 5 min, eleven full records and a last one of ~181 s
  // (the OpenVPN window behaviour-gbt/3 called mining with score 1.00 had this shape).
  const ex = [];
  for (let t = T0 + 5000; t < T0 + 3_481_000; t += 3000) ex.push({ t, up: true, bytes: 120 });
  const c = session(
    { client: '10.9.8.7', server: '192.0.2.1', clientPort: 50030, serverPort: 443 },
    T0,
    T0 + 3_481_000,
    ex,
    false,
  );
  const recs = recordsOf(c, 'pcap');
  const last = recs[recs.length - 1];
  assert.ok(recs.length === 12 && last.lastMs - last.firstMs < 200_000, `${recs.length} records`);
  // The plain variance over the mean of the packets up (what behaviour-gbt/3 took) reads the short
  // record as a burst; counted by length, the clock is a clock.
  const k = recs.map((r) => r.packets);
  const mean = k.reduce((a, x) => a + x, 0) / k.length;
  const plain = k.reduce((a, x) => a + (x - mean) ** 2, 0) / (k.length - 1) / mean;
  assert.ok(plain > 1, `plain index ${plain}`);
  const index = features(batchesOf([c], 'pcap')).features[DISPERSION];
  assert.ok(index >= 0 && index < 0.2, `index ${index}`);
});

test('sampled counters are scaled by the sampling rate', () => {
  const b = batchesOf([conn(50001, 30)], 'ipfix-biflow')[0];
  const s = new FlowBatch(b.length);
  for (let i = 0; i < b.length; i++) {
    const r = s.push();
    s.firstMs[r] = b.firstMs[i];
    s.lastMs[r] = b.lastMs[i];
    s.ipVersion[r] = 4;
    s.src.set(b.src.subarray(i * 16, i * 16 + 16), r * 16);
    s.dst.set(b.dst.subarray(i * 16, i * 16 + 16), r * 16);
    s.srcPort[r] = b.srcPort[i];
    s.dstPort[r] = b.dstPort[i];
    s.proto[r] = 6;
    // 1:10 sampling as exported: a tenth of the counters (exact here to compare exactly).
    s.packets[r] = b.packets[i] / 10;
    s.bytes[r] = b.bytes[i] / 10;
    s.revPackets[r] = b.revPackets[i] / 10;
    s.revBytes[r] = b.revBytes[i] / 10;
    s.tcpFlags[r] = b.tcpFlags[i];
    s.samplingRate[r] = 10;
  }
  const a = features([b]);
  const z = features([s]);
  for (let k = 0; k < FEATURE_COUNT; k++)
    if (k !== DISPERSION) assert.ok(Math.abs(a.features[k] - z.features[k]) < 1e-9, FEATURE_NAMES[k]);
  // Thinning pulls every index of dispersion towards 1: sampled records do not give it.
  assert.ok(a.features[DISPERSION] >= 0, `unsampled: ${a.features[DISPERSION]}`);
  assert.equal(z.features[DISPERSION], -1);
});

test('the tracker keeps groups across batches, within its bounds', () => {
  const model = shippedModel();
  const t = new BehaviourTracker(model, { maxGroups: 100, maxRecordsPerGroup: 8, maxRecords: 1000 });
  const b = new FlowBatch(1000);
  for (let k = 0; k < 1000; k++) {
    b.pushRecord({
      ...recordsOf(conn(40000 + k, 1), 'zeek')[0],
      src: `10.0.${k >> 8}.${k & 255}`,
    });
  }
  t.batch(b);
  assert.equal(t.size, 100);
  assert.equal(t.evicted, 900);
  assert.equal(t.records, 100);
  // Few groups with many records: the per-group and the total bounds hold.
  const r = new BehaviourTracker(model, { maxGroups: 1000, maxRecordsPerGroup: 8, maxRecords: 50 });
  for (let g = 0; g < 20; g++) {
    const many = new FlowBatch(40);
    for (let k = 0; k < 40; k++)
      many.pushRecord({
        ...recordsOf(conn(40000 + k, 1), 'zeek')[0],
        src: `10.1.0.${g}`,
        firstMs: T0 + k * 1000,
        lastMs: T0 + k * 1000 + 500,
      });
    r.batch(many);
    assert.ok(r.records <= 50, `total records ${r.records}`);
  }
  assert.ok(r.size <= 7 && r.evicted >= 13, `groups ${r.size}, evicted ${r.evicted}`);
  // One session fed one IPFIX record per batch: found once the window holds enough of it.
  const miner = new BehaviourTracker(model);
  const hits: number[] = [];
  batchesOf([conn(50002, 60)], 'ipfix-biflow', 1).forEach((one, n) => {
    if (miner.batch(one).length) hits.push(n);
  });
  assert.ok(hits.length > 0, 'found across batches');
  assert.ok(hits[0] >= 2, `not before the gate's two minutes (first at record ${hits[0]})`);
});

test('ingest hook and store pass: a real miner capture without payload → mining-behaviour with evidence', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-cls-'));
  try {
    const store = await openFlowStore(join(dir, 'db.duckdb'));
    const det = await openDetectionStore(store);
    // No lists: the pool's address is in the 2018 catalogue and would (rightly) take precedence.
    const detector = createDetector(null);
    const h = createDetectionHook(det, detector);
    // The Stratum sessions of ndpi's mining.pcapng (18–19 min each), payload stripped as
    // `ingest --payload-bytes 0` does. The model was trained on this capture: this checks wiring.
    const r = await ingestFile('test/fixtures/pcap/ndpi/mining.pcapng', {
      store,
      hooks: [h.hook],
      payloadCap: 0,
    });
    assert.equal(r.error, undefined);
    const rows = await det.detections({ label: 'mining-behaviour' });
    const groups = new Set(rows.map((x) => String(x.evidence.group)));
    assert.ok(groups.has('192.168.2.148 -> 94.23.199.191:3333'), [...groups].join(', '));
    for (const x of rows) {
      assert.equal(x.confidence, 'behaviour');
      assert.equal(x.evidence.rule, 'behaviour.model');
      assert.ok(Number(x.evidence.score) >= Number(x.evidence.threshold));
      assert.equal((x.evidence.top as unknown[]).length, 4);
      assert.ok(String(x.evidence.window).endsWith('(sliding)'));
    }
    // The store pass (coinradar detect) reaches the same groups from the stored flows.
    let n = 0;
    await redetectStore(store, det, detector, {
      after: async () => (n = await behaviourPass(det, detector.version)),
    });
    assert.ok(n > 0);
    const again = await det.detections({ label: 'mining-behaviour' });
    const tumbling = again.filter((x) => String(x.evidence.window).endsWith('(tumbling)'));
    assert.ok(tumbling.some((x) => x.evidence.group === '192.168.2.148 -> 94.23.199.191:3333'));
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the gate summary equals featuresOf’s span and packets to the bit (the tracker gates on it first)', () => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const x = new Float64Array(FEATURE_COUNT);
  for (let k = 0; k < 500; k++) {
    const log = new RecordLog();
    const n = Math.floor(rnd() * 40);
    for (let r = 0; r < n; r++) {
      const t0 = T0 + Math.floor(rnd() * 3_600_000) + rnd();
      log.add(
        t0,
        t0 + rnd() * 600_000,
        rnd() * 1e6,
        rnd() * 1e9,
        rnd() * 1e6,
        rnd() * 1e9,
        24,
        40000 + (r % 7),
      );
    }
    const want = featuresOf(log, -Infinity, Infinity, x);
    const got = gateSummary(log);
    assert.equal(got.spanMs, want.spanMs);
    assert.equal(got.packets, want.packets);
  }
});
