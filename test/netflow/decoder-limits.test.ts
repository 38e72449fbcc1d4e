// Bounded decoder state (issue 10, point 2): caps on exporter addresses, sessions (observation
// domains) per address, templates per session and bytes waiting for templates; eviction only
// within the exporter that brings the new state; zero-length template fields refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Diagnostics, formatProblem } from '../../src/flow/diagnostics.js';
import { NetflowDecoder, type NetflowDecoderOptions } from '../../src/netflow/decoder.js';
import {
  dataSet,
  encodeRecord,
  field,
  ipfixMessage,
  templateSet,
  v5Packet,
  v9Packet,
} from '../../src/netflow/encode.js';
import { IE } from '../../src/netflow/plan.js';
import { DEFAULT_CAPS } from '../../src/netflow/templates.js';
import { FLOW_FIELDS, floodMessage } from './shared.js';

const EXPORT_S = 1_700_000_000;
const FIELDS = FLOW_FIELDS;

function setup(o: Partial<NetflowDecoderOptions> = {}) {
  const diagnostics = new Diagnostics();
  const ports: number[] = [];
  const dec = new NetflowDecoder({
    source: 'limits',
    unit: 'datagram',
    diagnostics,
    batchSize: 256,
    onBatch: (b) => {
      for (let i = 0; i < b.length; i++) ports.push(b.srcPort[i]);
    },
    ...o,
  });
  let n = 0;
  const feed = (b: Buffer, exporter: string, port = 2055, nowMs = 1) =>
    dec.decode(b, exporter, port, ++n, nowMs);
  const decoded = () => {
    dec.flush();
    return ports;
  };
  return { dec, diagnostics, feed, decoded, count: (k: string) => diagnostics.get(k) };
}

/** A valid flow message: its template and one record whose source port is `tag`. */
function good(tag: number, domain = 1, templateId = 256): Buffer {
  return ipfixMessage({ exportSecs: EXPORT_S, domain }, [
    templateSet(false, [{ id: templateId, fields: FIELDS }]),
    dataSet(templateId, [encodeRecord(FIELDS, ['10.0.0.1', '10.0.0.2', tag, 3333, 6, 1, 60])]),
  ]);
}
/** Data only, for a template defined before. */
function data(tag: number, domain = 1, templateId = 256): Buffer {
  return ipfixMessage({ exportSecs: EXPORT_S, domain }, [
    dataSet(templateId, [encodeRecord(FIELDS, ['10.0.0.1', '10.0.0.2', tag, 3333, 6, 1, 60])]),
  ]);
}

test('default caps are the documented ones', () => {
  const { dec } = setup();
  assert.deepEqual(dec.templates.caps, {
    maxExporters: 512,
    maxDomainsPerExporter: 16,
    maxTemplatesPerSession: 64,
    maxPendingBytes: 262144,
    exporterIdleMs: 600000,
  });
  assert.deepEqual(dec.templates.caps, DEFAULT_CAPS);
  const custom = setup({
    maxExporters: 3,
    maxDomainsPerExporter: 2,
    maxTemplatesPerSession: 5,
    maxPendingBytes: 999,
  });
  assert.deepEqual(
    [
      custom.dec.templates.caps.maxExporters,
      custom.dec.templates.caps.maxDomainsPerExporter,
      custom.dec.templates.caps.maxTemplatesPerSession,
      custom.dec.templates.caps.maxPendingBytes,
    ],
    [3, 2, 5, 999],
  );
});

test('caps must be whole numbers of at least 1 (0 would bound nothing)', () => {
  assert.throws(
    () => setup({ maxDomainsPerExporter: 0 }),
    /maxDomainsPerExporter must be a whole number >= 1, got 0/,
  );
  assert.throws(() => setup({ maxTemplatesPerSession: 2.5 }), /maxTemplatesPerSession must be/);
  assert.throws(() => setup({ maxExporters: -1 }), /maxExporters must be/);
});

