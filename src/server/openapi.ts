/** The OpenAPI 3.1 document served at /openapi.json (schemas shared with the route definitions). */
export const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;

const entity = {
  type: ['object', 'null'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    type: { type: 'string' },
    programs: { type: 'array', items: { type: 'string' } },
  },
} as const;

export const matchSchema = {
  type: 'object',
  required: ['kind', 'coin', 'listedAddress', 'valid', 'entity', 'list', 'versionId', 'published'],
  properties: {
    kind: {
      type: 'string',
      enum: ['exact', 'cluster', 'indirect'],
      description:
        'exact: the address is listed; cluster: it shares a common-input-ownership cluster with listedAddress; ' +
        'indirect: some of the funds it received came from listedAddress within `hops` transactions (haircut taint)',
    },
    coin: { type: 'string' },
    listedAddress: { type: 'string', description: 'the listed address, as the list writes it' },
    valid: { type: 'boolean' },
    entity,
    entityFromVersion: { type: 'integer' },
    list: { type: 'string' },
    versionId: { type: 'integer' },
    published: { type: ['string', 'null'] },
    hops: { type: 'integer', description: 'cluster: 0; indirect: the fewest hops back to listedAddress' },
    via: {
      type: 'string',
      description:
        'indirect: share of received funds, e.g. "33.3 % of 2500000000 sat received within 3 hops (haircut)"',
    },
  },
} as const;

export const resultSchema = {
  type: 'object',
  required: ['address', 'matched', 'matches'],
  properties: {
    address: { type: 'string' },
    matched: { type: 'boolean' },
    matches: { type: 'array', items: matchSchema },
  },
} as const;

export const versionSchema = {
  type: 'object',
  properties: {
    versionId: { type: 'integer' },
    list: { type: 'string' },
    published: { type: ['string', 'null'] },
    checksum: { type: 'string' },
    partial: {
      type: 'boolean',
      description:
        'present (true) only for a version loaded with --allow-partial: rows of the list were left out',
    },
    skippedRows: { type: 'integer', description: 'rows of a partial version that were not loaded' },
  },
} as const;

/** The chain index the server screens against besides the lists (absent: exact matches only). */
export interface ChainInfo {
  network: string | null;
  tipHeight: number;
  hops: number;
  policy: 'haircut';
}

export const chainSchema = {
  type: 'object',
  description:
    'the chain index cluster and indirect matches come from (absent when the server screens exact matches only)',
  properties: {
    network: { type: ['string', 'null'] },
    tipHeight: { type: 'integer' },
    hops: { type: 'integer' },
    policy: { type: 'string' },
  },
} as const;

/** POST /v1/screen's 200 response (the route's serializer; the OpenAPI document writes it with $refs). */
export const batchResponseSchema = {
  type: 'object',
  properties: {
    results: { type: 'array', items: resultSchema },
    matched: { type: 'integer' },
    lists: { type: 'array', items: versionSchema },
    chain: chainSchema,
  },
} as const;

export function screenBodySchema(maxBatch: number) {
  return {
    type: 'object',
    required: ['addresses'],
    additionalProperties: false,
    properties: {
      addresses: {
        type: 'array',
        minItems: 1,
        maxItems: maxBatch,
        items: { type: 'string', minLength: 1, maxLength: 256 },
      },
    },
  } as const;
}

