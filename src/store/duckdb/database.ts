import { isClickHouseUrl, redact } from '../clickhouse/connection.js';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { parseSize } from '../../flow/size.js';
import { DuckDBInstance, listValue, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { QueryClient, serveQueries, type QueryServer } from './query-socket.js';

/**
 * One DuckDB file (or :memory:) with a connection; applies schema files shipped beside this module.
 * When another process holds the file (a running `collect` or `ingest`), it is opened through
 * that process instead (query-socket.ts): reads work and see what it has committed; writes are
 * refused with a message that says why.
 */
export interface DatabaseOptions {
  /**
   * DuckDB's memory limit for this process's instance, in bytes (rounded down to MiB; DuckDB's
   * default, 80 % of RAM, when absent). It bounds what statements hold — the writer's and every
   * reader's through this process (`serveReaders`): past it, an aggregate spills to `FILE.tmp`
   * or, when it cannot, the statement fails with DuckDB's out-of-memory error. Not applied when
   * the file is another process's (its statements run there, under its limit).
   */
  memoryLimit?: number;
}

/** The smallest memory limit taken: a live collector's writer alone failed at 32 MiB (docs/benchmarks.md). */
export const MIN_MEMORY_LIMIT = 64 * 2 ** 20;

/**
 * The memory limit of a long-running process that owns a store (collect, serve --collect): a quarter of
 * RAM, between 256 MiB and 1 GiB. Other processes' reads of the store run in it (the reader
 * socket, the API): under DuckDB's default (80 % of RAM), back-to-back `summary --by dst` over
 * 12–18 M flows took a collector to 1.5–2.3 GB; under 256 MiB to 690 MB, every summary answered and
 * every flow stored; under 64 MiB the writer's commits failed for memory (docs/benchmarks.md).
 */
export function serviceMemoryLimit(total = totalmem()): number {
  const mib = 2 ** 20;
  return Math.floor(Math.min(1024 * mib, Math.max(256 * mib, total / 4)) / mib) * mib;
}

/** `--store-memory SIZE` (500M, 1G, …) in bytes; an error that names the option when it is not a size. */
export function parseMemoryLimit(text: string): number {
  const n = parseSize(text);
  if (!(n >= MIN_MEMORY_LIMIT))
    throw new Error(
      `--store-memory: '${text}' is not a size of at least ${MIN_MEMORY_LIMIT / 2 ** 20} MiB (e.g. 512M, 1G)`,
    );
  return n;
}

export class DuckDbDatabase {
  private readers: QueryServer | null = null;

  private constructor(
    readonly path: string,
    private readonly instance: DuckDBInstance | null,
    private readonly connection: DuckDBConnection | null,
    /** Set when the file is another process's: statements go to it. */
    readonly remote: QueryClient | null = null,
    /** Statements running on this file's connections in this process (shared by its readers). */
    readonly reads: ReadsInFlight = new ReadsInFlight(),
    /**
     * The connections `reader()` made on the file's instance and not yet closed (shared with those
     * readers): closing the file closes them too, or the file would stay open behind them.
     */
    private readonly open: Set<DuckDBConnection> = new Set(),
  ) {}

  static async open(path: string, opts: DatabaseOptions = {}): Promise<DuckDbDatabase> {
    const limit = opts.memoryLimit;
    if (limit !== undefined && !(limit >= MIN_MEMORY_LIMIT))
      throw new Error(
        `memory limit ${limit} bytes: at least ${MIN_MEMORY_LIMIT / 2 ** 20} MiB (a live collector's writer needs more than 32)`,
      );
    // A ClickHouse URL given to a command that has only the DuckDB engine: said so, and never
    // echoed with its password (DuckDB would name it as a file it cannot open).
    if (isClickHouseUrl(path))
      throw new Error(
        `${redact(path)}: this command works on a DuckDB store only, not on ClickHouse yet (docs/clickhouse.md)`,
      );
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(path);
    } catch (e) {
      if (path !== ':memory:' && /Could not set lock on file/.test(String((e as Error).message))) {
        const client = await QueryClient.connect(path);
        if (client) return new DuckDbDatabase(path, null, null, client);
      }
      throw e;
    }
    const conn = await instance.connect();
    // Fewer automatic checkpoints: a live collector commits every second, and each checkpoint
    // past DuckDB's 16 MB default rewrites table metadata (measured: 4x slower live ingest).
    await conn.run("SET checkpoint_threshold = '1GB'");
    // DuckDB's allocator keeps freed memory for reuse: a live collector's merges and roll-ups free
    // hundreds of MB at a time, which stayed resident. Handing it back sooner, from a background
    // thread, took ~100 MB off a collector's peak over minutes at no measured CPU cost
    // (docs/benchmarks.md, "Minutes of collection").
    await conn.run("SET allocator_flush_threshold = '16MB'");
    await conn.run('SET allocator_background_threads = true');
    if (limit !== undefined) await conn.run(`SET memory_limit = '${Math.floor(limit / 2 ** 20)}MiB'`);
    return new DuckDbDatabase(path, instance, conn);
  }

  /** The connection, for appenders and column reads: only in the process that holds the file. */
  get conn(): DuckDBConnection {
    if (!this.connection)
      throw new Error(
        `${this.path} is being written by another process (collect or ingest): this needs the store to itself; run it when that process has finished`,
      );
    return this.connection;
  }

  /**
   * A second connection to the same file, for reads beside this connection's writes: they never run
   * inside its open transaction (a live collector's), and see what it has committed. Closing it
   * leaves the file open. (Through another process's socket: a connection of its own there.)
   */
  async reader(): Promise<DuckDbDatabase> {
    if (this.remote) {
      const client = await QueryClient.connect(this.path);
      if (!client) throw new Error(`${this.path}: the process writing it stopped serving readers`);
      return new DuckDbDatabase(this.path, null, null, client);
    }
    if (!this.instance) throw new Error(`${this.path}: closed`);
    const conn = await this.instance.connect();
    this.open.add(conn);
    return new DuckDbDatabase(this.path, null, conn, null, this.reads, this.open);
  }

  /**
   * Let other processes read this database while this one writes it (a long-running collector
   * or ingest): they connect through a socket only this user can open. Closed with the database.
   */
  async serveReaders(): Promise<QueryServer | null> {
    if (!this.instance || this.path === ':memory:' || this.readers) return this.readers;
    const conn = await this.instance.connect();
    this.readers = await serveQueries(
      this.path,
      conn,
      (c, sql, params) => this.reads.run(() => allRows(c, sql, params)),
      (items) => listValue(items),
    );
    return this.readers;
  }

  /** Run a schema file from store/duckdb/ (copied into dist/ by the build). */
  async applySchema(file: string): Promise<void> {
    // The process that holds the file has set its schema up.
    if (this.remote) return;
    const sql = readFileSync(new URL(`./${file}`, import.meta.url), 'utf8');
    // Applying flows.sql costs ~0.15 CPU-s (its macros and views are rewritten): skipped when this
    // very text was applied to this file before (its hash is kept in coinradar_schema).
    const sha = createHash('sha256').update(sql).digest('hex');
    const [known] = await this.all<{ n: number }>(
      "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'coinradar_schema'",
    );
    if (known.n > 0) {
      const [row] = await this.all<{ sha: string }>('SELECT sha FROM coinradar_schema WHERE file = $1', [
        file,
      ]);
      if (row?.sha === sha) return;
    }
    await this.conn.run(sql);
    await this.conn.run(
      'CREATE TABLE IF NOT EXISTS coinradar_schema (file VARCHAR PRIMARY KEY, sha VARCHAR NOT NULL)',
    );
    await this.conn.run('INSERT OR REPLACE INTO coinradar_schema VALUES ($1, $2)', [file, sha]);
  }

  /** Whether a table or view of this name exists (read through the other process when it holds the file). */
  async hasTable(name: string): Promise<boolean> {
    const [r] = await this.all<{ n: number }>(
      'SELECT count(*)::INTEGER AS n FROM information_schema.tables WHERE table_name = $1',
      [name],
    );
    return r.n > 0;
  }

  async run(sql: string, params?: DuckDBValue[]): Promise<void> {
    if (this.remote)
      throw new Error(
        `${this.path} is being written by another process (collect or ingest): it can be read now, changed when that process has finished`,
      );
    await this.conn.run(sql, params);
  }

  /** Rows as plain objects; BIGINT/HUGEINT become numbers (all counters here fit 2^53), lists arrays. */
  async all<T = Record<string, unknown>>(sql: string, params?: DuckDBValue[]): Promise<T[]> {
    if (this.remote) return this.remote.all<T>(sql, params);
    // A reader connection's statements are counted (and wait while a checkpoint runs); the
    // writer's own never wait.
    if (this.instance) return (await allRows(this.conn, sql, params)) as T[];
    return (await this.reads.run(() => allRows(this.conn, sql, params))) as T[];
  }

  /**
   * Close the file. With readers being served, the reader socket closes first and the file when
   * the statement in progress for a reader has finished (await it before reopening the file).
   */
  close(): Promise<void> {
    if (this.remote) {
      this.remote.close();
      return Promise.resolve();
    }
    const readers = this.readers;
    this.readers = null;
    const finish = () => {
      // A reader's connection is closed once: by its own close(), or here by the file's.
      if (this.connection && (this.instance || this.open.delete(this.connection)))
        this.connection.closeSync();
      if (!this.instance) return;
      // DuckDB keeps the file open while any connection to it is: a reader left open (a roll-up
      // merger's, one a command forgot) would keep it open past close(), and a later open of the
      // same file in this process would be a second database writing it (this corrupted the demo's
      // store; test/store/duckdb-close.test.ts).
      for (const c of this.open) c.closeSync();
      this.open.clear();
      this.instance.closeSync();
    };
    if (!readers) {
      finish();
      return Promise.resolve();
    }
    return readers.close().then(finish);
  }
}

