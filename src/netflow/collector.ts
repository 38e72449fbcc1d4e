/**
 * Live NetFlow/IPFIX collector: a worker thread receives and decodes datagrams (udp-receiver.ts);
 * this side enriches each batch and appends it to a live SourceWriter, and commits on stop.
 *
 * Durability: the receiver hands over partial batches every `flushMs` (250 ms) and the store
 * commits every `commitMs` (1 s) whether or not traffic continues, so a crash (kill -9) loses at
 * most the flows of the last ~1.5 s plus what waits in the backlog. The socket never waits for the
 * store; instead the batches handed over and not yet stored are bounded, in memory
 * (`maxBacklogBatches`) and in time: the bound shrinks to what the store, at its measured rate,
 * writes in `backlogMs` (750 ms), so a backlog never holds flows for longer than the promise
 * allows and SIGINT never waits long for it. Past the bound the receiver drops datagrams and
 * counts them (`datagrams.dropped-backlog`).
 */
import type { BatchHook } from '../flow/ingest.js';
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
import { Diagnostics, type InputProblem } from '../flow/diagnostics.js';
import { emptyEnrichment, type FlowEnricher } from '../flow/enrichment.js';
import { PlausibleTimeCheck } from '../flow/plausible-time.js';
import { FlowBatch } from '../flow/record.js';
import {
  batchFrom,
  compactBytes,
  compactCopy,
  CopyPool,
  FLOW_COLUMN_BYTES,
  HeldQueue,
  type HeldBatch,
} from './held-batches.js';
import { Spool } from './spool.js';
import type { FlowStore, SourceWriter, Uncommitted } from '../store/store.js';
import { isDiskFull, isPassingFailure, isUnreachable } from '../store/passing-failures.js';
import { DEFAULT_STORE_TIMEOUT_MS, withStoreTimeout } from '../store/request-timeout.js';
import type { SflowAgentStat } from '../sflow/decoder.js';
import {
  BATCH_COLUMNS,
  type ExporterStat,
  type ReceiverCommand,
  type ReceiverConfig,
  type ReceiverMessage,
} from './udp-receiver.js';

/** Defaults, documented in docs/netflow.md ("Durability and bounded memory"). */
export const DEFAULT_FLUSH_MS = 250;
export const DEFAULT_COMMIT_MS = 1000;
/**
 * 64 batches of 4096 flows (~40 MB of columns): the memory bound; the time bound below usually binds
 * first. 16 batches and 500 ms lost 4–7 % at 300 k flows/s (a commit's pause overflowed them);
 * 64 and 750 ms lost none (bench/netflow.ts c, docs/benchmarks.md).
 */
export const DEFAULT_MAX_BACKLOG_BATCHES = 64;
/** The backlog may hold what the store writes in this long at its measured rate (at least 1 batch). */
export const DEFAULT_BACKLOG_MS = 750;
/** Full batches of a collector's start (~130 k flows) whose time bound is WARM_TIME_FACTOR times longer (measure()). */
export const WARM_BATCHES = 32;
const WARM_TIME_FACTOR = 4;

/** A hook that can hold its writes until the collector commits (detect/hook.ts's detection hook). */
interface HoldingHook {
  holdUntilCommit(on?: boolean): void;
  beforeCommit(): Promise<void>;
  discardHeld?(): void;
  seenBefore?(on: boolean): void;
}

/**
 * A store failure that can pass (SourceWriter.recover: DuckDB out of memory while readers' queries
 * hold it; the disk full; a ClickHouse server down or restarting) costs the open commit interval,
 * counted, and collecting goes on. Out of memory for `maxMs` with no commit between stops the
 * collector as any other store failure does (memory that stays short for a minute is not coming
 * back by itself; a restart gives it back). A full disk or a server out of reach is waited out for
 * `waitMaxMs` (default: as long as it takes): space comes back when someone frees it, a server when
 * it has restarted, and a collector that had stopped would not see it; /healthz says "degraded"
 * meanwhile.
 */
export const STORE_RECOVERY = { maxMs: 60_000, waitMaxMs: Infinity };

/**
 * Batches that arrive while a store failure is not yet recovered from (a full disk, a ClickHouse
 * server away) are held in memory up to this many bytes of columns and stored, in order, once the
 * store writes again; past it they are lost (counted in flows.lost-store). A NetFlow flow takes 101
 * bytes of columns, so 256 MiB holds ~2.6 M flows: ~130 s at 20 k flows/s.
 */
export const DEFAULT_STORE_BUFFER_BYTES = 256 * 2 ** 20;

/**
 * What was held is stored and committed in slices: of `bytes` of columns when there is a spool (its
 * records can outgrow memory, and a collector killed while storing them stores again only the
 * slice it was in), and of `ms` of storing (null: the commit interval or half the backlog's time
 * bound, the shorter), after which what arrives is held behind the rest instead of waiting for all
 * of it (replayHeld).
 */
export const REPLAY_SLICE: { bytes: number; ms: number | null } = { bytes: 64 * 2 ** 20, ms: null };

export { DEFAULT_STORE_TIMEOUT_MS };

/**
 * Trying to recover from a store failure (SourceWriter.recover) is awaited this long; a try that
 * takes longer (a server that does not answer) goes on in the background while what arrives is
 * held, and is looked at again with the next batch or commit tick.
 */
export const RECOVER_WAIT_MS = 100;

/**
 * A store turn (a batch, a commit) that runs longer than the backlog's time bound (`backlogMs`) is
 * a stall, not slowness: a request waiting on a server that does not answer (until --store-timeout
 * gives up on it), a commit held up. While it lasts, the receiver may queue batches past its bound,
 * in the memory of --store-buffer (half of what it has free: a batch queued now may be copied into
 * it if the turn fails), rather than drop them; once the turn has ended the bound comes back down
 * as what was queued drains (held at once when the turn failed; endStall). Looked at every
 * STALL_CHECK_MS.
 */
export const STALL_CHECK_MS = 50;

type Recovered = { discarded: number; committed: number };

/** A try to recover (tryRecover) and, once it has ended, its outcome. */
interface Probe {
  done: Promise<void>;
  settled: boolean;
  value: Recovered | null;
  failed: boolean;
  error: unknown;
}

