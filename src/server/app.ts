/**
 * The screening HTTP API (fastify). Routes are schema-first; every error is
 * {"error":{"code","message"}}; /v1 routes need an API key unless the server was started with
 * anonymous access explicitly allowed. The index is in memory: an exact lookup is a Map.get, and
 * its response is built from pre-serialised parts (json.ts). With a chain index (`chain`), every
 * screened address also gets cluster and indirect matches, as `coinradar screen` gives them.
 */
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import {
  screenWithExposure,
  type ChainExposureProvider,
  type ScreenResult,
  type ScreeningIndex,
} from '../sanctions/screen.js';
import type { ApiKeyFile, ApiKeyRecord } from './keys.js';
import { auditTime, auditWho, type AuditLog } from './audit.js';
import { JSON_TYPE, screenBatchJson, screenResultJson } from './json.js';
import { RateLimiter } from './rate-limit.js';
import {
  batchResponseSchema,
  chainSchema,
  openApiDocument,
  resultSchema,
  screenBodySchema,
  versionSchema,
  type ChainInfo,
} from './openapi.js';

/** A chain index to screen against besides the lists (coinradar serve opens it; see cli/chain-screening.ts). */
export interface ServerChain {
  provider: ChainExposureProvider;
  network: string | null;
  tipHeight: number;
  /** How far back received funds are followed for indirect matches. */
  hops: number;
}

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
  /** Add cluster and indirect matches from this chain index (none: exact matches only). */
  chain?: ServerChain | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    apiKey: ApiKeyRecord | null;
    /** The caller as the audit log writes it (auditWho()). */
    auditWho: string;
  }
  interface FastifyInstance {
    /** Screen against another index from now on (a reloaded list). */
    swapIndex(index: ScreeningIndex): void;
  }
}

type ScreeningState = ReturnType<typeof screeningState>;

