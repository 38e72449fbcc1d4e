/**
 * Template state per exporter session: NetFlow v9 and IPFIX templates live per (exporter address,
 * exporter port, protocol version, source id / observation domain). Also holds what options data
 * told us about the exporter (sampling interval, system init time) and the data sets that arrived
 * before their template.
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

export class ExporterSession {
  readonly templates = new Map<number, DecodePlan>();
  /** Latest sampling interval from options data (or the v5 header); 1 when unsampled/unknown. */
  samplingRate = 1;
  /** systemInitTimeMilliseconds from options data; -1 when unknown. */
  sysInitMs = -1;
  pending: PendingSet[] = [];

  constructor(
    readonly exporter: string,
    readonly exporterPort: number,
    readonly version: number,
    readonly domain: number,
  ) {}
}

export class TemplateCache {
  private readonly sessions = new Map<string, ExporterSession>();

  session(exporter: string, port: number, version: number, domain: number): ExporterSession {
    const key = `${exporter}|${port}|${version}|${domain}`;
    let s = this.sessions.get(key);
    if (!s) {
      s = new ExporterSession(exporter, port, version, domain);
      this.sessions.set(key, s);
    }
    return s;
  }

  all(): IterableIterator<ExporterSession> {
    return this.sessions.values();
  }

  /** Sampling interval recorded per exporter address (highest seen across its sessions). */
  samplingByExporter(): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.sessions.values()) {
      out.set(s.exporter, Math.max(out.get(s.exporter) ?? 1, s.samplingRate));
    }
    return out;
  }
}
