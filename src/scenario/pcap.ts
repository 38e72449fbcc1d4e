/**
 * Classic pcap (microsecond, Ethernet) writing for the generator's two captures: the export
 * datagrams (UDP to the collector port) and TCP packets carrying payloads for a sample of hosts;
 * and a small reader of UDP payloads back out of such a file, for `scenario replay`.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';

const ETH = 14;
const IP = 20;

export class PcapWriter {
  private readonly fd: number;
  private buf = Buffer.alloc(1 << 20);
  private used = 0;
  packets = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
    const h = Buffer.alloc(24);
    h.writeUInt32LE(0xa1b2c3d4, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(65535, 16);
    h.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
    this.put(h);
  }

  private put(b: Buffer): void {
    if (this.used + b.length > this.buf.length) this.flush();
    if (b.length > this.buf.length) {
      writeSync(this.fd, b);
      return;
    }
    b.copy(this.buf, this.used);
    this.used += b.length;
  }

  private flush(): void {
    if (this.used > 0) writeSync(this.fd, this.buf, 0, this.used);
    this.used = 0;
  }

  /** One Ethernet frame at `timeMs`. */
  frame(timeMs: number, frame: Buffer): void {
    const h = Buffer.alloc(16);
    const sec = Math.floor(timeMs / 1000);
    h.writeUInt32LE(sec >>> 0, 0);
    h.writeUInt32LE(Math.round((timeMs - sec * 1000) * 1000) >>> 0, 4);
    h.writeUInt32LE(frame.length, 8);
    h.writeUInt32LE(frame.length, 12);
    this.put(h);
    this.put(frame);
    this.packets++;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

function ipChecksum(b: Buffer, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += b.readUInt16BE(off + i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

function ethernetIpv4(src: number, dst: number, proto: number, l4len: number, id: number): Buffer {
  const f = Buffer.alloc(ETH + IP + l4len);
  // Locally administered MACs derived from the addresses.
  f.writeUInt16BE(0x0200, 0);
  f.writeUInt32BE(dst >>> 0, 2);
  f.writeUInt16BE(0x0200, 6);
  f.writeUInt32BE(src >>> 0, 8);
  f.writeUInt16BE(0x0800, 12);
  f.writeUInt8(0x45, ETH);
  f.writeUInt16BE(IP + l4len, ETH + 2);
  f.writeUInt16BE(id & 0xffff, ETH + 4);
  f.writeUInt16BE(0x4000, ETH + 6); // don't fragment
  f.writeUInt8(64, ETH + 8);
  f.writeUInt8(proto, ETH + 9);
  f.writeUInt32BE(src >>> 0, ETH + 12);
  f.writeUInt32BE(dst >>> 0, ETH + 16);
  f.writeUInt16BE(ipChecksum(f, ETH, IP), ETH + 10);
  return f;
}

/** Ethernet/IPv4/UDP frame (UDP checksum 0: optional over IPv4). */
export function udpFrame(
  src: number,
  dst: number,
  sport: number,
  dport: number,
  payload: Buffer,
  id = 0,
): Buffer {
  const f = ethernetIpv4(src, dst, 17, 8 + payload.length, id);
  const o = ETH + IP;
  f.writeUInt16BE(sport, o);
  f.writeUInt16BE(dport, o + 2);
  f.writeUInt16BE(8 + payload.length, o + 4);
  payload.copy(f, o + 8);
  return f;
}

function tcpChecksum(f: Buffer, l4len: number): number {
  const o = ETH + IP;
  let s = 0;
  s +=
    f.readUInt16BE(ETH + 12) + f.readUInt16BE(ETH + 14) + f.readUInt16BE(ETH + 16) + f.readUInt16BE(ETH + 18);
  s += 6 + l4len;
  for (let i = 0; i + 1 < l4len; i += 2) s += f.readUInt16BE(o + i);
  if (l4len & 1) s += f[o + l4len - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Ethernet/IPv4/TCP frame with a valid TCP checksum. */
export function tcpFrame(
  src: number,
  dst: number,
  sport: number,
  dport: number,
  seq: number,
  ack: number,
  flags: number,
  payload: Buffer,
  id = 0,
): Buffer {
  const l4 = 20 + payload.length;
  const f = ethernetIpv4(src, dst, 6, l4, id);
  const o = ETH + IP;
  f.writeUInt16BE(sport, o);
  f.writeUInt16BE(dport, o + 2);
  f.writeUInt32BE(seq >>> 0, o + 4);
  f.writeUInt32BE(ack >>> 0, o + 8);
  f.writeUInt8(5 << 4, o + 12);
  f.writeUInt8(flags, o + 13);
  f.writeUInt16BE(65535, o + 14);
  payload.copy(f, o + 20);
  f.writeUInt16BE(tcpChecksum(f, l4), o + 16);
  return f;
}

/** UDP payloads (with capture times) of an Ethernet/IPv4 pcap, in file order. */
export function* readUdpPayloads(
  path: string,
): Generator<{ timeMs: number; dstPort: number; payload: Buffer }> {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(24);
    if (readSync(fd, head, 0, 24, 0) !== 24) throw new Error(`${path}:0: not a pcap file (short header)`);
    const magic = head.readUInt32LE(0);
    if (magic !== 0xa1b2c3d4)
      throw new Error(
        `${path}:0: expected a little-endian microsecond pcap, found magic ${magic.toString(16)}`,
      );
    let pos = 24;
    const rec = Buffer.alloc(16);
    for (;;) {
      if (readSync(fd, rec, 0, 16, pos) < 16) return;
      const len = rec.readUInt32LE(8);
      const frame = Buffer.alloc(len);
      if (readSync(fd, frame, 0, len, pos + 16) < len)
        throw new Error(`${path}:${pos}: truncated packet record`);
      const timeMs = rec.readUInt32LE(0) * 1000 + rec.readUInt32LE(4) / 1000;
      pos += 16 + len;
      if (len < ETH + IP + 8 || frame.readUInt16BE(12) !== 0x0800 || frame[ETH + 9] !== 17) continue;
      const ihl = (frame[ETH] & 15) * 4;
      const u = ETH + ihl;
      const ulen = frame.readUInt16BE(u + 4);
      yield {
        timeMs,
        dstPort: frame.readUInt16BE(u + 2),
        payload: frame.subarray(u + 8, u + Math.min(ulen, len - u)),
      };
    }
  } finally {
    closeSync(fd);
  }
}
