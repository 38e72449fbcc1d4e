/**
 * The network read API the console draws from, over the flow store the server holds open:
 * `GET /v1/series` (activity per kind with each surge), `/v1/summary` (top countries, ASes, ports),
 * `/v1/hosts` (host profiles), `/v1/hosts/:ip` (one host: activity, detections with their evidence
 * and payload excerpt, artifacts) and `/v1/search`. Each answer comes from the functions the CLI
 * commands call (series, surge, summary --by, hosts, detections), so the console and the command
 * line say the same thing about a store. The scope is the CLI's (scope.ts), without SQL.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { surgeOfBuckets } from '../analysis/series.js';
import { parseDay } from '../cli/series.js';
import { CONFIDENCE_RANK, parseConfidence } from '../detect/types.js';
import { compileNfdumpFilter } from '../flow/nfdump-filter.js';
import { CRYPTO_PORTS } from '../scenario/world.js';
import type { DuckDbDatabase } from '../store/duckdb/database.js';
import { DuckDbNetworkReader } from '../store/duckdb/reader.js';
import type { HostProfile, SeriesScope } from '../store/queries.js';
import type { HostSession, NetworkReader } from '../store/reader.js';
import { SUMMARY_KEYS, type StoredPayload, type SummaryKey } from '../store/store.js';
import { toCsv, type CsvColumn } from './csv.js';
import { sendError } from './errors.js';
import { parseApiScope, ScopeError, type ApiScope } from './scope.js';
import { searchStore } from './search.js';

export type { HostSession } from '../store/reader.js';

/**
 * What the routes read: an engine's network reader (store/reader.ts), or — as the DuckDB store
 * was given before there was a second engine — its database, wrapped in the DuckDB reader; and,
 * where the flow store is open, payload samples.
 */
export interface NetworkApi {
  reader?: NetworkReader;
  db?: DuckDbDatabase;
  payloads?: (flowIds: number[]) => Promise<Map<number, StoredPayload>>;
}

/** The reader the routes of `api` ask (one per server). */
export function networkReader(api: NetworkApi): NetworkReader {
  if (api.reader) return api.reader;
  if (!api.db) throw new Error('the network API needs a store: a reader or a DuckDB database');
  return new DuckDbNetworkReader(api.db, api.payloads);
}

const DAY = 86_400_000;
/** Most buckets one series answer may have (a year of hours is 8760). */
export const MAX_BUCKETS = 20_000;
/** Bytes of each direction's payload shown on the host page. */
export const EXCERPT_BYTES = 512;

const scopeParam = { type: 'array', items: { type: 'string', maxLength: 128 }, maxItems: 8 } as const;
const day = { type: 'string', maxLength: 40 } as const;

/** A route's querystring schema: these properties and no others. */
const queryOf = (properties: Record<string, unknown>, required: string[] = []) => ({
  querystring: { type: 'object', additionalProperties: false, required, properties },
});

class BadRequest extends Error {}

/** nfdump's filter language (`filter=`): hostile text, compiled to SQL from numbers only. */
const filterParam = { type: 'string', maxLength: 4096 } as const;

function scopeOf(
  reader: NetworkReader,
  items: string[] | undefined,
  filter?: string,
): ApiScope & { filter?: string } {
  const scope = parseApiScope(items ?? [], (lo, hi) => reader.addressRange(lo, hi));
  if (filter === undefined) return scope;
  // nfdump filters compile to DuckDB's SQL; an engine that cannot run it says so rather than
  // answer for every flow.
  if (!reader.takesFilter)
    throw new BadRequest(`filter: nfdump filters are not supported on a ${reader.engine} store yet`);
  const c = compileNfdumpFilter(filter);
  if (!c.ok) throw new BadRequest(`filter: ${c.error.message}`);
  return { ...scope, series: { ...scope.series, filter: c.sql }, filter: c.sql };
}

function dayParam(v: string | undefined, name: string): number | undefined {
  try {
    return parseDay(v, name);
  } catch (e) {
    throw new BadRequest((e as Error).message);
  }
}

