// The behaviour tracker without strings or objects per flow (group-table.ts, record-chains.ts,
// tracker.ts) against the tracker it replaced, kept here verbatim as the reference: the same
// groups, the same features to the bit, the same verdicts on the same rows when every group is
// judged every batch; what judging at most once per 30 s of stream time changes; the keyed hash
// against the reference HalfSipHash vectors; the table's bookkeeping against a Map.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlowBatch, type FlowRecord } from '../../src/flow/record.js';
import {
  FEATURE_COUNT,
  featuresOf,
  gateSummary,
  orient,
  serverPortOf,
  RecordLog,
} from '../../src/detect/classifier/features.js';
import { collectGroups } from '../../src/detect/classifier/groups.js';
import {
  gated,
  judge,
  judgesPort,
  shippedModel,
  type BehaviourModel,
} from '../../src/detect/classifier/model.js';
import { readBatches } from '../../src/detect/classifier/dataset.js';
import { minerBatches, minerConnections } from '../../src/detect/classifier/miners.js';
import { recordsOf, session } from '../../src/detect/classifier/synth.js';
import { halfSipHash } from '../../src/detect/classifier/keyed-hash.js';
import { GroupTable } from '../../src/detect/classifier/group-table.js';
import { RecordChains } from '../../src/detect/classifier/record-chains.js';
import {
  BehaviourTracker,
  DEFAULT_TRACKER_LIMITS,
  type TrackedVerdict,
  type TrackerLimits,
} from '../../src/detect/classifier/tracker.js';
import { buildWorld, defaultConfig } from '../../src/scenario/world.js';
import { createDetectionHook } from '../../src/detect/hook.js';
import { createDetector } from '../../src/detect/registry.js';
import { openFlowStore } from '../../src/store/open.js';
import { openDetectionStore } from '../../src/store/detections.js';
import { ingestFile } from '../../src/flow/ingest.js';
import '../../src/flow/all-formats.js';
import { flowBatches } from '../../src/scenario/generate.js';

/**
 * The tracker as it was before (main at 2f59bf6), kept as the reference for the new one; since
 * 2026-12-07 it leaves out the server ports the model does not judge, as the tracker does.
 */
class ReferenceTracker {
  private readonly groups = new Map<string, RecordLog>();
  evicted = 0;
  records = 0;
  private readonly x = new Float64Array(FEATURE_COUNT);
  constructor(
    readonly model: BehaviourModel,
    readonly limits: TrackerLimits,
  ) {}
  get size(): number {
    return this.groups.size;
  }
  batch(b: FlowBatch, skip: (row: number) => boolean = () => false): [number, TrackedVerdict][] {
    const touched = new Map<string, number[]>();
    for (let i = 0; i < b.length; i++) {
      if (b.proto[i] !== 6) continue;
      const o = orient(b, i);
      if (!judgesPort(this.model, serverPortOf(o.key))) continue;
      let log = this.groups.get(o.key);
      if (log) this.groups.delete(o.key);
      else log = new RecordLog();
      this.groups.set(o.key, log);
      log.addRow(b, i, o.up, o.clientPort);
      this.records++;
      let rows = touched.get(o.key);
      if (!rows) touched.set(o.key, (rows = []));
      rows.push(i);
    }
    const out: [number, TrackedVerdict][] = [];
    const win = this.model.windowMs;
    for (const key of touched.keys()) {
      const log = this.groups.get(key)!;
      const before = log.length;
      log.dropBefore(log.lastMs - win);
      log.keepLast(this.limits.maxRecordsPerGroup);
      this.records -= before - log.length;
    }
    const oldestFirst = this.groups.keys();
    while (this.groups.size > this.limits.maxGroups || this.records > this.limits.maxRecords) {
      const oldest = oldestFirst.next().value!;
      this.records -= this.groups.get(oldest)!.length;
      this.groups.delete(oldest);
      touched.delete(oldest);
      this.evicted++;
    }
    for (const [key, rows] of touched) {
      const log = this.groups.get(key)!;
      const g = gateSummary(log);
      if (!gated(this.model, g.spanMs, g.packets)) continue;
      const s = featuresOf(log, -Infinity, Infinity, this.x);
      if (!gated(this.model, s.spanMs, s.packets)) continue;
      const v = judge(this.model, this.x);
      if (!v.mining) continue;
      const tv: TrackedVerdict = {
        ...v,
        key,
        features: Float64Array.from(this.x),
        ...s,
        windowFromMs: log.firstMs,
      };
      for (const i of rows) if (!skip(i)) out.push([i, tv]);
    }
    return out;
  }
}