/**
 * The statements running on one file's reader connections in this process (`reader()`'s, the
 * reader socket's), for two things a live writer does while readers run:
 * - it replaces segment files (a concatenation); a statement that began before the commit that
 *   replaced them reads the view as it was, and opens those files as it goes, so they are deleted
 *   only once such statements are over (`afterCurrent`);
 * - its merger checkpoints; DuckDB refuses a checkpoint ("other write transactions active")
 *   while a reader holds a snapshot older than the writer's last commit, and a reader polling
 *   without a pause had 24–39 checkpoints refused in 90 s at 200 k flows/s (docs/benchmarks.md),
 *   the log and memory growing meanwhile. A checkpoint runs `exclusive`ly: new statements wait
 *   for it, and it waits for those running.
 */
export class ReadsInFlight {
  private next = 0;
  private readonly running = new Map<number, Promise<unknown>>();
  private gate: Promise<void> | null = null;

  /** Counts `p` as running until it settles; returns it. */
  track<T>(p: Promise<T>): Promise<T> {
    const id = this.next++;
    this.running.set(id, p);
    const done = () => void this.running.delete(id);
    p.then(done, done);
    return p;
  }

  /** Starts a statement (once no `exclusive` work runs) and counts it while it runs. */
  async run<T>(start: () => Promise<T>): Promise<T> {
    while (this.gate) await this.gate;
    return this.track(start());
  }

