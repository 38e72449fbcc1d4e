/**
 * Worker thread of the live collector: owns the UDP socket and the decoder, so that storing a batch
 * (DuckDB appends run synchronously on the main thread) never keeps the socket from being drained.
 * Full batches go to the main thread with their column buffers transferred, not copied.
 *
 * What it refuses, it refuses at the socket, before decoding, and counts: datagrams from outside the
 * --exporters allow-list (`datagrams.refused-exporter`) and, while the main thread has its backlog
 * limit of batches not yet stored, every datagram (`datagrams.dropped-backlog`) — memory stays
 * bounded when the store cannot keep up, and the loss is a number rather than a queue that grows
 * until the process dies. The kernel's own drop counter for the socket is read each tick.
 */
import { createSocket, type RemoteInfo } from 'node:dgram';
import { readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { Diagnostics, type InputProblem } from '../flow/diagnostics.js';
import { FlowBatch } from '../flow/record.js';
import { NetflowDecoder } from './decoder.js';
import { SflowDecoder, type SflowAgentStat } from '../sflow/decoder.js';
import type { ExporterStat } from './templates.js';
import { ExporterFilter } from './exporter-filter.js';
import { udpSocketDrops, udpSocketInode } from './socket-drops.js';

export interface ReceiverConfig {
  host: string;
  port: number;
  ipv6: boolean;
  recvBufferBytes: number;
  batchSize: number;
  maxDatagrams: number;
  flushMs: number;
  pendingMs: number;
  /** Problems forwarded verbatim to the main thread (the rest only counted). */
  maxProblemsForwarded: number;
  /** CIDR blocks whose datagrams are decoded; empty: every source. */
  exporters: string[];
  /** Decoder caps (maxExporters, maxDomainsPerExporter, …), spread into the NetflowDecoder options. */
  decoderLimits: Record<string, number>;
  /** Batches handed to the main thread and not yet stored; past this, datagrams are dropped. */
  maxBacklogBatches: number;
  /**
   * Datagrams read from the socket so far (modulo 2^32), stored here after each one for a reader
   * in the same process (a sender that paces itself by what was read: `NetflowCollector.datagramsRead`).
   */
  readCounter?: SharedArrayBuffer;
}

/** Messages from the main thread to the receiver. */
export type ReceiverCommand =
  | { t: 'stop' }
  /** Batches stored; `cols`: a stored batch's columns handed back for reuse (transferred). */
  | { t: 'stored'; batches: number; cols?: Record<string, ArrayBufferView> }
  /**
   * The main thread's current bound (at most maxBacklogBatches), from the store's measured rate;
   * `stall`: past maxBacklogBatches while one store turn stalls (the collector's store buffer pays).
   */
  | { t: 'backlog-limit'; batches: number; stall?: boolean };

export type { ExporterStat } from './templates.js';

/** Messages from the receiver to the main thread. */
export type ReceiverMessage =
  | { t: 'ready'; port: number; address: string; recvBuffer: number; tid?: number }
  | { t: 'error'; message: string }
  | { t: 'batch'; batch: TransferredBatch }
  | { t: 'problem'; problem: InputProblem }
  | {
      t: 'counts';
      counts: Record<string, number>;
      samplingByExporter: Record<string, number>;
      /** Per exporter session, when the decoder keeps them (exporterStats). */
      exporters?: ExporterStat[];
      /** Per sFlow agent (address + sub-agent), once sFlow came in. */
      sflowAgents?: SflowAgentStat[];
    }
  | { t: 'done' };

export interface TransferredBatch {
  length: number;
  exporters: string[];
  cols: Record<string, ArrayBufferView>;
}

export const BATCH_COLUMNS = [
  'firstMs',
  'lastMs',
  'ipVersion',
  'src',
  'dst',
  'srcPort',
  'dstPort',
  'proto',
  'packets',
  'bytes',
  'revPackets',
  'revBytes',
  'tcpFlags',
  'samplingRate',
  'observationDomain',
  'position',
  'exporterIdx',
] as const;

/** This thread's kernel id (Linux: /proc/thread-self → <pid>/task/<tid>), so the main thread can
 * lower every other thread's priority but this one's. */
function threadId(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

function run(cfg: ReceiverConfig): void {
  const port = parentPort!;
  const send = (m: ReceiverMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
  let forwarded = 0;
  const diagnostics = new Diagnostics(0, (p) => {
    if (forwarded++ < cfg.maxProblemsForwarded) send({ t: 'problem', problem: p });
  });
  const sock = createSocket({ type: cfg.ipv6 ? 'udp6' : 'udp4', ipv6Only: cfg.ipv6 });
  const source = () => `udp://${cfg.ipv6 ? `[${cfg.host}]` : cfg.host}:${boundPort}`;
  let boundPort = cfg.port;
  let decoder: NetflowDecoder | null = null;
  // sFlow v5 on the same port: a datagram whose first word is 5 (NetFlow's version is a 16-bit
  // field, so its v5 starts 00 05 and never 00 00 00 05).
  let sflow: SflowDecoder | null = null;
  let datagrams = 0;
  let stopping = false;
  let draining = false;
  let lastMessageAt = 0;
  let timer: NodeJS.Timeout | null = null;
  let backlog = 0;
  let backlogLimit = cfg.maxBacklogBatches;
  let inode: string | null = null;
  const filter = cfg.exporters.length > 0 ? new ExporterFilter(cfg.exporters) : null;
  const readCounter = cfg.readCounter ? new Uint32Array(cfg.readCounter) : null;

  // Batches are reused: a posted batch's columns travel to the main thread and come back once it
  // is stored ('stored' with cols), so the steady state allocates no columns (less GC on both
  // threads). `away` holds batch objects whose columns are out; `ready` those refilled.
  const away: FlowBatch[] = [];
  const ready: FlowBatch[] = [];
  const newBatch = (n: number, src: string): FlowBatch => {
    const b = ready.pop();
    if (!b || b.capacity !== n) return new FlowBatch(n, src);
    b.clear();
    b.source = src;
    return b;
  };
  const postBatch = (b: FlowBatch) => {
    const cols: Record<string, ArrayBufferView> = {};
    const transfer: ArrayBuffer[] = [];
    for (const c of BATCH_COLUMNS) {
      const a = b[c];
      cols[c] = a;
      transfer.push(a.buffer as ArrayBuffer);
    }
    backlog++;
    send({ t: 'batch', batch: { length: b.length, exporters: b.exporters, cols } }, transfer);
    if (away.length < cfg.maxBacklogBatches) away.push(b);
  };
  const postCounts = () => {
    if (inode !== null) {
      const drops = udpSocketDrops(inode);
      if (drops !== null) diagnostics.counts.set('datagrams.kernel-drops', drops);
    }
    const sampling = new Map(decoder ? decoder.templates.samplingByExporter() : []);
    if (sflow) for (const [agent, rate] of sflow.samplingByAgent()) sampling.set(agent, rate);
    const agents = sflow?.agentStats();
    send({
      t: 'counts',
      counts: Object.fromEntries(diagnostics.counts),
      samplingByExporter: Object.fromEntries(sampling),
      exporters: decoder ? decoder.exporterStats() : undefined,
      sflowAgents: agents && agents.length > 0 ? agents : undefined,
    });
  };
  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (timer) clearInterval(timer);
    const finish = () => {
      decoder?.finish();
      sflow?.finish();
      postCounts();
      send({ t: 'done' });
      port.close();
    };
    try {
      sock.close(finish);
    } catch {
      finish();
    }
  };

  sock.on('error', (e) => {
    send({ t: 'error', message: e.message });
    stop();
  });
  sock.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
    if (stopping) return;
    lastMessageAt = Date.now();
    datagrams++;
    if (filter && !filter.allows(rinfo.address)) diagnostics.add('datagrams.refused-exporter');
    else if (backlog >= backlogLimit) diagnostics.add('datagrams.dropped-backlog');
    else if (msg.length >= 4 && msg[0] === 0 && msg[1] === 0 && msg[2] === 0 && msg[3] === 5)
      sflow!.decode(msg, datagrams, lastMessageAt);
    else decoder!.decode(msg, rinfo.address, rinfo.port, datagrams, lastMessageAt);
    if (readCounter) Atomics.store(readCounter, 0, datagrams >>> 0);
    if (cfg.maxDatagrams > 0 && datagrams >= cfg.maxDatagrams) stop();
  });
  // A stop request first reads what the kernel already holds for us: until no datagram has come
  // for 100 ms (at most 1 s), so a sender's last datagrams are not dropped by closing the socket.
  // The cap keeps SIGINT under load within its 5 s promise: a full 4 MiB kernel buffer is read in
  // well under a second, and a sender that never pauses would otherwise hold the stop off.
  const drainThenStop = () => {
    if (draining || stopping) return;
    draining = true;
    const since = Date.now();
    const check = () => {
      const now = Date.now();
      if (now - lastMessageAt >= 100 || now - since >= 1000) stop();
      else setTimeout(check, 20);
    };
    setTimeout(check, 20);
  };
  port.on('message', (m: ReceiverCommand) => {
    if (m.t === 'stop') drainThenStop();
    else if (m.t === 'stored') {
      backlog = Math.max(0, backlog - m.batches);
      const b = m.cols ? away.pop() : undefined;
      if (b && m.cols) {
        Object.assign(b, m.cols);
        ready.push(b);
      }
    } else if (m.t === 'backlog-limit')
      backlogLimit = Math.max(1, m.stall ? m.batches : Math.min(cfg.maxBacklogBatches, m.batches));
  });
  sock.bind(cfg.port, cfg.host, () => {
    boundPort = sock.address().port;
    try {
      sock.setRecvBufferSize(cfg.recvBufferBytes);
    } catch {
      // the kernel refused the size; what it granted is reported below
    }
    inode = udpSocketInode(boundPort);
    const input = {
      source: source(),
      unit: 'datagram' as const,
      diagnostics,
      batchSize: cfg.batchSize,
      onBatch: postBatch,
      newBatch,
    };
    decoder = new NetflowDecoder({ ...cfg.decoderLimits, ...input });
    sflow = new SflowDecoder({ ...input, maxAgents: cfg.decoderLimits.maxExporters });
    timer = setInterval(() => {
      decoder!.expirePending(Date.now(), cfg.pendingMs);
      decoder!.flush();
      sflow!.flush();
      postCounts();
    }, cfg.flushMs);
    send({
      t: 'ready',
      port: boundPort,
      address: cfg.host,
      recvBuffer: sock.getRecvBufferSize(),
      tid: threadId(),
    });
  });
}

if (parentPort && workerData?.netflowReceiver) run(workerData.netflowReceiver as ReceiverConfig);
