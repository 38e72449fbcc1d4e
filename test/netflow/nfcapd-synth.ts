// Builders for nfdump files the tests cannot get from a running nfcapd: the 1.6 layout (Debian ships
// nfdump 1.7.1, which reads but no longer writes it), and layout-2 files reassembled from the blocks
// of real ones (several blocks, cut short, corrupted). nfdump -r is the oracle for what they hold.
import type { FlowBatch } from '../../src/flow/record.js';

export interface RawBlock {
  offset: number;
  numRecords: number;
  type: number;
  flags: number;
  /** The block's data as stored (compressed when the file is). */
  data: Buffer;
  /** A layout-2 appendix block (ident and statistics), not flows. */
  appendix?: boolean;
}

/** The file header and the blocks of an nfdump file, as stored. */
export function splitBlocks(file: Buffer): { header: Buffer; blocks: RawBlock[] } {
  const layout = file.readUInt16LE(2);
  const start = layout === 1 ? 276 : 40;
  const blocks: RawBlock[] = [];
  const appendixAt = layout === 2 ? Number(file.readBigUInt64LE(24)) : 0;
  for (let p = start; p + 12 <= file.length;) {
    const size = file.readUInt32LE(p + 4);
    blocks.push({
      offset: p,
      numRecords: file.readUInt32LE(p),
      type: file.readUInt16LE(p + 8),
      flags: file.readUInt16LE(p + 10),
      data: file.subarray(p + 12, p + 12 + size),
      appendix: appendixAt > 0 && p >= appendixAt,
    });
    p += 12 + size;
  }
  return { header: file.subarray(0, start), blocks };
}

export function blockBytes(b: Omit<RawBlock, 'offset'>): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt32LE(b.numRecords, 0);
  h.writeUInt32LE(b.data.length, 4);
  h.writeUInt16LE(b.type, 8);
  h.writeUInt16LE(b.flags, 10);
  return Buffer.concat([h, b.data]);
}

/** A layout-2 file of `header` (its appendix offset cleared: no appendix) and these blocks. */
export function layout2File(header: Buffer, blocks: Omit<RawBlock, 'offset'>[]): Buffer {
  const h = Buffer.from(header.subarray(0, 40));
  h.writeUInt16LE(0, 18);
  h.writeBigUInt64LE(0n, 24);
  h.writeUInt32LE(blocks.length, 36);
  return Buffer.concat([h, ...blocks.map(blockBytes)]);
}

/** LZ4 block of literals only (one sequence): valid LZ4 that any decoder must expand to `data`. */
export function literalLz4(data: Buffer): Buffer {
  const out: number[] = [];
  let n = data.length;
  if (n < 15) out.push(n << 4);
  else {
    out.push(0xf0);
    n -= 15;
    while (n >= 255) {
      out.push(255);
      n -= 255;
    }
    out.push(n);
  }
  return Buffer.concat([Buffer.from(out), data]);
}

/** LZO1X stream of one literal run and the end marker (the shape lzo1x_1 gives incompressible data). */
export function literalLzo(data: Buffer): Buffer {
  const out: number[] = [];
  const n = data.length;
  if (n <= 238) out.push(n + 17);
  else {
    // opcode 0: run length 18 + 255 per zero byte + the last byte, plus 3
    out.push(0);
    let rest = n - 3 - 15;
    while (rest > 255) {
      out.push(0);
      rest -= 255;
    }
    out.push(rest);
  }
  return Buffer.concat([Buffer.from(out), data, Buffer.from([0x11, 0, 0])]);
}

function ipv6Halves(b: Uint8Array, off: number, out: Buffer, at: number): void {
  for (let k = 0; k < 8; k++) {
    out[at + k] = b[off + 7 - k];
    out[at + 8 + k] = b[off + 15 - k];
  }
}

