/**
 * NetFlow v5, NetFlow v9 and IPFIX (RFC 7011) datagram decoder. One instance per input (a live
 * socket or a file); it keeps the template cache, writes rows straight into FlowBatch columns and
 * hands full batches to `onBatch`. Bad input is reported through Diagnostics with its location and
 * skipped; nothing here throws on bytes from the wire.
 */
import type { Diagnostics } from '../flow/diagnostics.js';
import { FlowBatch } from '../flow/record.js';
import { IE, compilePlan, type DecodePlan, type TemplateField } from './plan.js';
import {
  DEFAULT_CAPS,
  GAP_SLOTS,
  PENDING_OVERHEAD,
  TemplateCache,
  type ExporterSession,
  type ExporterStat,
  type ExporterState,
  type PendingSet,
} from './templates.js';
import { MAX_DATE_MS } from '../flow/plausible-time.js';

export interface NetflowDecoderOptions {
  /** Source name stored with every batch and used in problem locations. */
  source: string;
  /** 'datagram' for a live socket (position = datagram number), 'byte' for files (file offset). */
  unit: 'datagram' | 'byte';
  diagnostics: Diagnostics;
  batchSize?: number;
  /** Receives each full batch (and the last partial one on flush()). */
  onBatch: (batch: FlowBatch) => void;
  /** Supplies the next batch to fill (lets a consumer recycle batches); default: a new FlowBatch. */
  newBatch?: (capacity: number, source: string) => FlowBatch;
  /** Data sets kept per exporter session while waiting for their template. */
  maxPendingSets?: number;
  /** Exporter addresses with state at once (default 512); datagrams needing state from a new one
   * are refused and counted (`exporters.refused-cap`) unless an idle one can be reclaimed. */
  maxExporters?: number;
  /** Sessions (port + version + source id / observation domain) per exporter address (default 16). */
  maxDomainsPerExporter?: number;
  /** Templates per session (default 64); the least recently used is evicted. */
  maxTemplatesPerSession?: number;
  /** Bytes of data sets waiting for their template, per exporter address (default 256 KiB). */
  maxPendingBytes?: number;
  /** Live socket: an exporter address silent this long may be reclaimed when the cap is reached. */
  exporterIdleMs?: number;
}

const NTP_EPOCH_OFFSET_S = 2208988800;
const TWO32 = 4294967296;
// The record loops switch on FieldKind values written as literals (with the name alongside): under
// tsx an imported enum member is a getter call per access, which cost 4x in the decode benchmark.

/** A module-local copy for the record loop (see above: no binding lookups on the hot path). */
const MAX_TIME_MS = MAX_DATE_MS;

/** Largest number of fields a template may declare (RFC 7011 limits a record to 65535 bytes). */
const MAX_FIELDS = 16383;
/**
 * Sequence bookkeeping. A datagram behind the expected sequence number by at most LATE_* is late
 * (reordered); further behind, the exporter restarted. v9 counts export packets, v5 and IPFIX
 * count flow records. A v9/v5 sysUpTime that goes back by more than UPTIME_BACK_MS is a restart
 * (late datagrams carry a slightly older sysUpTime, so a small step back is not).
 */
const LATE_PACKETS = 1024;
const LATE_RECORDS = 65536;
const UPTIME_BACK_MS = 60_000;
const LATE_RUN = 8;

function u16(b: Buffer, p: number): number {
  return (b[p] << 8) | b[p + 1];
}

function u32(b: Buffer, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}

/** Unsigned big-endian integer of 1..8 bytes as a double (exact up to 2^53). */
function uint(b: Buffer, p: number, len: number): number {
  switch (len) {
    case 1:
      return b[p];
    case 2:
      return (b[p] << 8) | b[p + 1];
    case 4:
      return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
    case 8:
      return u32(b, p) * TWO32 + u32(b, p + 4);
    default: {
      let v = 0;
      for (let k = 0; k < len; k++) v = v * 256 + b[p + k];
      return v;
    }
  }
}

/** NTP 64-bit timestamp (seconds since 1900 + 2^-32 fractions) to Unix milliseconds. */
function ntpMs(b: Buffer, p: number): number {
  return (u32(b, p) - NTP_EPOCH_OFFSET_S) * 1000 + (u32(b, p + 4) / TWO32) * 1000;
}

export class NetflowDecoder {
  readonly templates: TemplateCache;
  private batch: FlowBatch;
  private src32: Int32Array;
  private dst32: Int32Array;
  private exporterIdx = 0;
  private exporterOfIdx = '';
  private readonly batchSize: number;
  private readonly maxPending: number;
  private readonly newBatch: (capacity: number, source: string) => FlowBatch;

  // The datagram being decoded (fields, not an object per datagram).
  private curExporter = '';
  private curExportMs = 0;
  private curSysUptime = 0;
  private curPosition = 0;
  private curDomain = 0;
  private curV9 = false;
  // Data records decoded from the datagram's own sets, and whether that count may be short (a set
  // waiting for its template, a malformed set): then the next datagram resynchronises.
  private curRecords = 0;
  private curFlows = 0;
  private curUncertain = false;
  // Scratch for a template's field specifiers (id, length, enterprise number).
  private readonly fIds = new Uint16Array(MAX_FIELDS);
  private readonly fLens = new Uint16Array(MAX_FIELDS);
  private readonly fPens = new Uint32Array(MAX_FIELDS);

