/**
 * IP fragment reassembly for flow assembly, as Zeek does it before its connection table: the
 * fragments of one datagram — keyed by (IP version, source, destination, protocol, IP id, and the
 * tunnel they were found in) — are buffered until they cover it, and the whole datagram is decoded
 * again (decode.ts `decodeDatagram`) and handed on as ONE packet, so it counts in its port flow,
 * its transport header (in the first fragment) gives ports and TCP flags, and payload samples get
 * the reassembled bytes.
 *
 * Bytes: the datagram counts the sum of its fragments' IP lengths (each fragment's own header
 * included), not the reassembled length: that is what crossed the wire, what NetFlow exporters and
 * softflowd add up per packet, and what tshark's `ip.len` sums to, so the capture's IP-layer
 * byte total does not change with reassembly.
 *
 * A hostile capture cannot grow it: at most `maxDatagrams` datagrams and `maxBytes` bytes of
 * buffers are pending (beyond either, the oldest pending datagram is given up), a datagram is given
 * up `timeoutMs` of capture time after its first fragment, and one is refused beyond 65,535 bytes
 * or `MAX_FRAGMENTS` fragments. Overlapping fragments give the datagram up (RFC 5722; the classic
 * evasion is two overlapping versions of the same bytes); an exact duplicate (same offset, length
 * and bytes) is ignored, as RFC 8200 4.5 allows, though its bytes still count.
 *
 * A datagram given up, for any reason, is not lost: each of its fragments is handed on as it was
 * before reassembly existed (`sink.fragment`: accounted without ports between the two hosts; the
 * first fragment too, so that a flow with ports holds whole datagrams only), and the reason is
 * counted. So packets and bytes per host pair stay whole.
 *
 * No object per packet: one object per pending datagram, its fragments as numbers in one array;
 * finished datagrams' objects and small buffers are kept for the next ones (`POOL`), because
 * allocating a buffer per datagram was most of the cost on fragmented traffic.
 */
import { Decoded, DecodedPacket, decodeDatagram } from './decode.js';

export interface ReassemblyOptions {
  /** Datagrams pending at most; a new one beyond it gives up the oldest. */
  maxDatagrams?: number;
  /** Bytes of reassembly buffers pending at most; beyond it the oldest datagrams are given up. */
  maxBytes?: number;
  /** Capture time after a datagram's first fragment when it is given up. */
  timeoutMs?: number;
}

export const DEFAULT_REASSEMBLY_DATAGRAMS = 4096;
/** Four times Linux's default per-namespace `ipfrag_high_thresh` (4 MiB): a capture sees many hosts. */
export const DEFAULT_REASSEMBLY_BYTES = 16 << 20;
/** Linux's `ipfrag_time` (30 s). */
export const DEFAULT_REASSEMBLY_TIMEOUT_MS = 30_000;
/**
 * Fragments per datagram at most: a 65,535-byte datagram at IPv4's minimum MTU of 68 has 1,366,
 * at 576 it has 119; 8-byte fragments of a large datagram are an attack on reassemblers.
 */
export const MAX_FRAGMENTS = 256;

/** Where packets go: a reassembled datagram, decoded; a fragment given up, as decoded. */
export interface ReassemblySink {
  datagram(d: DecodedPacket, tsMs: number, fileOffset: number, buf: Buffer): void;
  fragment(d: DecodedPacket, tsMs: number, fileOffset: number): void;
}

/** Why a datagram was given up (index into REASSEMBLY_DROPS). */
const OVERLAP = 0;
const TIMEOUT = 1;
const TABLE_FULL = 2;
const TOO_LARGE = 3;
const TOO_MANY = 4;
const MALFORMED = 5;
const END = 6;
const UNDECODABLE = 7;
/** Diagnostics counters of datagrams given up, by reason. */
export const REASSEMBLY_DROPS = [
  'ip.reassembly-overlap',
  'ip.reassembly-timeout',
  'ip.reassembly-table-full',
  'ip.reassembly-too-large',
  'ip.reassembly-too-many-fragments',
  'ip.reassembly-malformed',
  'ip.reassembly-unfinished-at-end',
  'ip.reassembly-undecodable',
];