const KEY = new Uint32Array([0x01234567, 0x89abcdef]);
const model = shippedModel();

/** Same bits (NaN equal to NaN, +0 not equal to -0): Object.is per number. */
function sameBits(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.equal(a.length, b.length, what);
  for (let k = 0; k < a.length; k++) assert.ok(Object.is(a[k], b[k]), `${what}[${k}]: ${a[k]} vs ${b[k]}`);
}

/** Re-cut batches into batches of `size` rows (the hook sees whatever the reader hands it). */
function rebatch(batches: FlowBatch[], size: number): FlowBatch[] {
  const out: FlowBatch[] = [];
  let cur = new FlowBatch(size, 'test');
  for (const b of batches)
    for (const r of b.records()) {
      if (cur.full) {
        out.push(cur);
        cur = new FlowBatch(size, 'test');
      }
      cur.pushRecord(r);
    }
  if (cur.length) out.push(cur);
  return out;
}

const T0 = Date.UTC(2025, 5, 2, 10);

/** A Stratum-like session: jobs down every 30 s, shares up, for `minutes`. */
function stratumLike(client: string, server: string, port: number, minutes: number, start = T0) {
  const ex = [];
  for (let t = start + 5000; t < start + minutes * 60_000; t += 30_000)
    ex.push({ t, up: false, bytes: 700 }, { t: t + 9000, up: true, bytes: 200 });
  return session(
    { client, server, clientPort: port, serverPort: 3333 },
    start,
    start + minutes * 60_000,
    ex,
    true,
  );
}

/**
 * Hostile and odd rows: IPv6 (mapped and not), equal ports both ways, one-way records, sampling,
 * out-of-order time jumps, a few NaN and infinite times, many groups per batch — seeded.
 */
function oddBatches(n: number, seed: number): FlowBatch[] {
  let s = seed;
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const recs: FlowRecord[] = [];
  const v4 = (k: number) => `10.${k % 3}.${(k * 7) % 5}.${k % 11}`;
  const v6 = (k: number) => [`2001:db8::${k % 7}`, `::ffff:10.0.0.${k % 5}`, `fe80::1:${k % 3}`][k % 3];
  for (let k = 0; k < n; k++) {
    const six = rnd() < 0.3;
    const a = six ? v6(Math.floor(rnd() * 40)) : v4(Math.floor(rnd() * 40));
    const z = six ? v6(Math.floor(rnd() * 40)) : v4(Math.floor(rnd() * 40));
    const equal = rnd() < 0.2;
    const p1 = equal ? 3333 : [3333, 443, 50000, 50001][Math.floor(rnd() * 4)];
    const p2 = equal ? 3333 : [3333, 443, 50000, 50001][Math.floor(rnd() * 4)];
    const t = T0 + Math.floor(rnd() * 7_200_000) - (rnd() < 0.1 ? 5_000_000 : 0);
    const pk = 1 + Math.floor(rnd() * 200);
    // A few times no decoder should let through (NaN, an end at infinity, an end before the start).
    const odd = rnd();
    recs.push({
      firstMs: odd < 0.003 ? NaN : t,
      lastMs: odd > 0.997 ? Infinity : odd > 0.99 ? t - 1000 : t + Math.floor(rnd() * 600_000),
      ipVersion: six ? 6 : 4,
      src: a,
      dst: z,
      srcPort: p1,
      dstPort: p2,
      proto: rnd() < 0.9 ? 6 : 17,
      packets: pk,
      bytes: pk * (60 + Math.floor(rnd() * 900)),
      revPackets: rnd() < 0.5 ? 0 : pk,
      revBytes: rnd() < 0.5 ? 0 : pk * 80,
      tcpFlags: [0x18, 0x1b, 0x02, 0x04, 0x11][Math.floor(rnd() * 5)],
      samplingRate: rnd() < 0.2 ? 10 : 1,
      exporter: '',
      observationDomain: 0,
      source: 'odd',
      position: k,
      payloadFwd: null,
      payloadRev: null,
    });
  }
  const out: FlowBatch[] = [];
  for (let k = 0; k < recs.length; k += 97) {
    const b = new FlowBatch(97, 'odd');
    for (const r of recs.slice(k, k + 97)) b.pushRecord(r);
    out.push(b);
  }
  return out;
}