function ipv4Host(b: Uint8Array, off: number, out: Buffer, at: number): void {
  out.writeUInt32LE(((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0, at);
}

/**
 * An nfdump 1.6 (layout 1) file of the batch's flows: one extension map for IPv4 flows (2-byte
 * interfaces, 4-byte AS, masks, IPv4 next hop, 4-byte reverse counters, IPv4 router address) and one
 * for IPv6 flows (4-byte interfaces, 2-byte AS, IPv6 next hop, 8-byte reverse counters, IPv6 router
 * address), 64-bit in-counters on every other record, in blocks of `perBlock` records.
 */
export function layout1File(
  batches: FlowBatch[],
  opts: { compression?: 'none' | 'lzo' | 'lz4'; perBlock?: number } = {},
): Buffer {
  const records: Buffer[] = [];
  const map = (id: number, ids: number[], extSize: number) => {
    const size = (8 + 2 * (ids.length + 1) + 3) & ~3;
    const m = Buffer.alloc(size);
    m.writeUInt16LE(2, 0);
    m.writeUInt16LE(size, 2);
    m.writeUInt16LE(id, 4);
    m.writeUInt16LE(extSize, 6);
    ids.forEach((x, k) => m.writeUInt16LE(x, 8 + 2 * k));
    return m;
  };
  // Interfaces, AS numbers, masks and next hops before the reverse counters: a reader that sizes any
  // of them wrong reads wrong reverse counters and router addresses (filled with 0x5a below).
  const maps = [map(1, [4, 7, 8, 9, 14, 16, 23], 32), map(2, [5, 6, 10, 15, 17, 24], 60)];
  let flows = 0;
  let n = 0;
  for (const b of batches) {
    for (let i = 0; i < b.length; i++, n++) {
      const v6 = b.ipVersion[i] === 6;
      const wide = n % 2 === 1;
      const size = 32 + (v6 ? 32 : 8) + (wide ? 16 : 8) + (v6 ? 28 + 8 + 8 + 16 : 20 + 4 + 4 + 4);
      const r = Buffer.alloc(size);
      r.writeUInt16LE(10, 0);
      r.writeUInt16LE(size, 2);
      r.writeUInt16LE((v6 ? 1 | 8 | 32 : 0) | (wide ? 2 | 4 : 0), 4);
      r.writeUInt16LE(v6 ? 2 : 1, 6);
      r.writeUInt16LE(b.firstMs[i] % 1000, 8);
      r.writeUInt16LE(b.lastMs[i] % 1000, 10);
      r.writeUInt32LE(Math.floor(b.firstMs[i] / 1000), 12);
      r.writeUInt32LE(Math.floor(b.lastMs[i] / 1000), 16);
      r[21] = b.tcpFlags[i];
      r[22] = b.proto[i];
      r.writeUInt16LE(b.srcPort[i], 24);
      r.writeUInt16LE(b.dstPort[i], 26);
      r.writeUInt16LE(1, 28);
      let q = 32;
      if (v6) {
        ipv6Halves(b.src, i * 16, r, q);
        ipv6Halves(b.dst, i * 16, r, q + 16);
        q += 32;
      } else {
        ipv4Host(b.src, i * 16, r, q);
        ipv4Host(b.dst, i * 16, r, q + 4);
        q += 8;
      }
      for (const v of [b.packets[i], b.bytes[i]]) {
        if (wide) {
          r.writeBigUInt64LE(BigInt(v), q);
          q += 8;
        } else {
          r.writeUInt32LE(v, q);
          q += 4;
        }
      }
      r.fill(0x5a, q, q + (v6 ? 28 : 20));
      q += v6 ? 28 : 20;
      if (v6) {
        r.writeBigUInt64LE(BigInt(b.revPackets[i]), q);
        r.writeBigUInt64LE(BigInt(b.revBytes[i]), q + 8);
        ipv6Halves(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), 0, r, q + 16);
      } else {
        r.writeUInt32LE(b.revPackets[i], q);
        r.writeUInt32LE(b.revBytes[i], q + 4);
        r.writeUInt32LE(0x7f000001, q + 8);
      }
      records.push(r);
      flows++;
    }
  }
  const perBlock = opts.perBlock ?? 400;
  const compression = opts.compression ?? 'none';
  const blocks: Buffer[] = [];
  for (let k = 0; k < records.length; k += perBlock) {
    // Every block starts with the maps, as nfcapd 1.6 repeated them at each new block.
    const recs = [...maps, ...records.slice(k, k + perBlock)];
    const plain = Buffer.concat(recs);
    const data =
      compression === 'lz4' ? literalLz4(plain) : compression === 'lzo' ? literalLzo(plain) : plain;
    blocks.push(blockBytes({ numRecords: recs.length, type: 2, flags: 0, data }));
  }
  const header = Buffer.alloc(140 + 136);
  header.writeUInt16LE(0xa50c, 0);
  header.writeUInt16LE(1, 2);
  header.writeUInt32LE(compression === 'lzo' ? 0x1 : compression === 'lz4' ? 0x10 : 0, 4);
  header.writeUInt32LE(blocks.length, 8);
  header.write('coinradar-test', 12, 'latin1');
  header.writeBigUInt64LE(BigInt(flows), 140);
  return Buffer.concat([header, ...blocks]);
}

/** One V3 record (nfdump 1.7) of an IPv4 flow: EXgenericFlow, EXipv4Flow and EXipReceivedV4. */
export function v3Record(f: {
  first: number;
  last: number;
  src: number;
  dst: number;
  srcPort: number;
  dstPort: number;
  proto: number;
  packets: number;
  bytes: number;
}): Buffer {
  const r = Buffer.alloc(12 + 52 + 12 + 8);
  r.writeUInt16LE(11, 0);
  r.writeUInt16LE(r.length, 2);
  r.writeUInt16LE(3, 4);
  r.writeUInt16LE(1, 8);
  r[11] = 10;
  let q = 12;
  r.writeUInt16LE(1, q);
  r.writeUInt16LE(52, q + 2);
  r.writeBigUInt64LE(BigInt(f.first), q + 4);
  r.writeBigUInt64LE(BigInt(f.last), q + 12);
  r.writeBigUInt64LE(BigInt(f.packets), q + 28);
  r.writeBigUInt64LE(BigInt(f.bytes), q + 36);
  r.writeUInt16LE(f.srcPort, q + 44);
  r.writeUInt16LE(f.dstPort, q + 46);
  r[q + 48] = f.proto;
  q += 52;
  r.writeUInt16LE(2, q);
  r.writeUInt16LE(12, q + 2);
  r.writeUInt32LE(f.src, q + 4);
  r.writeUInt32LE(f.dst, q + 8);
  q += 12;
  r.writeUInt16LE(12, q);
  r.writeUInt16LE(8, q + 2);
  r.writeUInt32LE(0x0a000001, q + 4);
  return r;
}

/** A bare layout-2 file header: no appendix, `compression` as nfdump numbers it (0 none, 1 LZO, 2 BZ2, 3 LZ4, 4 ZSTD). */
export function layout2Header(compression = 0): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt16LE(0xa50c, 0);
  h.writeUInt16LE(2, 2);
  h.writeUInt32LE(0x01070100, 4);
  h[16] = compression;
  return h;
}