  constructor(private readonly o: NetflowDecoderOptions) {
    this.batchSize = o.batchSize ?? 4096;
    this.maxPending = o.maxPendingSets ?? 1024;
    this.templates = new TemplateCache(
      {
        maxExporters: o.maxExporters ?? DEFAULT_CAPS.maxExporters,
        maxDomainsPerExporter: o.maxDomainsPerExporter ?? DEFAULT_CAPS.maxDomainsPerExporter,
        maxTemplatesPerSession: o.maxTemplatesPerSession ?? DEFAULT_CAPS.maxTemplatesPerSession,
        maxPendingBytes: o.maxPendingBytes ?? DEFAULT_CAPS.maxPendingBytes,
        exporterIdleMs: o.exporterIdleMs ?? DEFAULT_CAPS.exporterIdleMs,
      },
      {
        sessionDropped: (s, why) => this.sessionDropped(s, why),
        exporterReclaimed: () => this.o.diagnostics.add('exporters.reclaimed-idle'),
      },
    );
    this.newBatch = o.newBatch ?? ((n, s) => new FlowBatch(n, s));
    this.batch = this.newBatch(this.batchSize, o.source);
    this.src32 = new Int32Array(this.batch.src.buffer, this.batch.src.byteOffset, this.batch.capacity * 4);
    this.dst32 = new Int32Array(this.batch.dst.buffer, this.batch.dst.byteOffset, this.batch.capacity * 4);
  }

  private problem(kind: string, message: string, position: number, inner = 0): void {
    this.curUncertain = true;
    const byte = this.o.unit === 'byte';
    this.o.diagnostics.problem({
      source: this.o.source,
      offset: byte ? position + inner : position,
      unit: this.o.unit,
      kind,
      message: byte || inner === 0 ? message : `${message} (at byte ${inner} of the datagram)`,
    });
  }

  private rotate(): void {
    const full = this.batch;
    this.batch = this.newBatch(this.batchSize, this.o.source);
    this.src32 = new Int32Array(this.batch.src.buffer, this.batch.src.byteOffset, this.batch.capacity * 4);
    this.dst32 = new Int32Array(this.batch.dst.buffer, this.batch.dst.byteOffset, this.batch.capacity * 4);
    this.exporterOfIdx = '';
    this.o.onBatch(full);
  }

  /** Zero row i's 16-byte address slots (batches may be recycled, so they are not always zero). */
  private clearAddresses(i: number): void {
    const o4 = i * 4;
    const s = this.src32;
    const d = this.dst32;
    s[o4] = s[o4 + 1] = s[o4 + 2] = s[o4 + 3] = 0;
    d[o4] = d[o4 + 1] = d[o4 + 2] = d[o4 + 3] = 0;
  }

  /** Hand over the partial batch (if any rows). */
  flush(): void {
    if (this.batch.length > 0) this.rotate();
  }

  /** End of input: count data sets whose template never came, then flush. */
  finish(): void {
    for (const s of this.templates.all()) this.dropPending(s, s.pending.length, 'input ended');
    this.flush();
  }

  /** Drop data sets kept longer than `maxAgeMs` (live collectors call this periodically). */
  expirePending(nowMs: number, maxAgeMs: number): void {
    for (const s of this.templates.all()) {
      let n = 0;
      while (n < s.pending.length && nowMs - s.pending[n].keptAt > maxAgeMs) n++;
      if (n > 0) this.dropPending(s, n, `none within ${maxAgeMs} ms`);
    }
  }

  private dropPending(s: ExporterSession, n: number, why: string): void {
    for (let k = 0; k < n; k++) {
      const p = s.pending[k];
      s.owner.pendingBytes -= p.body.length + PENDING_OVERHEAD;
      this.o.diagnostics.add('sets.no-template');
      this.problem(
        'no-template',
        `data set for template ${p.templateId} of exporter ${s.exporter} domain ${s.domain} (NetFlow v${s.version}): template never arrived (${why}); ${p.body.length} bytes skipped`,
        p.where,
      );
    }
    s.pending.splice(0, n);
  }

  /** A session left the cache (evicted or reclaimed): its waiting data sets are dropped in one problem. */
  private sessionDropped(s: ExporterSession, why: string): void {
    const d = this.o.diagnostics;
    d.add('sessions.evicted');
    if (s.pending.length === 0) return;
    let bytes = 0;
    for (const p of s.pending) bytes += p.body.length;
    s.owner.pendingBytes -= bytes + s.pending.length * PENDING_OVERHEAD;
    d.add('sets.no-template', s.pending.length);
    this.problem(
      'no-template',
      `${s.pending.length} data sets (${bytes} bytes) of exporter ${s.exporter} domain ${s.domain} (NetFlow v${s.version}) waiting for templates dropped: session ${why}`,
      s.pending[0].where,
    );
    s.pending = [];
  }

  /** Per-session statistics: datagrams, records, sequence losses, resets, late datagrams, templates. */
  exporterStats(): ExporterStat[] {
    const out: ExporterStat[] = [];
    for (const s of this.templates.all()) out.push(s.stat());
    return out;
  }

  /**
   * Look up (or create) the session of the datagram being decoded; null when the exporter cap
   * refuses it (counted, and reported with the datagram's location).
   */
  private sessionFor(
    exporter: string,
    port: number,
    version: number,
    domain: number,
    position: number,
    nowMs: number,
  ): ExporterSession | null {
    const s = this.templates.session(exporter, port, version, domain, nowMs);
    if (s === null) {
      this.o.diagnostics.add('exporters.refused-cap');
      this.problem(
        'exporter-refused',
        `exporter ${exporter} (NetFlow v${version}) refused: ${this.templates.caps.maxExporters} exporter addresses already have state (maxExporters)`,
        position,
      );
    }
    return s;
  }