/**
 * Reasons that say something about the traffic rather than about the bounds (a monitor being
 * shown one payload and the host another, a "ping of death"...): each is also reported as a
 * problem at its first fragment, with what it is and how often it happened.
 */
const HOSTILE: [number, string, string][] = [
  [OVERLAP, 'fragment-overlap', 'fragments overlap with other bytes or ends'],
  [TOO_LARGE, 'fragment-too-large', 'fragments reach beyond 65,535 bytes'],
  [TOO_MANY, 'fragment-too-many', `more than ${MAX_FRAGMENTS} fragments`],
  [
    MALFORMED,
    'fragment-malformed',
    'an IPv4 total length below its header length, or no first fragment header',
  ],
];

/** Room before the data for the IP header written at completion (IPv4 with options: 60). */
const HEADROOM = 60;
/** The largest IP datagram's data (IPv4 total length, IPv6 payload length are 16 bits). */
const MAX_DATA = 65535;
/** A fragment's record: start, end, captured end (in the data), IP bytes, time, file offset, duplicate. */
const STRIDE = 7;
/** Finished datagrams kept for reuse, and the largest buffer kept with one (a 4 KiB datagram). */
const POOL = 64;
const POOL_BUFFER = HEADROOM + 4096;

class Pending {
  ver = 4;
  s0 = -0;
  s1 = -0;
  s2 = -0;
  s3 = -0;
  d0 = -0;
  d1 = -0;
  d2 = -0;
  d3 = -0;
  proto = 0;
  id = -0;
  depth = 0;
  tunnel = 0;
  tunnelId = -0;
  outerVersion = 0;
  os0 = -0;
  os1 = -0;
  os2 = -0;
  os3 = -0;
  od0 = -0;
  od1 = -0;
  od2 = -0;
  od3 = -0;
  hash = 0;
  /** Fragment records, STRIDE numbers each, in arrival order. */
  frags: number[] = [];
  /** Data bytes covered by the fragments kept (they never overlap), and the length once known (-1). */
  covered = 0;
  total = -1;
  /** The IPv4 header of the first fragment (offset 0), copied when it arrives (length 0 until then). */
  header = Buffer.allocUnsafe(60);
  headerLen = 0;
  /** Whether a kept fragment was cut by the snaplen (the captured data then ends before the datagram). */
  cut = false;
  /** The datagram's data at HEADROOM on, grown on demand. */
  data: Buffer = EMPTY;
  firstTs = -0;
  firstOffset = -0;
  older: Pending | null = null;
  newer: Pending | null = null;
  nextSame: Pending | null = null;
}

const EMPTY = Buffer.alloc(0);

export class Reassembler {
  readonly maxDatagrams: number;
  readonly maxBytes: number;
  readonly timeoutMs: number;
  /** Capture time when the oldest pending datagram is given up (Infinity: none pending). */
  deadline = Infinity;
  private readonly byHash = new Map<number, Pending>();
  private readonly pool: Pending[] = [];
  private oldest: Pending | null = null;
  private newest: Pending | null = null;
  private pending = 0;
  private bytes = 0;
  private readonly out = new DecodedPacket();
  /** Counters, added to diagnostics by `report`. */
  private readonly n = {
    frag4: 0,
    frag6: 0,
    reassembled4: 0,
    reassembled6: 0,
    duplicates: 0,
    /** Reassembled datagrams that were a tunnel's outer packet, opened after reassembly. */
    tunnelled: 0,
    drops: [0, 0, 0, 0, 0, 0, 0, 0],
    /** File offset of the fragment that first gave a datagram up, by reason (-1: none yet). */
    firstAt: [-1, -1, -1, -1, -1, -1, -1, -1],
  };

  constructor(
    opts: ReassemblyOptions,
    private readonly sink: ReassemblySink,
  ) {
    this.maxDatagrams = Math.max(1, opts.maxDatagrams ?? DEFAULT_REASSEMBLY_DATAGRAMS);
    this.maxBytes = Math.max(HEADROOM + MAX_DATA, opts.maxBytes ?? DEFAULT_REASSEMBLY_BYTES);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_REASSEMBLY_TIMEOUT_MS;
  }