function isHolding(h: BatchHook): h is BatchHook & HoldingHook {
  const x = h as Partial<HoldingHook>;
  return typeof x.holdUntilCommit === 'function' && typeof x.beforeCommit === 'function';
}

export interface CollectOptions {
  /** udp://127.0.0.1:2055 or udp://[::1]:2055 (port 0: any free port). */
  listen: string;
  /** Where flows go (the collector begins a live source in it; discardUncommitted: the spool's undo). */
  store: Pick<FlowStore, 'beginSource' | 'discardUncommitted'>;
  enricher?: FlowEnricher;
  /**
   * Called with every stored batch (detection plugs in here), as in file ingest. A hook that has
   * `holdUntilCommit` and `beforeCommit` (detect/hook.ts) is told to hold its writes, and asked to
   * write them before each commit: one write a second instead of one a batch.
   */
  hooks?: BatchHook[];
  /** Stop after this many datagrams (0: no limit). */
  maxDatagrams?: number;
  /** Requested socket receive buffer (bytes); the kernel may grant less (net.core.rmem_max). */
  recvBufferBytes?: number;
  batchSize?: number;
  /** Partial batches are handed over at least this often (ms). */
  flushMs?: number;
  /** The store commits at least this often (ms), with or without new flows. */
  commitMs?: number;
  /** Batches received and not yet stored; past this the receiver drops datagrams (counted). */
  maxBacklogBatches?: number;
  /** …and no more than the store writes in this long (ms) at its measured rate (Infinity: no time bound). */
  backlogMs?: number;
  /** Full batches at the start whose time bound is longer, while the store warms up (default WARM_BATCHES). */
  warmBatches?: number;
  /**
   * Bytes of flow columns held in memory while a store failure is not yet recovered from, stored
   * once it is (default DEFAULT_STORE_BUFFER_BYTES; 0: what arrives meanwhile is lost, counted).
   */
  storeBufferBytes?: number;
  /** Each store request is given up on after this long (ms; 0: never). DEFAULT_STORE_TIMEOUT_MS. */
  storeTimeoutMs?: number;
  /**
   * A directory where what is held while the store fails is also written (spool.ts), so that a
   * collector stopped or killed meanwhile loses none of it, and an outage longer than the memory
   * bound is still kept on disk; the next collector on it stores what is left first.
   */
  spoolDir?: string;
  /** Bound of the spool file in bytes (default DEFAULT_SPOOL_BYTES). */
  spoolBytes?: number;
  /** Exporter allow-list (CIDR blocks, IPv4/IPv6); empty or absent: every source. */
  exporters?: string[];
  /** Decoder caps passed through: maxExporters, maxDomainsPerExporter, maxTemplatesPerSession, … */
  decoderLimits?: Record<string, number>;
  /** Data sets waiting for their template are dropped (and counted) after this long (ms). */
  pendingMs?: number;
  onProblem?: (p: InputProblem) => void;
  /**
   * Called with a line when the store fails and the collector rolls the interval back and goes on,
   * and with one when a commit succeeds again after such failures.
   */
  onStoreFailure?: (message: string) => void;
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
  /** Per exporter session (empty when the decoder does not keep statistics). */
  exporters: ExporterStat[];
  /** Per sFlow agent (address + sub-agent id); empty when no sFlow came. */
  sflowAgents: SflowAgentStat[];
}

/** What the metrics endpoint shows: a snapshot of a running collector. */
export interface CollectorMetrics {
  source: string;
  startedMs: number;
  /** Flows appended to the store, and of those, the ones committed (durable). */
  flowsStored: number;
  flowsCommitted: number;
  /** Wall-clock time of the last commit (ms); 0 before the first. */
  lastCommitMs: number;
  /** Batches received and not yet stored. */
  backlogBatches: number;
  /** The receiver's and decoder's counters, and the store's own (`rollup.merges-failed`, …). */
  counts: Record<string, number>;
  /** The last error of the store's background work (a rollup merge or checkpoint), if any. */
  storeError?: string | null;
  /** The error that stopped storing (the collector then stops), if any. */
  failed?: string | null;
  /**
   * The last store failure recovered from (its interval rolled back, collecting going on), while
   * no commit has succeeded since: /healthz says "degraded".
   */
  storeFailing?: string | null;
  exporters: ExporterStat[];
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

export class NetflowCollector {
  readonly diagnostics: Diagnostics;
  /** Resolves when the collector has stopped and everything received is committed. */
  readonly done: Promise<CollectResult>;
  source = '';
  port = 0;
  /** Receive buffer the kernel granted (Linux reports twice the usable size). */
  recvBuffer = 0;
  flows = 0;
  private readCounter: Uint32Array<ArrayBufferLike> = new Uint32Array(1);
  private flowsCommitted = 0;
  private readonly startedMs = Date.now();
  private writer!: SourceWriter;
  private chain: Promise<void> = Promise.resolve();
  private lastCheckpoint = 0;
  private backlog = 0;
  /** Store speed (flows per ms, moving average) and the backlog limit last sent to the receiver. */
  private flowsPerMs = 0;
  /** Flows in a measured batch (moving average): partial batches on a quiet network. */
  private batchFlows = 0;
  private warm = 0;
  private backlogLimit = 0;
  private commitQueued = false;
  private commitTimer: NodeJS.Timeout | null = null;
  private exporterStats: ExporterStat[] = [];
  private times = new PlausibleTimeCheck('', 'datagram');
  private countersCommitted = '';
  private receiverTid: number | undefined;
  private readonly reniced = new Set<number>();
  private samplingByExporter: Record<string, number> = {};
  /** The enricher, in the form that names each AS organisation once (FlowEnricher.forOneWriter). */
  private readonly enricher: FlowEnricher | undefined;
  /** AS organisations handed to the store (onlyNewOrgs). */
  private readonly orgsStored = new Map<number, string>();
  private sflowAgents: SflowAgentStat[] = [];
  private resolveDone!: (r: CollectResult) => void;
  private rejectDone!: (e: unknown) => void;
  private writeError: unknown = null;
  /** Flows of batches that failed to store or came after a failure (none of them kept). */
  private unstored = 0;
  /**
   * Store failures recovered from (recoverStore): intervals rolled back and flows lost with them;
   * since when it has been failing (no commit since), its last words, and the failure not yet
   * recovered from (nothing is appended meanwhile).
   */
  private recovered = {
    intervals: 0,
    flows: 0,
    since: 0,
    failing: null as string | null,
    pending: null as unknown,
    /** Flows held while it failed and stored once it wrote again, since the failure began. */
    replayed: 0,
    /** The open interval's flows, counted lost while the store has not yet said how many it dropped. */
    provisional: 0,
  };
  /**
   * Copies of the open interval's batches (stored again if the store rolls it back), and batches
   * that arrived while `recovered.pending` or before what was held could be stored (hold()): stored
   * in order once the store recovers (replayHeld()). Both together within storeBufferBytes.
   */
  private interval = new HeldQueue();
  private readonly copies = new CopyPool();
  private held = new HeldQueue();
  /** Flows held and then stored, since the start (`flows.held-stored`). */
  private heldStored = 0;
  /** When storing what was held last failed (ms): tried again a commit interval later. */
  private replayFailedAt = 0;
  /** What is held, on disk too (spoolDir). */
  private spool: Spool | null = null;
  /** Flows a collector before this one left in the spool, and how many of them are stored. */
  private fromSpool = { left: 0, stored: 0, said: false };
  private readonly fromBefore = new WeakSet<HeldBatch>();
  /** What a collector before this one said the store may hold uncommitted: deleted before replaying. */
  private undoBefore: Uncommitted[] = [];
  /** The undo list last written to the spool's state. */
  private undoSaid = '[]';
  private finishing = false;
  /** A try to recover from a store failure still running (tryRecover). */
  private probe: Probe | null = null;
  /** When the running store turn began (performance.now()); 0 between turns. */
  private turnStart = 0;
  /** The receiver's bound while a turn stalls (0: not stalling); see STALL_CHECK_MS. */
  private stallLimit = 0;
  /** The turn (its start) whose stall set stallLimit: one stall a turn. */
  private stallTurn = 0;
  private stallTimer: NodeJS.Timeout | null = null;
  /** Turns that stalled (`store.stalls`). */
  private stalls = 0;

