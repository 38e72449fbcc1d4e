import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { formatProblem, type InputProblem } from '../flow/diagnostics.js';
import type { CollectOptions, NetflowCollector } from '../netflow/collector.js';
import type { DetectionHook } from '../detect/hook.js';
import { lateHook, lateStore } from '../netflow/late-store.js';
import { parseSpoolSize, parseStoreBuffer } from '../flow/size.js';
import type { FastifyInstance } from 'fastify';
import { buildScreeningIndex, loadScreeningIndex } from '../sanctions/index-loader.js';
import { ScreeningIndex } from '../sanctions/screen.js';
import {
  buildServer,
  DEFAULT_BODY_LIMIT,
  DEFAULT_MAX_BATCH,
  DEFAULT_TIMEOUTS,
  type ServerTimeouts,
} from '../server/app.js';
import { AuditLog, auditPathFor } from '../server/audit.js';
import { DEFAULT_CONSOLE_DIR } from '../server/console-files.js';
import type { NetworkApi } from '../server/network.js';
import type { SessionLimits } from '../server/session.js';
import { isClickHouseUrl, redact } from '../store/clickhouse/connection.js';
import { DuckDbFlowStore } from '../store/duckdb/flows.js';
import { parseMemoryLimit, serviceMemoryLimit } from '../store/duckdb/database.js';
import { openFlowStore } from '../store/open.js';
import { LateOpen } from '../store/late-open.js';
import { isUnreachable } from '../store/passing-failures.js';
import { DEFAULT_STORE_TIMEOUT_MS, withStoreTimeout } from '../store/request-timeout.js';
import { openNetworkReader } from '../store/reader.js';
import { DuckDbSanctionsStore } from '../store/duckdb/sanctions.js';
import { ApiKeyFile, keysPathFor } from '../server/keys.js';
import { defaultDbPath, type FlowStore } from '../store/store.js';
import { addChainOptions, openChainIndex, parseChainHops, type ChainIndex } from './chain-screening.js';
import { parseNumberOption, parseWholeNumber } from './output.js';

/** Default most addresses per POST on the chain path: ~37 ms each for addresses the chain knows
 * (3 hops, timed by hand on the regtest test index under load; no benchmark), so about 10 s at worst. */
export const DEFAULT_MAX_CHAIN_BATCH = 250;

/**
 * Where a server on ClickHouse keeps what ClickHouse does not hold — API keys (`<file>.keys.json`),
 * the audit log (`<file>.audit.jsonl`), the sanctions lists and a chain index (in the DuckDB file
 * itself, written by `coinradar sanctions load` / `chain ingest --db <file>`): a small local DuckDB
 * file, in the working directory unless `--state-db` says otherwise. On DuckDB all of it lives in
 * and beside the store's own file, as before.
 */
export const DEFAULT_STATE_DB = 'coinradar-state.duckdb';

/** The file that holds keys, audit, lists and chain index for the store `db`. */
export function stateDbFor(db: string, stateDb?: string): string {
  return isClickHouseUrl(db) ? stateDb || DEFAULT_STATE_DB : db;
}

