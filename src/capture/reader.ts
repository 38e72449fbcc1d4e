/**
 * Streaming pcap and pcapng readers. The file is read in 4 MiB chunks into one Buffer and each
 * record is handed to `onPacket` as a view into that Buffer: no object and no copy per packet,
 * so files larger than RAM stream through in constant memory.
 *
 * Bad input is reported through `Diagnostics` with the file offset of the record: a truncated
 * last record, a caplen beyond the snaplen, a corrupt pcapng block length (we then scan forward
 * for the next block whose leading and trailing lengths agree). Lengths from the file are never
 * used to allocate without a cap.
 */
import type { Diagnostics } from '../flow/diagnostics.js';
import { InputError } from '../flow/diagnostics.js';
import { ChunkedFile } from './chunked-file.js';
import { MAX_DATE_MS } from '../flow/plausible-time.js';

/**
 * One captured packet. The reader reuses a single PacketView for every packet: copy what you
 * need inside the callback. `data` (a subarray, made on access) and `buf`/`offset` (no
 * allocation: the packet is `buf[offset, offset + caplen)`) are valid only during the callback.
 */
export interface PacketView {
  /** LINKTYPE_* value (1 Ethernet, 113 Linux cooked, 276 Linux cooked v2, 101 raw, 0 null ...). */
  linkType: number;
  /** Milliseconds since the epoch, fractional. */
  tsMs: number;
  caplen: number;
  origLen: number;
  data: Buffer;
  /** File offset of the packet's record (pcap record header / pcapng block). */
  fileOffset: number;
  /** pcapng interface id within its section; 0 for pcap. */
  interfaceId: number;
  buf: Buffer;
  offset: number;
}

class ReusedPacketView implements PacketView {
  linkType = 0;
  // Doubles from the start (-0 is not a small integer to V8): a field that changes representation
  // mid-file deoptimises every function that reads the view.
  tsMs = -0;
  caplen = 0;
  origLen = 0;
  fileOffset = -0;
  interfaceId = 0;
  buf: Buffer = Buffer.alloc(0);
  offset = 0;
  get data(): Buffer {
    return this.buf.subarray(this.offset, this.offset + this.caplen);
  }
}

export interface ReadCaptureOptions {
  onProgress?: (bytesRead: number) => void;
  /** Read size (default 4 MiB); small values exist to test records straddling chunk ends. */
  chunkBytes?: number;
}

/** The largest packet we accept (libpcap's MAXIMUM_SNAPLEN is 262144; allow headroom). */
export const MAX_CAPLEN = 1 << 20;
/** The largest pcapng block we accept. */
export const MAX_BLOCK = 16 << 20;

const PCAP_US = 0xa1b2c3d4;
const PCAP_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BOM = 0x1a2b3c4d;

/** Which capture format `head` starts with, from the magic number alone. */
export function pcapMagic(head: Buffer): 'pcap' | 'pcapng' | null {
  if (head.length < 4) return null;
  const be = head.readUInt32BE(0);
  const le = head.readUInt32LE(0);
  if (be === PCAP_US || be === PCAP_NS || le === PCAP_US || le === PCAP_NS) return 'pcap';
  if (be === PCAPNG_SHB && head.length >= 12) {
    const bom = head.readUInt32BE(8);
    if (bom === PCAPNG_BOM || head.readUInt32LE(8) === PCAPNG_BOM) return 'pcapng';
  }
  return null;
}

/**
 * Read every packet of a pcap or pcapng file. Throws InputError (offset 0) when the file is not
 * a capture at all; problems inside the file are reported to `diagnostics` and reading goes on.
 */
export async function readCapture(
  path: string,
  diagnostics: Diagnostics,
  onPacket: (p: PacketView) => void,
  opts: ReadCaptureOptions = {},
): Promise<void> {
  for await (const _ of captureChunks(path, diagnostics, onPacket, opts)) {
    // Each step is one chunk; readCapture just runs them all.
  }
}

