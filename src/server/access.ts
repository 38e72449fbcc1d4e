/**
 * Who may call what: the API key check, the per-key rate limit and the audit of refusals, decided
 * on the route fastify's router matched — never on the raw URL. The router decodes the path
 * (`/%761/lists` is `/v1/lists` to it), so a check on the URL text and the route that answers
 * can disagree; here the answer comes from the matched route's config, read after routing.
 *
 * Default deny: every route, and every request no route matched, needs a key, except the routes
 * on PUBLIC_ROUTES, which must also say `config: { public: true }` where they are declared. A
 * route marked public that is not on the list is refused when it is registered, so the list is
 * the whole truth about what answers without a key.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { auditTime, auditWho, type AuditLog } from './audit.js';
import { sendError } from './errors.js';
import type { ApiKeyFile, ApiKeyRecord } from './keys.js';
import { RateLimiter } from './rate-limit.js';
import { sessionIdFrom, type SessionTable } from './session.js';

/** Refusal lines (401, 429) written to the audit log per second, and the burst allowed. */
export const REFUSAL_LOG_RATE = 100;
export const REFUSAL_LOG_BURST = 1000;

/**
 * The only routes that answer without a key or session, as "METHOD url" (a GET entry covers the
 * HEAD fastify adds for it): health and the API document, the console's static files, and
 * signing in (which checks the key it is given itself).
 */
export const PUBLIC_ROUTES: readonly string[] = [
  'GET /healthz',
  'GET /openapi.json',
  'GET /',
  'GET /assets/*',
  'GET /favicon.svg',
  'POST /v1/session',
];

/**
 * Routes that answer a caller without credentials (or with an ended session) as "not signed in"
 * instead of 401: the console asks GET /v1/session on load, and a 401 there would be an error in
 * the browser's console on every visit. A wrong key is still refused; such a route must say
 * `config: { optionalAuth: true }` and must tell an unauthenticated caller nothing but that.
 */
export const OPTIONAL_AUTH_ROUTES: readonly string[] = ['GET /v1/session'];

/** Route config read by the access check. */
export interface AccessConfig {
  public?: boolean;
  optionalAuth?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    apiKey: ApiKeyRecord | null;
    /** The caller as the audit log writes it (auditWho()). */
    auditWho: string;
    /** The console session the request came with (null: a key header, or anonymous). */
    sessionId: string | null;
  }
  interface FastifyContextConfig {
    /** Answer without an API key; only for routes on PUBLIC_ROUTES. */
    public?: boolean;
    /** Answer a caller without credentials as unauthenticated; only for OPTIONAL_AUTH_ROUTES. */
    optionalAuth?: boolean;
  }
}

export interface AccessOptions {
  keys: ApiKeyFile;
  limiter: RateLimiter;
  audit: AuditLog;
  /** Serve non-public routes without a key (explicit opt-in); a wrong key is still refused. */
  allowAnonymous: boolean;
  /** The list versions audit lines name ("list@versionId"), as of now. */
  listTags(): string[];
  /** Told each time a refusal is not written to the audit log (the refusal-line rate was exceeded). */
  onRefusalNotLogged?: () => void;
  /** Refusal lines a second and the burst (default REFUSAL_LOG_RATE, REFUSAL_LOG_BURST). */
  refusalLog?: { rate: number; burst: number };
  /** Console sessions: a session cookie is taken as its key is (none: keys only). */
  sessions?: SessionTable | null;
}

/** A caller whose key was accepted: its record and its audit prefix. */
interface Caller {
  key: ApiKeyRecord;
  who: string;
}

export const ANONYMOUS = auditWho('anonymous');

function presentedKey(req: FastifyRequest): string | null {
  const auth = req.headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : auth.trim();
  }
  const x = req.headers['x-api-key'];
  if (typeof x === 'string' && x) return x.trim();
  return null;
}

/** Methods that change nothing; every other method with a session cookie must be same-origin. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Whether a browser sent this request from a page of this very server: Sec-Fetch-Site, when
 * sent, must say same-origin, and Origin, when sent, must name the Host the request was sent to;
 * at least one of them must be there (every browser that sends cookies sends one on a POST or
 * DELETE). A cookie alone proves nothing about which page made the request (cross-site request
 * forgery), so requests that change state with a cookie are refused without this.
 */
export function sameOriginRequest(req: FastifyRequest): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return false;
  const origin = req.headers.origin;
  if (origin !== undefined) {
    const host = req.headers.host;
    if (!host) return false;
    let u: URL;
    try {
      u = new URL(origin);
    } catch {
      return false; // "null" (sandboxed frames, file: pages) and garbage
    }
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.host !== host.toLowerCase()) return false;
  }
  return site !== undefined || origin !== undefined;
}

/** How a refusal names the request in the audit log: method and the URL as sent (not decoded). */
const refusedRoute = (req: FastifyRequest) => `${req.method} ${req.url.slice(0, 200)}`;

/**
 * Installs the access check on `app` (before any route is declared): an onRoute guard that keeps
 * `public` to PUBLIC_ROUTES and an onRequest hook (which fastify runs after routing, so the matched
 * route's config is known; requests no route matched run it too, with an empty config).
 */
