/**
 * Replays a scenario's export datagrams over UDP, paced to a rate in flow records per second
 * (0 = as fast as the socket takes them).
 */
import { createSocket } from 'node:dgram';
import { readUdpPayloads } from './pcap.js';

/** Data records in a NetFlow v9 or IPFIX datagram (data sets with the generator's template 256). */
export function recordsInDatagram(d: Buffer): number {
  if (d.length < 16) return 0;
  const version = d.readUInt16BE(0);
  const [head, recLen] = version === 9 ? [20, 38] : version === 10 ? [16, 47] : [0, 0];
  if (!head) return 0;
  let n = 0;
  for (let o = head; o + 4 <= d.length;) {
    const id = d.readUInt16BE(o);
    const len = d.readUInt16BE(o + 2);
    if (len < 4) break;
    if (id === 256) n += Math.floor((len - 4) / recLen);
    o += len;
  }
  return n;
}

export interface ReplayTarget {
  host: string;
  port: number;
}

export function parseUdpUrl(url: string): ReplayTarget {
  const m = /^udp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(url);
  if (!m) throw new Error(`--to must look like udp://127.0.0.1:2055, not ${url}`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

export interface ReplayResult {
  datagrams: number;
  records: number;
  seconds: number;
}

/**
 * Closed-loop pacing for a receiver in the same process: never more than `datagrams` sent and not
 * yet read (`read()`, modulo 2^32), so the receiver's kernel buffer cannot overflow however slow the
 * machine is. Size it to the receive buffer the kernel granted.
 */
export interface ReplayWindow {
  read: () => number;
  datagrams: number;
}

export async function replay(
  pcapPath: string,
  to: ReplayTarget,
  ratePerSecond = 0,
  onProgress?: (r: ReplayResult) => void,
  window?: ReplayWindow,
): Promise<ReplayResult> {
  const sock = createSocket(to.host.includes(':') ? 'udp6' : 'udp4');
  const start = Date.now();
  const r: ReplayResult = { datagrams: 0, records: 0, seconds: 0 };
  try {
    for (const { payload } of readUdpPayloads(pcapPath)) {
      await new Promise<void>((resolve, reject) =>
        sock.send(payload, to.port, to.host, (e) => (e ? reject(e) : resolve())),
      );
      r.datagrams++;
      r.records += recordsInDatagram(payload);
      if (window) {
        while ((r.datagrams - window.read()) >>> 0 > window.datagrams)
          await new Promise((res) => setTimeout(res, 1));
      }
      if (ratePerSecond > 0) {
        const due = start + (r.records / ratePerSecond) * 1000;
        const wait = due - Date.now();
        if (wait > 1) await new Promise((res) => setTimeout(res, wait));
      } else if (r.datagrams % 64 === 0) {
        // Let the receiver breathe: a loopback burst overflows default socket buffers.
        await new Promise((res) => setImmediate(res));
      }
      if (r.datagrams % 1000 === 0) onProgress?.({ ...r, seconds: (Date.now() - start) / 1000 });
    }
  } finally {
    sock.close();
  }
  r.seconds = (Date.now() - start) / 1000;
  return r;
}