/**
 * The reader as an async generator that yields after each chunk has been walked: flow sources
 * use the pause to hand finished batches downstream (back-pressure without buffering the file).
 */
export async function* captureChunks(
  path: string,
  diagnostics: Diagnostics,
  onPacket: (p: PacketView) => void,
  opts: ReadCaptureOptions = {},
): AsyncGenerator<void> {
  const f = await ChunkedFile.open(path, opts.chunkBytes);
  try {
    await f.fill(24);
    const head = f.buf.subarray(f.start, f.end);
    const kind = pcapMagic(head);
    if (!kind) {
      const found =
        head.length >= 4 ? `0x${head.readUInt32BE(0).toString(16).padStart(8, '0')}` : `${head.length} bytes`;
      throw new InputError({
        source: path,
        offset: 0,
        unit: 'byte',
        kind: 'bad-magic',
        message: `expected a pcap (a1b2c3d4/a1b23c4d) or pcapng (0a0d0d0a) magic number, found ${found}`,
      });
    }
    const walker =
      kind === 'pcap'
        ? new PcapWalker(path, diagnostics, onPacket)
        : new PcapngWalker(path, diagnostics, onPacket);
    while (true) {
      const need = walker.walk(f);
      opts.onProgress?.(f.offsetOf(f.start));
      yield;
      if (f.eof) {
        walker.finish(f);
        break;
      }
      await f.fill(need);
    }
    opts.onProgress?.(f.offsetOf(f.end));
  } finally {
    await f.close();
  }
}

interface Walker {
  /** Walk complete records in the chunk; return the bytes needed from `start` to continue. */
  walk(f: ChunkedFile): number;
  /** Called at end of file with whatever is left unconsumed. */
  finish(f: ChunkedFile): void;
}

/** Unsigned 32-bit little-/big-endian at `p`; the caller has checked that 4 bytes are there. */
function le32(b: Buffer, p: number): number {
  return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
}

function be32(b: Buffer, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}

/** Classic pcap: 24-byte file header, then 16-byte record headers. */
class PcapWalker implements Walker {
  private view = new ReusedPacketView();
  private headerDone = false;
  private le = true;
  private nano = false;
  private snapLimit = MAX_CAPLEN;
  private lastSec = -1;
  /** Set while scanning for a plausible record header after a corrupt one (offsets in the file). */
  private resyncing = false;
  private resyncFrom = 0;
  private resyncStart = 0;
  private resyncNeed = 0;

  constructor(
    private readonly path: string,
    private readonly diag: Diagnostics,
    private readonly onPacket: (p: PacketView) => void,
  ) {}

  private u32(buf: Buffer, p: number): number {
    return this.le ? buf.readUInt32LE(p) : buf.readUInt32BE(p);
  }

  private problem(offset: number, kind: string, message: string): void {
    this.diag.problem({ source: this.path, offset, unit: 'byte', kind, message });
  }

