import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Diagnostics, formatProblem } from '../../src/flow/diagnostics.js';
import type { FlowBatch, FlowRecord } from '../../src/flow/record.js';
import { NetflowDecoder } from '../../src/netflow/decoder.js';
import {
  dataSet,
  encodeRecord,
  field,
  ipfixMessage,
  templateSet,
  v5Packet,
  v9Packet,
  withdrawalSet,
  type FieldValue,
} from '../../src/netflow/encode.js';
import { IE, REVERSE_PEN, VARLEN } from '../../src/netflow/plan.js';

const EXPORT_S = 1_700_000_000; // 2023-11-14T22:13:20Z

function decoderFor(unit: 'datagram' | 'byte' = 'datagram') {
  const diagnostics = new Diagnostics();
  const batches: FlowBatch[] = [];
  const dec = new NetflowDecoder({
    source: 'test',
    unit,
    diagnostics,
    batchSize: 64,
    onBatch: (b) => batches.push(b),
  });
  const rows = (): FlowRecord[] => {
    dec.flush();
    return batches.flatMap((b) => [...b.records()]);
  };
  return { dec, diagnostics, rows };
}

const BASIC = [
  field(IE.sourceIPv4Address, 4),
  field(IE.destinationIPv4Address, 4),
  field(IE.sourceTransportPort, 2),
  field(IE.destinationTransportPort, 2),
  field(IE.protocolIdentifier, 1),
  field(IE.packetDeltaCount, 4),
  field(IE.octetDeltaCount, 4),
];
const basicValues = (k: number): FieldValue[] => [
  '175.45.176.1',
  '8.8.8.8',
  40000 + k,
  8333,
  6,
  10 + k,
  1000 + k,
];

function ipfix(sets: Buffer[], domain = 7): Buffer {
  return ipfixMessage({ exportSecs: EXPORT_S, domain }, sets);
}

test('NetFlow v5: counters, sysUpTime-relative times, header sampling, observation domain', () => {
  const { dec, diagnostics, rows } = decoderFor();
  const pkt = v5Packet(
    {
      sysUptime: 3_600_000,
      unixSecs: EXPORT_S,
      unixNsecs: 500_000_000,
      engineType: 1,
      engineId: 2,
      samplingInterval: (1 << 14) | 100,
    },
    [
      {
        src: '175.45.176.9',
        dst: '1.2.3.4',
        srcPort: 50000,
        dstPort: 3333,
        proto: 6,
        packets: 12,
        bytes: 3456,
        first: 3_500_000,
        last: 3_590_000,
        tcpFlags: 0x1b,
      },
      {
        src: '10.0.0.1',
        dst: '10.0.0.2',
        srcPort: 53,
        dstPort: 5353,
        proto: 17,
        packets: 4294967295,
        bytes: 1,
        first: 3_600_500,
        last: 3_600_500,
      },
    ],
  );
  dec.decode(pkt, '192.0.2.1', 9995, 1);
  const r = rows();
  assert.equal(r.length, 2);
  const nowMs = EXPORT_S * 1000 + 500;
  assert.equal(r[0].firstMs, nowMs - 100_000);
  assert.equal(r[0].lastMs, nowMs - 10_000);
  assert.equal(r[0].src, '175.45.176.9');
  assert.equal(r[0].dstPort, 3333);
  assert.equal(r[0].tcpFlags, 0x1b);
  assert.equal(r[0].samplingRate, 100);
  assert.equal(r[0].observationDomain, 0x0102);
  assert.equal(r[0].exporter, '192.0.2.1');
  // A FIRST just after the header's sysUpTime is 500 ms later, not 49.7 days earlier.
  assert.equal(r[1].firstMs, nowMs + 500);
  assert.equal(r[1].packets, 4294967295);
  assert.equal(diagnostics.get('problems'), 0);
  assert.equal(dec.templates.samplingByExporter().get('192.0.2.1'), 100);
});