  /** Decode one export datagram from `exporter` (address text) at `position`. */
  decode(buf: Buffer, exporter: string, exporterPort: number, position: number, nowMs = 0): void {
    const d = this.o.diagnostics;
    d.add('datagrams');
    if (buf.length < 2) {
      this.problem(
        'truncated-header',
        `datagram of ${buf.length} bytes is shorter than any NetFlow header`,
        position,
      );
      return;
    }
    const version = u16(buf, 0);
    if (version === 5) this.decodeV5(buf, exporter, exporterPort, position, nowMs);
    else if (version === 9) this.decodeV9(buf, exporter, exporterPort, position, nowMs);
    else if (version === 10) this.decodeIpfix(buf, exporter, exporterPort, position, nowMs);
    else {
      this.problem(
        'bad-version',
        `not a NetFlow v5/v9/IPFIX datagram (version field ${version}, ${buf.length} bytes)`,
        position,
      );
    }
  }

  private exporterIndex(exporter: string): number {
    if (this.exporterOfIdx !== exporter) {
      this.exporterIdx = this.batch.exporterIndex(exporter);
      this.exporterOfIdx = exporter;
    }
    return this.exporterIdx;
  }

  // ---- NetFlow v5 ----

  private decodeV5(buf: Buffer, exporter: string, port: number, position: number, wallMs: number): void {
    const d = this.o.diagnostics;
    if (buf.length < 24) {
      this.problem(
        'truncated-header',
        `NetFlow v5 datagram of ${buf.length} bytes is shorter than its 24-byte header`,
        position,
      );
      return;
    }
    let count = u16(buf, 2);
    const sysUptime = u32(buf, 4);
    const nowMs = u32(buf, 8) * 1000 + Math.floor(u32(buf, 12) / 1e6);
    const domain = (buf[20] << 8) | buf[21];
    const interval = u16(buf, 22) & 0x3fff;
    const sampling = interval > 1 ? interval : 1;
    // No state is needed to decode v5: a refused exporter's records are still kept, unaccounted.
    const session = this.sessionFor(exporter, port, 5, domain, position, wallMs);
    if (session !== null && sampling > 1) session.samplingRate = sampling;
    const declared = count;
    const fit = Math.floor((buf.length - 24) / 48);
    if (count > fit) {
      this.problem(
        'truncated-record',
        `NetFlow v5 header says ${count} records but the datagram holds ${fit} (${buf.length} bytes); ${count - fit} skipped`,
        position,
        24 + fit * 48,
      );
      d.add('records.skipped', count - fit);
      count = fit;
    }
    if (count > 30) d.add('v5.over-30-records');
    for (let r = 0; r < count; r++) {
      let b = this.batch;
      if (b.length >= b.capacity) {
        this.rotate();
        b = this.batch;
      }
      const i = b.length++;
      const p = 24 + r * 48;
      this.clearAddresses(i);
      const o16 = i * 16;
      const s = b.src;
      s[o16] = buf[p];
      s[o16 + 1] = buf[p + 1];
      s[o16 + 2] = buf[p + 2];
      s[o16 + 3] = buf[p + 3];
      const t = b.dst;
      t[o16] = buf[p + 4];
      t[o16 + 1] = buf[p + 5];
      t[o16 + 2] = buf[p + 6];
      t[o16 + 3] = buf[p + 7];
      b.ipVersion[i] = 4;
      b.packets[i] = u32(buf, p + 16);
      b.bytes[i] = u32(buf, p + 20);
      // Signed 32-bit difference: tolerates sysUpTime wrap and FIRST slightly after the header time.
      b.firstMs[i] = nowMs - ((sysUptime - u32(buf, p + 24)) | 0);
      b.lastMs[i] = nowMs - ((sysUptime - u32(buf, p + 28)) | 0);
      b.srcPort[i] = u16(buf, p + 32);
      b.dstPort[i] = u16(buf, p + 34);
      b.tcpFlags[i] = buf[p + 37];
      b.proto[i] = buf[p + 38];
      b.revPackets[i] = 0;
      b.revBytes[i] = 0;
      b.samplingRate[i] = sampling;
      b.observationDomain[i] = domain;
      b.position[i] = position;
      b.exporterIdx[i] = this.exporterIndex(exporter);
    }
    d.add('records', count);
    if (session !== null) {
      session.records += count;
      // flow_sequence: flows the exporter sent before this datagram.
      this.sequence(session, u32(buf, 16), declared, sysUptime, false, true);
    }
  }

  /**
   * Sequence bookkeeping for one datagram of session `s`: `seq` from its header, `count` the units
   * it carries (v9: one export packet; v5, IPFIX: its data records), `uptime` the v5/v9 sysUpTime
   * (-1 for IPFIX), `known` false when the count may be short (resynchronise on the next one).
   * Gaps are counted as missing; a late datagram that falls in a remembered gap takes its units
   * back off the missing count (a gap filled in the middle keeps its tail counted: approximate).
   */
  private sequence(
    s: ExporterSession,
    seq: number,
    count: number,
    uptime: number,
    packets: boolean,
    known: boolean,
  ): void {
    s.datagrams++;
    const lastUp = s.lastUptime;
    if (uptime >= 0 && (lastUp < 0 || ((uptime - lastUp) | 0) > 0)) s.lastUptime = uptime;
    const expected = s.expected;
    const next = known ? (seq + count) % TWO32 : -1;
    if (expected < 0) {
      s.expected = next;
      s.lateRun = 0;
      return;
    }
    const diff = (seq - expected) | 0;
    if (diff === 0) {
      s.expected = next;
      s.lateRun = 0;
      return;
    }
    const d = this.o.diagnostics;
    const restarted = uptime >= 0 && lastUp >= 0 && ((uptime - lastUp) | 0) < -UPTIME_BACK_MS;
    if (!restarted && diff > 0) {
      if (packets) s.missingDatagrams += diff;
      else s.missingRecords += diff;
      d.add(packets ? 'datagrams.missing' : 'records.missing', diff);
      const g = (s.gaps ??= new Float64Array(GAP_SLOTS * 2));
      g[s.gapNext * 2] = expected;
      g[s.gapNext * 2 + 1] = diff;
      s.gapNext = (s.gapNext + 1) % GAP_SLOTS;
      s.expected = next;
      s.lateRun = 0;
      return;
    }
    // Reordering delays a datagram or two; LATE_RUN late ones in a row are an exporter that
    // restarted a little behind where it was (IPFIX has no sysUpTime to tell).
    if (!restarted && -diff <= (packets ? LATE_PACKETS : LATE_RECORDS) && ++s.lateRun < LATE_RUN) {
      s.late++;
      d.add('sequence.late');
      this.fillGap(s, seq, count, packets);
      return;
    }
    s.resets++;
    d.add('sequence.resets');
    s.lateRun = 0;
    s.gaps?.fill(0);
    s.lastUptime = uptime;
    s.expected = next;
  }

