/**
 * IP fragment reassembly in flow assembly (src/capture/reassembly.ts), on hand-built fragments:
 * in order, out of order, overlapping, duplicated, never completed, IPv6 fragment headers after
 * other extension headers, a tiny first fragment without the whole TCP header, snaplen-cut
 * fragments, a fragmented tunnel, and the bounds a hostile capture meets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import type { FlowRecord } from '../../src/flow/record.js';
import { assemble, type Frame } from './assemble.js';
import { asConversations, coinradarFlows, merged, tsharkReference } from './peers.js';
import { NDPI_TRAIN } from '../detect/ndpi-train.js';
import { FRAGMENT_CASES, fragmentPcap } from './fragment-synth.js';
import { LOGIN } from './tunnel-synth.js';
import { createDetector, detectFlow } from '../../src/detect/registry.js';
import { cut, ether, ipv4, ipv4Fragment, ipv6Fragment, transport } from './synth.js';

const T0 = 1_494_979_200_000;
const C = '10.0.0.2';
const S = '203.0.113.9';
const C6 = '2001:db8::2';
const S6 = '2001:db8::53';
const SYN = 2;

/** A DNS-like answer of 1,200 bytes from S:53 to C:40000, as UDP bytes. */
const ANSWER = transport({ proto: 17, sport: 53, dport: 40000, payload: Buffer.from('x'.repeat(1192)) });
ANSWER.fill(0x61, 8, 400); // distinct bytes, so a sample stitched in the wrong order shows
ANSWER.fill(0x62, 400, 800);

/** The IPv4 fragments of `datagram` (from S to C) cut at `at`, with the given id. */
function frags4(datagram: Buffer, at: number[], id = 7, proto = 17): Buffer[] {
  return cut(datagram, at).map(([offset, data, more]) =>
    ether(ipv4Fragment(S, C, { proto, id, offset, more, data })),
  );
}

const brief = (f: FlowRecord) =>
  `${f.proto} ${f.src}:${f.srcPort}>${f.dst}:${f.dstPort} ${f.packets}/${f.bytes} ${f.revPackets}/${f.revBytes}`;

/** IP bytes of Ethernet frames as their IP headers say (short frames are padded to 60 bytes). */
const ipLen = (frames: Buffer[]) =>
  frames.reduce((a, f) => a + (f[14] >> 4 === 4 ? f.readUInt16BE(16) : 40 + f.readUInt16BE(18)), 0);

test("fragments in order: one datagram, one packet with the sum of the fragments' IP bytes, in its port flow", () => {
  const diag = new Diagnostics();
  const query = ether(ipv4(C, S, { proto: 17, sport: 40000, dport: 53, payload: 'q' }));
  const answer = frags4(ANSWER, [0, 400, 800]);
  const flows = assemble([[T0, query], ...answer.map((f, k): Frame => [T0 + 10 + k, f])], {}, diag);
  // Three fragments of 420, 420 and 420 IP bytes; the reassembled datagram would be 1,220.
  const sum = ipLen(answer);
  assert.equal(sum, 3 * 20 + ANSWER.length);
  assert.deepEqual(flows.map(brief), [`17 ${C}:40000>${S}:53 1/29 1/${sum}`]);
  assert.deepEqual(flows[0].payloadRev, ANSWER.subarray(8));
  assert.equal(diag.get('ipv4.fragments'), 3);
  assert.equal(diag.get('ipv4.datagrams-reassembled'), 1);
  assert.equal(diag.get('ipv4.fragments-not-reassembled'), 0);
  assert.equal(flows[0].lastMs, T0 + 10, 'the datagram takes the time of its first fragment');
});

test('the byte count: reassembly keeps the IP bytes of the fragments and makes one packet of them', () => {
  const answer = frags4(ANSWER, [0, 400, 800]).map((f, k): Frame => [T0 + k, f]);
  const on = assemble(answer);
  const off = assemble(answer, { reassemble: false });
  const total = (fl: FlowRecord[]) => fl.reduce((a, f) => a + f.bytes + f.revBytes, 0);
  const packets = (fl: FlowRecord[]) => fl.reduce((a, f) => a + f.packets + f.revPackets, 0);
  assert.equal(total(on), total(off));
  assert.deepEqual([packets(on), packets(off)], [1, 3]);
  assert.deepEqual([on[0].srcPort, on[0].dstPort, off[0].srcPort, off[0].dstPort], [40000, 53, 0, 0]);
});

