// One port takes NetFlow and sFlow: the live collector's receiver routes datagrams that start with
// the sFlow version word to the sFlow decoder and the rest to the NetFlow decoder; both kinds are
// stored, sFlow rows under their agent address with their rate, and an sFlow datagram cut short is
// a located problem that does not stop the collector.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { NetflowCollector } from '../../src/netflow/collector.js';
import { v5Packet } from '../../src/netflow/encode.js';
import { flowSample, rawHeaderRecord, sflowDatagram } from '../../src/sflow/encode.js';
import { openFlowStore } from '../../src/store/open.js';
import { ipv4 } from '../capture/synth.js';
import { sleep } from '../netflow/peers.js';

test('collect: NetFlow v5 and sFlow v5 on one port, both stored; a cut sFlow datagram is a located problem', async () => {
  const store = await openFlowStore(':memory:');
  const sock = createSocket('udp4');
  try {
    const collector = await NetflowCollector.start({ listen: 'udp://127.0.0.1:0', store, flushMs: 50 });
    const send = (b: Buffer) =>
      new Promise<void>((res, rej) => sock.send(b, collector.port, '127.0.0.1', (e) => (e ? rej(e) : res())));
    const inner = ipv4('10.0.0.5', '10.0.0.6', {
      proto: 17,
      sport: 5000,
      dport: 3333,
      payload: Buffer.alloc(20),
    });
    const sflow = sflowDatagram([flowSample([rawHeaderRecord(inner, inner.length, 11, 0)], { rate: 256 })], {
      agent: '203.0.113.77',
      subAgent: 2,
    });
    const v5 = v5Packet({ sysUptime: 10_000, unixSecs: 1_700_000_000 }, [
      {
        src: '192.0.2.1',
        dst: '192.0.2.2',
        srcPort: 1,
        dstPort: 2,
        proto: 6,
        packets: 3,
        bytes: 300,
        first: 9000,
        last: 9500,
      },
    ]);
    await send(sflow);
    await send(v5);
    await send(sflow.subarray(0, sflow.length - 12));
    for (let k = 0; k < 100 && collector.datagramsRead() < 3; k++) await sleep(10);
    const r = await collector.stop();
    const rows = await store.flows({ where: 'true' });
    const byProto = new Map(rows.map((f) => [f.proto, f]));
    assert.equal(rows.length, 2, JSON.stringify(rows));
    const s = byProto.get(17)!;
    assert.deepEqual(
      [s.src, s.dst, s.sport, s.dport, s.packets, s.bytes, s.sampling_rate, s.exporter, s.observation_domain],
      ['10.0.0.5', '10.0.0.6', 5000, 3333, 1, inner.length, 256, '203.0.113.77', 2],
    );
    const n = byProto.get(6)!;
    assert.deepEqual([n.src, n.packets, n.bytes, n.exporter], ['192.0.2.1', 3, 300, '127.0.0.1']);
    assert.equal(r.diagnostics.get('sflow.datagrams'), 2);
    assert.equal(r.diagnostics.get('problem.truncated-sample'), 1);
    const p = r.diagnostics.problems.find((x) => x.kind === 'truncated-sample')!;
    assert.equal(p.unit, 'datagram');
    assert.equal(p.offset, 3);
    assert.equal(r.samplingByExporter['203.0.113.77'], 256);
    assert.deepEqual(
      r.sflowAgents.map((a) => [a.agent, a.subAgent, a.datagrams, a.samplingRate]),
      [['203.0.113.77', 2, 2, 256]],
    );
  } finally {
    sock.close();
    await store.close();
  }
});