export function installAccessControl(app: FastifyInstance, o: AccessOptions): void {
  const { keys, limiter, audit } = o;
  const publicRoutes = new Set(PUBLIC_ROUTES);

  app.decorateRequest('apiKey', null);
  app.decorateRequest('auditWho', ANONYMOUS);
  app.decorateRequest('sessionId', null);
  const optionalRoutes = new Set(OPTIONAL_AUTH_ROUTES);
  app.addHook('onRoute', (route) => {
    const url = route.url ?? route.path;
    for (const [flag, allowed, name] of [
      [route.config?.public, publicRoutes, 'public'],
      [route.config?.optionalAuth, optionalRoutes, 'optionalAuth'],
    ] as const) {
      if (flag !== true) continue;
      for (const m of Array.isArray(route.method) ? route.method : [route.method]) {
        if (!allowed.has(`${m === 'HEAD' ? 'GET' : m} ${url}`))
          throw new Error(
            `route ${m} ${url} is marked ${name} but is not on ${name === 'public' ? 'PUBLIC_ROUTES' : 'OPTIONAL_AUTH_ROUTES'} (src/server/access.ts)`,
          );
      }
    }
  });

  // Accepted keys by the header value that presented them, so a repeat caller costs one Map.get
  // (no parsing, no hashing); emptied whenever the key file is re-read (a revoked key drops out).
  const byAuthorization = new Map<string, Caller>();
  const byXApiKey = new Map<string, Caller>();
  let cachedGeneration = keys.generation;
  const cachedCaller = (req: FastifyRequest): Caller | undefined => {
    if (keys.generation !== cachedGeneration) {
      byAuthorization.clear();
      byXApiKey.clear();
      cachedGeneration = keys.generation;
    }
    const auth = req.headers.authorization;
    if (auth) return byAuthorization.get(auth);
    const x = req.headers['x-api-key'];
    return typeof x === 'string' && x ? byXApiKey.get(x) : undefined;
  };
  const rememberCaller = (req: FastifyRequest, key: ApiKeyRecord): Caller => {
    const c = { key, who: auditWho(key.id, key.name) };
    const auth = req.headers.authorization;
    const x = req.headers['x-api-key'];
    const cache = auth ? byAuthorization : byXApiKey;
    const header = auth || (x as string);
    if (cache.size >= 10_000) cache.clear();
    cache.set(header, c);
    return c;
  };

  // Refusals cost a client nothing, so their audit lines are rate-limited (REFUSAL_LOG_RATE a
  // second, bursts of REFUSAL_LOG_BURST): a flood of keyless requests cannot fill the disk. What is
  // left out is counted, written on the next refusal line and kept in refusalsNotLogged.
  const refusalLog = new RateLimiter(
    o.refusalLog?.rate ?? REFUSAL_LOG_RATE,
    o.refusalLog?.burst ?? REFUSAL_LOG_BURST,
  );
  let notLogged = 0;

  function refuse(
    req: FastifyRequest,
    reply: FastifyReply,
    status: number,
    code: string,
    message: string,
    who: { key: string; keyName?: string },
  ): void {
    if (refusalLog.take('refusals') > 0) {
      notLogged++;
      o.onRefusalNotLogged?.();
    } else {
      audit.record({
        ts: auditTime(),
        ...who,
        ip: req.ip,
        route: refusedRoute(req),
        addresses: [],
        matched: [],
        lists: o.listTags(),
        status,
        ...(notLogged ? { refusalsNotLogged: notLogged } : {}),
      });
      notLogged = 0;
    }
    sendError(reply, status, code, message);
  }

  /** Take a token for `bucket`; on none left answer 429 (audited with the caller), return false. */
  function admitted(
    req: FastifyRequest,
    reply: FastifyReply,
    bucket: string,
    who: { key: string; keyName?: string },
  ): boolean {
    const wait = limiter.take(bucket);
    if (wait === 0) return true;
    reply.header('retry-after', String(Math.max(1, Math.ceil(wait / 1000))));
    refuse(
      req,
      reply,
      429,
      'rate_limited',
      `rate limit of ${limiter.rate} requests/s per key exceeded; retry in ${wait} ms`,
      who,
    );
    return false;
  }

  // Callback-style hook: no promise per request on the hot path.
  const check: onRequestHookHandler = (req, reply, done) => {
    if (req.routeOptions.config.public === true) return done();
    let caller = cachedCaller(req);
    if (caller === undefined) {
      const key = presentedKey(req);
      const sid = key === null && o.sessions ? sessionIdFrom(req.headers.cookie) : null;
      if (sid !== null) {
        // A console session: the same rate limit and audit as its key, below.
        const k = o.sessions!.lookup(sid);
        if (!k && req.routeOptions.config.optionalAuth === true) return done();
        if (!k)
          return refuse(req, reply, 401, 'session_ended', 'the session has ended: sign in again', {
            key: 'session',
          });
        if (!SAFE_METHODS.has(req.method) && !sameOriginRequest(req))
          return refuse(
            req,
            reply,
            403,
            'cross_site',
            'a request that changes state with a session cookie must come from a page of this server (Origin / Sec-Fetch-Site)',
            { key: k.id, keyName: k.name },
          );
        req.sessionId = sid;
        caller = { key: k, who: auditWho(k.id, k.name) };
      } else if (key === null) {
        if (req.routeOptions.config.optionalAuth === true && !o.allowAnonymous) return done();
        if (!o.allowAnonymous)
          return refuse(
            req,
            reply,
            401,
            'missing_api_key',
            'send an API key: Authorization: Bearer <key> or x-api-key (create one with `coinradar apikey create`)',
            { key: 'none' },
          );
        if (admitted(req, reply, 'anonymous', { key: 'anonymous' })) done();
        return;
      } else {
        const c = keys.check(key);
        if (!c.ok) {
          const msg = c.reason === 'revoked_api_key' ? 'this API key has been revoked' : 'unknown API key';
          return refuse(req, reply, 401, c.reason, msg, { key: c.reason });
        }
        caller = rememberCaller(req, c.key);
      }
    }
    req.apiKey = caller.key;
    req.auditWho = caller.who;
    if (admitted(req, reply, caller.key.id, { key: caller.key.id, keyName: caller.key.name })) done();
  };
  app.addHook('onRequest', check);
}
