/**
 * Template state per exporter session: NetFlow v9 and IPFIX templates live per (exporter address,
 * exporter port, protocol version, source id / observation domain). Also holds what options data
 * told us about the exporter (sampling interval, system init time), the data sets that arrived
 * before their template, and the sequence-number state used to count lost export datagrams.
 *
 * Anyone who can reach the UDP port decides what goes in here, so every part is bounded (issue 10):
 * a number of exporter addresses (new ones refused when full, idle ones reclaimed on a live socket),
 * sessions per exporter address and templates per session (the least recently used is evicted, and
 * only within the exporter that brought the new one, so a flood from one address never evicts
 * another address's state), and bytes of data sets waiting for their template per exporter address.
 */
import type { DecodePlan } from './plan.js';

/** A data set kept until its template arrives (copied: the datagram buffer may be reused). */
export interface PendingSet {
  templateId: number;
  body: Buffer;
  /** Export time of its datagram (ms) and, for v9, the header sysUpTime. */
  exportMs: number;
  sysUptime: number;
  /** Datagram number, or the file offset of its datagram. */
  position: number;
  /** Where problems with it are reported: datagram number, or the file offset of the set. */
  where: number;
  /** Wall-clock time it was kept (ms), for expiry on a live socket. */
  keptAt: number;
}

/** Bytes a pending set is charged against maxPendingBytes beyond its body (object + Buffer). */
export const PENDING_OVERHEAD = 160;

/** Per-session statistics (one row per exporter address + port + version + domain). */
export interface ExporterStat {
  exporter: string;
  port: number;
  version: number;
  domain: number;
  datagrams: number;
  records: number;
  missingDatagrams: number;
  missingRecords: number;
  resets: number;
  late: number;
  templates: number;
  templatesEvicted: number;
}

/** Caps on the decoder's state; see DEFAULT_CAPS for the figures and why. */
export interface TemplateCaps {
  maxExporters: number;
  maxDomainsPerExporter: number;
  maxTemplatesPerSession: number;
  maxPendingBytes: number;
  /** On a live socket, an exporter address silent this long may be reclaimed when the cap is hit. */
  exporterIdleMs: number;
}

/**
 * Defaults, from what real exporters need: a big router exports from a handful of observation
 * domains (line cards / forwarding ASICs, one per source id) and defines tens of templates per
 * domain (one per flow monitor and address family, plus options templates). 512 addresses x 16
 * domains x 64 templates bounds the worst case at 524,288 templates (about 0.3 GB of heap, measured in
 * test/netflow/decoder-limits.test.ts); 512 x 256 KiB bounds data waiting for templates at 128 MiB.
 */
export const DEFAULT_CAPS: Readonly<TemplateCaps> = Object.freeze({
  maxExporters: 512,
  maxDomainsPerExporter: 16,
  maxTemplatesPerSession: 64,
  maxPendingBytes: 256 * 1024,
  exporterIdleMs: 10 * 60_000,
});

/** Sequence gaps remembered per session, so that a late datagram can fill its gap. */
export const GAP_SLOTS = 4;

export class ExporterSession {
  readonly templates = new Map<number, DecodePlan>();
  /** Latest sampling interval from options data (or the v5 header); 1 when unsampled/unknown. */
  samplingRate = 1;
  /** systemInitTimeMilliseconds from options data; -1 when unknown. */
  sysInitMs = -1;
  pending: PendingSet[] = [];
  /** Set on every datagram; eviction clears it and spares the session once (second chance). */
  used = true;
  /** Set when evicted, so that a cached reference is not used again. */
  evicted = false;

  // Sequence state: next expected sequence number (-1: unknown, resynchronise on the next datagram)
  // and the last v9/v5 sysUpTime (-1: none).
  expected = -1;
  lastUptime = -1;
  /** Recent gaps as (start, length) pairs, GAP_SLOTS of them; allocated at the first gap. */
  gaps: Float64Array | null = null;
  gapNext = 0;
  /** Late datagrams in a row (a run of them means a restart, see NetflowDecoder.sequence). */
  lateRun = 0;
  /** IPFIX: the last in-order message's sequence number and data records (all, flows only), and
   * which readings of the sequence number this exporter agrees with (see ipfixSequence). */
  prevSeq = -1;
  prevAll = 0;
  prevFlows = 0;
  prevKnown = false;
  seqModes = 15;

  datagrams = 0;
  records = 0;
  missingDatagrams = 0;
  missingRecords = 0;
  resets = 0;
  late = 0;
  templatesEvicted = 0;

  constructor(
    readonly owner: ExporterState,
    readonly exporter: string,
    readonly exporterPort: number,
    readonly version: number,
    readonly domain: number,
  ) {}

  stat(): ExporterStat {
    return {
      exporter: this.exporter,
      port: this.exporterPort,
      version: this.version,
      domain: this.domain,
      datagrams: this.datagrams,
      records: this.records,
      missingDatagrams: this.missingDatagrams,
      missingRecords: this.missingRecords,
      resets: this.resets,
      late: this.late,
      templates: this.templates.size,
      templatesEvicted: this.templatesEvicted,
    };
  }
}

/** Everything kept for one exporter address. */
export class ExporterState {
  readonly sessions = new Map<number, ExporterSession>();
  /** Bytes of data sets waiting for templates in all its sessions (charged with PENDING_OVERHEAD). */
  pendingBytes = 0;
  lastSeenMs = 0;
  sessionsEvicted = 0;
  constructor(readonly address: string) {}
}

