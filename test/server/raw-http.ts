/**
 * Raw HTTP over a loopback socket for the server tests: the request bytes go out exactly as
 * written (no URL normalisation, as fastify's inject and fetch would do), and the answer is split
 * into status, headers and body. Every exchange is bounded in time.
 */
import { connect } from 'node:net';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Milliseconds from connect to the server closing the connection. */
  closedAfterMs: number;
}

export function parseAnswer(text: string, closedAfterMs: number): RawAnswer {
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const c = l.indexOf(':');
    if (c > 0) headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
  }
  const m = /^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '');
  return { status: m ? Number(m[1]) : 0, headers, body: end < 0 ? '' : text.slice(end + 4), closedAfterMs };
}

/**
 * Connect to 127.0.0.1:port, write `parts` one after another `everyMs` apart (all at once when
 * 0), and collect what comes back until the server closes the connection (or `limitMs` passes,
 * then this side closes and the answer says so with closedAfterMs = -1).
 */
export function rawExchange(
  port: number,
  parts: string[],
  everyMs = 0,
  limitMs = 15_000,
): Promise<RawAnswer & { partsSent: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let out = '';
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    let closedByUs = false;
    const s = connect(port, '127.0.0.1', () => {
      const next = () => {
        if (sent >= parts.length || s.destroyed) return;
        s.write(parts[sent++]);
        if (everyMs === 0) next();
        else timer = setTimeout(next, everyMs);
      };
      next();
    });
    const guard = setTimeout(() => {
      closedByUs = true;
      s.destroy();
    }, limitMs);
    s.setEncoding('latin1');
    s.on('data', (d: string) => (out += d));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      clearTimeout(guard);
      resolve({ ...parseAnswer(out, closedByUs ? -1 : Date.now() - t0), partsSent: sent });
    });
  });
}

/** One request, sent whole, on its own connection (Connection: close). */
export function rawRequest(
  port: number,
  method: string,
  target: string,
  headers: Record<string, string> = {},
  body = '',
): Promise<RawAnswer> {
  const h: Record<string, string> = { host: '127.0.0.1', connection: 'close', ...headers };
  if (body) h['content-length'] = String(Buffer.byteLength(body));
  const text =
    `${method} ${target} HTTP/1.1\r\n` +
    Object.entries(h)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('') +
    `\r\n${body}`;
  return rawExchange(port, [text]);
}