  /**
   * Runs `fn` with no statement running: statements that start meanwhile wait for it. When those
   * running now are not over within `maxWaitMs` (Infinity: however long they run), or `giveUp()`
   * turns true while it waits (checked every 100 ms), `fn` is not run (false).
   */
  async exclusive(fn: () => Promise<void>, maxWaitMs: number, giveUp = () => false): Promise<boolean> {
    while (this.gate) await this.gate;
    let open!: () => void;
    this.gate = new Promise((r) => (open = r));
    try {
      const until = performance.now() + maxWaitMs;
      while (this.running.size > 0) {
        const left = until - performance.now();
        if (left <= 0 || giveUp()) return false;
        let timer: NodeJS.Timeout | undefined;
        const tick = new Promise<void>((r) => (timer = setTimeout(r, Math.min(100, left))));
        await Promise.race([Promise.allSettled([...this.running.values()]), tick]);
        clearTimeout(timer);
      }
      await fn();
      return true;
    } finally {
      this.gate = null;
      open();
    }
  }

  /** Runs `fn` once the statements running now are over (at once when none are). */
  afterCurrent(fn: () => void): void {
    if (this.running.size === 0) return fn();
    void Promise.allSettled([...this.running.values()]).then(fn);
  }
}

async function allRows(
  conn: DuckDBConnection,
  sql: string,
  params?: DuckDBValue[],
): Promise<Record<string, unknown>[]> {
  const reader = await conn.runAndReadAll(sql, params);
  const rows = reader.getRowObjects();
  return rows.map((r) => {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) o[k] = plain(v);
    return o;
  });
}

function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v && typeof v === 'object') {
    // DuckDBBlobValue has .bytes, DuckDBListValue .items; timestamps and decimals have toString().
    const o = v as { bytes?: Uint8Array; items?: readonly unknown[]; toString(): string };
    if (o.bytes instanceof Uint8Array) return Buffer.from(o.bytes);
    if (Array.isArray(o.items)) return o.items.map(plain);
    return o.toString();
  }
  return v;
}