test('NetFlow v9: sysUpTime-relative times (also across the 32-bit wrap), 32- and 64-bit counters', () => {
  const { dec, rows } = decoderFor();
  const fields = [
    ...BASIC.slice(0, 5),
    field(IE.packetDeltaCount, 8),
    field(IE.octetDeltaCount, 8),
    field(IE.flowStartSysUpTime, 4),
    field(IE.flowEndSysUpTime, 4),
  ];
  const sysUptime = 1000; // the uptime counter wrapped 1 s ago
  const rec = encodeRecord(fields, [
    '1.1.1.1',
    '2.2.2.2',
    1,
    2,
    17,
    2n ** 40n,
    2n ** 33n + 5n,
    0xffffffff - 999,
    500,
  ]);
  dec.decode(
    v9Packet({ sysUptime, unixSecs: EXPORT_S, sourceId: 42 }, [
      templateSet(true, [{ id: 300, fields }]),
      dataSet(300, [rec], true),
    ]),
    '192.0.2.2',
    1,
    5,
  );
  const [r] = rows();
  assert.equal(r.packets, 2 ** 40);
  assert.equal(r.bytes, 2 ** 33 + 5);
  assert.equal(r.firstMs, EXPORT_S * 1000 - 2000);
  assert.equal(r.lastMs, EXPORT_S * 1000 - 500);
  assert.equal(r.observationDomain, 42);
  assert.equal(r.position, 5);
});

test('IPFIX time encodings: seconds, milliseconds, micro/nanoseconds (NTP), sysUpTime + init, delta microseconds', () => {
  const t0 = Date.UTC(2017, 4, 17, 10, 0, 0);
  const ntp = (ms: number) => {
    const secs = Math.floor(ms / 1000);
    const frac = Math.round(((ms % 1000) / 1000) * 2 ** 32);
    return (BigInt(secs + 2208988800) << 32n) | BigInt(frac);
  };
  const cases: {
    name: string;
    fields: ReturnType<typeof field>[];
    values: FieldValue[];
    first: number;
    last: number;
    options?: boolean;
  }[] = [
    {
      name: 'seconds',
      fields: [field(IE.flowStartSeconds, 4), field(IE.flowEndSeconds, 4)],
      values: [t0 / 1000, t0 / 1000 + 5],
      first: t0,
      last: t0 + 5000,
    },
    {
      name: 'milliseconds',
      fields: [field(IE.flowStartMilliseconds, 8), field(IE.flowEndMilliseconds, 8)],
      values: [t0 + 123, t0 + 4567],
      first: t0 + 123,
      last: t0 + 4567,
    },
    {
      name: 'microseconds',
      fields: [field(IE.flowStartMicroseconds, 8), field(IE.flowEndMicroseconds, 8)],
      values: [ntp(t0 + 250), ntp(t0 + 750)],
      first: t0 + 250,
      last: t0 + 750,
    },
    {
      name: 'nanoseconds',
      fields: [field(IE.flowStartNanoseconds, 8), field(IE.flowEndNanoseconds, 8)],
      values: [ntp(t0 + 1), ntp(t0 + 2)],
      first: t0 + 1,
      last: t0 + 2,
    },
    {
      name: 'sysUpTime + systemInitTimeMilliseconds in the record',
      fields: [
        field(IE.systemInitTimeMilliseconds, 8),
        field(IE.flowStartSysUpTime, 4),
        field(IE.flowEndSysUpTime, 4),
      ],
      values: [t0, 60_000, 61_000],
      first: t0 + 60_000,
      last: t0 + 61_000,
    },
    {
      name: 'sysUpTime + systemInitTimeMilliseconds from options data',
      fields: [field(IE.flowStartSysUpTime, 4), field(IE.flowEndSysUpTime, 4)],
      values: [1000, 2000],
      first: t0 + 1000,
      last: t0 + 2000,
      options: true,
    },
    {
      name: 'delta microseconds before export time',
      fields: [field(IE.flowStartDeltaMicroseconds, 4), field(IE.flowEndDeltaMicroseconds, 4)],
      values: [3_000_000, 1_500_000],
      first: EXPORT_S * 1000 - 3000,
      last: EXPORT_S * 1000 - 1500,
    },
  ];
  for (const c of cases) {
    const { dec, diagnostics, rows } = decoderFor();
    const sets: Buffer[] = [];
    if (c.options) {
      const of = [field(149, 4), field(IE.systemInitTimeMilliseconds, 8)];
      sets.push(
        templateSet(false, [{ id: 400, fields: of, scope: 1 }], true),
        dataSet(400, [encodeRecord(of, [7, t0])]),
      );
    }
    const fields = [...BASIC, ...c.fields];
    sets.push(
      templateSet(false, [{ id: 256, fields }]),
      dataSet(256, [encodeRecord(fields, [...basicValues(0), ...c.values])]),
    );
    dec.decode(ipfix(sets), '192.0.2.3', 4739, 1);
    const [r] = rows();
    assert.equal(r.firstMs, c.first, `${c.name}: first`);
    assert.equal(r.lastMs, c.last, `${c.name}: last`);
    assert.equal(diagnostics.get('problems'), 0, c.name);
  }
});