/** A queue that runs the functions given to it one after another, each after the last settled. */
export function serialQueue(): <T>(f: () => Promise<T>) => Promise<T> {
  let queue: Promise<unknown> = Promise.resolve();
  return <T>(f: () => Promise<T>): Promise<T> => {
    const p = queue.then(f, f);
    queue = p.catch(() => undefined);
    return p;
  };
}

// One answer at a time on the store's connection (as the reader socket does): the console asks
// for several answers at once, and a DuckDB connection is one session; one at a time also keeps
// a burst of heavy scans from sharing two cores many ways. The money routes read the chain index
// on a connection of their own (cli/serve.ts) and queue on their own (money-routes.ts), so a
// slow network answer does not hold up a wallet page.
export const oneAtATime = serialQueue();

/** Sessions shown on a host page at most (a long-lived miner has a few hundred). */
export const MAX_HOST_SESSIONS = 1000;
/** Flows to one endpoint starting within this gap after the last one ended are one session (the
 * gap `coinradar hosts` counts sessions with). */
const SESSION_GAP_MS = 10 * 60_000;

/** `coinradar hosts`'s profile as CSV columns (lists space-separated, times ISO). */
const iso = (ms: number | null) => (ms === null ? '' : new Date(ms).toISOString());
export const HOST_CSV: CsvColumn<HostProfile>[] = [
  { title: 'host', value: (h) => h.host },
  { title: 'country', value: (h) => h.country },
  { title: 'asn', value: (h) => h.asn },
  { title: 'first', value: (h) => iso(h.firstMs) },
  { title: 'last', value: (h) => iso(h.lastMs) },
  { title: 'first_strong', value: (h) => iso(h.firstStrongMs) },
  { title: 'last_strong', value: (h) => iso(h.lastStrongMs) },
  { title: 'flows', value: (h) => h.flows },
  { title: 'sessions', value: (h) => h.sessions },
  { title: 'hours_active', value: (h) => h.hoursActive },
  { title: 'duty_cycle', value: (h) => h.dutyCycle },
  { title: 'packets_est', value: (h) => h.packetsEst },
  { title: 'bytes_est', value: (h) => h.bytesEst },
  { title: 'ports', value: (h) => h.ports.join(' ') },
  { title: 'peers', value: (h) => h.peers },
  { title: 'labels', value: (h) => h.labels.join(' ') },
  { title: 'coins', value: (h) => h.coins.join(' ') },
  { title: 'pools', value: (h) => h.pools.join(' ') },
  { title: 'wallets', value: (h) => h.wallets.join(' ') },
  { title: 'workers', value: (h) => h.workers.join(' ') },
  { title: 'agents', value: (h) => h.agents.join(' ') },
];

/** A CSV answer the browser saves as a file (same access check as the JSON one: same route). */
function sendCsv(reply: FastifyReply, name: string, text: string): FastifyReply {
  return reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${name}.csv"`)
    .send(text);
}

/**
 * A host's crypto sessions, as `coinradar hosts` counts them: its flows on a crypto port or with a
 * detection, per remote end and service port, merged while each starts within the gap after the
 * latest end so far. Oldest first, at most MAX_HOST_SESSIONS.
 */
export function hostSessions(reader: NetworkReader, ip: string): Promise<HostSession[]> {
  return reader.hostSessions(ip, {
    ports: [...CRYPTO_PORTS],
    gapMs: SESSION_GAP_MS,
    limit: MAX_HOST_SESSIONS,
  });
}

/** Bad input as 400 in the API's shape; anything else goes to the error handler (500). */
async function answer<T>(reply: FastifyReply, f: () => Promise<T>): Promise<T | FastifyReply> {
  try {
    return await oneAtATime(f);
  } catch (e) {
    if (e instanceof ScopeError || e instanceof BadRequest)
      return sendError(reply, 400, 'bad_request', e.message);
    throw e;
  }
}

/** A payload sample as text an analyst can read: printable ASCII kept, the rest as '.'. */
export function payloadExcerpt(b: Buffer | null): { text: string; bytes: number } | null {
  if (!b || b.length === 0) return null;
  const n = Math.min(b.length, EXCERPT_BYTES);
  let text = '';
  for (let i = 0; i < n; i++) {
    const c = b[i];
    text += c === 10 ? '\n' : c >= 32 && c < 127 ? String.fromCharCode(c) : '.';
  }
  return { text, bytes: b.length };
}

