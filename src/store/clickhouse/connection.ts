/**
 * How the ClickHouse engine reaches a server: `clickhouse://USER:PASSWORD@HOST:PORT/DATABASE`
 * through the official HTTP client (`clickhouses://` for HTTPS), or `chdb:PATH` through chDB, the same engine in-process (for
 * the tests and the bench: every statement runs on a current release as well as on the server).
 * Statements carry their values as SQL literals (lit/str below), not as query parameters: the
 * 18.16 servers Debian ships have no `{name:Type}` parameters.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { noAnswerMessage, storeTimeoutMs } from '../request-timeout.js';

export interface ChConnection {
  /** The server's version, e.g. '18.16.1' or '26.7.2.1'. */
  readonly version: string;
  /** The URL with its password masked: for every message and log line. */
  readonly display: string;
  /** The database the statements run in (it may not exist yet: see tables/createDatabase). */
  readonly database: string;
  /** The database's tables and their engines (engine_full); empty when the database does not exist. */
  tables(): Promise<Map<string, string>>;
  /** A query that names no table of the database (system tables): it runs before the database exists. */
  systemRows<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** Create the database (a write command's first statement; read commands never create it). */
  createDatabase(): Promise<void>;
  /**
   * The same user and database on another host of the cluster, at this URL's port (DDL and
   * mutations run on every shard: 18.16's ON CLUSTER needs ZooKeeper). Absent on chDB.
   */
  onHost?(host: string): Promise<ChConnection>;
  command(sql: string): Promise<void>;
  rows<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** Insert a TabSeparated body (escaped as tsv.ts writes it). */
  insertTsv(table: string, columns: readonly string[], body: Buffer): Promise<void>;
  /** Insert a RowBinary body (rowbinary.ts); absent where the engine cannot take it (chDB). */
  insertRowBinary?(table: string, columns: readonly string[], body: Buffer): Promise<void>;
  /**
   * The query ids of inserts given up on since the last call (request-timeout.ts: no answer in
   * time), which the server may still be running; the list is emptied. Absent on chDB.
   */
  takeTimedOut?(): string[];
  close(): Promise<void>;
}

/** Inserts given up on that a connection remembers (the oldest forgotten first). */
const MAX_TIMED_OUT = 1000;

/** Is this `--db` value a ClickHouse engine URL (rather than a DuckDB file)? */
export function isClickHouseUrl(db: string): boolean {
  return /^(clickhouses?|chdb):/i.test(db);
}

/** The URL with its password replaced by ***. */
export function redact(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
}

/** Major.minor of a version string as one comparable number (18.16 → 1816). */
export function versionNumber(v: string): number {
  const [a, b] = v.split('.').map(Number);
  return (a || 0) * 100 + (b || 0);
}

/** A string as a ClickHouse literal. */
export function str(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A finite number as a literal (anything else is refused: values are never SQL text). */
export function lit(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`not a finite number: ${n}`);
  return String(n);
}

