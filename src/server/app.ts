/**
 * The screening HTTP API (fastify). Routes are schema-first; every error is
 * {"error":{"code","message"}} (errors.ts); every route but those on PUBLIC_ROUTES needs an API key
 * unless the server was started with anonymous access explicitly allowed, decided on the route the
 * router matched (access.ts). The index is in memory: an exact lookup is a Map.get, and
 * its response is built from pre-serialised parts (json.ts). With a chain index (`chain`), every
 * screened address also gets cluster and indirect matches, as `coinradar screen` gives them.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import {
  screenWithExposure,
  type ChainExposureProvider,
  type ScreenResult,
  type ScreeningIndex,
} from '../sanctions/screen.js';
import type { ApiKeyFile } from './keys.js';
import { installAccessControl } from './access.js';
import { auditTime, type AuditLog } from './audit.js';
import { clientErrorHandler, sendError } from './errors.js';
import { isOutOfMemory, isUnreachable } from '../store/passing-failures.js';
import { JSON_TYPE, screenBatchJson, screenResultJson } from './json.js';
import { strictBodyCompiler } from './json-body.js';
import { RateLimiter } from './rate-limit.js';
import { registerConsoleFiles } from './console-files.js';
import { installSecurityHeaders } from './headers.js';
import { registerNetworkRoutes, type NetworkApi } from './network.js';
import { registerMoneyRoutes } from './money-routes.js';
import { registerExportRoutes } from './export-routes.js';
import type { ChainStore } from '../store/chain.js';
import { SessionTable, type SessionLimits } from './session.js';
import { registerSessionRoutes } from './session-routes.js';
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
  /** Serve every route without a key (must be asked for explicitly). */
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
  /** Slow-client limits (DEFAULT_TIMEOUTS for what is not given). */
  timeouts?: Partial<ServerTimeouts>;
  /** Refusal (401/429) lines written to the audit log a second, and the burst (access.ts defaults). */
  refusalLog?: { rate: number; burst: number };
  /** Serve the console's built files from this folder at / (none: no console). */
  consoleDir?: string | null;
  /** Console sessions' bounds (DEFAULT_SESSION_LIMITS for what is not given). */
  sessions?: Partial<SessionLimits>;
  /** The network read API (/v1/series, /v1/summary, /v1/hosts, /v1/search) over a flow store. */
  network?: NetworkApi | null;
  /** The money API (/v1/chain/…) over a chain index; listed addresses come from the current lists. */
  money?: { store: ChainStore } | null;
  /**
   * With `serve --collect`: the collector's health as its own /healthz gives it (status ok,
   * degraded or failed, the error, what was stored and lost), or null before it runs. Served at
   * GET /v1/collector (with a key; `{collecting: false}` without a collector) and as `collector`
   * (the status word only) in /healthz.
   */
  collector?: () => Record<string, unknown> | null;
}

/** How long node:http waits for a client; all in milliseconds. */
export interface ServerTimeouts {
  /** From a request's first byte until its headers are complete (408 beyond). */
  headersMs: number;
  /** From a request's first byte until its body is complete (408 beyond); >= headersMs. */
  requestMs: number;
  /** How long an idle keep-alive connection stays open between requests. */
  keepAliveMs: number;
  /** How often the two limits above are checked: a slow client is cut within limit + this. */
  checkEveryMs: number;
}

/**
 * A client trickling one header line every 5 s is cut after 5–6 s; a 2 MiB body (the default
 * limit) must arrive at 70 KB/s or better. Headers of a real client arrive in one packet.
 */
export const DEFAULT_TIMEOUTS: ServerTimeouts = {
  headersMs: 5_000,
  requestMs: 30_000,
  keepAliveMs: 5_000,
  checkEveryMs: 1_000,
};