  /**
   * IPFIX sequence: RFC 7011 counts the data records (options records too) of the observation
   * domain sent before this message. Some exporters count differently (softflowd 1.x: flow records
   * only, up to and including this message), so each session learns which of the four readings
   * its in-order messages agree with (a bit each in `seqModes`: 1 before/all, 2 before/flows,
   * 4 including/all, 8 including/flows) and uses the first that still fits; until two messages
   * tell them apart, the RFC reading is used.
   */
  private ipfixSequence(s: ExporterSession, seq: number, all: number, flows: number, known: boolean): void {
    let modes = s.seqModes;
    if (s.prevSeq >= 0 && s.prevKnown && known) {
      const ps = s.prevSeq;
      let match = 0;
      if (seq === (ps + s.prevAll) % TWO32) match |= 1;
      if (seq === (ps + s.prevFlows) % TWO32) match |= 2;
      if ((seq - all + TWO32) % TWO32 === ps) match |= 4;
      if ((seq - flows + TWO32) % TWO32 === ps) match |= 8;
      if (match & modes) s.seqModes = modes &= match;
    }
    const m = modes & 1 ? 0 : modes & 2 ? 1 : modes & 4 ? 2 : 3;
    const count = m === 0 || m === 2 ? all : flows;
    const start = m >= 2 ? (seq - count + TWO32) % TWO32 : seq;
    // The expected start under this reading, from the last in-order message (the reading may have
    // changed since it was computed).
    if (s.prevSeq >= 0 && s.expected >= 0)
      s.expected = m >= 2 ? s.prevSeq : (s.prevSeq + (m === 0 ? s.prevAll : s.prevFlows)) % TWO32;
    const late = s.late;
    this.sequence(s, start, count, -1, false, known);
    if (s.late === late) {
      s.prevSeq = seq;
      s.prevAll = all;
      s.prevFlows = flows;
      s.prevKnown = known;
    }
  }

  /** A late datagram's units [seq, seq + count) taken off the remembered gap they fall in. */
  private fillGap(s: ExporterSession, seq: number, count: number, packets: boolean): void {
    const g = s.gaps;
    if (g === null) return;
    for (let k = 0; k < GAP_SLOTS * 2; k += 2) {
      const len = g[k + 1];
      const off = (seq - g[k]) >>> 0;
      if (off >= len) continue;
      const n = Math.min(count, len - off);
      if (off === 0) {
        g[k] = (g[k] + n) % TWO32;
        g[k + 1] = len - n;
      } else if (off + n === len) g[k + 1] = len - n;
      else g[k + 1] = off;
      if (packets) s.missingDatagrams -= n;
      else s.missingRecords -= n;
      this.o.diagnostics.add(packets ? 'datagrams.missing' : 'records.missing', -n);
      return;
    }
  }

  // ---- NetFlow v9 ----

  private decodeV9(buf: Buffer, exporter: string, port: number, position: number, nowMs: number): void {
    if (buf.length < 20) {
      this.problem(
        'truncated-header',
        `NetFlow v9 datagram of ${buf.length} bytes is shorter than its 20-byte header`,
        position,
      );
      return;
    }
    const sysUptime = u32(buf, 4);
    const exportMs = u32(buf, 8) * 1000;
    const domain = u32(buf, 16);
    const session = this.sessionFor(exporter, port, 9, domain, position, nowMs);
    if (session === null) return;
    this.curRecords = 0;
    this.curUncertain = false;
    this.walkSets(buf, 20, buf.length, session, exportMs, sysUptime, position, nowMs, true);
    // v9 sequence: export packets of this source id sent before this one.
    this.sequence(session, u32(buf, 12), 1, sysUptime, true, true);
  }

  // ---- IPFIX ----

  private decodeIpfix(buf: Buffer, exporter: string, port: number, position: number, nowMs: number): void {
    if (buf.length < 16) {
      this.problem(
        'truncated-header',
        `IPFIX message of ${buf.length} bytes is shorter than its 16-byte header`,
        position,
      );
      return;
    }
    let end = u16(buf, 2);
    if (end < 16) {
      this.problem(
        'bad-message-length',
        `IPFIX message length ${end} is shorter than the 16-byte header`,
        position,
      );
      return;
    }
    if (end > buf.length) {
      this.problem(
        'bad-message-length',
        `IPFIX message length ${end} is past the end of the ${buf.length}-byte datagram; reading what is there`,
        position,
      );
      end = buf.length;
    }
    const exportMs = u32(buf, 4) * 1000;
    const domain = u32(buf, 12);
    const session = this.sessionFor(exporter, port, 10, domain, position, nowMs);
    if (session === null) return;
    this.curRecords = 0;
    this.curFlows = 0;
    this.curUncertain = false;
    this.walkSets(buf, 16, end, session, exportMs, 0, position, nowMs, false);
    this.ipfixSequence(session, u32(buf, 8), this.curRecords, this.curFlows, !this.curUncertain);
  }