test('IPFIX: variable-length fields (short and long form) and enterprise fields are skipped by length; RFC 5103 reverse counters', () => {
  const { dec, diagnostics, rows } = decoderFor();
  const fields = [
    field(82, VARLEN), // interfaceName
    field(IE.sourceIPv4Address, 4),
    field(100, 6, 9), // Cisco enterprise element
    field(IE.destinationIPv4Address, 4),
    field(83, VARLEN), // interfaceDescription
    field(IE.sourceTransportPort, 2),
    field(IE.destinationTransportPort, 2),
    field(IE.protocolIdentifier, 1),
    field(IE.packetDeltaCount, 4),
    field(IE.octetDeltaCount, 8),
    field(IE.packetDeltaCount, 4, REVERSE_PEN),
    field(IE.octetDeltaCount, 8, REVERSE_PEN),
    field(IE.flowStartSysUpTime, 4, REVERSE_PEN), // a reverse element coinradar does not use
  ];
  const recs = [
    encodeRecord(fields, [
      Buffer.from('eth0'),
      '10.1.1.1',
      Buffer.alloc(6, 0xee),
      '10.2.2.2',
      Buffer.alloc(300, 0x61),
      1234,
      3333,
      6,
      5,
      500,
      4,
      400,
      9,
    ]),
    encodeRecord(fields, [
      Buffer.alloc(0),
      '10.1.1.3',
      Buffer.alloc(6),
      '10.2.2.4',
      Buffer.from('x'),
      1,
      2,
      17,
      1,
      100,
      0,
      0,
      0,
    ]),
  ];
  dec.decode(ipfix([templateSet(false, [{ id: 256, fields }]), dataSet(256, recs)]), '192.0.2.4', 4739, 1);
  const r = rows();
  assert.equal(diagnostics.get('problems'), 0);
  assert.equal(r.length, 2);
  assert.deepEqual(
    [
      r[0].src,
      r[0].dst,
      r[0].srcPort,
      r[0].dstPort,
      r[0].packets,
      r[0].bytes,
      r[0].revPackets,
      r[0].revBytes,
    ],
    ['10.1.1.1', '10.2.2.2', 1234, 3333, 5, 500, 4, 400],
  );
  assert.deepEqual([r[1].src, r[1].dst, r[1].proto, r[1].bytes], ['10.1.1.3', '10.2.2.4', 17, 100]);
  // A variable-length field claiming more bytes than the set has: the record is reported, earlier kept.
  const bad = Buffer.concat([recs[0], recs[1]]);
  bad[recs[0].length] = 200; // interfaceName of the second record claims 200 bytes
  const { dec: d2, diagnostics: g2, rows: rows2 } = decoderFor();
  d2.decode(ipfix([templateSet(false, [{ id: 256, fields }]), dataSet(256, [bad])]), '192.0.2.4', 4739, 3);
  assert.equal(rows2().length, 1);
  assert.equal(g2.get('problem.truncated-record'), 1);
  assert.match(formatProblem(g2.problems[0]), /^test:datagram 3: truncated-record: /);
});

