/**
 * Packet → flow assembly with the semantics nfdump/softflowd users expect:
 *
 * - one bidirectional flow per 5-tuple (addresses, ports, IP protocol; ports 0 for protocols
 *   without ports and for IP fragments);
 * - a flow ends when idle for `idleTimeoutMs` (60 s), when it has lasted `activeTimeoutMs`
 *   (30 min: the next packet starts a new flow, so long connections are split), or when TCP
 *   closes it (RST, or FIN in both directions) — a closed flow still takes the packets that
 *   trail the close (final ACKs) for `closeLingerMs`, unless a new SYN reuses the 5-tuple;
 * - orientation: the sender of a SYN (without ACK) is the source; a SYN+ACK's receiver is;
 *   otherwise the side with the lower port is the server (destination); equal ports: the
 *   first packet's sender is the source;
 * - bytes are IP-layer bytes (IPv4 total length, IPv6 40 + payload length), as NetFlow counts;
 * - the first `payloadCap` bytes of transport payload of each direction are kept for
 *   detection: TCP in arrival order, skipping segments whose sequence range was already seen
 *   (retransmissions); UDP datagrams concatenated.
 *
 * The table is an open hash of flow objects (one object per flow, none per packet) with an
 * LRU list for idle expiry. Finished flows are written to columnar FlowBatches.
 */
import { FlowBatch, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, DEFAULT_PAYLOAD_CAP } from '../flow/record.js';
import type { Diagnostics } from '../flow/diagnostics.js';
import { Decoded, DecodedPacket, decodePacket } from './decode.js';
import type { PacketView } from './reader.js';

export interface FlowTableOptions {
  idleTimeoutMs?: number;
  activeTimeoutMs?: number;
  /** How long a TCP flow closed by RST or FIN/FIN keeps taking trailing packets. */
  closeLingerMs?: number;
  payloadCap?: number;
  batchSize?: number;
  /** Source name written to every batch (the file path). */
  source?: string;
}

export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
export const DEFAULT_ACTIVE_TIMEOUT_MS = 1_800_000;
export const DEFAULT_CLOSE_LINGER_MS = 5_000;

/** Why a flow ended, for the diagnostics counters. */
const END_IDLE = 0;
const END_ACTIVE = 1;
const END_CLOSED = 2;
const END_REUSED = 3;
const END_EOF = 4;
const END_NAMES = [
  'flows.ended-idle',
  'flows.ended-active',
  'flows.ended-tcp-close',
  'flows.ended-port-reuse',
  'flows.ended-eof',
];

/** Per-direction payload sample and TCP sequence bookkeeping. */
class PayloadSample {
  buf: Buffer | null = null;
  len = 0;
  /** Covered TCP sequence range [lo, hi), relative to `base`. */
  base = 0;
  lo = 0;
  hi = 0;
  seqKnown = false;
}

class Flow {
  ipVersion = 4;
  s0 = 0;
  s1 = 0;
  s2 = 0;
  s3 = 0;
  d0 = 0;
  d1 = 0;
  d2 = 0;
  d3 = 0;
  srcPort = 0;
  dstPort = 0;
  proto = 0;
  hash = 0;
  firstMs = 0;
  lastMs = 0;
  packets = 0;
  bytes = 0;
  revPackets = 0;
  revBytes = 0;
  tcpFlags = 0;
  position = 0;
  finFwd = false;
  finRev = false;
  closed = false;
  fwd: PayloadSample | null = null;
  rev: PayloadSample | null = null;
  /** Next flow in the same hash bucket. */
  next: Flow | null = null;
  /** LRU list neighbours (least recently seen first). */
  older: Flow | null = null;
  newer: Flow | null = null;
}

function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return h ^ (h >>> 16);
}