test('templates per session: the least recently used is evicted, counted per session and in total; templates in use survive', () => {
  const { dec, feed, count, decoded } = setup({ maxTemplatesPerSession: 10 });
  feed(good(1, 1, 256), '192.0.2.1'); // the template in use
  feed(good(2, 2, 256), '192.0.2.9'); // another exporter's
  for (let t = 0; t < 100; t++) {
    feed(
      ipfixMessage({ exportSecs: EXPORT_S, domain: 1 }, [
        templateSet(false, [{ id: 1000 + t, fields: FIELDS }]),
      ]),
      '192.0.2.1',
    );
    if (t % 5 === 0) feed(data(100 + t, 1, 256), '192.0.2.1'); // keeps 256 in use
  }
  const [s1] = dec.exporterStats().filter((s) => s.exporter === '192.0.2.1');
  assert.equal(s1.templates, 10);
  assert.equal(s1.templatesEvicted, 91);
  assert.equal(count('templates.evicted'), 91);
  feed(data(7777, 1, 256), '192.0.2.1');
  feed(data(8888, 2, 256), '192.0.2.9');
  assert.ok(decoded().includes(7777), 'the template in use was not evicted');
  assert.ok(decoded().includes(8888), "the other exporter's template is untouched");
  const [s9] = dec.exporterStats().filter((s) => s.exporter === '192.0.2.9');
  assert.deepEqual([s9.templates, s9.templatesEvicted], [1, 0]);
});

test("sessions per exporter address: a flood of new domains from one port evicts only that port's sessions; other ports and addresses keep theirs", () => {
  const { dec, feed, count, decoded } = setup({ maxDomainsPerExporter: 4 });
  feed(good(1, 1), '192.0.2.1', 4000); // same address, another port (another exporting process)
  feed(good(2, 1), '192.0.2.2', 4000); // another address
  for (let dom = 100; dom < 1100; dom++) {
    feed(good(dom, dom), '192.0.2.1', 5000);
    if (dom % 100 === 0) {
      feed(data(1, 1), '192.0.2.1', 4000);
      feed(data(2, 1), '192.0.2.2', 4000);
    }
  }
  const stats = dec.exporterStats();
  assert.equal(stats.filter((s) => s.exporter === '192.0.2.1').length, 4);
  assert.equal(count('sessions.evicted'), 1000 - 3);
  assert.ok(dec.templates.exporter('192.0.2.1')!.sessionsEvicted === 997);
  feed(data(4444, 1), '192.0.2.1', 4000);
  feed(data(5555, 1), '192.0.2.2', 4000);
  const got = decoded();
  assert.ok(got.includes(4444) && got.includes(5555), 'the other exporters still decode');
  assert.equal(got.filter((p) => p === 1).length, 11);
  assert.equal(got.filter((p) => p === 2).length, 11);
  assert.equal(count('sets.no-template'), 0, "no other exporter's data went without its template");
});

test('exporter cap: new addresses are refused and counted with a location; known ones keep working; idle ones are reclaimed on a live socket', () => {
  const { dec, feed, count, decoded, diagnostics } = setup({ maxExporters: 3, exporterIdleMs: 60_000 });
  for (let e = 1; e <= 3; e++) feed(good(e), `192.0.2.${e}`, 2055, 1000);
  feed(good(4), '192.0.2.4', 2055, 1000);
  assert.equal(count('exporters.refused-cap'), 1);
  const p = diagnostics.problems.find((x) => x.kind === 'exporter-refused')!;
  assert.match(
    formatProblem(p),
    /^limits:datagram 4: exporter-refused: exporter 192\.0\.2\.4 .*maxExporters/,
  );
  // v5 needs no state: its records are still kept (only its sequence goes unaccounted).
  feed(
    v5Packet({ sysUptime: 1, unixSecs: EXPORT_S }, [
      {
        src: '1.1.1.1',
        dst: '2.2.2.2',
        srcPort: 55,
        dstPort: 1,
        proto: 6,
        packets: 1,
        bytes: 1,
        first: 0,
        last: 0,
      },
    ]),
    '192.0.2.5',
    2055,
    1000,
  );
  assert.equal(count('exporters.refused-cap'), 2);
  feed(data(11), '192.0.2.1', 2055, 30_000);
  feed(data(12), '192.0.2.2', 2055, 30_000);
  assert.deepEqual(decoded(), [1, 2, 3, 55, 11, 12]);
  assert.equal(dec.templates.exporterCount(), 3);
  // 192.0.2.3 has been silent since t=1000; at t=70,000 it is idle longer than 60 s and reclaimed.
  feed(good(6), '192.0.2.6', 2055, 70_000);
  assert.equal(count('exporters.reclaimed-idle'), 1);
  assert.equal(count('exporters.refused-cap'), 2);
  assert.equal(dec.templates.exporter('192.0.2.3'), undefined);
  assert.deepEqual(decoded().slice(-1), [6]);
  // Files (no wall clock): nothing is ever reclaimed.
  const f = setup({ maxExporters: 1 });
  f.feed(good(1), '192.0.2.1', 2055, 0);
  f.feed(good(2), '192.0.2.2', 2055, 0);
  assert.equal(f.count('exporters.refused-cap'), 1);
});