let scenarioCache: FlowBatch[] | null = null;
/** A scenario world's flows (two days, six miners among 24 hosts; as the training's scenario runs). */
function scenario(): FlowBatch[] {
  const start = Date.UTC(2017, 4, 17);
  scenarioCache ??= [
    ...flowBatches(
      buildWorld(
        defaultConfig({
          seed: 102,
          startMs: start,
          days: 2,
          onsetMs: start,
          growth: 'step',
          hosts: 24,
          miners: 6,
          btcNodes: 1,
          moneroShare: 0.5,
          activeTimeoutS: 300,
          outageRate: 0,
        }),
      ),
    ),
  ];
  return scenarioCache;
}

async function streams(): Promise<[string, FlowBatch[]][]> {
  const mining = await readBatches('test/fixtures/pcap/ndpi/mining.pcapng', 0);
  return [
    ['mining.pcapng in 64-row batches', rebatch(mining, 64)],
    ['mining.pcapng in 1-row batches', rebatch(mining, 1)],
    ['scenario seed 102', scenario()],
    ['synthetic xmr miners', minerBatches('xmr', 7).flatMap(([, b]) => b)],
    ['odd rows', oddBatches(6000, 11)],
  ];
}

/** Both trackers over the same batches; every batch's output and counters compared. */
function compare(
  name: string,
  batches: FlowBatch[],
  limits: TrackerLimits,
  skip: (row: number) => boolean = () => false,
): number {
  const ref = new ReferenceTracker(model, limits);
  const neu = new BehaviourTracker(model, limits, { judgeEveryMs: 0, hashKey: KEY });
  let rows = 0;
  batches.forEach((b, n) => {
    const want = ref.batch(b, skip);
    const got = neu.batch(b, skip);
    const at = `${name}, batch ${n}`;
    assert.equal(got.length, want.length, `${at}: rows called mining`);
    for (let k = 0; k < want.length; k++) {
      const [wi, w] = want[k];
      const [gi, g] = got[k];
      assert.equal(gi, wi, `${at}: row ${k}`);
      assert.equal(g.key, w.key, `${at}: group`);
      assert.ok(Object.is(g.score, w.score), `${at}: score ${g.score} vs ${w.score}`);
      sameBits(g.features, w.features, `${at}: features`);
      for (const f of ['records', 'connections', 'spanMs', 'windowFromMs', 'mining'] as const)
        assert.ok(Object.is(g[f], w[f]), `${at}: ${f} ${g[f]} vs ${w[f]}`);
    }
    assert.equal(neu.size, ref.size, `${at}: groups held`);
    assert.equal(neu.records, ref.records, `${at}: records held`);
    assert.equal(neu.evicted, ref.evicted, `${at}: evicted`);
    rows += got.length;
  });
  return rows;
}

test('judging every batch, the tracker finds what the one it replaced found: same rows, groups, scores and features to the bit', async () => {
  const found: string[] = [];
  for (const [name, batches] of await streams()) {
    const rows = compare(name, batches, DEFAULT_TRACKER_LIMITS);
    // Some rows skipped (as the hook skips rows with a stronger detection).
    compare(`${name} (skip)`, batches, DEFAULT_TRACKER_LIMITS, (i) => i % 3 === 1);
    found.push(`${name}: ${rows}`);
    if (!name.startsWith('odd')) assert.ok(rows > 0, `${name}: the comparison saw mining rows (${found})`);
  }
});

test('within tight bounds (groups and records evicted every batch) the two trackers stay identical', async () => {
  for (const [name, batches] of await streams()) {
    compare(`${name}, 7 groups`, batches, { maxGroups: 7, maxRecordsPerGroup: 5, maxRecords: 1000 });
    compare(`${name}, 40 records`, batches, { maxGroups: 1000, maxRecordsPerGroup: 16, maxRecords: 40 });
  }
});

