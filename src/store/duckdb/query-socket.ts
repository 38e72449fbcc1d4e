/**
 * Reading a store another process is writing. DuckDB lets one process hold a database file; a
 * long-running writer (`collect`, a long `ingest`) therefore answers other processes' read queries
 * itself, on a second connection of its own instance, over a Unix socket only the file's owner can
 * open (mode 0600, in the temporary directory, named after the database's real path). Readers see
 * what the writer has committed: a live collector commits every second.
 *
 * Protocol: one JSON line per request, {"sql", "params"}; the answer is JSON lines of at most
 * ROWS_PER_LINE rows ({"rows": [...]}), then {"end": true}, or {"error": "..."}. Buffers travel as
 * {"$b64": "..."}. Only statements that read are taken (SELECT, WITH, DESCRIBE, SHOW, EXPLAIN).
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, realpathSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, basename, join, resolve } from 'node:path';
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';

const ROWS_PER_LINE = 1000;
/** Largest request line a reader may send (a query and its parameters). */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

/** The socket a writer of `dbPath` listens on (same path for every process naming that file). */
export function querySocketPath(dbPath: string): string {
  let real: string;
  try {
    real = realpathSync(dbPath);
  } catch {
    // Not created yet: the real directory and the name.
    const dir = dirname(resolve(dbPath));
    real = join(existsSync(dir) ? realpathSync(dir) : dir, basename(dbPath));
  }
  const h = createHash('sha256').update(real).digest('hex').slice(0, 20);
  return join(tmpdir(), `coinradar-${h}.sock`);
}

/**
 * Statements a reader may send: one statement that reads (SELECT, WITH, …) and changes nothing.
 * Comments, quoted strings and identifiers are skipped when looking for the keyword and for a
 * second statement after a ';'.
 */
export function isReadStatement(sql: string): boolean {
  const code = codeOnly(sql).trim();
  if (!/^(SELECT|WITH|DESCRIBE|SHOW|EXPLAIN|SUMMARIZE|FROM)\b/i.test(code)) return false;
  const semi = code.indexOf(';');
  return semi < 0 || code.slice(semi + 1).trim() === '';
}

