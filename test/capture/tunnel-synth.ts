/**
 * Captures of every tunnel kind and link type the decoder opens, built in code: a small Stratum
 * session (client login, pool reply) wrapped in each. Used by tunnels.test.ts and, as seeds, by the
 * fuzz corpus (fuzz/make-corpus.ts).
 */
import { writeIp } from '../../src/flow/record.js';
import { ether, ipv4, ipv6, pcapFile, type SynthPacket } from './synth.js';

export const LOGIN =
  '{"id":1,"method":"mining.authorize","params":["4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge.rig1","x"]}\n';
export const REPLY = '{"id":1,"result":true,"error":null}\n';
export const C4 = '10.0.0.1';
export const S4 = '198.51.100.7';
export const C6 = '2001:db8:1::1';
export const S6 = '2001:db8:2::7';

/** The inner packets of the session: client SYN with the login (TFO-like), pool reply. */
export function inner(v6: boolean): [Buffer, Buffer] {
  const ip = v6 ? ipv6 : ipv4;
  const c = v6 ? C6 : C4;
  const s = v6 ? S6 : S4;
  return [
    ip(c, s, { proto: 6, sport: 40001, dport: 3333, flags: 0x18, seq: 1, payload: LOGIN }),
    ip(s, c, { proto: 6, sport: 3333, dport: 40001, flags: 0x18, seq: 9, payload: REPLY }),
  ];
}

export function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}
export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}
export function addr(a: string): Buffer {
  const b = Buffer.alloc(16);
  return writeIp(b, 0, a) === 4 ? b.subarray(0, 4) : b;
}

/** An IP packet of protocol `proto` carrying `body` (no transport header of ours). */
export function ipRaw(src: string, dst: string, proto: number, body: Buffer): Buffer {
  if (src.includes(':')) {
    const h = Buffer.alloc(40);
    h[0] = 0x60;
    h.writeUInt16BE(body.length, 4);
    h[6] = proto;
    h[7] = 64;
    addr(src).copy(h, 8);
    addr(dst).copy(h, 24);
    return Buffer.concat([h, body]);
  }
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + body.length, 2);
  h[8] = 64;
  h[9] = proto;
  addr(src).copy(h, 12);
  addr(dst).copy(h, 16);
  return Buffer.concat([h, body]);
}

export function udp(src: string, dst: string, sport: number, dport: number, body: Buffer): Buffer {
  const ip = src.includes(':') ? ipv6 : ipv4;
  return ip(src, dst, { proto: 17, sport, dport, payload: body });
}

/** An Ethernet frame whose ethertype is given (ether() picks it from the IP version). */
export function frame(type: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from('020000000001020000000002', 'hex'), u16(type), body]);
}

export const O1 = '192.0.2.1';
export const O2 = '192.0.2.2';
export const O61 = '2001:db8:ffff::1';
export const O62 = '2001:db8:ffff::2';

export interface TunnelCase {
  name: string;
  /** Wrap one inner packet; `up` is the client → pool direction (outer addresses O1 → O2). */
  wrap: (p: Buffer, up: boolean) => Buffer;
  linkType?: number;
  v6?: boolean;
  tunnel?: string;
  id?: number | null;
  outer?: [string, string];
}

export const gre = (flags: number, type: number, extra: Buffer[] = []) =>
  Buffer.concat([u16(flags), u16(type), ...extra]);
export const outer4 = (up: boolean, proto: number, body: Buffer) =>
  ether(ipRaw(up ? O1 : O2, up ? O2 : O1, proto, body));
export const outer6 = (up: boolean, proto: number, body: Buffer) =>
  ether(ipRaw(up ? O61 : O62, up ? O62 : O61, proto, body));
export const outerUdp = (up: boolean, port: number, body: Buffer, sport = 50000) =>
  ether(udp(up ? O1 : O2, up ? O2 : O1, up ? sport : port, up ? port : sport, body));
export const ethOf = (p: Buffer) => frame(p[0] >> 4 === 6 ? 0x86dd : 0x0800, p);

/** GTP-U G-PDU with the E flag and one extension header (PDU session container, 4 bytes). */
export function gtpu(teid: number, p: Buffer): Buffer {
  const ext = Buffer.from([1, 0x10, 0x09, 0]); // length 1 (4 bytes), content, next type 0
  const h = Buffer.concat([Buffer.from([0x34, 0xff]), u16(4 + ext.length + p.length), u32(teid)]);
  return Buffer.concat([h, Buffer.from([0, 0, 0, 0x85]), ext, p]);
}

/** CAPWAP data header (2 words): T set for a native 802.11 frame (binding 1), else 802.3. */
export function capwap(native: boolean): Buffer {
  return Buffer.from([0, 2 << 3, native ? (1 << 1) | 1 : 1 << 1, 0, 0, 0, 0, 0]);
}