export class FlowTable {
  readonly idleTimeoutMs: number;
  readonly activeTimeoutMs: number;
  readonly closeLingerMs: number;
  readonly payloadCap: number;
  readonly batchSize: number;
  readonly source: string;
  private buckets: (Flow | null)[];
  private mask: number;
  private count = 0;
  private lruOldest: Flow | null = null;
  private lruNewest: Flow | null = null;
  private nowMs = -Infinity;
  private batch: FlowBatch;
  private readonly pkt = new DecodedPacket();
  /** Counters kept as numbers on the hot path, added to diagnostics by `flush()`. */
  private n = {
    packets: 0,
    ip: 0,
    nonIp: 0,
    truncated: 0,
    malformed: 0,
    unsupportedLink: 0,
    icmp: 0,
    frag4: 0,
    frag6: 0,
    flows: 0,
    retransmitted: 0,
  };
  private ended = [0, 0, 0, 0, 0];

  constructor(
    opts: FlowTableOptions,
    private readonly onBatch: (b: FlowBatch) => void,
  ) {
    this.idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.activeTimeoutMs = opts.activeTimeoutMs ?? DEFAULT_ACTIVE_TIMEOUT_MS;
    this.closeLingerMs = opts.closeLingerMs ?? DEFAULT_CLOSE_LINGER_MS;
    this.payloadCap = Math.max(0, opts.payloadCap ?? DEFAULT_PAYLOAD_CAP);
    this.batchSize = opts.batchSize ?? 4096;
    this.source = opts.source ?? '';
    this.buckets = new Array(1024).fill(null);
    this.mask = 1023;
    this.batch = new FlowBatch(this.batchSize, this.source);
  }

  /** Flows currently open. */
  get openFlows(): number {
    return this.count;
  }

  /** Decode a captured packet and account it. */
  addPacket(v: PacketView): void {
    this.n.packets++;
    const d = this.pkt;
    const r = decodePacket(v.buf, v.offset, v.caplen, v.origLen, v.linkType, d);
    if (r !== Decoded.Ok) {
      if (r === Decoded.NotIp) this.n.nonIp++;
      else if (r === Decoded.Truncated) this.n.truncated++;
      else if (r === Decoded.Malformed) this.n.malformed++;
      else this.n.unsupportedLink++;
      return;
    }
    this.addDecoded(d, v.tsMs, v.fileOffset, v.buf);
  }

