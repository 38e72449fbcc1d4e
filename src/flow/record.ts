/**
 * The flow model shared by every source. Decoders append rows to a columnar `FlowBatch`
 * (typed arrays, no object per flow); `FlowRecord` is the object form used at the edges
 * (tests, CLI output, detection of a single flow).
 */
import { PAYLOAD_TIME_BYTES } from './payload-times.js';

/** Where a record came from: a file and byte offset, or a datagram number on a live socket. */
export interface FlowPosition {
  source: string;
  /** Byte offset in the file, or datagram sequence number for a live collector. */
  offset: number;
}

export interface FlowRecord {
  /** First and last packet time, milliseconds since the Unix epoch (UTC). */
  firstMs: number;
  lastMs: number;
  ipVersion: 4 | 6;
  /** Addresses in text form (dotted quad, or RFC 5952 IPv6). */
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  /** IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6 ...). */
  proto: number;
  /** Forward direction (src → dst) packets and IP-layer bytes, as NetFlow counts them. */
  packets: number;
  bytes: number;
  /** Reverse direction (dst → src); 0 for unidirectional telemetry (NetFlow v5/v9). */
  revPackets: number;
  revBytes: number;
  /** OR of all TCP flags seen (both directions). */
  tcpFlags: number;
  /** 1 when unsampled; N for 1:N packet sampling. Counters are as exported, not scaled. */
  samplingRate: number;
  /** Exporter address (NetFlow/IPFIX) or '' for captures. */
  exporter: string;
  /** NetFlow v9 source id / IPFIX observation domain id; 0 otherwise. */
  observationDomain: number;
  /** Source name (file path or udp://listen address) and the position within it. */
  source: string;
  position: number;
  /** First payload bytes of each direction when packets were seen (pcap), else null. */
  payloadFwd: Buffer | null;
  payloadRev: Buffer | null;
  /**
   * When the parts of each payload sample arrived: packed (u32 offset, f64 ms) entries, one per
   * segment (src/flow/payload-times.ts). Absent or null when not known (NetFlow, older stores).
   */
  payloadTimesFwd?: Buffer | null;
  payloadTimesRev?: Buffer | null;
  /**
   * The tunnel the flow was carried in (pcap; absent when none): its kind ('gre', 'ipip', 'vxlan',
   * 'gtp-u', 'teredo', 'capwap', 'erspan'), its id (GRE key, VXLAN VNI, GTP-U TEID, ERSPAN
   * session; null when the kind has none) and the outer addresses, oriented as the flow is.
   */
  tunnel?: string;
  tunnelId?: number | null;
  outerSrc?: string;
  outerDst?: string;
}

/** Tunnel kinds as stored, indexed by `FlowBatch.tunnel` (src/capture/decode.ts TUNNEL_*). */
export const TUNNEL_KINDS = ['', 'gre', 'ipip', 'vxlan', 'gtp-u', 'teredo', 'capwap', 'erspan'] as const;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;

export const DEFAULT_PAYLOAD_CAP = 2048;

const EMPTY = Buffer.alloc(0);
const NO_F64 = new Float64Array(0);
const NO_U8 = new Uint8Array(0);

/**
 * A columnar batch of flows. Addresses are 16 bytes per row: IPv4 in the first four bytes
 * (the rest zero) with ipVersion 4, IPv6 in all sixteen.
 */
