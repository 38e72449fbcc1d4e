/**
 * Writes a generated scenario to a directory: the export datagrams (NetFlow v9 or IPFIX) as a pcap
 * of UDP packets to the collector, or a packet capture with payloads for a sample of hosts; plus
 * the ground truth and the configuration that reproduces it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN } from '../flow/record.js';
import { FlowExporter, type ExportFormat, type ExportRecord } from './export.js';
import { hours } from './generate.js';
import { PcapWriter, tcpFrame, udpFrame } from './pcap.js';
import { Rng } from './rng.js';
import { stratumSession } from './stratum.js';
import { groundTruth, ipv4Value, type World } from './world.js';

const HOUR = 3600000;

export type ScenarioFormat = ExportFormat | 'pcap';

export interface WriteOptions {
  format: ScenarioFormat;
  /** Exporter and collector addresses written into the export pcap. */
  exporter?: string;
  collector?: string;
  collectorPort?: number;
  /** pcap format: background hosts captured besides every miner, and the capture length. */
  captureHosts?: number;
  captureHours?: number;
  onProgress?: (doneHours: number, totalHours: number) => void;
}

export interface WriteSummary {
  dir: string;
  files: string[];
  flows: number;
  records: number;
  datagrams: number;
  packets: number;
}

export function writeScenario(world: World, dir: string, opts: WriteOptions): WriteSummary {
  mkdirSync(dir, { recursive: true });
  const cfg = world.config;
  const files: string[] = [];
  const summary: WriteSummary = { dir, files, flows: 0, records: 0, datagrams: 0, packets: 0 };
  writeFileSync(join(dir, 'truth.json'), JSON.stringify(groundTruth(world), null, 2) + '\n');
  writeFileSync(
    join(dir, 'scenario.json'),
    JSON.stringify(
      {
        ...cfg,
        start: new Date(cfg.startMs).toISOString(),
        onset: cfg.onsetMs === null ? null : new Date(cfg.onsetMs).toISOString(),
        format: opts.format,
      },
      null,
      2,
    ) + '\n',
  );
  files.push('truth.json', 'scenario.json');
  if (opts.format === 'pcap') {
    writeCapture(world, join(dir, 'capture.pcap'), opts, summary);
    files.push('capture.pcap');
  } else {
    writeExports(world, join(dir, 'export.pcap'), opts.format, opts, summary);
    files.push('export.pcap');
  }
  return summary;
}

function writeExports(
  world: World,
  path: string,
  format: ExportFormat,
  opts: WriteOptions,
  s: WriteSummary,
): void {
  const cfg = world.config;
  const exporterIp = ipv4Value(opts.exporter ?? '192.0.2.1');
  const collectorIp = ipv4Value(opts.collector ?? '192.0.2.2');
  const port = opts.collectorPort ?? 2055;
  const exp = new FlowExporter({ format, sampling: cfg.sampling, bootMs: cfg.startMs - HOUR, domain: 1 });
  const pcap = new PcapWriter(path);
  let pending: ExportRecord[] = [];
  const total = cfg.days * 24;
  let done = 0;
  const flushBefore = (limitMs: number) => {
    pending.sort((a, b) => a.lastMs - b.lastMs);
    let k = 0;
    while (k < pending.length && pending[k].lastMs < limitMs) k++;
    for (let i = 0; i < k; i += exp.perDatagram) {
      const recs = pending.slice(i, Math.min(k, i + exp.perDatagram));
      // A record leaves the exporter shortly after its last packet.
      const t = recs[recs.length - 1].lastMs + 500;
      pcap.frame(t, udpFrame(exporterIp, collectorIp, 40000, port, exp.encode(recs, t), exp.datagramCount));
      s.records += recs.length;
    }
    pending = pending.slice(k);
  };
  for (const { hourMs, flows: f, order } of hours(world)) {
    flushBefore(hourMs);
    for (let k = 0; k < order.length; k++) {
      const i = order[k];
      s.flows++;
      if (f.packets[i] > 0) {
        pending.push({
          firstMs: f.firstMs[i],
          lastMs: f.lastMs[i],
          src: f.src[i],
          dst: f.dst[i],
          srcPort: f.srcPort[i],
          dstPort: f.dstPort[i],
          proto: f.proto[i],
          tcpFlags: f.tcpFlags[i],
          packets: f.packets[i],
          bytes: f.bytes[i],
        });
      }
      if (f.revPackets[i] > 0) {
        pending.push({
          firstMs: f.firstMs[i] + 1,
          lastMs: f.lastMs[i],
          src: f.dst[i],
          dst: f.src[i],
          srcPort: f.dstPort[i],
          dstPort: f.srcPort[i],
          proto: f.proto[i],
          tcpFlags: f.tcpFlags[i],
          packets: f.revPackets[i],
          bytes: f.revBytes[i],
        });
      }
    }
    opts.onProgress?.(++done, total);
  }
  flushBefore(Infinity);
  s.datagrams = exp.datagramCount;
  s.packets = pcap.packets;
  pcap.close();
}

interface FrameSink {
  frame(timeMs: number, frame: Buffer): void;
}

