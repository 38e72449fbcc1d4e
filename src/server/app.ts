/**
 * The screening HTTP API (fastify). Routes are schema-first; every error is
 * {"error":{"code","message"}}; /v1 routes need an API key unless the server was started with
 * anonymous access explicitly allowed. The index is in memory: a lookup is a Map.get.
 */
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { ScreeningIndex } from '../sanctions/screen.js';
import type { ApiKeyFile, ApiKeyRecord } from './keys.js';
import type { AuditLog } from './audit.js';
import { RateLimiter } from './rate-limit.js';
import { openApiDocument, resultSchema, screenBodySchema, versionSchema } from './openapi.js';

export interface ServerOptions {
  index: ScreeningIndex;
  keys: ApiKeyFile;
  audit: AuditLog;
  /** Serve /v1 without a key (must be asked for explicitly). */
  allowAnonymous?: boolean;
  /** Largest request body in bytes (413 beyond). */
  bodyLimit?: number;
  /** Most addresses in one POST /v1/screen (400 beyond). */
  maxBatch?: number;
  /** Requests a second per key (0 = unlimited) and the burst allowed. */
  rate?: number;
  burst?: number;
  logger?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    apiKey: ApiKeyRecord | null;
  }
}

export const DEFAULT_BODY_LIMIT = 2 * 1024 * 1024;
export const DEFAULT_MAX_BATCH = 10_000;

function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).type('application/json').send({ error: { code, message } });
}

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

export function buildServer(opts: ServerOptions): FastifyInstance {
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const maxBatch = opts.maxBatch ?? DEFAULT_MAX_BATCH;
  const limiter = new RateLimiter(opts.rate ?? 0, opts.burst);
  const { index, keys, audit } = opts;
  const lists = index.versions.map((v) => ({
    versionId: v.versionId,
    list: v.list,
    published: v.published,
    checksum: v.checksum,
  }));
  const listTags = lists.map((v) => `${v.list}@${v.versionId}`);
  const doc = openApiDocument({ maxBatch, bodyLimit, anonymous: !!opts.allowAnonymous });

  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit,
    routerOptions: { maxParamLength: 256 },
    return503OnClosing: true,
  });
  app.decorateRequest('apiKey', null);

  // Callback-style hook: no promise per request on the hot path.
  app.addHook('onRequest', (req, reply, done) => {
    if (!req.url.startsWith('/v1/')) return done();
    const refuse = (status: number, code: string, message: string, keyLabel: string) => {
      audit.record({
        ts: new Date().toISOString(),
        key: keyLabel,
        ip: req.ip,
        route: req.url.slice(0, 200),
        addresses: [],
        matched: [],
        lists: listTags,
        status,
      });
      sendError(reply, status, code, message);
    };
    const key = presentedKey(req);
    if (key === null) {
      if (opts.allowAnonymous) {
        const wait = limiter.take('anonymous');
        if (wait > 0) return rateLimited(reply, wait);
        return done();
      }
      return refuse(
        401,
        'missing_api_key',
        'send an API key: Authorization: Bearer <key> or x-api-key (create one with `coinradar apikey create`)',
        'none',
      );
    }
    const c = keys.check(key);
    if (!c.ok) {
      const msg = c.reason === 'revoked_api_key' ? 'this API key has been revoked' : 'unknown API key';
      return refuse(401, c.reason, msg, c.reason);
    }
    req.apiKey = c.key;
    const wait = limiter.take(c.key.id);
    if (wait > 0) return rateLimited(reply, wait);
    done();
  });

  function rateLimited(reply: FastifyReply, waitMs: number): FastifyReply {
    reply.header('retry-after', String(Math.max(1, Math.ceil(waitMs / 1000))));
    return sendError(
      reply,
      429,
      'rate_limited',
      `rate limit of ${limiter.rate} requests/s per key exceeded; retry in ${waitMs} ms`,
    );
  }

  const who = (req: FastifyRequest) =>
    req.apiKey ? { key: req.apiKey.id, keyName: req.apiKey.name } : { key: 'anonymous' };

  app.get('/openapi.json', async () => doc);
  app.get('/healthz', async () => ({ ok: true, addresses: index.size, lists }));

  app.get<{ Params: { address: string } }>(
    '/v1/screen/:address',
    {
      schema: {
        response: { 200: resultSchema },
      },
    },
    async (req) => {
      const r = index.screen(req.params.address);
      audit.record({
        ts: new Date().toISOString(),
        ...who(req),
        ip: req.ip,
        route: 'GET /v1/screen',
        addresses: [r.address],
        matched: r.matched ? [r.address] : [],
        lists: listTags,
        status: 200,
      });
      return r;
    },
  );

  app.post<{ Body: { addresses: string[] } }>(
    '/v1/screen',
    {
      schema: {
        body: screenBodySchema(maxBatch),
        response: {
          200: {
            type: 'object',
            properties: {
              results: { type: 'array', items: resultSchema },
              matched: { type: 'integer' },
              lists: { type: 'array', items: versionSchema },
            },
          },
        },
      },
    },
    async (req) => {
      const results = index.screenAddresses(req.body.addresses);
      const matched: string[] = [];
      for (const r of results) if (r.matched) matched.push(r.address);
      audit.record({
        ts: new Date().toISOString(),
        ...who(req),
        ip: req.ip,
        route: 'POST /v1/screen',
        addresses: req.body.addresses,
        matched,
        lists: listTags,
        status: 200,
      });
      return { results, matched: matched.length, lists };
    },
  );

  app.get(
    '/v1/lists',
    {
      schema: {
        response: { 200: { type: 'object', properties: { lists: { type: 'array', items: versionSchema } } } },
      },
    },
    async () => ({ lists }),
  );

  app.setNotFoundHandler((req, reply) =>
    sendError(reply, 404, 'not_found', `no route ${req.method} ${req.url.slice(0, 200)}`),
  );

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.validation) {
      const tooMany = err.validation.some(
        (v) => v.keyword === 'maxItems' && String(v.instancePath).startsWith('/addresses'),
      );
      if (tooMany)
        return sendError(reply, 400, 'too_many_addresses', `at most ${maxBatch} addresses per request`);
      return sendError(reply, 400, 'bad_request', err.message);
    }
    switch (err.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendError(reply, 413, 'body_too_large', `request body larger than ${bodyLimit} bytes`);
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return sendError(reply, 415, 'unsupported_media_type', 'send Content-Type: application/json');
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return sendError(reply, 400, 'bad_json', 'empty JSON body');
    }
    if (err.statusCode === 400 || err instanceof SyntaxError) {
      return sendError(
        reply,
        400,
        'bad_json',
        /json/i.test(err.message) ? err.message : `body is not valid JSON: ${err.message}`,
      );
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)
      return sendError(reply, err.statusCode, 'bad_request', err.message);
    req.log.error(err);
    return sendError(reply, 500, 'internal', 'internal error');
  });

  return app;
}
