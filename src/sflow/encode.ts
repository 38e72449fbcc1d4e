/**
 * A small sFlow v5 encoder: datagrams of flow samples (compact and expanded, raw packet headers or
 * sampled IPv4/IPv6 records, extended switch/router data) and counter samples. Used by the tests,
 * the fuzz corpus and the benchmark; not on any hot path.
 */
import { writeIp } from '../flow/record.js';

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

function pad4(b: Buffer): Buffer {
  const n = (4 - (b.length % 4)) % 4;
  return n ? Buffer.concat([b, Buffer.alloc(n)]) : b;
}

function ipBytes(text: string): { type: number; bytes: Buffer } {
  const a = Buffer.alloc(16);
  const v = writeIp(a, 0, text);
  return v === 4 ? { type: 1, bytes: a.subarray(0, 4) } : { type: 2, bytes: a };
}

/** A record or sample: data format (enterprise << 12 | format) and its opaque body. */
export function opaque(format: number, body: Buffer): Buffer {
  const b = pad4(body);
  return Buffer.concat([u32(format), u32(b.length), b]);
}

/** Flow record (0,1): a raw packet header; `protocol` 1 Ethernet, 11 IPv4, 12 IPv6. */
export function rawHeaderRecord(header: Buffer, frameLength: number, protocol = 1, stripped = 4): Buffer {
  return opaque(
    1,
    Buffer.concat([u32(protocol), u32(frameLength), u32(stripped), u32(header.length), pad4(header)]),
  );
}

/** Flow record (0,3) or (0,4): the packet's fields instead of its header. */
export function sampledIpRecord(r: {
  length: number;
  proto: number;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  tcpFlags: number;
}): Buffer {
  const s = ipBytes(r.src);
  const d = ipBytes(r.dst);
  const v6 = s.type === 2;
  return opaque(
    v6 ? 4 : 3,
    Buffer.concat([
      u32(r.length),
      u32(r.proto),
      s.bytes,
      d.bytes,
      u32(r.srcPort),
      u32(r.dstPort),
      u32(r.tcpFlags),
      u32(0),
    ]),
  );
}

/** Flow record (0,1001): extended switch data (VLANs and priorities). */
export function extendedSwitchRecord(srcVlan = 10, dstVlan = 20): Buffer {
  return opaque(1001, Buffer.concat([u32(srcVlan), u32(0), u32(dstVlan), u32(0)]));
}

/** Flow record (0,1002): extended router data (next hop and mask lengths). */
export function extendedRouterRecord(nextHop = '10.0.0.1', srcMask = 24, dstMask = 16): Buffer {
  const a = ipBytes(nextHop);
  return opaque(1002, Buffer.concat([u32(a.type), a.bytes, u32(srcMask), u32(dstMask)]));
}

export interface FlowSampleOptions {
  seq?: number;
  rate?: number;
  pool?: number;
  drops?: number;
  input?: number;
  output?: number;
  sourceIndex?: number;
  expanded?: boolean;
}

/** Sample (0,1) flow_sample or (0,3) flow_sample_expanded holding `records`. */
export function flowSample(records: Buffer[], o: FlowSampleOptions = {}): Buffer {
  const rate = o.rate ?? 1;
  const head = o.expanded
    ? [
        u32(o.seq ?? 1),
        u32(0),
        u32(o.sourceIndex ?? 1),
        u32(rate),
        u32(o.pool ?? rate),
        u32(o.drops ?? 0),
        u32(0),
        u32(o.input ?? 1),
        u32(0),
        u32(o.output ?? 2),
      ]
    : [
        u32(o.seq ?? 1),
        u32(o.sourceIndex ?? 1),
        u32(rate),
        u32(o.pool ?? rate),
        u32(o.drops ?? 0),
        u32(o.input ?? 1),
        u32(o.output ?? 2),
      ];
  return opaque(o.expanded ? 3 : 1, Buffer.concat([...head, u32(records.length), ...records]));
}

/** Sample (0,2) counters_sample or (0,4) expanded, with one generic interface counter record. */
export function counterSample(seq = 1, expanded = false): Buffer {
  const generic = opaque(1, Buffer.alloc(88));
  const head = expanded ? [u32(seq), u32(0), u32(1)] : [u32(seq), u32(1)];
  return opaque(expanded ? 4 : 2, Buffer.concat([...head, u32(1), generic]));
}

/** A whole datagram: header (agent, sub-agent, sequence, uptime) and its samples. */
export function sflowDatagram(
  samples: Buffer[],
  o: { agent?: string; subAgent?: number; seq?: number; uptimeMs?: number } = {},
): Buffer {
  const a = ipBytes(o.agent ?? '192.0.2.1');
  return Buffer.concat([
    u32(5),
    u32(a.type),
    a.bytes,
    u32(o.subAgent ?? 0),
    u32(o.seq ?? 1),
    u32(o.uptimeMs ?? 1000),
    u32(samples.length),
    ...samples,
  ]);
}

