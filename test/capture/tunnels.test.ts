/**
 * Tunnels and link types on captures built here: each tunnel kind carries a small Stratum session
 * (client login, pool reply); the flow stored is the INNER one, with both directions' packets,
 * the inner payload (so the payload rules see it: a Stratum detection) and the tunnel context
 * (kind, id, outer addresses oriented as the flow). Nesting is bounded, an unreadable inner packet
 * leaves the outer flow, and an unsupported link type is an error naming it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Diagnostics, InputError } from '../../src/flow/diagnostics.js';
import { writeIp, type FlowRecord } from '../../src/flow/record.js';
import { createDetector, detectFlow } from '../../src/detect/registry.js';
import { MAX_TUNNEL_DEPTH } from '../../src/capture/decode.js';
import { coinradarFlows } from './peers.js';
import { ether, ipv4, ipv6, pcapFile, pcapngFile, type SynthPacket } from './synth.js';

const dir = mkdtempSync(join(tmpdir(), 'coinradar-tunnels-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function tmp(content: Buffer): string {
  const p = join(dir, `t${n++}.pcap`);
  writeFileSync(p, content);
  return p;
}

const LOGIN =
  '{"id":1,"method":"mining.authorize","params":["4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge.rig1","x"]}\n';
const REPLY = '{"id":1,"result":true,"error":null}\n';
const C4 = '10.0.0.1';
const S4 = '198.51.100.7';
const C6 = '2001:db8:1::1';
const S6 = '2001:db8:2::7';

/** The inner packets of the session: client SYN with the login (TFO-like), pool reply. */
function inner(v6: boolean): [Buffer, Buffer] {
  const ip = v6 ? ipv6 : ipv4;
  const c = v6 ? C6 : C4;
  const s = v6 ? S6 : S4;
  return [
    ip(c, s, { proto: 6, sport: 40001, dport: 3333, flags: 0x18, seq: 1, payload: LOGIN }),
    ip(s, c, { proto: 6, sport: 3333, dport: 40001, flags: 0x18, seq: 9, payload: REPLY }),
  ];
}

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}
function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}
function addr(a: string): Buffer {
  const b = Buffer.alloc(16);
  return writeIp(b, 0, a) === 4 ? b.subarray(0, 4) : b;
}

/** An IP packet of protocol `proto` carrying `body` (no transport header of ours). */
function ipRaw(src: string, dst: string, proto: number, body: Buffer): Buffer {
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

function udp(src: string, dst: string, sport: number, dport: number, body: Buffer): Buffer {
  const ip = src.includes(':') ? ipv6 : ipv4;
  return ip(src, dst, { proto: 17, sport, dport, payload: body });
}

/** An Ethernet frame whose ethertype is given (ether() picks it from the IP version). */
function frame(type: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from('020000000001020000000002', 'hex'), u16(type), body]);
}

const O1 = '192.0.2.1';
const O2 = '192.0.2.2';
const O61 = '2001:db8:ffff::1';
const O62 = '2001:db8:ffff::2';

interface Case {
  name: string;
  /** Wrap one inner packet; `up` is the client → pool direction (outer addresses O1 → O2). */
  wrap: (p: Buffer, up: boolean) => Buffer;
  linkType?: number;
  v6?: boolean;
  tunnel?: string;
  id?: number | null;
  outer?: [string, string];
}

const gre = (flags: number, type: number, extra: Buffer[] = []) =>
  Buffer.concat([u16(flags), u16(type), ...extra]);
const outer4 = (up: boolean, proto: number, body: Buffer) =>
  ether(ipRaw(up ? O1 : O2, up ? O2 : O1, proto, body));
const outer6 = (up: boolean, proto: number, body: Buffer) =>
  ether(ipRaw(up ? O61 : O62, up ? O62 : O61, proto, body));
const outerUdp = (up: boolean, port: number, body: Buffer, sport = 50000) =>
  ether(udp(up ? O1 : O2, up ? O2 : O1, up ? sport : port, up ? port : sport, body));
const ethOf = (p: Buffer) => frame(p[0] >> 4 === 6 ? 0x86dd : 0x0800, p);

/** GTP-U G-PDU with the E flag and one extension header (PDU session container, 4 bytes). */
function gtpu(teid: number, p: Buffer): Buffer {
  const ext = Buffer.from([1, 0x10, 0x09, 0]); // length 1 (4 bytes), content, next type 0
  const h = Buffer.concat([Buffer.from([0x34, 0xff]), u16(4 + ext.length + p.length), u32(teid)]);
  return Buffer.concat([h, Buffer.from([0, 0, 0, 0x85]), ext, p]);
}