  private constructor(
    private readonly o: CollectOptions,
    private readonly worker: Worker,
  ) {
    this.diagnostics = new Diagnostics(100, o.onProblem);
    this.enricher = o.enricher?.forOneWriter?.() ?? o.enricher;
    this.done = new Promise((res, rej) => {
      this.resolveDone = res;
      this.rejectDone = rej;
    });
    // A failure ends `done` whether or not anyone waits on it yet (`serve --collect` waits only
    // when it stops): handled here so that it never becomes an unhandled rejection, which would
    // end the whole process. Whoever awaits `done` still gets the error.
    this.done.catch(() => undefined);
  }

  /** Bind the socket, open the live source in the store, and start collecting. */
  static async start(o: CollectOptions): Promise<NetflowCollector> {
    const addr = parseListen(o.listen);
    // The spool first: a directory another collector uses is refused before anything starts.
    const spooled = o.spoolDir ? Spool.open(o.spoolDir, o.spoolBytes) : null;
    const cfg: ReceiverConfig = {
      host: addr.host,
      port: addr.port,
      ipv6: addr.ipv6,
      recvBufferBytes: o.recvBufferBytes ?? 32 * 1024 * 1024,
      batchSize: o.batchSize ?? 4096,
      maxDatagrams: o.maxDatagrams ?? 0,
      flushMs: o.flushMs ?? DEFAULT_FLUSH_MS,
      pendingMs: o.pendingMs ?? 5000,
      maxProblemsForwarded: 1000,
      exporters: o.exporters ?? [],
      decoderLimits: o.decoderLimits ?? {},
      maxBacklogBatches: o.maxBacklogBatches ?? DEFAULT_MAX_BACKLOG_BATCHES,
      readCounter: new SharedArrayBuffer(4),
    };
    let worker: Worker;
    try {
      worker = startReceiver(cfg);
    } catch (e) {
      spooled?.spool.close();
      throw e;
    }
    const c = new NetflowCollector(o, worker);
    if (spooled) {
      c.spool = spooled.spool;
      for (const p of spooled.problems) c.onSpoolProblem(p);
      // What a collector before this one held and did not store: stored first, in order.
      for (const ref of spooled.left) {
        const h: HeldBatch = { batch: null, flows: ref.flows, bytes: 0, seen: false, ref };
        c.fromBefore.add(h);
        c.held.push(h);
      }
      c.fromSpool.left = c.held.flows;
      c.undoBefore = [...spooled.undo];
      c.undoSaid = JSON.stringify(c.undoBefore);
    }
    try {
      return await c.begin(cfg, addr, o);
    } catch (e) {
      c.spool?.close();
      throw e;
    }
  }