  /** Datagrams pending and the bytes of their buffers (for tests and the bounds). */
  get pendingDatagrams(): number {
    return this.pending;
  }
  get pendingBytes(): number {
    return this.bytes;
  }
  /** The longest hash chain of pending datagrams (for tests: crafted keys must not pile up). */
  get longestChain(): number {
    let most = 0;
    for (let p of this.byHash.values()) {
      let n = 0;
      for (; p !== null; p = p.nextSame!) n++;
      most = Math.max(most, n);
    }
    return most;
  }

  /**
   * Add the counters so far (`add(name, n)`), report the hostile reasons as problems (`problem(kind,
   * offset, message)`, at the first fragment of each) and reset them.
   */
  report(
    add: (name: string, n: number) => void,
    problem: (kind: string, offset: number, message: string) => void,
  ): void {
    const m = this.n;
    for (const [why, kind, what] of HOSTILE) {
      if (m.drops[why] === 0) continue;
      problem(
        kind,
        m.firstAt[why],
        `${m.drops[why]} datagram(s) given up: ${what} (the first here); their fragments are counted without ports`,
      );
    }
    add('ipv4.fragments', m.frag4);
    add('ipv6.fragments', m.frag6);
    add('ipv4.datagrams-reassembled', m.reassembled4);
    add('ipv6.datagrams-reassembled', m.reassembled6);
    add('ip.fragments-duplicate', m.duplicates);
    for (let k = 0; k < REASSEMBLY_DROPS.length; k++) add(REASSEMBLY_DROPS[k], m.drops[k]);
    add('packets.tunnelled', m.tunnelled);
    m.frag4 = m.frag6 = m.reassembled4 = m.reassembled6 = m.duplicates = m.tunnelled = 0;
    m.drops.fill(0);
    m.firstAt.fill(-1);
  }

  /** Take a fragment (`d.fragment` set) seen at `tsMs`; `buf` holds its bytes. */
  add(d: DecodedPacket, tsMs: number, fileOffset: number, buf: Buffer): void {
    if (d.fragment === 4) this.n.frag4++;
    else this.n.frag6++;
    const start = d.fragOffset;
    const len = d.fragEnd - d.fragData;
    if (len < 0) {
      // An IPv4 total length below its header length: no data to place.
      this.giveUpOne(d, tsMs, fileOffset, MALFORMED);
      return;
    }
    const end = start + len;
    const capEnd = start + Math.max(0, Math.min(d.fragCapEnd - d.fragData, len));
    const more = d.fragMore;
    const ipBytes = d.ipBytes;
    const v4 = d.fragment === 4;
    const from = d.fragData;
    const header = d.fragHeader;
    const headerLen = d.fragHeaderLen;
    const headerEnd = Math.min(header + headerLen, d.fragCapEnd);
    // Everything read from `d` is read before anything is handed on (a datagram inside a
    // reassembled one arrives in the reassembler's own packet, which handing on reuses).
    const hash = keyHash(d);
    let p = this.find(d, hash);
    const fresh = p === null;
    if (p === null) p = this.create(d, hash, tsMs, fileOffset);
    const f = p.frags;
    const at = f.length;
    f.push(start, end, capEnd, ipBytes, tsMs, fileOffset, 0);
    // A reused object brings its buffer: older datagrams make room for it.
    if (fresh && !this.room(p, 0)) return this.drop(p, TABLE_FULL);
    if (end + (v4 ? 20 : 0) > MAX_DATA) return this.drop(p, TOO_LARGE);
    if (at >= MAX_FRAGMENTS * STRIDE) return this.drop(p, TOO_MANY);
    // The end: a last fragment fixes it; nothing may reach past it.
    if (more === 0 ? p.total >= 0 && p.total !== end : p.total >= 0 && end > p.total)
      return this.drop(p, OVERLAP);
    let dup = false;
    for (let k = 0; k < at; k += STRIDE) {
      if (f[k + 6] !== 0) continue;
      const a = f[k];
      const b = f[k + 1];
      if (more === 0 && b > end) return this.drop(p, OVERLAP);
      if (start < b && a < end) {
        if (a === start && b === end && sameBytes(p.data, buf, from, start, Math.min(capEnd, f[k + 2])))
          dup = true;
        else return this.drop(p, OVERLAP);
      }
    }
    if (dup) {
      f[at + 6] = 1;
      this.n.duplicates++;
      return;
    }
    if (p.data.length < HEADROOM + end && !this.grow(p, HEADROOM + end)) return this.drop(p, TABLE_FULL);
    buf.copy(p.data, HEADROOM + start, from, from + (capEnd - start));
    if (start === 0 && v4) {
      // The header goes with the first fragment (options not copied to later fragments).
      const got = buf.copy(p.header, 0, header, headerEnd);
      p.header.fill(0, got, headerLen);
      p.headerLen = headerLen;
    }
    p.covered += end - start;
    if (more === 0) p.total = end;
    if (capEnd < end) p.cut = true;
    if (fresh) this.evictForCount(p);
    if (p.total >= 0 && p.covered === p.total) this.complete(p);
  }