  walk(f: ChunkedFile): number {
    const buf = f.buf;
    let p = f.start;
    const end = f.end;
    if (!this.headerDone) {
      if (end - p < 24) return 24;
      const magicLe = buf.readUInt32LE(p);
      this.le = magicLe === PCAP_US || magicLe === PCAP_NS;
      const magic = this.u32(buf, p);
      this.nano = magic === PCAP_NS;
      const snap = this.u32(buf, p + 16);
      this.snapLimit = snap > 0 && snap < MAX_CAPLEN ? snap : MAX_CAPLEN;
      // The upper bits of the link-type field carry FCS information (LINKTYPE_FCS_*).
      this.view.linkType = this.u32(buf, p + 20) & 0xffff;
      this.view.interfaceId = 0;
      this.headerDone = true;
      p += 24;
    }
    const view = this.view;
    view.buf = buf;
    const fracDiv = this.nano ? 1e6 : 1e3;
    const le = this.le;
    const base = f.base;
    while (true) {
      if (this.resyncing) {
        const q = this.scan(f, Math.max(p, this.resyncFrom - f.base));
        if (q < 0) {
          // Keep the unscanned tail (a header may start there, or a candidate needs its
          // successor) and ask for more.
          const keep = q === -1 ? Math.max(p, end - 15) : -q - 2;
          this.resyncFrom = f.offsetOf(keep);
          f.start = keep;
          return q === -1 ? end - keep + 1 : this.resyncNeed;
        }
        this.problem(
          this.resyncStart,
          'resynchronised',
          `skipped ${f.offsetOf(q) - this.resyncStart} bytes to the next plausible record`,
        );
        this.resyncing = false;
        p = q;
      }
      if (end - p < 16) break;
      // The record header read inline (16 bytes are there): the per-packet cost of the walk.
      const sec = le ? le32(buf, p) : be32(buf, p);
      const frac = le ? le32(buf, p + 4) : be32(buf, p + 4);
      const caplen = le ? le32(buf, p + 8) : be32(buf, p + 8);
      const origLen = le ? le32(buf, p + 12) : be32(buf, p + 12);
      if (caplen > this.snapLimit) {
        const at = f.offsetOf(p);
        const next = p + 16 + caplen;
        if (
          caplen <= MAX_CAPLEN &&
          ((end - next >= 16 && this.plausible(buf, next)) || (f.eof && next === end))
        ) {
          // The length is believable and the next header is fine: skip just this record.
          this.problem(
            at,
            'caplen-exceeds-snaplen',
            `caplen ${caplen} > snaplen ${this.snapLimit}; record skipped`,
          );
          p += 16 + caplen;
          continue;
        }
        if (caplen <= MAX_CAPLEN && end - p < 16 + caplen + 16 && !f.eof) {
          f.start = p;
          return 16 + caplen + 16;
        }
        this.problem(
          at,
          'bad-record-length',
          `caplen ${caplen} is not plausible (snaplen ${this.snapLimit})`,
        );
        this.resyncing = true;
        this.resyncFrom = f.offsetOf(p + 1);
        this.resyncStart = at;
        continue;
      }
      if (end - p < 16 + caplen) {
        f.start = p;
        return 16 + caplen;
      }
      view.tsMs = sec * 1000 + frac / fracDiv;
      view.caplen = caplen;
      view.origLen = origLen;
      view.offset = p + 16;
      view.fileOffset = base + p;
      this.lastSec = sec;
      this.onPacket(view);
      p += 16 + caplen;
    }
    f.start = p;
    return 16;
  }

  /** A record header at `p` that looks like one this file would contain. */
  private plausible(buf: Buffer, p: number): boolean {
    const sec = this.u32(buf, p);
    const frac = this.u32(buf, p + 4);
    const caplen = this.u32(buf, p + 8);
    const origLen = this.u32(buf, p + 12);
    if (caplen > this.snapLimit || origLen < caplen || origLen > MAX_BLOCK) return false;
    if (frac >= (this.nano ? 1e9 : 1e6)) return false;
    // Within a year of the last good record (captures rarely span more).
    if (this.lastSec >= 0 && Math.abs(sec - this.lastSec) > 366 * 86400) return false;
    return true;
  }

  /**
   * Scan for a record header that is plausible and followed by another plausible header (or by
   * the end of the file). Returns its index, -1 when the chunk ran out, or -(index + 2) when a
   * candidate needs more bytes (`resyncNeed` of them) to be checked.
   */
  private scan(f: ChunkedFile, from: number): number {
    const buf = f.buf;
    const end = f.end;
    const le = this.le;
    const limit = this.snapLimit;
    for (let q = from; q + 16 <= end; q++) {
      // Cheap pre-filter on the caplen field (most garbage fails here) before the full check.
      const caplen = le
        ? (buf[q + 8] | (buf[q + 9] << 8) | (buf[q + 10] << 16) | (buf[q + 11] << 24)) >>> 0
        : ((buf[q + 8] << 24) | (buf[q + 9] << 16) | (buf[q + 10] << 8) | buf[q + 11]) >>> 0;
      if (caplen > limit || !this.plausible(buf, q)) continue;
      const next = q + 16 + this.u32(buf, q + 8);
      if (next === end && f.eof) return q;
      if (next + 16 <= end) {
        if (this.plausible(buf, next)) return q;
        continue;
      }
      if (!f.eof) {
        this.resyncNeed = next + 16 - q;
        return -(q + 2);
      }
    }
    return -1;
  }