  private async begin(
    cfg: ReceiverConfig,
    addr: ReturnType<typeof parseListen>,
    o: CollectOptions,
  ): Promise<NetflowCollector> {
    const worker = this.worker;
    this.readCounter = new Uint32Array(cfg.readCounter!);
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
    this.receiverTid = ready.tid;
    this.renice();
    this.port = ready.port;
    this.recvBuffer = ready.recvBuffer;
    this.source = `udp://${addr.ipv6 ? `[${addr.host}]` : addr.host}:${ready.port}`;
    this.times = new PlausibleTimeCheck(this.source, 'datagram');
    this.writer = await withStoreTimeout(this.storeTimeout, () =>
      o.store.beginSource({ name: this.source, kind: 'netflow-live' }, { live: true }),
    );
    for (const h of o.hooks ?? []) if (isHolding(h)) h.holdUntilCommit();
    this.lastCheckpoint = Date.now();
    // Commit on a clock, not only when a batch arrives: flows received before a quiet period
    // would otherwise stay uncommitted until traffic resumes (and be lost to a crash meanwhile).
    const commitMs = o.commitMs ?? DEFAULT_COMMIT_MS;
    // The spool's records go to the disk on the same clock (a power loss costs at most that much).
    this.commitTimer = setInterval(
      () => {
        this.spool?.sync();
        this.queueCommit(commitMs);
      },
      Math.max(10, Math.floor(commitMs / 2)),
    );
    this.stallTimer = setInterval(() => this.checkStall(), STALL_CHECK_MS);
    worker.on('message', (m: ReceiverMessage) => this.onMessage(m));
    worker.on('error', (e) => this.fail(e));
    // A receiver that dies without saying 'done' still gets what arrived committed.
    worker.on('exit', () => this.finishOnce());
    return this;
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

  private get storeTimeout(): number {
    return this.o.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
  }

  /** Work on the store, in turn, each request it sends bounded by the store timeout. */
  private queue(work: () => Promise<void>): void {
    this.chain = this.chain.then(async () => {
      this.turnStart = performance.now();
      try {
        await withStoreTimeout(this.storeTimeout, work);
      } finally {
        this.turnStart = 0;
        this.endStall();
      }
    });
  }

  /** A turn running past the backlog's time bound lets the receiver queue more (STALL_CHECK_MS). */
  private checkStall(): void {
    if (!this.turnStart || this.finishing || this.stallTurn === this.turnStart) return;
    if (performance.now() - this.turnStart < (this.o.backlogMs ?? DEFAULT_BACKLOG_MS)) return;
    const free =
      (this.o.storeBufferBytes ?? DEFAULT_STORE_BUFFER_BYTES) - this.held.bytes - this.interval.bytes;
    const batches = Math.floor(free / 2 / ((this.o.batchSize ?? 4096) * FLOW_COLUMN_BYTES));
    // Past the usual bound, or past what an earlier stall's queue still holds (endStall).
    if (
      batches <=
      (this.stallLimit || this.backlogLimit || (this.o.maxBacklogBatches ?? DEFAULT_MAX_BACKLOG_BATCHES))
    )
      return;
    this.stallTurn = this.turnStart;
    this.stallLimit = batches;
    this.stalls++;
    this.command({ t: 'backlog-limit', batches, stall: true });
  }

  /**
   * At the end of each turn after a stall: the bound comes down to what is still queued plus the
   * usual bound, and never goes up again, until it is the usual bound (the stall is over). Put
   * back at once, it dropped what arrived while the stall's queue drained (collector-limits.test.ts,
   * "after a stalled turn …"); held until the queue had drained, a store slower than the stream
   * would have kept the stall's bound for good.
   */
  private endStall(): void {
    if (!this.stallLimit) return;
    const usual = this.backlogLimit || (this.o.maxBacklogBatches ?? DEFAULT_MAX_BACKLOG_BATCHES);
    const limit = this.finishing ? usual : Math.min(this.stallLimit, Math.max(usual, this.backlog + usual));
    if (limit === this.stallLimit) return;
    this.stallLimit = limit > usual ? limit : 0;
    this.command({ t: 'backlog-limit', batches: limit, stall: limit > usual });
  }

  private command(m: ReceiverCommand, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(m, transfer);
  }

  /** Queue a commit behind the batches already queued, unless one is queued or one was recent. */
  private queueCommit(commitMs: number): void {
    if (this.commitQueued || this.finishing || Date.now() - this.lastCheckpoint < commitMs) return;
    this.commitQueued = true;
    this.queue(async () => {
      this.commitQueued = false;
      if (this.writeError || this.finishing) return;
      try {
        // A failure not yet recovered from: no interval is open to commit into until it is.
        const pending = this.recovered.pending;
        if (pending && !(await this.recoverStore(pending, 0))) return this.fail(pending);
        if (!(await this.replayHeld())) return;
        await this.checkpoint();
      } catch (e) {
        if (!(await this.recoverStore(e, 0))) this.fail(e);
      }
    });
  }

  /** Commits the open interval; `say`: tell onStoreFailure when the store writes again after failing. */
  private async checkpoint(say = true): Promise<void> {
    const flows = this.flows;
    // The counters so far go with every commit (so a kill -9 keeps them with the flows), and a
    // commit happens when flows or counters changed.
    this.ownCounts();
    if (this.exporterStats.length > 0) this.diagnostics.details.exporters = this.exporterStats;
    if (this.sflowAgents.length > 0) this.diagnostics.details.sflowAgents = this.sflowAgents;
    const counters = JSON.stringify(this.diagnostics.stored());
    await this.hooksBeforeCommit();
    if (flows !== this.flowsCommitted || counters !== this.countersCommitted) {
      await this.writer.checkpoint(this.diagnostics);
      this.countersCommitted = counters;
    }
    this.flowsCommitted = flows;
    // Committed: the interval's copies are not needed any more; their columns serve the next ones.
    for (const h of this.interval.items) if (h.pooled && h.batch) this.copies.release(h.batch);
    this.interval.clear();
    this.lastCheckpoint = Date.now();
    this.renice();
    // A slice of what was held (replayHeld): the spell of failing is over once all of it is stored.
    if (!say) return;
    const r = this.recovered;
    if (r.failing !== null)
      this.o.onStoreFailure?.(
        `the store is writing again after ${((Date.now() - r.since) / 1000).toFixed(1)} s of failing (${r.failing}); ` +
          `${r.replayed} flows held ${this.spool ? `in memory and in ${this.spool.path}` : 'in memory'} while it failed (the interval it rolled back and what arrived since) are stored now; ` +
          `${r.flows} flows lost with ${r.intervals} failed commit interval(s) so far (flows.lost-store)`,
      );
    r.since = 0;
    r.failing = null;
    r.replayed = 0;
  }

  /** Once what a collector before this one left in the spool is stored: said once. */
  private sayFromSpool(): void {
    const f = this.fromSpool;
    if (f.said || f.left === 0 || f.stored < f.left) return;
    f.said = true;
    this.o.onStoreFailure?.(
      `${f.stored} flows a collector before this one held in ${this.spool?.path} (the store was failing when it stopped) are stored now`,
    );
  }

  /**
   * Fold one stored batch into the store's measured speed and, when the limit it implies changes,
   * tell the receiver: the backlog holds no more than `backlogMs` of the store's work.
   */
  private measure(flows: number, ms: number): void {
    if (flows < 64) return; // partial batches of a quiet network say little about speed
    // The first full batch pays for the appender and a cold JIT: it would halve the estimate.
    if (this.warm++ === 0) return;
    const rate = flows / Math.max(ms, 0.01);
    this.flowsPerMs = this.flowsPerMs === 0 ? rate : 0.8 * this.flowsPerMs + 0.2 * rate;
    this.batchFlows = this.batchFlows === 0 ? flows : 0.8 * this.batchFlows + 0.2 * flows;
    // The limit counts batches of the size that arrive: on a network quiet enough that partial
    // batches come (every flushMs), a batch's time is mostly the request's, and counting full
    // batches at that speed set the limit to 1 — a turn of two datagrams' time then dropped the
    // second (collector-limits.test.ts, "on a quiet network …"; seen in the black-hole test).
    const batchSize = Math.min(this.o.batchSize ?? 4096, Math.max(64, this.batchFlows));
    const max = this.o.maxBacklogBatches ?? DEFAULT_MAX_BACKLOG_BATCHES;
    // The next ones are still slow (60–70 ms for a batch that later takes 10: the JIT, the first
    // segment): their speed set the limit to a fifth of its bound just as a stream at full rate
    // started, and 300 k flows/s lost 5–30 k flows in its first second — what a collector
    // restarted under load meets every time. So the first WARM_BATCHES may hold WARM_TIME_FACTOR
    // times the time bound (3 s by default: a crash in them loses up to that much more).
    const warming = this.warm <= (this.o.warmBatches ?? WARM_BATCHES);
    const boundMs = (this.o.backlogMs ?? DEFAULT_BACKLOG_MS) * (warming ? WARM_TIME_FACTOR : 1);
    const fit = Math.floor((this.flowsPerMs * boundMs) / batchSize);
    const limit = Math.max(1, Math.min(max, fit));
    if (limit !== this.backlogLimit) {
      this.backlogLimit = limit;
      // While a stall's bound holds, it is the one the receiver keeps (endStall sends this one).
      if (!this.stallLimit) this.command({ t: 'backlog-limit', batches: limit });
    }
  }

  /**
   * Datagrams the receiver thread has read from the socket so far, modulo 2^32 (compare with
   * `(sent - read) >>> 0`). A sender in the same process paces itself by it: what it has sent and
   * the receiver has not read is what sits in the kernel's buffer, and is lost when that overflows.
   */
  datagramsRead(): number {
    return Atomics.load(this.readCounter, 0);
  }

  /** A snapshot for the metrics endpoint. */
  metrics(): CollectorMetrics {
    const store = this.writer?.storeCounts?.();
    return {
      source: this.source,
      startedMs: this.startedMs,
      flowsStored: this.flows,
      flowsCommitted: this.flowsCommitted,
      lastCommitMs: this.flowsCommitted > 0 || this.lastCheckpoint > 0 ? this.lastCheckpoint : 0,
      backlogBatches: this.backlog,
      counts: { ...Object.fromEntries(this.diagnostics.counts), ...store?.counts },
      storeError: store?.lastError ?? null,
      failed: this.writeError ? String((this.writeError as Error).message ?? this.writeError) : null,
      storeFailing: this.recovered.failing,
      exporters: this.exporterStats,
    };
  }

  private onMessage(m: ReceiverMessage): void {
    switch (m.t) {
      case 'batch': {
        const batch = batchFrom(m.batch, this.source);
        this.backlog++;
        this.queue(() => this.store(batch));
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
        // Ours, not the receiver's: a commit may be writing these counters right now (it awaits
        // the segment write), and must not lose it.
        this.ownCounts();
        this.samplingByExporter = m.samplingByExporter;
        if (m.exporters) this.exporterStats = m.exporters;
        if (m.sflowAgents) this.sflowAgents = m.sflowAgents;
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
    let appended = false;
    try {
      if (this.writeError) {
        this.notStored(batch);
        return;
      }
      // A store failure not yet recovered from: recovered first (and what was held stored), or
      // this batch is held until it is (lost, counted, when the buffer is full).
      const r = this.recovered;
      const pending = r.pending;
      if (pending && !(await this.recoverStore(pending, 0))) {
        this.fail(pending);
        this.notStored(batch);
        return;
      }
      if (!(await this.replayHeld()) && !this.writeError) {
        if (!this.hold(batch)) r.flows += batch.length;
        this.ownCounts();
        return;
      }
      if (this.writeError) {
        this.notStored(batch);
        return;
      }
      const t0 = performance.now();
      await this.append(batch, () => {
        appended = true;
        this.keepForInterval(batch);
      });
      // Commits are on their own clock: their cost is not the store's per-flow speed.
      this.measure(batch.length, performance.now() - t0);
      if (Date.now() - this.lastCheckpoint >= (this.o.commitMs ?? DEFAULT_COMMIT_MS)) await this.checkpoint();
    } catch (e) {
      // A failure that can pass rolls the open interval back: its batches kept as copies, and this
      // one if it did not reach the store, are stored again once it recovers; the rest is counted lost.
      const kept =
        !appended && !this.writeError && !!this.writer.recover && isPassingFailure(e) && this.hold(batch);
      if (await this.recoverStore(e, appended || kept ? 0 : batch.length)) return;
      // The store cannot take flows: stop receiving (what arrives now could only be dropped),
      // roll back and end `done` with the error, rather than go on receiving and store nothing.
      // (A batch held is counted among the held ones.)
      this.fail(e);
      if (!kept && !appended) this.notStored(batch);
      else if (!kept) this.unstored += batch.length;
    } finally {
      // Stored, held (a copy) or failed: either way it no longer holds memory, so the receiver may
      // send more. Its columns go back to the receiver for the next batch: the store copied them
      // and hooks must not keep a batch past their return (BatchHook).
      this.backlog--;
      const cols: Record<string, ArrayBufferView> = {};
      const transfer: ArrayBuffer[] = [];
      for (const c of BATCH_COLUMNS) {
        cols[c] = batch[c];
        transfer.push(batch[c].buffer as ArrayBuffer);
      }
      this.command({ t: 'stored', batches: 1, cols }, transfer);
    }
  }

  /** One batch into the open interval: enriched, appended, and through the hooks. */
  private async append(batch: FlowBatch, onAppended: () => void): Promise<void> {
    const enrichment = this.enricher ? this.enricher.enrich(batch) : emptyEnrichment(batch.length);
    this.onlyNewOrgs(enrichment.asOrgs);
    const firstId = await this.writer.append(batch, enrichment);
    onAppended();
    for (const hook of this.o.hooks ?? []) await hook(batch, enrichment, firstId);
    this.flows += batch.length;
    this.checkTimes(batch);
  }

  private room(bytes: number): boolean {
    return (
      this.held.bytes + this.interval.bytes + bytes <= (this.o.storeBufferBytes ?? DEFAULT_STORE_BUFFER_BYTES)
    );
  }

  /**
   * A copy of a batch just appended, kept until its interval commits, so that a rollback costs no
   * flow; not kept when the buffer is full (its flows are then lost if the interval is rolled back).
   */
  private keepForInterval(batch: FlowBatch): void {
    const bytes = batch.firstMs.length * (compactBytes(batch) / Math.max(1, batch.length));
    if (this.room(bytes)) this.interval.push({ ...this.copies.copy(batch), seen: false, pooled: true });
  }

  /**
   * Hold a copy of a batch that arrived while the store fails: in the spool when there is one, and
   * in memory while the buffer has room; false (not held) when neither could take it.
   */
  private hold(batch: FlowBatch): boolean {
    const bytes = compactBytes(batch);
    // The interval it broke off comes first, in the spool as in memory.
    this.spoolInterval();
    const ref = this.spool?.append(batch) ?? undefined;
    const inMemory = this.room(bytes);
    if (!ref && !inMemory) return false;
    this.held.push({
      batch: inMemory ? compactCopy(batch) : null,
      flows: batch.length,
      bytes: inMemory ? bytes : 0,
      seen: false,
      ref,
    });
    return true;
  }

  /** The open interval's copies into the spool as well, once the store fails (they are held now). */
  private spoolInterval(): void {
    if (!this.spool) return;
    for (const h of this.interval.items)
      if (!h.ref && h.batch) h.ref = this.spool.append(h.batch) ?? undefined;
    this.noteUncommitted();
  }

  /**
   * Tells the spool which rows of the open interval the store may already hold (ClickHouse inserts
   * as it goes): a collector killed now leaves them, and the next one deletes them before it stores
   * the spool's copies. (With those a collector before this one left, until they are deleted.)
   */
  private noteUncommitted(): void {
    if (!this.spool) return;
    const u = this.writer.uncommitted?.();
    const list = u ? [...this.undoBefore, u] : this.undoBefore;
    const text = JSON.stringify(list);
    if (text === this.undoSaid) return;
    this.spool.setUndo(list);
    this.undoSaid = text;
  }

  /**
   * A held batch's columns back from the spool; null when its record no longer reads (the file
   * changed under the collector): named with its offset, its flows counted lost, and dropped.
   */
  private readSpooled(h: HeldBatch): FlowBatch | null {
    try {
      return this.spool!.read(h.ref!);
    } catch (e) {
      this.onSpoolProblem({
        source: this.spool!.path,
        offset: h.ref!.offset,
        unit: 'byte',
        kind: 'spool-record',
        message: `${(e as Error).message.replace(/^.*?: byte \d+: /, '')}; its ${h.flows} flows are lost (flows.lost-store)`,
      });
      this.held.shift();
      this.recovered.flows += h.flows;
      return null;
    }
  }

  /** A problem with the spool (a record cut short), counted and said as the receiver's are. */
  private onSpoolProblem(p: InputProblem): void {
    this.diagnostics.add('problem.spool-record');
    this.o.onProblem?.(p);
    if (this.diagnostics.problems.length < this.diagnostics.keep) this.diagnostics.problems.push(p);
  }

  /**
   * Once the store has recovered, what was held goes into the open interval, in the order it came,
   * and is committed (batches of a rolled-back interval tell the hooks they saw them before). True:
   * nothing is held (any more) and no failure is pending; false: the store failed again on the way
   * (what is left stays held; tried again a commit interval later) or stopped.
   */
  private async replayHeld(): Promise<boolean> {
    const r = this.recovered;
    if (r.pending || this.writeError) return false;
    if (this.held.items.length === 0) return true;
    if (!this.finishing && Date.now() - this.replayFailedAt < (this.o.commitMs ?? DEFAULT_COMMIT_MS))
      return false;
    // Batches wait behind this one: they are held first (a copy each, quick), so the backlog
    // empties before the next slice; a slice with batches waiting would let them pile up past the
    // backlog's bound, which drops.
    if (!this.finishing && this.backlog > 1) return false;
    const hooks = this.o.hooks ?? [];
    const seenBefore = (on: boolean) => {
      for (const h of hooks) if (isHolding(h)) h.seenBefore?.(on);
    };
    // Flows stored from what was held in this attempt (taken back if it fails: they are held again).
    let attempt = 0;
    const t0 = performance.now();
    // (Shorter than the backlog's time bound, so what waits behind a slice is not dropped.)
    const sliceMs =
      REPLAY_SLICE.ms ??
      Math.min(this.o.commitMs ?? DEFAULT_COMMIT_MS, (this.o.backlogMs ?? DEFAULT_BACKLOG_MS) / 2);
    const beforeThisTry: HeldBatch[] = [];
    try {
      // What a collector before this one may have left uncommitted goes first (ClickHouse).
      if (this.undoBefore.length > 0) {
        for (const u of this.undoBefore) await this.o.store.discardUncommitted?.(u);
        this.undoBefore = [];
        this.noteUncommitted();
      }
      while (this.held.items.length > 0) {
        const h = this.held.items[0];
        const batch = h.batch ?? this.readSpooled(h);
        if (!batch) continue;
        seenBefore(h.seen);
        await this.append(batch, () => {
          // In the open interval now: stored again (as seen) if it is rolled back.
          this.held.shift();
          if (!h.batch) {
            h.batch = batch;
            h.bytes = compactBytes(batch);
          }
          this.interval.push(h);
        });
        seenBefore(false);
        this.noteUncommitted();
        attempt += h.flows;
        r.replayed += h.flows;
        this.heldStored += h.flows;
        if (this.fromBefore.delete(h)) {
          this.fromSpool.stored += h.flows;
          beforeThisTry.push(h);
        }
        // Committed a slice at a time: from the spool, every REPLAY_SLICE.bytes (memory stays
        // bounded; the spool is told after each, so a collector killed on the way stores again
        // only the slice it was in), and every `sliceMs` (375 ms by default) whatever it came
        // from — then what arrives meanwhile is held behind the rest, rather than waiting in the
        // receiver's backlog (bounded to 750 ms: it would drop it) until all is stored.
        const full = !!this.spool && this.interval.bytes >= REPLAY_SLICE.bytes;
        const late = !this.finishing && performance.now() - t0 >= sliceMs;
        if ((full || late) && this.held.items.length > 0) {
          await this.checkpoint(false);
          attempt = 0;
          beforeThisTry.length = 0;
          if (this.spool) {
            this.spool.storedUpTo(this.held.items.find((x) => x.ref)?.ref ?? null);
            this.undoSaid = '[]';
          }
          if (late) {
            this.ownCounts();
            return false;
          }
        }
      }
      await this.checkpoint();
      this.spool?.clear();
      this.undoSaid = '[]';
      this.sayFromSpool();
    } catch (e) {
      seenBefore(false);
      // Taken back too: those of a collector before this one count when stored.
      for (const h of beforeThisTry) {
        this.fromBefore.add(h);
        this.fromSpool.stored -= h.flows;
      }
      r.replayed = Math.max(0, r.replayed - attempt);
      this.heldStored -= attempt;
      this.replayFailedAt = Date.now();
      if (!(await this.recoverStore(e, 0))) this.fail(e);
      return false;
    }
    return !r.pending && !this.writeError;
  }

  /**
   * Leaves in `orgs` only the AS organisations not handed to the store before (or renamed). The
   * enricher names every AS of every batch; the store writes what it is given at each commit, so
   * on traffic that reaches thousands of ASes the same names were bound and upserted into
   * `as_orgs` every second (a third of the storing thread's time on a mixed stream).
   */
  private onlyNewOrgs(orgs: Map<number, string>): void {
    for (const [asn, org] of orgs) {
      if (this.orgsStored.get(asn) === org) orgs.delete(asn);
      else this.orgsStored.set(asn, org);
    }
  }

  /**
   * Flow times before 1990 or in the future (an exporter without a clock): counted, and named as a
   * problem the first time, at the datagram of the first such flow (flow/plausible-time.ts).
   */
  private checkTimes(batch: FlowBatch): void {
    const before = this.times.implausible;
    this.times.check(batch);
    if (before === 0 && this.times.implausible > 0) {
      const d = new Diagnostics(1);
      this.times.report(d);
      const p = d.problems[0];
      p.message = p.message.replace(/^\d+ flow\(s\) start/, 'flows start');
      this.o.onProblem?.(p);
      if (this.diagnostics.problems.length < this.diagnostics.keep) this.diagnostics.problems.push(p);
    }
  }

  private finishOnce(): void {
    if (this.finishing) return;
    this.finishing = true;
    if (this.commitTimer) clearInterval(this.commitTimer);
    if (this.stallTimer) clearInterval(this.stallTimer);
    this.queue(() => this.finish());
  }

  private async finish(): Promise<void> {
    try {
      await this.storeAndCommit();
    } finally {
      // Whatever happened, the hooks write batch by batch again: the next user of the same hook
      // (an ingest after the collector, as the demo does) commits its own way.
      for (const h of this.o.hooks ?? []) if (isHolding(h)) h.holdUntilCommit(false);
      // What it still holds stays in the file for the next collector on it.
      this.spool?.close();
    }
  }

  private async storeAndCommit(): Promise<void> {
    try {
      if (this.writeError) throw this.writeError;
      // A failure not yet recovered from: the store has no interval open to commit into.
      const pending = this.recovered.pending;
      if (pending && !(await this.recoverStore(pending, 0))) throw pending;
      if (!(await this.replayHeld())) throw this.writeError ?? this.recovered.pending;
      this.ownCounts();
      if (this.times.implausible) {
        // The receiver's final counts are in; the one problem named when they were first seen joins them.
        this.diagnostics.counts.set('flows.implausible-time', this.times.implausible);
        this.diagnostics.add('problem.implausible-time');
        this.diagnostics.add('problems');
      }
      if (this.exporterStats.length > 0) this.diagnostics.details.exporters = this.exporterStats;
      if (this.sflowAgents.length > 0) this.diagnostics.details.sflowAgents = this.sflowAgents;
      await this.hooksBeforeCommit();
      await this.writer.checkpoint();
      await this.writer.commit(this.diagnostics);
      // The store's background work, now finished (its last merges are awaited by the commit).
      const store = this.writer.storeCounts?.();
      for (const [k, v] of Object.entries(store?.counts ?? {})) if (v > 0) this.diagnostics.counts.set(k, v);
      if (store?.lastError) this.diagnostics.details.storeError = store.lastError;
      this.flowsCommitted = this.flows;
      this.lastCheckpoint = Date.now();
      this.resolveDone({
        source: this.source,
        datagrams: this.diagnostics.get('datagrams'),
        flows: this.flows,
        diagnostics: this.diagnostics,
        samplingByExporter: this.samplingByExporter,
        exporters: this.exporterStats,
        sflowAgents: this.sflowAgents,
      });
    } catch (e) {
      await this.probe?.done;
      await this.writer.abort().catch(() => undefined);
      // What is kept and what is not, beside the store's own words.
      // (The open interval's flows, when already counted lost earlier, once.)
      // What is in the spool is not lost: the next collector on it stores it (the open interval's
      // copies too, whatever stopped it: the store keeps none of the interval).
      this.spoolInterval();
      let spooled = 0;
      for (const h of this.held.items) if (h.ref) spooled += h.flows;
      for (const h of this.interval.items) if (h.ref) spooled += h.flows;
      const lost =
        this.flows -
        this.flowsCommitted -
        this.recovered.provisional +
        this.unstored +
        this.held.flows -
        spooled;
      const earlier = this.recovered.flows;
      this.rejectDone(
        new Error(
          // The first line: DuckDB's messages go on with the SQL around the failure.
          `storing failed, collection stopped: ${String((e as Error).message ?? e).split('\n')[0]} ` +
            `(${this.flowsCommitted} flows committed before it; ${lost} received since were not kept` +
            `${spooled ? `; ${spooled} are kept in ${this.spool?.path}, stored by the next collector on --spool ${this.o.spoolDir}` : ''}` +
            `${earlier ? `; ${earlier} lost earlier with ${this.recovered.intervals} failed commit intervals` : ''})`,
          { cause: e },
        ),
      );
    }
  }

  /** What hooks hold goes to the store with the commit (detections beside the flows they name). */
  private async hooksBeforeCommit(): Promise<void> {
    for (const h of this.o.hooks ?? []) if (isHolding(h)) await h.beforeCommit();
  }

  /**
   * After a failed append or commit (or at the next batch or commit tick while one is not yet
   * recovered from): when the store can recover from it (SourceWriter.recover), the open interval
   * is rolled back — its flows, `lost` more that never reached the store, and the detections held
   * for them are lost and counted — and collecting goes on. While recovering fails on the way, what
   * arrives is counted as lost, up to STORE_RECOVERY.maxMs of failing. True: the collector goes on
   * (`lost` counted, the recovery done or still pending); false: the caller stops it (fail()),
   * counting `lost` as not kept.
   */
  private async recoverStore(e: unknown, lost: number): Promise<boolean> {
    const r = this.recovered;
    const first = r.pending !== e;
    if (!this.writer.recover || this.writeError || (first && this.finishing)) return false;
    let back: Recovered | null;
    try {
      back = await this.tryRecover(e);
    } catch (x) {
      // Not a failure that passes (the caller stops with it), or the store cannot go on: its words.
      if (x !== e) this.fail(x);
      return false;
    }
    r.since ||= Date.now();
    // Failing too long with no commit between (recovered or not): the caller stops, counting
    // `lost` as not kept.
    const waits = isDiskFull(e) || isUnreachable(e);
    const giveUp = Date.now() - r.since >= (waits ? STORE_RECOVERY.waitMaxMs : STORE_RECOVERY.maxMs);
    if (first) {
      r.intervals++;
      // The open interval's copies are held from now on: on disk too, when there is a spool.
      this.spoolInterval();
      // Said once a failing spell (collect and serve print it), not at every try to store again.
      const said = r.failing !== null;
      r.failing = String((e as Error).message ?? e).split('\n')[0];
      if (!giveUp && !said)
        this.o.onStoreFailure?.(
          `the store failed: ${r.failing}; the open commit interval is rolled back and its flows held in memory with what arrives (--store-buffer; what does not fit is counted in flows.lost-store), and collecting goes on`,
        );
    }
    if (back) {
      r.pending = null;
      // The interval's flows kept as copies are stored again, before what was held since; the rest
      // are lost (counted when the store first said "not yet": now the store's own figure).
      r.flows += Math.max(0, back.discarded - this.interval.flows) - r.provisional;
      r.provisional = 0;
      this.held.takeFront(this.interval);
      this.flows = back.committed;
      this.flowsCommitted = back.committed;
      for (const h of this.o.hooks ?? []) if (isHolding(h)) h.discardHeld?.();
      // The AS names the interval wrote went with it: named again from the next batch on.
      this.orgsStored.clear();
      this.enricher?.forgetOrgs?.();
    } else {
      // Not recovered yet (the disk still full, the server still away): the open interval's flows
      // not kept as copies are lost all the same, and counted now, not when the store answers.
      if (!r.pending) {
        r.provisional = Math.max(0, this.flows - this.flowsCommitted - this.interval.flows);
        r.flows += r.provisional;
      }
      r.pending = e;
    }
    if (!giveUp) r.flows += lost;
    this.ownCounts();
    return !giveUp;
  }

  /**
   * One try to recover (SourceWriter.recover), awaited up to RECOVER_WAIT_MS when it begins (to
   * its end while finishing): a try still running then goes on in the background and this says
   * "not yet" (null) at once until it has ended; its outcome is taken at the next call. So a
   * server that does not answer holds the store's turn for a tenth of a second a try, not for the
   * store timeout, and what arrives meanwhile is held rather than dropped by the receiver's backlog.
   */
  private async tryRecover(e: unknown): Promise<Recovered | null> {
    let pr = this.probe;
    const begun = !pr;
    if (!pr) {
      const probe: Probe = {
        settled: false,
        value: null,
        failed: false,
        error: undefined,
        done: Promise.resolve(),
      };
      probe.done = this.writer.recover!(e).then(
        (v) => {
          probe.value = v;
          probe.settled = true;
        },
        (x: unknown) => {
          probe.failed = true;
          probe.error = x;
          probe.settled = true;
        },
      );
      pr = this.probe = probe;
    }
    if (this.finishing) await pr.done;
    else if (begun) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([pr.done, new Promise((r) => (timer = setTimeout(r, RECOVER_WAIT_MS)))]);
      clearTimeout(timer);
    }
    if (!pr.settled) return null;
    this.probe = null;
    if (pr.failed) throw pr.error;
    return pr.value;
  }

  /** The counters the store side keeps (the receiver's replace the rest on each report). */
  private ownCounts(): void {
    const c = this.diagnostics.counts;
    c.set('flows.stored', this.flows);
    if (this.recovered.intervals > 0 || this.recovered.flows > 0) {
      c.set('store.intervals-failed', this.recovered.intervals);
      c.set('flows.lost-store', this.recovered.flows);
      // While it fails, the copies of the interval it broke off are held too.
      c.set('flows.held-store', this.held.flows + (this.recovered.pending ? this.interval.flows : 0));
      c.set('flows.held-stored', this.heldStored);
    }
    if (this.spool) {
      c.set('spool.bytes', this.spool.held);
      if (this.spool.lastError) this.diagnostics.details.spoolError = this.spool.lastError;
    }
    if (this.fromSpool.left > 0) c.set('flows.spool-stored', this.fromSpool.stored);
    if (this.stalls > 0) c.set('store.stalls', this.stalls);
  }

  private fail(e: unknown): void {
    this.writeError ??= e;
    this.command({ t: 'stop' });
  }

  /**
   * A batch the store will not take (the collector is stopping for a failure): into the spool when
   * there is one, for the next collector on it (with the open interval's copies before it);
   * otherwise counted as not kept.
   */
  private notStored(batch: FlowBatch): void {
    if (this.spool && this.hold(batch)) return;
    this.unstored += batch.length;
  }

  /**
   * Stop receiving, store what was received, commit. The same promise as `done`: a caller that
   * does not wait (a signal handler) leaves no rejection unhandled.
   */
  stop(): Promise<CollectResult> {
    this.command({ t: 'stop' });
    return this.done;
  }
}