function screeningState(index: ScreeningIndex) {
  const lists = index.versions.map((v) => ({
    versionId: v.versionId,
    list: v.list,
    published: v.published,
    checksum: v.checksum,
  }));
  const listTags = lists.map((v) => `${v.list}@${v.versionId}`);
  return {
    index,
    lists,
    listTags,
    // Serialised once per index for the hot path.
    listsJson: JSON.stringify(lists),
    listTagsJson: JSON.stringify(listTags),
  };
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

/** A caller whose key was accepted: its record and its audit prefix. */
interface Caller {
  key: ApiKeyRecord;
  who: string;
}

const ANONYMOUS = auditWho('anonymous');
const GET_SCREEN_JSON = JSON.stringify('GET /v1/screen');

/** Who asked, as an audit entry names it. */
const auditCaller = (req: FastifyRequest) =>
  req.apiKey ? { key: req.apiKey.id, keyName: req.apiKey.name } : { key: 'anonymous' };

export function buildServer(opts: ServerOptions): FastifyInstance {
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const maxBatch = opts.maxBatch ?? DEFAULT_MAX_BATCH;
  const limiter = new RateLimiter(opts.rate ?? 0, opts.burst);
  const { keys, audit } = opts;
  const chain = opts.chain ?? null;
  const chainInfo: ChainInfo | null = chain
    ? { network: chain.network, tipHeight: chain.tipHeight, hops: chain.hops, policy: 'haircut' }
    : null;
  const chainTag = chainInfo
    ? `${chainInfo.network ?? 'chain'}@${chainInfo.tipHeight}, ${chainInfo.hops} hops (${chainInfo.policy})`
    : undefined;
  // Swapped whole by swapIndex() (coinradar serve does it on SIGHUP after a new list load), so a
  // request sees one consistent index and version set.
  let current = screeningState(opts.index);
  const doc = openApiDocument({ maxBatch, bodyLimit, anonymous: !!opts.allowAnonymous, chain: chainInfo });

  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit,
    routerOptions: { maxParamLength: 256 },
    return503OnClosing: true,
    // Errors fastify raises before routing (a malformed URL, ...) get the same JSON shape.
    frameworkErrors: (err, _req, reply) => {
      sendError(reply, 400, 'bad_url', err.message);
    },
  });
  app.decorateRequest('apiKey', null);
  app.decorateRequest('auditWho', ANONYMOUS);
  app.decorate('swapIndex', (index: ScreeningIndex) => {
    current = screeningState(index);
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

  // Callback-style hook: no promise per request on the hot path.
  app.addHook('onRequest', (req, reply, done) => {
    if (!req.url.startsWith('/v1/')) return done();
    let caller = cachedCaller(req);
    if (caller === undefined) {
      const key = presentedKey(req);
      if (key === null) {
        if (opts.allowAnonymous) {
          const wait = limiter.take('anonymous');
          if (wait > 0) return rateLimited(reply, wait);
          return done();
        }
        return refuse(
          req,
          reply,
          401,
          'missing_api_key',
          'send an API key: Authorization: Bearer <key> or x-api-key (create one with `coinradar apikey create`)',
          'none',
        );
      }
      const c = keys.check(key);
      if (!c.ok) {
        const msg = c.reason === 'revoked_api_key' ? 'this API key has been revoked' : 'unknown API key';
        return refuse(req, reply, 401, c.reason, msg, c.reason);
      }
      caller = rememberCaller(req, c.key);
    }
    req.apiKey = caller.key;
    req.auditWho = caller.who;
    const wait = limiter.take(caller.key.id);
    if (wait > 0) return rateLimited(reply, wait);
    done();
  });

  function refuse(
    req: FastifyRequest,
    reply: FastifyReply,
    status: number,
    code: string,
    message: string,
    keyLabel: string,
  ): void {
    audit.record({
      ts: auditTime(),
      key: keyLabel,
      ip: req.ip,
      route: req.url.slice(0, 200),
      addresses: [],
      matched: [],
      lists: current.listTags,
      status,
    });
    sendError(reply, status, code, message);
  }

  function rateLimited(reply: FastifyReply, waitMs: number): FastifyReply {
    reply.header('retry-after', String(Math.max(1, Math.ceil(waitMs / 1000))));
    return sendError(
      reply,
      429,
      'rate_limited',
      `rate limit of ${limiter.rate} requests/s per key exceeded; retry in ${waitMs} ms`,
    );
  }

  /** Audit one batch (POST, or GET on the chain path); returns the addresses that matched. */
  function auditBatch(
    req: FastifyRequest,
    route: string,
    state: ScreeningState,
    addresses: string[],
    results: ScreenResult[],
  ): string[] {
    const matched: string[] = [];
    for (const r of results) if (r.matched) matched.push(r.address);
    audit.record({
      ts: auditTime(),
      ...auditCaller(req),
      ip: req.ip,
      route,
      addresses,
      matched,
      lists: state.listTags,
      ...(chainTag ? { chain: chainTag } : {}),
      status: 200,
    });
    return matched;
  }

  /** Exact matches plus the chain index's cluster and indirect ones, audited like the exact path. */
  async function screenOnChain(
    req: FastifyRequest,
    route: string,
    addresses: string[],
    provider: ChainExposureProvider,
  ): Promise<{ state: ScreeningState; results: ScreenResult[]; matched: string[] }> {
    const state = current;
    const results = await screenWithExposure(state.index, addresses, provider);
    return { state, results, matched: auditBatch(req, route, state, addresses, results) };
  }

  app.get('/openapi.json', async () => doc);
  app.get('/healthz', async () => ({
    ok: true,
    addresses: current.index.size,
    lists: current.lists,
    ...(chainInfo ? { chain: chainInfo } : {}),
  }));

  app.get<{ Params: { address: string } }>(
    '/v1/screen/:address',
    {
      schema: {
        response: { 200: resultSchema },
      },
    },
    (req, reply) => {
      const address = req.params.address;
      if (!address) return sendError(reply, 400, 'bad_request', 'empty address');
      if (chain) {
        // Rejections reach the error handler (500 internal); the server keeps serving.
        return screenOnChain(req, 'GET /v1/screen', [address], chain.provider).then((x) => x.results[0]);
      }
      // The hot path: one Map.get, a pre-serialised body, an audit line from pre-serialised parts.
      const state = current;
      const m = state.index.lookup(address);
      audit.recordScreen(req.auditWho, req.ip, GET_SCREEN_JSON, address, m.length > 0, state.listTagsJson);
      return reply.type(JSON_TYPE).send(screenResultJson(address, m));
    },
  );

  app.post<{ Body: { addresses: string[] } }>(
    '/v1/screen',
    {
      schema: {
        body: screenBodySchema(maxBatch),
        response: { 200: batchResponseSchema },
      },
    },
    (req, reply) => {
      const addresses = req.body.addresses;
      if (chain) {
        return screenOnChain(req, 'POST /v1/screen', addresses, chain.provider).then(
          ({ state, results, matched }) => ({
            results,
            matched: matched.length,
            lists: state.lists,
            chain: chainInfo,
          }),
        );
      }
      const state = current;
      const results = state.index.screenAddresses(addresses);
      const matched = auditBatch(req, 'POST /v1/screen', state, addresses, results);
      return reply.type(JSON_TYPE).send(screenBatchJson(results, matched.length, state.listsJson));
    },
  );

  app.get(
    '/v1/lists',
    {
      schema: {
        response: {
          200: {
            type: 'object',
            properties: { lists: { type: 'array', items: versionSchema }, chain: chainSchema },
          },
        },
      },
    },
    async () => ({ lists: current.lists, ...(chainInfo ? { chain: chainInfo } : {}) }),
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
    if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) {
      return sendError(reply, 400, 'bad_json', err.message);
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)
      return sendError(reply, err.statusCode, 'bad_request', err.message);
    req.log.error(err);
    return sendError(reply, 500, 'internal', 'internal error');
  });

  return app;
}
