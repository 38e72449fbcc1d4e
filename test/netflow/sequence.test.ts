// Loss accounting from export sequence numbers (issue 10, point 4): NetFlow v5 flow_sequence, v9
// export-packet sequence per source id, IPFIX data-record sequence per observation domain. Gaps,
// 32-bit wrap-around, exporter restarts and late (reordered) datagrams, on hand-built datagrams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import { NetflowDecoder } from '../../src/netflow/decoder.js';
import {
  dataSet,
  encodeRecord,
  field,
  ipfixMessage,
  templateSet,
  v5Packet,
  v9Packet,
  type V5Flow,
} from '../../src/netflow/encode.js';
import { IE } from '../../src/netflow/plan.js';
import type { ExporterStat } from '../../src/netflow/templates.js';
import { NetflowCollector } from '../../src/netflow/collector.js';
import { openFlowStore } from '../../src/store/open.js';
import { FlowExporter, type ExportRecord } from '../../src/scenario/export.js';
import { captureFixtures, exited, have, sleep } from './peers.js';
import { FLOW_FIELDS } from './shared.js';

const EXPORT_S = 1_700_000_000;
const FIELDS = FLOW_FIELDS;
const TWO32 = 2 ** 32;

function setup() {
  const diagnostics = new Diagnostics();
  let rows = 0;
  const dec = new NetflowDecoder({
    source: 'seq',
    unit: 'datagram',
    diagnostics,
    onBatch: (b) => (rows += b.length),
  });
  let n = 0;
  const feed = (b: Buffer, exporter = '192.0.2.1', port = 2055) => dec.decode(b, exporter, port, ++n, 1);
  const stat = (version: number, domain: number, exporter = '192.0.2.1', port = 2055): ExporterStat => {
    const s = dec
      .exporterStats()
      .find(
        (x) => x.exporter === exporter && x.port === port && x.version === version && x.domain === domain,
      );
    assert.ok(s, `no stat for ${exporter}:${port} v${version} domain ${domain}`);
    return s;
  };
  const count = (name: string) => diagnostics.get(name);
  const records = () => {
    dec.flush();
    return rows;
  };
  return { dec, diagnostics, feed, stat, count, records };
}

const flow = (k: number): V5Flow => ({
  src: '10.0.0.1',
  dst: '10.0.0.2',
  srcPort: 1000 + k,
  dstPort: 8333,
  proto: 6,
  packets: 1,
  bytes: 60,
  first: 1,
  last: 2,
});

function v5(seq: number, flows: number, opts: { uptime?: number; engineId?: number } = {}): Buffer {
  return v5Packet(
    { sysUptime: opts.uptime ?? 100_000, unixSecs: EXPORT_S, seq, engineId: opts.engineId ?? 0 },
    Array.from({ length: flows }, (_, k) => flow(k)),
  );
}

test('NetFlow v5 flow_sequence: gaps counted in records, late datagrams fill their gap, duplicates are not loss', () => {
  const { feed, stat, count, records } = setup();
  feed(v5(0, 2)); // flows 0-1
  feed(v5(2, 2)); // 2-3
  feed(v5(4, 2)); // 4-5
  assert.equal(count('records.missing'), 0);
  feed(v5(10, 2)); // 6-9 missing
  assert.equal(count('records.missing'), 4);
  assert.equal(stat(5, 0).missingRecords, 4);
  feed(v5(6, 2)); // late: fills 6-7
  assert.equal(count('records.missing'), 2);
  assert.equal(count('sequence.late'), 1);
  feed(v5(8, 2)); // late: fills 8-9
  assert.equal(count('records.missing'), 0);
  feed(v5(8, 2)); // a duplicate: late, but takes nothing off twice
  assert.equal(count('records.missing'), 0);
  assert.equal(count('sequence.late'), 3);
  feed(v5(12, 3)); // in order again after the gap
  feed(v5(15, 1));
  const s = stat(5, 0);
  assert.deepEqual([s.datagrams, s.records, s.missingRecords, s.late, s.resets], [9, 18, 0, 3, 0]);
  assert.equal(records(), 18, 'late and duplicate datagrams are still decoded');
});