test('fragments out of order (last first) reassemble the same datagram', () => {
  const diag = new Diagnostics();
  const answer = frags4(ANSWER, [0, 400, 800]);
  const inOrder = assemble(answer.map((f, k): Frame => [T0 + k, f]));
  const reversed = assemble(
    [answer[2], answer[0], answer[1]].map((f, k): Frame => [T0 + k, f]),
    {},
    diag,
  );
  assert.deepEqual(reversed.map(brief), inOrder.map(brief));
  assert.deepEqual(reversed[0].payloadRev, ANSWER.subarray(8));
  assert.equal(diag.get('ipv4.datagrams-reassembled'), 1);
  // Position and time: the first fragment to arrive (here the last one of the datagram).
  assert.equal(reversed[0].position, 24);
});

test('overlapping fragments give the datagram up: counted, its fragments kept without ports', () => {
  const diag = new Diagnostics();
  const a = ether(
    ipv4Fragment(S, C, { proto: 17, id: 9, offset: 0, more: true, data: ANSWER.subarray(0, 400) }),
  );
  // A second version of bytes 200..600: the classic evasion (which copy does the host keep?).
  const b = ether(
    ipv4Fragment(S, C, { proto: 17, id: 9, offset: 200, more: true, data: Buffer.alloc(400, 0x7a) }),
  );
  const c = ether(
    ipv4Fragment(S, C, { proto: 17, id: 9, offset: 600, more: false, data: ANSWER.subarray(600) }),
  );
  const flows = assemble(
    [
      [T0, a],
      [T0 + 1, b],
      [T0 + 2, c],
    ],
    {},
    diag,
  );
  assert.equal(diag.get('ip.reassembly-overlap'), 1);
  // The last fragment came after the datagram was given up: it waits alone until the end.
  assert.equal(diag.get('ip.reassembly-unfinished-at-end'), 1);
  assert.equal(diag.get('ipv4.fragments-not-reassembled'), 3);
  assert.equal(diag.get('ipv4.datagrams-reassembled'), 0);
  assert.deepEqual(flows.map(brief), [`17 ${S}:0>${C}:0 3/${ipLen([a, b, c])} 0/0`]);
  // A problem at the fragment that overlapped (its record's file offset); unfinished is not one.
  assert.deepEqual(
    diag.problems.map((p) => [p.kind, p.offset]),
    [['fragment-overlap', 24 + 16 + a.length]],
  );
  assert.match(diag.problems[0].message, /^1 datagram\(s\) given up: fragments overlap/);
});

test('an exact duplicate fragment is ignored for the bytes it carries but its IP bytes count; a changed one is an overlap', () => {
  const diag = new Diagnostics();
  const answer = frags4(ANSWER, [0, 400, 800]);
  const flows = assemble(
    [answer[0], answer[1], answer[1], answer[2]].map((f, k): Frame => [T0 + k, f]),
    {},
    diag,
  );
  assert.equal(diag.get('ip.fragments-duplicate'), 1);
  assert.equal(diag.get('ipv4.datagrams-reassembled'), 1);
  assert.deepEqual(flows.map(brief), [`17 ${C}:40000>${S}:53 0/0 1/${ipLen([...answer, answer[1]])}`]);
  assert.deepEqual(flows[0].payloadRev, ANSWER.subarray(8));

  const diag2 = new Diagnostics();
  const changed = Buffer.from(answer[1]);
  changed[changed.length - 1] ^= 1;
  assemble(
    [answer[0], answer[1], changed, answer[2]].map((f, k): Frame => [T0 + k, f]),
    {},
    diag2,
  );
  assert.equal(diag2.get('ip.reassembly-overlap'), 1);
  assert.equal(diag2.get('ipv4.datagrams-reassembled'), 0);
});