test('bytes waiting for templates are capped per exporter address; the oldest go first; other exporters keep theirs', () => {
  const cap = 4096;
  const { dec, feed, count, decoded } = setup({ maxPendingBytes: cap });
  const rec = encodeRecord(FIELDS, ['10.0.0.1', '10.0.0.2', 9, 3333, 6, 1, 60]);
  const waiting = (tag: number, domain: number) =>
    ipfixMessage({ exportSecs: EXPORT_S, domain }, [
      dataSet(
        256,
        Array.from({ length: 20 }, (_, k) =>
          k === 0 ? encodeRecord(FIELDS, ['10.0.0.1', '10.0.0.2', tag, 3333, 6, 1, 60]) : rec,
        ),
      ),
    ]);
  feed(waiting(7000, 1), '192.0.2.2'); // another exporter's waiting set
  for (let k = 0; k < 50; k++) feed(waiting(100 + k, k % 3), '192.0.2.1');
  const e1 = dec.templates.exporter('192.0.2.1')!;
  assert.ok(e1.pendingBytes <= cap, `${e1.pendingBytes} bytes waiting`);
  assert.ok(e1.pendingBytes > cap / 2);
  assert.ok(count('sets.no-template') > 40);
  // A set larger than the whole cap cannot wait at all.
  const big = ipfixMessage({ exportSecs: EXPORT_S, domain: 1 }, [
    dataSet(
      256,
      Array.from({ length: 300 }, () => rec),
    ),
  ]);
  const before = count('sets.no-template');
  feed(big, '192.0.2.1');
  assert.equal(count('sets.no-template'), before + 1);
  // Templates arrive: the newest waiting sets of 192.0.2.1 and the one of 192.0.2.2 are decoded.
  for (const dom of [0, 1, 2])
    feed(
      ipfixMessage({ exportSecs: EXPORT_S, domain: dom }, [
        templateSet(false, [{ id: 256, fields: FIELDS }]),
      ]),
      '192.0.2.1',
    );
  feed(
    ipfixMessage({ exportSecs: EXPORT_S, domain: 1 }, [templateSet(false, [{ id: 256, fields: FIELDS }])]),
    '192.0.2.2',
  );
  const got = decoded();
  assert.ok(got.includes(7000), "the other exporter's waiting set survived");
  assert.ok(got.includes(149) && !got.includes(100), 'newest kept, oldest dropped');
  assert.equal(e1.pendingBytes, 0);
});

test('zero-length template fields (IPFIX, v9, options) are refused and counted; the template is refused; no junk flows come out', () => {
  const { feed, count, decoded, diagnostics } = setup();
  const withZero = [...FIELDS.slice(0, 5), field(IE.packetDeltaCount, 0), field(IE.octetDeltaCount, 0)];
  const zeroRec = encodeRecord(FIELDS.slice(0, 5), ['10.0.0.1', '10.0.0.2', 9999, 3333, 6]);
  // IPFIX: the bad template, then a good one in the same set: the good one is kept.
  feed(
    ipfixMessage({ exportSecs: EXPORT_S, domain: 1 }, [
      templateSet(false, [
        { id: 300, fields: withZero },
        { id: 301, fields: FIELDS },
      ]),
      dataSet(300, [zeroRec, zeroRec]),
      dataSet(301, [encodeRecord(FIELDS, ['10.0.0.1', '10.0.0.2', 301, 3333, 6, 1, 60])]),
    ]),
    '192.0.2.1',
  );
  assert.equal(count('fields.zero-length'), 2);
  const p = diagnostics.problems.find((x) => x.kind === 'bad-template')!;
  assert.match(
    formatProblem(p),
    /^limits:datagram 1: bad-template: template 300: 2 of 7 fields have length 0 \(first: field 6, element 2\); template refused \(at byte 20 of the datagram\)$/,
  );
  // v9 template and v9 options template.
  feed(
    v9Packet({ sysUptime: 1, unixSecs: EXPORT_S, sourceId: 1 }, [
      templateSet(true, [{ id: 400, fields: [field(IE.sourceIPv4Address, 0)] }]),
      templateSet(true, [{ id: 401, fields: [field(1, 4), field(IE.samplingInterval, 0)], scope: 1 }], true),
      dataSet(400, [Buffer.alloc(16)], true),
    ]),
    '192.0.2.1',
  );
  assert.equal(count('fields.zero-length'), 4);
  assert.equal(count('problem.bad-template'), 3);
  assert.equal(count('templates.bad'), 3);
  assert.deepEqual(decoded(), [301], 'only the good template gave a flow');
});

