// The sFlow v5 decoder on datagrams built by src/sflow/encode.ts: every sample kind, both agent
// address families, packets from raw headers (Ethernet, IPv4, IPv6) and from sampled IP records,
// and bad input located, counted and skipped while the rest of the datagram is kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import type { FlowBatch, FlowRecord } from '../../src/flow/record.js';
import { SflowDecoder } from '../../src/sflow/decoder.js';
import {
  counterSample,
  extendedRouterRecord,
  extendedSwitchRecord,
  flowSample,
  rawHeaderRecord,
  sampledIpRecord,
  sflowDatagram,
} from '../../src/sflow/encode.js';
import { ether, ipv4, ipv6 } from '../capture/synth.js';

function decodeAll(datagrams: Buffer[], o: { maxAgents?: number; batchSize?: number } = {}) {
  const diagnostics = new Diagnostics();
  const batches: FlowBatch[] = [];
  const dec = new SflowDecoder({
    source: 'test',
    unit: 'datagram',
    diagnostics,
    onBatch: (b) => batches.push(b),
    ...o,
  });
  datagrams.forEach((d, k) => dec.decode(d, k + 1, 1_700_000_000_000 + k));
  dec.finish();
  const rows: FlowRecord[] = batches.flatMap((b) => [...b.records()]);
  return { rows, diagnostics, dec, batches };
}

const tcp = ipv4('10.0.0.1', '10.0.0.2', {
  proto: 6,
  sport: 40000,
  dport: 8333,
  flags: 0x18,
  payload: Buffer.alloc(100),
});
const udp6 = ipv6('2001:db8::1', '2001:db8::2', {
  proto: 17,
  sport: 5353,
  dport: 53,
  payload: Buffer.alloc(30),
});

test('flow samples: raw Ethernet/IPv4/IPv6 headers, sampled IP records, rates, agents, counters counted', () => {
  const frame = ether(tcp);
  const d1 = sflowDatagram(
    [
      flowSample([rawHeaderRecord(frame.subarray(0, 64), frame.length + 4), extendedSwitchRecord()], {
        rate: 1,
      }),
      flowSample([rawHeaderRecord(udp6, udp6.length, 12, 0), extendedRouterRecord()], {
        rate: 512,
        expanded: true,
      }),
      counterSample(1),
      counterSample(2, true),
      flowSample([rawHeaderRecord(tcp, tcp.length, 11, 0)], { rate: 4 }),
      flowSample(
        [
          sampledIpRecord({
            length: 1500,
            proto: 6,
            src: '10.1.1.1',
            dst: '10.2.2.2',
            srcPort: 3333,
            dstPort: 4444,
            tcpFlags: 2,
          }),
        ],
        { rate: 2 },
      ),
    ],
    { agent: '192.0.2.9', subAgent: 3, seq: 7 },
  );
  const d2 = sflowDatagram([flowSample([rawHeaderRecord(frame, frame.length + 4)], { rate: 8 })], {
    agent: '2001:db8::a',
    seq: 1,
  });
  const { rows, diagnostics } = decodeAll([d1, d2]);
  assert.equal(rows.length, 5);
  const [a, b, c, e, f] = rows;
  assert.deepEqual(
    [
      a.src,
      a.dst,
      a.srcPort,
      a.dstPort,
      a.proto,
      a.tcpFlags,
      a.packets,
      a.bytes,
      a.samplingRate,
      a.exporter,
      a.observationDomain,
    ],
    ['10.0.0.1', '10.0.0.2', 40000, 8333, 6, 0x18, 1, frame.length + 4, 1, '192.0.2.9', 3],
  );
  assert.deepEqual(
    [b.src, b.dst, b.srcPort, b.dstPort, b.proto, b.ipVersion, b.bytes, b.samplingRate],
    ['2001:db8::1', '2001:db8::2', 5353, 53, 17, 6, udp6.length, 512],
  );
  assert.deepEqual([c.src, c.dstPort, c.bytes, c.samplingRate], ['10.0.0.1', 8333, tcp.length, 4]);
  assert.deepEqual(
    [e.src, e.dst, e.srcPort, e.dstPort, e.tcpFlags, e.bytes, e.samplingRate],
    ['10.1.1.1', '10.2.2.2', 3333, 4444, 2, 1500, 2],
  );
  assert.equal(f.exporter, '2001:db8::a');
  assert.equal(f.position, 2);
  assert.equal(f.firstMs, 1_700_000_000_001);
  assert.equal(diagnostics.get('sflow.counter-samples'), 2);
  assert.equal(diagnostics.get('sflow.flow-samples'), 5);
  assert.equal(diagnostics.get('sflow.extended-switch'), 1);
  assert.equal(diagnostics.get('sflow.extended-router'), 1);
  assert.equal(diagnostics.get('records'), 5);
  assert.equal(diagnostics.get('problems'), 0);
});

