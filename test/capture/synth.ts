/**
 * Small capture files built in the tests: pcap in all four magics, pcapng in both byte
 * orders, and packets (IPv4/IPv6, TCP/UDP) wrapped in each link type we decode.
 */
import { writeIp } from '../../src/flow/record.js';

export interface SynthPacket {
  tsMs: number;
  data: Buffer;
  origLen?: number;
  interfaceId?: number;
  linkType?: number;
}

export function u32(v: number, le: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (le) b.writeUInt32LE(v >>> 0);
  else b.writeUInt32BE(v >>> 0);
  return b;
}

function u16(v: number, le: boolean): Buffer {
  const b = Buffer.alloc(2);
  if (le) b.writeUInt16LE(v);
  else b.writeUInt16BE(v);
  return b;
}

export function pcapFile(
  packets: SynthPacket[],
  opts: { le?: boolean; nano?: boolean; linkType?: number; snaplen?: number } = {},
): Buffer {
  const le = opts.le ?? true;
  const nano = opts.nano ?? false;
  const parts = [
    u32(nano ? 0xa1b23c4d : 0xa1b2c3d4, le),
    u16(2, le),
    u16(4, le),
    u32(0, le),
    u32(0, le),
    u32(opts.snaplen ?? 65535, le),
    u32(opts.linkType ?? 1, le),
  ];
  for (const p of packets) parts.push(pcapRecord(p, le, nano));
  return Buffer.concat(parts);
}

export function pcapRecord(p: SynthPacket, le = true, nano = false, caplen = p.data.length): Buffer {
  const sec = Math.floor(p.tsMs / 1000);
  const frac = Math.round((p.tsMs - sec * 1000) * (nano ? 1e6 : 1e3));
  return Buffer.concat([
    u32(sec, le),
    u32(frac, le),
    u32(caplen, le),
    u32(p.origLen ?? p.data.length, le),
    p.data,
  ]);
}

function pad4(b: Buffer): Buffer {
  return b.length % 4 === 0 ? b : Buffer.concat([b, Buffer.alloc(4 - (b.length % 4))]);
}

export function pcapngBlock(type: number, body: Buffer, le: boolean): Buffer {
  const b = pad4(body);
  return Buffer.concat([u32(type, le), u32(b.length + 12, le), b, u32(b.length + 12, le)]);
}

export function pcapngShb(le: boolean): Buffer {
  const body = Buffer.concat([u32(0x1a2b3c4d, le), u16(1, le), u16(0, le), Buffer.alloc(8, 0xff)]);
  return pcapngBlock(0x0a0d0d0a, body, le);
}

export function pcapngIdb(linkType: number, le: boolean, tsresol?: number, snaplen = 0): Buffer {
  const opts: Buffer[] = [];
  if (tsresol !== undefined)
    opts.push(u16(9, le), u16(1, le), Buffer.from([tsresol, 0, 0, 0]), u16(0, le), u16(0, le));
  return pcapngBlock(1, Buffer.concat([u16(linkType, le), u16(0, le), u32(snaplen, le), ...opts]), le);
}

export function pcapngEpb(p: SynthPacket, le: boolean, unitsPerMs = 1000): Buffer {
  const ts = BigInt(Math.round(p.tsMs * unitsPerMs));
  const body = Buffer.concat([
    u32(p.interfaceId ?? 0, le),
    u32(Number(ts >> 32n), le),
    u32(Number(ts & 0xffffffffn), le),
    u32(p.data.length, le),
    u32(p.origLen ?? p.data.length, le),
    pad4(p.data),
  ]);
  return pcapngBlock(6, body, le);
}

export function pcapngSpb(p: SynthPacket, le: boolean): Buffer {
  return pcapngBlock(3, Buffer.concat([u32(p.origLen ?? p.data.length, le), pad4(p.data)]), le);
}