  finish(f: ChunkedFile): void {
    if (this.resyncing) {
      this.problem(
        this.resyncStart,
        'resync-failed',
        'no plausible record found before the end of the file; reading stopped',
      );
      return;
    }
    const left = f.end - f.start;
    if (!this.headerDone) {
      this.problem(0, 'truncated-header', `file header needs 24 bytes, found ${left}`);
    } else if (left > 0) {
      const caplen = left >= 16 ? this.u32(f.buf, f.start + 8) : -1;
      this.problem(
        f.offsetOf(f.start),
        'truncated-record',
        left < 16
          ? `record header cut after ${left} of 16 bytes`
          : `record cut: caplen ${caplen}, ${left - 16} bytes left in the file`,
      );
    }
  }
}

const KNOWN_BLOCKS = new Set([1, 2, 3, 4, 5, 6, 9, 10, 0xbad, 0x40000bad, PCAPNG_SHB]);

interface Interface {
  linkType: number;
  snaplen: number;
  unitsPerMs: number;
  offsetMs: number;
}

/** pcapng: blocks of type, length, body, length; sections (SHB) fix the byte order. */
class PcapngWalker implements Walker {
  private view = new ReusedPacketView();
  private le = true;
  private ifaces: Interface[] = [];
  private lastTsMs = 0;
  private resyncing = false;
  private resyncFrom = 0;
  private resyncStart = 0;
  private resyncNeed = 0;

  constructor(
    private readonly path: string,
    private readonly diag: Diagnostics,
    private readonly onPacket: (p: PacketView) => void,
  ) {}

  private u32(buf: Buffer, p: number): number {
    return this.le ? buf.readUInt32LE(p) : buf.readUInt32BE(p);
  }

  private u16(buf: Buffer, p: number): number {
    return this.le ? buf.readUInt16LE(p) : buf.readUInt16BE(p);
  }

  private problem(offset: number, kind: string, message: string): void {
    this.diag.problem({ source: this.path, offset, unit: 'byte', kind, message });
  }

  /** Block length at `p` if the block there looks valid as far as `end` lets us tell. */
  private blockLength(buf: Buffer, p: number, end: number): number {
    const type = this.u32(buf, p);
    if (type === PCAPNG_SHB) {
      if (end - p < 12) return -2;
      const bom = buf.readUInt32LE(p + 8);
      if (bom === PCAPNG_BOM) this.le = true;
      else if (buf.readUInt32BE(p + 8) === PCAPNG_BOM) this.le = false;
      else return -1;
    }
    const len = this.u32(buf, p + 4);
    if (len < 12 || len % 4 !== 0 || len > MAX_BLOCK || (type === PCAPNG_SHB && len < 28)) return -1;
    return len;
  }

