/**
 * NetFlow v9 (RFC 3954) and IPFIX (RFC 7011) export of generated flows, as a router would send
 * them: one unidirectional record per direction, templates first and refreshed every
 * `templateEvery` datagrams, the sampling rate in an options record.
 *
 * Data template fields (standard IANA/Cisco ids):
 *   v9:    IPV4_SRC_ADDR 8 (4), IPV4_DST_ADDR 12 (4), L4_SRC_PORT 7 (2), L4_DST_PORT 11 (2),
 *          PROTOCOL 4 (1), TCP_FLAGS 6 (1), IN_PKTS 2 (8), IN_BYTES 1 (8),
 *          FIRST_SWITCHED 22 (4), LAST_SWITCHED 21 (4) — sysUptime-relative ms (mod 2^32).
 *   IPFIX: sourceIPv4Address 8, destinationIPv4Address 12, sourceTransportPort 7,
 *          destinationTransportPort 11, protocolIdentifier 4, tcpControlBits 6 (2),
 *          packetDeltaCount 2 (8), octetDeltaCount 1 (8), flowStartMilliseconds 152 (8),
 *          flowEndMilliseconds 153 (8).
 * Sampling options:
 *   v9:    options template 257, scope System (1, 4 bytes), SAMPLING_INTERVAL 34 (4),
 *          SAMPLING_ALGORITHM 35 (1; 2 = random).
 *   IPFIX: options template 257, scope observationDomainId 149 (4), selectorId 302 (8),
 *          selectorAlgorithm 304 (2; 3 = random n-out-of-N), samplingSize 309 (4) = 1,
 *          samplingPopulation 310 (4) = N, and the older samplingPacketInterval 305 (4) = 1 with
 *          samplingPacketSpace 306 (4) = N − 1, which decoders that predate 309/310 read.
 */

export type ExportFormat = 'netflow9' | 'ipfix';

/** A unidirectional record to export (counters as sampled). */
export interface ExportRecord {
  firstMs: number;
  lastMs: number;
  src: number;
  dst: number;
  srcPort: number;
  dstPort: number;
  proto: number;
  tcpFlags: number;
  packets: number;
  bytes: number;
}

export interface ExporterOptions {
  format: ExportFormat;
  /** v9 source id / IPFIX observation domain. */
  domain?: number;
  /** 1 when unsampled; N for 1:N. */
  sampling?: number;
  /** Exporter boot time (v9 sysUptime origin), ms since epoch. */
  bootMs?: number;
  recordsPerDatagram?: number;
  templateEvery?: number;
}

const DATA_TEMPLATE = 256;
const OPTIONS_TEMPLATE = 257;
const V9_FIELDS: [number, number][] = [
  [8, 4],
  [12, 4],
  [7, 2],
  [11, 2],
  [4, 1],
  [6, 1],
  [2, 8],
  [1, 8],
  [22, 4],
  [21, 4],
];
const IPFIX_FIELDS: [number, number][] = [
  [8, 4],
  [12, 4],
  [7, 2],
  [11, 2],
  [4, 1],
  [6, 2],
  [2, 8],
  [1, 8],
  [152, 8],
  [153, 8],
];
const V9_RECORD = V9_FIELDS.reduce((a, [, l]) => a + l, 0);
const IPFIX_RECORD = IPFIX_FIELDS.reduce((a, [, l]) => a + l, 0);

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** Encodes records into datagrams; keeps sequence numbers and template refresh state. */
export class FlowExporter {
  readonly format: ExportFormat;
  readonly domain: number;
  readonly sampling: number;
  readonly bootMs: number;
  readonly perDatagram: number;
  readonly templateEvery: number;
  private datagrams = 0;
  /** v9: datagrams sent; IPFIX: data records sent before this message. */
  private sequence = 0;

