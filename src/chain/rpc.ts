/**
 * JSON-RPC client for Bitcoin Core and its forks (litecoind): basic auth from the URL or from the
 * node's cookie file, batched calls. The node is a peer, not a part of us: every answer is read as
 * a stream under a size cap and a deadline, checked for shape, and every failure is an RpcError
 * naming the method, the URL (never the password), the HTTP status and the node's own error.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** Why a call failed: the transport, the HTTP layer, the node, or the shape of its answer. */
export type RpcFailure = 'connect' | 'timeout' | 'http' | 'auth' | 'too-large' | 'non-json' | 'rpc' | 'type';

export class RpcError extends Error {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly failure: RpcFailure,
    detail: string,
    /** HTTP status when an answer arrived. */
    readonly status?: number,
    /** The node's JSON-RPC error code, when it gave one. */
    readonly code?: number,
  ) {
    super(`${method} at ${url}: ${detail}`);
    this.name = 'RpcError';
  }
}

/**
 * Default cap on one answer: 32 MiB. The biggest block at the verbosity we use (getblock 0, hex) is
 * a Bitcoin block at the 4,000,000 weight-unit limit, at most 4,000,000 bytes = 8,000,000 hex
 * characters; a Litecoin block adds its MWEB extension (about 1 MB at most), so ~10 MB of hex.
 * 32 MiB leaves three times that. Batched getblock answers larger than the cap are split.
 */
export const DEFAULT_RPC_MAX_BYTES = 32 * 1024 * 1024;
/** Default deadline for one whole answer (connect, send, read): a batch of big blocks from a busy node. */
export const DEFAULT_RPC_TIMEOUT_MS = 120_000;
/** Default deadline for the TCP (and TLS) connection alone. */
export const DEFAULT_RPC_CONNECT_TIMEOUT_MS = 10_000;

export interface RpcOptions {
  /** http://user:password@host:port (credentials optional when a cookie file is given). */
  url: string;
  /** Path of the node's .cookie file (user:password on one line). */
  cookieFile?: string;
  /** Whole-answer deadline in ms (default DEFAULT_RPC_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Connection deadline in ms (default DEFAULT_RPC_CONNECT_TIMEOUT_MS, never above timeoutMs). */
  connectTimeoutMs?: number;
  /** Largest answer body read, in bytes (default DEFAULT_RPC_MAX_BYTES). */
  maxBytes?: number;
}

/** A field of an answer that is not what the ingest needs; `field` is a path such as "blocks". */
export class ShapeError extends Error {
  constructor(
    readonly field: string,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`${field ? `field "${field}"` : 'result'} is ${found}, expected ${expected}`);
    this.name = 'ShapeError';
  }
}

/** Checks an answer and returns it typed; throws ShapeError naming the field. */
export type Shape<T> = (v: unknown, field?: string) => T;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'missing';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'object') return 'an object';
  return `the ${typeof v} ${String(v)}`;
}

export const wholeNumber: Shape<number> = (v, field = '') => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new ShapeError(field, 'a whole number >= 0', describe(v));
  return v;
};

export const text: Shape<string> = (v, field = '') => {
  if (typeof v !== 'string') throw new ShapeError(field, 'a string', describe(v));
  return v;
};

export const blockHash: Shape<string> = (v, field = '') => {
  if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v))
    throw new ShapeError(field, 'a block hash (64 lower-case hex digits)', describe(v));
  return v;
};

/** Hex of even length; the digits themselves are checked when decoded (Buffer.from stops short). */
export const hexString: Shape<string> = (v, field = '') => {
  if (typeof v !== 'string' || v.length % 2 !== 0 || v.length === 0)
    throw new ShapeError(field, 'a non-empty hex string of even length', describe(v));
  return v;
};

export function record<S extends Record<string, Shape<unknown>>>(
  fields: S,
): Shape<{ [K in keyof S]: ReturnType<S[K]> }> {
  return (v, field = '') => {
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw new ShapeError(field, 'an object', describe(v));
    const out: Record<string, unknown> = {};
    for (const [k, check] of Object.entries(fields))
      out[k] = check((v as Record<string, unknown>)[k], field ? `${field}.${k}` : k);
    return out as { [K in keyof S]: ReturnType<S[K]> };
  };
}

/**
 * Most JSON values (containers and array/object members) and the deepest nesting an answer may
 * hold. The byte cap alone does not bound memory: 32 MiB of `[[[[…` or `[0,0,0,…` parses into
 * hundreds of MB of objects (10 million nested arrays: 8.6 s and 667 MB RSS in JSON.parse). The
 * answers we use are a few dozen values each (getblockchaininfo) or a few per block in a batch.
 */
export const JSON_MAX_VALUES = 100_000;
export const JSON_MAX_DEPTH = 64;

/**
 * One linear pass over the raw body outside strings (strings are skipped with indexOf, so the
 * megabytes of block hex cost a few native calls): counts containers and separators and tracks
 * depth. Returns what is over budget, or null.
 */