test('a datagram never completed: given up after the timeout in capture time, or at the end; kept without ports', () => {
  const diag = new Diagnostics();
  const answer = frags4(ANSWER, [0, 400, 800]);
  const other = ether(ipv4(C, '198.51.100.1', { proto: 17, sport: 5000, dport: 6000, payload: 'z' }));
  const flows = assemble(
    [
      [T0, answer[0]],
      [T0 + 1, answer[2]],
      // 30 s after the first fragment nothing is given up yet; just past it, the datagram is.
      [T0 + 30_000, other],
      [T0 + 30_001, other],
      // The missing middle fragment, too late: it waits alone until the end of the input.
      [T0 + 30_002, answer[1]],
    ],
    {},
    diag,
  );
  assert.equal(diag.get('ip.reassembly-timeout'), 1);
  assert.equal(diag.get('ip.reassembly-unfinished-at-end'), 1);
  assert.equal(diag.get('problems'), 0, 'a timeout says nothing about the traffic: counted, no problem');
  assert.equal(diag.get('ipv4.fragments-not-reassembled'), 3);
  // All three in one flow without ports (the idle timeout of 60 s did not end it).
  const portless = flows.filter((f) => f.srcPort === 0);
  assert.deepEqual(
    portless.map((f) => [f.packets, f.bytes]),
    [[3, ipLen(answer)]],
  );
});

test('IPv6: the fragment header after hop-by-hop, routing and destination options headers', () => {
  const diag = new Diagnostics();
  const hop = { type: 0, body: Buffer.alloc(6) };
  const rt = { type: 43, body: Buffer.from([0, 0, 0, 0, 0, 0]) };
  const dst = { type: 60, body: Buffer.alloc(14) };
  const frames = cut(ANSWER, [0, 504, 1000]).map(([offset, data, more]) =>
    ether(ipv6Fragment(S6, C6, { proto: 17, id: 0x8000_0001, offset, more, data }, [hop, rt, dst])),
  );
  const flows = assemble(
    [frames[1], frames[0], frames[2]].map((f, k): Frame => [T0 + k, f]),
    {},
    diag,
  );
  assert.equal(diag.get('ipv6.fragments'), 3);
  assert.equal(diag.get('ipv6.datagrams-reassembled'), 1);
  // Each fragment: 40 + 8 + 8 + 16 (hop-by-hop, routing, destination options) + 8 (fragment) + data.
  const sum = ipLen(frames);
  assert.equal(sum, 3 * (40 + 8 + 8 + 16 + 8) + ANSWER.length);
  assert.deepEqual(flows.map(brief), [`17 ${C6}:40000>${S6}:53 0/0 1/${sum}`]);
  assert.deepEqual(flows[0].payloadRev, ANSWER.subarray(8));
});

test('a tiny first fragment without the whole TCP header: ports, flags and payload come from the datagram', () => {
  const diag = new Diagnostics();
  const seg = transport({
    proto: 6,
    sport: 50000,
    dport: 3333,
    flags: SYN,
    seq: 99,
    payload: '{"id":1,"method":"login"}',
  });
  // 8 bytes: ports and sequence number only; flags and data offset are in the second fragment.
  const frames = cut(seg, [0, 8]).map(([offset, data, more]) =>
    ether(ipv4Fragment(C, S, { proto: 6, id: 3, offset, more, data })),
  );
  const flows = assemble(
    frames.map((f, k): Frame => [T0 + k, f]),
    {},
    diag,
  );
  assert.equal(diag.get('ipv4.datagrams-reassembled'), 1);
  assert.equal(flows.length, 1);
  const f = flows[0];
  assert.deepEqual([f.src, f.srcPort, f.dst, f.dstPort, f.tcpFlags, f.packets], [C, 50000, S, 3333, SYN, 1]);
  assert.equal(f.payloadFwd?.toString(), '{"id":1,"method":"login"}');
});

test('fragments cut by the snaplen: the datagram completes; its sample holds the bytes captured from the start', () => {
  const diag = new Diagnostics();
  const answer = frags4(ANSWER, [0, 400, 800]);
  // The first fragment captured whole, the others cut to 100 bytes of their frames.
  const flows = assemble(
    [
      [T0, answer[0]],
      [T0 + 1, answer[1], 100],
      [T0 + 2, answer[2], 100],
    ],
    {},
    diag,
  );
  assert.equal(diag.get('ipv4.datagrams-reassembled'), 1);
  assert.deepEqual(flows.map(brief), [`17 ${C}:40000>${S}:53 0/0 1/${ipLen(answer)}`]);
  // Bytes 0..400 of the datagram were captured, and 400..(100 - 14 - 20) of the next.
  assert.deepEqual(flows[0].payloadRev, ANSWER.subarray(8, 400 + 66));
});