export class FlowBatch {
  length = 0;
  firstMs: Float64Array;
  lastMs: Float64Array;
  ipVersion: Uint8Array;
  src: Uint8Array;
  dst: Uint8Array;
  srcPort: Uint16Array;
  dstPort: Uint16Array;
  proto: Uint8Array;
  packets: Float64Array;
  bytes: Float64Array;
  revPackets: Float64Array;
  revBytes: Float64Array;
  tcpFlags: Uint8Array;
  samplingRate: Uint32Array;
  observationDomain: Uint32Array;
  position: Float64Array;
  /** Index into `exporters` (dictionary-encoded). */
  exporterIdx: Uint16Array;
  exporters: string[] = [''];
  payloadFwd: (Buffer | null)[];
  payloadRev: (Buffer | null)[];
  /**
   * Segment times of the payload samples, columnar: every row's packed entries
   * (src/flow/payload-times.ts) back to back in `payloadTimes`, a direction's at byte
   * `timesFwdAt[i]` for `timesFwdLen[i]` bytes (0: no times). Read them with `payloadTimesFwdOf(i)`.
   * The buffer is allocated when the first row with times comes, so flows without cost nothing.
   */
  payloadTimes: Buffer = EMPTY;
  /** A DataView of `payloadTimes` for writers (DataView stores are far cheaper than Buffer#write*). */
  payloadTimesView = new DataView(EMPTY.buffer, EMPTY.byteOffset, 0);
  payloadTimesUsed = 0;
  timesFwdAt: Uint32Array;
  timesFwdLen: Uint32Array;
  timesRevAt: Uint32Array;
  timesRevLen: Uint32Array;
  /**
   * Tunnel context (flows assembled from packets): kind (index into TUNNEL_KINDS, 0 none), id
   * (-1 none), the outer IP version (0: no tunnel; then the row's tunnelId/outerSrc/outerDst are
   * not meaningful) and outer addresses, 16 bytes per row like src/dst. `tunnelId`, `outerSrc`
   * and `outerDst` are empty until `withTunnels()` (the first tunnelled row): most batches have
   * none, and they would add a third to every batch's allocation.
   */
  tunnel: Uint8Array;
  tunnelId: Float64Array;
  outerVersion: Uint8Array;
  outerSrc: Uint8Array;
  outerDst: Uint8Array;

  constructor(
    readonly capacity = 4096,
    /** Source name shared by every row of the batch. */
    public source = '',
  ) {
    this.firstMs = new Float64Array(capacity);
    this.lastMs = new Float64Array(capacity);
    this.ipVersion = new Uint8Array(capacity);
    this.src = new Uint8Array(capacity * 16);
    this.dst = new Uint8Array(capacity * 16);
    this.srcPort = new Uint16Array(capacity);
    this.dstPort = new Uint16Array(capacity);
    this.proto = new Uint8Array(capacity);
    this.packets = new Float64Array(capacity);
    this.bytes = new Float64Array(capacity);
    this.revPackets = new Float64Array(capacity);
    this.revBytes = new Float64Array(capacity);
    this.tcpFlags = new Uint8Array(capacity);
    this.samplingRate = new Uint32Array(capacity);
    this.observationDomain = new Uint32Array(capacity);
    this.position = new Float64Array(capacity);
    this.exporterIdx = new Uint16Array(capacity);
    this.payloadFwd = new Array(capacity).fill(null);
    this.payloadRev = new Array(capacity).fill(null);
    this.timesFwdAt = new Uint32Array(capacity);
    this.timesFwdLen = new Uint32Array(capacity);
    this.timesRevAt = new Uint32Array(capacity);
    this.timesRevLen = new Uint32Array(capacity);
    this.tunnel = new Uint8Array(capacity);
    this.outerVersion = new Uint8Array(capacity);
    this.tunnelId = NO_F64;
    this.outerSrc = NO_U8;
    this.outerDst = NO_U8;
  }

  /** Allocate the tunnel id and outer address columns (before writing a tunnelled row). */
  withTunnels(): void {
    if (this.outerSrc.length > 0) return;
    this.tunnelId = new Float64Array(this.capacity);
    this.outerSrc = new Uint8Array(this.capacity * 16);
    this.outerDst = new Uint8Array(this.capacity * 16);
  }

  get full(): boolean {
    return this.length >= this.capacity;
  }

  /** Index of an exporter name in the dictionary, adding it when new. */
  exporterIndex(name: string): number {
    let i = this.exporters.indexOf(name);
    if (i < 0) {
      i = this.exporters.length;
      this.exporters.push(name);
    }
    return i;
  }