test('a group key from the table is the text key orient() gives, and equal keys are one group', async () => {
  const t = new GroupTable(KEY);
  const ids = new Map<string, number>();
  for (const [, batches] of await streams())
    for (const b of batches)
      for (let i = 0; i < b.length; i++) {
        if (b.proto[i] !== 6) continue;
        const o = orient(b, i);
        const g = t.idOf(b, i, o.up, o.up ? b.dstPort[i] : b.srcPort[i]);
        assert.equal(t.keyText(g), o.key);
        assert.equal(t.added, !ids.has(o.key), o.key);
        if (!t.added) assert.equal(g, ids.get(o.key), o.key);
        ids.set(o.key, g);
      }
  assert.equal(t.size, ids.size);
  assert.ok(
    [...ids.keys()].some((k) => k.includes(':') && k.split(' -> ')[0].includes(':')),
    'IPv6 keys seen',
  );
});

test('records in the shared pool give gateSummary and featuresOf the same bits as a RecordLog (mining.pcapng, scenario)', async () => {
  const mining = await readBatches('test/fixtures/pcap/ndpi/mining.pcapng', 0);
  let groups = 0;
  for (const batches of [mining, scenario(), oddBatches(3000, 5)]) {
    const c = collectGroups(batches);
    const chains = new RecordChains();
    const t = new GroupTable(KEY);
    // The same rows into chains, by group id.
    for (const b of batches)
      for (let i = 0; i < b.length; i++) {
        if (b.proto[i] !== 6) continue;
        const o = orient(b, i);
        const g = t.idOf(b, i, o.up, o.up ? b.dstPort[i] : b.srcPort[i]);
        if (t.added) {
          chains.ensureGroups(g + 1);
          chains.reset(g);
        }
        chains.addRow(g, b, i, o.up, o.clientPort);
      }
    const want = new Float64Array(FEATURE_COUNT);
    const got = new Float64Array(FEATURE_COUNT);
    const log = new RecordLog();
    const ids = new Map<string, number>();
    for (let g = 0; g < t.size; g++) ids.set(t.keyText(g), g);
    for (const grp of c.groups.values()) {
      const g = ids.get(grp.key)!;
      chains.copyTo(g, log);
      sameBits(log.data.subarray(0, log.length * 8), grp.log.data.subarray(0, grp.log.length * 8), grp.key);
      const ws = featuresOf(grp.log, -Infinity, Infinity, want);
      const gs = featuresOf(log, -Infinity, Infinity, got);
      sameBits(got, want, `${grp.key} features`);
      assert.deepEqual(gs, ws);
      const gate = gateSummary(grp.log);
      chains.gate(g);
      assert.ok(Object.is(chains.spanMs, gate.spanMs) && Object.is(chains.packets, gate.packets), grp.key);
      assert.ok(
        Object.is(chains.firstStart(g), grp.log.firstMs) && Object.is(chains.lastEnd[g], grp.log.lastMs),
      );
      groups++;
    }
  }
  assert.ok(groups > 100, `groups compared: ${groups}`);
});

/** Rows called mining per group, judged every batch or throttled. */
function byGroup(batches: FlowBatch[], judgeEveryMs: number) {
  const t = new BehaviourTracker(model, DEFAULT_TRACKER_LIMITS, { judgeEveryMs, hashKey: KEY });
  const groups = new Map<string, { rows: number; first: number }>();
  let row = 0;
  for (const b of batches) {
    for (const [i, v] of t.batch(b)) {
      const g = groups.get(v.key) ?? { rows: 0, first: row + i };
      g.rows++;
      groups.set(v.key, g);
    }
    row += b.length;
  }
  return { groups, judged: t.judged, reused: t.reused };
}

test('judging a group at most once per 30 s of stream time: the same sessions called mining, the first row the same or later', async () => {
  // Not the odd rows: random records whose verdict flips from batch to batch are no session.
  for (const [name, batches] of (await streams()).filter(([n]) => !n.startsWith('odd'))) {
    const every = byGroup(batches, 0);
    const throttled = byGroup(batches, 30_000);
    assert.deepEqual(
      [...throttled.groups.keys()].sort(),
      [...every.groups.keys()].sort(),
      `${name}: sessions called mining`,
    );
    for (const [k, e] of every.groups) {
      const t = throttled.groups.get(k)!;
      // What changes: a group refused at one judgment waits for the next (30 s of its stream time
      // or half again its records) instead of being judged at its next batch.
      assert.ok(t.first >= e.first, `${name} ${k}: first row ${t.first} vs ${e.first}`);
    }
    assert.ok(throttled.judged <= every.judged, `${name}: judged ${throttled.judged} vs ${every.judged}`);
  }
});