test('a fragmented tunnel packet is reassembled and opened: the inner flow counts the inner packet', () => {
  const diag = new Diagnostics();
  const inner = ipv4('192.168.1.5', '192.0.2.80', {
    sport: 41000,
    dport: 8333,
    flags: SYN,
    payload: 'version',
  });
  // IP-in-IP (protocol 4) between two routers, the outer packet cut in two.
  const frames = cut(inner, [0, 16]).map(([offset, data, more]) =>
    ether(ipv4Fragment('198.51.100.1', '198.51.100.2', { proto: 4, id: 11, offset, more, data })),
  );
  const flows = assemble(
    frames.map((f, k): Frame => [T0 + k, f]),
    {},
    diag,
  );
  assert.equal(diag.get('ipv4.datagrams-reassembled'), 1);
  assert.equal(diag.get('packets.tunnelled'), 1);
  assert.equal(flows.length, 1);
  const f = flows[0];
  assert.deepEqual(
    [f.src, f.srcPort, f.dst, f.dstPort, f.bytes, f.tunnel, f.outerSrc, f.outerDst],
    ['192.168.1.5', 41000, '192.0.2.80', 8333, inner.length, 'ipip', '198.51.100.1', '198.51.100.2'],
  );
  assert.equal(f.payloadFwd?.toString(), 'version');
});

test('too large (beyond 65,535 bytes) and too many fragments are refused and counted; the fragments kept', () => {
  const diag = new Diagnostics();
  const big = ether(
    ipv4Fragment(S, C, { proto: 17, id: 1, offset: 65528, more: true, data: Buffer.alloc(16) }),
  );
  const many: Frame[] = [];
  for (let k = 0; k < 300; k++)
    many.push([
      T0 + 1,
      ether(ipv4Fragment(S, C, { proto: 17, id: 2, offset: 8 * k, more: true, data: Buffer.alloc(8) })),
    ]);
  const flows = assemble([[T0, big], ...many], {}, diag);
  assert.equal(diag.get('ip.reassembly-too-large'), 1);
  assert.equal(diag.get('ip.reassembly-too-many-fragments'), 1);
  assert.deepEqual(
    diag.problems.map((p) => p.kind),
    ['fragment-too-large', 'fragment-too-many'],
  );
  // Fragment 257 gave its datagram up; the 43 after it start another, unfinished at the end.
  assert.equal(diag.get('ip.reassembly-unfinished-at-end'), 1);
  assert.equal(diag.get('ipv4.fragments-not-reassembled'), 301);
  assert.equal(
    flows.reduce((a, f) => a + f.packets + f.revPackets, 0),
    301,
  );
});

test('bounds: datagrams and bytes pending never pass their limits; the oldest gives way', () => {
  const diag = new Diagnostics();
  const frames: Frame[] = [];
  // 50 datagrams that never complete, each 8 KiB into its data.
  for (let k = 0; k < 50; k++)
    frames.push([
      T0 + k,
      ether(ipv4Fragment(S, C, { proto: 17, id: k, offset: 8192, more: true, data: Buffer.alloc(8) })),
    ]);
  let most = 0;
  let mostBytes = 0;
  const flows = assemble(frames, { reassembly: { maxDatagrams: 8 } }, diag, (t) => {
    most = Math.max(most, t.pendingFragments.datagrams);
    mostBytes = Math.max(mostBytes, t.pendingFragments.bytes);
  });
  assert.equal(most, 8);
  assert.equal(diag.get('ip.reassembly-table-full'), 42);
  assert.equal(diag.get('ip.reassembly-unfinished-at-end'), 8);
  assert.equal(
    flows.reduce((a, f) => a + f.packets, 0),
    50,
  );

  // A byte bound of 2 maximal datagrams: large offsets make large buffers, the oldest give way.
  const diag2 = new Diagnostics();
  const maxBytes = 2 * (60 + 65535);
  const frames2: Frame[] = [];
  for (let k = 0; k < 20; k++)
    frames2.push([
      T0 + k,
      ether(ipv4Fragment(S, C, { proto: 17, id: k, offset: 60000, more: true, data: Buffer.alloc(8) })),
    ]);
  let peak = 0;
  assemble(frames2, { reassembly: { maxBytes } }, diag2, (t) => {
    peak = Math.max(peak, t.pendingFragments.bytes);
  });
  assert.ok(peak > 0 && peak <= maxBytes, `peak ${peak}`);
  assert.equal(diag2.get('ip.reassembly-table-full'), 18);
});

