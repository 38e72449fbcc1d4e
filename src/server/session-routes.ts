/**
 * Signing in and out of the console. `POST /v1/session` is public (it checks the key it is given);
 * it must come from a page of this server (a login forced from another site would sign the victim
 * in as the attacker), every attempt is written to the audit log and attempts are rate-limited per
 * client address like keys are per key. `GET /v1/session` says who is signed in (or only
 * that nobody is); `DELETE /v1/session` signs out — both pass the access check like every other
 * /v1 route.
 */
import { strictBodyCompiler } from './json-body.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sameOriginRequest } from './access.js';
import { auditTime, type AuditLog } from './audit.js';
import { sendError } from './errors.js';
import type { ApiKeyFile } from './keys.js';
import type { RateLimiter } from './rate-limit.js';
import { SessionTable } from './session.js';

export interface SessionRouteOptions {
  keys: ApiKeyFile;
  sessions: SessionTable;
  audit: AuditLog;
  limiter: RateLimiter;
  listTags(): string[];
  /** Whether the server serves /v1 without a key (then everyone counts as signed in). */
  allowAnonymous(): boolean;
}

const signInBody = {
  type: 'object',
  required: ['key'],
  additionalProperties: false,
  properties: { key: { type: 'string', minLength: 1, maxLength: 256 } },
} as const;

export const sessionSchema = {
  type: 'object',
  required: ['signedIn'],
  properties: {
    signedIn: { type: 'boolean' },
    keyId: { type: 'string' },
    name: { type: 'string' },
    via: { type: 'string', enum: ['session', 'key', 'anonymous'] },
    expiresInSeconds: { type: 'integer' },
  },
} as const;

const secure = (req: FastifyRequest) => req.protocol === 'https';

export function registerSessionRoutes(app: FastifyInstance, o: SessionRouteOptions): void {
  const { keys, sessions, audit } = o;
  const record = (req: FastifyRequest, status: number, who: { key: string; keyName?: string }) =>
    audit.record({
      ts: auditTime(),
      ...who,
      ip: req.ip,
      route: `${req.method} /v1/session`,
      addresses: [],
      matched: [],
      lists: o.listTags(),
      status,
    });

  app.post<{ Body: { key: string } }>(
    '/v1/session',
    {
      config: { public: true },
      schema: { body: signInBody, response: { 200: sessionSchema } },
      validatorCompiler: strictBodyCompiler,
    },
    (req, reply) => {
      if (!sameOriginRequest(req)) {
        record(req, 403, { key: 'none' });
        return sendError(reply, 403, 'cross_site', 'sign in from a page of this server');
      }
      const wait = o.limiter.take(`sign-in ${req.ip}`);
      if (wait > 0) {
        reply.header('retry-after', String(Math.max(1, Math.ceil(wait / 1000))));
        record(req, 429, { key: 'none' });
        return sendError(reply, 429, 'rate_limited', `too many sign-in attempts; retry in ${wait} ms`);
      }
      const c = keys.check(req.body.key.trim());
      if (!c.ok) {
        record(req, 401, { key: c.reason });
        return sendError(
          reply,
          401,
          c.reason,
          c.reason === 'revoked_api_key' ? 'this API key has been revoked' : 'unknown API key',
        );
      }
      const id = sessions.create(c.key);
      record(req, 200, { key: c.key.id, keyName: c.key.name });
      reply.header('set-cookie', sessions.cookie(id, secure(req)));
      reply.header('cache-control', 'no-store');
      return {
        signedIn: true,
        keyId: c.key.id,
        name: c.key.name,
        via: 'session',
        expiresInSeconds: Math.floor(sessions.limits.maxAgeMs / 1000),
      };
    },
  );

  // Without credentials (or with an ended session) this says only that: signedIn false, no 401
  // (access.ts OPTIONAL_AUTH_ROUTES), so the console can ask on every load without an error.
  app.get(
    '/v1/session',
    { config: { optionalAuth: true }, schema: { response: { 200: sessionSchema } } },
    (req) =>
      req.apiKey === null && !o.allowAnonymous()
        ? { signedIn: false }
        : {
            signedIn: true,
            keyId: req.apiKey?.id ?? 'anonymous',
            name: req.apiKey?.name ?? 'anonymous',
            via: req.sessionId ? 'session' : req.apiKey ? 'key' : 'anonymous',
          },
  );

  app.delete('/v1/session', (req, reply) => {
    const ended = req.sessionId !== null && sessions.delete(req.sessionId);
    if (req.sessionId !== null) record(req, 200, { key: req.apiKey!.id, keyName: req.apiKey!.name });
    reply.header('set-cookie', SessionTable.clearCookie(secure(req)));
    return reply.send({ ended });
  });
}