/** A TCP conversation written packet by packet (sequence numbers kept per direction). */
const EMPTY = Buffer.alloc(0);

class TcpConversation {
  private seqC: number;
  private seqS: number;
  private id = 0;

  constructor(
    private readonly pcap: FrameSink,
    private readonly client: number,
    private readonly server: number,
    private readonly cport: number,
    private readonly sport: number,
    rng: Rng,
  ) {
    this.seqC = rng.u32();
    this.seqS = rng.u32();
  }

  /** One segment in either direction; SYN and FIN take a sequence number, data its length. */
  private segment(t: number, fromClient: boolean, flags: number, data: Buffer = EMPTY): void {
    const [src, dst, sp, dp] = fromClient
      ? [this.client, this.server, this.cport, this.sport]
      : [this.server, this.client, this.sport, this.cport];
    const seq = fromClient ? this.seqC : this.seqS;
    // The opening SYN acknowledges nothing yet.
    const ack = flags === TCP_SYN ? 0 : fromClient ? this.seqS : this.seqC;
    this.pcap.frame(t, tcpFrame(src, dst, sp, dp, seq, ack, flags, data, this.id++));
    const used = data.length + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0);
    if (fromClient) this.seqC += used;
    else this.seqS += used;
  }

  open(t: number): void {
    this.segment(t, true, TCP_SYN);
    this.segment(t + 20, false, TCP_SYN | TCP_ACK);
    this.segment(t + 21, true, TCP_ACK);
  }

  send(t: number, fromClient: boolean, data: Buffer): void {
    for (let off = 0; off < data.length || off === 0; off += 1448) {
      this.segment(t, fromClient, TCP_ACK | TCP_PSH, data.subarray(off, off + 1448));
      if (data.length === 0) break;
    }
  }

  close(t: number): void {
    this.segment(t, true, TCP_FIN | TCP_ACK);
    this.segment(t + 20, false, TCP_FIN | TCP_ACK);
    this.segment(t + 21, true, TCP_ACK);
  }
}

/**
 * A packet capture with payloads: every miner's Stratum session over the capture window (from its
 * first day), and the TCP flows of a few background hosts in the first hours after onset.
 */
function writeCapture(world: World, path: string, opts: WriteOptions, s: WriteSummary): void {
  const cfg = world.config;
  const pcap = new PcapWriter(path);
  const seconds = (opts.captureHours ?? 2) * 3600;
  // Frames must be in time order: collect (time, frame) per conversation, then merge.
  const frames: { t: number; f: Buffer }[] = [];
  const collector: FrameSink = { frame: (t, f) => frames.push({ t, f }) };
  for (const m of world.crypto) {
    if (m.kind !== 'miner') continue;
    const rng = new Rng(cfg.seed, 40, m.host);
    const msgs = stratumSession(
      {
        coin: m.coin,
        wallet: m.wallet!,
        worker: m.worker!,
        difficulty: m.difficulty!,
        shareIntervalS: m.shareIntervalS!,
      },
      m.startMs + 100,
      seconds,
      rng,
    );
    const conv = new TcpConversation(
      collector,
      m.ip,
      m.pool!.ip,
      32768 + (rng.u32() % 28000),
      m.pool!.port,
      rng,
    );
    conv.open(m.startMs);
    for (const msg of msgs) conv.send(msg.timeMs, msg.fromClient, Buffer.from(msg.line + '\n'));
    conv.close(m.startMs + seconds * 1000 + 100);
    s.flows++;
  }
  // Background: the first `captureHosts` non-crypto hosts, their TCP flows in the window.
  const sample = new Set(
    world.hosts
      .filter((h) => !world.cryptoByHost.has(h.index))
      .slice(0, opts.captureHosts ?? 3)
      .map((h) => h.ip),
  );
  const from = cfg.onsetMs ?? cfg.startMs;
  for (const { hourMs, flows: f } of hours(world, undefined, { fromMs: from, toMs: from + seconds * 1000 })) {
    for (let i = 0; i < f.length; i++) {
      if (f.proto[i] !== 6 || !sample.has(f.src[i])) continue;
      const rng = new Rng(cfg.seed, 41, i, hourMs / HOUR);
      const conv = new TcpConversation(collector, f.src[i], f.dst[i], f.srcPort[i], f.dstPort[i], rng);
      const t0 = f.firstMs[i];
      const dur = Math.max(50, f.lastMs[i] - t0);
      conv.open(t0);
      const fwd =
        f.payloadFwd[i] ??
        Buffer.alloc(Math.max(0, Math.min(8 * 1448, f.bytes[i] - 52 * f.packets[i])), 0x61);
      const rev =
        f.payloadRev[i] ??
        Buffer.alloc(Math.max(0, Math.min(32 * 1448, f.revBytes[i] - 52 * f.revPackets[i])), 0x62);
      conv.send(t0 + dur * 0.1, true, fwd);
      if (rev.length > 0) conv.send(t0 + dur * 0.5, false, rev);
      conv.close(t0 + dur);
      s.flows++;
    }
  }
  frames.sort((a, b) => a.t - b.t);
  for (const x of frames) pcap.frame(x.t, x.f);
  s.packets = pcap.packets;
  pcap.close();
}