test('crafted keys do not pile up in one hash chain: 4,000 datagrams whose addresses XOR to one value', () => {
  // Source and destination chosen so that source XOR destination is constant, one IP id: keys
  // an unseeded XOR of the fields would put in one chain, each lookup walking all of them.
  const frames: Frame[] = [];
  for (let k = 0; k < 4000; k++) {
    const a = 0x0a000000 + k;
    const b = (a ^ 0x5a5a5a5a) >>> 0;
    const ip = (x: number) => [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255].join('.');
    const data = Buffer.alloc(8);
    frames.push([
      T0 + k,
      ether(ipv4Fragment(ip(a), ip(b), { proto: 17, id: 1, offset: 0, more: true, data })),
    ]);
  }
  let longest = 0;
  let pending = 0;
  assemble(frames, {}, new Diagnostics(), (t) => {
    pending = t.pendingFragments.datagrams;
    longest = Math.max(longest, t.pendingFragments.longestChain);
  });
  assert.equal(pending, 4000);
  assert.ok(longest <= 8, `longest chain ${longest}`);
});

test('a hostile stream of random fragments: bounded in memory and time, every packet accounted once', () => {
  // Deterministic pseudo-random fragments over few keys, mixed with well-formed datagrams, so
  // that overlaps, completions, timeouts and evictions all happen; bounded to 20,000 packets and 10 s.
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 16) % n; // the high bits: the low ones of an LCG repeat with short periods
  };
  const frames: Frame[] = [];
  const good = frags4(ANSWER, [0, 400, 800]);
  for (let k = 0; frames.length < 20_000; k++) {
    // A quiet second in the middle: what is pending then times out.
    const t = T0 + k * 5 + (frames.length >= 10_000 ? 1000 : 0);
    if (rnd(4) === 0) {
      // A well-formed datagram (a fresh id), in order.
      for (const g of good) {
        const f = Buffer.from(g);
        f.writeUInt16BE(1000 + k, 18);
        frames.push([t, f]);
      }
      continue;
    }
    const offset = 8 * rnd(200);
    const data = offset === 0 ? ANSWER.subarray(0, 8 * (1 + rnd(4))) : Buffer.alloc(8 * (1 + rnd(4)), rnd(2));
    frames.push([t, ether(ipv4Fragment(S, C, { proto: 17, id: rnd(24), offset, more: rnd(3) !== 0, data }))]);
  }
  const diag = new Diagnostics();
  const started = Date.now();
  const bounds = { maxDatagrams: 8, maxBytes: 2 * (60 + 65535), timeoutMs: 300 };
  let most = 0;
  let mostBytes = 0;
  const flows = assemble(frames, { reassembly: bounds }, diag, (t) => {
    most = Math.max(most, t.pendingFragments.datagrams);
    mostBytes = Math.max(mostBytes, t.pendingFragments.bytes);
  });
  assert.ok(Date.now() - started < 10_000, 'took over 10 s');
  assert.ok(
    most <= bounds.maxDatagrams && mostBytes <= bounds.maxBytes,
    `${most} datagrams, ${mostBytes} bytes`,
  );
  // Every fragment is in exactly one place: a reassembled datagram or a packet without ports.
  const packets = flows.reduce((a, f) => a + f.packets + f.revPackets, 0);
  const reassembled = diag.get('ipv4.datagrams-reassembled');
  const alone = diag.get('ipv4.fragments-not-reassembled');
  const whole = diag.get('packets.ip') - diag.get('ipv4.fragments'); // offset 0 and last: no fragment
  assert.equal(packets, reassembled + alone + whole, diag.summary());
  assert.ok(reassembled > 0 && alone > 0, `${reassembled} reassembled, ${alone} alone`);
  const bytes = flows.reduce((a, f) => a + f.bytes + f.revBytes, 0);
  assert.equal(bytes, ipLen(frames.map((f) => f[1])));
  for (const why of ['overlap', 'timeout', 'table-full'])
    assert.ok(diag.get(`ip.reassembly-${why}`) > 0, `no ${why} in ${diag.summary()}`);
});