  /** Walk the sets (v9 "flowsets") of one message. */
  private walkSets(
    buf: Buffer,
    start: number,
    end: number,
    session: ExporterSession,
    exportMs: number,
    sysUptime: number,
    position: number,
    nowMs: number,
    v9: boolean,
  ): void {
    const tmplSet = v9 ? 0 : 2;
    const optSet = v9 ? 1 : 3;
    let p = start;
    while (p < end) {
      if (end - p < 4) {
        this.problem('bad-set-length', `${end - p} stray bytes after the last set`, position, p);
        return;
      }
      const setId = u16(buf, p);
      const setLen = u16(buf, p + 2);
      if (setLen < 4) {
        this.problem(
          'bad-set-length',
          `set ${setId} has length ${setLen} (< 4); rest of the datagram skipped`,
          position,
          p,
        );
        return;
      }
      if (p + setLen > end) {
        this.problem(
          'bad-set-length',
          `set ${setId} of ${setLen} bytes runs past the end of the ${end}-byte message; rest of the datagram skipped`,
          position,
          p,
        );
        return;
      }
      const bodyStart = p + 4;
      const bodyEnd = p + setLen;
      if (setId === tmplSet) this.readTemplates(buf, bodyStart, bodyEnd, session, position, false, v9);
      else if (setId === optSet) this.readTemplates(buf, bodyStart, bodyEnd, session, position, true, v9);
      else if (setId >= 256) {
        const plan = session.templates.get(setId);
        if (plan) plan.used = true;
        this.curExporter = session.exporter;
        this.curDomain = session.domain;
        this.curExportMs = exportMs;
        this.curSysUptime = sysUptime;
        this.curPosition = position;
        this.curV9 = v9;
        if (plan) {
          const n = this.decodeData(
            plan,
            session,
            buf,
            bodyStart,
            bodyEnd,
            position + (this.o.unit === 'byte' ? p : 0),
          );
          this.curRecords += n;
          if (!plan.options) this.curFlows += n;
        } else
          this.keepPending(session, setId, buf, bodyStart, bodyEnd, exportMs, sysUptime, position, p, nowMs);
      } else {
        this.o.diagnostics.add('sets.reserved');
        this.problem('reserved-set', `set id ${setId} is reserved; ${setLen} bytes skipped`, position, p);
      }
      p = bodyEnd;
    }
  }

  private keepPending(
    s: ExporterSession,
    templateId: number,
    buf: Buffer,
    start: number,
    end: number,
    exportMs: number,
    sysUptime: number,
    position: number,
    setOffset: number,
    nowMs: number,
  ): void {
    this.o.diagnostics.add('sets.deferred');
    this.curUncertain = true;
    if (s.pending.length >= this.maxPending)
      this.dropPending(s, 1, `more than ${this.maxPending} sets waiting`);
    const charge = end - start + PENDING_OVERHEAD;
    const cap = this.templates.caps.maxPendingBytes;
    if (!this.makePendingRoom(s.owner, s, charge, cap)) {
      this.o.diagnostics.add('sets.no-template');
      this.problem(
        'no-template',
        `data set for template ${templateId} of exporter ${s.exporter} domain ${s.domain}: ${end - start} bytes cannot wait for their template (maxPendingBytes ${cap}); skipped`,
        position,
        setOffset,
      );
      return;
    }
    s.owner.pendingBytes += charge;
    s.pending.push({
      templateId,
      body: Buffer.from(buf.subarray(start, end)),
      exportMs,
      sysUptime,
      position,
      where: this.o.unit === 'byte' ? position + setOffset : position,
      keptAt: nowMs,
    });
  }

  /**
   * Drop the oldest waiting sets of exporter `e` (its session `s` first) until `charge` more bytes
   * fit under `cap`; false when they cannot fit at all.
   */
  private makePendingRoom(e: ExporterState, s: ExporterSession, charge: number, cap: number): boolean {
    if (charge > cap) return false;
    while (e.pendingBytes + charge > cap && s.pending.length > 0)
      this.dropPending(s, 1, `exporter over ${cap} bytes waiting (maxPendingBytes)`);
    for (const o of e.sessions.values()) {
      while (e.pendingBytes + charge > cap && o.pending.length > 0)
        this.dropPending(o, 1, `exporter over ${cap} bytes waiting (maxPendingBytes)`);
    }
    return e.pendingBytes + charge <= cap;
  }

  /** Template definitions in a template set (withdrawals and a malformed tail not counted). */
  private countDefinitions(buf: Buffer, start: number, end: number, options: boolean, v9: boolean): number {
    let p = start;
    let n = 0;
    while (end - p >= (v9 && options ? 6 : 4)) {
      const recStart = p;
      const id = u16(buf, p);
      let fieldCount: number;
      if (v9 && options) {
        const scopeLen = u16(buf, p + 2);
        const optLen = u16(buf, p + 4);
        if ((id === 0 && scopeLen === 0 && optLen === 0) || scopeLen % 4 !== 0 || optLen % 4 !== 0) break;
        fieldCount = (scopeLen + optLen) / 4;
        p += 6;
      } else {
        fieldCount = u16(buf, p + 2);
        if (v9 && id === 0 && fieldCount === 0) break;
        p += !v9 && options && fieldCount > 0 ? 6 : 4;
        if (!v9 && fieldCount === 0) continue;
      }
      for (let k = 0; k < fieldCount && p <= end; k++) p += !v9 && buf[p] & 0x80 ? 8 : 4;
      if (p > end) break;
      if (v9 && options) {
        const pad = (p - recStart) % 4;
        if (pad) p += 4 - pad;
      }
      n++;
    }
    return n;
  }