export function openApiDocument(opts: {
  maxBatch: number;
  bodyLimit: number;
  anonymous: boolean;
  chain?: ChainInfo | null;
  /** The network read API is served (a flow store is open). */
  network?: boolean;
  money?: boolean;
}) {
  const errors = (codes: Record<string, string>) =>
    Object.fromEntries(
      Object.entries(codes).map(([status, description]) => [
        status,
        { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      ]),
    );
  const common = {
    '401': 'missing_api_key, invalid_api_key or revoked_api_key',
    '408': 'request_timeout (headers or body not received in time; the connection is closed)',
    '429': 'rate_limited (Retry-After header says when to retry)',
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'coinradar screening API',
      version: '1',
      description:
        'Screen cryptocurrency addresses against the current versions of the loaded sanctions lists. ' +
        (opts.chain
          ? `Match kinds: exact, cluster and indirect (chain index ${opts.chain.network ?? ''} to height ${opts.chain.tipHeight}, ` +
            `funds followed back ${opts.chain.hops} hops, ${opts.chain.policy} taint). `
          : 'Match kinds: exact only (this server has no chain index; started on one, it adds cluster and indirect matches). ') +
        `Batches up to ${opts.maxBatch} addresses, ` +
        `request bodies up to ${opts.bodyLimit} bytes. Every error is {"error":{"code","message"}}.`,
    },
    servers: [{ url: '/' }],
    security: opts.anonymous
      ? [{}, { bearer: [] }, { apiKey: [] }, { session: [] }]
      : [{ bearer: [] }, { apiKey: [] }, { session: [] }],
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'Authorization: Bearer <key> (coinradar apikey create)',
        },
        apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
        session: {
          type: 'apiKey',
          in: 'cookie',
          name: 'coinradar_session',
          description:
            'the console session POST /v1/session sets (HttpOnly, SameSite=Strict); requests other than GET/HEAD with it must be same-origin (Origin or Sec-Fetch-Site)',
        },
      },
      schemas: {
        Error: errorSchema,
        ScreenResult: resultSchema,
        Match: matchSchema,
        ListVersion: versionSchema,
        Chain: chainSchema,
      },
    },
    paths: {
      '/v1/screen': {
        post: {
          summary: 'Screen a batch of addresses',
          requestBody: {
            required: true,
            content: { 'application/json': { schema: screenBodySchema(opts.maxBatch) } },
          },
          responses: {
            '200': {
              description: 'One result per address, in order',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      results: { type: 'array', items: { $ref: '#/components/schemas/ScreenResult' } },
                      matched: { type: 'integer' },
                      lists: { type: 'array', items: { $ref: '#/components/schemas/ListVersion' } },
                      chain: { $ref: '#/components/schemas/Chain' },
                    },
                  },
                },
              },
            },
            ...errors({
              '400': 'bad_json, bad_request, bad_url or too_many_addresses',
              '413': 'body_too_large',
              '415': 'unsupported_media_type',
              ...common,
            }),
          },
        },
      },
      '/v1/screen/{address}': {
        get: {
          summary: 'Screen one address',
          parameters: [{ name: 'address', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': {
              description: 'The result',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/ScreenResult' } } },
            },
            ...errors(common),
          },
        },
      },
      '/v1/lists': {
        get: {
          summary: 'List versions the server screens against',
          responses: {
            '200': {
              description: 'Current versions',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      lists: { type: 'array', items: { $ref: '#/components/schemas/ListVersion' } },
                      chain: { $ref: '#/components/schemas/Chain' },
                    },
                  },
                },
              },
            },
            ...errors(common),
          },
        },
      },
      '/v1/session': {
        post: {
          summary: 'Sign in to the console with an API key: sets the session cookie',
          security: [],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: { type: 'object', required: ['key'], properties: { key: { type: 'string' } } },
              },
            },
          },
          responses: {
            '200': { description: 'Signed in; Set-Cookie carries the session' },
            ...errors({
              '401': 'invalid_api_key or revoked_api_key',
              '403': 'cross_site (not sent from a page of this server)',
              '429': 'rate_limited',
            }),
          },
        },
        get: {
          summary: 'Who is signed in',
          responses: { '200': { description: 'key id and name' }, ...errors(common) },
        },
        delete: {
          summary: 'Sign out: ends the session and clears the cookie',
          responses: { '200': { description: '{"ended": boolean}' }, ...errors(common) },
        },
      },
      ...(opts.network ? networkPaths(errors(common)) : {}),
      ...(opts.money ? moneyPaths(errors(common)) : {}),
      '/v1/collector': {
        get: {
          summary:
            "The live collector's health: {collecting: false} without one; with serve --collect, status ok, degraded (the store failing, collecting going on) or failed, and what was stored and lost",
          responses: {
            '200': {
              description:
                '{collecting, status?, error?, source, uptimeSeconds, flowsStored, flowsCommitted, lastCommit, backlogBatches, datagramsMissing, recordsMissing, counts: {flows.lost-store, store.intervals-failed, …}, storeError, exporters} (as `collect --metrics` /healthz)',
            },
            ...errors(common),
          },
        },
      },
    },
  };
}

const scopeParameter = {
  name: 'scope',
  in: 'query',
  description:
    'repeatable, ANDed: country:KP, src-country:, dst-country:, asn:131279, watch:NAME, host:IP, label:NAME, cidr:A.B.C.D/N',
  schema: { type: 'array', items: { type: 'string' } },
  style: 'form',
  explode: true,
} as const;

const query = (name: string, description: string, schema: Record<string, unknown> = { type: 'string' }) => ({
  name,
  in: 'query',
  description,
  schema,
});