test('decoder-only flood (3,000 templates a datagram, a new domain each): state stays at the caps, other exporters decode every flow', () => {
  const { dec, feed, count, decoded } = setup();
  feed(good(1, 1), '192.0.2.50', 2055); // a valid exporter on another address
  feed(good(2, 1), '127.0.0.1', 40000); // and one on the flooding address, another port
  const t0 = performance.now();
  let sent = 0;
  for (let k = 0; k < 200 && performance.now() - t0 < 20_000; k++) {
    feed(floodMessage(1000 + k), '127.0.0.1', 39999);
    sent++;
    if (k % 10 === 0) {
      feed(data(10_000 + k, 1), '192.0.2.50', 2055);
      feed(data(20_000 + k, 1), '127.0.0.1', 40000);
    }
  }
  const stats = dec.exporterStats();
  const local = stats.filter((s) => s.exporter === '127.0.0.1');
  assert.equal(local.length, DEFAULT_CAPS.maxDomainsPerExporter);
  for (const s of stats) assert.ok(s.templates <= DEFAULT_CAPS.maxTemplatesPerSession);
  assert.equal(dec.templates.exporterCount(), 2);
  assert.equal(count('templates.evicted'), sent * (3000 - DEFAULT_CAPS.maxTemplatesPerSession));
  assert.equal(count('sessions.evicted'), sent - (DEFAULT_CAPS.maxDomainsPerExporter - 1) + 0);
  let templates = 0;
  for (const s of dec.templates.all()) templates += s.templates.size;
  assert.ok(templates <= 2 + DEFAULT_CAPS.maxDomainsPerExporter * DEFAULT_CAPS.maxTemplatesPerSession);
  const got = new Set(decoded());
  for (let k = 0; k < sent; k += 10) {
    assert.ok(got.has(10_000 + k), `flow ${k} of the other address`);
    assert.ok(got.has(20_000 + k), `flow ${k} of the other port`);
  }
});

test(
  'worst case at the default caps: every exporter, domain and template slot full stays under 0.5 GB of heap',
  { timeout: 60_000 },
  () => {
    const { dec, count } = setup();
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const before = process.memoryUsage().heapUsed;
    let n = 0;
    // One more address, domain and template than the caps allow, each.
    for (let e = 0; e <= DEFAULT_CAPS.maxExporters; e++) {
      for (let dom = 0; dom <= DEFAULT_CAPS.maxDomainsPerExporter; dom++)
        dec.decode(
          floodMessage(dom, DEFAULT_CAPS.maxTemplatesPerSession + 1),
          `10.${e >> 8}.${e & 255}.1`,
          2055,
          ++n,
          1,
        );
    }
    gc?.();
    const grew = process.memoryUsage().heapUsed - before;
    let templates = 0;
    for (const s of dec.templates.all()) templates += s.templates.size;
    const full =
      DEFAULT_CAPS.maxExporters * DEFAULT_CAPS.maxDomainsPerExporter * DEFAULT_CAPS.maxTemplatesPerSession;
    assert.equal(templates, full);
    assert.equal(dec.templates.exporterCount(), DEFAULT_CAPS.maxExporters);
    assert.equal(count('exporters.refused-cap'), DEFAULT_CAPS.maxDomainsPerExporter + 1);
    assert.ok(grew < 500e6, `heap grew ${(grew / 1e6).toFixed(0)} MB for ${full} templates`);
    process.stdout.write(
      `# worst case: ${full} templates, heap +${(grew / 1e6).toFixed(0)} MB${gc ? '' : ' (no --expose-gc: upper bound)'}\n`,
    );
  },
);
