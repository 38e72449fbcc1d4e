import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { packPayloadTimes } from '../../src/flow/payload-times.js';
import { FlowBatch, ipText, writeIp } from '../../src/flow/record.js';

test('IPv4 and IPv6 text round-trips in RFC 5952 form', () => {
  const cases = [
    '0.0.0.0',
    '175.45.176.1',
    '255.255.255.255',
    '::',
    '::1',
    '2001:db8::1',
    'fe80::1:0:0:1',
    '2001:db8::1:0:0:1',
    '1::',
    '2001:db8:85a3::8a2e:370:7334',
    '::ffff:10.1.2.3',
    '1:2:3:4:5:6:7:8',
  ];
  const buf = new Uint8Array(16);
  for (const c of cases) {
    const v = writeIp(buf, 0, c);
    assert.equal(v, isIP(c));
    assert.equal(ipText(buf, 0, v), c, c);
  }
  // Non-canonical input comes out canonical.
  writeIp(buf, 0, '2001:0DB8:0000:0000:0000:0000:0000:0001');
  assert.equal(ipText(buf, 0, 6), '2001:db8::1');
  writeIp(buf, 0, '::ffff:1.2.3.4');
  assert.equal(ipText(buf, 0, 6), '::ffff:1.2.3.4');
  assert.throws(() => writeIp(buf, 0, '1.2.3'));
  assert.throws(() => writeIp(buf, 0, '1.2.3.256'));
  assert.throws(() => writeIp(buf, 0, '1::2::3'));
});

test('FlowBatch stores records column-wise and gives them back', () => {
  const b = new FlowBatch(4, 'x.pcap');
  const rec = {
    firstMs: 1494979200123,
    lastMs: 1494979260456,
    ipVersion: 6 as const,
    src: '2001:db8::2',
    dst: '2001:db8::3',
    srcPort: 51000,
    dstPort: 8333,
    proto: 6,
    packets: 10,
    bytes: 2000,
    revPackets: 8,
    revBytes: 9000,
    tcpFlags: 0x1b,
    samplingRate: 1,
    exporter: '127.0.0.1',
    observationDomain: 7,
    source: 'x.pcap',
    position: 24,
    payloadFwd: Buffer.from('abc'),
    payloadRev: null,
    payloadTimesFwd: packPayloadTimes([
      [0, 1494979200123.25],
      [2, 1494979201000],
    ]),
    payloadTimesRev: null,
  };
  b.pushRecord(rec);
  assert.deepEqual(b.record(0), rec);
  b.pushRecord({
    ...rec,
    exporter: '',
    ipVersion: 4,
    src: '1.2.3.4',
    dst: '5.6.7.8',
    payloadTimesFwd: undefined,
  });
  assert.equal(b.record(1).src, '1.2.3.4');
  assert.equal(b.record(1).exporter, '');
  assert.equal(b.record(1).payloadTimesFwd, null);
  assert.equal(b.exporters.length, 2);
  b.push();
  b.push();
  assert.equal(b.full, true);
  assert.throws(() => b.push(), RangeError);
  // Segment times live in one column for the batch; records get their own copies.
  const kept = b.record(0);
  b.clear();
  b.pushRecord({ ...rec, payloadTimesFwd: packPayloadTimes([[0, 7]]) });
  assert.deepEqual(kept.payloadTimesFwd, rec.payloadTimesFwd);
  assert.deepEqual(b.payloadTimesFwdOf(0), packPayloadTimes([[0, 7]]));
  assert.equal(b.payloadTimesRevOf(0), null);
});
