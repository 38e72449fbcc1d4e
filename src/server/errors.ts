/**
 * The one error shape of the HTTP API, `{"error":{"code","message"}}` with a JSON content type,
 * for refusals fastify answers (sendError) and for those node's HTTP parser raises before fastify
 * sees a request (clientErrorHandler: malformed request line or headers, header and request
 * timeouts, oversized headers), which are written straight to the socket.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply } from 'fastify';
import { CONTENT_SECURITY_POLICY } from './headers.js';

export function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).type('application/json').send({ error: { code, message } });
}

/** A whole HTTP/1.1 response carrying one error, for a socket fastify never handed a request. */
export function rawErrorResponse(status: number, code: string, message: string): string {
  const body = JSON.stringify({ error: { code, message } });
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    `Content-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `X-Content-Type-Options: nosniff\r\n` +
    `Content-Security-Policy: ${CONTENT_SECURITY_POLICY}\r\n` +
    `Connection: close\r\n\r\n${body}`
  );
}

/** What node's parser errors become (node's own codes; llhttp's are HPE_*). */
export function clientErrorReply(err: NodeJS.ErrnoException): {
  status: number;
  code: string;
  message: string;
} {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        code: 'request_timeout',
        message: 'request not received in time (headers or body too slow)',
      };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'headers_too_large', message: 'request headers too large' };
    default:
      return {
        status: 400,
        code: 'malformed_request',
        message: `malformed HTTP request${err.code ? ` (${err.code})` : ''}`,
      };
  }
}

/**
 * node:http's 'clientError' listener (fastify's `clientErrorHandler`): answers in the API's error
 * shape, then closes the connection. Like node's own handler it writes nothing once a response
 * has started on the socket, so a reply in progress is never corrupted.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const r = clientErrorReply(err);
    socket.write(rawErrorResponse(r.status, r.code, r.message));
  }
  socket.destroy(err);
}
