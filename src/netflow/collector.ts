/**
 * Live NetFlow/IPFIX collector: a worker thread receives and decodes datagrams (udp-receiver.ts);
 * this side enriches each batch and appends it to a live SourceWriter, checkpointing at most once a
 * second, and commits on stop. The socket never waits for the store: batches queue in memory.
 */
import type { BatchHook } from '../flow/ingest.js';
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
import { Diagnostics, type InputProblem } from '../flow/diagnostics.js';
import { emptyEnrichment, type FlowEnricher } from '../flow/enrichment.js';
import { FlowBatch } from '../flow/record.js';
import type { FlowStore, SourceWriter } from '../store/store.js';
import type { ReceiverConfig, ReceiverMessage, TransferredBatch } from './udp-receiver.js';

export interface CollectOptions {
  /** udp://127.0.0.1:2055 or udp://[::1]:2055 (port 0: any free port). */
  listen: string;
  store: FlowStore;
  enricher?: FlowEnricher;
  /** Called with every stored batch (detection plugs in here), as in file ingest. */
  hooks?: BatchHook[];
  /** Stop after this many datagrams (0: no limit). */
  maxDatagrams?: number;
  /** Requested socket receive buffer (bytes); the kernel may grant less (net.core.rmem_max). */
  recvBufferBytes?: number;
  batchSize?: number;
  /** Partial batches are handed over at least this often (ms). */
  flushMs?: number;
  /** Data sets waiting for their template are dropped (and counted) after this long (ms). */
  pendingMs?: number;
  onProblem?: (p: InputProblem) => void;
  /**
   * Nice value for every thread of the process but the receiver's (the storing main thread,
   * DuckDB's and libuv's threads) once the receiver runs, so that under CPU pressure the scheduler
   * favours receiving over storing (Linux: per thread; unprivileged, one-way).
   */
  storeNice?: number;
}

export interface CollectResult {
  source: string;
  datagrams: number;
  flows: number;
  diagnostics: Diagnostics;
  /** Sampling interval per exporter address, from options data or v5 headers. */
  samplingByExporter: Record<string, number>;
}

export interface ListenAddress {
  host: string;
  port: number;
  ipv6: boolean;
}

export function parseListen(url: string): ListenAddress {
  const m = /^udp:\/\/(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+|localhost)):(\d{1,5})$/.exec(url);
  if (!m) throw new Error(`--listen wants udp://HOST:PORT or udp://[IPv6]:PORT, got ${JSON.stringify(url)}`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`port ${port} out of range in ${url}`);
  if (m[1] !== undefined) return { host: m[1], port, ipv6: true };
  return { host: m[2] === 'localhost' ? '127.0.0.1' : m[2], port, ipv6: false };
}

