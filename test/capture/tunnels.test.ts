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
import type { FlowRecord } from '../../src/flow/record.js';
import { createDetector, detectFlow } from '../../src/detect/registry.js';
import { MAX_TUNNEL_DEPTH } from '../../src/capture/decode.js';
import { coinradarFlows } from './peers.js';
import { ether, ipv4, pcapFile, pcapngFile } from './synth.js';
import {
  C4,
  C6,
  LOGIN,
  O1,
  O2,
  REPLY,
  S4,
  S6,
  TUNNEL_CASES,
  frame,
  gre,
  inner,
  ipRaw,
  outer4,
  outerUdp,
  tunnelPcap,
  u32,
} from './tunnel-synth.js';

const dir = mkdtempSync(join(tmpdir(), 'coinradar-tunnels-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function tmp(content: Buffer): string {
  const p = join(dir, `t${n++}.pcap`);
  writeFileSync(p, content);
  return p;
}

const detector = createDetector(null);

for (const c of TUNNEL_CASES) {
  test(`${c.name}: the inner flow, its payload and its tunnel context`, async () => {
    const diag = new Diagnostics();
    const flows = await coinradarFlows(tmp(tunnelPcap(c)), {}, diag);
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
