/**
 * Packet → flow assembly with the semantics nfdump/softflowd users expect:
 *
 * - one bidirectional flow per 5-tuple (addresses, ports, IP protocol; ports 0 for protocols
 *   without ports);
 * - IP fragments are reassembled (reassembly.ts) and the datagram counts as one packet in its port
 *   flow; fragments of a datagram that cannot be reassembled count without ports, as every
 *   fragment did before reassembly;
 * - a flow ends when idle for `idleTimeoutMs` (60 s), when it has lasted `activeTimeoutMs`
 *   (300 s, nfpcapd's default: the next packet starts a new flow, so long connections are split
 *   into 5-minute records, as an exporter's active timeout cuts them), or when TCP
 *   closes it (RST, or FIN in both directions) — a closed flow still takes the packets that
 *   trail the close (final ACKs) for `closeLingerMs`, unless a new SYN reuses the 5-tuple;
 * - orientation: the sender of a SYN (without ACK) is the source; a SYN+ACK's receiver is;
 *   otherwise the side with the lower port is the server (destination); equal ports: the
 *   first packet's sender is the source;
 * - bytes are IP-layer bytes (IPv4 total length, IPv6 40 + payload length), as NetFlow counts;
 * - the first `payloadCap` bytes of transport payload of each direction are kept for
 *   detection: TCP in arrival order, skipping segments whose sequence range was already seen
 *   (retransmissions); UDP datagrams concatenated. Beside each sample, the capture time of every
 *   segment that starts in it (packed (offset, ms) entries, src/flow/payload-times.ts);
 * - a tunnelled packet (decode.ts opens GRE, IP-in-IP, VXLAN, GTP-U, Teredo, CAPWAP) counts in
 *   its INNER flow; the key stays the inner 5-tuple (as nDPI keys it), and the flow keeps the
 *   tunnel context of the packet that opened it (kind, id, outer addresses oriented as the flow).
 *
 * Storage is struct-of-arrays: a flow is a slot index into typed-array columns, chained in an
 * Int32Array hash table and an Int32Array LRU list (idle expiry), so neither packets nor flows
 * allocate objects (only their payload samples do). Finished flows are written to columnar
 * FlowBatches.
 */
import { FlowBatch, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, DEFAULT_PAYLOAD_CAP } from '../flow/record.js';
import type { Diagnostics } from '../flow/diagnostics.js';
import { PAYLOAD_TIME_BYTES, payloadSegmentCap } from '../flow/payload-times.js';
import { Decoded, DecodedPacket, decodePacket, linkTypeName } from './decode.js';
import { InputError, type InputProblem } from '../flow/diagnostics.js';
import { SegmentTimes } from './segment-times.js';
import { Reassembler, type ReassemblyOptions } from './reassembly.js';
import type { PacketView } from './reader.js';

export interface FlowTableOptions {
  idleTimeoutMs?: number;
  activeTimeoutMs?: number;
  /** How long a TCP flow closed by RST or FIN/FIN keeps taking trailing packets. */
  closeLingerMs?: number;
  payloadCap?: number;
  /** Open flows kept at most; beyond it the least recently seen flow is ended (memory bound). */
  maxFlows?: number;
  batchSize?: number;
  /** Source name written to every batch (the file path). */
  source?: string;
  /** Reassemble IP fragments (default true); false counts every fragment without ports. */
  reassemble?: boolean;
  /** Bounds of fragment reassembly. */
  reassembly?: ReassemblyOptions;
}

export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/**
 * 300 s, as nfpcapd (nfdump's capture reader) cuts: a long connection's records then carry its
 * timing (how many packets in each 5 minutes), which the behaviour model reads as it does
 * NetFlow's (docs/detection-rules.md, "Record timing"); it was 30 min (Cisco's NetFlow default).
 */
export const DEFAULT_ACTIVE_TIMEOUT_MS = 300_000;
export const DEFAULT_CLOSE_LINGER_MS = 5_000;
/** About 200 MB of flow columns, plus payload samples and their segment times. */
export const DEFAULT_MAX_FLOWS = 1_000_000;