  /** Give up datagrams whose first fragment is older than the timeout at capture time `nowMs`. */
  expire(nowMs: number): void {
    while (this.oldest !== null && nowMs > this.oldest.firstTs + this.timeoutMs)
      this.drop(this.oldest, TIMEOUT);
  }

  /** End of input: every pending datagram is given up (its fragments handed on), oldest first. */
  flush(): void {
    while (this.oldest !== null) this.drop(this.oldest, END);
  }

  private find(d: DecodedPacket, hash: number): Pending | null {
    for (let p = this.byHash.get(hash) ?? null; p !== null; p = p.nextSame) {
      if (
        p.id === d.fragId &&
        p.s0 === d.s0 &&
        p.d0 === d.d0 &&
        p.proto === d.proto &&
        p.ver === d.ipVersion &&
        p.s1 === d.s1 &&
        p.s2 === d.s2 &&
        p.s3 === d.s3 &&
        p.d1 === d.d1 &&
        p.d2 === d.d2 &&
        p.d3 === d.d3 &&
        p.depth === d.tunnelDepth &&
        (p.depth === 0 || (p.tunnel === d.tunnel && p.tunnelId === d.tunnelId))
      )
        return p;
    }
    return null;
  }

  private create(d: DecodedPacket, hash: number, tsMs: number, fileOffset: number): Pending {
    const p = this.pool.pop() ?? new Pending();
    p.ver = d.ipVersion;
    p.s0 = d.s0;
    p.s1 = d.s1;
    p.s2 = d.s2;
    p.s3 = d.s3;
    p.d0 = d.d0;
    p.d1 = d.d1;
    p.d2 = d.d2;
    p.d3 = d.d3;
    p.proto = d.proto;
    p.id = d.fragId;
    p.depth = d.tunnelDepth;
    if (p.depth !== 0) tunnelContext(p, d);
    p.hash = hash;
    p.firstTs = tsMs;
    p.firstOffset = fileOffset;
    p.covered = 0;
    p.total = -1;
    p.headerLen = 0;
    p.cut = false;
    // A reused object's buffer counts from now on (the add that follows makes room for it).
    this.bytes += p.data.length;
    p.nextSame = this.byHash.get(hash) ?? null;
    this.byHash.set(hash, p);
    p.older = this.newest;
    if (this.newest !== null) this.newest.newer = p;
    else this.oldest = p;
    this.newest = p;
    this.pending++;
    this.deadline = this.oldest!.firstTs + this.timeoutMs;
    return p;
  }

  /** A new datagram beyond the count bound gives up the oldest ones. */
  private evictForCount(p: Pending): void {
    while (this.pending > this.maxDatagrams && this.oldest !== null && this.oldest !== p)
      this.drop(this.oldest, TABLE_FULL);
  }

  /**
   * Grow `p`'s buffer to hold `need` bytes within the byte bound (older datagrams give way). Never
   * read beyond what fragments wrote (the header room is written at completion), so not zeroed.
   */
  private grow(p: Pending, need: number): boolean {
    const size = Math.min(HEADROOM + MAX_DATA, Math.max(need, p.data.length * 2, HEADROOM + 1500));
    const more = size - p.data.length;
    if (!this.room(p, more)) return false;
    const b = Buffer.allocUnsafe(size);
    p.data.copy(b);
    p.data = b;
    this.bytes += more;
    return true;
  }