export function jsonOverBudget(
  b: Buffer,
  maxValues = JSON_MAX_VALUES,
  maxDepth = JSON_MAX_DEPTH,
): string | null {
  let values = 0;
  let depth = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c === 0x22) {
      // Jump to the closing quote: one not preceded by an odd run of backslashes.
      let q = i;
      for (;;) {
        q = b.indexOf(0x22, q + 1);
        if (q < 0) return null; // unterminated: JSON.parse says so
        let k = q - 1;
        while (b[k] === 0x5c) k--;
        if ((q - 1 - k) % 2 === 0) break;
      }
      i = q;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return `nesting deeper than ${maxDepth} levels`;
      if (++values > maxValues) return `more than ${maxValues} JSON values`;
    } else if (c === 0x5d || c === 0x7d) depth--;
    else if (c === 0x2c && ++values > maxValues) return `more than ${maxValues} JSON values`;
  }
  return null;
}

interface RpcReply {
  id?: unknown;
  result?: unknown;
  error?: unknown;
}

const transportFailures = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

export class NodeRpc {
  private readonly endpoint: URL;
  private readonly auth: string;
  private readonly timeoutMs: number;
  private readonly connectTimeoutMs: number;
  readonly maxBytes: number;
  private id = 0;

  constructor(readonly opts: RpcOptions) {
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      // Not echoed: the text may hold a password.
      throw new Error('the RPC URL is not a URL (expected http://user:password@host:port)');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new Error(`the RPC URL must be http: or https:, not ${u.protocol}`);
    let user = decodeURIComponent(u.username);
    let pass = decodeURIComponent(u.password);
    if (opts.cookieFile) {
      const cookie = readFileSync(opts.cookieFile, 'utf8').trim();
      const k = cookie.indexOf(':');
      if (k <= 0)
        throw new Error(`${opts.cookieFile}: not a node cookie file (expected user:password on one line)`);
      user = cookie.slice(0, k);
      pass = cookie.slice(k + 1);
    }
    u.username = '';
    u.password = '';
    this.endpoint = u;
    this.auth = 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
    this.connectTimeoutMs = Math.min(opts.connectTimeoutMs ?? DEFAULT_RPC_CONNECT_TIMEOUT_MS, this.timeoutMs);
    this.maxBytes = opts.maxBytes ?? DEFAULT_RPC_MAX_BYTES;
    for (const [name, v] of [
      ['timeoutMs', this.timeoutMs],
      ['connectTimeoutMs', this.connectTimeoutMs],
      ['maxBytes', this.maxBytes],
    ] as const)
      if (!Number.isSafeInteger(v) || v <= 0)
        throw new Error(`RPC ${name} must be a whole number > 0, not ${v}`);
  }

  /** Where the node is, without credentials (for messages and source names). */
  get where(): string {
    return this.endpoint.toString();
  }

  private fail(
    method: string,
    failure: RpcFailure,
    detail: string,
    status?: number,
    code?: number,
  ): RpcError {
    return new RpcError(method, this.where, failure, detail, status, code);
  }