test('a busy group is judged a few times a minute of stream time, not every batch', () => {
  // 24 rigs behind one address mining at one pool (six seeds of the synthetic Monero rigs), as
  // IPFIX biflows cut every minute, one record per batch: ~2,800 batches over three hours.
  const conns = [];
  for (let seed = 20; seed < 26; seed++) conns.push(...minerConnections('xmr', seed));
  const recs = conns
    .flatMap((c) =>
      recordsOf({ ...c, client: '10.7.7.7', server: '203.0.113.9', serverPort: 3333 }, 'ipfix-biflow'),
    )
    .sort((a, b) => a.firstMs - b.firstMs);
  const batches = recs.map((r) => {
    const b = new FlowBatch(1, 'busy');
    b.pushRecord(r);
    return b;
  });
  const every = byGroup(batches, 0);
  const throttled = byGroup(batches, 30_000);
  assert.equal(every.groups.size, 1, 'found by the model');
  assert.equal(throttled.groups.size, 1, 'still found');
  const minutes = (recs.at(-1)!.lastMs - recs[0].firstMs) / 60_000;
  // Twice a minute at most (plus the growth rule while the group is young), not every batch.
  assert.ok(every.judged > 2500, `judging every batch: ${every.judged}`);
  assert.ok(
    throttled.judged <= 2 * minutes + 30,
    `throttled: ${throttled.judged} in ${minutes.toFixed(0)} min`,
  );
  assert.ok(throttled.reused > 2000, `verdicts reused: ${throttled.reused}`);
  // Rows between judgments carry the last verdict: about as many rows called mining.
  const e = every.groups.values().next().value!;
  const t = throttled.groups.values().next().value!;
  assert.ok(t.first >= e.first, JSON.stringify({ e, t }));
  assert.ok(Math.abs(t.rows - e.rows) <= 0.05 * e.rows, JSON.stringify({ e, t }));
});

test('HalfSipHash-2-4 gives the reference vectors; the table hashes with HalfSipHash-1-3 under its own key', () => {
  // veorq/SipHash vectors_hsip32 (key 00..07, message 00..len-1) for the lengths in whole words.
  const want: Record<number, number> = {
    0: 0x5b9f35a9,
    4: 0x89466e2a,
    8: 0x8f84b8d0,
    12: 0x2f87f057,
    16: 0x84acb5d9,
    20: 0x45104de3,
  };
  for (const [len, h] of Object.entries(want)) {
    const words: number[] = [];
    for (let k = 0; k < Number(len) / 4; k++)
      words.push((4 * k) | ((4 * k + 1) << 8) | ((4 * k + 2) << 16) | ((4 * k + 3) << 24));
    assert.equal(halfSipHash(0x03020100, 0x07060504, words, 0, words.length, 2, 4), h, `length ${len}`);
  }
  // Another key, other slots: whoever picks the addresses cannot know where they land.
  const w = [0x40000d05, 0x0a000001, 0xc0000201];
  assert.notEqual(halfSipHash(1, 2, w, 0, 3), halfSipHash(3, 4, w, 0, 3));
});

test('the group table against a Map: adds, finds, evicts oldest first and reuses ids (seeded random workload)', () => {
  let s = 99;
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const t = new GroupTable(KEY);
  const model = new Map<string, number>(); // key → id, insertion order = least recently seen first
  const b = new FlowBatch(1, 'x');
  b.push();
  b.proto[0] = 6;
  for (let step = 0; step < 60_000; step++) {
    const six = rnd() < 0.25;
    b.ipVersion[0] = six ? 6 : 4;
    b.src.fill(0, 0, 16);
    b.dst.fill(0, 0, 16);
    // Few distinct keys, so they repeat, collide in the small table and get deleted and re-added.
    const a = Math.floor(rnd() * 300);
    b.src[3] = a & 255;
    b.src[2] = a >> 8;
    if (six) b.src[15] = 1;
    b.dst[0] = 192;
    b.dst[3] = Math.floor(rnd() * 4);
    b.srcPort[0] = 50000;
    b.dstPort[0] = 3333;
    const key = `${b.srcText(0)} -> ${b.dstText(0)}:3333`;
    const g = t.idOf(b, 0, true, 3333);
    assert.equal(t.keyText(g), key);
    assert.equal(t.added, !model.has(key), `step ${step}`);
    if (!t.added) assert.equal(g, model.get(key));
    model.delete(key);
    model.set(key, g);
    if (rnd() < 0.45 && model.size > 0) {
      const [k, id] = model.entries().next().value!;
      assert.equal(t.oldest(), id, `step ${step}: oldest`);
      t.delete(id);
      model.delete(k);
    }
    assert.equal(t.size, model.size);
  }
  // Every key left is still found, under the id it was given.
  for (const [k, id] of model) {
    const [c, rest] = k.split(' -> ');
    const six = c.includes(':');
    const r = new FlowBatch(1, 'x');
    r.pushRecord({
      ...recordsOf(stratumLike(c, rest.split(':3333')[0], 50000, 1), 'zeek')[0],
      ipVersion: six ? 6 : 4,
    });
    assert.equal(t.idOf(r, 0, true, 3333), id, k);
    assert.equal(t.added, false);
  }
});