/** An 802.11 QoS data frame to the DS, LLC/SNAP and the ethertype; `swap`: Cisco's swapped FC. */
export function wifi(p: Buffer, swap = false): Buffer {
  const h = Buffer.alloc(26);
  h[0] = 0x88;
  h[1] = 0x01;
  if (swap) [h[0], h[1]] = [h[1], h[0]];
  const snap = Buffer.concat([Buffer.from([0xaa, 0xaa, 3, 0, 0, 0]), u16(p[0] >> 4 === 6 ? 0x86dd : 0x0800)]);
  return Buffer.concat([h, snap, p]);
}

export const TUNNEL_CASES: TunnelCase[] = [
  { name: 'IP-in-IP 4in4', wrap: (p, up) => outer4(up, 4, p), tunnel: 'ipip', id: null, outer: [O1, O2] },
  {
    name: 'IP-in-IP 6in4',
    v6: true,
    wrap: (p, up) => outer4(up, 41, p),
    tunnel: 'ipip',
    id: null,
    outer: [O1, O2],
  },
  { name: 'IP-in-IP 4in6', wrap: (p, up) => outer6(up, 4, p), tunnel: 'ipip', id: null, outer: [O61, O62] },
  {
    name: 'IP-in-IP 6in6',
    v6: true,
    wrap: (p, up) => outer6(up, 41, p),
    tunnel: 'ipip',
    id: null,
    outer: [O61, O62],
  },
  {
    name: 'GRE',
    wrap: (p, up) => outer4(up, 47, Buffer.concat([gre(0, 0x0800), p])),
    tunnel: 'gre',
    id: null,
    outer: [O1, O2],
  },
  {
    name: 'GRE with checksum, key and sequence',
    wrap: (p, up) => outer4(up, 47, Buffer.concat([gre(0xb000, 0x0800, [u32(0), u32(77), u32(5)]), p])),
    tunnel: 'gre',
    id: 77,
    outer: [O1, O2],
  },
  {
    name: 'GRE transparent Ethernet bridging (IPv6 outer)',
    wrap: (p, up) => outer6(up, 47, Buffer.concat([gre(0x2000, 0x6558, [u32(5)]), ethOf(p)])),
    tunnel: 'gre',
    id: 5,
    outer: [O61, O62],
  },
  {
    name: 'GRE carrying MPLS',
    wrap: (p, up) => outer4(up, 47, Buffer.concat([gre(0, 0x8847), Buffer.from([0, 1, 0x01, 64]), p])),
    tunnel: 'gre',
    id: null,
    outer: [O1, O2],
  },
  {
    name: 'PPTP enhanced GRE (PPP)',
    wrap: (p, up) =>
      outer4(
        up,
        47,
        Buffer.concat([
          gre(0x3081, 0x880b, [u16(p.length + 4), u16(9), u32(1), u32(0)]),
          Buffer.from([0xff, 3, 0, 0x21]),
          p,
        ]),
      ),
    tunnel: 'gre',
    id: 9,
    outer: [O1, O2],
  },
  {
    name: 'ERSPAN type II',
    wrap: (p, up) =>
      outer4(
        up,
        47,
        Buffer.concat([gre(0x1000, 0x88be, [u32(1)]), Buffer.from([0x10, 0, 0, 42, 0, 0, 0, 0]), ethOf(p)]),
      ),
    tunnel: 'erspan',
    id: 42,
    outer: [O1, O2],
  },
  {
    name: 'ERSPAN type III with platform subheader',
    wrap: (p, up) =>
      outer4(
        up,
        47,
        Buffer.concat([
          gre(0x1000, 0x22eb, [u32(1)]),
          Buffer.from([0x20, 0, 0, 43, 0, 0, 0, 0, 0, 0, 0, 1]),
          Buffer.alloc(8),
          ethOf(p),
        ]),
      ),
    tunnel: 'erspan',
    id: 43,
    outer: [O1, O2],
  },
  {
    name: 'VXLAN',
    // Both directions go to 4789; the source port is a hash of the inner flow.
    wrap: (p, up) =>
      ether(
        udp(
          up ? O1 : O2,
          up ? O2 : O1,
          up ? 49152 : 50123,
          4789,
          Buffer.concat([Buffer.from([8, 0, 0, 0]), u32(0x123456 << 8), ethOf(p)]),
        ),
      ),
    tunnel: 'vxlan',
    id: 0x123456,
    outer: [O1, O2],
  },
  {
    name: 'GTP-U with an extension header',
    wrap: (p, up) => outerUdp(up, 2152, gtpu(up ? 0xa1b2c3d4 : 0x0101, p), 2152),
    tunnel: 'gtp-u',
    id: 0xa1b2c3d4,
    outer: [O1, O2],
  },
  {
    name: 'GTP-U carrying IPv6',
    v6: true,
    wrap: (p, up) => outerUdp(up, 2152, gtpu(7, p), 2152),
    tunnel: 'gtp-u',
    id: 7,
    outer: [O1, O2],
  },
  {
    name: 'Teredo with origin indication',
    v6: true,
    wrap: (p, up) => outerUdp(up, 3544, Buffer.concat([Buffer.from([0, 0, 0xc3, 0x4f]), u32(0x3fffffff), p])),
    tunnel: 'teredo',
    id: null,
    outer: [O1, O2],
  },
  {
    name: 'Teredo with authentication and origin indications',
    v6: true,
    wrap: (p, up) =>
      outerUdp(
        up,
        3544,
        Buffer.concat([
          Buffer.from([0, 1, 2, 3, 0xaa, 0xbb, 1, 2, 3]),
          Buffer.alloc(9),
          Buffer.from([0, 0, 1, 2]),
          u32(1),
          p,
        ]),
      ),
    tunnel: 'teredo',
    id: null,
    outer: [O1, O2],
  },
  {
    name: 'CAPWAP data, 802.3',
    wrap: (p, up) => outerUdp(up, 5247, Buffer.concat([capwap(false), ethOf(p)])),
    tunnel: 'capwap',
    id: null,
    outer: [O1, O2],
  },
  {
    name: 'CAPWAP data, 802.11',
    wrap: (p, up) => outerUdp(up, 5247, Buffer.concat([capwap(true), wifi(p)])),
    tunnel: 'capwap',
    id: null,
    outer: [O1, O2],
  },
  {
    name: 'CAPWAP data, 802.11 with the frame control swapped (Cisco)',
    wrap: (p, up) => outerUdp(up, 5247, Buffer.concat([capwap(true), wifi(p, true)])),
    tunnel: 'capwap',
    id: null,
    outer: [O1, O2],
  },
  {
    name: 'MPLS label stack',
    wrap: (p) => frame(0x8847, Buffer.concat([Buffer.from([0, 1, 0x00, 64, 0, 2, 0x01, 64]), p])),
  },
  {
    name: 'MPLS Ethernet pseudowire with control word',
    wrap: (p) => frame(0x8847, Buffer.concat([Buffer.from([0, 1, 0x01, 64]), Buffer.alloc(4), ethOf(p)])),
  },
  { name: 'QinQ', wrap: (p) => ether(p, [100, 200], 0x88a8) },
  {
    name: 'PPPoE session',
    wrap: (p) =>
      frame(0x8864, Buffer.concat([Buffer.from([0x11, 0, 0, 1]), u16(p.length + 2), u16(0x0021), p])),
  },
  {
    name: 'link type PPP (9)',
    linkType: 9,
    wrap: (p) => Buffer.concat([Buffer.from([0xff, 3, 0, 0x21]), p]),
  },
  {
    name: 'link type PPP (9), protocol field compressed, IPv6',
    v6: true,
    linkType: 9,
    wrap: (p) => Buffer.concat([Buffer.from([0x57]), p]),
  },
  {
    name: 'link type PPP_HDLC (50)',
    linkType: 50,
    wrap: (p) => Buffer.concat([Buffer.from([0xff, 3, 0, 0x21]), p]),
  },
  {
    name: 'link type PPP (9) with Cisco HDLC framing',
    linkType: 9,
    wrap: (p) => Buffer.concat([Buffer.from([0x0f, 0]), u16(0x0800), p]),
  },
  {
    name: 'link type C_HDLC (104)',
    linkType: 104,
    wrap: (p) => Buffer.concat([Buffer.from([0x8f, 0]), u16(0x0800), p]),
  },
  {
    name: 'link type PPI (192) over Ethernet',
    linkType: 192,
    wrap: (p) => Buffer.concat([Buffer.from([0, 0, 12, 0, 1, 0, 0, 0]), Buffer.alloc(4), ethOf(p)]),
  },
  { name: 'link type IEEE802_11 (105)', linkType: 105, wrap: (p) => wifi(p) },
];

/** A pcap of one case: the inner session wrapped, one packet each way per round. */
export function tunnelPcap(c: TunnelCase, rounds = 1): Buffer {
  const [up, down] = inner(c.v6 ?? false);
  const packets: SynthPacket[] = [];
  for (let r = 0; r < rounds; r++) {
    packets.push({ tsMs: 1_500_000_000_000 + r * 10, data: c.wrap(up, true) });
    packets.push({ tsMs: 1_500_000_000_005 + r * 10, data: c.wrap(down, false) });
  }
  return pcapFile(packets, { linkType: c.linkType ?? 1 });
}