  /** Reserve the next row; all numeric fields start at zero except samplingRate (1). */
  push(): number {
    if (this.length >= this.capacity) throw new RangeError('FlowBatch is full');
    const i = this.length++;
    this.firstMs[i] = 0;
    this.lastMs[i] = 0;
    this.ipVersion[i] = 4;
    this.src.fill(0, i * 16, i * 16 + 16);
    this.dst.fill(0, i * 16, i * 16 + 16);
    this.srcPort[i] = 0;
    this.dstPort[i] = 0;
    this.proto[i] = 0;
    this.packets[i] = 0;
    this.bytes[i] = 0;
    this.revPackets[i] = 0;
    this.revBytes[i] = 0;
    this.tcpFlags[i] = 0;
    this.samplingRate[i] = 1;
    this.observationDomain[i] = 0;
    this.position[i] = 0;
    this.exporterIdx[i] = 0;
    this.payloadFwd[i] = null;
    this.payloadRev[i] = null;
    this.timesFwdLen[i] = 0;
    this.timesRevLen[i] = 0;
    this.tunnel[i] = 0;
    this.outerVersion[i] = 0;
    return i;
  }

  /**
   * Room for `bytes` of segment times in `payloadTimes`; returns where they go. The caller writes
   * them there (through `payloadTimesView`) and sets the row's `timesFwdAt`/`timesFwdLen` (or Rev).
   */
  reserveTimes(bytes: number): number {
    const at = this.payloadTimesUsed;
    const need = at + bytes;
    if (need > this.payloadTimes.length) {
      // First size: two entries per direction of every row (most samples come in one or two
      // segments), so a batch rarely grows it; then doubling.
      const first = this.capacity * 2 * 2 * PAYLOAD_TIME_BYTES;
      const grown = Buffer.allocUnsafe(Math.max(need, first, this.payloadTimes.length * 2));
      this.payloadTimes.copy(grown, 0, 0, at);
      this.payloadTimes = grown;
      this.payloadTimesView = new DataView(grown.buffer, grown.byteOffset, grown.length);
    }
    this.payloadTimesUsed = need;
    return at;
  }

  /** Copy a row's segment times in (null or empty: none). */
  setPayloadTimes(i: number, fwd: Uint8Array | null | undefined, rev: Uint8Array | null | undefined): void {
    this.timesFwdLen[i] = 0;
    this.timesRevLen[i] = 0;
    if (fwd && fwd.length > 0) {
      const at = this.reserveTimes(fwd.length);
      this.payloadTimes.set(fwd, at);
      this.timesFwdAt[i] = at;
      this.timesFwdLen[i] = fwd.length;
    }
    if (rev && rev.length > 0) {
      const at = this.reserveTimes(rev.length);
      this.payloadTimes.set(rev, at);
      this.timesRevAt[i] = at;
      this.timesRevLen[i] = rev.length;
    }
  }

  /** The forward sample's segment times as a view into `payloadTimes` (valid until `clear()`). */
  payloadTimesFwdOf(i: number): Buffer | null {
    const n = this.timesFwdLen[i];
    return n ? this.payloadTimes.subarray(this.timesFwdAt[i], this.timesFwdAt[i] + n) : null;
  }

  payloadTimesRevOf(i: number): Buffer | null {
    const n = this.timesRevLen[i];
    return n ? this.payloadTimes.subarray(this.timesRevAt[i], this.timesRevAt[i] + n) : null;
  }

