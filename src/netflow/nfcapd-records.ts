/**
 * The records inside nfcapd data blocks, written straight into FlowBatch columns (no object per
 * record):
 * - nfdump 1.7 (LAYOUT_VERSION_2, block type 3): V3 records (type 11), a 12-byte header and then
 *   extension elements, each `type u16, length u16` (length includes those four bytes; see nfdump's
 *   nfxV3.h). Used here: EXgenericFlow (1), EXipv4Flow (2), EXipv6Flow (3), EXcntFlow (5, the
 *   reverse counters of bidirectional flows), EXipReceivedV4/V6 (12/13, the exporter address).
 * - nfdump 1.6 (LAYOUT_VERSION_1, block type 2): extension maps (type 2) and common records
 *   (type 10) whose optional extensions follow the map named in the record (nfdump's nfx.h/nfx.c).
 * All integers are little-endian (nfdump writes host order; big-endian files are refused at the
 * file header). IPv6 addresses are two host-order u64 halves, so each half is byte-reversed.
 * Exporter, sampler and statistics records are counted and passed over.
 */
import type { Diagnostics } from '../flow/diagnostics.js';
import { MAX_DATE_MS } from '../flow/plausible-time.js';
import { FlowBatch, ipText } from '../flow/record.js';

export const V3_RECORD = 11;
export const V1_COMMON_RECORD = 10;
export const V1_EXTENSION_MAP = 2;
const V3_FLAG_SAMPLED = 2;
const V1_FLAG_IPV6 = 1;
const V1_FLAG_PKG_64 = 2;
const V1_FLAG_BYTES_64 = 4;
const V1_FLAG_IPV6_NH = 8;
const V1_FLAG_IPV6_NHB = 16;
const V1_FLAG_IPV6_EXP = 32;
const V1_FLAG_SAMPLED = 128;

/**
 * Sizes of nfdump 1.6's optional extensions by id (nfx.c extension_descriptor); 0 for the reserved
 * ids. Next hop, BGP next hop and router address take their IPv4 or IPv6 size from the record's
 * flags, as nfdump's reader does.
 */
const V1_EXTENSION_SIZE = [
  0, 0, 0, 0, 4, 8, 4, 8, 4, 4, 16, 4, 16, 4, 4, 8, 4, 8, 4, 8, 16, 16, 40, 4, 16, 4, 8, 8,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 4, 8, 32, 24, 24, 72, 0, 24, 12, 0, 8, 0,
]; // prettier-ignore
const EX_NEXT_HOP_V4 = 9;
const EX_NEXT_HOP_V6 = 10;
const EX_BGP_NEXT_HOP_V4 = 11;
const EX_BGP_NEXT_HOP_V6 = 12;
const EX_OUT_PKG_4 = 14;
const EX_OUT_PKG_8 = 15;
const EX_OUT_BYTES_4 = 16;
const EX_OUT_BYTES_8 = 17;
const EX_ROUTER_IP_V4 = 23;
const EX_ROUTER_IP_V6 = 24;

/** Where a block's records are and how to name a bad one. */
export interface BlockPlace {
  /** File offset of the block header (problems name it). */
  blockOffset: number;
  /** Block number in the file, from 0. */
  blockIndex: number;
  /** File offset of the data's first byte when the block is stored uncompressed, else -1. */
  dataOffset: number;
}

/**
 * Decodes the records of one file's blocks into batches. Keeps the 1.6 extension maps (they hold
 * for the rest of the file) and hands full batches to `onBatch`.
 */
export class NfcapdRecordDecoder {
  batch: FlowBatch;
  private maps = new Map<number, Uint8Array>();
  /** The last exporter address seen and its index in the current batch (-1: none yet). */
  private lastV4 = -1;
  private lastV6 = '';
  private lastExporterIdx = 0;
  /** Counters kept as numbers on the hot path and added to Diagnostics per block. */
  private flows = 0;
  private blockFlows = 0;
  private sampled = 0;
  private meta = 0;
  private legacy = 0;
  private other = 0;

  constructor(
    private readonly source: string,
    private readonly batchSize: number,
    private readonly d: Diagnostics,
    private readonly onBatch: (b: FlowBatch) => void,
  ) {
    this.batch = new FlowBatch(batchSize, source);
  }