  /** One POST; the body is read as a stream and the request aborted past the cap or the deadline. */
  private post(method: string, body: string): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const timers: NodeJS.Timeout[] = [];
      const settle = (e: RpcError | null, v?: { status: number; body: Buffer }) => {
        if (settled) return;
        settled = true;
        for (const t of timers) clearTimeout(t);
        if (e) {
          req.destroy();
          reject(e);
        } else resolve(v!);
      };
      const request = this.endpoint.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = request(this.endpoint, {
        method: 'POST',
        // A fresh connection per call: nothing idles open after the ingest, and a connection the
        // node left in a bad state is never reused.
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          authorization: this.auth,
        },
      });
      timers.push(
        setTimeout(
          () =>
            settle(
              this.fail(method, 'timeout', `no complete answer within ${this.timeoutMs} ms (--rpc-timeout)`),
            ),
          this.timeoutMs,
        ),
      );
      const connectTimer = setTimeout(
        () =>
          settle(
            this.fail(
              method,
              'timeout',
              `no connection within ${this.connectTimeoutMs} ms (--rpc-connect-timeout)`,
            ),
          ),
        this.connectTimeoutMs,
      );
      timers.push(connectTimer);
      req.on('socket', (s) => {
        if (!s.connecting) clearTimeout(connectTimer);
        else
          s.once(this.endpoint.protocol === 'https:' ? 'secureConnect' : 'connect', () =>
            clearTimeout(connectTimer),
          );
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        const code = e.code ?? e.message;
        settle(
          transportFailures.has(code)
            ? this.fail(method, 'connect', `cannot connect (${code})`)
            : this.fail(method, 'http', `connection failed (${code})`),
        );
      });
      req.on('response', (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        const declared = Number(res.headers['content-length']);
        if (declared > this.maxBytes) {
          settle(
            this.fail(
              method,
              'too-large',
              `answer of ${declared} bytes is larger than the cap of ${this.maxBytes} bytes (--rpc-max-bytes); not read`,
              status,
            ),
          );
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > this.maxBytes) {
            settle(
              this.fail(
                method,
                'too-large',
                `answer larger than the cap of ${this.maxBytes} bytes (--rpc-max-bytes); aborted after ${size} bytes`,
                status,
              ),
            );
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => settle(null, { status, body: Buffer.concat(chunks, size) }));
        res.on('error', (e) => settle(this.fail(method, 'http', `answer cut short (${e.message})`, status)));
        res.on('close', () => {
          if (!res.complete)
            settle(this.fail(method, 'http', `connection closed after ${size} bytes of the answer`, status));
        });
      });
      req.end(body);
    });
  }

  /**
   * Send and decode. Bitcoin Core answers RPC errors with HTTP 500/404 and a JSON body, so the
   * body is parsed before the status decides; 401 carries no body.
   */
  private async exchange(method: string, payload: unknown, params?: unknown[]): Promise<unknown> {
    const { status, body } = await this.post(method, JSON.stringify(payload));
    if (status === 401) throw this.fail(method, 'auth', 'HTTP 401: the node refused the credentials', status);
    const over = jsonOverBudget(body);
    if (over)
      throw this.fail(method, 'too-large', `HTTP ${status}, answer holds ${over}; not parsed`, status);
    const s = body.toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(s);
    } catch (e) {
      const head = JSON.stringify(s.slice(0, 120));
      throw this.fail(
        method,
        status >= 200 && status < 300 ? 'non-json' : 'http',
        `HTTP ${status}, answer is not JSON (${(e as Error).message}): ${head}`,
        status,
      );
    }
    if (!Array.isArray(parsed) && (typeof parsed !== 'object' || parsed === null))
      throw this.fail(
        method,
        'type',
        `HTTP ${status}, answer is ${describe(parsed)}, not a JSON-RPC reply`,
        status,
      );
    if (!Array.isArray(parsed) && (parsed as RpcReply).error != null)
      throw this.nodeError(method, (parsed as RpcReply).error, status, params);
    if (status < 200 || status >= 300)
      throw this.fail(
        method,
        'http',
        `HTTP ${status} without a JSON-RPC error: ${JSON.stringify(s.slice(0, 120))}`,
        status,
      );
    return parsed;
  }

  private nodeError(method: string, err: unknown, status: number, params?: unknown[]): RpcError {
    const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; message?: unknown };
    const code = typeof e.code === 'number' ? e.code : undefined;
    const message = typeof e.message === 'string' ? e.message : JSON.stringify(err);
    const args = params ? ` (params ${JSON.stringify(params).slice(0, 100)})` : '';
    return this.fail(
      method,
      'rpc',
      `HTTP ${status}, node error ${code ?? '?'}: ${message}${args}`,
      status,
      code,
    );
  }

  private checked<T>(method: string, v: unknown, shape: Shape<T> | undefined, params?: unknown[]): T {
    if (!shape) return v as T;
    try {
      return shape(v);
    } catch (e) {
      if (!(e instanceof ShapeError)) throw e;
      const args = params ? ` (params ${JSON.stringify(params).slice(0, 100)})` : '';
      throw this.fail(method, 'type', `${e.message}${args}`);
    }
  }

  /** One call. With a shape the result is checked and typed; without, it is trusted (tests, tools). */
  async call<T = unknown>(method: string, params: unknown[] = [], shape?: Shape<T>): Promise<T> {
    const r = (await this.exchange(
      method,
      { jsonrpc: '1.0', id: ++this.id, method, params },
      params.length > 0 ? params : undefined,
    )) as RpcReply;
    if (Array.isArray(r)) throw this.fail(method, 'type', 'answer is an array, expected one JSON-RPC reply');
    if (!('result' in r)) throw this.fail(method, 'type', 'reply has neither result nor error');
    return this.checked(method, r.result, shape, params.length > 0 ? params : undefined);
  }

  /** Several calls of one method in one HTTP request; results in order, each checked. */
  async batch<T = unknown>(method: string, paramsList: unknown[][], shape?: Shape<T>): Promise<T[]> {
    if (paramsList.length === 0) return [];
    const base = this.id;
    const body = paramsList.map((params, i) => ({ jsonrpc: '1.0', id: base + i + 1, method, params }));
    this.id += paramsList.length;
    const rs = await this.exchange(method, body);
    if (!Array.isArray(rs)) throw this.fail(method, 'type', `batch answer is ${describe(rs)}, not an array`);
    const out = new Array<T>(paramsList.length);
    const seen = new Uint8Array(paramsList.length);
    for (const r of rs as RpcReply[]) {
      const k = typeof r === 'object' && r !== null && typeof r.id === 'number' ? r.id - base - 1 : -1;
      if (!(k >= 0 && k < paramsList.length) || seen[k])
        throw this.fail(
          method,
          'type',
          `batch answer holds a reply with id ${describe(r?.id)}, not one we asked for`,
        );
      seen[k] = 1;
      if (r.error != null) throw this.nodeError(method, r.error, 200, paramsList[k]);
      out[k] = this.checked(method, r.result, shape, paramsList[k]);
    }
    const missing = seen.indexOf(0);
    if (missing >= 0)
      throw this.fail(
        method,
        'type',
        `batch answer has no reply for params ${JSON.stringify(paramsList[missing])}`,
      );
    return out;
  }
}