  walk(f: ChunkedFile): number {
    const buf = f.buf;
    const end = f.end;
    let p = f.start;
    const view = this.view;
    view.buf = buf;
    while (true) {
      if (this.resyncing) {
        const q = this.scan(f, Math.max(p, this.resyncFrom - f.base));
        if (q === -1) {
          const keep = Math.max(p, end - 12);
          this.resyncFrom = f.offsetOf(keep);
          f.start = keep;
          return end - keep + 12;
        }
        if (q < -1) {
          // A candidate at -q-2 needs its whole block in memory to check the trailing length.
          const at = -q - 2;
          this.resyncFrom = f.offsetOf(at);
          f.start = at;
          return this.resyncNeed;
        }
        this.problem(
          this.resyncStart,
          'resynchronised',
          `skipped ${f.offsetOf(q) - this.resyncStart} bytes to the next valid block`,
        );
        this.resyncing = false;
        p = q;
      }
      if (end - p < 12) break;
      const saveLe = this.le;
      const len = this.blockLength(buf, p, end);
      if (len < 0) {
        this.le = saveLe;
        this.startResync(f, p, `block type 0x${buf.readUInt32BE(p).toString(16)} with invalid length`);
        continue;
      }
      if (end - p < len) {
        this.le = saveLe; // re-read the SHB after the refill
        f.start = p;
        return len;
      }
      if (this.u32(buf, p + len - 4) !== len) {
        this.le = saveLe;
        this.startResync(
          f,
          p,
          `block length ${len} does not match trailing length ${this.u32(buf, p + len - 4)}`,
        );
        continue;
      }
      this.block(f, p, len);
      p += len;
    }
    f.start = p;
    return 12;
  }

  private startResync(f: ChunkedFile, p: number, why: string): void {
    this.problem(f.offsetOf(p), 'bad-block-length', why);
    this.resyncing = true;
    this.resyncFrom = f.offsetOf(p + 1);
    this.resyncStart = f.offsetOf(p);
  }

  /**
   * Scan for the next known block type whose leading and trailing lengths agree. Returns its
   * index, -1 when the chunk ran out, or -(index + 2) when a candidate needs more bytes.
   */
  private scan(f: ChunkedFile, from: number): number {
    const buf = f.buf;
    const end = f.end;
    for (let q = from; q + 12 <= end; q++) {
      // Known block types have two zero bytes in the middle, except the SHB (0x0A0D0D0A) and
      // the custom blocks (0x00000BAD, 0x40000BAD): a cheap pre-filter for garbage.
      if ((buf[q + 1] | buf[q + 2]) !== 0 && buf[q] !== 0x0a && buf[q + 1] !== 0x0b && buf[q + 2] !== 0x0b)
        continue;
      const saveLe = this.le;
      const type = this.u32(buf, q);
      if (!KNOWN_BLOCKS.has(type)) continue;
      const len = this.blockLength(buf, q, end);
      if (len < 0) {
        this.le = saveLe;
        continue;
      }
      if (q + len > end) {
        this.le = saveLe;
        if (f.eof) continue;
        this.resyncNeed = len;
        return -(q + 2);
      }
      if (this.u32(buf, q + len - 4) === len) {
        this.le = saveLe;
        return q;
      }
      this.le = saveLe;
    }
    return -1;
  }

  private block(f: ChunkedFile, p: number, len: number): void {
    const buf = f.buf;
    const type = this.u32(buf, p);
    switch (type) {
      case PCAPNG_SHB:
        // A new section: interfaces are numbered afresh.
        this.ifaces = [];
        return;
      case 1:
        this.interfaceBlock(f, p, len);
        return;
      case 6:
      case 2: {
        if (len < 32) {
          this.problem(f.offsetOf(p), 'bad-block', `packet block of ${len} bytes is too short`);
          return;
        }
        const ifId = type === 6 ? this.u32(buf, p + 8) : this.u16(buf, p + 8);
        const iface = this.ifaces[ifId];
        if (!iface) {
          this.problem(
            f.offsetOf(p),
            'unknown-interface',
            `packet names interface ${ifId}, not described before it`,
          );
          return;
        }
        const caplen = this.u32(buf, p + 20);
        if (28 + caplen > len - 4) {
          this.problem(
            f.offsetOf(p),
            'bad-caplen',
            `caplen ${caplen} exceeds the ${len}-byte block; block skipped`,
          );
          return;
        }
        const ts = this.u32(buf, p + 12) * 4294967296 + this.u32(buf, p + 16);
        this.emit(
          f,
          p,
          iface,
          ifId,
          ts / iface.unitsPerMs + iface.offsetMs,
          caplen,
          this.u32(buf, p + 24),
          p + 28,
        );
        return;
      }
      case 3: {
        if (len < 16) {
          this.problem(f.offsetOf(p), 'bad-block', `simple packet block of ${len} bytes is too short`);
          return;
        }
        const iface = this.ifaces[0];
        if (!iface) {
          this.problem(
            f.offsetOf(p),
            'unknown-interface',
            'simple packet block before any interface description',
          );
          return;
        }
        const origLen = this.u32(buf, p + 8);
        let caplen = Math.min(origLen, len - 16);
        if (iface.snaplen > 0 && caplen > iface.snaplen) caplen = iface.snaplen;
        // Simple packet blocks carry no timestamp: they inherit the last one seen.
        this.emit(f, p, iface, 0, this.lastTsMs, caplen, origLen, p + 12);
        return;
      }
      default:
        this.diag.add('pcapng.blocks-skipped');
    }
  }