  /** Flows kept so far. */
  get kept(): number {
    return this.flows;
  }

  /** Decode `numRecords` records from `buf[0, len)`. */
  decodeBlock(buf: Buffer, len: number, numRecords: number, at: BlockPlace): void {
    let p = 0;
    let k = 0;
    for (; k < numRecords; k++) {
      if (p + 4 > len) break;
      const type = u16(buf, p);
      const size = u16(buf, p + 2);
      if (size < 4 || p + size > len) {
        this.badRecord(
          at,
          p,
          `record ${k} of ${numRecords} (type ${type}) claims ${size} bytes, ${len - p} left in the block`,
        );
        break;
      }
      let bad = '';
      if (type === V3_RECORD) bad = this.v3Record(buf, p, size, at);
      else if (type === V1_COMMON_RECORD) bad = this.v1Record(buf, p, size, at);
      else if (type === V1_EXTENSION_MAP) bad = this.v1Map(buf, p, size);
      // Exporter info/statistics and sampler records (7, 8, 9, 15), passed over as nfdump -r does.
      else if ((type >= 7 && type <= 9) || type === 15) this.meta++;
      // nfdump 1.5's common record (1) and legacy records (5, 6): nfdump 1.7 skips them as well.
      else if (type === 1 || type === 5 || type === 6) this.legacy++;
      else this.other++;
      if (bad) {
        this.badRecord(at, p, `record ${k} (type ${type}): ${bad}`);
        this.d.add('records.skipped');
      }
      p += size;
    }
    if (k < numRecords) {
      if (p + 4 > len)
        this.badRecord(at, p, `the block says ${numRecords} records, its data ends after ${k}`);
      this.d.add('records.skipped', numRecords - k);
    } else if (p !== len) {
      this.d.problem({
        source: this.source,
        offset: at.blockOffset,
        unit: 'byte',
        kind: 'trailing-bytes',
        message: `block ${at.blockIndex}: ${len - p} bytes after its ${numRecords} records`,
      });
    }
    this.flush();
  }

  /** Add the per-block counters to the diagnostics. */
  private flush(): void {
    const d = this.d;
    d.add('records.kept', this.blockFlows);
    this.blockFlows = 0;
    if (this.sampled) d.add('records.sampled', this.sampled);
    if (this.meta) d.add('records.exporter-info', this.meta);
    if (this.legacy) d.add('records.legacy', this.legacy);
    if (this.other) d.add('records.other', this.other);
    this.sampled = this.meta = this.legacy = this.other = 0;
  }

  private badRecord(at: BlockPlace, p: number, message: string): void {
    this.d.problem({
      source: this.source,
      offset: at.dataOffset >= 0 ? at.dataOffset + p : at.blockOffset,
      unit: 'byte',
      kind: 'bad-record',
      message: `block ${at.blockIndex}${at.dataOffset >= 0 ? '' : ` (compressed; byte ${p} of its data)`}: ${message}`,
    });
  }

  private row(): number {
    if (this.batch.full) {
      this.onBatch(this.batch);
      this.batch = new FlowBatch(this.batchSize, this.source);
      this.lastV4 = -1;
      this.lastV6 = '';
    }
    return this.batch.push();
  }

  private exporter(buf: Buffer, off: number, v6: boolean): number {
    // Flows come in runs from one exporter: compare with the last one before making any text.
    if (!v6) {
      const key = u32(buf, off);
      if (key === this.lastV4) return this.lastExporterIdx;
      this.lastV4 = key;
      this.lastV6 = '';
    } else {
      const key = buf.toString('latin1', off, off + 16);
      if (key === this.lastV6) return this.lastExporterIdx;
      this.lastV6 = key;
      this.lastV4 = -1;
    }
    const tmp = new Uint8Array(16);
    if (v6) copyIpv6(buf, off, tmp, 0);
    else copyIpv4(buf, off, tmp, 0);
    this.lastExporterIdx = this.batch.exporterIndex(ipText(tmp, 0, v6 ? 6 : 4));
    return this.lastExporterIdx;
  }

