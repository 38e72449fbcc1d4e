/**
 * Reading the reference outputs we compare against: nDPI's `.ndpi.out` flow lines and
 * `tshark -q -z conv,tcp -z conv,udp` conversation tables.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import { ipText, writeIp, type FlowRecord } from '../../src/flow/record.js';
import { captureFlows } from '../../src/capture/formats.js';
import type { FlowTableOptions } from '../../src/capture/flow-table.js';

/** One conversation: endpoints in a canonical order and the counts from `a` to `b` and back. */
export interface Conversation {
  proto: string;
  a: string;
  b: string;
  packetsAB: number;
  bytesAB: number;
  packetsBA: number;
  bytesBA: number;
}

const PROTO: Record<number, string> = {
  1: 'ICMP',
  2: 'IGMP',
  6: 'TCP',
  17: 'UDP',
  47: 'GRE',
  50: 'ESP',
  51: 'AH',
  58: 'ICMPV6',
  103: 'PIM',
  132: 'SCTP',
};

function endpoint(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Put a conversation in canonical order (lexically smaller endpoint first). */
export function conversation(
  proto: string,
  x: string,
  y: string,
  px: number,
  bx: number,
  py: number,
  by: number,
): Conversation {
  return x <= y
    ? { proto, a: x, b: y, packetsAB: px, bytesAB: bx, packetsBA: py, bytesBA: by }
    : { proto, a: y, b: x, packetsAB: py, bytesAB: by, packetsBA: px, bytesBA: bx };
}

export function key(c: Conversation): string {
  return `${c.proto} ${c.a} ${c.b}`;
}

/**
 * Flow lines of an nDPI `.ndpi.out`:
 * `\t1\tTCP 192.168.1.142:55348 <-> 74.89.181.229:8333 [...][55 pkts/28663 bytes <-> 117 pkts/134830 bytes]...`
 * (`->` when only one direction was seen; IPv6 addresses in brackets).
 */
export function parseNdpiOut(text: string): Conversation[] {
  const out: Conversation[] = [];
  const line = /^\t\d+\t(\S+) (\S+) <?-> (\S+) .*?\[(\d+) pkts\/(\d+) bytes <?-> (\d+) pkts\/(\d+) bytes\]/;
  for (const l of text.split('\n')) {
    const m = line.exec(l);
    if (!m) continue;
    out.push(conversation(m[1], canonical(m[2]), canonical(m[3]), +m[4], +m[5], +m[6], +m[7]));
  }
  return out;
}

/**
 * An endpoint `[v6]:port` with its address written as nDPI's reader writes it: every run of zero
 * groups as `::`, a single one too (`2600:1901:0:7a0b::` → `2600:1901::7a0b::`, which is not an
 * address any parser reads back), so that nDPI's lines and our flows meet in one form. IPv4 and
 * what does not parse (nDPI's own output) are kept as written.
 */
export function ndpiStyle(ep: string): string {
  const v6 = v6Endpoint(ep);
  if (!v6) return ep;
  const [b, port] = v6;
  if (b[10] === 0xff && b[11] === 0xff && b.subarray(0, 10).every((x) => x === 0)) return ep;
  let text = '';
  let zeros = false;
  for (let k = 0; k < 8; k++) {
    const w = (b[2 * k] << 8) | b[2 * k + 1];
    if (w === 0) {
      if (!zeros) text += '::';
      zeros = true;
      continue;
    }
    if (text !== '' && !zeros) text += ':';
    text += w.toString(16);
    zeros = false;
  }
  return `[${text}]:${port}`;
}

/**
 * An nDPI endpoint with its IPv6 address in RFC 5952 form, as we print it: nDPI writes a single
 * zero group as `::` (`3ffe:507::1:200:86ff:fe05:80da` for `3ffe:507:0:1:…`). What does not parse
 * (nDPI sometimes prints two `::`) is kept as printed.
 */
function canonical(ep: string): string {
  const v6 = v6Endpoint(ep);
  return v6 ? `[${ipText(v6[0], 0, 6)}]:${v6[1]}` : ep;
}

/** `[v6]:port` as the address's 16 bytes and the port text, or null (IPv4, or does not parse). */
function v6Endpoint(ep: string): [Uint8Array, string] | null {
  const m = /^\[(.*)\]:(\d+)$/.exec(ep);
  if (!m) return null;
  const b = new Uint8Array(16);
  try {
    writeIp(b, 0, m[1]);
  } catch {
    return null;
  }
  return [b, m[2]];
}

export interface TsharkReference {
  conversations: Conversation[];
  /** Packets with an IP header, and the sum of their IP-layer lengths (ip.len / 40 + ipv6.plen). */
  ipPackets: number;
  ipBytes: number;
}

/**
 * One tshark run: per-packet `ip.len` / `ipv6.plen`, then the `-z conv,tcp -z conv,udp` tables,
 * whose rows read `10.0.0.1:51000  <-> 1.2.3.4:3333  12 1234 bytes  10 5678 bytes ...` with the
 * first pair of counts being frames from the right endpoint to the left one (the "<-" column).
 */
export function tsharkReference(path: string): TsharkReference | null {
  const args = [
    '-n',
    '-r',
    path,
    '-T',
    'fields',
    '-e',
    'ip.len',
    '-e',
    'ipv6.plen',
    '-z',
    'conv,tcp',
    '-z',
    'conv,udp',
  ];
  const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.error || r.status !== 0) return null;
  const conversations: Conversation[] = [];
  let proto = '';
  let inStats = false;
  let ipPackets = 0;
  let ipBytes = 0;
  for (const l of r.stdout.split('\n')) {
    if (l.startsWith('=====')) inStats = true;
    if (!inStats) {
      // The outer header comes first (ICMP errors quote an inner IP header after a comma).
      const [v4, v6] = l.split('\t');
      if (v4) ipBytes += Number(v4.split(',')[0]);
      else if (v6) ipBytes += 40 + Number(v6.split(',')[0]);
      else continue;
      ipPackets++;
      continue;
    }
    if (l.startsWith('TCP Conversations')) proto = 'TCP';
    else if (l.startsWith('UDP Conversations')) proto = 'UDP';
    const m = /^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+([\d,]+) (\w+)\s+(\d+)\s+([\d,]+) (\w+)/.exec(l);
    if (!m || !proto) continue;
    const bytes = (n: string, unit: string) => (unit === 'bytes' ? Number(n.replace(/,/g, '')) : NaN);
    // Left→right is the second pair ("->" column), right→left the first ("<-").
    conversations.push(
      conversation(proto, norm(m[1]), norm(m[2]), +m[6], bytes(m[7], m[8]), +m[3], bytes(m[4], m[5])),
    );
  }
  return { conversations, ipPackets, ipBytes };
}