  constructor(o: ExporterOptions) {
    this.format = o.format;
    this.domain = o.domain ?? 0;
    this.sampling = o.sampling ?? 1;
    this.bootMs = o.bootMs ?? 0;
    // Fits a 1500-byte MTU with the templates in the same datagram.
    this.perDatagram = o.recordsPerDatagram ?? (o.format === 'ipfix' ? 28 : 30);
    this.templateEvery = o.templateEvery ?? 20;
  }

  get datagramCount(): number {
    return this.datagrams;
  }

  /** One datagram with up to `recordsPerDatagram` records; `exportMs` is the header time. */
  encode(records: ExportRecord[], exportMs: number): Buffer {
    if (records.length > this.perDatagram)
      throw new RangeError(`at most ${this.perDatagram} records per datagram`);
    const withTemplates = this.datagrams % this.templateEvery === 0;
    const out =
      this.format === 'netflow9'
        ? this.encodeV9(records, exportMs, withTemplates)
        : this.encodeIpfix(records, exportMs, withTemplates);
    this.datagrams++;
    return out;
  }

  private templateSet(fields: [number, number][], setId: number): Buffer {
    const b = Buffer.alloc(4 + 4 + fields.length * 4);
    b.writeUInt16BE(setId, 0);
    b.writeUInt16BE(b.length, 2);
    b.writeUInt16BE(DATA_TEMPLATE, 4);
    b.writeUInt16BE(fields.length, 6);
    fields.forEach(([id, len], i) => {
      b.writeUInt16BE(id, 8 + i * 4);
      b.writeUInt16BE(len, 10 + i * 4);
    });
    return b;
  }

  private encodeV9(records: ExportRecord[], exportMs: number, withTemplates: boolean): Buffer {
    const parts: Buffer[] = [];
    let count = 0;
    const uptime = (ms: number) => ((ms - this.bootMs) % 4294967296) >>> 0;
    if (withTemplates) {
      parts.push(this.templateSet(V9_FIELDS, 0));
      count++;
      // Options template: scope System (4 bytes), SAMPLING_INTERVAL, SAMPLING_ALGORITHM.
      const ot = Buffer.alloc(4 + 6 + 4 + 8);
      ot.writeUInt16BE(1, 0);
      ot.writeUInt16BE(ot.length, 2);
      ot.writeUInt16BE(OPTIONS_TEMPLATE, 4);
      ot.writeUInt16BE(4, 6); // scope length in bytes
      ot.writeUInt16BE(8, 8); // option length in bytes
      ot.writeUInt16BE(1, 10);
      ot.writeUInt16BE(4, 12);
      ot.writeUInt16BE(34, 14);
      ot.writeUInt16BE(4, 16);
      ot.writeUInt16BE(35, 18);
      ot.writeUInt16BE(1, 20);
      parts.push(ot);
      count++;
      const od = Buffer.alloc(pad4(4 + 9));
      od.writeUInt16BE(OPTIONS_TEMPLATE, 0);
      od.writeUInt16BE(od.length, 2);
      od.writeUInt32BE(this.domain >>> 0, 4);
      od.writeUInt32BE(this.sampling, 8);
      od.writeUInt8(this.sampling > 1 ? 2 : 0, 12);
      parts.push(od);
      count++;
    }
    if (records.length > 0) {
      const d = Buffer.alloc(pad4(4 + records.length * V9_RECORD));
      d.writeUInt16BE(DATA_TEMPLATE, 0);
      d.writeUInt16BE(d.length, 2);
      let o = 4;
      for (const r of records) {
        d.writeUInt32BE(r.src >>> 0, o);
        d.writeUInt32BE(r.dst >>> 0, o + 4);
        d.writeUInt16BE(r.srcPort, o + 8);
        d.writeUInt16BE(r.dstPort, o + 10);
        d.writeUInt8(r.proto, o + 12);
        d.writeUInt8(r.tcpFlags & 0xff, o + 13);
        d.writeBigUInt64BE(BigInt(Math.round(r.packets)), o + 14);
        d.writeBigUInt64BE(BigInt(Math.round(r.bytes)), o + 22);
        d.writeUInt32BE(uptime(r.firstMs), o + 30);
        d.writeUInt32BE(uptime(r.lastMs), o + 34);
        o += V9_RECORD;
      }
      parts.push(d);
      count += records.length;
    }
    const h = Buffer.alloc(20);
    h.writeUInt16BE(9, 0);
    h.writeUInt16BE(count, 2);
    h.writeUInt32BE(uptime(exportMs), 4);
    h.writeUInt32BE(Math.floor(exportMs / 1000) >>> 0, 8);
    h.writeUInt32BE(this.sequence++ >>> 0, 12);
    h.writeUInt32BE(this.domain >>> 0, 16);
    return Buffer.concat([h, ...parts]);
  }