  private v3Record(buf: Buffer, p: number, size: number, at: BlockPlace): string {
    if (size < 12) return `V3 record of ${size} bytes is shorter than its header`;
    const end = p + size;
    let generic = -1;
    let v4 = -1;
    let v6 = -1;
    let cnt = -1;
    let recv4 = -1;
    let recv6 = -1;
    for (let e = p + 12; e < end;) {
      if (e + 4 > end) return `element header cut short at byte ${e - p}`;
      const id = u16(buf, e);
      const elen = u16(buf, e + 2);
      if (elen < 4 || e + elen > end) return `element ${id} claims ${elen} bytes, ${end - e} left`;
      if (id === 1 && elen >= 52) generic = e + 4;
      else if (id === 2 && elen >= 12) v4 = e + 4;
      else if (id === 3 && elen >= 36) v6 = e + 4;
      else if (id === 5 && elen >= 28) cnt = e + 4;
      else if (id === 12 && elen >= 8) recv4 = e + 4;
      else if (id === 13 && elen >= 20) recv6 = e + 4;
      e += elen;
    }
    if (generic < 0) return 'no EXgenericFlow element (times, ports, counters)';
    if (v4 < 0 && v6 < 0) return 'no address element (EXipv4Flow or EXipv6Flow)';
    const first = u64(buf, generic);
    const last = u64(buf, generic + 8);
    // A time no Date can hold breaks every time query in the store: the record is not a flow.
    if (first > MAX_DATE_MS || last > MAX_DATE_MS) return `time ${first} / ${last} ms is beyond any date`;
    const i = this.row();
    const b = this.batch;
    b.firstMs[i] = first;
    b.lastMs[i] = last;
    b.packets[i] = u64(buf, generic + 24);
    b.bytes[i] = u64(buf, generic + 32);
    b.srcPort[i] = u16(buf, generic + 40);
    b.dstPort[i] = u16(buf, generic + 42);
    b.proto[i] = buf[generic + 44];
    b.tcpFlags[i] = buf[generic + 45];
    if (v4 >= 0) {
      b.ipVersion[i] = 4;
      copyIpv4(buf, v4, b.src, i * 16);
      copyIpv4(buf, v4 + 4, b.dst, i * 16);
    } else {
      b.ipVersion[i] = 6;
      copyIpv6(buf, v6, b.src, i * 16);
      copyIpv6(buf, v6 + 16, b.dst, i * 16);
    }
    if (cnt >= 0) {
      b.revPackets[i] = u64(buf, cnt + 8);
      b.revBytes[i] = u64(buf, cnt + 16);
    }
    if (recv4 >= 0) b.exporterIdx[i] = this.exporter(buf, recv4, false);
    else if (recv6 >= 0) b.exporterIdx[i] = this.exporter(buf, recv6, true);
    b.position[i] = at.dataOffset >= 0 ? at.dataOffset + p : at.blockOffset;
    if (buf[p + 10] & V3_FLAG_SAMPLED) this.sampled++;
    this.flows++;
    this.blockFlows++;
    return '';
  }

  private v1Map(buf: Buffer, p: number, size: number): string {
    if (size < 12) return `extension map of ${size} bytes is too short`;
    const id = u16(buf, p + 4);
    const ids: number[] = [];
    for (let q = p + 8; q + 2 <= p + size; q += 2) {
      const ex = u16(buf, q);
      if (ex === 0) break;
      if (ex >= V1_EXTENSION_SIZE.length) return `extension map ${id} names unknown extension ${ex}`;
      ids.push(ex);
    }
    this.maps.set(id, Uint8Array.from(ids));
    this.d.add('extension-maps');
    return '';
  }

