/**
 * Ethereum P2P on real traffic: ethereum.pcap of nDPI's corpus (RLPx handshakes on TCP 30303,
 * discv4 on UDP), judged against nDPI's own verdicts; no Ethereum detection in any other capture
 * of the corpus; the discv5 unmasking on the published wire test vectors; mutations of real
 * packets that must stop being recognised.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadInfrastructure } from '../../src/detect/infrastructure.js';
import { createDetector, detectFlow } from '../../src/detect/registry.js';
import {
  discv4Type,
  discv5Flag,
  makeEthereumMatcher,
  onSecp256k1,
  rlpxHandshake,
} from '../../src/detect/ethereum.js';
import type { FlowRecord } from '../../src/flow/record.js';
import { flowRecord } from './flow-record.js';
import {
  NDPI_TRAIN,
  captureRecords,
  ndpiTrainCaptures,
  ndpiTrainSkip,
  ndpiVerdicts,
  recordOf,
} from './ndpi-train.js';

const detector = createDetector(loadInfrastructure());
const ETH = join(NDPI_TRAIN, 'ethereum.pcap');
const skip = ndpiTrainSkip;

test(
  'ethereum.pcap: every flow nDPI calls ETHEREUM by DPI is ethereum-p2p by payload; its port-only flows are scans',
  { skip },
  async () => {
    const flows = await captureRecords(ETH);
    const verdicts = ndpiVerdicts(ETH);
    assert.equal(verdicts.length, 74, 'nDPI lists 74 flows');
    const byDpi = verdicts.filter((v) => v.confidence === 'DPI');
    assert.equal(byDpi.length, 71);
    let tcp = 0;
    let udp = 0;
    for (const v of verdicts) {
      assert.equal(v.app, 'ETHEREUM');
      const f = recordOf(flows, v);
      assert.ok(f, `${v.proto} ${v.a} <-> ${v.b} is a flow`);
      const dets = detectFlow(detector, f);
      assert.equal(dets.length, 1, `${v.a} <-> ${v.b}: ${JSON.stringify(dets)}`);
      const [d] = dets;
      if (v.confidence === 'DPI') {
        assert.equal(d.label, 'ethereum-p2p', `${v.a} <-> ${v.b}: ${d.label} ${d.evidence.detail}`);
        assert.equal(d.confidence, 'payload');
        assert.equal(d.coin, 'ETH');
        assert.equal(d.evidence.rule, v.proto === 'TCP' ? 'ethereum.rlpx' : 'ethereum.discv4');
        if (v.proto === 'TCP') tcp++;
        else udp++;
      } else {
        // nDPI's "Match by port" flows here are SYNs nobody answered.
        assert.equal(v.confidence, 'Match by port');
        assert.equal(d.label, 'scan', `${v.a} <-> ${v.b}: ${d.label}`);
        assert.equal(d.confidence, 'port');
      }
    }
    assert.ok(tcp >= 50 && udp >= 15, `${tcp} RLPx and ${udp} discovery flows`);
  },
);

test(
  'ethereum.pcap: RLPx handshakes are EIP-8 auth (client) and auth-ack (server), sizes as prefixed',
  { skip },
  async () => {
    const flows = (await captureRecords(ETH)).filter((f) => f.proto === 6 && f.payloadFwd);
    let both = 0;
    for (const f of flows) {
      const auth = rlpxHandshake(f.payloadFwd, f.payloadTimesFwd);
      assert.ok(auth, `${f.srcPort}: the client's first message is an auth`);
      assert.equal(auth.format, 'eip8');
      assert.equal(auth.size, f.payloadFwd!.readUInt16BE(0) + 2);
      const ack = rlpxHandshake(f.payloadRev, f.payloadTimesRev);
      if (ack) {
        both++;
        assert.equal(ack.size, f.payloadRev!.readUInt16BE(0) + 2);
        // An ack carries a shorter body than an auth (no signature): 215 + padding vs 280 + padding.
        assert.ok(ack.size < 600 && auth.size > 300, `${auth.size} / ${ack.size}`);
      }
    }
    assert.ok(flows.length >= 50 && both >= flows.length - 6, `${both} of ${flows.length} with both`);
  },
);

test(
  'ethereum.pcap with the payload stripped: every flow gets a port hint naming the server side, or a scan',
  { skip },
  async () => {
    const flows = await captureRecords(ETH, 0);
    assert.equal(flows.length, 74);
    const sides = new Map<string, number>();
    for (const f of flows) {
      const dets = detectFlow(detector, f);
      assert.equal(dets.length, 1, `${f.src}:${f.srcPort} -> ${f.dst}:${f.dstPort}: nothing`);
      const [d] = dets;
      assert.ok(['crypto-port', 'scan'].includes(d.label));
      assert.equal(d.confidence, 'port');
      const server = String(d.evidence.server);
      sides.set(server, (sides.get(server) ?? 0) + 1);
      // The server is the end on 30303 (or both ends when both use it).
      const expect =
        f.srcPort === 30303 && f.dstPort === 30303 ? 'both' : f.dstPort === 30303 ? 'destination' : 'source';
      assert.equal(server, expect, `${f.src}:${f.srcPort} -> ${f.dst}:${f.dstPort}`);
    }
    // The flows whose listed port is the source, facing a lower random port, got nothing before.
    assert.ok((sides.get('source') ?? 0) >= 4, JSON.stringify([...sides]));
  },
);

test(
  'no Ethereum (or any payload/infrastructure) detection in the other ndpi-train captures',
  { skip },
  async () => {
    const others = ndpiTrainCaptures().filter((f) => f !== 'ethereum.pcap');
    assert.ok(others.length >= 250, `${others.length} captures`);
    let flows = 0;
    const wrong: string[] = [];
    for (const name of others) {
      for (const f of await captureRecords(join(NDPI_TRAIN, name))) {
        flows++;
        for (const d of detectFlow(detector, f))
          if (d.label === 'ethereum-p2p' || d.confidence === 'payload' || d.confidence === 'infrastructure')
            wrong.push(
              `${name} ${f.src}:${f.srcPort} -> ${f.dst}:${f.dstPort} ${d.label} ${d.evidence.detail}`,
            );
      }
    }
    assert.ok(flows >= 2000, `${flows} flows`);
    assert.deepEqual(wrong, []);
  },
);

function firstUdpFlow(flows: FlowRecord[], dir: 'fwd' | 'rev'): FlowRecord {
  const f = flows.find((x) => x.proto === 17 && (dir === 'fwd' ? x.payloadFwd : x.payloadRev));
  assert.ok(f);
  return f;
}

test(
  'real packets changed in one bit are not recognised: discv4 hash, RLPx public key',
  { skip },
  async () => {
    const flows = await captureRecords(ETH);
    const u = firstUdpFlow(flows, 'fwd');
    const pkt = Buffer.from(u.payloadFwd!);
    const end =
      u.payloadTimesFwd && u.payloadTimesFwd.length > 12 ? u.payloadTimesFwd.readUInt32LE(12) : pkt.length;
    assert.ok(discv4Type(pkt, 0, end) >= 1);
    for (const at of [0, 31, 40, 97, end - 1]) {
      const m = Buffer.from(pkt);
      m[at] ^= 0x01;
      assert.equal(discv4Type(m, 0, end), 0, `bit flipped at ${at}`);
    }
    const t = flows.find((x) => x.proto === 6 && x.payloadFwd)!;
    const auth = Buffer.from(t.payloadFwd!);
    assert.ok(onSecp256k1(auth, 3));
    for (const at of [3, 35, 66]) {
      const m = Buffer.from(auth);
      m[at] ^= 0x01;
      assert.equal(onSecp256k1(m, 3), false, `bit flipped at ${at}`);
      assert.equal(rlpxHandshake(m, t.payloadTimesFwd), null);
    }
    // A size prefix that does not fit the segment is not an auth.
    const wrongSize = Buffer.from(auth);
    wrongSize.writeUInt16BE(wrongSize.readUInt16BE(0) - 3, 0);
    assert.equal(rlpxHandshake(wrongSize, t.payloadTimesFwd), null);
  },
);

// devp2p discv5/discv5-wire-test-vectors.md: "Ping message packet (flag 0)" and "WHOAREYOU packet
// (flag 1)", both addressed to node B.
const V5_PING = Buffer.from(
  '00000000000000000000000000000000088b3d4342774649325f313964a39e55ea96c005ad52be8c7560413a7008f16c9e6d2f43bbea8814a546b7409ce783d34c4f53245d08dab84102ed931f66d1db57c785865ffccae8689057103acb15',
  'hex',
);
const V5_WHOAREYOU = Buffer.from(
  '00000000000000000000000000000000088b3d434277464933a1ccc59f5967ad1d6035f15e528627dde75cd68292f9e6c27d6b66c8100a873fcbaed4e16b8d',
  'hex',
);
const NODE_B = Buffer.from('bbbb9d047f0488c0b5a93c1c3f2d8bafc7c8ff337024a55434a0d0555de64db9', 'hex');
const NODE_A = Buffer.from('aaaa8419e9f49d0083561b48287df592939a8d19947d8c0ef88f2a4856a69fbb', 'hex');

test('discv5: the spec test vectors unmask with the recipient id only; unknown recipients are not guessed', () => {
  assert.equal(discv5Flag(V5_PING, 0, V5_PING.length, NODE_B), 0);
  assert.equal(discv5Flag(V5_WHOAREYOU, 0, V5_WHOAREYOU.length, NODE_B), 1);
  assert.equal(discv5Flag(V5_PING, 0, V5_PING.length, NODE_A), -1);
  assert.equal(discv5Flag(V5_PING, 0, V5_PING.length - 40, NODE_B), -1, 'authdata beyond the packet');
  // A flow A -> B of the two packets (segment times give the datagram boundaries).
  const times = Buffer.alloc(24);
  times.writeUInt32LE(0, 0);
  times.writeDoubleLE(1.7e12, 4);
  times.writeUInt32LE(V5_PING.length, 12);
  times.writeDoubleLE(1.7e12 + 5, 16);
  const flow = {
    proto: 17,
    srcPort: 9000,
    dstPort: 9000,
    payloadFwd: Buffer.concat([V5_PING, V5_WHOAREYOU]),
    payloadRev: null,
    payloadTimesFwd: times,
  };
  const [d] = makeEthereumMatcher([NODE_B]).match(flow);
  assert.equal(d.label, 'ethereum-p2p');
  assert.equal(d.evidence.rule, 'ethereum.discv5');
  assert.deepEqual(d.evidence.discv5, { fwd: 2, rev: 0 });
  // Without the recipient's id the same bytes are not recognised (the default matcher knows none).
  assert.deepEqual(makeEthereumMatcher().match(flow), []);
  assert.deepEqual(detectFlow(detector, flowRecord({ ...flow, packets: 2, bytes: 300 })), []);
});

test(
  'malformed: prefixes, bit flips and noise around real Ethereum packets never throw and stay bounded',
  { skip },
  async () => {
    const real = (await captureRecords(ETH)).filter((f) => f.payloadFwd || f.payloadRev).slice(0, 12);
    const m = makeEthereumMatcher([NODE_B]);
    const t0 = Date.now();
    let calls = 0;
    for (const f of real) {
      const p = (f.payloadFwd ?? f.payloadRev)!;
      for (let n = 0; n <= Math.min(p.length, 700); n += 7) {
        const cut = p.subarray(0, n);
        m.match({ ...f, payloadFwd: cut, payloadRev: cut, payloadTimesFwd: null, payloadTimesRev: null });
        const flip = Buffer.from(p);
        flip[n % p.length] ^= 1 << (n % 8);
        m.match({ ...f, payloadFwd: flip, payloadRev: null });
        calls += 2;
      }
    }
    // Shapes that pass every cheap look: 0x04 everywhere, an EIP-8 prefix with a huge length, lying
    // segment times, a 1 MB sample (only 64 KiB is read).
    const ones = Buffer.alloc(1 << 20, 0x04);
    const lying = Buffer.alloc(36);
    for (let k = 0; k < 3; k++) lying.writeUInt32LE([5000, 3, 0xffffffff][k], k * 12);
    for (const proto of [6, 17]) {
      m.match({ proto, srcPort: 1, dstPort: 2, payloadFwd: ones, payloadRev: ones, payloadTimesFwd: lying });
      const head = Buffer.alloc(1280, 0xc1);
      head[96] = 0;
      head[97] = 4;
      m.match({ proto, srcPort: 1, dstPort: 2, payloadFwd: Buffer.concat([head, head]), payloadRev: null });
      calls += 2;
    }
    assert.ok(calls > 100);
    assert.ok(Date.now() - t0 < 20_000, `${Date.now() - t0} ms`);
  },
);

// The secp256k1 generator point (SEC 2, 2.4.1): a public key every implementation accepts.
const G = Buffer.from(
  '0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8',
  'hex',
);

test('pre-EIP-8 handshakes: 307-byte auth and 210-byte ack opening with a curve point', () => {
  const msg = (size: number, key = G) => Buffer.concat([key, Buffer.alloc(size - 65, 0x5a)]);
  assert.deepEqual(rlpxHandshake(msg(307)), { format: 'classic', size: 307 });
  assert.deepEqual(rlpxHandshake(msg(210)), { format: 'classic', size: 210 });
  // Followed by whole RLPx frame blocks (16-byte multiples), or ending where a segment ends.
  assert.deepEqual(rlpxHandshake(Buffer.concat([msg(307), Buffer.alloc(64)])), {
    format: 'classic',
    size: 307,
  });
  const times = Buffer.alloc(24);
  times.writeUInt32LE(307, 12);
  assert.deepEqual(rlpxHandshake(Buffer.concat([msg(307), Buffer.alloc(5)]), times), {
    format: 'classic',
    size: 307,
  });
  assert.equal(rlpxHandshake(Buffer.concat([msg(307), Buffer.alloc(5)])), null);
  // The same sizes with a point off the curve, or a message cut before its size, are nothing.
  const off = Buffer.from(G);
  off[64] ^= 1;
  assert.equal(rlpxHandshake(msg(307, off)), null);
  assert.equal(rlpxHandshake(msg(307).subarray(0, 200)), null);
  // EIP-8 with the same key: the size prefix counts what follows it.
  const eip8 = Buffer.concat([Buffer.from([0x01, 0x2c]), msg(300)]);
  assert.deepEqual(rlpxHandshake(eip8), { format: 'eip8', size: 302 });
  const flow = flowRecord({ dstPort: 30303, payloadFwd: eip8, payloadRev: msg(210) });
  const [d] = detectFlow(detector, flow);
  assert.equal(d.label, 'ethereum-p2p');
  assert.equal(d.evidence.authSize, 302);
  assert.equal(d.evidence.ackSize, 210);
});