  private readTemplates(
    buf: Buffer,
    start: number,
    end: number,
    s: ExporterSession,
    position: number,
    options: boolean,
    v9: boolean,
  ): void {
    const d = this.o.diagnostics;
    let p = start;
    const what = options ? 'options template' : 'template';
    let excess =
      this.countDefinitions(buf, start, end, options, v9) - this.templates.caps.maxTemplatesPerSession;
    // Records need at least 4 bytes (v9 options 6); less is set padding.
    while (end - p >= (v9 && options ? 6 : 4)) {
      const recStart = p;
      const templateId = u16(buf, p);
      let fieldCount: number;
      let scopeCount = 0;
      if (v9 && options) {
        const scopeLen = u16(buf, p + 2);
        const optLen = u16(buf, p + 4);
        if (templateId === 0 && scopeLen === 0 && optLen === 0) return; // padding
        if (scopeLen % 4 !== 0 || optLen % 4 !== 0) {
          this.problem(
            'bad-template',
            `v9 ${what} ${templateId}: scope length ${scopeLen} / option length ${optLen} not multiples of 4`,
            position,
            p,
          );
          return;
        }
        scopeCount = scopeLen / 4;
        fieldCount = scopeCount + optLen / 4;
        p += 6;
      } else {
        fieldCount = u16(buf, p + 2);
        p += 4;
        if (v9 && templateId === 0 && fieldCount === 0) return; // padding
        if (!v9 && options && fieldCount > 0) {
          if (end - p < 2) {
            this.problem(
              'bad-template',
              `IPFIX ${what} ${templateId} is cut off before its scope field count`,
              position,
              recStart,
            );
            return;
          }
          scopeCount = u16(buf, p);
          p += 2;
        }
      }
      if (!v9 && fieldCount === 0) {
        this.withdraw(s, templateId, options, position, recStart);
        continue;
      }
      if (templateId < 256) {
        this.problem(
          'bad-template',
          `${what} id ${templateId} is below 256; rest of the set skipped`,
          position,
          recStart,
        );
        return;
      }
      const minBytes = fieldCount * 4;
      if (fieldCount === 0 || fieldCount > MAX_FIELDS || minBytes > end - p) {
        d.add('templates.bad');
        this.problem(
          'bad-template',
          `${what} ${templateId} declares ${fieldCount} fields (needs at least ${minBytes} bytes) but ${end - p} bytes remain in the set; rest of the set skipped`,
          position,
          recStart,
        );
        return;
      }
      if (options && (scopeCount === 0 || scopeCount > fieldCount) && !v9) {
        this.problem(
          'bad-template',
          `IPFIX options template ${templateId} has scope field count ${scopeCount} of ${fieldCount}`,
          position,
          recStart,
        );
        return;
      }
      // Field specifiers go to scratch arrays first: objects are made only for a template compiled.
      const fIds = this.fIds;
      const fLens = this.fLens;
      const fPens = this.fPens;
      let ok = true;
      let zero = 0;
      let firstZero = -1;
      for (let k = 0; k < fieldCount; k++) {
        if (end - p < 4) {
          ok = false;
          break;
        }
        let id = u16(buf, p);
        const length = u16(buf, p + 2);
        p += 4;
        let pen = 0;
        if (!v9 && id & 0x8000) {
          if (end - p < 4) {
            ok = false;
            break;
          }
          id &= 0x7fff;
          pen = u32(buf, p);
          p += 4;
        }
        if (v9 && length === 0xffff) {
          ok = false;
          break;
        }
        if (length === 0 && zero++ === 0) firstZero = k;
        fIds[k] = id;
        fLens[k] = length;
        fPens[k] = pen;
      }
      if (!ok) {
        d.add('templates.bad');
        this.problem(
          'bad-template',
          `${what} ${templateId} is cut off or malformed inside its field list; rest of the set skipped`,
          position,
          recStart,
        );
        return;
      }
      if (ok && zero > 0) {
        // No information element has length 0 (variable length is 65535): such a template is
        // malformed, and one made of them would match any number of records in zero bytes.
        d.add('fields.zero-length', zero);
        d.add('templates.bad');
        const pen = fPens[firstZero];
        this.problem(
          'bad-template',
          `${what} ${templateId}: ${zero} of ${fieldCount} fields have length 0 (first: field ${firstZero + 1}, element ${pen ? `${pen}/` : ''}${fIds[firstZero]}); template refused`,
          position,
          recStart,
        );
        if (v9 && options) {
          const pad = (p - recStart) % 4;
          if (pad) p += 4 - pad;
        }
        continue;
      }
      if (excess > 0) {
        // One of the first definitions of a set holding more than the session can keep: the later
        // ones of the same set would evict it unused, so it is counted as evicted, not compiled
        // (a flood of thousands of templates a datagram costs little more than reading it).
        excess--;
        d.add('templates.new');
        d.add('templates.evicted');
        s.templatesEvicted++;
        s.templates.delete(templateId);
      } else {
        const spec = buf.toString('latin1', recStart, p);
        const old = s.templates.get(templateId);
        if (old && old.options === options && old.spec === spec) d.add('templates.refreshed');
        else {
          const fields: TemplateField[] = new Array(fieldCount);
          for (let k = 0; k < fieldCount; k++) fields[k] = { id: fIds[k], length: fLens[k], pen: fPens[k] };
          d.add(old ? 'templates.changed' : 'templates.new');
          if (this.templates.putTemplate(s, compilePlan(templateId, fields, options, spec)))
            d.add('templates.evicted');
        }
      }
      if (v9 && options) {
        // v9 options records are padded to 4 bytes inside the flowset.
        const pad = (p - recStart) % 4;
        if (pad) p += 4 - pad;
      }
      this.replayPending(s, templateId);
    }
  }