export interface ServeOptions {
  db: string;
  /** With a ClickHouse store: the local DuckDB file for keys, audit, lists and chain index (stateDbFor). */
  stateDb?: string;
  allowAnonymous?: boolean;
  bodyLimit?: number;
  maxBatch?: number;
  /** Most addresses in one POST when screening on the chain index (each costs index queries). */
  maxChainBatch?: number;
  rate?: number;
  burst?: number;
  /** Audit log path ('' or absent: `<db>.audit.jsonl`). */
  audit?: string;
  log?: boolean;
  /** Use the database's chain index when it has one (the default, as for `coinradar screen`). */
  chain?: boolean;
  chainHops?: number;
  /** Slow-client limits (DEFAULT_TIMEOUTS for what is not given). */
  timeouts?: Partial<ServerTimeouts>;
  /**
   * Hold the store open and serve the network read API (default true). The file is then this
   * process's: other processes read it through it (serveReaders), and writes to it wait until
   * serve stops. false: screening only, the lists read once and the file closed again.
   */
  network?: boolean;
  /**
   * Collect NetFlow/IPFIX on this address into the store while serving (`udp://ADDR:PORT`), as
   * `coinradar collect` does (geo enrichment and detection on); the API reads through a second
   * connection, so it sees each commit (every second) and never reads inside the collector's
   * transaction.
   */
  collect?: string;
  /**
   * The collector's backlog bound (default: `coinradar collect`'s, which keeps its crash-loss
   * promise by dropping, and counting, what the store cannot take within 750 ms). A sender in this
   * process that must arrive whole — a test's replay, as `npm run demo` does — lifts it and paces
   * itself by `collector.datagramsRead()` instead. Not a command-line option.
   */
  collectBacklog?: { maxBacklogBatches: number; backlogMs: number };
  /** With `collect`: what it holds in memory while its store fails (CollectOptions.storeBufferBytes). */
  storeBufferBytes?: number;
  /**
   * Opening a ClickHouse store at start, and with `collect` each of its store requests, is bounded
   * by this (CollectOptions.storeTimeoutMs; default DEFAULT_STORE_TIMEOUT_MS).
   */
  storeTimeoutMs?: number;
  /** With `collect`: what it holds is also written to this directory (CollectOptions.spoolDir). */
  spoolDir?: string;
  spoolBytes?: number;
  /**
   * DuckDB's memory limit for the held store, in bytes. Default with `collect`:
   * serviceMemoryLimit() (the API's reads and other processes' run under it, beside the
   * collector's writer); without: DuckDB's own (80 % of RAM).
   */
  memoryLimit?: number;
  /** Called with each collector problem (the CLI prints the first ones). */
  onCollectProblem?: (p: InputProblem) => void;
  /** The console's built files (default: the package's dist/console; null: no console). */
  consoleDir?: string | null;
  sessions?: Partial<SessionLimits>;
}

export interface ScreeningServer {
  app: FastifyInstance;
  index: ScreeningIndex;
  keys: ApiKeyFile;
  audit: AuditLog;
  /** What the server screens with, for its start-up line. */
  summary: string;
  /** Re-read the current list versions and screen with them from the next request on. */
  reload(): Promise<ScreeningIndex>;
  /** With --collect: the collector (its port, metrics). */
  collector?: NetflowCollector | null;
  /** Stop serving; write the audit log's last lines; release the database. */
  close(): Promise<void>;
}

/**
 * Everything `coinradar serve` runs except listening and signals: the lists (read once, the file
 * closed again), the key file, the audit log and — when the database holds a chain index and
 * `chain` is not false — the index, kept open for cluster and indirect matches.
 */