test('NetFlow v5: 32-bit wrap of flow_sequence is not a gap; a restart (back to 0, or sysUpTime going back) is a reset, not loss', () => {
  const { feed, stat, count } = setup();
  // engine id 1 → its own session (observation domain)
  feed(v5(TWO32 - 3, 3, { engineId: 1, uptime: 5_000_000 }));
  feed(v5(0, 2, { engineId: 1, uptime: 5_001_000 }));
  assert.equal(count('records.missing'), 0, 'wrap');
  feed(v5(5, 1, { engineId: 1, uptime: 5_002_000 })); // 2-4 missing across no wrap
  assert.equal(count('records.missing'), 3);
  // a restart: flow_sequence back to 0 from far ahead
  feed(v5(1_000_000, 5, { engineId: 2, uptime: 9_000_000 }));
  feed(v5(0, 5, { engineId: 2, uptime: 9_001_000 }));
  assert.equal(stat(5, 2).resets, 1);
  // a restart seen in sysUpTime alone (the sequence step back is small)
  feed(v5(100, 5, { engineId: 3, uptime: 9_000_000 }));
  feed(v5(50, 5, { engineId: 3, uptime: 2_000 }));
  feed(v5(55, 5, { engineId: 3, uptime: 3_000 }));
  assert.equal(stat(5, 3).resets, 1);
  assert.equal(stat(5, 3).late, 0);
  assert.equal(count('sequence.resets'), 2);
  assert.equal(count('records.missing'), 3, 'resets add no loss');
  // sysUpTime wrapping at 2^32 ms is not a restart
  feed(v5(0, 1, { engineId: 4, uptime: TWO32 - 500 }));
  feed(v5(1, 1, { engineId: 4, uptime: 500 }));
  assert.equal(stat(5, 4).resets, 0);
});

function v9(
  seq: number,
  opts: { uptime?: number; sourceId?: number; template?: boolean; flows?: number } = {},
) {
  const recs = Array.from({ length: opts.flows ?? 1 }, (_, k) =>
    encodeRecord(FIELDS, ['10.0.0.1', '10.0.0.2', 2000 + k, 3333, 6, 1, 60]),
  );
  const sets = [dataSet(256, recs, true)];
  if (opts.template !== false) sets.unshift(templateSet(true, [{ id: 256, fields: FIELDS }]));
  return v9Packet(
    { sysUptime: opts.uptime ?? 200_000 + seq, unixSecs: EXPORT_S, seq, sourceId: opts.sourceId ?? 0 },
    sets,
  );
}

test('NetFlow v9 sequence: export packets per source id; gap, reordering (filled), wrap, restart by sysUpTime and by a jump back', () => {
  const { feed, stat, count, records } = setup();
  feed(v9(1));
  feed(v9(2));
  feed(v9(4)); // 3 missing
  assert.equal(count('datagrams.missing'), 1);
  assert.equal(stat(9, 0).missingDatagrams, 1);
  feed(v9(3, { uptime: 200_003 - 10 })); // late, a little older sysUpTime: not a restart
  assert.equal(count('datagrams.missing'), 0);
  assert.equal(count('sequence.late'), 1);
  assert.equal(count('sequence.resets'), 0);
  feed(v9(5));
  feed(v9(9)); // 6, 7, 8 missing
  feed(v9(7)); // fills the middle of the gap: 6 and 8 still missing (approximation: 8 stays counted)
  assert.equal(count('datagrams.missing'), 2);
  feed(v9(6)); // fills 6
  assert.equal(count('datagrams.missing'), 1);
  // Another source id on the same exporter is its own sequence.
  feed(v9(500, { sourceId: 7 }));
  feed(v9(501, { sourceId: 7 }));
  assert.equal(stat(9, 7).missingDatagrams, 0);
  // Wrap at 2^32.
  feed(v9(TWO32 - 2, { sourceId: 8 }));
  feed(v9(TWO32 - 1, { sourceId: 8 }));
  feed(v9(0, { sourceId: 8 }));
  feed(v9(1, { sourceId: 8 }));
  assert.equal(stat(9, 8).missingDatagrams, 0);
  assert.equal(stat(9, 8).resets, 0);
  // Restart: sysUpTime goes back by minutes, the sequence starts again.
  feed(v9(10_000, { sourceId: 9, uptime: 50_000_000 }));
  feed(v9(0, { sourceId: 9, uptime: 1_000 }));
  feed(v9(1, { sourceId: 9, uptime: 2_000 }));
  assert.equal(stat(9, 9).resets, 1);
  assert.equal(stat(9, 9).missingDatagrams, 0);
  // Restart seen only as a large jump back of the sequence.
  feed(v9(50_000, { sourceId: 10, uptime: 1_000 }));
  feed(v9(3, { sourceId: 10, uptime: 2_000 }));
  assert.equal(stat(9, 10).resets, 1);
  assert.equal(count('sequence.resets'), 2);
  assert.equal(count('datagrams.missing'), 1);
  assert.equal(count('records.missing'), 0, 'v9 losses are counted in datagrams, not records');
  const s = stat(9, 0);
  assert.deepEqual([s.datagrams, s.records, s.late, s.templates], [8, 8, 3, 1]);
  assert.equal(records(), 8 + 2 + 4 + 3 + 2);
});