  private encodeIpfix(records: ExportRecord[], exportMs: number, withTemplates: boolean): Buffer {
    const parts: Buffer[] = [];
    if (withTemplates) {
      parts.push(this.templateSet(IPFIX_FIELDS, 2));
      const opt: [number, number][] = [
        [149, 4],
        [302, 8],
        [304, 2],
        [309, 4],
        [310, 4],
        [305, 4],
        [306, 4],
      ];
      const ot = Buffer.alloc(4 + 6 + opt.length * 4);
      ot.writeUInt16BE(3, 0);
      ot.writeUInt16BE(ot.length, 2);
      ot.writeUInt16BE(OPTIONS_TEMPLATE, 4);
      ot.writeUInt16BE(opt.length, 6);
      ot.writeUInt16BE(1, 8); // scope field count
      opt.forEach(([id, len], i) => {
        ot.writeUInt16BE(id, 10 + i * 4);
        ot.writeUInt16BE(len, 12 + i * 4);
      });
      parts.push(ot);
      const od = Buffer.alloc(4 + 30);
      od.writeUInt16BE(OPTIONS_TEMPLATE, 0);
      od.writeUInt16BE(od.length, 2);
      od.writeUInt32BE(this.domain >>> 0, 4);
      od.writeBigUInt64BE(1n, 8);
      od.writeUInt16BE(this.sampling > 1 ? 3 : 1, 16);
      od.writeUInt32BE(1, 18);
      od.writeUInt32BE(this.sampling, 22);
      od.writeUInt32BE(1, 26);
      od.writeUInt32BE(this.sampling - 1, 30);
      parts.push(od);
    }
    if (records.length > 0) {
      const d = Buffer.alloc(4 + records.length * IPFIX_RECORD);
      d.writeUInt16BE(DATA_TEMPLATE, 0);
      d.writeUInt16BE(d.length, 2);
      let o = 4;
      for (const r of records) {
        d.writeUInt32BE(r.src >>> 0, o);
        d.writeUInt32BE(r.dst >>> 0, o + 4);
        d.writeUInt16BE(r.srcPort, o + 8);
        d.writeUInt16BE(r.dstPort, o + 10);
        d.writeUInt8(r.proto, o + 12);
        d.writeUInt16BE(r.tcpFlags & 0xff, o + 13);
        d.writeBigUInt64BE(BigInt(Math.round(r.packets)), o + 15);
        d.writeBigUInt64BE(BigInt(Math.round(r.bytes)), o + 23);
        d.writeBigUInt64BE(BigInt(Math.round(r.firstMs)), o + 31);
        d.writeBigUInt64BE(BigInt(Math.round(r.lastMs)), o + 39);
        o += IPFIX_RECORD;
      }
      parts.push(d);
    }
    const body = Buffer.concat(parts);
    const h = Buffer.alloc(16);
    h.writeUInt16BE(10, 0);
    h.writeUInt16BE(16 + body.length, 2);
    h.writeUInt32BE(Math.floor(exportMs / 1000) >>> 0, 4);
    h.writeUInt32BE(this.sequence >>> 0, 8);
    h.writeUInt32BE(this.domain >>> 0, 12);
    // Options data records count as data records (RFC 7011 §3.1).
    this.sequence += records.length + (withTemplates ? 1 : 0);
    return Buffer.concat([h, body]);
  }
}
