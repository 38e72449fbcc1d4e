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

/** Refusal lines (401, 429) written to the audit log per second, and the burst allowed. */
export const REFUSAL_LOG_RATE = 100;
export const REFUSAL_LOG_BURST = 1000;

/** The only routes that answer without a key (GET and the HEAD fastify adds for each). */
export const PUBLIC_ROUTES: readonly string[] = ['/healthz', '/openapi.json'];

/** Route config read by the access check. */
export interface AccessConfig {
  public?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    apiKey: ApiKeyRecord | null;
    /** The caller as the audit log writes it (auditWho()). */
    auditWho: string;
  }
  interface FastifyContextConfig {
    /** Answer without an API key; only for routes on PUBLIC_ROUTES. */
    public?: boolean;
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
  app.addHook('onRoute', (route) => {
    if (route.config?.public === true && !publicRoutes.has(route.url ?? route.path))
      throw new Error(
        `route ${route.method} ${route.url} is marked public but is not on PUBLIC_ROUTES (src/server/access.ts)`,
      );
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
      if (key === null) {
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
      }
      const c = keys.check(key);
      if (!c.ok) {
        const msg = c.reason === 'revoked_api_key' ? 'this API key has been revoked' : 'unknown API key';
        return refuse(req, reply, 401, c.reason, msg, { key: c.reason });
      }
      caller = rememberCaller(req, c.key);
    }
    req.apiKey = caller.key;
    req.auditWho = caller.who;
    if (admitted(req, reply, caller.key.id, { key: caller.key.id, keyName: caller.key.name })) done();
  };
  app.addHook('onRequest', check);
}
