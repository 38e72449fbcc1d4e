import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import { emptyEnrichment } from '../../src/flow/enrichment.js';
import { packPayloadTimes } from '../../src/flow/payload-times.js';
import { FlowBatch, ipText, type FlowRecord } from '../../src/flow/record.js';
import { DuckDbFlowStore, ipValue } from '../../src/store/duckdb/flows.js';
import {
  CONCAT_COUNT,
  SEGMENT_MAX_ROWS,
  segmentFiles,
  type SegmentBuilder,
} from '../../src/store/duckdb/segments.js';
import { openFlowStore } from '../../src/store/open.js';
import type { SourceWriter } from '../../src/store/store.js';
import { QueryClient } from '../../src/store/duckdb/query-socket.js';

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

/** A store's file in a temporary folder, removed after `fn`. */
async function inStoreDir(fn: (path: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cr-store-'));
  try {
    await fn(join(dir, 'db.duckdb'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Commit interval k of a live source: 100 flows a second apart from the others, then a commit. */
async function liveInterval(w: SourceWriter, k: number): Promise<void> {
  const b = new FlowBatch(100);
  for (let i = 0; i < 100; i++)
    b.pushRecord(flow(k * 100 + i, { firstMs: Date.UTC(2017, 4, 17) + k * 1000 + i }));
  await w.append(b, emptyEnrichment(100));
  await w.checkpoint(new Diagnostics());
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

for (const live of [false, true])
  test(`every column round-trips: addresses of every form, long and non-ASCII strings, large counters (${live ? 'live source: Parquet segments' : 'file source: the table'})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cr-store-'));
    try {
      const path = join(dir, 'db.duckdb');
      const store = await openFlowStore(path);
      // RFC 5952 cases: zero runs at the start, middle, end, ties (first wins), single zero groups
      // (not compressed), all zeros, IPv4-mapped, plus random addresses with zero groups sprinkled in.
      const fixed = [
        '::',
        '::1',
        '1::',
        '2001:db8::1',
        '2001:db8:0:1:1:1:1:1',
        '2001:0:0:1::1',
        '2001:db8::1:0:0:1',
        '1:0:0:2:0:0:0:3',
        'fe80::1:2:3:4',
        'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
        '::ffff:175.45.176.1',
        '::ffff:0:0',
        '::1:0:0:0',
        '0.0.0.0',
        '255.255.255.255',
        '175.45.176.1',
      ];
      let seed = 7;
      const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
      const addrs = [...fixed];
      for (let k = 0; k < 3000; k++) {
        if (k % 3 === 0) addrs.push(Array.from({ length: 4 }, () => Math.floor(rnd() * 256)).join('.'));
        else {
          const w = Array.from({ length: 8 }, () => (rnd() < 0.4 ? 0 : Math.floor(rnd() * 65536)));
          const b = new Uint8Array(16);
          w.forEach((x, j) => {
            b[2 * j] = x >> 8;
            b[2 * j + 1] = x & 255;
          });
          addrs.push(ipText(b, 0, 6));
        }
      }
      const n = addrs.length;
      const b = new FlowBatch(n);
      const e = emptyEnrichment(n);
      for (let i = 0; i < n; i++) {
        const src = addrs[i];
        const dst = addrs[n - 1 - i];
        const v6 = src.includes(':') || dst.includes(':');
        b.pushRecord(
          flow(i, {
            ipVersion: v6 ? 6 : 4,
            src: v6 && !src.includes(':') ? `::ffff:${src}` : src,
            dst: v6 && !dst.includes(':') ? `::ffff:${dst}` : dst,
            packets: 2 ** 40 + i,
            bytes: 2 ** 52 + i,
            exporter: i % 2 ? 'exporter-with-a-long-name.example:2055' : '10.0.0.1',
            firstMs: Date.UTC(1969, 11, 31) + i,
            payloadFwd: null,
          }),
        );
        e.srcCountry[i] = i % 5 ? 'KP' : '';
        e.srcWatch[i] = i % 7 ? 'kp' : 'Nordkorea-Adressraum-überwacht';
        e.dstWatch[i] = i % 11 ? '' : 'ümlaut';
        e.dstAsn[i] = 4294967295 - i;
      }
      const w = await store.beginSource({ name: 'rt', kind: 'test' }, { live });
      if (live) {
        // Two commit intervals: two segment files, read as one through the view.
        const half = Math.floor(n / 2);
        const firstHalf = new FlowBatch(half);
        for (let i = 0; i < half; i++) firstHalf.pushRecord(b.record(i));
        const secondHalf = new FlowBatch(n - half);
        for (let i = half; i < n; i++) secondHalf.pushRecord(b.record(i));
        const part = (from: number, to: number) => ({
          ...e,
          srcCountry: e.srcCountry.slice(from, to),
          dstCountry: e.dstCountry.slice(from, to),
          srcAsn: e.srcAsn.slice(from, to),
          dstAsn: e.dstAsn.slice(from, to),
          srcWatch: e.srcWatch.slice(from, to),
          dstWatch: e.dstWatch.slice(from, to),
        });
        await w.append(firstHalf, part(0, half));
        await w.checkpoint(new Diagnostics());
        await w.append(secondHalf, part(half, n));
      } else await w.append(b, e);
      await w.commit(new Diagnostics());
      assert.equal(segmentFiles(path).length, live ? 2 : 0, 'segment files');
      const rows = await store.flows({ orderBy: 'f.id' });
      assert.equal(rows.length, n);
      for (let i = 0; i < n; i++) {
        const r = rows[i];
        assert.equal(r.src, b.srcText(i), `src of row ${i}`);
        assert.equal(r.dst, b.dstText(i), `dst of row ${i}`);
        assert.equal(Number(r.packets), 2 ** 40 + i);
        assert.equal(Number(r.bytes), 2 ** 52 + i);
        assert.equal(r.exporter, i % 2 ? 'exporter-with-a-long-name.example:2055' : '10.0.0.1');
        assert.equal(r.src_country, i % 5 ? 'KP' : '');
        assert.equal(r.src_watch, i % 7 ? 'kp' : 'Nordkorea-Adressraum-überwacht');
        assert.equal(r.dst_watch, i % 11 ? '' : 'ümlaut');
        assert.equal(Number(r.dst_asn), 4294967295 - i);
        assert.equal(r.first, new Date(Date.UTC(1969, 11, 31) + i).toISOString());
      }
      // The integer form is what ipValue gives, so SQL can filter on it.
      const probe = rows[5].src as string;
      const hit = await store.flows({ where: `src_ip = ${ipValue(probe)}` });
      assert.ok(hit.length >= 1 && hit.every((r) => r.src === probe));
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

test('payload segment times are stored with their payload; a store written before them reads back without times', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-store-'));
  try {
    const path = join(dir, 'db.duckdb');
    let store = await openFlowStore(path);
    const t0 = Date.UTC(2017, 4, 17, 3, 4, 5) + 0.123456;
    const fwdTimes = packPayloadTimes([
      [0, t0],
      [300, t0 + 1500.5],
      [700, NaN],
    ]);
    const revTimes = packPayloadTimes([[0, t0 + 40.000001]]);
    const b = new FlowBatch(3);
    b.pushRecord(
      flow(0, { payloadTimesFwd: fwdTimes, payloadTimesRev: revTimes, payloadRev: Buffer.from('r') }),
    );
    b.pushRecord(flow(1, { payloadFwd: Buffer.from('no times') }));
    b.pushRecord(flow(2));
    let w = await store.beginSource({ name: 'times', kind: 'pcap' });
    await w.append(b, emptyEnrichment(3));
    await w.commit(new Diagnostics());
    const ids = (await store.flows({ orderBy: 'f.id' })).map((r) => r.id);
    let pl = await store.payloads(ids);
    assert.deepEqual(pl.get(ids[0])?.fwdTimes, fwdTimes);
    assert.deepEqual(pl.get(ids[0])?.revTimes, revTimes);
    assert.equal(pl.get(ids[1])?.fwdTimes, null);
    assert.equal(pl.has(ids[2]), false, 'no payload, no row');
    await store.close();

    // The layout before segment times: flow_payloads (flow_id, fwd, rev). Opening adds the columns.
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const inst = await DuckDBInstance.create(path);
    const conn = await inst.connect();
    await conn.run('ALTER TABLE flow_payloads DROP COLUMN fwd_times');
    await conn.run('ALTER TABLE flow_payloads DROP COLUMN rev_times');
    await conn.run(`INSERT INTO flow_payloads VALUES (${ids[2]}, '\\x01\\x02'::BLOB, NULL)`);
    // Stores of that time had no record of applied schemas either.
    await conn.run('DROP TABLE coinradar_schema');
    conn.closeSync();
    inst.closeSync();
    store = await openFlowStore(path);
    pl = await store.payloads(ids);
    assert.deepEqual(pl.get(ids[2]), { fwd: Buffer.from([1, 2]), rev: null, fwdTimes: null, revTimes: null });
    assert.equal(pl.get(ids[0])?.fwdTimes, null, 'times dropped with the old layout');
    w = await store.beginSource({ name: 'after', kind: 'pcap' });
    await w.append(batchOf(1, 20), emptyEnrichment(1));
    const nb = new FlowBatch(1);
    nb.pushRecord(flow(21, { payloadFwd: Buffer.from('x'.repeat(800)), payloadTimesFwd: fwdTimes }));
    const id = await w.append(nb, emptyEnrichment(1));
    await w.commit(new Diagnostics());
    assert.deepEqual((await store.payloads([id])).get(id)?.fwdTimes, fwdTimes);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a live source: segments are concatenated into one once enough pile up, every flow kept once; reopening keeps them', async () => {
  await inStoreDir(async (path) => {
    let store = await openFlowStore(path);
    const w = await store.beginSource({ name: 'quiet', kind: 'test' }, { live: true });
    const intervals = CONCAT_COUNT + 8;
    for (let k = 0; k < intervals; k++) await liveInterval(w, k);
    // The copy runs beside storing; the next commit swaps it in.
    await (store as DuckDbFlowStore).segments!.idle();
    await w.checkpoint(new Diagnostics());
    await w.commit(new Diagnostics());
    // 32 one-interval files became one (copied while storing went on, swapped in by a later
    // commit); the ones after it are still single.
    assert.equal(segmentFiles(path).length, intervals - CONCAT_COUNT + 1);
    const check = async () => {
      const rows = await store.flows({ orderBy: 'f.id' });
      assert.equal(rows.length, intervals * 100);
      assert.equal(new Set(rows.map((r) => r.id)).size, intervals * 100, 'ids are unique');
      const [src] = await store.sources();
      assert.equal(Number(src.flows), intervals * 100);
    };
    await check();
    await store.close();
    store = await openFlowStore(path);
    await check();
    await store.close();
  });
});

test('a live source: the files a concatenation replaced stay on disk while reads that began before its commit run (in-process readers, the reader socket), and go when they end', async () => {
  await inStoreDir(async (path) => {
    const store = (await openFlowStore(path)) as DuckDbFlowStore;
    const db = store.db;
    // Every statement on a reader connection and on the reader socket is counted while it runs.
    const tracked: string[] = [];
    const track = db.reads.track.bind(db.reads);
    db.reads.track = <T>(p: Promise<T>) => (tracked.push('read'), track(p));
    await db.serveReaders();
    const reader = await store.reader();
    const w = await store.beginSource({ name: 'quiet', kind: 'test' }, { live: true });
    for (let k = 0; k < CONCAT_COUNT; k++) await liveInterval(w, k);
    await store.segments!.idle();
    const before = segmentFiles(path);
    assert.equal(before.length, CONCAT_COUNT);
    tracked.length = 0;
    assert.equal(
      Number((await reader.db.all<{ n: number }>('SELECT count(*) AS n FROM flow_rows'))[0].n),
      CONCAT_COUNT * 100,
    );
    const client = (await QueryClient.connect(path))!;
    assert.equal(
      Number((await client.all<{ n: number }>('SELECT count(*) AS n FROM flow_rows'))[0].n),
      CONCAT_COUNT * 100,
    );
    assert.deepEqual(tracked, ['read', 'read'], 'the in-process reader and the socket each counted');
    // A read that began before the commit (held open here) keeps the replaced files.
    let release!: () => void;
    const held = db.reads.track(new Promise<void>((r) => (release = r)));
    await liveInterval(w, CONCAT_COUNT);
    const after = segmentFiles(path);
    assert.equal(
      after.length,
      CONCAT_COUNT + 2,
      'the inputs stay beside the concatenation and the new interval',
    );
    for (const f of before) assert.ok(after.includes(f), f);
    release();
    await held;
    await store.merger?.idle();
    await new Promise((r) => setImmediate(r));
    assert.equal(segmentFiles(path).length, 2, 'the concatenation and the last interval');
    // What begins after the commit reads the concatenation.
    assert.equal(
      Number((await client.all<{ n: number }>('SELECT count(*) AS n FROM flow_rows'))[0].n),
      (CONCAT_COUNT + 1) * 100,
    );
    client.close();
    await w.commit(new Diagnostics());
    await reader.close();
    await store.close();
  });
});

test('a live source at a high rate: a segment is written before a batch would take it past SEGMENT_MAX_ROWS, so its columns never grow past them; every flow kept', async () => {
  await inStoreDir(async (path) => {
    const store = await openFlowStore(path);
    const w = await store.beginSource({ name: 'fast', kind: 'test' }, { live: true });
    // 4,000-row batches (a collector's are 4,096): the bound falls inside a batch, as it does live.
    const b = batchOf(4000);
    const batches = Math.ceil(SEGMENT_MAX_ROWS / 4000) + 3;
    for (let k = 0; k < batches; k++) await w.append(b, emptyEnrichment(4000));
    const builder = (w as unknown as { segment: SegmentBuilder }).segment;
    assert.ok(
      builder.capacityRows <= SEGMENT_MAX_ROWS,
      `columns hold room for ${builder.capacityRows} rows (bound ${SEGMENT_MAX_ROWS})`,
    );
    // The first segment was written at the last whole batch under the bound, within the interval.
    assert.equal(segmentFiles(path).length, 1);
    await w.commit(new Diagnostics());
    const [{ n }] = await (store as DuckDbFlowStore).db.all<{ n: bigint }>(
      'SELECT count(*) AS n FROM flow_rows',
    );
    assert.equal(Number(n), batches * 4000);
    await store.close();
  });
});

test('a store written before segments (flows in the table flow_rows) is migrated in place on open: its flows read back, new live and file sources join them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-store-'));
  try {
    const path = join(dir, 'old.duckdb');
    // The schema as the previous version wrote it (its flows.sql, kept as a fixture), two flows in it.
    const inst = await DuckDBInstance.create(path);
    const conn = await inst.connect();
    await conn.run(
      readFileSync(new URL('../fixtures/store/flows-before-segments.sql', import.meta.url), 'utf8'),
    );
    await conn.run(
      "INSERT INTO sources VALUES (nextval('source_id_seq'), 'old.pcap', 'pcap', 'fp', now(), 2, true, NULL)",
    );
    await conn.run(`INSERT INTO flow_rows VALUES
      (1, 1, 0, 1494979200000, 1494979201000, 4, ${ipValue('175.45.176.1')}, ${ipValue('1.2.3.4')}, 50000, 3333, 6, 10, 1000, 9, 900, 27, 1, '', 0, 'KP', 'AU', 131279, 0, 'kp', ''),
      (2, 1, 1, 1494979202000, 1494979203000, 4, ${ipValue('175.45.176.2')}, ${ipValue('1.2.3.4')}, 50001, 3333, 6, 10, 1000, 9, 900, 27, 1, '', 0, 'KP', 'AU', 131279, 0, 'kp', '')`);
    conn.closeSync();
    inst.closeSync();

    const store = await openFlowStore(path);
    let rows = await store.flows({ orderBy: 'f.id' });
    assert.deepEqual(
      rows.map((r) => [r.id, r.src, r.dport]),
      [
        [1, '175.45.176.1', 3333],
        [2, '175.45.176.2', 3333],
      ],
    );
    const live = await store.beginSource({ name: 'live', kind: 'netflow' }, { live: true });
    const b = new FlowBatch(1);
    b.pushRecord(flow(3));
    await live.append(b, emptyEnrichment(1));
    await live.commit(new Diagnostics());
    rows = await store.flows({ orderBy: 'f.id' });
    assert.deepEqual(
      rows.map((r) => r.id),
      [1, 2, 3],
      'new flows take ids after the migrated ones',
    );
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a store older still (flows as a table with text addresses) is refused with the command that rebuilds it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-store-'));
  try {
    const path = join(dir, 'older.duckdb');
    const inst = await DuckDBInstance.create(path);
    const conn = await inst.connect();
    await conn.run('CREATE TABLE flows (src VARCHAR, dst VARCHAR)');
    conn.closeSync();
    inst.closeSync();
    await assert.rejects(openFlowStore(path), /cannot read; rebuild it .*coinradar ingest --db NEW\.duckdb/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const live of [false, true])
  test(`AS numbers past 2^31 - 1 (AS4294967294 in the packaged geo data, 103.138.210.0) after small ones: stored with their names (${live ? 'live source' : 'file source'})`, async () => {
    // A list of numbers bound to DuckDB takes its type from its first item; this one stopped a live
    // collector after 27 M flows of a stream spread over the public space.
    const { loadEnricher } = await import('../../src/cli/enricher.js');
    const enricher = await loadEnricher({ geo: true });
    const store = await openFlowStore(':memory:');
    try {
      const w = await store.beginSource({ name: 'big-asn', kind: 'netflow' }, { live });
      const b = new FlowBatch(2);
      b.pushRecord(flow(0, { dst: '8.8.8.8' }));
      b.pushRecord(flow(1, { dst: '103.138.210.1' }));
      const e = enricher.enrich(b);
      assert.deepEqual([...e.dstAsn], [15169, 4294967294], 'the packaged data has both');
      const asns = [...e.asOrgs.keys()];
      assert.ok(asns[0] < 2 ** 31 && asns.indexOf(4294967294) > 0, `a small AS first: ${asns.join(', ')}`);
      await w.append(b, e);
      if (live) await w.checkpoint(new Diagnostics());
      await w.commit(new Diagnostics());
      const s = await store.summary();
      assert.equal(s.byAsn.find((r) => r.key === 'AS4294967294')?.label, 'AS4294967294');
      assert.ok(s.byAsn.find((r) => r.key === 'AS15169')?.label);
      assert.equal((await store.flows({ where: 'dst_asn = 4294967294' })).length, 1);
    } finally {
      await store.close();
    }
  });