/** The statement with comments blanked and quoted text replaced by empty quotes. */
function codeOnly(sql: string): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? sql.length : nl;
      out += ' ';
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
      out += ' ';
    } else if (c === "'" || c === '"') {
      // A doubled quote inside is an escaped one: skip to the closing quote not followed by another.
      let j = i + 1;
      for (;;) {
        const k = sql.indexOf(c, j);
        if (k < 0) {
          j = sql.length;
          break;
        }
        if (sql[k + 1] === c) j = k + 2;
        else {
          j = k + 1;
          break;
        }
      }
      out += c + c;
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

function encode(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return { $b64: v.toString('base64') };
  if (Array.isArray(v)) return v.map(encode);
  return v;
}

function decode(_k: string, v: unknown): unknown {
  if (v && typeof v === 'object' && '$b64' in v) return Buffer.from((v as { $b64: string }).$b64, 'base64');
  return v;
}

/** Parameters as JSON: numbers, strings, booleans, null, bigint (as {"$n": "..."}), lists. */
function encodeParam(p: DuckDBValue): unknown {
  if (typeof p === 'bigint') return { $n: p.toString() };
  if (p && typeof p === 'object' && 'items' in p)
    return { $list: (p as { items: DuckDBValue[] }).items.map(encodeParam) };
  return p;
}

function decodeParam(p: unknown, listValue: (items: DuckDBValue[]) => DuckDBValue): DuckDBValue {
  if (p && typeof p === 'object') {
    if ('$n' in p) return BigInt((p as { $n: string }).$n);
    if ('$list' in p)
      return listValue((p as { $list: unknown[] }).$list.map((x) => decodeParam(x, listValue)));
  }
  return p as DuckDBValue;
}

export interface QueryServer {
  path: string;
  /** Requests answered and refused so far. */
  readonly served: { queries: number; refused: number };
  close(): Promise<void>;
}

/**
 * Answer readers of this database on `conn` (a connection of the writer's own instance) until
 * closed. `all` turns a statement's rows into plain values (database.ts); `listValue` builds a
 * list parameter.
 */
export async function serveQueries(
  dbPath: string,
  conn: DuckDBConnection,
  all: (conn: DuckDBConnection, sql: string, params?: DuckDBValue[]) => Promise<Record<string, unknown>[]>,
  listValue: (items: DuckDBValue[]) => DuckDBValue,
): Promise<QueryServer> {
  const path = querySocketPath(dbPath);
  // A socket left by a process that died (kill -9) is stale when nothing answers on it.
  if (existsSync(path)) {
    const alive = await new Promise<boolean>((res) => {
      const c = createConnection(path);
      c.once('connect', () => (c.destroy(), res(true)));
      c.once('error', () => res(false));
    });
    if (alive) throw new Error(`another process is already writing ${dbPath} (it answers on ${path})`);
    unlinkSync(path);
  }
  const served = { queries: 0, refused: 0 };
  // One statement at a time on the reader connection; the writer's own connection is not touched.
  let queue: Promise<void> = Promise.resolve();
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_REQUEST_BYTES) {
        served.refused++;
        sock.end(JSON.stringify({ error: `request over ${MAX_REQUEST_BYTES} bytes` }) + '\n');
        buf = '';
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        queue = queue.then(() => answer(sock, line));
      }
    });
  });
  const answer = async (sock: Socket, line: string): Promise<void> => {
    let req: { sql?: unknown; params?: unknown };
    try {
      req = JSON.parse(line) as { sql?: unknown; params?: unknown };
    } catch {
      served.refused++;
      sock.write(JSON.stringify({ error: 'not a JSON request line' }) + '\n');
      return;
    }
    if (typeof req.sql !== 'string' || !isReadStatement(req.sql)) {
      served.refused++;
      sock.write(
        JSON.stringify({
          error:
            'only statements that read (SELECT, WITH, …) are answered while another process writes this store',
        }) + '\n',
      );
      return;
    }
    try {
      const params = Array.isArray(req.params) ? req.params.map((p) => decodeParam(p, listValue)) : undefined;
      const rows = await all(conn, req.sql, params);
      served.queries++;
      for (let i = 0; i < rows.length; i += ROWS_PER_LINE) {
        const ok = sock.write(
          JSON.stringify({ rows: rows.slice(i, i + ROWS_PER_LINE).map(encodeRow) }) + '\n',
        );
        if (!ok) await new Promise((r) => sock.once('drain', r));
      }
      sock.write('{"end":true}\n');
    } catch (e) {
      sock.write(JSON.stringify({ error: e instanceof Error ? e.message : String(e) }) + '\n');
    }
  };
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(path, () => res());
  });
  chmodSync(path, 0o600);
  return {
    path,
    served,
    // Stop taking readers, drop those connected, let the statement in progress finish, then
    // close the reader connection.
    close: async () => {
      await new Promise<void>((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => res());
      });
      await queue;
      conn.closeSync();
    },
  };
}

function encodeRow(r: Record<string, unknown>): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) o[k] = encode(v);
  return o;
}

/** A reader's side: statements sent to the writer of the database, one at a time. */
export class QueryClient {
  private queue: Promise<unknown> = Promise.resolve();
  private buf = '';
  private waiting: ((line: string) => void) | null = null;
  private readonly lines: string[] = [];
  private closedError: Error | null = null;

  private constructor(
    readonly path: string,
    private readonly sock: Socket,
  ) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      this.buf += chunk;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (this.waiting) {
          const w = this.waiting;
          this.waiting = null;
          w(line);
        } else this.lines.push(line);
      }
    });
    const gone = () => {
      this.closedError ??= new Error('the process writing this store stopped while a query was answered');
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        w(JSON.stringify({ error: this.closedError.message }));
      }
    };
    sock.on('close', gone);
    sock.on('error', gone);
  }

  /** Connect to the writer of `dbPath`; null when none answers. */
  static async connect(dbPath: string): Promise<QueryClient | null> {
    const path = querySocketPath(dbPath);
    if (!existsSync(path)) return null;
    return new Promise((res) => {
      const s = createConnection(path);
      s.once('connect', () => res(new QueryClient(path, s)));
      s.once('error', () => res(null));
    });
  }

  private nextLine(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.closedError) return Promise.resolve(JSON.stringify({ error: this.closedError.message }));
    return new Promise((res) => (this.waiting = res));
  }

  all<T>(sql: string, params?: DuckDBValue[]): Promise<T[]> {
    const run = async (): Promise<T[]> => {
      this.sock.write(JSON.stringify({ sql, params: params?.map(encodeParam) }) + '\n');
      const rows: T[] = [];
      for (;;) {
        const m = JSON.parse(await this.nextLine(), decode) as { rows?: T[]; end?: boolean; error?: string };
        if (m.error) throw new Error(m.error);
        if (m.rows) rows.push(...m.rows);
        if (m.end) return rows;
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  close(): void {
    this.sock.destroy();
  }
}