/** Why a flow ended, for the diagnostics counters. */
const END_IDLE = 0;
const END_ACTIVE = 1;
const END_CLOSED = 2;
const END_REUSED = 3;
const END_EOF = 4;
const END_EVICTED = 5;
const END_NAMES = [
  'flows.ended-idle',
  'flows.ended-active',
  'flows.ended-tcp-close',
  'flows.ended-port-reuse',
  'flows.ended-eof',
  'flows.ended-table-full',
];

/** Bits of the per-flow state byte. */
const FIN_FWD = 1;
const FIN_REV = 2;
const CLOSED = 4;
const SEQ_FWD = 8;
const SEQ_REV = 16;

const NIL = -1;

function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return h ^ (h >>> 16);
}

/**
 * Per process: the packets are chosen by whoever sends the traffic, and `mix` is an invertible
 * public function, so without a secret an attacker could aim many flows at one hash chain and
 * make every packet walk all of them.
 */
const HASH_SEED = (Math.random() * 0x100000000) | 0;

/**
 * One hash for both directions of a flow: the two endpoints' hashes in a fixed order. Not their
 * xor, which is 0 for every flow whose two endpoints are equal (a packet from A:p to A:p), so
 * such flows of any address would all share one chain whatever the seed.
 */
function flowHash(d: DecodedPacket): number {
  const hs = mix(HASH_SEED ^ d.s0 ^ mix(d.s1 ^ mix(d.s2 ^ mix(d.s3 ^ d.srcPort))));
  const hd = mix(HASH_SEED ^ d.d0 ^ mix(d.d1 ^ mix(d.d2 ^ mix(d.d3 ^ d.dstPort))));
  const lo = hs < hd ? hs : hd;
  const hi = hs < hd ? hd : hs;
  return mix(mix(lo + d.proto) ^ hi);
}

export class FlowTable {
  readonly idleTimeoutMs: number;
  readonly activeTimeoutMs: number;
  readonly closeLingerMs: number;
  readonly payloadCap: number;
  readonly maxFlows: number;
  readonly batchSize: number;
  readonly source: string;

  // Flow columns, indexed by slot.
  private cap = 0;
  private ver = new Uint8Array(0);
  private sa = new Uint32Array(0); // 4 words per slot
  private da = new Uint32Array(0);
  private sp = new Uint16Array(0);
  private dp = new Uint16Array(0);
  private proto = new Uint8Array(0);
  private flags = new Uint8Array(0);
  private state = new Uint8Array(0);
  private hash = new Int32Array(0);
  private first = new Float64Array(0);
  private last = new Float64Array(0);
  private pk = new Float64Array(0);
  private by = new Float64Array(0);
  private rpk = new Float64Array(0);
  private rby = new Float64Array(0);
  private pos = new Float64Array(0);
  /** Hash chain and LRU list links (NIL terminated); `next` doubles as the free list. */
  private next = new Int32Array(0);
  private older = new Int32Array(0);
  private newer = new Int32Array(0);
  /** Payload samples: buffer, used length, TCP sequence base and covered range [lo, hi) per direction. */
  private payF: (Buffer | null)[] = [];
  private payR: (Buffer | null)[] = [];
  private lenF = new Int32Array(0);
  private lenR = new Int32Array(0);
  private baseF = new Uint32Array(0);
  private baseR = new Uint32Array(0);
  private loF = new Int32Array(0);
  private hiF = new Int32Array(0);
  private loR = new Int32Array(0);
  private hiR = new Int32Array(0);
  /** Tunnel context: kind (0 none), id (-1 none), outer IP version, outer addresses (4 words). */
  private tk = new Uint8Array(0);
  private tid = new Float64Array(0);
  private tver = new Uint8Array(0);
  private tsa = new Uint32Array(0);
  private tda = new Uint32Array(0);
  /** Segment times of the samples (key slot·2 forward, slot·2 + 1 reverse). */
  private readonly times: SegmentTimes;
  /** Entries kept per direction; the last one, when reached, marks the untimed rest (time NaN). */
  readonly segmentCap: number;