  /** Account an already decoded packet (`buf` holds its payload at `d.payloadOffset`). */
  addDecoded(d: DecodedPacket, tsMs: number, fileOffset: number, buf: Buffer): void {
    const n = this.n;
    n.ip++;
    if (d.proto === 1 || d.proto === 58) n.icmp++;
    if (d.fragment) {
      if (d.fragment === 4) n.frag4++;
      else n.frag6++;
      d.srcPort = 0;
      d.dstPort = 0;
      d.tcpFlags = 0;
      d.payloadLength = 0;
    }
    if (tsMs > this.nowMs) {
      this.nowMs = tsMs;
      this.expireIdle();
    }
    const hs = mix(d.s0 ^ mix(d.s1 ^ mix(d.s2 ^ mix(d.s3 ^ d.srcPort))));
    const hd = mix(d.d0 ^ mix(d.d1 ^ mix(d.d2 ^ mix(d.d3 ^ d.dstPort))));
    const hash = mix((hs ^ hd) + d.proto) >>> 0;
    let f = this.buckets[hash & this.mask];
    let forward = true;
    for (; f !== null; f = f.next) {
      if (f.hash !== hash || f.proto !== d.proto || f.ipVersion !== d.ipVersion) continue;
      if (
        f.srcPort === d.srcPort &&
        f.dstPort === d.dstPort &&
        f.s0 === d.s0 &&
        f.d0 === d.d0 &&
        f.s1 === d.s1 &&
        f.s2 === d.s2 &&
        f.s3 === d.s3 &&
        f.d1 === d.d1 &&
        f.d2 === d.d2 &&
        f.d3 === d.d3
      ) {
        forward = true;
        break;
      }
      if (
        f.srcPort === d.dstPort &&
        f.dstPort === d.srcPort &&
        f.s0 === d.d0 &&
        f.d0 === d.s0 &&
        f.s1 === d.d1 &&
        f.s2 === d.d2 &&
        f.s3 === d.d3 &&
        f.d1 === d.s1 &&
        f.d2 === d.s2 &&
        f.d3 === d.s3
      ) {
        forward = false;
        break;
      }
    }
    const flags = d.tcpFlags;
    const isTcp = d.proto === 6;
    if (f !== null) {
      let end = -1;
      if (f.closed && isTcp && (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN) end = END_REUSED;
      else if (f.closed && tsMs - f.lastMs > this.closeLingerMs) end = END_CLOSED;
      else if (tsMs - f.firstMs >= this.activeTimeoutMs) end = END_ACTIVE;
      if (end >= 0) {
        this.finish(f, end);
        // The 5-tuple continues as a new flow; an active-timeout split keeps the orientation.
        f = this.create(d, hash, tsMs, fileOffset, end === END_ACTIVE ? forward : null);
        if (end !== END_ACTIVE) forward = sentBySource(f, d);
      } else {
        this.touch(f);
      }
    } else {
      f = this.create(d, hash, tsMs, fileOffset, null);
      forward = sentBySource(f, d);
    }
    if (tsMs > f.lastMs) f.lastMs = tsMs;
    if (tsMs < f.firstMs) f.firstMs = tsMs;
    if (forward) {
      f.packets++;
      f.bytes += d.ipBytes;
    } else {
      f.revPackets++;
      f.revBytes += d.ipBytes;
    }
    if (isTcp) {
      f.tcpFlags |= flags;
      if (flags & TCP_RST) f.closed = true;
      else if (flags & TCP_FIN) {
        if (forward) f.finFwd = true;
        else f.finRev = true;
        if (f.finFwd && f.finRev) f.closed = true;
      }
    }
    if (d.payloadLength > 0 && this.payloadCap > 0) this.sample(f, forward, d, buf);
  }

  private create(
    d: DecodedPacket,
    hash: number,
    tsMs: number,
    fileOffset: number,
    forward: boolean | null,
  ): Flow {
    const f = new Flow();
    let asSent: boolean;
    if (forward !== null) asSent = forward;
    else if (d.proto === 6 && d.tcpFlags & TCP_SYN) asSent = !(d.tcpFlags & TCP_ACK);
    else if (d.srcPort !== d.dstPort) asSent = d.srcPort > d.dstPort;
    else asSent = true;
    f.ipVersion = d.ipVersion;
    f.proto = d.proto;
    f.hash = hash;
    if (asSent) {
      f.s0 = d.s0;
      f.s1 = d.s1;
      f.s2 = d.s2;
      f.s3 = d.s3;
      f.d0 = d.d0;
      f.d1 = d.d1;
      f.d2 = d.d2;
      f.d3 = d.d3;
      f.srcPort = d.srcPort;
      f.dstPort = d.dstPort;
    } else {
      f.s0 = d.d0;
      f.s1 = d.d1;
      f.s2 = d.d2;
      f.s3 = d.d3;
      f.d0 = d.s0;
      f.d1 = d.s1;
      f.d2 = d.s2;
      f.d3 = d.s3;
      f.srcPort = d.dstPort;
      f.dstPort = d.srcPort;
    }
    f.firstMs = tsMs;
    f.lastMs = tsMs;
    f.position = fileOffset;
    const b = hash & this.mask;
    f.next = this.buckets[b];
    this.buckets[b] = f;
    this.count++;
    this.n.flows++;
    this.linkNewest(f);
    if (this.count > this.buckets.length) this.grow();
    return f;
  }

  private sample(f: Flow, forward: boolean, d: DecodedPacket, buf: Buffer): void {
    let s = forward ? f.fwd : f.rev;
    if (s === null) {
      s = new PayloadSample();
      if (forward) f.fwd = s;
      else f.rev = s;
    }
    const cap = this.payloadCap;
    if (s.len >= cap) return;
    let from = d.payloadOffset;
    let len = d.payloadLength;
    if (d.proto === 6) {
      // Sequence numbers relative to the first payload segment seen in this direction; a SYN
      // carrying data (TCP Fast Open) starts one past its sequence number.
      const seq = (d.tcpFlags & TCP_SYN ? d.tcpSeq + 1 : d.tcpSeq) >>> 0;
      if (!s.seqKnown) {
        s.seqKnown = true;
        s.base = seq;
        s.lo = 0;
        s.hi = len;
      } else {
        const rs = (seq - s.base) | 0;
        const re = rs + len;
        if (rs >= s.lo && re <= s.hi) {
          this.n.retransmitted++;
          return;
        }
        if (rs >= s.lo && rs < s.hi) {
          // Overlaps the covered range: keep only the new tail.
          from += s.hi - rs;
          len = re - s.hi;
        }
        if (rs < s.lo) s.lo = rs;
        if (re > s.hi) s.hi = re;
      }
    }
    const take = Math.min(len, cap - s.len);
    if (take <= 0) return;
    const need = s.len + take;
    if (s.buf === null || s.buf.length < need) {
      // Grow by doubling up to the cap: most flows carry far less than the cap.
      const size = Math.min(cap, Math.max(need, 256, s.buf ? s.buf.length * 2 : 0));
      const nb = Buffer.allocUnsafe(size);
      if (s.buf) s.buf.copy(nb, 0, 0, s.len);
      s.buf = nb;
    }
    buf.copy(s.buf, s.len, from, from + take);
    s.len += take;
  }

  private linkNewest(f: Flow): void {
    f.newer = null;
    f.older = this.lruNewest;
    if (this.lruNewest) this.lruNewest.newer = f;
    else this.lruOldest = f;
    this.lruNewest = f;
  }

  private unlink(f: Flow): void {
    if (f.older) f.older.newer = f.newer;
    else this.lruOldest = f.newer;
    if (f.newer) f.newer.older = f.older;
    else this.lruNewest = f.older;
    f.older = f.newer = null;
  }

  private touch(f: Flow): void {
    if (this.lruNewest === f) return;
    this.unlink(f);
    this.linkNewest(f);
  }

  /**
   * End flows not seen for the idle timeout (or, once closed, the linger time). The LRU list is
   * ordered by last packet, so this stops at the first flow still in time; a closed flow deeper
   * in the list ends at the latest when it reaches the front.
   */
  private expireIdle(): void {
    const now = this.nowMs;
    let f = this.lruOldest;
    while (f !== null) {
      const older = now - f.lastMs;
      if (older > this.idleTimeoutMs) {
        this.finish(f, f.closed ? END_CLOSED : END_IDLE);
      } else if (f.closed && older > this.closeLingerMs) {
        this.finish(f, END_CLOSED);
      } else break;
      f = this.lruOldest;
    }
  }

  private removeFromBucket(f: Flow): void {
    const b = f.hash & this.mask;
    let p = this.buckets[b];
    if (p === f) {
      this.buckets[b] = f.next;
    } else {
      while (p !== null && p.next !== f) p = p.next;
      if (p !== null) p.next = f.next;
    }
    f.next = null;
  }

  private finish(f: Flow, why: number): void {
    this.removeFromBucket(f);
    this.unlink(f);
    this.count--;
    this.ended[why]++;
    this.write(f);
  }

  private grow(): void {
    const old = this.buckets;
    const size = old.length * 2;
    this.buckets = new Array(size).fill(null);
    this.mask = size - 1;
    for (let f of old) {
      while (f !== null) {
        const next = f.next;
        const b = f.hash & this.mask;
        f.next = this.buckets[b];
        this.buckets[b] = f;
        f = next;
      }
    }
  }

  private write(f: Flow): void {
    const b = this.batch;
    const i = b.push();
    b.firstMs[i] = f.firstMs;
    b.lastMs[i] = f.lastMs;
    b.ipVersion[i] = f.ipVersion;
    const o = i * 16;
    writeWords(b.src, o, f.ipVersion, f.s0, f.s1, f.s2, f.s3);
    writeWords(b.dst, o, f.ipVersion, f.d0, f.d1, f.d2, f.d3);
    b.srcPort[i] = f.srcPort;
    b.dstPort[i] = f.dstPort;
    b.proto[i] = f.proto;
    b.packets[i] = f.packets;
    b.bytes[i] = f.bytes;
    b.revPackets[i] = f.revPackets;
    b.revBytes[i] = f.revBytes;
    b.tcpFlags[i] = f.tcpFlags;
    b.position[i] = f.position;
    b.payloadFwd[i] = sampleBytes(f.fwd);
    b.payloadRev[i] = sampleBytes(f.rev);
    if (b.full) {
      this.onBatch(b);
      this.batch = new FlowBatch(this.batchSize, this.source);
    }
  }

  /** End every open flow (end of input), in order of first packet, and hand over the last batch. */
  flush(diagnostics?: Diagnostics): void {
    const open: Flow[] = [];
    for (let f = this.lruOldest; f !== null; f = f.newer) open.push(f);
    open.sort((a, b) => a.position - b.position);
    for (const f of open) this.finish(f, f.closed ? END_CLOSED : END_EOF);
    if (this.batch.length > 0) {
      this.onBatch(this.batch);
      this.batch = new FlowBatch(this.batchSize, this.source);
    }
    if (diagnostics) this.report(diagnostics);
  }

  /** Add the counters so far to `diagnostics` (and reset them). */
  report(diagnostics: Diagnostics): void {
    const n = this.n;
    const add = (k: string, v: number) => {
      if (v) diagnostics.add(k, v);
    };
    add('packets.read', n.packets);
    add('packets.ip', n.ip);
    add('packets.non-ip', n.nonIp);
    add('packets.truncated-headers', n.truncated);
    add('packets.malformed-ip', n.malformed);
    add('packets.unsupported-link-type', n.unsupportedLink);
    add('packets.icmp', n.icmp);
    add('ipv4.fragments-not-reassembled', n.frag4);
    add('ipv6.fragments-not-reassembled', n.frag6);
    add('tcp.retransmissions-skipped-in-payload', n.retransmitted);
    add('flows', n.flows);
    for (let k = 0; k < END_NAMES.length; k++) add(END_NAMES[k], this.ended[k]);
    for (const k of Object.keys(n) as (keyof typeof n)[]) n[k] = 0;
    this.ended.fill(0);
  }
}

/** Whether the packet in `d` goes from the flow's source to its destination. */
function sentBySource(f: Flow, d: DecodedPacket): boolean {
  return (
    f.srcPort === d.srcPort &&
    f.s0 === d.s0 &&
    f.s1 === d.s1 &&
    f.s2 === d.s2 &&
    f.s3 === d.s3 &&
    f.dstPort === d.dstPort &&
    f.d0 === d.d0 &&
    f.d1 === d.d1 &&
    f.d2 === d.d2 &&
    f.d3 === d.d3
  );
}

function writeWords(
  dst: Uint8Array,
  o: number,
  v: number,
  w0: number,
  w1: number,
  w2: number,
  w3: number,
): void {
  dst[o] = w0 >>> 24;
  dst[o + 1] = (w0 >>> 16) & 255;
  dst[o + 2] = (w0 >>> 8) & 255;
  dst[o + 3] = w0 & 255;
  if (v !== 6) return;
  dst[o + 4] = w1 >>> 24;
  dst[o + 5] = (w1 >>> 16) & 255;
  dst[o + 6] = (w1 >>> 8) & 255;
  dst[o + 7] = w1 & 255;
  dst[o + 8] = w2 >>> 24;
  dst[o + 9] = (w2 >>> 16) & 255;
  dst[o + 10] = (w2 >>> 8) & 255;
  dst[o + 11] = w2 & 255;
  dst[o + 12] = w3 >>> 24;
  dst[o + 13] = (w3 >>> 16) & 255;
  dst[o + 14] = (w3 >>> 8) & 255;
  dst[o + 15] = w3 & 255;
}

function sampleBytes(s: PayloadSample | null): Buffer | null {
  if (s === null || s.len === 0 || s.buf === null) return null;
  // Trim to the bytes used; a copy when the buffer is much larger, so batches do not pin slack.
  return s.len === s.buf.length ? s.buf : Buffer.from(s.buf.subarray(0, s.len));
}