  private withdraw(
    s: ExporterSession,
    templateId: number,
    options: boolean,
    position: number,
    at: number,
  ): void {
    const d = this.o.diagnostics;
    if (templateId === (options ? 3 : 2)) {
      // All-templates withdrawal (RFC 7011 8.1): the set id as the template id.
      let n = 0;
      for (const [id, plan] of s.templates) {
        if (plan.options === options) {
          s.templates.delete(id);
          n++;
        }
      }
      d.add('templates.withdrawn', n);
      return;
    }
    if (s.templates.delete(templateId)) d.add('templates.withdrawn');
    else {
      d.add('templates.withdrawn-unknown');
      this.problem(
        'unknown-withdrawal',
        `withdrawal of template ${templateId}, which this exporter never defined`,
        position,
        at,
      );
    }
  }

  private replayPending(s: ExporterSession, templateId: number): void {
    if (s.pending.length === 0) return;
    const plan = s.templates.get(templateId)!;
    const rest: PendingSet[] = [];
    for (const ps of s.pending) {
      if (ps.templateId !== templateId) {
        rest.push(ps);
        continue;
      }
      s.owner.pendingBytes -= ps.body.length + PENDING_OVERHEAD;
      this.o.diagnostics.add('sets.deferred-decoded');
      const saved = [
        this.curExporter,
        this.curDomain,
        this.curExportMs,
        this.curSysUptime,
        this.curPosition,
        this.curV9,
      ] as const;
      this.curExporter = s.exporter;
      this.curDomain = s.domain;
      this.curExportMs = ps.exportMs;
      this.curSysUptime = ps.sysUptime;
      this.curPosition = ps.position;
      this.curV9 = s.version === 9;
      this.decodeData(plan, s, ps.body, 0, ps.body.length, ps.where);
      [this.curExporter, this.curDomain, this.curExportMs, this.curSysUptime, this.curPosition, this.curV9] =
        saved;
    }
    s.pending = rest;
  }