/** tshark prints IPv6 endpoints as addr:port without brackets. */
function norm(ep: string): string {
  const i = ep.lastIndexOf(':');
  const ip = ep.slice(0, i);
  return ip.includes(':') ? `[${ip}]:${ep.slice(i + 1)}` : ep;
}

/** Our flows of a capture, all batches as records. */
export async function coinradarFlows(
  path: string,
  opts: Omit<FlowTableOptions, 'source'> = {},
  diagnostics = new Diagnostics(),
): Promise<FlowRecord[]> {
  const out: FlowRecord[] = [];
  for await (const b of captureFlows(path, { ...opts, diagnostics })) out.push(...b.records());
  return out;
}

/** Our flows as conversations, with a per-packet byte adjustment (e.g. L2 header bytes). */
export function asConversations(
  flows: FlowRecord[],
  bytesOf: (f: FlowRecord, dir: 'fwd' | 'rev') => number,
): Conversation[] {
  return flows.map((f) =>
    conversation(
      PROTO[f.proto] ?? String(f.proto),
      endpoint(f.src, f.srcPort),
      endpoint(f.dst, f.dstPort),
      f.packets,
      bytesOf(f, 'fwd'),
      f.revPackets,
      bytesOf(f, 'rev'),
    ),
  );
}

export function merged(convs: Conversation[]): Map<string, Conversation> {
  const m = new Map<string, Conversation>();
  for (const c of convs) {
    const k = key(c);
    const o = m.get(k);
    if (!o) m.set(k, { ...c });
    else {
      o.packetsAB += c.packetsAB;
      o.packetsBA += c.packetsBA;
      o.bytesAB += c.bytesAB;
      o.bytesBA += c.bytesBA;
    }
  }
  return m;
}

/**
 * Assert that our conversations equal the peer's: same 5-tuples (only the protocols in `only`, if
 * given, for our extras), same packets per direction, frame bytes − IP bytes within the link
 * overhead (see peers.test.ts).
 */
export function compare(file: string, ref: Conversation[], ours: Conversation[], only?: Set<string>): void {
  const mine = merged(ours);
  const theirs = merged(ref);
  const missing: string[] = [];
  const extra: string[] = [];
  const differ: string[] = [];
  for (const [k, r] of theirs) {
    const c = mine.get(k);
    if (!c) {
      missing.push(k);
      continue;
    }
    if (c.packetsAB !== r.packetsAB || c.packetsBA !== r.packetsBA) {
      differ.push(`${k}: ours ${c.packetsAB}/${c.packetsBA} pkts, peer ${r.packetsAB}/${r.packetsBA}`);
      continue;
    }
    for (const [peerBytes, ourBytes, pkts] of [
      [r.bytesAB, c.bytesAB, c.packetsAB],
      [r.bytesBA, c.bytesBA, c.packetsBA],
    ]) {
      const l2 = peerBytes - ourBytes;
      if (l2 < 14 * pkts || l2 > (14 + 4 + 18 + 4) * pkts) {
        differ.push(`${k}: peer frame bytes ${peerBytes} vs our IP bytes ${ourBytes} over ${pkts} packets`);
      }
    }
  }
  for (const k of mine.keys()) if (!theirs.has(k) && (!only || only.has(k.split(' ')[0]))) extra.push(k);
  assert.deepEqual({ missing, extra, differ }, { missing: [], extra: [], differ: [] }, file);
  assert.ok(theirs.size > 0, `${file}: the peer listed no flows`);
}