  /** Whether `more` bytes fit beside `p`'s, after giving up older datagrams if need be. */
  private room(p: Pending, more: number): boolean {
    while (this.bytes + more > this.maxBytes) {
      const o = this.oldest;
      if (o === null || o === p) return false;
      this.drop(o, TABLE_FULL);
    }
    return true;
  }

  /** A finished datagram's object (and a small buffer) kept for the next one. */
  private release(p: Pending): void {
    if (this.pool.length >= POOL) return;
    if (p.data.length > POOL_BUFFER) p.data = EMPTY;
    p.frags.length = 0;
    this.pool.push(p);
  }

  /** Out of the tables and the age list; its buffer is released. */
  private remove(p: Pending): void {
    let q = this.byHash.get(p.hash) ?? null;
    if (q === p) {
      if (p.nextSame === null) this.byHash.delete(p.hash);
      else this.byHash.set(p.hash, p.nextSame);
    } else {
      while (q !== null && q.nextSame !== p) q = q.nextSame;
      if (q !== null) q.nextSame = p.nextSame;
    }
    if (p.older !== null) p.older.newer = p.newer;
    else this.oldest = p.newer;
    if (p.newer !== null) p.newer.older = p.older;
    else this.newest = p.older;
    p.older = p.newer = p.nextSame = null;
    this.pending--;
    this.bytes -= p.data.length;
    this.deadline = this.oldest === null ? Infinity : this.oldest.firstTs + this.timeoutMs;
  }

  /** Every fragment covers the datagram: decode it whole and hand it on. */
  private complete(p: Pending): void {
    this.remove(p);
    const total = p.total;
    if (p.ver === 4 && p.headerLen === 0) return this.handOn(p, MALFORMED);
    const hl = p.ver === 4 ? p.headerLen : 40;
    if (hl + total > MAX_DATA && p.ver === 4) return this.handOn(p, TOO_LARGE);
    const data = p.data;
    const h = HEADROOM - hl;
    if (p.ver === 4) {
      p.header.copy(data, h, 0, hl);
      data[h] = 0x40 | (hl >> 2);
      data.writeUInt16BE(hl + total, h + 2);
      data.writeUInt16BE(0, h + 6);
    } else {
      // The unfragmentable extension headers are not kept: the reassembled packet is the IPv6
      // header and the fragments' data, whose first header is the fragment header's next one.
      data.fill(0, h, HEADROOM);
      data[h] = 0x60;
      data.writeUInt16BE(total, h + 4);
      data[h + 6] = p.proto;
      data[h + 7] = 64;
      words(data, h + 8, p.s0, p.s1, p.s2, p.s3);
      words(data, h + 24, p.d0, p.d1, p.d2, p.d3);
    }
    const out = this.out;
    const captured = p.cut ? capturedPrefix(p.frags) : total;
    const r = decodeDatagram(data, h, hl + captured, hl + total, p.depth, out);
    if (r !== Decoded.Ok) return this.handOn(p, UNDECODABLE);
    if (out.tunnelDepth !== 0) this.n.tunnelled++;
    if (p.depth !== 0) {
      // The fragments' tunnels are outside the datagram's own.
      out.tunnelDepth += p.depth;
      tunnelContext(out, p);
    }
    // The datagram itself is the flow's packet (not a tunnel opened inside it): the fragments' bytes.
    if (out.tunnelDepth === p.depth) {
      let sum = 0;
      for (let k = 0; k < p.frags.length; k += STRIDE) sum += p.frags[k + 3];
      out.ipBytes = sum;
    }
    if (p.ver === 4) this.n.reassembled4++;
    else this.n.reassembled6++;
    this.sink.datagram(out, p.firstTs, p.firstOffset, data);
    this.release(p);
  }

  /** Give a pending datagram up: out of the tables, its fragments handed on as they were. */
  private drop(p: Pending, why: number): void {
    this.remove(p);
    this.handOn(p, why);
  }

