/**
 * Reading the reference outputs we compare against: nDPI's `.ndpi.out` flow lines and
 * `tshark -q -z conv,tcp -z conv,udp` conversation tables.
 */
import { spawnSync } from 'node:child_process';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import type { FlowRecord } from '../../src/flow/record.js';
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

const PROTO: Record<number, string> = { 6: 'TCP', 17: 'UDP', 1: 'ICMP', 58: 'ICMPV6', 2: 'IGMP' };

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
    out.push(conversation(m[1], m[2], m[3], +m[4], +m[5], +m[6], +m[7]));
  }
  return out;
}

/**
 * `tshark -q -z conv,tcp -z conv,udp` rows:
 * `10.0.0.1:51000  <-> 1.2.3.4:3333  12 1234 bytes  10 5678 bytes  22 ...` where the first pair
 * of counts is frames from the right endpoint to the left one (tshark's "<-" column).
 */
export function tsharkConversations(path: string): Conversation[] | null {
  const r = spawnSync('tshark', ['-n', '-q', '-r', path, '-z', 'conv,tcp', '-z', 'conv,udp'], {
    encoding: 'utf8',
  });
  if (r.error || r.status !== 0) return null;
  const out: Conversation[] = [];
  let proto = '';
  for (const l of r.stdout.split('\n')) {
    if (l.startsWith('TCP Conversations')) proto = 'TCP';
    else if (l.startsWith('UDP Conversations')) proto = 'UDP';
    const m = /^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+([\d,]+) (\w+)\s+(\d+)\s+([\d,]+) (\w+)/.exec(l);
    if (!m || !proto) continue;
    const bytes = (n: string, unit: string) => (unit === 'bytes' ? Number(n.replace(/,/g, '')) : NaN);
    // Left→right is the second pair ("->" column), right→left the first ("<-").
    out.push(conversation(proto, norm(m[1]), norm(m[2]), +m[6], bytes(m[7], m[8]), +m[3], bytes(m[4], m[5])));
  }
  return out;
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