function startReceiver(cfg: ReceiverConfig): Worker {
  const workerData = { netflowReceiver: cfg };
  if (!import.meta.url.endsWith('.ts'))
    return new Worker(new URL('./udp-receiver.js', import.meta.url), { workerData });
  // Running from sources under tsx: worker threads do not inherit its loader, so register it first.
  const url = new URL('./udp-receiver.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

function batchFrom(t: TransferredBatch, source: string): FlowBatch {
  const b = new FlowBatch(0, source);
  Object.assign(b, t.cols, { capacity: t.length, length: t.length, exporters: t.exporters });
  b.payloadFwd = new Array(t.length).fill(null);
  b.payloadRev = new Array(t.length).fill(null);
  // NetFlow carries no payload: no segment times either.
  b.timesFwdLen = new Uint32Array(t.length);
  b.timesRevLen = new Uint32Array(t.length);
  b.timesFwdAt = new Uint32Array(t.length);
  b.timesRevAt = new Uint32Array(t.length);
  return b;
}

export class NetflowCollector {
  readonly diagnostics: Diagnostics;
  /** Resolves when the collector has stopped and everything received is committed. */
  readonly done: Promise<CollectResult>;
  source = '';
  port = 0;
  /** Receive buffer the kernel granted (Linux reports twice the usable size). */
  recvBuffer = 0;
  flows = 0;
  private writer!: SourceWriter;
  private chain: Promise<void> = Promise.resolve();
  private lastCheckpoint = 0;
  private receiverTid: number | undefined;
  private readonly reniced = new Set<number>();
  private samplingByExporter: Record<string, number> = {};
  private resolveDone!: (r: CollectResult) => void;
  private rejectDone!: (e: unknown) => void;
  private writeError: unknown = null;
  private finishing = false;

  private constructor(
    private readonly o: CollectOptions,
    private readonly worker: Worker,
  ) {
    this.diagnostics = new Diagnostics(100, o.onProblem);
    this.done = new Promise((res, rej) => {
      this.resolveDone = res;
      this.rejectDone = rej;
    });
  }

  /** Bind the socket, open the live source in the store, and start collecting. */
  static async start(o: CollectOptions): Promise<NetflowCollector> {
    const addr = parseListen(o.listen);
    const cfg: ReceiverConfig = {
      host: addr.host,
      port: addr.port,
      ipv6: addr.ipv6,
      recvBufferBytes: o.recvBufferBytes ?? 32 * 1024 * 1024,
      batchSize: o.batchSize ?? 4096,
      maxDatagrams: o.maxDatagrams ?? 0,
      flushMs: o.flushMs ?? 1000,
      pendingMs: o.pendingMs ?? 5000,
      maxProblemsForwarded: 1000,
    };
    const worker = startReceiver(cfg);
    const c = new NetflowCollector(o, worker);
    const ready = await new Promise<{ port: number; recvBuffer: number; tid?: number }>((res, rej) => {
      const onMsg = (m: ReceiverMessage) => {
        if (m.t === 'ready') {
          worker.off('message', onMsg);
          res(m);
        } else if (m.t === 'error') {
          worker.off('message', onMsg);
          rej(new Error(`cannot listen on ${o.listen}: ${m.message}`));
        }
      };
      worker.on('message', onMsg);
      worker.once('error', rej);
    });
    c.receiverTid = ready.tid;
    c.renice();
    c.port = ready.port;
    c.recvBuffer = ready.recvBuffer;
    c.source = `udp://${addr.ipv6 ? `[${addr.host}]` : addr.host}:${ready.port}`;
    c.writer = await o.store.beginSource({ name: c.source, kind: 'netflow-live' }, { live: true });
    c.lastCheckpoint = Date.now();
    worker.on('message', (m: ReceiverMessage) => c.onMessage(m));
    worker.on('error', (e) => c.fail(e));
    // A receiver that dies without saying 'done' still gets what arrived committed.
    worker.on('exit', () => c.finishOnce());
    return c;
  }

  /**
   * Lower the priority of every thread of the process but the receiver's (`storeNice`): the main
   * thread that stores, DuckDB's worker threads, libuv's pool. Linux applies setpriority per
   * thread id; threads started later are caught at the next checkpoint. Elsewhere (no
   * /proc/self/task) only the calling thread is lowered.
   */
  private renice(): void {
    const nice = this.o.storeNice;
    if (nice === undefined) return;
    let tids: number[] = [0];
    if (this.receiverTid !== undefined) {
      try {
        tids = readdirSync('/proc/self/task')
          .map(Number)
          .filter((t) => t !== this.receiverTid && !this.reniced.has(t));
      } catch {
        // no procfs: the calling thread only
      }
    }
    for (const t of tids) {
      try {
        setPriority(t, nice);
        if (t !== 0) this.reniced.add(t);
      } catch {
        // not permitted, or the thread has ended: it keeps its priority
      }
    }
  }

  private onMessage(m: ReceiverMessage): void {
    switch (m.t) {
      case 'batch': {
        const batch = batchFrom(m.batch, this.source);
        this.chain = this.chain.then(() => this.store(batch));
        break;
      }
      case 'problem':
        this.o.onProblem?.(m.problem);
        if (this.diagnostics.problems.length < this.diagnostics.keep)
          this.diagnostics.problems.push(m.problem);
        break;
      case 'counts':
        // The receiver sends its running totals; they replace ours.
        this.diagnostics.counts.clear();
        for (const [k, v] of Object.entries(m.counts)) this.diagnostics.counts.set(k, v);
        this.samplingByExporter = m.samplingByExporter;
        break;
      case 'error':
        this.fail(new Error(m.message));
        break;
      case 'done':
        this.finishOnce();
        break;
    }
  }

  private async store(batch: FlowBatch): Promise<void> {
    if (this.writeError) return;
    try {
      const enrichment = this.o.enricher ? this.o.enricher.enrich(batch) : emptyEnrichment(batch.length);
      const firstId = await this.writer.append(batch, enrichment);
      for (const hook of this.o.hooks ?? []) await hook(batch, enrichment, firstId);
      this.flows += batch.length;
      const now = Date.now();
      if (now - this.lastCheckpoint >= 1000) {
        this.lastCheckpoint = now;
        await this.writer.checkpoint();
        this.renice();
      }
    } catch (e) {
      this.writeError = e;
    }
  }

  private finishOnce(): void {
    if (this.finishing) return;
    this.finishing = true;
    this.chain = this.chain.then(() => this.finish());
  }

  private async finish(): Promise<void> {
    try {
      if (this.writeError) throw this.writeError;
      this.diagnostics.counts.set('flows.stored', this.flows);
      await this.writer.checkpoint();
      await this.writer.commit(this.diagnostics);
      this.resolveDone({
        source: this.source,
        datagrams: this.diagnostics.get('datagrams'),
        flows: this.flows,
        diagnostics: this.diagnostics,
        samplingByExporter: this.samplingByExporter,
      });
    } catch (e) {
      await this.writer.abort().catch(() => undefined);
      this.rejectDone(e);
    }
  }

  private fail(e: unknown): void {
    this.writeError ??= e;
    this.worker.postMessage({ t: 'stop' });
  }

  /** Stop receiving, store what was received, commit. */
  async stop(): Promise<CollectResult> {
    this.worker.postMessage({ t: 'stop' });
    return this.done;
  }
}