test('IPv6 addresses and ICMP type/code in the destination port', () => {
  const { dec, rows } = decoderFor();
  const fields = [
    field(IE.sourceIPv6Address, 16),
    field(IE.destinationIPv6Address, 16),
    field(IE.protocolIdentifier, 1),
    field(IE.icmpTypeCodeIPv6, 2),
    field(IE.packetDeltaCount, 4),
    field(IE.octetDeltaCount, 4),
  ];
  const rec = encodeRecord(fields, ['2001:db8::1', 'ff02::1:ffa4:e108', 58, 135 * 256, 1, 64]);
  dec.decode(ipfix([templateSet(false, [{ id: 256, fields }]), dataSet(256, [rec])]), '::1', 4739, 1);
  const [r] = rows();
  assert.equal(r.ipVersion, 6);
  assert.equal(r.src, '2001:db8::1');
  assert.equal(r.dst, 'ff02::1:ffa4:e108');
  assert.equal(r.dstPort, 135 * 256);
  assert.equal(r.exporter, '::1');
});

test('options templates: sampling interval per exporter (IPFIX samplingInterval, samplerRandomInterval, packet interval/space; v9)', () => {
  const cases: {
    name: string;
    v9: boolean;
    of: ReturnType<typeof field>[];
    values: FieldValue[];
    rate: number;
  }[] = [
    {
      name: 'IPFIX samplingInterval',
      v9: false,
      of: [field(149, 4), field(IE.samplingInterval, 4)],
      values: [7, 512],
      rate: 512,
    },
    {
      name: 'IPFIX samplerRandomInterval',
      v9: false,
      of: [field(149, 4), field(IE.samplerRandomInterval, 4)],
      values: [7, 100],
      rate: 100,
    },
    {
      name: 'IPFIX samplingPacketInterval/Space',
      v9: false,
      of: [field(149, 4), field(IE.samplingPacketInterval, 4), field(IE.samplingPacketSpace, 4)],
      values: [7, 1, 99],
      rate: 100,
    },
    {
      name: 'v9 SAMPLING_INTERVAL',
      v9: true,
      of: [field(1, 4), field(IE.samplingInterval, 4), field(IE.samplingAlgorithm, 1)],
      values: [0, 1000, 2],
      rate: 1000,
    },
  ];
  for (const c of cases) {
    const { dec, diagnostics, rows } = decoderFor();
    const opt = [
      templateSet(c.v9, [{ id: 500, fields: c.of, scope: 1 }], true),
      dataSet(500, [encodeRecord(c.of, c.values)], c.v9),
    ];
    const data = [
      templateSet(c.v9, [{ id: 256, fields: BASIC }]),
      dataSet(256, [encodeRecord(BASIC, basicValues(1))], c.v9),
    ];
    const msg = (sets: Buffer[]) =>
      c.v9 ? v9Packet({ sysUptime: 1, unixSecs: EXPORT_S, sourceId: 7 }, sets) : ipfix(sets);
    dec.decode(msg(data), '192.0.2.5', 1, 1); // before the options data: unsampled
    dec.decode(msg(opt), '192.0.2.5', 1, 2);
    dec.decode(msg(data), '192.0.2.5', 1, 3);
    const r = rows();
    assert.deepEqual(
      r.map((x) => x.samplingRate),
      [1, c.rate],
      c.name,
    );
    assert.equal(dec.templates.samplingByExporter().get('192.0.2.5'), c.rate, c.name);
    assert.equal(diagnostics.get('records.options'), 1, c.name);
    assert.equal(diagnostics.get('problems'), 0, c.name);
  }
});