  /** Append a record in object form (edges and tests; hot paths write the columns directly). */
  pushRecord(r: FlowRecord): number {
    const i = this.push();
    this.firstMs[i] = r.firstMs;
    this.lastMs[i] = r.lastMs;
    this.ipVersion[i] = r.ipVersion;
    writeIp(this.src, i * 16, r.src);
    writeIp(this.dst, i * 16, r.dst);
    this.srcPort[i] = r.srcPort;
    this.dstPort[i] = r.dstPort;
    this.proto[i] = r.proto;
    this.packets[i] = r.packets;
    this.bytes[i] = r.bytes;
    this.revPackets[i] = r.revPackets;
    this.revBytes[i] = r.revBytes;
    this.tcpFlags[i] = r.tcpFlags;
    this.samplingRate[i] = r.samplingRate;
    this.observationDomain[i] = r.observationDomain;
    this.position[i] = r.position;
    this.exporterIdx[i] = this.exporterIndex(r.exporter);
    this.payloadFwd[i] = r.payloadFwd;
    this.payloadRev[i] = r.payloadRev;
    if (r.payloadTimesFwd || r.payloadTimesRev) this.setPayloadTimes(i, r.payloadTimesFwd, r.payloadTimesRev);
    if (r.tunnel && r.outerSrc && r.outerDst) {
      const k = TUNNEL_KINDS.indexOf(r.tunnel as (typeof TUNNEL_KINDS)[number]);
      if (k <= 0) throw new Error(`not a tunnel kind: ${JSON.stringify(r.tunnel)}`);
      this.withTunnels();
      this.tunnel[i] = k;
      this.tunnelId[i] = r.tunnelId ?? -1;
      this.outerVersion[i] = writeIp(this.outerSrc, i * 16, r.outerSrc);
      writeIp(this.outerDst, i * 16, r.outerDst);
    }
    if (!this.source) this.source = r.source;
    return i;
  }

  srcText(i: number): string {
    return ipText(this.src, i * 16, this.ipVersion[i]);
  }

  dstText(i: number): string {
    return ipText(this.dst, i * 16, this.ipVersion[i]);
  }

  record(i: number): FlowRecord {
    // Copies: the records outlive a batch that is cleared and refilled.
    const tf = this.payloadTimesFwdOf(i);
    const tr = this.payloadTimesRevOf(i);
    const rec: FlowRecord = {
      firstMs: this.firstMs[i],
      lastMs: this.lastMs[i],
      ipVersion: this.ipVersion[i] === 6 ? 6 : 4,
      src: this.srcText(i),
      dst: this.dstText(i),
      srcPort: this.srcPort[i],
      dstPort: this.dstPort[i],
      proto: this.proto[i],
      packets: this.packets[i],
      bytes: this.bytes[i],
      revPackets: this.revPackets[i],
      revBytes: this.revBytes[i],
      tcpFlags: this.tcpFlags[i],
      samplingRate: this.samplingRate[i],
      exporter: this.exporters[this.exporterIdx[i]] ?? '',
      observationDomain: this.observationDomain[i],
      source: this.source,
      position: this.position[i],
      payloadFwd: this.payloadFwd[i],
      payloadRev: this.payloadRev[i],
      payloadTimesFwd: tf && Buffer.from(tf),
      payloadTimesRev: tr && Buffer.from(tr),
    };
    // Only tunnelled flows carry the tunnel fields, so records of plain flows stay as they were.
    if (this.tunnel[i] !== 0) {
      rec.tunnel = TUNNEL_KINDS[this.tunnel[i]] ?? String(this.tunnel[i]);
      rec.tunnelId = this.tunnelId[i] >= 0 ? this.tunnelId[i] : null;
      rec.outerSrc = ipText(this.outerSrc, i * 16, this.outerVersion[i]);
      rec.outerDst = ipText(this.outerDst, i * 16, this.outerVersion[i]);
    }
    return rec;
  }

  *records(): Generator<FlowRecord> {
    for (let i = 0; i < this.length; i++) yield this.record(i);
  }

  /** Empty the batch for reuse (keeps the allocated columns and the source name). */
  clear(): void {
    this.length = 0;
    this.exporters = [''];
    this.payloadFwd.fill(null);
    this.payloadRev.fill(null);
    this.payloadTimesUsed = 0;
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16));

