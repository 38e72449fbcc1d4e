/**
 * Flow assembly semantics: orientation, timeouts, TCP close, byte counting, fragments without
 * reassembly (fragments.test.ts has reassembly), IPv4 options, IPv6 extension headers, payload samples.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import type { FlowRecord } from '../../src/flow/record.js';
import { PayloadClock, unpackPayloadTimes } from '../../src/flow/payload-times.js';
import { ether, ipv4, ipv6, type L4 } from './synth.js';
import { assemble, type Frame } from './assemble.js';

const T0 = 1_494_979_200_000; // 17 May 2017

const C = '10.0.0.2';
const S = '203.0.113.9';
const up = (l4: L4) => ether(ipv4(C, S, { sport: 50000, dport: 3333, ...l4 }));
const down = (l4: L4) => ether(ipv4(S, C, { sport: 3333, dport: 50000, ...l4 }));
const SYN = 2;
const ACK = 16;
const FIN = 1;
const RST = 4;
const PSH = 8;

function brief(f: FlowRecord) {
  return `${f.src}:${f.srcPort}>${f.dst}:${f.dstPort} ${f.packets}/${f.revPackets}`;
}

test('orientation: SYN sender is the source, SYN+ACK receiver is, else the lower port is the server', () => {
  // Client on a low port connecting to a high port: the SYN decides, not the ports.
  const lowClient = assemble([
    [T0, ether(ipv4(C, S, { sport: 80, dport: 40000, flags: SYN }))],
    [T0 + 1, ether(ipv4(S, C, { sport: 40000, dport: 80, flags: SYN | ACK }))],
  ]);
  assert.deepEqual(lowClient.map(brief), [`${C}:80>${S}:40000 1/1`]);
  // First packet seen is the SYN+ACK: its receiver initiated.
  const synAck = assemble([
    [T0, down({ flags: SYN | ACK })],
    [T0 + 1, up({ flags: ACK })],
  ]);
  assert.deepEqual(synAck.map(brief), [`${C}:50000>${S}:3333 1/1`]);
  // Mid-connection (no SYN): the lower port (3333) is the server, whoever spoke first.
  const mid = assemble([
    [T0, down({ flags: ACK | PSH, payload: 'x' })],
    [T0 + 1, up({ flags: ACK })],
    [T0 + 2, down({ flags: ACK })],
  ]);
  assert.deepEqual(mid.map(brief), [`${C}:50000>${S}:3333 1/2`]);
  // UDP: lower port is the server; equal ports: first sender is the source.
  const udp = assemble([
    [T0, ether(ipv4(S, C, { proto: 17, sport: 53, dport: 33000, payload: 'a' }))],
    [T0 + 1, ether(ipv4('10.9.9.9', '10.8.8.8', { proto: 17, sport: 5353, dport: 5353, payload: 'b' }))],
    [T0 + 2, ether(ipv4('10.8.8.8', '10.9.9.9', { proto: 17, sport: 5353, dport: 5353, payload: 'c' }))],
  ]);
  assert.deepEqual(udp.map(brief), [`${C}:33000>${S}:53 0/1`, '10.9.9.9:5353>10.8.8.8:5353 1/1']);
});

test('idle timeout (default 60 s) ends a flow; the next packet starts a new one', () => {
  const pk = (t: number) => [T0 + t, up({ flags: ACK })] as [number, Buffer];
  const diag = new Diagnostics();
  const flows = assemble([pk(0), pk(30_000), pk(90_000), pk(150_001)], {}, diag);
  // 0 → 30 s → 90 s (gap 60 s: not more than the timeout) → 150.001 s (gap 60.001 s: new flow).
  assert.deepEqual(
    flows.map((f) => [f.firstMs - T0, f.lastMs - T0, f.packets]),
    [
      [0, 90_000, 3],
      [150_001, 150_001, 1],
    ],
  );
  assert.equal(diag.get('flows.ended-idle'), 1);
  const short = assemble([pk(0), pk(6_000)], { idleTimeoutMs: 5_000 });
  assert.equal(short.length, 2);
});

test('active timeout (default 5 min, as nfpcapd) splits a long flow, keeping its orientation', () => {
  const packets: [number, Buffer][] = [[T0, up({ flags: SYN })]];
  // One packet each way every 20 s for 70 minutes.
  for (let t = 20_000; t <= 70 * 60_000; t += 20_000)
    packets.push([T0 + t, t % 40_000 ? down({ flags: ACK }) : up({ flags: ACK })]);
  const diag = new Diagnostics();
  const flows = assemble(packets, {}, diag);
  // 5-minute pieces; the packet at exactly 70:00 opens the fifteenth.
  assert.equal(flows.length, 15);
  assert.deepEqual(
    flows.map((f) => [f.src, f.srcPort, f.firstMs - T0]),
    Array.from({ length: 15 }, (_, k) => [C, 50000, k * 300_000]),
  );
  for (const f of flows) assert.ok(f.lastMs - f.firstMs < 300_000);
  assert.equal(
    flows.reduce((a, f) => a + f.packets + f.revPackets, 0),
    packets.length,
  );
  assert.equal(diag.get('flows.ended-active'), 14);
  // 30-minute pieces (Cisco's NetFlow default) when asked: three.
  assert.equal(assemble(packets, { activeTimeoutMs: 1_800_000 }).length, 3);
});

test('TCP FIN in both directions or RST ends a flow; trailing ACKs stay in it; a new SYN starts another', () => {
  const diag = new Diagnostics();
  const flows = assemble(
    [
      [T0, up({ flags: SYN, seq: 100 })],
      [T0 + 1, down({ flags: SYN | ACK })],
      [T0 + 2, up({ flags: ACK })],
      [T0 + 3, up({ flags: FIN | ACK })],
      [T0 + 4, down({ flags: FIN | ACK })],
      [T0 + 5, up({ flags: ACK })], // last ACK of the close
      [T0 + 1000, up({ flags: SYN, seq: 9000 })], // port reuse: new connection
      [T0 + 1001, down({ flags: RST | ACK })],
      [T0 + 1002, up({ flags: RST })], // trails the RST: same flow
      [T0 + 20_000, up({ flags: ACK })], // long after the RST: a new flow
    ],
    {},
    diag,
  );
  assert.deepEqual(
    flows.map((f) => [brief(f), f.tcpFlags]),
    [
      [`${C}:50000>${S}:3333 4/2`, SYN | ACK | FIN],
      [`${C}:50000>${S}:3333 2/1`, SYN | RST | ACK],
      [`${C}:50000>${S}:3333 1/0`, ACK],
    ],
  );
  assert.equal(diag.get('flows.ended-port-reuse'), 1);
  assert.equal(diag.get('flows.ended-tcp-close'), 1);
  assert.equal(diag.get('flows.ended-eof'), 1);
  // A FIN from one side only does not end the flow.
  const half = assemble([
    [T0, up({ flags: FIN | ACK })],
    [T0 + 10_000, down({ flags: ACK, payload: 'more' })],
  ]);
  assert.equal(half.length, 1);
});

test('bytes are IP-layer bytes (IPv4 total length), not frame bytes; position is the first packet', () => {
  const flows = assemble([
    [T0, up({ flags: SYN })], // 40-byte IP packet in a 60-byte padded frame
    [T0 + 1, down({ flags: SYN | ACK, payload: Buffer.alloc(100) })],
  ]);
  assert.equal(flows[0].bytes, 40);
  assert.equal(flows[0].revBytes, 140);
  assert.equal(flows[0].position, 24);
});

test('IPv4 options are skipped to reach the transport header', () => {
  const opts = Buffer.from([0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00]); // router alert, NOP, NOP, NOP, EOL
  const flows = assemble([
    [T0, ether(ipv4(C, S, { sport: 50000, dport: 3333, flags: SYN, payload: 'hi' }, { options: opts }))],
  ]);
  assert.deepEqual([flows[0].srcPort, flows[0].dstPort, flows[0].bytes], [50000, 3333, 20 + 8 + 20 + 2]);
  assert.equal(flows[0].payloadFwd?.toString(), 'hi');
});

test('reassemble: false counts every IPv4 fragment without ports (fragments.test.ts: reassembly)', () => {
  const diag = new Diagnostics();
  const flows = assemble(
    [
      [
        T0,
        ether(
          ipv4(C, S, { proto: 17, sport: 40000, dport: 53, payload: Buffer.alloc(1000) }, { frag: 0x2000 }),
        ),
      ],
      [
        T0 + 1,
        ether(ipv4(C, S, { proto: 17, sport: 0, dport: 0, payload: Buffer.alloc(500) }, { frag: 126 })),
      ],
      [T0 + 2, ether(ipv4(C, S, { proto: 17, sport: 40000, dport: 53, payload: 'whole' }))],
    ],
    { reassemble: false },
    diag,
  );
  assert.equal(diag.get('ipv4.fragments-not-reassembled'), 2);
  assert.deepEqual(
    flows.map((f) => [f.srcPort, f.dstPort, f.packets, f.bytes]).sort(),
    [
      [0, 0, 2, 1028 + 528],
      [40000, 53, 1, 33],
    ].sort(),
  );
});

test('IPv6 extension headers are walked to the transport header; fragments counted', () => {
  const hop = { type: 0, body: Buffer.alloc(6) };
  const dst = { type: 60, body: Buffer.alloc(14) };
  const rt = { type: 43, body: Buffer.from([0, 0, 0, 0, 0, 0]) };
  const diag = new Diagnostics();
  const flows = assemble(
    [
      [
        T0,
        ether(
          ipv6('2001:db8::1', '2001:db8::2', { sport: 40000, dport: 18080, flags: SYN, payload: 'levin' }, [
            hop,
            rt,
            dst,
          ]),
        ),
      ],
      [
        T0 + 1,
        ether(
          ipv6('2001:db8::1', '2001:db8::2', { proto: 17, sport: 0, dport: 0, payload: Buffer.alloc(64) }, [
            { type: 44, body: Buffer.from([0, 8, 0, 0, 0, 1]) },
          ]),
        ),
      ],
    ],
    {},
    diag,
  );
  const tcp = flows.find((f) => f.proto === 6)!;
  assert.deepEqual(
    [tcp.src, tcp.dst, tcp.srcPort, tcp.dstPort, tcp.bytes],
    ['2001:db8::1', '2001:db8::2', 40000, 18080, 40 + 8 + 8 + 16 + 20 + 5],
  );
  assert.equal(tcp.payloadFwd?.toString(), 'levin');
  assert.equal(diag.get('ipv6.fragments-not-reassembled'), 1);
  const frag = flows.find((f) => f.proto === 17)!;
  assert.deepEqual([frag.srcPort, frag.dstPort, frag.bytes], [0, 0, 40 + 8 + 8 + 64]);
});

test('ICMP is counted and kept as a flow between the two hosts', () => {
  const diag = new Diagnostics();
  const flows = assemble(
    [
      [T0, ether(ipv4(C, S, { proto: 1, payload: 'ping' }))],
      [T0 + 1, ether(ipv4(S, C, { proto: 1, payload: 'pong' }))],
    ],
    {},
    diag,
  );
  assert.equal(diag.get('packets.icmp'), 2);
  assert.deepEqual(flows.map(brief), [`${C}:0>${S}:0 1/1`]);
});

test('payload samples: per direction, arrival order, retransmissions skipped, capped', () => {
  const seg = (seq: number, text: string) => up({ flags: ACK | PSH, seq, payload: text });
  const stream = '{"id":1,"method":"login"}';
  const flows = assemble(
    [
      [T0, up({ flags: SYN, seq: 999 })],
      [T0 + 1, down({ flags: SYN | ACK, seq: 5000 })],
      [T0 + 2, seg(1000, stream.slice(0, 8))],
      [T0 + 3, seg(1000, stream.slice(0, 8))], // exact retransmission
      [T0 + 4, seg(1008, stream.slice(8, 17))],
      [T0 + 5, seg(1004, stream.slice(4, 24))], // overlaps: only the new tail is kept
      [T0 + 6, down({ flags: ACK | PSH, seq: 5001, payload: 'result' })],
      [T0 + 7, seg(1010, stream.slice(10, 15))], // inside the covered range
    ],
    { payloadCap: 2048 },
  );
  assert.equal(flows[0].payloadFwd?.toString(), '{"id":1,"method":"login"');
  assert.equal(flows[0].payloadRev?.toString(), 'result');
  // The cap applies to each direction separately.
  const big: [number, Buffer][] = [[T0, up({ flags: SYN, seq: 0 })]];
  for (let k = 0; k < 5; k++)
    big.push([T0 + 1 + k, up({ flags: ACK, seq: 1 + k * 1000, payload: Buffer.alloc(1000, 65 + k) })]);
  big.push([T0 + 10, down({ flags: ACK, seq: 1, payload: Buffer.alloc(900, 0x7a) })]);
  const capped = assemble(big, { payloadCap: 2500 })[0];
  assert.equal(capped.payloadFwd?.length, 2500);
  assert.equal(capped.payloadFwd?.toString('latin1', 1998, 2002), 'BBCC');
  assert.equal(capped.payloadRev?.length, 900);
  assert.equal(assemble(big)[0].payloadFwd?.length, 2048, 'default cap 2 KiB');
  const none = assemble(big, { payloadCap: 0 })[0];
  assert.equal(none.payloadFwd, null);
  assert.equal(none.payloadRev, null);
  // UDP datagrams are concatenated.
  const udp = assemble([
    [T0, ether(ipv4(C, S, { proto: 17, sport: 40000, dport: 3333, payload: 'ab' }))],
    [T0 + 1, ether(ipv4(C, S, { proto: 17, sport: 40000, dport: 3333, payload: 'cd' }))],
  ])[0];
  assert.equal(udp.payloadFwd?.toString(), 'abcd');
});

test('payload segment times: one (offset, capture time) per segment kept, capped, none without payload', () => {
  const seg = (t: number, seq: number, text: string) =>
    [t, up({ flags: ACK | PSH, seq, payload: text })] as [number, Buffer];
  const stream = '{"id":1,"method":"login"}';
  const flows = assemble(
    [
      [T0, up({ flags: SYN, seq: 999 })],
      [T0 + 1, down({ flags: SYN | ACK, seq: 5000 })],
      seg(T0 + 2.125, 1000, stream.slice(0, 8)),
      seg(T0 + 3, 1000, stream.slice(0, 8)), // retransmission: no bytes kept, no entry
      seg(T0 + 4.5, 1008, stream.slice(8, 17)),
      seg(T0 + 5, 1004, stream.slice(4, 24)), // overlap: the new tail starts at 17
      [T0 + 6, down({ flags: ACK | PSH, seq: 5001, payload: 'result' })],
      [T0 + 7, down({ flags: ACK | PSH, seq: 5007, payload: '\n' })],
    ],
    { payloadCap: 2048 },
  );
  assert.deepEqual(unpackPayloadTimes(flows[0].payloadTimesFwd), [
    [0, T0 + 2.125],
    [8, T0 + 4.5],
    [17, T0 + 5],
  ]);
  assert.deepEqual(unpackPayloadTimes(flows[0].payloadTimesRev), [
    [0, T0 + 6],
    [6, T0 + 7],
  ]);
  const clock = new PayloadClock(flows[0].payloadTimesFwd);
  assert.deepEqual(
    [0, 7, 8, 16, 17, 23, 3].map((o) => clock.at(o)),
    [T0 + 2.125, T0 + 2.125, T0 + 4.5, T0 + 4.5, T0 + 5, T0 + 5, T0 + 2.125],
  );

  // A segment beyond the payload cap starts outside the sample: no entry. 100-byte cap → 16 entries.
  const many: [number, Buffer][] = [[T0, up({ flags: SYN, seq: 0 })]];
  for (let k = 0; k < 40; k++) many.push(seg(T0 + 10 + k, 1 + k * 2, 'ab'));
  const capped = assemble(many, { payloadCap: 100 })[0];
  const entries = unpackPayloadTimes(capped.payloadTimesFwd);
  assert.equal(entries.length, 16);
  assert.deepEqual(entries[14], [28, T0 + 24]);
  // The last entry says: bytes from offset 30 on came at times not kept.
  assert.equal(entries[15][0], 30);
  assert.ok(Number.isNaN(entries[15][1]));
  assert.ok(Number.isNaN(new PayloadClock(capped.payloadTimesFwd).at(60)));
  // Exactly 25 segments fill a 50-byte sample: the 26th starts outside it, so no marker.
  const full = assemble(many.slice(0, 26), { payloadCap: 1000 })[0];
  assert.equal(unpackPayloadTimes(full.payloadTimesFwd).length, 25);
  assert.ok(unpackPayloadTimes(full.payloadTimesFwd).every(([, ms]) => Number.isFinite(ms)));
  const edge = assemble(many, { payloadCap: 50 })[0];
  assert.equal(edge.payloadFwd?.length, 50);
  assert.equal(unpackPayloadTimes(edge.payloadTimesFwd).length, 16);

  // No payload, no times; payload cap 0, no times.
  const bare = assemble([
    [T0, up({ flags: SYN, seq: 0 })],
    [T0 + 1, down({ flags: SYN | ACK, seq: 0 })],
  ])[0];
  assert.equal(bare.payloadTimesFwd, null);
  assert.equal(bare.payloadTimesRev, null);
  assert.equal(assemble(many, { payloadCap: 0 })[0].payloadTimesFwd, null);
  // UDP: one entry per datagram.
  const udp = assemble([
    [T0, ether(ipv4(C, S, { proto: 17, sport: 40000, dport: 3333, payload: 'ab' }))],
    [T0 + 1, ether(ipv4(C, S, { proto: 17, sport: 40000, dport: 3333, payload: 'cd' }))],
  ])[0];
  assert.deepEqual(unpackPayloadTimes(udp.payloadTimesFwd), [
    [0, T0],
    [2, T0 + 1],
  ]);
});

test('many flows: batches of batchSize, every flow out once, table grows', () => {
  const packets: [number, Buffer][] = [];
  for (let k = 0; k < 5000; k++) {
    const ip = `10.${(k >> 8) & 255}.${k & 255}.1`;
    packets.push([
      T0 + k,
      ether(ipv4(ip, S, { proto: 17, sport: 1024 + (k % 50000), dport: 53, payload: 'q' })),
    ]);
    packets.push([
      T0 + k,
      ether(ipv4(S, ip, { proto: 17, sport: 53, dport: 1024 + (k % 50000), payload: 'r' })),
    ]);
  }
  const flows = assemble(packets, { batchSize: 4096 });
  assert.equal(flows.length, 5000);
  assert.ok(flows.every((f) => f.packets === 1 && f.revPackets === 1 && f.dstPort === 53));
});

test('maxFlows bounds the table: the least recently seen flow is ended first and counted', () => {
  const diag = new Diagnostics();
  const pkt = (k: number, t: number) =>
    [T0 + t, ether(ipv4(`10.0.0.${k}`, S, { proto: 17, sport: 40000, dport: 53, payload: 'q' }))] as [
      number,
      Buffer,
    ];
  // Flows 1, 2, 3 open; 1 is seen again; flow 4 needs room: 2 (least recently seen) goes.
  const flows = assemble(
    [pkt(1, 0), pkt(2, 1), pkt(3, 2), pkt(1, 3), pkt(4, 4), pkt(2, 5)],
    { maxFlows: 3 },
    diag,
  );
  assert.deepEqual(
    flows.map((f) => `${f.src} ${f.packets}`),
    ['10.0.0.2 1', '10.0.0.3 1', '10.0.0.1 2', '10.0.0.4 1', '10.0.0.2 1'],
  );
  assert.equal(diag.get('flows.ended-table-full'), 2);
});

test('crafted packets do not pile up in one hash chain: 4,000 flows from an endpoint to itself, and 4,000 whose endpoints XOR to one value', () => {
  // A packet from A:p to A:p has equal endpoint hashes; an unseeded symmetric XOR of the two would
  // give every such flow, of any address, one hash. The second set keeps source XOR destination
  // constant, which an XOR of the raw fields would also put in one chain.
  const ip = (x: number) => [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255].join('.');
  const udp = { proto: 17, sport: 40000, dport: 40000, payload: 'x' };
  for (const other of [(a: number) => a, (a: number) => (a ^ 0x5a5a5a5a) >>> 0]) {
    const frames: Frame[] = [];
    for (let k = 0; k < 4000; k++) {
      const a = 0x0a000000 + k;
      frames.push([1_494_979_200_000 + k, ether(ipv4(ip(a), ip(other(a)), udp))]);
    }
    let longest = 0;
    let open = 0;
    const flows = assemble(frames, { batchSize: 4096 }, new Diagnostics(), (t) => {
      open = t.openFlows;
      if ((open & 511) === 0) longest = Math.max(longest, t.longestChain);
    });
    assert.equal(open, 4000);
    assert.equal(flows.length, 4000);
    assert.ok(longest <= 12, `longest chain ${longest}`);
  }
});