test('template withdrawal (field count 0, and all templates) and refresh with a changed layout under the same id', () => {
  const { dec, diagnostics, rows } = decoderFor();
  const data = (k: number) => dataSet(256, [encodeRecord(BASIC, basicValues(k))]);
  dec.decode(ipfix([templateSet(false, [{ id: 256, fields: BASIC }]), data(1)]), '192.0.2.6', 1, 1);
  dec.decode(ipfix([withdrawalSet([256]), data(2)]), '192.0.2.6', 1, 2); // data after withdrawal waits
  assert.equal(diagnostics.get('templates.withdrawn'), 1);
  // Refresh with a different layout: ports swapped order and 8-byte counters.
  const other = [
    BASIC[1],
    BASIC[0],
    BASIC[3],
    BASIC[2],
    BASIC[4],
    field(IE.packetDeltaCount, 8),
    field(IE.octetDeltaCount, 8),
  ];
  dec.decode(ipfix([templateSet(false, [{ id: 256, fields: other }])]), '192.0.2.6', 1, 3);
  // The set kept from datagram 2 is decoded with the template that arrived (its sender's problem).
  dec.decode(
    ipfix([dataSet(256, [encodeRecord(other, ['9.9.9.9', '8.8.4.4', 53, 5353, 17, 77, 7777])])]),
    '192.0.2.6',
    1,
    4,
  );
  dec.decode(ipfix([templateSet(false, [{ id: 256, fields: other }])]), '192.0.2.6', 1, 5); // same again: a refresh
  // Changed layout under the same id without a withdrawal (an exporter restart): the new one applies.
  dec.decode(ipfix([templateSet(false, [{ id: 256, fields: BASIC }]), data(5)]), '192.0.2.6', 1, 6);
  dec.decode(ipfix([withdrawalSet([2]), data(3)]), '192.0.2.6', 1, 7); // withdraw all; data waits, never decoded
  dec.decode(ipfix([withdrawalSet([999])]), '192.0.2.6', 1, 8);
  dec.finish();
  const r = rows();
  assert.deepEqual(
    r.map((x) => [x.src, x.dst, x.srcPort, x.dstPort, x.packets, x.bytes]),
    [
      ['175.45.176.1', '8.8.8.8', 40001, 8333, 11, 1001],
      ['8.8.4.4', '9.9.9.9', 5353, 53, 77, 7777],
      ['175.45.176.1', '8.8.8.8', 40005, 8333, 15, 1005],
    ],
  );
  assert.equal(diagnostics.get('templates.new'), 2);
  assert.equal(diagnostics.get('templates.changed'), 1);
  assert.equal(diagnostics.get('templates.refreshed'), 1);
  assert.equal(diagnostics.get('templates.withdrawn'), 2);
  assert.equal(diagnostics.get('problem.unknown-withdrawal'), 1);
  assert.equal(diagnostics.get('problem.no-template'), 1);
  // Datagram 2's set waited while no template was defined; the one that came next is 29 bytes a
  // record, the set holds 21: reported, not silently taken as padding.
  assert.equal(diagnostics.problems[0].kind, 'short-set');
  assert.equal(diagnostics.problems[0].offset, 2);
  const p = diagnostics.problems.find((x) => x.kind === 'no-template')!;
  assert.equal(p.offset, 7);
  assert.match(p.message, /template 256 of exporter 192\.0\.2\.6 domain 7/);
});

test('data before its template is kept and decoded when the template comes; counted when it never does', () => {
  const { dec, diagnostics, rows } = decoderFor('byte');
  const recs = [encodeRecord(BASIC, basicValues(1)), encodeRecord(BASIC, basicValues(2))];
  dec.decode(ipfix([dataSet(256, recs)]), '192.0.2.7', 1, 1000);
  dec.decode(ipfix([dataSet(257, recs)]), '192.0.2.7', 1, 2000); // template 257 never comes
  assert.equal(rows().length, 0);
  dec.decode(ipfix([templateSet(false, [{ id: 256, fields: BASIC }])]), '192.0.2.7', 1, 3000);
  const r = rows();
  assert.equal(r.length, 2);
  assert.equal(r[0].position, 1000, 'a deferred record keeps the position of its own datagram');
  // Another exporter's template with the same id does not apply.
  dec.decode(ipfix([templateSet(false, [{ id: 257, fields: BASIC }])]), '192.0.2.8', 1, 4000);
  dec.finish();
  assert.equal(rows().length, 2);
  assert.equal(diagnostics.get('sets.deferred'), 2);
  assert.equal(diagnostics.get('sets.deferred-decoded'), 1);
  assert.equal(diagnostics.get('problem.no-template'), 1);
  // Byte unit: the problem is at the file offset of the set (datagram at 2000, set after the 16-byte header).
  assert.equal(diagnostics.problems[0].offset, 2016);
  assert.match(formatProblem(diagnostics.problems[0]), /^test:2016: no-template: data set for template 257/);
});

