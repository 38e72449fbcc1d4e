/**
 * JSON-RPC client for Bitcoin Core and its forks (litecoind): basic auth from the URL or from the
 * node's cookie file, batched calls.
 */
import { readFileSync } from 'node:fs';

export class RpcError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    message: string,
  ) {
    super(`${method}: ${message} (code ${code})`);
    this.name = 'RpcError';
  }
}

export interface RpcOptions {
  /** http://user:password@host:port (credentials optional when a cookie file is given). */
  url: string;
  /** Path of the node's .cookie file (user:password on one line). */
  cookieFile?: string;
  timeoutMs?: number;
}

export class NodeRpc {
  private readonly endpoint: string;
  private readonly auth: string;
  private id = 0;

  constructor(readonly opts: RpcOptions) {
    const u = new URL(opts.url);
    let user = decodeURIComponent(u.username);
    let pass = decodeURIComponent(u.password);
    if (opts.cookieFile) {
      const cookie = readFileSync(opts.cookieFile, 'utf8').trim();
      const k = cookie.indexOf(':');
      user = cookie.slice(0, k);
      pass = cookie.slice(k + 1);
    }
    u.username = '';
    u.password = '';
    this.endpoint = u.toString();
    this.auth = 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');
  }

  /** Where the node is, without credentials (for messages and source names). */
  get where(): string {
    return this.endpoint;
  }

  private async post(body: unknown): Promise<unknown> {
    const res = await fetch(this.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: this.auth },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 60000),
    });
    const text = await res.text();
    if (res.status === 401)
      throw new RpcError('auth', 401, `node at ${this.endpoint} refused the credentials`);
    try {
      return JSON.parse(text);
    } catch {
      throw new RpcError('http', res.status, `non-JSON answer from ${this.endpoint}: ${text.slice(0, 200)}`);
    }
  }

  async call<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    const r = (await this.post({ jsonrpc: '1.0', id: ++this.id, method, params })) as {
      result: T;
      error: { code: number; message: string } | null;
    };
    if (r.error) throw new RpcError(method, r.error.code, r.error.message);
    return r.result;
  }

  /** Several calls of one method in one HTTP request; results in order. */
  async batch<T = unknown>(method: string, paramsList: unknown[][]): Promise<T[]> {
    if (paramsList.length === 0) return [];
    const base = this.id;
    const body = paramsList.map((params, i) => ({ jsonrpc: '1.0', id: base + i + 1, method, params }));
    this.id += paramsList.length;
    const rs = (await this.post(body)) as {
      id: number;
      result: T;
      error: { code: number; message: string } | null;
    }[];
    if (!Array.isArray(rs)) throw new RpcError(method, -1, 'batch answer is not an array');
    const out = new Array<T>(paramsList.length);
    for (const r of rs) {
      if (r.error) throw new RpcError(method, r.error.code, r.error.message);
      out[r.id - base - 1] = r.result;
    }
    return out;
  }
}
