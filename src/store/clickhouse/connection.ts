/**
 * How the ClickHouse engine reaches a server: `clickhouse://USER:PASSWORD@HOST:PORT/DATABASE`
 * through the official HTTP client (`clickhouses://` for HTTPS), or `chdb:PATH` through chDB, the same engine in-process (for
 * the tests and the bench: every statement runs on a current release as well as on the server).
 * Statements carry their values as SQL literals (lit/str below), not as query parameters: the
 * 18.16 servers Debian ships have no `{name:Type}` parameters.
 */
import { Readable } from 'node:stream';

export interface ChConnection {
  /** The server's version, e.g. '18.16.1' or '26.7.2.1'. */
  readonly version: string;
  /** The URL with its password masked: for every message and log line. */
  readonly display: string;
  command(sql: string): Promise<void>;
  rows<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** Insert a TabSeparated body (escaped as tsv.ts writes it). */
  insertTsv(table: string, columns: readonly string[], body: Buffer): Promise<void>;
  /** Insert a RowBinary body (rowbinary.ts); absent where the engine cannot take it (chDB). */
  insertRowBinary?(table: string, columns: readonly string[], body: Buffer): Promise<void>;
  close(): Promise<void>;
}

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
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database))
    throw new Error(`${redact(db)}: database name must be letters, digits and _, not '${database}'`);
  const ttl = u.searchParams.get('ttl_days');
  const ttlDays = ttl === null ? undefined : Number(ttl);
  if (ttlDays !== undefined && !(Number.isInteger(ttlDays) && ttlDays > 0))
    throw new Error(`${redact(db)}: ttl_days must be a whole number of days, not '${ttl}'`);
  return { url: db, database, ttlDays };
}

async function httpConnection(t: ClickHouseTarget): Promise<ChConnection> {
  const { createClient, ClickHouseLogLevel } = await import('@clickhouse/client');
  const u = new URL(t.url);
  const display = redact(t.url);
  const base = {
    url: `${u.protocol === 'clickhouses:' ? 'https:' : 'http:'}//${u.hostname.includes(':') ? `[${u.hostname}]` : u.hostname}:${u.port || '8123'}`,
    username: decodeURIComponent(u.username) || 'default',
    password: decodeURIComponent(u.password),
    // The client's own log would print requests; errors come back to us as values instead.
    log: { level: ClickHouseLogLevel.OFF },
    request_timeout: 600_000,
  };
  const clean = (e: unknown) => {
    const m = e instanceof Error ? e.message : String(e);
    return new Error(`${display}: ${m.split(base.password || '\u0000').join('***')}`);
  };
  // The database may not exist yet: created through the default one, then used.
  const admin = createClient(base);
  try {
    await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${t.database}` });
  } catch (e) {
    await admin.close();
    throw clean(e);
  }
  await admin.close();
  const client = createClient({ ...base, database: t.database });
  const rows = async <T>(sql: string): Promise<T[]> => {
    try {
      const r = await client.query({ query: sql, format: 'JSONEachRow' });
      return (await r.json()) as T[];
    } catch (e) {
      throw clean(e);
    }
  };
  const [{ v }] = await rows<{ v: string }>('SELECT version() AS v');
  return {
    version: v,
    display,
    rows,
    async command(sql) {
      try {
        await client.command({ query: sql });
      } catch (e) {
        throw clean(e);
      }
    },
    async insertTsv(table, columns, body) {
      try {
        await client.insert({
          table,
          columns: columns as [string, ...string[]],
          values: Readable.from([body], { objectMode: false }),
          format: 'TabSeparated',
        });
      } catch (e) {
        throw clean(e);
      }
    },
    async insertRowBinary(table, columns, body) {
      try {
        const r = await client.exec({
          query: `INSERT INTO ${table} (${columns.join(', ')}) FORMAT RowBinary`,
          values: Readable.from([body], { objectMode: false }),
        });
        // The answer comes when the insert is done; its body is empty.
        for await (const chunk of r.stream) void chunk;
      } catch (e) {
        throw clean(e);
      }
    },
    close: () => client.close(),
  };
}

/** chDB (npm `chdb`, a dev dependency): the current engine in this process, data under PATH. */
async function chdbConnection(db: string): Promise<ChConnection> {
  const path = db.replace(/^chdb:(\/\/)?/i, '');
  let mod: typeof import('chdb');
  try {
    mod = await import('chdb');
  } catch (e) {
    throw new Error(`${db}: chDB is not installed (npm install chdb): ${(e as Error).message}`, { cause: e });
  }
  const session = new mod.Session(path || undefined);
  const database = 'coinradar';
  const run = async (sql: string, format = 'JSONEachRow') => {
    try {
      return await session.queryAsync(sql, { format });
    } catch (e) {
      throw new Error(`${db}: ${(e as Error).message}`, { cause: e });
    }
  };
  await run(`CREATE DATABASE IF NOT EXISTS ${database}`, 'TabSeparated');
  await run(`USE ${database}`, 'TabSeparated');
  const rows = async <T>(sql: string): Promise<T[]> => {
    const text = (await run(sql)).text();
    return text
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as T);
  };
  const [{ v }] = await rows<{ v: string }>('SELECT version() AS v');
  return {
    version: v,
    display: db,
    rows,
    async command(sql) {
      await run(sql, 'TabSeparated');
    },
    async insertTsv(table, columns, body) {
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
}

export async function connect(db: string): Promise<{ conn: ChConnection; target: ClickHouseTarget }> {
  if (/^chdb:/i.test(db))
    return { conn: await chdbConnection(db), target: { url: db, database: 'coinradar' } };
  const target = parseTarget(db);
  return { conn: await httpConnection(target), target };
}