export async function openScreeningServer(o: ServeOptions): Promise<ScreeningServer> {
  const hops = o.chainHops ?? 3;
  if (o.collect && o.network === false)
    throw new Error('--collect needs the store held open: drop --no-network');
  const clickhouse = isClickHouseUrl(o.db);
  const state = stateDbFor(o.db, o.stateDb);
  let chain: ChainIndex | null = null;
  let flows: DuckDbFlowStore | null = null;
  let reading: DuckDbFlowStore | null = null;
  /** The ClickHouse store: its HTTP client takes the collector's inserts and the API's reads at once. */
  let remote: FlowStore | null = null;
  /** The ClickHouse store when it could not be reached at start: opened by later tries. */
  let late: LateOpen | null = null;
  let collector: NetflowCollector | null = null;
  /** healthJson, loaded with the collector's modules (GET /v1/collector). */
  let health: ((m: ReturnType<NetflowCollector['metrics']>) => Record<string, unknown>) | null = null;
  try {
    let network: NetworkApi | null = null;
    let readers: string | null = null;
    if (clickhouse) {
      if (o.network !== false) {
        // Opened within --store-timeout: a server the network cut off is not waited on for the
        // client's 10 minutes. Reads for the API keep the long timeout.
        const open = () =>
          withStoreTimeout(o.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS, () => openFlowStore(o.db));
        try {
          const store = (remote = await open());
          const reader = await openNetworkReader(store);
          network = { reader, payloads: (ids) => reader.payloads(ids) };
        } catch (e) {
          if (!isUnreachable(e)) throw e;
          if (o.collect && !o.spoolDir)
            throw new Error(
              `${(e as Error).message} (with --spool DIR, serve --collect starts anyway: the collector keeps what arrives on disk until the store answers)`,
              { cause: e },
            );
          // The screening API needs no flow store: serve anyway (late-open.ts).
          late = new LateOpen(e, open);
          const reader = late.reader();
          network = { reader, payloads: (ids) => reader.payloads(ids) };
          process.stderr.write(
            `warning: the store cannot be reached (${String((e as Error).message).split('\n')[0]}); serving anyway: the network routes answer 503 until it does (tried again with each of their requests${o.collect ? `, and by the collector, which holds what arrives in ${join(o.spoolDir!, 'held.spool')}` : ''})\n`,
          );
        }
      }
      // The lists and the chain index are the state file's; a missing file is no list and no index
      // (it is not created here: `sanctions load --db FILE` makes it).
      if (o.chain !== false && existsSync(state)) chain = await openChainIndex(state, hops);
    } else if (o.network !== false) {
      const store = (flows = await DuckDbFlowStore.open(o.db, {
        // With --collect the limit protects the collector's writer from the API's reads (and
        // other processes'); a serve that only reads keeps DuckDB's own unless told.
        memoryLimit: o.memoryLimit ?? (o.collect ? serviceMemoryLimit() : undefined),
      }));
      readers = await store.serveReaders();
      // DuckDB opens a file once per process: the chain index (money routes, cluster and indirect
      // screening) reads the same database instance on a connection of its own, so it never reads
      // inside the collector's open transaction.
      if (o.chain !== false) chain = await openChainIndex(await store.db.reader(), hops);
      if (o.collect) {
        // Reads on their own connection: the collector's is inside its open transaction.
        const r = (reading = await store.reader());
        network = { db: r.db, payloads: (ids) => r.payloads(ids) };
      } else network = { db: store.db, payloads: (ids) => store.payloads(ids) };
    } else if (o.chain !== false) chain = await openChainIndex(o.db, hops);
    // With the file open in this process, the lists are read through its connection.
    const readLists = async () => {
      if (chain) return chain.screeningIndex();
      if (clickhouse) return existsSync(state) ? loadScreeningIndex(state) : new ScreeningIndex();
      if (!flows) return loadScreeningIndex(o.db);
      const lists = await DuckDbSanctionsStore.attach(flows.db);
      try {
        return await buildScreeningIndex(lists);
      } finally {
        await lists.close();
      }
    };
    const index = await readLists();
    // Keys and audit beside the state file (on DuckDB: the store's own file, as before).
    const keys = new ApiKeyFile(keysPathFor(state));
    keys.watch();
    const audit = new AuditLog(o.audit || auditPathFor(state));
    const app = buildServer({
      index,
      keys,
      audit,
      allowAnonymous: !!o.allowAnonymous,
      bodyLimit: o.bodyLimit,
      // On the chain index each address costs index queries (tens of ms for one the chain knows),
      // so a batch is held to --max-chain-batch there.
      maxBatch: chain
        ? Math.min(o.maxBatch ?? DEFAULT_MAX_BATCH, o.maxChainBatch ?? DEFAULT_MAX_CHAIN_BATCH)
        : o.maxBatch,
      rate: o.rate,
      burst: o.burst,
      logger: !!o.log,
      timeouts: o.timeouts,
      chain: chain
        ? {
            provider: chain.provider,
            network: chain.state.network,
            tipHeight: chain.state.tipHeight,
            hops,
          }
        : null,
      network,
      money: chain ? { store: chain.store } : null,
      consoleDir: o.consoleDir === undefined ? DEFAULT_CONSOLE_DIR : o.consoleDir,
      sessions: o.sessions,
      collector: o.collect ? () => (collector && health ? health(collector.metrics()) : null) : undefined,
    });
    const collectInto: FlowStore | null = flows ?? remote;
    if (o.collect && (collectInto || late)) {
      // Loaded only for --collect: a plain serve starts without the collector's modules.
      const [{ detectionHookFor }, { NetflowCollector }, { loadEnricher }, { healthJson }] =
        await Promise.all([
          import('../detect/pipeline.js'),
          import('../netflow/collector.js'),
          import('./enricher.js'),
          import('../netflow/metrics-server.js'),
        ]);
      health = healthJson;
      let hook: DetectionHook['hook'];
      let into: CollectOptions['store'];
      if (collectInto) {
        hook = (await detectionHookFor(collectInto, {})).hook;
        into = collectInto;
      } else {
        // The store opened by the collector's tries (or the API's, whichever first), then
        // detection readied on it before anything is stored (netflow/late-store.ts).
        const lateDetection = lateHook();
        const opening = late!;
        hook = lateDetection.hook;
        into = lateStore(opening.why(), async () => {
          const s = await opening.try();
          lateDetection.set((await detectionHookFor(s, {})).hook);
          return s;
        }).store;
      }
      let storeFailures = 0;
      collector = await NetflowCollector.start({
        listen: o.collect,
        store: into,
        enricher: await loadEnricher({ geo: true, db: o.db }),
        hooks: [hook],
        ...o.collectBacklog,
        storeBufferBytes: o.storeBufferBytes,
        storeTimeoutMs: o.storeTimeoutMs,
        spoolDir: o.spoolDir,
        spoolBytes: o.spoolBytes,
        onProblem: o.onCollectProblem,
        // The first 20 said; all counted in /metrics and in the summary when it stops.
        onStoreFailure: (m) => {
          if (storeFailures++ < 20) process.stderr.write(`coinradar serve: collecting: ${m}\n`);
        },
      });
      // A store that fails stops the collector (it would otherwise receive and store nothing);
      // the API goes on answering from what was committed.
      collector.done.catch((e: unknown) =>
        process.stderr.write(
          `coinradar serve: collecting stopped: ${(e as Error).message}; the API still answers from what was committed\n`,
        ),
      );
    }
    const lists =
      index.versions.map((v) => `${v.list} v${v.versionId} (${v.published ?? 'unknown'})`).join(', ') ||
      'no list';
    return {
      app,
      index,
      keys,
      audit,
      summary:
        `${index.size} listed addresses from ${lists}; ` +
        (chain
          ? `${chain.note} (the database stays open while serving)`
          : `exact matches only (${o.chain === false ? '--no-chain' : 'no chain index'})`) +
        (network
          ? `; network API and console on the store${clickhouse ? ` ${redact(o.db)} (keys, audit and lists in ${state})` : ''}${late ? ', not reachable yet' : ''}${readers ? ` (other commands read it through ${readers})` : ''}`
          : clickhouse
            ? `; keys, audit and lists in ${state}`
            : '') +
        (collector ? `; collecting on ${collector.source}` : ''),
      collector,
      async reload() {
        const next = await readLists();
        app.swapIndex(next);
        return next;
      },
      async close() {
        // The collector first: what it received is committed before the file closes. A collector
        // that failed has said so (and `done` says it again to whoever asks): the rest still closes.
        if (collector) await collector.stop().catch(() => undefined);
        await app.close();
        await audit.close();
        keys.stop();
        await chain?.close();
        await reading?.close();
        await flows?.close();
        await remote?.close();
        await late?.close();
      },
    };
  } catch (e) {
    if (collector) await collector.stop().catch(() => undefined);
    await chain?.close();
    await reading?.close();
    await flows?.close();
    await remote?.close();
    await late?.close();
    throw e;
  }
}