  private emit(
    f: ChunkedFile,
    p: number,
    iface: Interface,
    ifId: number,
    tsMs: number,
    caplen: number,
    origLen: number,
    data: number,
  ): void {
    // A 64-bit timestamp over a coarse if_tsresol, or a large if_tsoffset, can land far beyond
    // any real date; such a time would make every query over the stored flows fail.
    if (!(Math.abs(tsMs) <= MAX_DATE_MS)) {
      this.problem(f.offsetOf(p), 'bad-timestamp', `timestamp ${tsMs} ms is beyond any date; packet skipped`);
      return;
    }
    const view = this.view;
    view.linkType = iface.linkType;
    view.interfaceId = ifId;
    view.tsMs = tsMs;
    this.lastTsMs = tsMs;
    view.caplen = caplen;
    view.origLen = origLen;
    view.offset = data;
    view.fileOffset = f.offsetOf(p);
    this.onPacket(view);
  }

  private interfaceBlock(f: ChunkedFile, p: number, len: number): void {
    const buf = f.buf;
    if (len < 20) {
      this.problem(f.offsetOf(p), 'bad-block', `interface description block of ${len} bytes is too short`);
      return;
    }
    const iface: Interface = {
      linkType: this.u16(buf, p + 8),
      snaplen: this.u32(buf, p + 12),
      unitsPerMs: 1000,
      offsetMs: 0,
    };
    // Options: code, length, value padded to 4 bytes; only resolution and offset matter here.
    let o = p + 16;
    const stop = p + len - 4;
    while (o + 4 <= stop) {
      const code = this.u16(buf, o);
      const olen = this.u16(buf, o + 2);
      if (code === 0 || o + 4 + olen > stop) break;
      if (code === 9 && olen >= 1) {
        const r = buf[o + 4];
        const units = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
        iface.unitsPerMs = units / 1000;
      } else if (code === 14 && olen >= 8) {
        const hi = this.le ? buf.readInt32LE(o + 8) : buf.readInt32BE(o + 4);
        const lo = this.le ? buf.readUInt32LE(o + 4) : buf.readUInt32BE(o + 8);
        iface.offsetMs = (hi * 4294967296 + lo) * 1000;
      }
      o += 4 + ((olen + 3) & ~3);
    }
    this.ifaces.push(iface);
  }

  finish(f: ChunkedFile): void {
    if (this.resyncing) {
      this.problem(
        this.resyncStart,
        'resync-failed',
        'no valid block found before the end of the file; reading stopped',
      );
      return;
    }
    const left = f.end - f.start;
    if (left > 0) {
      const len = left >= 8 ? this.u32(f.buf, f.start + 4) : -1;
      this.problem(
        f.offsetOf(f.start),
        'truncated-record',
        left < 8 ? `block header cut after ${left} bytes` : `block of ${len} bytes cut after ${left} bytes`,
      );
    }
  }
}