export interface ClickHouseTarget {
  url: string;
  database: string;
  /** Days flows are kept (TTL on newer servers); undefined: forever. */
  ttlDays?: number;
  /** `remote_servers` cluster: local tables on every shard, Distributed tables over them. */
  cluster?: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The store URL with a cluster named in it (`?cluster=NAME`), as `--cluster NAME` gives it: the
 * cluster travels in the one value every command already passes to openFlowStore.
 */
export function withCluster(db: string, cluster: string): string {
  if (!isClickHouseUrl(db))
    throw new Error(
      `--cluster ${cluster}: a cluster needs a ClickHouse store (--db clickhouse://…), not '${db}'`,
    );
  if (!NAME.test(cluster)) throw new Error(`--cluster must be letters, digits and _, not '${cluster}'`);
  const had = /[?&]cluster=([^&]*)/.exec(db);
  if (had && decodeURIComponent(had[1]) !== cluster)
    throw new Error(`--cluster ${cluster} and the URL's cluster=${had[1]} differ: give one`);
  return had ? db : `${db}${db.includes('?') ? '&' : '?'}cluster=${cluster}`;
}

/** The cluster of `?cluster=NAME`, checked (undefined when the URL names none). */
function clusterOf(params: URLSearchParams, display: string): string | undefined {
  const c = params.get('cluster');
  if (c === null) return undefined;
  if (!NAME.test(c)) throw new Error(`${display}: cluster must be letters, digits and _, not '${c}'`);
  return c;
}

/** Parse `clickhouse://USER:PASSWORD@HOST:PORT/DATABASE[?ttl_days=N]` (errors never show the password). */
export function parseTarget(db: string): ClickHouseTarget {
  let u: URL;
  try {
    u = new URL(db);
  } catch {
    throw new Error(`${redact(db)}: not a URL (clickhouse://USER:PASSWORD@HOST:PORT/DATABASE)`);
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'coinradar';
  if (!NAME.test(database))
    throw new Error(`${redact(db)}: database name must be letters, digits and _, not '${database}'`);
  const ttl = u.searchParams.get('ttl_days');
  const ttlDays = ttl === null ? undefined : Number(ttl);
  if (ttlDays !== undefined && !(Number.isInteger(ttlDays) && ttlDays > 0))
    throw new Error(`${redact(db)}: ttl_days must be a whole number of days, not '${ttl}'`);
  return { url: db, database, ttlDays, cluster: clusterOf(u.searchParams, redact(db)) };
}

/**
 * Settings of every statement on a cluster: subqueries over Distributed tables inside a
 * distributed query run once on the initiator and go to every shard as a temporary table
 * (GLOBAL IN / GLOBAL JOIN; the default refuses them), and an insert into a Distributed table
 * returns once every shard has its rows (by default it queues them and returns at once, so a
 * source would be marked complete before its flows are readable).
 */
export const CLUSTER_SETTINGS = { distributed_product_mode: 'global', insert_distributed_sync: 1 } as const;

/** The tables of `database` (name → engine_full) through a query that needs no database. */
const TABLES_SQL = (database: string) =>
  `SELECT name, engine_full FROM system.tables WHERE database = ${str(database)}`;

async function httpConnection(t: ClickHouseTarget, host?: string): Promise<ChConnection> {
  const { createClient, ClickHouseLogLevel } = await import('@clickhouse/client');
  const u = new URL(t.url);
  const display = host ? `${redact(t.url)} (shard ${host})` : redact(t.url);
  const hostname = host ?? u.hostname;
  const base = {
    url: `${u.protocol === 'clickhouses:' ? 'https:' : 'http:'}//${hostname.includes(':') ? `[${hostname}]` : hostname}:${u.port || '8123'}`,
    username: decodeURIComponent(u.username) || 'default',
    password: decodeURIComponent(u.password),
    // The client's own log would print requests; errors come back to us as values instead.
    log: { level: ClickHouseLogLevel.OFF },
    request_timeout: 600_000,
    ...(t.cluster ? { clickhouse_settings: CLUSTER_SETTINGS } : {}),
  };
  const clean = (e: unknown) => {
    const m = e instanceof Error ? e.message : String(e);
    return new Error(`${display}: ${m.split(base.password || '\u0000').join('***')}`);
  };
  // Inside withStoreTimeout each request is aborted after its bound and carries its own query id,
  // so that an insert given up on can be found on the server (takeTimedOut).
  const timedOut: string[] = [];
  const bounded = (insert = false) => {
    const ms = storeTimeoutMs();
    if (!ms) return { params: {}, fail: clean };
    const query_id = randomUUID();
    const abort_signal = AbortSignal.timeout(ms);
    const fail = (e: unknown) => {
      if (!abort_signal.aborted) return clean(e);
      if (insert && timedOut.push(query_id) > MAX_TIMED_OUT) timedOut.shift();
      return new Error(`${display}: ${noAnswerMessage(ms, query_id)}`, { cause: e });
    };
    return { params: { query_id, abort_signal }, fail };
  };
  // The database may not exist yet (a read says so; a write creates it): what needs no database
  // goes through a client without one.
  const admin = createClient(base);
  const client = createClient({ ...base, database: t.database });
  const query = async <T>(c: typeof client, sql: string): Promise<T[]> => {
    const b = bounded();
    try {
      const r = await c.query({ query: sql, format: 'JSONEachRow', ...b.params });
      return (await r.json()) as T[];
    } catch (e) {
      throw b.fail(e);
    }
  };
  const rows = <T>(sql: string) => query<T>(client, sql);
  let v: string;
  try {
    [{ v }] = await query<{ v: string }>(admin, 'SELECT version() AS v');
  } catch (e) {
    await Promise.all([admin.close(), client.close()]);
    throw e;
  }
  return {
    version: v,
    display,
    database: t.database,
    rows,
    async tables() {
      const r = await query<{ name: string; engine_full: string }>(admin, TABLES_SQL(t.database));
      return new Map(r.map((x) => [x.name, x.engine_full]));
    },
    systemRows: (sql) => query(admin, sql),
    async createDatabase() {
      const b = bounded();
      try {
        await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${t.database}`, ...b.params });
      } catch (e) {
        throw b.fail(e);
      }
    },
    onHost: (h: string) => httpConnection(t, h),
    async command(sql) {
      const b = bounded();
      try {
        await client.command({ query: sql, ...b.params });
      } catch (e) {
        throw b.fail(e);
      }
    },
    async insertTsv(table, columns, body) {
      const b = bounded(true);
      try {
        await client.insert({
          table,
          columns: columns as [string, ...string[]],
          values: Readable.from([body], { objectMode: false }),
          format: 'TabSeparated',
          ...b.params,
        });
      } catch (e) {
        throw b.fail(e);
      }
    },
    async insertRowBinary(table, columns, body) {
      const b = bounded(true);
      try {
        const r = await client.exec({
          query: `INSERT INTO ${table} (${columns.join(', ')}) FORMAT RowBinary`,
          values: Readable.from([body], { objectMode: false }),
          ...b.params,
        });
        // The answer comes when the insert is done; its body is empty.
        for await (const chunk of r.stream) void chunk;
      } catch (e) {
        throw b.fail(e);
      }
    },
    takeTimedOut: () => timedOut.splice(0),
    close: async () => {
      await Promise.all([admin.close(), client.close()]);
    },
  };
}

/**
 * chDB (npm `chdb`, a dev dependency): the current engine in this process, data under PATH.
 * `chdb:PATH?config=FILE` loads a server config (for `remote_servers`: chDB has no cluster of
 * its own, but a cluster whose one shard is this process runs its Distributed tables in place).
 */
async function chdbConnection(db: string): Promise<{ conn: ChConnection; target: ClickHouseTarget }> {
  const [rest, query = ''] = db.replace(/^chdb:(\/\/)?/i, '').split('?', 2);
  const params = new URLSearchParams(query);
  const path = rest;
  const config = params.get('config');
  let mod: typeof import('chdb');
  try {
    mod = await import('chdb');
  } catch (e) {
    throw new Error(`${db}: chDB is not installed (npm install chdb): ${(e as Error).message}`, { cause: e });
  }
  const session = new mod.Session(
    path || undefined,
    config ? { connectionArgs: [`--config-file=${config}`] } : undefined,
  );
  const database = 'coinradar';
  const target: ClickHouseTarget = { url: db, database, cluster: clusterOf(params, db) };
  const run = async (sql: string, format = 'JSONEachRow') => {
    try {
      return await session.queryAsync(sql, { format });
    } catch (e) {
      throw new Error(`${db}: ${(e as Error).message}`, { cause: e });
    }
  };
  if (target.cluster)
    for (const [k, v] of Object.entries(CLUSTER_SETTINGS))
      await run(`SET ${k} = ${str(String(v))}`, 'TabSeparated');
  // The session's database, used once it exists (a read of a store without one says so).
  let used = false;
  const use = async () => {
    if (used) return;
    await run(`USE ${database}`, 'TabSeparated');
    used = true;
  };
  const parse = async <T>(sql: string): Promise<T[]> => {
    const text = (await run(sql)).text();
    return text
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as T);
  };
  const rows = async <T>(sql: string): Promise<T[]> => {
    await use();
    return parse<T>(sql);
  };
  const [{ v }] = await parse<{ v: string }>('SELECT version() AS v');
  const conn: ChConnection = {
    version: v,
    display: db,
    database,
    rows,
    async tables() {
      const r = await parse<{ name: string; engine_full: string }>(TABLES_SQL(database));
      return new Map(r.map((x) => [x.name, x.engine_full]));
    },
    systemRows: parse,
    async createDatabase() {
      await run(`CREATE DATABASE IF NOT EXISTS ${database}`, 'TabSeparated');
    },
    async command(sql) {
      await use();
      await run(sql, 'TabSeparated');
    },
    async insertTsv(table, columns, body) {
      await use();
      try {
        await session.insert({
          table: `${database}.${table}`,
          columns,
          values: body,
          format: 'TabSeparated',
        });
      } catch (e) {
        throw new Error(`${db}: ${(e as Error).message}`, { cause: e });
      }
    },
    async close() {
      session.close?.();
    },
  };
  return { conn, target };
}

/** Connect to the server of a store URL; nothing is created (see tables/createDatabase). */
export async function connect(db: string): Promise<{ conn: ChConnection; target: ClickHouseTarget }> {
  if (/^chdb:/i.test(db)) return chdbConnection(db);
  const target = parseTarget(db);
  return { conn: await httpConnection(target), target };
}