declare module 'fastify' {
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
    // A version loaded with --allow-partial says so wherever it is named: a "none" against it is weaker.
    ...(v.partial ? { partial: true, skippedRows: v.skippedRows ?? 0 } : {}),
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
  const timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  // node:http refuses a headers timeout above the request timeout at start; say which option.
  if (timeouts.requestMs > 0 && timeouts.headersMs > timeouts.requestMs)
    throw new Error(
      `the headers timeout (${timeouts.headersMs} ms) must not exceed the request timeout (${timeouts.requestMs} ms)`,
    );
  const doc = openApiDocument({
    maxBatch,
    bodyLimit,
    anonymous: !!opts.allowAnonymous,
    chain: chainInfo,
    network: !!opts.network,
    money: !!opts.money,
  });

  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit,
    routerOptions: { maxParamLength: 256 },
    // Requests arriving while the server closes get a 503 in the API's shape (the hook below),
    // not fastify's own.
    return503OnClosing: false,
    // Slow clients: headers must arrive within headersTimeout and the whole request within
    // requestTimeout, checked every connectionsCheckingInterval; an idle keep-alive connection
    // is closed after keepAliveTimeout. node:http enforces all four.
    http: { headersTimeout: timeouts.headersMs, connectionsCheckingInterval: timeouts.checkEveryMs },
    requestTimeout: timeouts.requestMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    // Malformed request lines and headers, and the timeouts above, answered in the API's shape.
    clientErrorHandler,
    // Errors fastify raises before routing (a malformed URL, ...) get the same JSON shape.
    frameworkErrors: (err, _req, reply) => {
      sendError(reply, 400, 'bad_url', err.message);
    },
  });
  app.decorate('swapIndex', (index: ScreeningIndex) => {
    current = screeningState(index);
  });

  installSecurityHeaders(app);
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', (_req, reply, done) => {
    if (!closing) return done();
    reply.header('connection', 'close');
    sendError(reply, 503, 'shutting_down', 'the server is shutting down; retry on another instance or later');
  });
  // Refusal lines left out of the audit log (rate-limited there); /healthz reports the count.
  let refusalsNotLogged = 0;
  const sessions = new SessionTable(keys, opts.sessions);
  installAccessControl(app, {
    sessions,
    keys,
    limiter,
    audit,
    allowAnonymous: !!opts.allowAnonymous,
    listTags: () => current.listTags,
    onRefusalNotLogged: () => refusalsNotLogged++,
    refusalLog: opts.refusalLog,
  });

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

  registerSessionRoutes(app, {
    keys,
    sessions,
    audit,
    limiter,
    listTags: () => current.listTags,
    allowAnonymous: () => !!opts.allowAnonymous,
  });
  if (opts.consoleDir) registerConsoleFiles(app, opts.consoleDir);
  if (opts.network) registerNetworkRoutes(app, opts.network);
  if (opts.network) registerExportRoutes(app, { ...opts.network, index: () => current.index });
  if (opts.money)
    registerMoneyRoutes(app, {
      store: opts.money.store,
      isListed: (address) => current.index.lookup(address).length > 0,
    });

  app.get('/openapi.json', { config: { public: true } }, async () => doc);
  app.get('/healthz', { config: { public: true } }, async () => ({
    ok: true,
    addresses: current.index.size,
    lists: current.lists,
    ...(chainInfo ? { chain: chainInfo } : {}),
    // The status word only: the collector's error words (paths, hosts) are for callers with a key.
    ...(opts.collector ? { collector: opts.collector()?.status ?? 'starting' } : {}),
    refusalsNotLogged,
  }));

  // Served by every server, so the console can ask without knowing: `collecting` says whether
  // this one collects (serve --collect).
  const collectorHealth = opts.collector;
  app.get('/v1/collector', async () => {
    if (!collectorHealth) return { collecting: false };
    return { collecting: true, ...(collectorHealth() ?? { status: 'starting' }) };
  });

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
      validatorCompiler: strictBodyCompiler,
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

  // Reached only past the access check (a caller with a key, or anonymous access allowed).
  app.setNotFoundHandler((req, reply) => {
    const url = req.url.slice(0, 200);
    // The router matches the path for another method: 405 with the methods it takes.
    const allow = ['GET', 'HEAD', 'POST', 'DELETE'].filter(
      (method) => method !== req.method && app.findRoute({ method, url: req.url }) !== null,
    );
    if (allow.length > 0) {
      reply.header('allow', allow.join(', '));
      return sendError(reply, 405, 'method_not_allowed', `${req.method} is not allowed on ${url}`);
    }
    return sendError(reply, 404, 'not_found', `no route ${req.method} ${url}`);
  });

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
      return sendError(
        reply,
        err.statusCode,
        err.statusCode === 408 ? 'request_timeout' : 'bad_request',
        err.message,
      );
    // Nothing to read yet (serve on a ClickHouse database before any writer made the store): the
    // server is fine and will answer once one has; say so rather than "internal error".
    if ((err as Error).name === 'StoreNotReady') return sendError(reply, 503, 'store_not_ready', err.message);
    // The store's memory limit reached (its own, or shared with a collector and other readers):
    // a request that may pass in a moment, not a fault of the server.
    if (isOutOfMemory(err)) {
      reply.header('retry-after', '5');
      return sendError(
        reply,
        503,
        'store_busy',
        "the store ran out of memory for this request (its memory limit, shared with other reads and a collector's writer): try again, or narrow the scope",
      );
    }
    // The store's server out of reach (ClickHouse down or restarting): the request may pass once it
    // is back; the server and everything else it serves go on.
    if (isUnreachable(err)) {
      reply.header('retry-after', '5');
      return sendError(
        reply,
        503,
        'store_unavailable',
        "the store's server could not be reached for this request (down or restarting): try again shortly",
      );
    }
    req.log.error(err);
    return sendError(reply, 500, 'internal', 'internal error');
  });

  return app;
}