/** What the cache tells its owner (the decoder counts and reports these). */
export interface CacheEvents {
  /** A session is dropped (evicted, or its exporter reclaimed): its pending sets go with it. */
  sessionDropped(s: ExporterSession, why: string): void;
  /** An idle exporter address was reclaimed to make room. */
  exporterReclaimed(e: ExporterState): void;
}

const VERSION_CODE: Record<number, number> = { 5: 0, 9: 1, 10: 2 };
const TWO32 = 4294967296;

export class TemplateCache {
  private readonly exporters = new Map<string, ExporterState>();
  private lastSweepMs = 0;
  // The session of the previous datagram: most datagrams come from the exporter before them.
  private last: ExporterSession | null = null;

  constructor(
    readonly caps: TemplateCaps = DEFAULT_CAPS,
    private readonly events?: CacheEvents,
  ) {
    // A cap of 0 would let nothing be evicted to make room (and so bound nothing).
    for (const [k, v] of Object.entries(caps)) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${k} must be a whole number >= 1, got ${v}`);
    }
  }

  /**
   * The session for a datagram, created if needed; null when the exporter cap is reached and no
   * idle exporter can be reclaimed (the caller counts the refusal). `nowMs` 0: not a live socket.
   */
  session(
    exporter: string,
    port: number,
    version: number,
    domain: number,
    nowMs = 0,
  ): ExporterSession | null {
    const l = this.last;
    if (
      l !== null &&
      !l.evicted &&
      l.domain === domain &&
      l.exporterPort === port &&
      l.version === version &&
      l.exporter === exporter
    ) {
      l.used = true;
      l.owner.lastSeenMs = nowMs;
      return l;
    }
    let e = this.exporters.get(exporter);
    if (!e) {
      if (this.exporters.size >= this.caps.maxExporters && !this.reclaimIdle(nowMs)) return null;
      e = new ExporterState(exporter);
      this.exporters.set(exporter, e);
    }
    e.lastSeenMs = nowMs;
    const key = (port * 4 + VERSION_CODE[version]) * TWO32 + domain;
    let s = e.sessions.get(key);
    if (!s) {
      if (e.sessions.size >= this.caps.maxDomainsPerExporter) this.evictSession(e, port);
      s = new ExporterSession(e, exporter, port, version, domain);
      e.sessions.set(key, s);
    }
    s.used = true;
    this.last = s;
    return s;
  }

  /**
   * Make room for a new session of exporter `e` from `port`: the least recently used session of
   * the same exporter process (same address and port) goes first, so a flood of new domains from
   * one port evicts only its own sessions; the address's other ports lose one only when that port
   * has none. Second-chance sweep (CLOCK): a session used since the last sweep is moved to the end.
   */
  private evictSession(e: ExporterState, port: number): void {
    const m = e.sessions;
    let samePort = false;
    for (const s of m.values()) {
      if (s.exporterPort === port) {
        samePort = true;
        break;
      }
    }
    for (let guard = 2 * m.size + 1; guard > 0; guard--) {
      for (const [k, s] of m) {
        if (samePort && s.exporterPort !== port) continue;
        if (s.used) {
          s.used = false;
          m.delete(k);
          m.set(k, s);
          break;
        }
        m.delete(k);
        s.evicted = true;
        e.sessionsEvicted++;
        this.events?.sessionDropped(
          s,
          `evicted: exporter ${e.address} reached ${this.caps.maxDomainsPerExporter} sessions`,
        );
        return;
      }
    }
  }

  /** Drop exporter addresses silent longer than exporterIdleMs (at most one sweep a second). */
  private reclaimIdle(nowMs: number): boolean {
    if (nowMs <= 0 || nowMs - this.lastSweepMs < 1000) return false;
    this.lastSweepMs = nowMs;
    let freed = false;
    for (const [addr, e] of this.exporters) {
      if (nowMs - e.lastSeenMs <= this.caps.exporterIdleMs) continue;
      this.exporters.delete(addr);
      for (const s of e.sessions.values()) {
        s.evicted = true;
        this.events?.sessionDropped(s, `exporter ${addr} idle for ${this.caps.exporterIdleMs} ms, reclaimed`);
      }
      this.events?.exporterReclaimed(e);
      freed = true;
    }
    return freed;
  }

  /**
   * Store `plan` in session `s`; when the session is full, evict its least recently used template
   * (second chance on `plan.used`, set by every data set decoded with it). Returns true if a
   * template was evicted.
   */
  putTemplate(s: ExporterSession, plan: DecodePlan): boolean {
    const m = s.templates;
    if (m.has(plan.templateId) || m.size < this.caps.maxTemplatesPerSession) {
      m.set(plan.templateId, plan);
      return false;
    }
    for (let guard = 2 * m.size + 1; guard > 0; guard--) {
      const first = m.entries().next();
      if (first.done) break;
      const [id, p] = first.value;
      m.delete(id);
      if (p.used) {
        p.used = false;
        m.set(id, p);
        continue;
      }
      s.templatesEvicted++;
      break;
    }
    m.set(plan.templateId, plan);
    return true;
  }

  *all(): IterableIterator<ExporterSession> {
    for (const e of this.exporters.values()) yield* e.sessions.values();
  }

  exporterCount(): number {
    return this.exporters.size;
  }

  exporter(address: string): ExporterState | undefined {
    return this.exporters.get(address);
  }

  /** Sampling interval recorded per exporter address (highest seen across its sessions). */
  samplingByExporter(): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.all()) {
      out.set(s.exporter, Math.max(out.get(s.exporter) ?? 1, s.samplingRate));
    }
    return out;
  }
}