  /** Decode the records of one data set with its compiled plan. `where` locates problems. */
  private decodeData(
    plan: DecodePlan,
    s: ExporterSession,
    buf: Buffer,
    start: number,
    end: number,
    where: number,
  ): number {
    if (plan.options) return this.decodeOptions(plan, s, buf, start, end);
    const d = this.o.diagnostics;
    const kinds = plan.kinds;
    const lens = plan.lens;
    const steps = plan.steps;
    const minLength = plan.minLength;
    const exportMs = this.curExportMs;
    const sysUptime = this.curSysUptime;
    const v9 = this.curV9;
    const position = this.curPosition;
    const domain = this.curDomain;
    const exporter = this.curExporter;
    const sessionRate = s.samplingRate;
    let n = 0;
    let p = start;
    while (end - p >= minLength) {
      let b = this.batch;
      if (b.length >= b.capacity) {
        this.rotate();
        b = this.batch;
      }
      const i = b.length;
      const o16 = i * 16;
      this.clearAddresses(i);
      b.ipVersion[i] = 4;
      b.srcPort[i] = 0;
      b.dstPort[i] = 0;
      b.proto[i] = 0;
      b.packets[i] = 0;
      b.bytes[i] = 0;
      b.revPackets[i] = 0;
      b.revBytes[i] = 0;
      b.tcpFlags[i] = 0;
      let startMs = NaN;
      let endMs = NaN;
      let startUp = -1;
      let endUp = -1;
      let initMs = -1;
      let rate = 0;
      let pktInterval = 0;
      let pktSpace = 0;
      let icmp = -1;
      let bad = false;
      for (let k = 0; k < steps; k++) {
        let len = lens[k];
        if (len === 0xffff) {
          if (p >= end) {
            bad = true;
            break;
          }
          len = buf[p++];
          if (len === 255) {
            if (end - p < 2) {
              bad = true;
              break;
            }
            len = u16(buf, p);
            p += 2;
          }
          if (end - p < len) {
            bad = true;
            break;
          }
          p += len;
          continue;
        }
        switch (kinds[k]) {
          case 0: // SKIP
            break;
          case 1: // SRC4
            b.src[o16] = buf[p];
            b.src[o16 + 1] = buf[p + 1];
            b.src[o16 + 2] = buf[p + 2];
            b.src[o16 + 3] = buf[p + 3];
            break;
          case 2: // DST4
            b.dst[o16] = buf[p];
            b.dst[o16 + 1] = buf[p + 1];
            b.dst[o16 + 2] = buf[p + 2];
            b.dst[o16 + 3] = buf[p + 3];
            break;
          case 3: // SRC6
            b.src.set(buf.subarray(p, p + 16), o16);
            b.ipVersion[i] = 6;
            break;
          case 4: // DST6
            b.dst.set(buf.subarray(p, p + 16), o16);
            b.ipVersion[i] = 6;
            break;
          case 5: // SRC_PORT
            b.srcPort[i] = (buf[p] << 8) | buf[p + 1];
            break;
          case 6: // DST_PORT
            b.dstPort[i] = (buf[p] << 8) | buf[p + 1];
            break;
          case 7: // PROTO
            b.proto[i] = buf[p];
            break;
          case 8: // TCP_FLAGS
            b.tcpFlags[i] = buf[p + len - 1];
            break;
          case 9: // PACKETS
            b.packets[i] = uint(buf, p, len);
            break;
          case 10: // BYTES
            b.bytes[i] = uint(buf, p, len);
            break;
          case 11: // REV_PACKETS
            b.revPackets[i] = uint(buf, p, len);
            break;
          case 12: // REV_BYTES
            b.revBytes[i] = uint(buf, p, len);
            break;
          case 13: // START_UPTIME
            if (v9) startMs = exportMs - ((sysUptime - u32(buf, p)) | 0);
            else startUp = u32(buf, p);
            break;
          case 14: // END_UPTIME
            if (v9) endMs = exportMs - ((sysUptime - u32(buf, p)) | 0);
            else endUp = u32(buf, p);
            break;
          case 15: // START_SEC
            startMs = u32(buf, p) * 1000;
            break;
          case 16: // END_SEC
            endMs = u32(buf, p) * 1000;
            break;
          case 17: // START_MS
            startMs = uint(buf, p, 8);
            break;
          case 18: // END_MS
            endMs = uint(buf, p, 8);
            break;
          case 19: // START_NTP
            startMs = ntpMs(buf, p);
            break;
          case 20: // END_NTP
            endMs = ntpMs(buf, p);
            break;
          case 21: // START_DELTA_US
            startMs = exportMs - u32(buf, p) / 1000;
            break;
          case 22: // END_DELTA_US
            endMs = exportMs - u32(buf, p) / 1000;
            break;
          case 23: // SYS_INIT_MS
            initMs = uint(buf, p, 8);
            break;
          case 24: // SAMPLING_INTERVAL
            rate = uint(buf, p, len);
            break;
          case 25: // SAMPLING_PKT_INTERVAL
            pktInterval = uint(buf, p, len);
            break;
          case 26: // SAMPLING_PKT_SPACE
            pktSpace = uint(buf, p, len);
            break;
          case 27: // ICMP_TYPE_CODE
            icmp = (buf[p] << 8) | buf[p + 1];
            break;
        }
        p += len;
      }
      if (bad) {
        this.problem(
          'truncated-record',
          `record ${n + 1} of template ${plan.templateId}: variable-length field runs past the set end`,
          where,
        );
        d.add('records.skipped');
        break;
      }
      if (startUp >= 0 || endUp >= 0) {
        const init = initMs >= 0 ? initMs : s.sysInitMs;
        if (init >= 0) {
          if (startUp >= 0) startMs = init + startUp;
          if (endUp >= 0) endMs = init + endUp;
        } else d.add('records.time-without-init');
      }
      if (startMs !== startMs) startMs = endMs === endMs ? endMs : exportMs;
      if (endMs !== endMs) endMs = startMs;
      if (!(
        startMs >= -MAX_TIME_MS &&
        startMs <= MAX_TIME_MS &&
        endMs >= -MAX_TIME_MS &&
        endMs <= MAX_TIME_MS
      )) {
        // Beyond any date (a hostile or broken flowStart/End): no store or Date can hold it.
        this.problem(
          'bad-time',
          `record ${n + 1} of template ${plan.templateId}: flow times ${startMs}..${endMs} ms are beyond any date; record skipped`,
          where,
        );
        d.add('records.skipped');
        continue;
      }
      b.firstMs[i] = startMs;
      b.lastMs[i] = endMs;
      if (icmp >= 0 && (b.proto[i] === 1 || b.proto[i] === 58) && b.dstPort[i] === 0) b.dstPort[i] = icmp;
      if (pktInterval > 0) rate = Math.round((pktInterval + pktSpace) / pktInterval);
      b.samplingRate[i] = rate > 1 ? rate : sessionRate;
      b.observationDomain[i] = domain;
      b.position[i] = position;
      b.exporterIdx[i] = this.exporterIndex(exporter);
      b.payloadFwd[i] = null;
      b.payloadRev[i] = null;
      b.timesFwdLen[i] = 0;
      b.timesRevLen[i] = 0;
      b.length = i + 1;
      n++;
    }
    if (n === 0 && end - start >= 4) {
      this.problem(
        'short-set',
        `data set for template ${plan.templateId} has ${end - start} bytes, less than one ${plan.minLength}-byte record`,
        where,
      );
    }
    d.add('records', n);
    s.records += n;
    return n;
  }

  /** Options data: only what describes the exporter (sampling, system init time) is kept. */
  private decodeOptions(
    plan: DecodePlan,
    s: ExporterSession,
    buf: Buffer,
    start: number,
    end: number,
  ): number {
    const d = this.o.diagnostics;
    let p = start;
    let n = 0;
    while (end - p >= plan.minLength) {
      let rate = 0;
      let pktInterval = 0;
      let pktSpace = 0;
      for (let k = 0; k < plan.steps; k++) {
        let len = plan.lens[k];
        if (len === 0xffff) {
          if (p >= end) return n;
          len = buf[p++];
          if (len === 255) {
            if (end - p < 2) return n;
            len = u16(buf, p);
            p += 2;
          }
          if (end - p < len) return n;
          p += len;
          continue;
        }
        switch (plan.kinds[k]) {
          case 24: // SAMPLING_INTERVAL
            rate = uint(buf, p, len);
            break;
          case 25: // SAMPLING_PKT_INTERVAL
            pktInterval = uint(buf, p, len);
            break;
          case 26: // SAMPLING_PKT_SPACE
            pktSpace = uint(buf, p, len);
            break;
          case 23: // SYS_INIT_MS
            s.sysInitMs = uint(buf, p, 8);
            break;
        }
        p += len;
      }
      if (pktInterval > 0) rate = Math.round((pktInterval + pktSpace) / pktInterval);
      if (rate >= 1) s.samplingRate = rate;
      d.add('records.options');
      s.records++;
      n++;
    }
    return n;
  }
}

export { IE };