/** CAPWAP data header (2 words): T set for a native 802.11 frame (binding 1), else 802.3. */
function capwap(native: boolean): Buffer {
  return Buffer.from([0, 2 << 3, native ? (1 << 1) | 1 : 1 << 1, 0, 0, 0, 0, 0]);
}

/** An 802.11 QoS data frame to the DS, LLC/SNAP and the ethertype; `swap`: Cisco's swapped FC. */
function wifi(p: Buffer, swap = false): Buffer {
  const h = Buffer.alloc(26);
  h[0] = 0x88;
  h[1] = 0x01;
  if (swap) [h[0], h[1]] = [h[1], h[0]];
  const snap = Buffer.concat([Buffer.from([0xaa, 0xaa, 3, 0, 0, 0]), u16(p[0] >> 4 === 6 ? 0x86dd : 0x0800)]);
  return Buffer.concat([h, snap, p]);
}

const cases: Case[] = [
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

function capture(c: Case, rounds = 1): string {
  const [up, down] = inner(c.v6 ?? false);
  const packets: SynthPacket[] = [];
  for (let r = 0; r < rounds; r++) {
    packets.push({ tsMs: 1_500_000_000_000 + r * 10, data: c.wrap(up, true) });
    packets.push({ tsMs: 1_500_000_000_005 + r * 10, data: c.wrap(down, false) });
  }
  return tmp(pcapFile(packets, { linkType: c.linkType ?? 1 }));
}

const detector = createDetector(null);

for (const c of cases) {
  test(`${c.name}: the inner flow, its payload and its tunnel context`, async () => {
    const diag = new Diagnostics();
    const flows = await coinradarFlows(capture(c), {}, diag);
    assert.equal(flows.length, 1, `${c.name}: ${diag.summary()}`);
    const f: FlowRecord = flows[0];
    const v6 = c.v6 ?? false;
    assert.deepEqual(
      [f.src, f.srcPort, f.dst, f.dstPort, f.proto, f.packets, f.revPackets],
      [v6 ? C6 : C4, 40001, v6 ? S6 : S4, 3333, 6, 1, 1],
    );
    // Inner IP bytes: the inner packets' own lengths, not the outer ones.
    const [up, down] = inner(v6);
    assert.deepEqual([f.bytes, f.revBytes], [up.length, down.length]);
    assert.equal(f.payloadFwd?.toString(), LOGIN);
    assert.equal(f.payloadRev?.toString(), REPLY);
    assert.deepEqual(
      [f.tunnel, f.tunnelId, f.outerSrc, f.outerDst],
      c.tunnel ? [c.tunnel, c.id, c.outer![0], c.outer![1]] : [undefined, undefined, undefined, undefined],
    );
    assert.equal(diag.get('packets.tunnelled'), c.tunnel ? 2 : 0);
    // Detected like any flow: the Stratum login inside is seen by the payload rules.
    const stratum = detectFlow(detector, f).filter(
      (d) => d.label === 'stratum' && d.confidence === 'payload',
    );
    assert.equal(stratum.length, 1, JSON.stringify(detectFlow(detector, f).map((d) => d.label)));
  });
}

test('the outer addresses follow the flow: a session opened by the pool side is oriented by its SYN, the outer pair with it', async () => {
  // The first packet goes pool → client outside and inside; the client's SYN (second) decides.
  const [syn] = [ipv4(C4, S4, { proto: 6, sport: 40001, dport: 3333, flags: 2 })];
  const early = ipv4(S4, C4, { proto: 6, sport: 3333, dport: 40001, flags: 0x10 });
  const path = tmp(
    pcapFile([
      { tsMs: 1_500_000_000_000, data: outer4(false, 4, early) },
      { tsMs: 1_500_000_000_001, data: outer4(true, 4, syn) },
    ]),
  );
  const [f] = await coinradarFlows(path);
  assert.deepEqual([f.src, f.dst, f.outerSrc, f.outerDst], [C4, S4, O1, O2]);
});

test(`nesting is bounded: past ${MAX_TUNNEL_DEPTH} tunnels the packet is taken at that depth and counted`, async () => {
  const [up] = inner(false);
  // depth + 1 IP-in-IP layers around the inner packet; each layer's addresses name its depth.
  const nest = (levels: number) => {
    let p = up;
    for (let k = levels; k >= 1; k--) p = ipRaw(`192.0.2.${k}`, `192.0.2.${100 + k}`, 4, p);
    return ether(p);
  };
  const diag = new Diagnostics();
  const ok = await coinradarFlows(tmp(pcapFile([{ tsMs: 1e12, data: nest(MAX_TUNNEL_DEPTH) }])), {}, diag);
  assert.deepEqual([ok[0].src, ok[0].dst, ok[0].outerSrc], [C4, S4, '192.0.2.1']);
  assert.equal(diag.get('packets.tunnel-depth-exceeded'), 0);
  const deep = new Diagnostics();
  const cut = await coinradarFlows(
    tmp(pcapFile([{ tsMs: 1e12, data: nest(MAX_TUNNEL_DEPTH + 1) }])),
    {},
    deep,
  );
  // Taken after MAX_TUNNEL_DEPTH layers: the packet of the last layer's addresses, protocol 4.
  const last = MAX_TUNNEL_DEPTH + 1;
  assert.deepEqual(
    [cut[0].src, cut[0].dst, cut[0].proto, cut[0].tunnel, cut[0].outerSrc],
    [`192.0.2.${last}`, `192.0.2.${100 + last}`, 4, 'ipip', '192.0.2.1'],
  );
  assert.equal(deep.get('packets.tunnel-depth-exceeded'), 1);
});

test('a tunnel whose inner packet does not decode leaves the outer flow, counted', async () => {
  // GRE says IPv4, but what follows is not an IP header (version nibble 0); a VXLAN frame of ARP.
  const diag = new Diagnostics();
  const flows = await coinradarFlows(
    tmp(
      pcapFile([
        { tsMs: 1e12, data: outer4(true, 47, Buffer.concat([gre(0, 0x0800), Buffer.alloc(40)])) },
        {
          tsMs: 1e12 + 1,
          data: outerUdp(
            true,
            4789,
            Buffer.concat([Buffer.from([8, 0, 0, 0]), u32(1 << 8), frame(0x0806, Buffer.alloc(28))]),
          ),
        },
      ]),
    ),
    {},
    diag,
  );
  assert.deepEqual(
    flows.map((f) => [f.src, f.dst, f.proto, f.dstPort, f.tunnel]),
    [
      [O1, O2, 47, 0, undefined],
      [O1, O2, 17, 4789, undefined],
    ],
  );
  assert.equal(diag.get('packets.tunnel-inner-undecoded'), 2);
});

test('UDP on a tunnel port that is not that tunnel stays the UDP flow it is (no count)', async () => {
  const diag = new Diagnostics();
  const flows = await coinradarFlows(
    tmp(
      pcapFile([
        // GTP echo request (message type 1), Teredo port with a non-IPv6 body, CAPWAP over DTLS.
        { tsMs: 1e12, data: outerUdp(true, 2152, Buffer.from([0x32, 1, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0])) },
        { tsMs: 1e12 + 1, data: outerUdp(true, 3544, Buffer.alloc(60, 0x45)) },
        {
          tsMs: 1e12 + 2,
          data: outerUdp(true, 5247, Buffer.concat([Buffer.from([1, 0, 0, 0]), Buffer.alloc(40)])),
        },
      ]),
    ),
    {},
    diag,
  );
  assert.deepEqual(
    flows.map((f) => [f.dstPort, f.tunnel]),
    [
      [2152, undefined],
      [3544, undefined],
      [5247, undefined],
    ],
  );
  assert.equal(diag.get('packets.tunnelled'), 0);
  assert.equal(diag.get('packets.tunnel-inner-undecoded'), 0);
});

test('an unsupported link type is an error naming it and the file, never 0 flows in silence', async () => {
  const [up] = inner(false);
  const path = tmp(pcapFile([{ tsMs: 1e12, data: up }], { linkType: 147 }));
  await assert.rejects(coinradarFlows(path), (e: unknown) => {
    assert.ok(e instanceof InputError);
    assert.match(
      e.message,
      new RegExp(
        `^${path}:24: unsupported-link-type: link type USER0 \\(147\\) is not supported: 1 packet\\(s\\) skipped$`,
      ),
    );
    return true;
  });
  // Beside a readable interface: the flows of that one, and a problem naming the other.
  const ng = join(dir, 'mixed.pcapng');
  writeFileSync(
    ng,
    pcapngFile(
      [
        { tsMs: 1e12, data: ether(up), interfaceId: 0 },
        { tsMs: 1e12 + 1, data: Buffer.alloc(40), interfaceId: 1 },
      ],
      { interfaces: [{ linkType: 1 }, { linkType: 127 }] },
    ),
  );
  const diag = new Diagnostics();
  const flows = await coinradarFlows(ng, {}, diag);
  assert.equal(flows.length, 1);
  assert.deepEqual(
    diag.problems.map((p) => [p.kind, p.message]),
    [
      [
        'unsupported-link-type',
        'link type LINKTYPE_IEEE802_11_RADIOTAP (127) is not supported: 1 packet(s) skipped',
      ],
    ],
  );
});