test('bad input: a truncated sample is located and counted, the samples before it are kept', () => {
  const good = flowSample([rawHeaderRecord(tcp, tcp.length, 11, 0)]);
  const d = sflowDatagram([good, good, good]);
  const cut = d.subarray(0, d.length - 10);
  const bad = Buffer.from(d);
  bad.writeUInt32BE(9, 4); // agent address type 9
  const { rows, diagnostics } = decodeAll([cut, bad, Buffer.from([0, 0, 0, 5]), d]);
  assert.equal(rows.length, 2 + 3);
  assert.equal(diagnostics.get('problem.truncated-sample'), 1);
  assert.equal(diagnostics.get('problem.bad-agent-address'), 1);
  assert.equal(diagnostics.get('problem.bad-version'), 1);
  assert.equal(diagnostics.get('sflow.samples-skipped'), 1);
  const p = diagnostics.problems[0];
  assert.equal(p.offset, 1);
  assert.equal(p.unit, 'datagram');
  assert.match(
    p.message,
    /sample 2 of \d+ bytes runs past the datagram's end .*at byte \d+ of the sFlow datagram/,
  );
});

test('a record that runs past its sample skips that sample only; non-IP headers are counted', () => {
  const good = flowSample([rawHeaderRecord(tcp, tcp.length, 11, 0)]);
  const broken = flowSample([rawHeaderRecord(tcp, tcp.length, 11, 0)]);
  broken.writeUInt32BE(5000, 8 + 32 + 4); // the record's length
  const arp = Buffer.alloc(42);
  arp.writeUInt16BE(0x0806, 12);
  const d = sflowDatagram([good, broken, flowSample([rawHeaderRecord(arp, 64)]), good]);
  const { rows, diagnostics } = decodeAll([d]);
  assert.equal(rows.length, 2);
  assert.equal(diagnostics.get('problem.truncated-record'), 1);
  assert.equal(diagnostics.get('sflow.samples-not-ip'), 1);
});

test('sequence numbers: gaps counted per agent, drops and rate kept per agent, the agent table is bounded', () => {
  const s = flowSample([rawHeaderRecord(tcp, tcp.length, 11, 0)]);
  const seqs = [1, 2, 5, 6, 4];
  const { diagnostics, dec } = decodeAll(seqs.map((seq) => sflowDatagram([s], { seq, agent: '192.0.2.1' })));
  assert.equal(diagnostics.get('datagrams.missing'), 1); // 3 and 4 missing, then 4 came late
  assert.equal(diagnostics.get('sequence.late'), 1);
  assert.equal(dec.agentStats()[0].missingDatagrams, 1);
  const many = Array.from({ length: 20 }, (_, k) => sflowDatagram([s], { agent: `198.51.100.${k}` }));
  const withDrops = decodeAll([
    sflowDatagram([flowSample([rawHeaderRecord(tcp, tcp.length, 11, 0)], { drops: 7, rate: 10 })]),
    sflowDatagram(
      [flowSample([rawHeaderRecord(tcp, tcp.length, 11, 0)], { drops: 42, rate: 20, expanded: true })],
      {
        seq: 2,
      },
    ),
  ]);
  assert.deepEqual(
    withDrops.dec.agentStats().map((a) => [a.drops, a.samplingRate, a.missingDatagrams]),
    [[42, 20, 0]],
  );
  const capped = decodeAll(many, { maxAgents: 4 });
  assert.equal(capped.rows.length, 20, 'datagrams of refused agents are still decoded');
  assert.equal(capped.dec.agentStats().length, 4);
  assert.equal(capped.diagnostics.get('sflow.agents-refused-cap'), 16);
});

test('batches rotate when full and the agent column survives the rotation', () => {
  const s = flowSample([rawHeaderRecord(tcp, tcp.length, 11, 0)]);
  const d = sflowDatagram([s, s, s, s, s], { agent: '203.0.113.5' });
  const { rows, batches } = decodeAll([d, d], { batchSize: 3 });
  assert.equal(batches.length, 4);
  assert.equal(rows.length, 10);
  assert.ok(rows.every((r) => r.exporter === '203.0.113.5'));
});