const DNS_FRAGMENTED = join(NDPI_TRAIN, 'dns_fragmented.pcap');

test('dns_fragmented.pcap (real): packets per direction as tshark (which reassembles) counts them; IP bytes as its ip.len sums', async (t) => {
  if (!existsSync(DNS_FRAGMENTED)) return t.skip(`the shared captures are not at ${NDPI_TRAIN}`);
  if (spawnSync('tshark', ['-v']).status !== 0)
    return t.skip('tshark not installed (apt-get install tshark)');
  const ref = tsharkReference(DNS_FRAGMENTED);
  assert.ok(ref, 'tshark failed');
  const diag = new Diagnostics();
  const flows = await coinradarFlows(DNS_FRAGMENTED, {}, diag);
  // 14 fragments (8 IPv4, 6 IPv6) make 7 datagrams, each one packet in its DNS flow.
  assert.deepEqual(
    ['ipv4.fragments', 'ipv6.fragments', 'ipv4.datagrams-reassembled', 'ipv6.datagrams-reassembled'].map(
      (k) => diag.get(k),
    ),
    [8, 6, 4, 3],
  );
  assert.ok(
    flows.every((f) => f.srcPort !== 0 && f.dstPort !== 0),
    'no flow without ports is left',
  );
  const theirs = merged(ref.conversations);
  const ours = merged(asConversations(flows, () => 0));
  assert.equal(ours.size, theirs.size);
  for (const [k, c] of theirs) {
    const o = ours.get(k);
    assert.deepEqual([o?.packetsAB, o?.packetsBA], [c.packetsAB, c.packetsBA], k);
  }
  // Bytes: every fragment's IP length, once (tshark's frame bytes for a datagram are its last
  // fragment's frame only, nDPI's its first's: neither is the datagram's traffic).
  const bytes = flows.reduce((a, f) => a + f.bytes + f.revBytes, 0);
  assert.equal(bytes, ref.ipBytes);
  const packets = flows.reduce((a, f) => a + f.packets + f.revPackets, 0);
  assert.equal(packets, ref.ipPackets - (14 - 7));
  // Without reassembly the same bytes, every fragment in a flow without ports.
  const off = await coinradarFlows(DNS_FRAGMENTED, { reassemble: false });
  assert.equal(
    off.reduce((a, f) => a + f.bytes + f.revBytes, 0),
    bytes,
  );
  assert.equal(
    off.filter((f) => f.srcPort === 0).reduce((a, f) => a + f.packets + f.revPackets, 0),
    14,
  );
});

test('a Stratum login sent in fragments is detected from the reassembled payload (the fuzz seeds, through the pcap reader)', async () => {
  const detector = createDetector(null);
  const dir = mkdtempSync(join(tmpdir(), 'coinradar-frag-'));
  try {
    for (const c of FRAGMENT_CASES) {
      const path = join(dir, 'f.pcap');
      writeFileSync(path, fragmentPcap(c));
      const flows = await coinradarFlows(path);
      const login = flows.filter((f) => f.dstPort === 3333);
      const whole = !/overlapping|never completed/.test(c.name);
      assert.equal(login.length, whole ? 1 : 0, c.name);
      if (whole) assert.equal(login[0].payloadFwd?.toString(), LOGIN, c.name);
      // Given up, the fragments carry no payload to any rule: no Stratum at payload confidence.
      const stratum = flows.flatMap((f) =>
        detectFlow(detector, f).filter((d) => d.label === 'stratum' && d.confidence === 'payload'),
      );
      assert.equal(stratum.length, whole ? 1 : 0, c.name);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