  private v1Record(buf: Buffer, p: number, size: number, at: BlockPlace): string {
    if (size < 32) return `common record of ${size} bytes is shorter than its 32-byte header`;
    const flags = u16(buf, p + 4);
    const map = this.maps.get(u16(buf, p + 6));
    if (!map) return `extension map ${u16(buf, p + 6)} not defined before the record`;
    const end = p + size;
    let q = p + 32;
    const v6 = (flags & V1_FLAG_IPV6) !== 0;
    const fixed = (v6 ? 32 : 8) + (flags & V1_FLAG_PKG_64 ? 8 : 4) + (flags & V1_FLAG_BYTES_64 ? 8 : 4);
    if (q + fixed > end) return `record of ${size} bytes is too short for its addresses and counters`;
    const i = this.row();
    const b = this.batch;
    b.firstMs[i] = u32(buf, p + 12) * 1000 + u16(buf, p + 8);
    b.lastMs[i] = u32(buf, p + 16) * 1000 + u16(buf, p + 10);
    b.tcpFlags[i] = buf[p + 21];
    b.proto[i] = buf[p + 22];
    b.srcPort[i] = u16(buf, p + 24);
    b.dstPort[i] = u16(buf, p + 26);
    if (v6) {
      b.ipVersion[i] = 6;
      copyIpv6(buf, q, b.src, i * 16);
      copyIpv6(buf, q + 16, b.dst, i * 16);
      q += 32;
    } else {
      b.ipVersion[i] = 4;
      copyIpv4(buf, q, b.src, i * 16);
      copyIpv4(buf, q + 4, b.dst, i * 16);
      q += 8;
    }
    const pkg64 = (flags & V1_FLAG_PKG_64) !== 0;
    b.packets[i] = pkg64 ? u64(buf, q) : u32(buf, q);
    q += pkg64 ? 8 : 4;
    const bytes64 = (flags & V1_FLAG_BYTES_64) !== 0;
    b.bytes[i] = bytes64 ? u64(buf, q) : u32(buf, q);
    q += bytes64 ? 8 : 4;
    for (let k = 0; k < map.length; k++) {
      const ex = map[k];
      const n =
        ex === EX_NEXT_HOP_V4 || ex === EX_NEXT_HOP_V6
          ? flags & V1_FLAG_IPV6_NH
            ? 16
            : 4
          : ex === EX_BGP_NEXT_HOP_V4 || ex === EX_BGP_NEXT_HOP_V6
            ? flags & V1_FLAG_IPV6_NHB
              ? 16
              : 4
            : ex === EX_ROUTER_IP_V4 || ex === EX_ROUTER_IP_V6
              ? flags & V1_FLAG_IPV6_EXP
                ? 16
                : 4
              : V1_EXTENSION_SIZE[ex];
      if (q + n > end) {
        // The row is taken back: a record whose extensions overrun it is not a flow to keep.
        b.length--;
        return `extension ${ex} runs past the record's ${size} bytes`;
      }
      if (ex === EX_OUT_PKG_4) b.revPackets[i] = u32(buf, q);
      else if (ex === EX_OUT_PKG_8) b.revPackets[i] = u64(buf, q);
      else if (ex === EX_OUT_BYTES_4) b.revBytes[i] = u32(buf, q);
      else if (ex === EX_OUT_BYTES_8) b.revBytes[i] = u64(buf, q);
      else if (ex === EX_ROUTER_IP_V4 || ex === EX_ROUTER_IP_V6)
        b.exporterIdx[i] = this.exporter(buf, q, n === 16);
      q += n;
    }
    b.position[i] = at.dataOffset >= 0 ? at.dataOffset + p : at.blockOffset;
    if (flags & V1_FLAG_SAMPLED) this.sampled++;
    this.flows++;
    this.blockFlows++;
    return '';
  }
}

// Byte arithmetic instead of Buffer#readUInt16LE/32LE: no per-call range check, about twice as
// fast on this loop (every caller has checked the record lies inside the block).
function u16(b: Buffer, o: number): number {
  return b[o] | (b[o + 1] << 8);
}

function u32(b: Buffer, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 16777216;
}

/** A little-endian u64 as a number (exact below 2^53, which any real counter or time is). */
function u64(buf: Buffer, off: number): number {
  return u32(buf, off + 4) * 4294967296 + u32(buf, off);
}

/** A host-order (little-endian) u32 IPv4 address into network byte order. */
function copyIpv4(buf: Buffer, off: number, out: Uint8Array, at: number): void {
  out[at] = buf[off + 3];
  out[at + 1] = buf[off + 2];
  out[at + 2] = buf[off + 1];
  out[at + 3] = buf[off];
}

/** Two host-order u64 halves into the 16 network-order bytes of an IPv6 address. */
function copyIpv6(buf: Buffer, off: number, out: Uint8Array, at: number): void {
  for (let k = 0; k < 8; k++) {
    out[at + k] = buf[off + 7 - k];
    out[at + 8 + k] = buf[off + 15 - k];
  }
}