function ipfix(seq: number, flows: number, opts: { domain?: number; template?: boolean } = {}): Buffer {
  const recs = Array.from({ length: flows }, (_, k) =>
    encodeRecord(FIELDS, ['10.0.0.1', '10.0.0.2', 3000 + k, 3333, 6, 1, 60]),
  );
  const sets = [dataSet(256, recs)];
  if (opts.template !== false) sets.unshift(templateSet(false, [{ id: 256, fields: FIELDS }]));
  return ipfixMessage({ exportSecs: EXPORT_S, seq, domain: opts.domain ?? 1 }, sets);
}

test('IPFIX sequence: data records per observation domain; gap, reordering, wrap, restart; templates-only messages count 0', () => {
  const { feed, stat, count } = setup();
  feed(ipfix(0, 3));
  feed(
    ipfixMessage({ exportSecs: EXPORT_S, seq: 3, domain: 1 }, [
      templateSet(false, [{ id: 256, fields: FIELDS }]),
    ]),
  );
  feed(ipfix(3, 2, { template: false }));
  assert.equal(count('records.missing'), 0);
  feed(ipfix(10, 2, { template: false })); // 5..9 missing
  assert.equal(count('records.missing'), 5);
  feed(ipfix(5, 5, { template: false })); // late, fills all of it
  assert.equal(count('records.missing'), 0);
  assert.equal(stat(10, 1).late, 1);
  // Wrap.
  feed(ipfix(TWO32 - 4, 4, { domain: 2 }));
  feed(ipfix(0, 4, { domain: 2 }));
  feed(ipfix(4, 1, { domain: 2 }));
  assert.equal(stat(10, 2).missingRecords, 0);
  assert.equal(stat(10, 2).resets, 0);
  // Restart: far back.
  feed(ipfix(5_000_000, 4, { domain: 3 }));
  feed(ipfix(0, 4, { domain: 3 }));
  feed(ipfix(4, 4, { domain: 3 }));
  assert.equal(stat(10, 3).resets, 1);
  assert.equal(stat(10, 3).missingRecords, 0);
  // A gap across the wrap: expected 2^32 - 1, next is 3 → 4 missing.
  feed(ipfix(TWO32 - 2, 1, { domain: 4 }));
  feed(ipfix(3, 1, { domain: 4 }));
  assert.equal(stat(10, 4).missingRecords, 4);
  assert.equal(count('records.missing'), 4);
  const s = stat(10, 1);
  assert.deepEqual([s.datagrams, s.records, s.missingRecords, s.resets], [5, 12, 0, 0]);
});

test('IPFIX: an exporter restarting a little behind where it was is a reset after 8 late messages in a row, and gaps count again', () => {
  const { feed, stat, count } = setup();
  for (let k = 0; k < 100; k++) feed(ipfix(k * 10, 10, { domain: 6 })); // expected 1000
  for (let k = 0; k < 20; k++) feed(ipfix(k * 10, 10, { domain: 6 })); // restarted at 0
  let s = stat(10, 6);
  assert.deepEqual([s.late, s.resets, s.missingRecords], [7, 1, 0]);
  feed(ipfix(250, 10, { domain: 6 })); // 200..249 lost after the restart
  s = stat(10, 6);
  assert.equal(s.missingRecords, 50);
  assert.equal(count('records.missing'), 50);
});

test('IPFIX: a message whose record count is unknown (data waiting for its template) makes no false gap', () => {
  const { feed, count, stat, records } = setup();
  feed(ipfix(0, 3, { template: false, domain: 5 })); // template unknown: 3 records wait
  feed(ipfix(3, 2, { domain: 5 })); // the template comes; both decoded
  feed(ipfix(5, 1, { domain: 5, template: false }));
  assert.equal(count('records.missing'), 0);
  assert.equal(stat(10, 5).records, 6);
  assert.equal(records(), 6);
});

test('IPFIX exporters that count differently (flow records only, including this message, as softflowd does) are learnt, and their gaps counted right', () => {
  const { feed, stat, count } = setup();
  const OPT = [field(IE.samplingInterval, 4), field(IE.samplingInterval, 4)];
  // Each message: the options template and one options record (not counted by this exporter) and
  // `flows` flow records; the sequence number counts flow records up to and including this message.
  let total = 0;
  const msg = (flows: number, send = true) => {
    total += flows;
    const m = ipfixMessage({ exportSecs: EXPORT_S, seq: total, domain: 9 }, [
      templateSet(false, [{ id: 256, fields: FIELDS }]),
      templateSet(false, [{ id: 257, fields: OPT, scope: 1 }], true),
      dataSet(257, [encodeRecord(OPT, [1, 1])]),
      dataSet(
        256,
        Array.from({ length: flows }, () => encodeRecord(FIELDS, ['10.0.0.1', '10.0.0.2', 1, 2, 6, 1, 60])),
      ),
    ]);
    if (send) feed(m);
  };
  msg(3);
  msg(5);
  msg(2);
  assert.equal(count('records.missing'), 0);
  assert.equal(stat(10, 9).resets + stat(10, 9).late, 0);
  msg(4, false); // lost
  msg(7, false); // lost
  msg(1);
  assert.equal(count('records.missing'), 11);
  msg(6);
  assert.equal(count('records.missing'), 11);
  assert.equal(stat(10, 9).missingRecords, 11);
});