export function register(program: Command): void {
  const cmd = program
    .command('serve')
    .description(
      'the analyst console at / and the HTTP API: screening (POST /v1/screen, GET /v1/screen/:address, GET /v1/lists) and the network read API (/v1/series, /v1/summary, /v1/hosts, /v1/search) over the store, /openapi.json; with a chain index in the database, cluster and indirect matches as in `coinradar screen`',
    )
    .option(
      '--db <file>',
      'DuckDB file with the sanctions lists, or a clickhouse://USER:PASSWORD@HOST:PORT/DATABASE store (or COINRADAR_DB)',
      defaultDbPath(),
    )
    .option(
      '--state-db <file>',
      'with a ClickHouse store: the local DuckDB file for API keys, audit log, sanctions lists and chain index',
      DEFAULT_STATE_DB,
    )
    .option('--host <addr>', 'address to bind', '127.0.0.1')
    .option('--port <n>', 'port', '8787')
    .option('--allow-anonymous', 'serve /v1 without an API key (off unless given)')
    .option('--body-limit <bytes>', 'largest request body', String(DEFAULT_BODY_LIMIT))
    .option('--max-batch <n>', 'most addresses in one POST /v1/screen', String(DEFAULT_MAX_BATCH))
    .option(
      '--max-chain-batch <n>',
      'most addresses in one POST when screening on the chain index (each costs index queries)',
      String(DEFAULT_MAX_CHAIN_BATCH),
    )
    .option('--rate <n>', 'requests per second per key (0 = unlimited)', '200')
    .option('--burst <n>', 'burst per key (default 2 × rate)')
    .option(
      '--headers-timeout <ms>',
      "a request's headers must arrive within this (408, connection closed)",
      String(DEFAULT_TIMEOUTS.headersMs),
    )
    .option(
      '--request-timeout <ms>',
      'a whole request, body included, must arrive within this (408; at least --headers-timeout)',
      String(DEFAULT_TIMEOUTS.requestMs),
    )
    .option(
      '--keep-alive-timeout <ms>',
      'an idle keep-alive connection is closed after this',
      String(DEFAULT_TIMEOUTS.keepAliveMs),
    )
    .option(
      '--collect <udp://ADDR:PORT>',
      'also collect NetFlow v5/v9/IPFIX there into the store (geo and detection on), as `coinradar collect` does; the console shows it live',
    )
    .option(
      '--no-network',
      'screening only: no network API or console data, the store not held open (sanctions load can write it while serving)',
    )
    .option(
      '--store-memory <size>',
      "DuckDB's memory limit for the held store, the API's reads and other processes' through it included, e.g. 512M (default with --collect: a quarter of RAM, 256M to 1G; without: DuckDB's, 80% of RAM)",
    )
    .option(
      '--store-buffer <size>',
      'with --collect: flows that arrive while the store fails (disk full, ClickHouse away) are held in memory up to this size and stored once it writes again; past it they are lost and counted (0: hold nothing)',
      '256M',
    )
    .option(
      '--store-timeout <seconds>',
      "opening a ClickHouse store at start, and with --collect each request the collector sends to its server, is given up on after this many seconds and the server counted out of reach: a server the network cut off is noticed, not waited on for the client's 10 minutes (0: never). A store not reached at start is served anyway: the network routes answer 503 until it answers (with --collect only with --spool)",
      '10',
    )
    .option(
      '--spool <dir>',
      'with --collect: also write what is held while the store fails to DIR/held.spool, so that a stop or a kill meanwhile loses none of it (the next collector on DIR stores it first) and an outage longer than --store-buffer is kept on disk',
    )
    .option('--spool-size <size>', 'with --spool: most bytes the spool file may take', '4G')
    .option('--audit <file>', 'audit log (JSON lines)', '')
    .option('--log', 'fastify request logging to stderr');
  addChainOptions(cmd).action(
    async (o: {
      db: string;
      stateDb: string;
      host: string;
      port: string;
      allowAnonymous?: boolean;
      bodyLimit: string;
      maxBatch: string;
      maxChainBatch: string;
      rate: string;
      burst?: string;
      audit: string;
      log?: boolean;
      chain: boolean;
      network: boolean;
      collect?: string;
      chainHops: string;
      headersTimeout: string;
      requestTimeout: string;
      keepAliveTimeout: string;
      storeMemory?: string;
      storeBuffer: string;
      storeTimeout: string;
      spool?: string;
      spoolSize: string;
    }) => {
      if (o.spool && !o.collect)
        throw new Error('--spool: only with --collect (it keeps what the collector holds)');
      const port = parseWholeNumber('--port', o.port, 0, 65535);
      const rate = Number(o.rate);
      if (!(rate >= 0) || o.rate.trim() === '')
        throw new Error(`--rate must be a number of requests a second (0 = unlimited), not '${o.rate}'`);
      const timeouts = parseTimeouts(o);
      let shownProblems = 0;
      const server = await openScreeningServer({
        db: o.db,
        stateDb: o.stateDb,
        allowAnonymous: !!o.allowAnonymous,
        bodyLimit: parseWholeNumber('--body-limit', o.bodyLimit, 1),
        maxBatch: parseWholeNumber('--max-batch', o.maxBatch, 1),
        maxChainBatch: parseWholeNumber('--max-chain-batch', o.maxChainBatch, 1),
        rate,
        burst: o.burst ? parseWholeNumber('--burst', o.burst, 1) : undefined,
        audit: o.audit,
        log: !!o.log,
        chain: o.chain,
        network: o.network,
        collect: o.collect,
        memoryLimit: o.storeMemory ? parseMemoryLimit(o.storeMemory) : undefined,
        storeBufferBytes: parseStoreBuffer(o.storeBuffer),
        storeTimeoutMs: parseNumberOption('--store-timeout', o.storeTimeout, 0) * 1000,
        spoolDir: o.spool,
        spoolBytes: parseSpoolSize(o.spoolSize),
        onCollectProblem: (p) => {
          if (shownProblems++ < 20) process.stderr.write(`warning: ${formatProblem(p)}\n`);
        },
        chainHops: parseChainHops(o.chainHops),
        timeouts,
      });
      const { app, index, keys, audit } = server;
      if (index.versions.length === 0)
        process.stderr.write(
          `warning: no sanctions list in ${redact(stateDbFor(o.db, o.stateDb))}; every address will screen clean\n`,
        );
      if (!o.allowAnonymous && keys.list().filter((k) => !k.revokedAt).length === 0) {
        process.stderr.write(
          `warning: no API keys yet: create one with \`coinradar apikey create <name>${isClickHouseUrl(o.db) ? ` --db ${stateDbFor(o.db, o.stateDb)}` : ''}\`\n`,
        );
      }
      const addr = await app.listen({ host: o.host, port });
      process.stderr.write(
        `coinradar serve: ${addr}, ${server.summary}; ` +
          `${o.allowAnonymous ? 'ANONYMOUS ACCESS ALLOWED' : 'API key required'}; audit → ${audit.path}\n`,
      );
      const stop = async () => {
        await server.close();
        // As `collect` does when it stops: what was received, stored and lost, every loss named.
        if (server.collector) {
          const { collectSummary } = await import('./collect.js');
          try {
            process.stdout.write(collectSummary(await server.collector.done));
          } catch (e) {
            // Said when it happened (below); the exit status says it again.
            process.stderr.write(`coinradar serve: collecting had failed: ${(e as Error).message}\n`);
            process.exit(2);
          }
        }
        process.exit(0);
      };
      // SIGHUP: re-read the current list versions (after `coinradar sanctions load`); on failure
      // (e.g. the file is being written) the old index stays.
      process.on('SIGHUP', () => {
        server.reload().then(
          (next) => {
            process.stderr.write(
              `coinradar serve: reloaded ${next.size} listed addresses from ${next.versions.map((v) => `${v.list} v${v.versionId}`).join(', ')}\n`,
            );
          },
          (e: unknown) =>
            process.stderr.write(
              `coinradar serve: reload failed, keeping the old lists: ${(e as Error).message}\n`,
            ),
        );
      });
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
    },
  );
}

/** The slow-client options, checked before anything is opened (one hour at most each). */
function parseTimeouts(o: {
  headersTimeout: string;
  requestTimeout: string;
  keepAliveTimeout: string;
}): Partial<ServerTimeouts> {
  const t = {
    headersMs: parseWholeNumber('--headers-timeout', o.headersTimeout, 1, 3_600_000),
    requestMs: parseWholeNumber('--request-timeout', o.requestTimeout, 1, 3_600_000),
    keepAliveMs: parseWholeNumber('--keep-alive-timeout', o.keepAliveTimeout, 1, 3_600_000),
  };
  if (t.headersMs > t.requestMs)
    throw new Error(
      `--headers-timeout (${t.headersMs} ms) must not exceed --request-timeout (${t.requestMs} ms)`,
    );
  return t;
}