  private handOn(p: Pending, why: number): void {
    this.n.drops[why]++;
    // Where it happened: the fragment that gave it up (the last one taken).
    if (this.n.firstAt[why] < 0) this.n.firstAt[why] = p.frags[p.frags.length - STRIDE + 5];
    const out = this.out;
    out.fragment = p.ver;
    out.ipVersion = p.ver;
    out.s0 = p.s0;
    out.s1 = p.s1;
    out.s2 = p.s2;
    out.s3 = p.s3;
    out.d0 = p.d0;
    out.d1 = p.d1;
    out.d2 = p.d2;
    out.d3 = p.d3;
    out.proto = p.proto;
    out.tunnelDepth = p.depth;
    tunnelContext(out, p);
    out.depthExceeded = 0;
    out.innerUndecoded = 0;
    const f = p.frags;
    for (let k = 0; k < f.length; k += STRIDE) {
      out.ipBytes = f[k + 3];
      // The sink may clear the transport fields of a fragment; set them again each time.
      out.srcPort = 0;
      out.dstPort = 0;
      out.tcpFlags = 0;
      out.payloadLength = 0;
      this.sink.fragment(out, f[k + 4], f[k + 5]);
    }
    this.release(p);
  }

  /** One fragment that cannot start or join a datagram, handed on as it is. */
  private giveUpOne(d: DecodedPacket, tsMs: number, fileOffset: number, why: number): void {
    this.n.drops[why]++;
    if (this.n.firstAt[why] < 0) this.n.firstAt[why] = fileOffset;
    this.sink.fragment(d, tsMs, fileOffset);
  }
}

/** The outermost tunnel's kind, id and outer addresses (fields of DecodedPacket and Pending alike). */
type TunnelContext = Pick<
  DecodedPacket,
  'tunnel' | 'tunnelId' | 'outerVersion' | 'os0' | 'os1' | 'os2' | 'os3' | 'od0' | 'od1' | 'od2' | 'od3'
>;

function tunnelContext(to: TunnelContext, from: TunnelContext): void {
  to.tunnel = from.tunnel;
  to.tunnelId = from.tunnelId;
  to.outerVersion = from.outerVersion;
  to.os0 = from.os0;
  to.os1 = from.os1;
  to.os2 = from.os2;
  to.os3 = from.os3;
  to.od0 = from.od0;
  to.od1 = from.od1;
  to.od2 = from.od2;
  to.od3 = from.od3;
}

/**
 * Per process, so that an attacker who chooses addresses and IP ids cannot aim fragments of
 * different datagrams at one hash chain (each lookup would then walk every pending datagram).
 */
const HASH_SEED = (Math.random() * 0x100000000) >>> 0;

/** Murmur3's finaliser: a bijection on 32 bits, so a chain of them keeps every field apart. */
function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function keyHash(d: DecodedPacket): number {
  let h = fmix(HASH_SEED ^ d.fragId);
  h = fmix(h ^ d.s0);
  h = fmix(h ^ d.d0);
  if (d.ipVersion === 6) {
    h = fmix(h ^ d.s1);
    h = fmix(h ^ d.s2);
    h = fmix(h ^ d.s3);
    h = fmix(h ^ d.d1);
    h = fmix(h ^ d.d2);
    h = fmix(h ^ d.d3);
  }
  return fmix(h ^ d.proto);
}

/**
 * Whether a fragment that covers the same range as a kept one carries the same captured bytes
 * (compared where both were captured: `capEnd` is the smaller captured end).
 */
function sameBytes(data: Buffer, buf: Buffer, from: number, start: number, capEnd: number): boolean {
  const n = capEnd - start;
  return n <= 0 || buf.compare(data, HEADROOM + start, HEADROOM + capEnd, from, from + n) === 0;
}

/** Data bytes captured from the start without a gap (snaplen-cut fragments leave gaps). */
function capturedPrefix(f: number[]): number {
  const kept: number[] = [];
  for (let k = 0; k < f.length; k += STRIDE) if (f[k + 6] === 0) kept.push(k);
  kept.sort((x, y) => f[x] - f[y]);
  let pos = 0;
  for (const k of kept) {
    if (f[k] !== pos) break;
    if (f[k + 2] < f[k + 1]) return f[k + 2];
    pos = f[k + 1];
  }
  return pos;
}

function words(b: Buffer, o: number, w0: number, w1: number, w2: number, w3: number): void {
  b.writeUInt32BE(w0 >>> 0, o);
  b.writeUInt32BE(w1 >>> 0, o + 4);
  b.writeUInt32BE(w2 >>> 0, o + 8);
  b.writeUInt32BE(w3 >>> 0, o + 12);
}