test('sequence state is per exporter address and port: two exporters with the same domain do not mix', () => {
  const { feed, stat, count } = setup();
  feed(v9(100, { sourceId: 1 }), '192.0.2.1', 2055);
  feed(v9(7, { sourceId: 1 }), '192.0.2.2', 2055);
  feed(v9(3, { sourceId: 1 }), '192.0.2.1', 2056);
  feed(v9(101, { sourceId: 1 }), '192.0.2.1', 2055);
  feed(v9(8, { sourceId: 1 }), '192.0.2.2', 2055);
  feed(v9(4, { sourceId: 1 }), '192.0.2.1', 2056);
  assert.equal(count('datagrams.missing'), 0);
  assert.equal(count('sequence.late') + count('sequence.resets'), 0);
  assert.equal(stat(9, 1, '192.0.2.2').datagrams, 2);
  assert.equal(stat(9, 1, '192.0.2.1', 2056).datagrams, 2);
});

for (const format of ['netflow9', 'ipfix'] as const) {
  test(`coinradar's own exporter (${format}, sampled: options records count in IPFIX): exactly the dropped datagrams are missing; a swapped pair is late, not loss`, () => {
    const { feed, stat, count } = setup();
    const ex = new FlowExporter({ format, domain: 3, sampling: 10, templateEvery: 5 });
    const rec = (k: number): ExportRecord => ({
      firstMs: 1_700_000_000_000 + k,
      lastMs: 1_700_000_000_100 + k,
      src: 0x0a000001,
      dst: 0x0a000002,
      srcPort: 1000 + (k % 5000),
      dstPort: 3333,
      proto: 6,
      tcpFlags: 0,
      packets: 1,
      bytes: 60,
    });
    const dgrams: { buf: Buffer; records: number }[] = [];
    for (let k = 0; k < 200; k++) {
      const n = 1 + (k % 7);
      const withOptions = k % 5 === 0; // templates and the sampling options record every 5th
      dgrams.push({
        buf: ex.encode(
          Array.from({ length: n }, (_, r) => rec(k * 10 + r)),
          1_700_000_000_000 + k,
        ),
        records: n + (withOptions && format === 'ipfix' ? 1 : 0),
      });
    }
    let lost = 0;
    for (let k = 0; k < 200; k++) {
      if (k === 101) continue; // sent after 102, below
      if (k % 17 === 16) {
        lost += format === 'ipfix' ? dgrams[k].records : 1;
        continue;
      }
      feed(dgrams[k].buf);
      if (k === 102) feed(dgrams[101].buf);
    }
    const version = format === 'ipfix' ? 10 : 9;
    const s = stat(version, 3);
    assert.equal(format === 'ipfix' ? s.missingRecords : s.missingDatagrams, lost);
    assert.equal(count(format === 'ipfix' ? 'records.missing' : 'datagrams.missing'), lost);
    assert.deepEqual([s.late, s.resets], [1, 0]);
  });
}

const noSoftflowd = have('softflowd') ? false : 'softflowd is not installed (npm run test:ci installs it)';

test(
  'softflowd over loopback (v5, v9, IPFIX): its sequence numbers read as this decoder reads them — no gap, no reset, every record counted',
  { skip: noSoftflowd, timeout: 120_000 },
  async () => {
    const captures = captureFixtures().slice(0, 6);
    for (const args of [
      ['-v', '5'],
      ['-v', '9'],
      ['-v', '10'],
    ]) {
      const store = await openFlowStore(':memory:');
      try {
        const c = await NetflowCollector.start({ listen: 'udp://127.0.0.1:0', store, flushMs: 100 });
        for (const capture of captures) {
          const sfd = spawn('softflowd', ['-r', capture, '-n', `127.0.0.1:${c.port}`, ...args], {
            stdio: 'ignore',
          });
          assert.equal(await exited(sfd), 0);
        }
        await sleep(200);
        const r = await c.stop();
        const d = r.diagnostics;
        const what = `softflowd ${args.join(' ')}: ${d.summary()}`;
        assert.ok(r.flows > 100, what);
        assert.equal(d.get('datagrams.missing'), 0, what);
        assert.equal(d.get('records.missing'), 0, what);
        assert.equal(d.get('sequence.resets'), 0, what);
        assert.equal(d.get('sequence.late'), 0, what);
      } finally {
        await store.close();
      }
    }
  },
);