  private free = NIL;
  private buckets = new Int32Array(1024).fill(NIL);
  private mask = 1023;
  private count = 0;
  private lruOldest = NIL;
  private lruNewest = NIL;
  private nowMs = -Infinity;
  private batch: FlowBatch;
  private readonly pkt = new DecodedPacket();
  /** IP fragment reassembly (null when turned off). */
  private readonly reasm: Reassembler | null;
  /** Counters kept as numbers on the hot path, added to diagnostics by `report()`. */
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
    tunnelled: 0,
    depthExceeded: 0,
    innerUndecoded: 0,
  };
  /** Link types no decoder reads: link type → [packets, file offset of the first]. */
  private unsupported = new Map<number, [number, number]>();
  private ended = [0, 0, 0, 0, 0, 0];

  constructor(
    opts: FlowTableOptions,
    private readonly onBatch: (b: FlowBatch) => void,
  ) {
    this.idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.activeTimeoutMs = opts.activeTimeoutMs ?? DEFAULT_ACTIVE_TIMEOUT_MS;
    this.closeLingerMs = opts.closeLingerMs ?? DEFAULT_CLOSE_LINGER_MS;
    this.payloadCap = Math.max(0, opts.payloadCap ?? DEFAULT_PAYLOAD_CAP);
    this.segmentCap = payloadSegmentCap(this.payloadCap);
    this.times = new SegmentTimes(this.segmentCap);
    this.maxFlows = Math.max(1, opts.maxFlows ?? DEFAULT_MAX_FLOWS);
    this.batchSize = Math.max(1, opts.batchSize ?? 4096);
    this.source = opts.source ?? '';
    this.batch = new FlowBatch(this.batchSize, this.source);
    this.growSlots(1024);
    this.reasm =
      opts.reassemble === false
        ? null
        : new Reassembler(opts.reassembly ?? {}, {
            datagram: (d, tsMs, fileOffset, buf) => this.datagram(d, tsMs, fileOffset, buf),
            fragment: (d, tsMs, fileOffset) => this.account(d, tsMs, fileOffset, EMPTY),
          });
  }

  /** Datagrams and bytes waiting in fragment reassembly, its longest hash chain (0 when it is off). */
  get pendingFragments(): { datagrams: number; bytes: number; longestChain: number } {
    const r = this.reasm;
    return {
      datagrams: r?.pendingDatagrams ?? 0,
      bytes: r?.pendingBytes ?? 0,
      longestChain: r?.longestChain ?? 0,
    };
  }

  /** The longest hash chain of open flows (for tests: crafted packets must not pile up). */
  get longestChain(): number {
    let longest = 0;
    for (let b = 0; b < this.buckets.length; b++) {
      let n = 0;
      for (let f = this.buckets[b]; f !== NIL; f = this.next[f]) n++;
      if (n > longest) longest = n;
    }
    return longest;
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
      else this.unsupportedLink(v.linkType, v.fileOffset);
      return;
    }
    if (d.tunnelDepth !== 0) this.n.tunnelled++;
    if (d.depthExceeded !== 0) this.n.depthExceeded++;
    if (d.innerUndecoded !== 0) this.n.innerUndecoded++;
    this.addDecoded(d, v.tsMs, v.fileOffset, v.buf);
  }

  private unsupportedLink(linkType: number, fileOffset: number): void {
    this.n.unsupportedLink++;
    const u = this.unsupported.get(linkType);
    if (u) u[0]++;
    else this.unsupported.set(linkType, [1, fileOffset]);
  }

  /**
   * Account an already decoded packet (`buf` holds its payload at `d.payloadOffset`, or a
   * fragment's bytes): a fragment goes to reassembly, anything else to its flow.
   */
  addDecoded(d: DecodedPacket, tsMs: number, fileOffset: number, buf: Buffer): void {
    const n = this.n;
    n.ip++;
    if (d.proto === 1 || d.proto === 58) n.icmp++;
    const reasm = this.reasm;
    if (reasm !== null) {
      // One comparison per packet while nothing is pending (deadline Infinity).
      if (tsMs > reasm.deadline) reasm.expire(tsMs);
      if (d.fragment !== 0) {
        reasm.add(d, tsMs, fileOffset, buf);
        return;
      }
    }
    this.account(d, tsMs, fileOffset, buf);
  }

  /** A reassembled datagram; a fragment inside it (a fragmented packet in a tunnel) is reassembled too. */
  private datagram(d: DecodedPacket, tsMs: number, fileOffset: number, buf: Buffer): void {
    // (Tunnels opened inside it are counted by the reassembler: the fragments were counted here.)
    if (d.depthExceeded !== 0) this.n.depthExceeded++;
    if (d.innerUndecoded !== 0) this.n.innerUndecoded++;
    if (d.fragment !== 0) this.reasm!.add(d, tsMs, fileOffset, buf);
    else this.account(d, tsMs, fileOffset, buf);
  }

  /** Count a packet in its flow; a fragment (not reassembled) without ports. */
  private account(d: DecodedPacket, tsMs: number, fileOffset: number, buf: Buffer): void {
    const n = this.n;
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
    const hash = flowHash(d);
    let f = this.lookup(d, hash);
    let forward = this.lookupForward;
    const flags = d.tcpFlags;
    const isTcp = d.proto === 6;
    if (f !== NIL) {
      const st = this.state[f];
      let end = -1;
      if (st & CLOSED && isTcp && (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN) end = END_REUSED;
      else if (st & CLOSED && tsMs - this.last[f] > this.closeLingerMs) end = END_CLOSED;
      else if (tsMs - this.first[f] >= this.activeTimeoutMs) end = END_ACTIVE;
      if (end >= 0) {
        this.finish(f, end);
        // The 5-tuple continues as a new flow; an active-timeout split keeps the orientation.
        f = this.create(d, hash, tsMs, fileOffset, end === END_ACTIVE ? (forward ? 1 : 0) : -1);
        if (end !== END_ACTIVE) forward = this.sentBySource(f, d);
      } else {
        this.touch(f);
      }
    } else {
      f = this.create(d, hash, tsMs, fileOffset, -1);
      forward = this.sentBySource(f, d);
    }
    if (tsMs > this.last[f]) this.last[f] = tsMs;
    if (tsMs < this.first[f]) this.first[f] = tsMs;
    if (forward) {
      this.pk[f]++;
      this.by[f] += d.ipBytes;
    } else {
      this.rpk[f]++;
      this.rby[f] += d.ipBytes;
    }
    if (isTcp) {
      this.flags[f] |= flags;
      if (flags & TCP_RST) this.state[f] |= CLOSED;
      else if (flags & TCP_FIN) {
        let st = this.state[f] | (forward ? FIN_FWD : FIN_REV);
        if ((st & (FIN_FWD | FIN_REV)) === (FIN_FWD | FIN_REV)) st |= CLOSED;
        this.state[f] = st;
      }
    }
    if (d.payloadLength > 0 && this.payloadCap > 0) this.sample(f, forward, d, buf, tsMs);
  }

  /** Set by `lookup`: whether the packet goes from the flow's source to its destination. */
  private lookupForward = true;

  private lookup(d: DecodedPacket, hash: number): number {
    const sa = this.sa;
    const da = this.da;
    for (let f = this.buckets[hash & this.mask]; f !== NIL; f = this.next[f]) {
      if (this.hash[f] !== hash || this.proto[f] !== d.proto || this.ver[f] !== d.ipVersion) continue;
      const w = f * 4;
      if (
        this.sp[f] === d.srcPort &&
        this.dp[f] === d.dstPort &&
        sa[w] === d.s0 &&
        da[w] === d.d0 &&
        sa[w + 1] === d.s1 &&
        sa[w + 2] === d.s2 &&
        sa[w + 3] === d.s3 &&
        da[w + 1] === d.d1 &&
        da[w + 2] === d.d2 &&
        da[w + 3] === d.d3
      ) {
        this.lookupForward = true;
        return f;
      }
      if (
        this.sp[f] === d.dstPort &&
        this.dp[f] === d.srcPort &&
        sa[w] === d.d0 &&
        da[w] === d.s0 &&
        sa[w + 1] === d.d1 &&
        sa[w + 2] === d.d2 &&
        sa[w + 3] === d.d3 &&
        da[w + 1] === d.s1 &&
        da[w + 2] === d.s2 &&
        da[w + 3] === d.s3
      ) {
        this.lookupForward = false;
        return f;
      }
    }
    this.lookupForward = true;
    return NIL;
  }

  /** Whether the packet in `d` goes from flow `f`'s source to its destination. */
  private sentBySource(f: number, d: DecodedPacket): boolean {
    const w = f * 4;
    const sa = this.sa;
    const da = this.da;
    return (
      this.sp[f] === d.srcPort &&
      this.dp[f] === d.dstPort &&
      sa[w] === d.s0 &&
      sa[w + 1] === d.s1 &&
      sa[w + 2] === d.s2 &&
      sa[w + 3] === d.s3 &&
      da[w] === d.d0 &&
      da[w + 1] === d.d1 &&
      da[w + 2] === d.d2 &&
      da[w + 3] === d.d3
    );
  }

  /** `forward`: 1/0 to keep a known orientation (packet sent by the source or not), -1 to decide. */
  private create(d: DecodedPacket, hash: number, tsMs: number, fileOffset: number, forward: number): number {
    let asSent: boolean;
    if (forward >= 0) asSent = forward === 1;
    else if (d.proto === 6 && d.tcpFlags & TCP_SYN) asSent = !(d.tcpFlags & TCP_ACK);
    else if (d.srcPort !== d.dstPort) asSent = d.srcPort > d.dstPort;
    else asSent = true;
    if (this.count >= this.maxFlows) this.finish(this.lruOldest, END_EVICTED);
    if (this.free === NIL) this.growSlots(this.cap * 2);
    const f = this.free;
    this.free = this.next[f];
    const w = f * 4;
    this.ver[f] = d.ipVersion;
    this.proto[f] = d.proto;
    this.hash[f] = hash;
    const sa = this.sa;
    const da = this.da;
    if (asSent) {
      words(sa, w, d.s0, d.s1, d.s2, d.s3);
      words(da, w, d.d0, d.d1, d.d2, d.d3);
      this.sp[f] = d.srcPort;
      this.dp[f] = d.dstPort;
    } else {
      words(sa, w, d.d0, d.d1, d.d2, d.d3);
      words(da, w, d.s0, d.s1, d.s2, d.s3);
      this.sp[f] = d.dstPort;
      this.dp[f] = d.srcPort;
    }
    const tk = d.tunnelDepth === 0 ? 0 : d.tunnel;
    this.tk[f] = tk;
    if (tk !== 0) this.tunnelContext(f, d, asSent);
    this.first[f] = tsMs;
    this.last[f] = tsMs;
    this.pk[f] = 0;
    this.by[f] = 0;
    this.rpk[f] = 0;
    this.rby[f] = 0;
    this.flags[f] = 0;
    this.state[f] = 0;
    this.pos[f] = fileOffset;
    this.payF[f] = null;
    this.payR[f] = null;
    this.lenF[f] = 0;
    this.lenR[f] = 0;
    const b = hash & this.mask;
    this.next[f] = this.buckets[b];
    this.buckets[b] = f;
    this.count++;
    this.n.flows++;
    this.linkNewest(f);
    if (this.count > this.buckets.length) this.growBuckets();
    return f;
  }

  /** The packet's tunnel context into slot `f`, outer addresses oriented as the flow. */
  private tunnelContext(f: number, d: DecodedPacket, asSent: boolean): void {
    const w = f * 4;
    this.tid[f] = d.tunnelId;
    this.tver[f] = d.outerVersion;
    words(asSent ? this.tsa : this.tda, w, d.os0, d.os1, d.os2, d.os3);
    words(asSent ? this.tda : this.tsa, w, d.od0, d.od1, d.od2, d.od3);
  }

  private growSlots(size: number): void {
    const old = this.cap;
    const g = <T extends Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array>(
      a: T,
      per = 1,
    ): T => {
      const b = new (a.constructor as new (n: number) => T)(size * per);
      b.set(a);
      return b;
    };
    this.ver = g(this.ver);
    this.sa = g(this.sa, 4);
    this.da = g(this.da, 4);
    this.sp = g(this.sp);
    this.dp = g(this.dp);
    this.proto = g(this.proto);
    this.flags = g(this.flags);
    this.state = g(this.state);
    this.hash = g(this.hash);
    this.first = g(this.first);
    this.last = g(this.last);
    this.pk = g(this.pk);
    this.by = g(this.by);
    this.rpk = g(this.rpk);
    this.rby = g(this.rby);
    this.pos = g(this.pos);
    this.next = g(this.next);
    this.older = g(this.older);
    this.newer = g(this.newer);
    this.lenF = g(this.lenF);
    this.lenR = g(this.lenR);
    this.baseF = g(this.baseF);
    this.baseR = g(this.baseR);
    this.loF = g(this.loF);
    this.hiF = g(this.hiF);
    this.loR = g(this.loR);
    this.hiR = g(this.hiR);
    this.tk = g(this.tk);
    this.tid = g(this.tid);
    this.tver = g(this.tver);
    this.tsa = g(this.tsa, 4);
    this.tda = g(this.tda, 4);
    this.times.growSlots(size);
    for (let k = old; k < size; k++) {
      this.payF.push(null);
      this.payR.push(null);
    }
    // New slots go on the free list.
    for (let k = size - 1; k >= old; k--) {
      this.next[k] = this.free;
      this.free = k;
    }
    this.cap = size;
  }

  private growBuckets(): void {
    const size = this.buckets.length * 2;
    this.buckets = new Int32Array(size).fill(NIL);
    this.mask = size - 1;
    // Every open flow is on the LRU list: rehash from there.
    for (let f = this.lruOldest; f !== NIL; f = this.newer[f]) {
      const b = this.hash[f] & this.mask;
      this.next[f] = this.buckets[b];
      this.buckets[b] = f;
    }
  }

  private sample(f: number, forward: boolean, d: DecodedPacket, buf: Buffer, tsMs: number): void {
    const cap = this.payloadCap;
    let used = forward ? this.lenF[f] : this.lenR[f];
    if (used >= cap) return;
    let from = d.payloadOffset;
    let len = d.payloadLength;
    if (d.proto === 6) {
      // Sequence numbers relative to the first payload segment seen in this direction; a SYN
      // carrying data (TCP Fast Open) starts one past its sequence number.
      const seq = (d.tcpFlags & TCP_SYN ? d.tcpSeq + 1 : d.tcpSeq) >>> 0;
      const bit = forward ? SEQ_FWD : SEQ_REV;
      const base = forward ? this.baseF : this.baseR;
      const loA = forward ? this.loF : this.loR;
      const hiA = forward ? this.hiF : this.hiR;
      if (!(this.state[f] & bit)) {
        this.state[f] |= bit;
        base[f] = seq;
        loA[f] = 0;
        hiA[f] = len;
      } else {
        const rs = (seq - base[f]) | 0;
        const re = rs + len;
        const lo = loA[f];
        const hi = hiA[f];
        if (rs >= lo && re <= hi) {
          this.n.retransmitted++;
          return;
        }
        if (rs >= lo && rs < hi) {
          // Overlaps the covered range: keep only the new tail.
          from += hi - rs;
          len = re - hi;
        }
        if (rs < lo) loA[f] = rs;
        if (re > hi) hiA[f] = re;
      }
    }
    const take = Math.min(len, cap - used);
    if (take <= 0) return;
    this.times.add(forward ? f * 2 : f * 2 + 1, used, tsMs);
    const need = used + take;
    let pb = forward ? this.payF[f] : this.payR[f];
    if (pb === null || pb.length < need) {
      // Most flows carry far less than the cap: start at twice the first piece, double up to the cap.
      const size = Math.min(cap, Math.max(need, 256, pb ? pb.length * 2 : need * 2));
      const nb = Buffer.allocUnsafe(size);
      if (pb) pb.copy(nb, 0, 0, used);
      pb = nb;
      if (forward) this.payF[f] = nb;
      else this.payR[f] = nb;
    }
    if (take <= 64) {
      // Short copies are cheaper as a loop than through Buffer#copy's native call.
      for (let k = 0; k < take; k++) pb[used + k] = buf[from + k];
    } else buf.copy(pb, used, from, from + take);
    used += take;
    if (forward) this.lenF[f] = used;
    else this.lenR[f] = used;
  }

  private linkNewest(f: number): void {
    this.newer[f] = NIL;
    this.older[f] = this.lruNewest;
    if (this.lruNewest !== NIL) this.newer[this.lruNewest] = f;
    else this.lruOldest = f;
    this.lruNewest = f;
  }

  private unlink(f: number): void {
    const o = this.older[f];
    const w = this.newer[f];
    if (o !== NIL) this.newer[o] = w;
    else this.lruOldest = w;
    if (w !== NIL) this.older[w] = o;
    else this.lruNewest = o;
  }

  private touch(f: number): void {
    if (this.lruNewest === f) return;
    this.unlink(f);
    this.linkNewest(f);
  }

  /**
   * End flows not seen for the idle timeout (or, once closed, the linger time). The LRU list is
   * ordered by last packet, so this stops at the first flow still in time; a closed flow deeper
   * in the list ends when its next packet comes late or when it reaches the front.
   */
  private expireIdle(): void {
    const now = this.nowMs;
    let f = this.lruOldest;
    while (f !== NIL) {
      const age = now - this.last[f];
      const closed = this.state[f] & CLOSED;
      if (age > this.idleTimeoutMs) this.finish(f, closed ? END_CLOSED : END_IDLE);
      else if (closed && age > this.closeLingerMs) this.finish(f, END_CLOSED);
      else break;
      f = this.lruOldest;
    }
  }

  private finish(f: number, why: number): void {
    // Out of its hash chain.
    const b = this.hash[f] & this.mask;
    let p = this.buckets[b];
    if (p === f) this.buckets[b] = this.next[f];
    else {
      while (p !== NIL && this.next[p] !== f) p = this.next[p];
      if (p !== NIL) this.next[p] = this.next[f];
    }
    this.unlink(f);
    this.count--;
    this.ended[why]++;
    this.write(f);
    this.payF[f] = null;
    this.payR[f] = null;
    // Times exist only beside kept bytes: flows without payload never touch them.
    if (this.lenF[f] > 0) this.times.release(f * 2);
    if (this.lenR[f] > 0) this.times.release(f * 2 + 1);
    this.next[f] = this.free;
    this.free = f;
  }

  private write(f: number): void {
    const b = this.batch;
    const i = b.push();
    b.firstMs[i] = this.first[f];
    b.lastMs[i] = this.last[f];
    const v = this.ver[f];
    b.ipVersion[i] = v;
    const o = i * 16;
    writeWords(b.src, o, v, this.sa, f * 4);
    writeWords(b.dst, o, v, this.da, f * 4);
    b.srcPort[i] = this.sp[f];
    b.dstPort[i] = this.dp[f];
    b.proto[i] = this.proto[f];
    b.packets[i] = this.pk[f];
    b.bytes[i] = this.by[f];
    b.revPackets[i] = this.rpk[f];
    b.revBytes[i] = this.rby[f];
    b.tcpFlags[i] = this.flags[f];
    b.position[i] = this.pos[f];
    b.payloadFwd[i] = sampleBytes(this.payF[f], this.lenF[f]);
    b.payloadRev[i] = sampleBytes(this.payR[f], this.lenR[f]);
    const tk = this.tk[f];
    if (tk !== 0) {
      const tv = this.tver[f];
      b.withTunnels();
      b.tunnel[i] = tk;
      b.tunnelId[i] = this.tid[f];
      b.outerVersion[i] = tv;
      b.outerSrc.fill(0, o, o + 16);
      b.outerDst.fill(0, o, o + 16);
      writeWords(b.outerSrc, o, tv, this.tsa, f * 4);
      writeWords(b.outerDst, o, tv, this.tda, f * 4);
    }
    if (this.lenF[f] > 0) {
      const len = this.times.count(f * 2) * PAYLOAD_TIME_BYTES;
      const at = b.reserveTimes(len);
      this.times.write(f * 2, b.payloadTimesView, at);
      b.timesFwdAt[i] = at;
      b.timesFwdLen[i] = len;
    }
    if (this.lenR[f] > 0) {
      const len = this.times.count(f * 2 + 1) * PAYLOAD_TIME_BYTES;
      const at = b.reserveTimes(len);
      this.times.write(f * 2 + 1, b.payloadTimesView, at);
      b.timesRevAt[i] = at;
      b.timesRevLen[i] = len;
    }
    if (b.full) {
      this.onBatch(b);
      this.batch = new FlowBatch(this.batchSize, this.source);
    }
  }

  /** End every open flow (end of input), in order of first packet, and hand over the last batch. */
  flush(diagnostics?: Diagnostics): void {
    // Datagrams still waiting for fragments: their fragments count as they are.
    this.reasm?.flush();
    const open: number[] = [];
    for (let f = this.lruOldest; f !== NIL; f = this.newer[f]) open.push(f);
    const pos = this.pos;
    open.sort((a, b) => pos[a] - pos[b]);
    for (const f of open) this.finish(f, this.state[f] & CLOSED ? END_CLOSED : END_EOF);
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
    this.reasm?.report(add, (kind, offset, message) =>
      diagnostics.problem({ source: this.source, offset, unit: 'byte', kind, message }),
    );
    add('ipv4.fragments-not-reassembled', n.frag4);
    add('ipv6.fragments-not-reassembled', n.frag6);
    add('tcp.retransmissions-skipped-in-payload', n.retransmitted);
    add('packets.tunnelled', n.tunnelled);
    add('packets.tunnel-depth-exceeded', n.depthExceeded);
    add('packets.tunnel-inner-undecoded', n.innerUndecoded);
    add('flows', n.flows);
    for (let k = 0; k < END_NAMES.length; k++) add(END_NAMES[k], this.ended[k]);
    for (const k of Object.keys(n) as (keyof typeof n)[]) n[k] = 0;
    this.ended.fill(0);
    for (const p of this.unsupportedProblems()) diagnostics.problem(p);
    this.unsupported.clear();
  }

  /** One problem per link type no decoder reads, at its first packet. */
  private unsupportedProblems(): InputProblem[] {
    return [...this.unsupported].map(([t, [packets, offset]]) => ({
      source: this.source,
      offset,
      unit: 'byte',
      kind: 'unsupported-link-type',
      message: `link type ${linkTypeName(t)} is not supported: ${packets} packet(s) skipped`,
    }));
  }

  /**
   * The error for a capture none of whose packets could be read because of their link type (so
   * that it does not end with 0 flows and no word), or null.
   */
  unreadable(): InputError | null {
    if (this.n.ip > 0 || this.unsupported.size === 0 || this.n.packets > this.n.unsupportedLink) return null;
    return new InputError(this.unsupportedProblems()[0]);
  }
}

/** An address's four words into a slot's place of a words column. */
function words(a: Uint32Array, w: number, x0: number, x1: number, x2: number, x3: number): void {
  a[w] = x0;
  a[w + 1] = x1;
  a[w + 2] = x2;
  a[w + 3] = x3;
}

function writeWords(dst: Uint8Array, o: number, v: number, words: Uint32Array, w: number): void {
  const n = v === 6 ? 4 : 1;
  for (let k = 0; k < n; k++) {
    const x = words[w + k];
    dst[o + 4 * k] = x >>> 24;
    dst[o + 4 * k + 1] = (x >>> 16) & 255;
    dst[o + 4 * k + 2] = (x >>> 8) & 255;
    dst[o + 4 * k + 3] = x & 255;
  }
}

const EMPTY = Buffer.alloc(0);

function sampleBytes(b: Buffer | null, len: number): Buffer | null {
  if (b === null || len === 0) return null;
  return len === b.length ? b : b.subarray(0, len);
}