/** The network read API's paths (served when the server holds a flow store). */
function networkPaths(common: Record<string, unknown>) {
  const ok = (description: string) => ({ '200': { description }, ...common });
  const day = (n: string) => query(n, `${n}: a day (YYYY-MM-DD, UTC) or an ISO date-time`);
  return {
    '/v1/series': {
      get: {
        summary:
          'Flows per bucket for each kind (all, crypto ports, catalogued pools, each label) with surges',
        parameters: [
          scopeParameter,
          day('since'),
          day('until'),
          query('bucket', 'day or hour', { enum: ['day', 'hour'] }),
        ],
        responses: ok(
          '{scope, bucket, bucketMs, fromMs, toMs, series: [{label, evidence, total, points: [[ms, flows, observed]], changes: [{onset, onsetInterval, shape, probability, ...}]}]} (as coinradar series and surge)',
        ),
      },
    },
    '/v1/summary': {
      get: {
        summary: 'Top rows by country, AS, port or address in a scope (as coinradar summary --by)',
        parameters: [
          scopeParameter,
          query('by', 'country, asn, dport, sport, proto, src, dst (repeatable; default country and asn)'),
          query('top', 'rows per table (1-1000, default 10)', { type: 'integer' }),
          query('order', 'flows, packets or bytes', { enum: ['flows', 'packets', 'bytes'] }),
        ],
        responses: ok('{scope, tables: {KEY: [{key, label, flows, packets, bytes}]}}'),
      },
    },
    '/v1/hosts': {
      get: {
        summary: 'Host profiles of a scope (as coinradar hosts)',
        parameters: [
          scopeParameter,
          query('minConfidence', 'port, behaviour, infrastructure or payload'),
          day('since'),
          day('until'),
          query('limit', 'most hosts (1-10000, default 1000)', { type: 'integer' }),
          query('format', 'json (default) or csv (text/csv, one line a host, saved as hosts.csv)', {
            enum: ['json', 'csv'],
          }),
        ],
        responses: ok('{scope, hosts: [HostProfile]}, or CSV with format=csv'),
      },
    },
    '/v1/hosts/{ip}': {
      get: {
        summary:
          'One host: profile, daily activity, every detection with evidence and payload excerpt, artifacts',
        parameters: [{ name: 'ip', in: 'path', required: true, schema: { type: 'string' } }],
        responses: ok(
          '{host, profile, activity: {bucketMs, points}, sessions: [{peer, port, firstMs, lastMs, flows, bytesEst, labels}], detections: [...], artifacts}',
        ),
      },
    },
    '/v1/report': {
      get: {
        summary:
          'The report of a scope as coinradar report writes it (self-contained HTML), or printed to PDF by headless Chromium (one at a time, 60 s limit; 503 while another prints, 501 without chromium)',
        parameters: [
          scopeParameter,
          day('since'),
          day('until'),
          query('format', 'html (default) or pdf', { enum: ['html', 'pdf'] }),
        ],
        responses: ok('text/html or application/pdf, as an attachment (report.html, report.pdf)'),
      },
    },
    '/v1/search': {
      get: {
        summary: 'What a string is (IP, CIDR, country, AS, address, txid, pool) and the console page for it',
        parameters: [query('q', 'the text searched')],
        responses: ok('{q, results: [{kind, value, label, link}]}'),
      },
    },
  };
}

/** The money API's paths (served when the server holds a chain index). */
function moneyPaths(common: Record<string, unknown>) {
  const ok = (description: string) => ({ '200': { description }, ...common });
  const address = { name: 'address', in: 'path', required: true, schema: { type: 'string' } };
  const hops = query('hops', 'transactions to follow (1-6)', { type: 'integer', minimum: 1, maximum: 6 });
  return {
    '/v1/chain/address/{address}': {
      get: {
        summary:
          'An address: received, sent, balance, and its cluster (as coinradar chain address and chain cluster)',
        parameters: [address],
        responses: ok(
          '{address: {received, sent, balance, ...}, listed, cluster: {id, size, heuristics, coinjoinLikeSkipped, members: [{address, listed}] (first 1000)}}',
        ),
      },
    },
    '/v1/chain/trace': {
      get: {
        summary:
          'Follow funds from an address or txid (as coinradar chain trace, address level, haircut taint)',
        parameters: [
          query('seed', 'an address or a txid'),
          query('direction', 'forward (default) or backward', { enum: ['forward', 'backward'] }),
          { ...hops, description: 'transactions to follow (1-6, default 1: the console expands hop by hop)' },
        ],
        responses: ok(
          '{seed, direction, level, policy, heuristics, hops, nodes: [{id, kind, label, tags, hop}], edges: [{from, to, value, tainted, time, height, hop}]}',
        ),
      },
    },
    '/v1/chain/exposure/{address}': {
      get: {
        summary:
          'Share of the funds an address received that came from tagged sources (pools, listed addresses) within k hops (as coinradar chain exposure)',
        parameters: [address, { ...hops, description: 'hops back (1-6, default 3)' }],
        responses: ok(
          '{target, level, policy, hops, heuristics, received, receipts, exposure: [{tag, value, share, minHops, sources}]}',
        ),
      },
    },
  };
}