/**
 * A few datagrams covering every kind the decoder reads (fuzz seeds, benchmark stream): IPv4 and
 * IPv6 agents, compact and expanded flow samples, Ethernet/VLAN/IPv4/IPv6 raw headers, sampled
 * IPv4/IPv6 records, extended switch and router data, counter samples.
 */
export function sflowSeedDatagrams(): Buffer[] {
  const ip4 = (proto: number, sport: number, dport: number, flags = 0) => {
    const b = Buffer.alloc(40);
    b[0] = 0x45;
    b.writeUInt16BE(40, 2);
    b[8] = 64;
    b[9] = proto;
    b.set([10, 0, 0, 1], 12);
    b.set([10, 0, 0, 2], 16);
    b.writeUInt16BE(sport, 20);
    b.writeUInt16BE(dport, 22);
    if (proto === 6) b[33] = flags;
    return b;
  };
  const eth = (ip: Buffer, vlan = -1) => {
    const h = Buffer.alloc(vlan >= 0 ? 18 : 14);
    if (vlan >= 0) {
      h.writeUInt16BE(0x8100, 12);
      h.writeUInt16BE(vlan, 14);
      h.writeUInt16BE(0x0800, 16);
    } else h.writeUInt16BE(0x0800, 12);
    return Buffer.concat([h, ip]);
  };
  const ip6 = Buffer.alloc(48);
  ip6[0] = 0x60;
  ip6.writeUInt16BE(8, 4);
  ip6[6] = 17;
  ip6[23] = 1;
  ip6[39] = 2;
  ip6.writeUInt16BE(53, 40);
  ip6.writeUInt16BE(5353, 42);
  return [
    sflowDatagram(
      [
        flowSample([rawHeaderRecord(eth(ip4(6, 40000, 8333, 0x18)), 58), extendedSwitchRecord()], {
          rate: 1,
        }),
        flowSample([rawHeaderRecord(ip4(17, 3333, 53), 40, 11, 0), extendedRouterRecord()], {
          rate: 64,
          expanded: true,
        }),
        counterSample(1),
      ],
      { seq: 1 },
    ),
    sflowDatagram(
      [
        flowSample([rawHeaderRecord(eth(ip4(6, 1, 2, 2), 42), 62)], { rate: 256 }),
        flowSample([rawHeaderRecord(ip6, 48, 12, 0)], { rate: 2 }),
        flowSample([
          sampledIpRecord({
            length: 576,
            proto: 6,
            src: '10.3.3.3',
            dst: '10.4.4.4',
            srcPort: 3334,
            dstPort: 80,
            tcpFlags: 0x11,
          }),
        ]),
        flowSample([
          sampledIpRecord({
            length: 90,
            proto: 17,
            src: '2001:db8::1',
            dst: '2001:db8::2',
            srcPort: 1,
            dstPort: 2,
            tcpFlags: 0,
          }),
        ]),
        counterSample(2, true),
      ],
      { agent: '2001:db8::9', seq: 2, subAgent: 1 },
    ),
  ];
}

/**
 * The benchmark stream: `datagrams` datagrams of `perDatagram` flow samples each (1:`rate`), every
 * sample a 128-byte Ethernet/IPv4/TCP header as switches send them, with an extended switch record;
 * 5-tuples drawn from 4,096 hosts and 64 ports, so a collector aggregates as it would in the field.
 */
export function benchSflowStream(datagrams: number, perDatagram = 6, rate = 1): Buffer[] {
  const frame = Buffer.alloc(128);
  frame.writeUInt16BE(0x0800, 12);
  frame[14] = 0x45;
  frame[22] = 64;
  frame[23] = 6;
  frame[47] = 0x18;
  frame[46] = 0x50;
  const out: Buffer[] = [];
  let x = 1;
  for (let k = 0; k < datagrams; k++) {
    const samples: Buffer[] = [];
    for (let s = 0; s < perDatagram; s++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      frame.writeUInt16BE(1400, 16);
      frame.writeUInt32BE((0x0a000000 | (x & 0xfff)) >>> 0, 26);
      frame.writeUInt32BE((0xc6336400 | ((x >>> 12) & 0xff)) >>> 0, 30);
      frame.writeUInt16BE(40000 + ((x >>> 20) & 63), 34);
      frame.writeUInt16BE(3333, 36);
      samples.push(
        flowSample([rawHeaderRecord(frame, 1418), extendedSwitchRecord()], {
          seq: k * perDatagram + s + 1,
          rate,
          pool: (k * perDatagram + s + 1) * rate,
        }),
      );
    }
    out.push(sflowDatagram(samples, { seq: k + 1, uptimeMs: k }));
  }
  return out;
}