/** A pcapng file: one section, the given interfaces (link type, tsresol), EPBs, plus an unknown block. */
export function pcapngFile(
  packets: SynthPacket[],
  opts: { le?: boolean; interfaces?: { linkType: number; tsresol?: number }[] } = {},
): Buffer {
  const le = opts.le ?? true;
  const ifs = opts.interfaces ?? [{ linkType: 1 }];
  const parts = [pcapngShb(le), ...ifs.map((i) => pcapngIdb(i.linkType, le, i.tsresol))];
  // A custom block (type 0xBAD) and a name resolution block: readers must skip both.
  parts.push(
    pcapngBlock(0xbad, Buffer.from('PEN0something custom'), le),
    pcapngBlock(4, Buffer.alloc(4), le),
  );
  for (const p of packets) {
    const r = ifs[p.interfaceId ?? 0].tsresol;
    const units = r === undefined ? 1000 : r & 0x80 ? 2 ** (r & 0x7f) / 1000 : 10 ** r / 1000;
    parts.push(pcapngEpb(p, le, units));
  }
  return Buffer.concat(parts);
}

function addr(text: string): Buffer {
  const b = Buffer.alloc(16);
  const v = writeIp(b, 0, text);
  return v === 4 ? b.subarray(0, 4) : b;
}

function checksumless(b: Buffer): Buffer {
  return b; // checksums are not verified by any reader in this project
}

export interface L4 {
  proto?: number;
  sport?: number;
  dport?: number;
  /** TCP flags (SYN 2, ACK 16, FIN 1, RST 4, PSH 8). */
  flags?: number;
  seq?: number;
  payload?: Buffer | string;
}

export function transport(l4: L4): Buffer {
  const proto = l4.proto ?? 6;
  const payload = typeof l4.payload === 'string' ? Buffer.from(l4.payload) : (l4.payload ?? Buffer.alloc(0));
  if (proto === 6) {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(l4.sport ?? 0, 0);
    h.writeUInt16BE(l4.dport ?? 0, 2);
    h.writeUInt32BE((l4.seq ?? 1000) >>> 0, 4);
    h[12] = 5 << 4;
    h[13] = l4.flags ?? 0x10;
    h.writeUInt16BE(65535, 14);
    return Buffer.concat([h, payload]);
  }
  if (proto === 17) {
    const h = Buffer.alloc(8);
    h.writeUInt16BE(l4.sport ?? 0, 0);
    h.writeUInt16BE(l4.dport ?? 0, 2);
    h.writeUInt16BE(8 + payload.length, 4);
    return Buffer.concat([h, payload]);
  }
  return Buffer.concat([Buffer.from([8, 0, 0, 0, 0, 1, 0, 1]), payload]); // ICMP echo or other
}

export function ipv4(src: string, dst: string, l4: L4, o: { options?: Buffer; frag?: number } = {}): Buffer {
  const opt = o.options ?? Buffer.alloc(0);
  const body = transport(l4);
  const h = Buffer.alloc(20);
  h[0] = 0x40 | ((20 + opt.length) / 4);
  h.writeUInt16BE(20 + opt.length + body.length, 2);
  h.writeUInt16BE(o.frag ?? 0, 6);
  h[8] = 64;
  h[9] = l4.proto ?? 6;
  addr(src).copy(h, 12);
  addr(dst).copy(h, 16);
  return checksumless(Buffer.concat([h, opt, body]));
}

/** IPv6 with extension headers given as [next-header-type, 8-byte-multiple body] pairs. */
export function ipv6(src: string, dst: string, l4: L4, ext: { type: number; body: Buffer }[] = []): Buffer {
  const body = transport(l4);
  const exts: Buffer[] = [];
  for (let k = 0; k < ext.length; k++) {
    const next = k + 1 < ext.length ? ext[k + 1].type : (l4.proto ?? 6);
    const e = Buffer.concat([Buffer.from([next, 0]), ext[k].body]);
    if (ext[k].type !== 44) e[1] = e.length / 8 - 1;
    else e[1] = 0;
    exts.push(e);
  }
  const payloadLen = exts.reduce((a, e) => a + e.length, 0) + body.length;
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(payloadLen, 4);
  h[6] = ext.length ? ext[0].type : (l4.proto ?? 6);
  h[7] = 64;
  addr(src).copy(h, 8);
  addr(dst).copy(h, 24);
  return Buffer.concat([h, ...exts, body]);
}

const MAC = Buffer.from('020000000001020000000002', 'hex');