/** Text form of an address held in 4 or 16 bytes at `off` (RFC 5952 compression for IPv6). */
export function ipText(buf: Uint8Array, off: number, version: number): string {
  if (version !== 6) return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
  const words = new Array<number>(8);
  for (let k = 0; k < 8; k++) words[k] = (buf[off + 2 * k] << 8) | buf[off + 2 * k + 1];
  // IPv4-mapped ::ffff:a.b.c.d keeps its dotted tail, as inet_ntop prints it.
  if (
    words[0] === 0 &&
    words[1] === 0 &&
    words[2] === 0 &&
    words[3] === 0 &&
    words[4] === 0 &&
    words[5] === 0xffff
  ) {
    return `::ffff:${buf[off + 12]}.${buf[off + 13]}.${buf[off + 14]}.${buf[off + 15]}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let k = 0; k < 8;) {
    if (words[k] !== 0) {
      k++;
      continue;
    }
    let j = k;
    while (j < 8 && words[j] === 0) j++;
    if (j - k > bestLen) {
      bestStart = k;
      bestLen = j - k;
    }
    k = j;
  }
  const part = (a: number, b: number) => {
    const out: string[] = [];
    for (let k = a; k < b; k++) out.push(words[k] < 256 ? HEX[words[k]] : words[k].toString(16));
    return out.join(':');
  };
  if (bestStart < 0) return part(0, 8);
  return `${part(0, bestStart)}::${part(bestStart + bestLen, 8)}`;
}

/** Parse a textual IPv4/IPv6 address into `buf` at `off` (16 bytes written). Returns the version. */
export function writeIp(buf: Uint8Array, off: number, text: string): 4 | 6 {
  buf.fill(0, off, off + 16);
  if (!text.includes(':')) {
    const parts = text.split('.');
    if (parts.length !== 4) throw new Error(`not an IPv4 address: ${JSON.stringify(text)}`);
    for (let k = 0; k < 4; k++) {
      const v = Number(parts[k]);
      if (!Number.isInteger(v) || v < 0 || v > 255 || parts[k] === '') {
        throw new Error(`not an IPv4 address: ${JSON.stringify(text)}`);
      }
      buf[off + k] = v;
    }
    return 4;
  }
  let t = text;
  const pct = t.indexOf('%');
  if (pct >= 0) t = t.slice(0, pct);
  const words: number[] = [];
  // An embedded dotted IPv4 tail (::ffff:1.2.3.4) becomes two hex words.
  const lastColon = t.lastIndexOf(':');
  const tail = t.slice(lastColon + 1);
  if (tail.includes('.')) {
    const b = new Uint8Array(16);
    writeIp(b, 0, tail);
    t = `${t.slice(0, lastColon + 1)}${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const dbl = t.indexOf('::');
  const parseWords = (s: string) =>
    s === ''
      ? []
      : s.split(':').map((w) => {
          const v = parseInt(w, 16);
          if (!/^[0-9a-fA-F]{1,4}$/.test(w)) throw new Error(`not an IPv6 address: ${JSON.stringify(text)}`);
          return v;
        });
  if (dbl >= 0) {
    const head = parseWords(t.slice(0, dbl));
    const rest = parseWords(t.slice(dbl + 2));
    const fill = 8 - head.length - rest.length;
    if (fill < 0) throw new Error(`not an IPv6 address: ${JSON.stringify(text)}`);
    words.push(...head, ...new Array(fill).fill(0), ...rest);
  } else {
    words.push(...parseWords(t));
  }
  if (words.length !== 8) throw new Error(`not an IPv6 address: ${JSON.stringify(text)}`);
  for (let k = 0; k < 8; k++) {
    buf[off + 2 * k] = words[k] >> 8;
    buf[off + 2 * k + 1] = words[k] & 0xff;
  }
  return 6;
}

export const PROTO_NAMES: Record<number, string> = {
  1: 'icmp',
  6: 'tcp',
  17: 'udp',
  58: 'icmp6',
  47: 'gre',
  50: 'esp',
};