test('pending data sets expire after a time on a live socket', () => {
  const { dec, diagnostics } = decoderFor();
  dec.decode(ipfix([dataSet(256, [encodeRecord(BASIC, basicValues(1))])]), '192.0.2.9', 1, 1, 10_000);
  dec.expirePending(12_000, 5000);
  assert.equal(diagnostics.get('problem.no-template'), 0);
  dec.expirePending(15_001, 5000);
  assert.equal(diagnostics.get('problem.no-template'), 1);
  assert.match(diagnostics.problems[0].message, /none within 5000 ms/);
});

test('bad input is reported with its location and skipped; records before and after are kept', () => {
  const { dec, diagnostics, rows } = decoderFor();
  const good = (k: number) =>
    ipfix([
      templateSet(false, [{ id: 256, fields: BASIC }]),
      dataSet(256, [encodeRecord(BASIC, basicValues(k))]),
    ]);
  let n = 0;
  const feed = (b: Buffer) => dec.decode(b, '192.0.2.10', 1, ++n);
  feed(good(1));
  // random bytes
  feed(Buffer.from('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex'));
  // shorter than its header: v5, v9, IPFIX
  feed(Buffer.from([0, 5, 0, 1, 0, 0]));
  feed(Buffer.from([0, 9, 0, 1, 0, 0, 0, 0, 0, 0]));
  feed(Buffer.from([0, 10, 0, 16, 0, 0]));
  // v5 saying 30 records but holding one
  const v5 = v5Packet({ sysUptime: 10, unixSecs: EXPORT_S }, [
    {
      src: '1.1.1.1',
      dst: '2.2.2.2',
      srcPort: 1,
      dstPort: 2,
      proto: 6,
      packets: 1,
      bytes: 40,
      first: 1,
      last: 2,
    },
  ]);
  v5.writeUInt16BE(30, 2);
  feed(v5);
  // a set whose length runs past the datagram end: the good set before it is kept
  const g = good(2);
  const past = Buffer.concat([g, Buffer.from([1, 0, 0x01, 0x00, 0, 0, 0, 0])]);
  past.writeUInt16BE(past.length, 2);
  feed(past);
  // a template with an absurd field count
  const absurd = templateSet(false, [{ id: 300, fields: BASIC }]);
  absurd.writeUInt16BE(60000, 6);
  feed(ipfix([absurd]));
  // data set with no template (waits, then counted at the end)
  feed(ipfix([dataSet(999, [Buffer.alloc(20)])]));
  // IPFIX message length beyond the datagram
  const longer = good(3);
  longer.writeUInt16BE(longer.length + 100, 2);
  feed(longer);
  feed(good(4));
  dec.finish();
  const r = rows();
  assert.deepEqual(
    r.map((x) => x.srcPort),
    [40001, 1, 40002, 40003, 40004],
  );
  const kinds = diagnostics.problems.map((p) => `${p.offset} ${p.kind}`);
  assert.deepEqual(kinds, [
    '2 bad-version',
    '3 truncated-header',
    '4 truncated-header',
    '5 truncated-header',
    '6 truncated-record',
    '7 bad-set-length',
    '8 bad-template',
    '10 bad-message-length',
    '9 no-template',
  ]);
  for (const p of diagnostics.problems) assert.match(formatProblem(p), /^test:datagram \d+: [a-z-]+: .{20,}/);
  assert.match(diagnostics.problems[6].message, /template 300 declares 60000 fields/);
  assert.equal(diagnostics.get('problems'), 9);
  assert.equal(diagnostics.get('records'), 5);
});

test('a template made only of zero-length fields is refused (no endless record loop)', () => {
  const { dec, diagnostics, rows } = decoderFor();
  const fields = [field(IE.packetDeltaCount, 0)];
  dec.decode(
    ipfix([templateSet(false, [{ id: 256, fields }]), dataSet(256, [Buffer.alloc(8)])]),
    '192.0.2.11',
    1,
    1,
  );
  dec.finish();
  assert.equal(rows().length, 0);
  assert.equal(diagnostics.get('problem.bad-template'), 1);
});