export function ether(ip: Buffer, vlans: number[] = [], tpid = 0x8100): Buffer {
  const type = Buffer.alloc(2);
  type.writeUInt16BE(ip[0] >> 4 === 6 ? 0x86dd : 0x0800);
  const tags = vlans.map((id, k) => {
    const t = Buffer.alloc(4);
    t.writeUInt16BE(k === 0 ? tpid : 0x8100, 0);
    t.writeUInt16BE(id, 2);
    return t;
  });
  // Each tag's TPID precedes its TCI; the last ethertype follows the tags.
  const l2 = [MAC];
  for (const t of tags) l2.push(t);
  l2.push(type);
  const frame = Buffer.concat([...l2, ip]);
  return frame.length < 60 ? Buffer.concat([frame, Buffer.alloc(60 - frame.length)]) : frame;
}

export function sll(ip: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0, 0);
  h.writeUInt16BE(1, 2);
  h.writeUInt16BE(6, 4);
  h.writeUInt16BE(ip[0] >> 4 === 6 ? 0x86dd : 0x0800, 14);
  return Buffer.concat([h, ip]);
}

export function sll2(ip: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(ip[0] >> 4 === 6 ? 0x86dd : 0x0800, 0);
  h.writeUInt32BE(2, 4);
  h.writeUInt16BE(1, 8);
  h[11] = 6;
  return Buffer.concat([h, ip]);
}

export function nullLink(ip: Buffer, le: boolean): Buffer {
  const fam = ip[0] >> 4 === 6 ? 30 : 2;
  return Buffer.concat([u32(fam, le), ip]);
}

/** An IPv4 fragment: `data` at byte `offset` of the datagram's data (a multiple of 8 on the wire). */
export function ipv4Fragment(
  src: string,
  dst: string,
  f: { proto: number; id: number; offset: number; more: boolean; data: Buffer; options?: Buffer },
): Buffer {
  const opt = f.options ?? Buffer.alloc(0);
  const h = Buffer.alloc(20);
  h[0] = 0x40 | ((20 + opt.length) / 4);
  h.writeUInt16BE(20 + opt.length + f.data.length, 2);
  h.writeUInt16BE(f.id, 4);
  h.writeUInt16BE((f.more ? 0x2000 : 0) | (f.offset >> 3), 6);
  h[8] = 64;
  h[9] = f.proto;
  addr(src).copy(h, 12);
  addr(dst).copy(h, 16);
  return Buffer.concat([h, opt, f.data]);
}

/** An IPv6 fragment: the given extension headers (the unfragmentable part), then the fragment header. */
export function ipv6Fragment(
  src: string,
  dst: string,
  f: { proto: number; id: number; offset: number; more: boolean; data: Buffer },
  ext: { type: number; body: Buffer }[] = [],
): Buffer {
  const frag = Buffer.alloc(8);
  frag[0] = f.proto;
  frag.writeUInt16BE(f.offset | (f.more ? 1 : 0), 2);
  frag.writeUInt32BE(f.id >>> 0, 4);
  const exts: Buffer[] = [];
  for (let k = 0; k < ext.length; k++) {
    const e = Buffer.concat([Buffer.from([k + 1 < ext.length ? ext[k + 1].type : 44, 0]), ext[k].body]);
    e[1] = e.length / 8 - 1;
    exts.push(e);
  }
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(exts.reduce((a, e) => a + e.length, 0) + 8 + f.data.length, 4);
  h[6] = ext.length ? ext[0].type : 44;
  h[7] = 64;
  addr(src).copy(h, 8);
  addr(dst).copy(h, 24);
  return Buffer.concat([h, ...exts, frag, f.data]);
}

/** A datagram's transport bytes cut at the given offsets: [offset, bytes, more] per fragment. */
export function cut(datagram: Buffer, at: number[]): [number, Buffer, boolean][] {
  const ends = [...at, datagram.length];
  return ends.slice(0, -1).map((o, k) => [o, datagram.subarray(o, ends[k + 1]), k + 2 < ends.length]);
}

/**
 * A UDP datagram from `src` to `dst` as the IPv4 fragments a 1,500-byte MTU gives (`dataPerFragment`
 * bytes of the UDP datagram each, a multiple of 8), in order.
 */
export function udpFragments4(
  src: string,
  dst: string,
  l4: { sport: number; dport: number; payload: Buffer },
  id: number,
  dataPerFragment = 1480,
): Buffer[] {
  const udp = transport({ proto: 17, ...l4 });
  const at: number[] = [];
  for (let o = 0; o < udp.length; o += dataPerFragment) at.push(o);
  return cut(udp, at).map(([offset, data, more]) =>
    ipv4Fragment(src, dst, { proto: 17, id, offset, more, data }),
  );
}