test('the detection hook told to hold its writes writes nothing until beforeCommit, then the same rows as one that writes every batch', async () => {
  const rowsOf = async (hold: boolean) => {
    const store = await openFlowStore(':memory:');
    try {
      const det = await openDetectionStore(store);
      const h = createDetectionHook(det, createDetector(null));
      if (hold) h.hook.holdUntilCommit();
      const r = await ingestFile('test/fixtures/pcap/ndpi/mining.pcapng', {
        store,
        hooks: [h.hook],
        payloadCap: 0,
      });
      assert.equal(r.error, undefined);
      const before = (await det.detections({})).length;
      await h.hook.beforeCommit();
      const rows = await det.detections({});
      return {
        before,
        rows: rows.map((x) => `${x.id} ${x.label} ${x.confidence} ${JSON.stringify(x.evidence)}`),
      };
    } finally {
      await store.close();
    }
  };
  const every = await rowsOf(false);
  const held = await rowsOf(true);
  assert.ok(
    every.rows.some((r) => r.includes('mining-behaviour')),
    'the behaviour model found the miner',
  );
  assert.equal(every.before, every.rows.length, 'written batch by batch');
  assert.equal(held.before, 0, 'held until the commit');
  assert.deepEqual(held.rows.sort(), every.rows.sort());
});

test('the record pool stops doubling at its bound (a full tracker holds its records, not up to twice as many)', () => {
  const chains = new RecordChains();
  chains.growUntil = 100_000;
  chains.ensureGroups(1);
  chains.reset(0);
  const b = new FlowBatch(1, 'x');
  b.pushRecord(recordsOf(stratumLike('10.0.0.1', '192.0.2.1', 50000, 1), 'zeek')[0]);
  for (let k = 0; k < 100_500; k++) chains.addRow(0, b, 0, true, 50000);
  assert.equal(chains.count[0], 100_500);
  // Doubling would have given 131,072; past the bound it grows a batch's worth (4,096) at a time.
  assert.equal(chains.capacity, 104_096);
});

test("rows seen before (an interval the collector stores again after a rollback) get their group's last verdict and are not added twice", async () => {
  const mining = rebatch(await readBatches('test/fixtures/pcap/ndpi/mining.pcapng', 0), 64);
  const t = new BehaviourTracker(shippedModel(), DEFAULT_TRACKER_LIMITS, { judgeEveryMs: 0 });
  let last: [number, TrackedVerdict][] = [];
  for (const b of mining) last = t.batch(b);
  assert.ok(last.length > 0, 'the last batch has rows called mining (the test can fail)');
  const state = { records: t.records, size: t.size, judged: t.judged };
  // The last batch again, as the collector stores a rolled-back interval again.
  const again = t.seenBefore(mining.at(-1)!);
  assert.deepEqual(
    { records: t.records, size: t.size, judged: t.judged },
    state,
    'nothing added, nothing judged',
  );
  // The same rows with the same verdict objects (in row order; batch() gives them group by group).
  const byRow = (rows: [number, TrackedVerdict][]) => [...rows].sort((a, b) => a[0] - b[0]);
  assert.deepEqual(
    byRow(again).map(([i]) => i),
    byRow(last).map(([i]) => i),
  );
  byRow(again).forEach(([, v], k) => assert.equal(v, byRow(last)[k][1], 'the same verdict'));
  // Fed again through batch() instead, the same records would count twice.
  t.batch(mining.at(-1)!);
  assert.ok(t.records > state.records);
});
