/**
 * Headers on every answer of the server, API and console alike: a Content-Security-Policy that
 * lets a page run only the scripts and styles this server sends as files (no inline script, no
 * eval, no plug-ins, never framed, no <base> rewriting), and nosniff so a JSON or text answer is
 * never run as a script. Set first thing on each request, so refusals and errors carry them too.
 */
import type { FastifyInstance } from 'fastify';

export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'";

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
};

export function installSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onRequest', (_req, reply, done) => {
    reply.headers(SECURITY_HEADERS);
    done();
  });
}