export function registerNetworkRoutes(app: FastifyInstance, api: NetworkApi): void {
  const reader = networkReader(api);

  app.get<{
    Querystring: {
      scope?: string[];
      filter?: string;
      since?: string;
      until?: string;
      bucket?: 'day' | 'hour';
    };
  }>(
    '/v1/series',
    {
      schema: queryOf({
        scope: scopeParam,
        filter: filterParam,
        since: day,
        until: day,
        bucket: { enum: ['day', 'hour'] },
      }),
    },
    (req, reply) =>
      answer(reply, async () => {
        const scope = scopeOf(reader, req.query.scope, req.query.filter);
        const bucket = req.query.bucket ?? 'day';
        const width = bucket === 'hour' ? 3_600_000 : DAY;
        let fromMs = dayParam(req.query.since, 'since');
        let toMs = dayParam(req.query.until, 'until');
        if (fromMs !== undefined && toMs !== undefined && (toMs - fromMs) / width > MAX_BUCKETS)
          throw new BadRequest(`more than ${MAX_BUCKETS} ${bucket}s: narrow since/until or use bucket=day`);
        // The kinds of the report's timelines: the scope's flows, crypto ports, catalogued pools,
        // then each detection label; all over the period of the first.
        const kinds: { label: string; evidence: 'all' | 'port' | 'stronger'; scope: SeriesScope }[] = [
          { label: 'all flows in scope', evidence: 'all', scope: scope.series },
          {
            label: 'crypto ports (port match only)',
            evidence: 'port',
            scope: { ...scope.series, dstPorts: [...CRYPTO_PORTS] },
          },
          {
            label: 'catalogued mining pools (2018 catalogue)',
            evidence: 'stronger',
            scope: { ...scope.series, pools: true },
          },
        ];
        for (const label of await reader.labels())
          kinds.push({
            label: `label ${label}`,
            evidence: label === 'crypto-port' ? 'port' : 'stronger',
            scope: { ...scope.series, label },
          });
        const out = [];
        for (const k of kinds) {
          // The first kind sets the period (the store's, unless since/until say otherwise).
          const d = await reader.series({ bucket, fromMs, toMs, scope: k.scope });
          fromMs = d.fromMs;
          toMs = d.toMs;
          if (d.buckets.length > MAX_BUCKETS)
            throw new BadRequest(`more than ${MAX_BUCKETS} ${bucket}s: give since/until or use bucket=day`);
          const r = surgeOfBuckets(k.label, d);
          out.push({
            label: k.label,
            evidence: k.evidence,
            total: d.buckets.reduce((s, b) => s + b.flows, 0),
            // [bucket start ms, flows, observed 1/0]: three numbers a bucket, not an object each.
            points: d.buckets.map((b) => [b.bucketMs, b.flows, b.observed ? 1 : 0]),
            changes: r.changes,
          });
        }
        return { scope: scope.text, bucket, bucketMs: width, fromMs, toMs, series: out };
      }),
  );

  app.get<{
    Querystring: { scope?: string[]; filter?: string; by?: string[]; top?: number; order?: string };
  }>(
    '/v1/summary',
    {
      schema: queryOf({
        scope: scopeParam,
        filter: filterParam,
        by: { type: 'array', items: { enum: [...SUMMARY_KEYS] }, maxItems: SUMMARY_KEYS.length },
        top: { type: 'integer', minimum: 1, maximum: 1000 },
        order: { enum: ['flows', 'packets', 'bytes'] },
      }),
    },
    (req, reply) =>
      answer(reply, async () => {
        const scope = scopeOf(reader, req.query.scope, req.query.filter);
        const by = (req.query.by?.length ? req.query.by : ['country', 'asn']) as SummaryKey[];
        // The structured scope (its filter included), so the store may answer from its rollup.
        const tables = await reader.summarize({
          by,
          top: req.query.top ?? 10,
          order: (req.query.order ?? 'flows') as 'flows' | 'packets' | 'bytes',
          scope: scope.series,
        });
        return { scope: scope.text, tables: Object.fromEntries(tables) };
      }),
  );

  app.get<{
    Querystring: {
      scope?: string[];
      filter?: string;
      minConfidence?: string;
      since?: string;
      until?: string;
      limit?: number;
      format?: 'json' | 'csv';
    };
  }>(
    '/v1/hosts',
    {
      schema: queryOf({
        scope: scopeParam,
        filter: filterParam,
        minConfidence: { enum: Object.keys(CONFIDENCE_RANK) },
        since: day,
        until: day,
        limit: { type: 'integer', minimum: 1, maximum: 10_000 },
        format: { enum: ['json', 'csv'] },
      }),
    },
    (req, reply) =>
      answer(reply, async () => {
        const scope = scopeOf(reader, req.query.scope, req.query.filter);
        // The defaults of `coinradar hosts`: crypto ports count, detections of every grade.
        const hosts = await reader.hostProfiles({
          scope: scope.series,
          ports: [...CRYPTO_PORTS],
          minConfidence: parseConfidence(req.query.minConfidence ?? 'port'),
          fromMs: dayParam(req.query.since, 'since'),
          toMs: dayParam(req.query.until, 'until'),
          limit: req.query.limit ?? 1000,
        });
        if (req.query.format === 'csv') return sendCsv(reply, 'hosts', toCsv(HOST_CSV, hosts));
        return { scope: scope.text, hosts };
      }),
  );

  app.get<{ Params: { ip: string } }>('/v1/hosts/:ip', (req, reply) =>
    answer(reply, async () => {
      const ip = req.params.ip;
      const scope = scopeOf(reader, [`host:${ip}`]);
      const [profile] = await reader.hostProfiles({
        scope: scope.series,
        ports: [...CRYPTO_PORTS],
        minConfidence: 'port',
      });
      const d = await reader.series({ bucket: 'day', scope: scope.series });
      // The host's own period: buckets before its first flow and after its last left out.
      let lo = 0;
      let hi = d.buckets.length;
      while (lo < hi && d.buckets[lo].flows === 0) lo++;
      while (hi > lo && d.buckets[hi - 1].flows === 0) hi--;
      const points = d.buckets.slice(lo, hi).map((b) => [b.bucketMs, b.flows, b.observed ? 1 : 0]);
      let detections: Record<string, unknown>[] = [];
      if (await reader.hasDetections()) {
        const rows = await reader.hostDetections(ip, 500);
        const samples = api.payloads ? await api.payloads([...new Set(rows.map((r) => r.id))]) : null;
        detections = rows.map((r) => {
          const p = samples?.get(r.id);
          return {
            flow: r.id,
            first: r.first,
            last: r.last,
            src: r.src,
            sport: r.sport,
            dst: r.dst,
            dport: r.dport,
            proto: r.proto,
            label: r.label,
            coin: r.coin,
            confidence: r.confidence,
            evidence: r.evidence,
            artifacts: r.artifacts,
            listVersion: r.list_version,
            detectorVersion: r.detector_version,
            source: r.source,
            payload: samples
              ? { fwd: payloadExcerpt(p?.fwd ?? null), rev: payloadExcerpt(p?.rev ?? null) }
              : undefined,
          };
        });
      }
      if (!profile && points.length === 0 && detections.length === 0)
        return sendError(reply, 404, 'not_found', `no flow of ${ip} in this store`);
      return {
        host: ip,
        profile: profile ?? null,
        activity: { bucketMs: d.bucketMs, points },
        sessions: await hostSessions(reader, ip),
        detections,
        artifacts: profile
          ? {
              pools: profile.pools,
              wallets: profile.wallets,
              workers: profile.workers,
              agents: profile.agents,
            }
          : { pools: [], wallets: [], workers: [], agents: [] },
      };
    }),
  );

  app.get<{ Querystring: { q: string } }>(
    '/v1/search',
    {
      schema: queryOf({ q: { type: 'string', minLength: 1, maxLength: 128 } }, ['q']),
    },
    (req, reply) =>
      answer(reply, async () => ({ q: req.query.q, results: await searchStore(reader, req.query.q) })),
  );
}
