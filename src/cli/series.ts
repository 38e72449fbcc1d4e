import { FILTER_HELP } from './filter-option.js';
import type { Command } from 'commander';
import { CRYPTO_PORTS } from '../scenario/world.js';
import { openFlowStore } from '../store/open.js';
import type { SeriesScope } from '../store/queries.js';
import { defaultDbPath } from '../store/store.js';
import { filterSql } from '../flow/nfdump-filter.js';
import { collect, existingStore, parseFormat, render } from './output.js';

/**
 * --scope items, ANDed: country:KP, src-country:KP, dst-country:CN, asn:131279, watch:NAME,
 * host:175.45.176.10, label:stratum; --ports adds a server-port set ("crypto" = the default
 * crypto ports).
 */
export function parseScope(items: string[], ports?: string, where?: string, filter?: string): SeriesScope {
  const s: SeriesScope = {};
  for (const item of items) {
    const i = item.indexOf(':');
    const k = i < 0 ? item : item.slice(0, i);
    const v = i < 0 ? '' : item.slice(i + 1);
    if (!v)
      throw new Error(
        `--scope ${item}: expected key:value (country:KP, asn:131279, watch:NAME, host:IP, label:NAME)`,
      );
    switch (k) {
      case 'country':
        s.country = v.toUpperCase();
        break;
      case 'src-country':
        s.srcCountry = v.toUpperCase();
        break;
      case 'dst-country':
        s.dstCountry = v.toUpperCase();
        break;
      case 'asn':
        s.asn = Number(v.replace(/^AS/i, ''));
        if (!Number.isInteger(s.asn)) throw new Error(`--scope ${item}: not an AS number`);
        break;
      case 'watch':
        s.watch = v;
        break;
      case 'host':
        s.host = v;
        break;
      case 'label':
        s.label = v;
        break;
      default:
        throw new Error(`--scope ${item}: unknown key ${k}`);
    }
  }
  if (ports) s.dstPorts = parsePorts(ports);
  // Activity on the crypto ports leaves out scans of them (detect/scan.ts), as the report does.
  if (ports === 'crypto') s.noScans = true;
  if (where) s.where = where;
  // Kept apart from --where: it needs only the table's columns, so queries skip the text view.
  const f = filterSql(filter);
  if (f) s.filter = f;
  return s;
}

/** --ports: "crypto" (the default crypto ports), "none", or a comma-separated list. */
export function parsePorts(v: string): number[] {
  if (v === 'crypto') return [...CRYPTO_PORTS];
  if (v === 'none') return [];
  return v.split(',').map((x) => {
    const n = Number(x.trim());
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--ports: not a port: ${x}`);
    return n;
  });
}

/** A day (YYYY-MM-DD, UTC midnight) or an ISO date-time, as epoch ms; undefined stays undefined. */
export function parseDay(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
  if (Number.isNaN(t)) throw new Error(`${name}: not a date: ${v}`);
  return t;
}

export interface SeriesCliOptions {
  db: string;
  scope: string[];
  ports?: string;
  filter?: string;
  where?: string;
  bucket: string;
  from?: string;
  to?: string;
  since?: string;
  until?: string;
}

/** --since/--until are the names trace and the other time-window options use; --from/--to stay. */
export function windowOption(
  a: string | undefined,
  b: string | undefined,
  names: string,
): string | undefined {
  if (a !== undefined && b !== undefined && a !== b) throw new Error(`${names}: give one of them, not both`);
  return a ?? b;
}

export function seriesOptions(cmd: Command): Command {
  return cmd
    .option('--db <file>', 'DuckDB file (or COINRADAR_DB)', defaultDbPath())
    .option(
      '--scope <key:value>',
      'country:KP, src-country:, dst-country:, asn:, watch:, host:, label: (repeatable, ANDed)',
      collect,
      [],
    )
    .option('--ports <list>', 'server ports, comma-separated, or "crypto" for the default crypto ports')
    .option('--filter <nfdump>', FILTER_HELP)
    .option('--where <sql>', 'extra SQL condition over flow columns')
    .option('--bucket <b>', 'day | hour', 'day')
    .option('--since <date>', 'first day (UTC), default: first flow with a plausible time (also --from)')
    .option('--until <date>', 'day after the last (UTC), default: last flow (also --to)')
    .option('--from <date>', 'same as --since')
    .option('--to <date>', 'same as --until');
}

export function seriesQuery(o: SeriesCliOptions) {
  if (o.bucket !== 'day' && o.bucket !== 'hour')
    throw new Error(`--bucket must be day or hour, not ${o.bucket}`);
  return {
    bucket: o.bucket as 'day' | 'hour',
    fromMs: parseDay(windowOption(o.since, o.from, '--since/--from'), '--since'),
    toMs: parseDay(windowOption(o.until, o.to, '--until/--to'), '--until'),
    scope: parseScope(o.scope, o.ports, o.where, o.filter),
  };
}

export function register(program: Command): void {
  seriesOptions(
    program
      .command('series')
      .description('flows, packets and bytes per day or hour within a scope (sampling-corrected estimates)'),
  )
    .option('--format <f>', 'table | csv | jsonl | json', 'table')
    .action(async (o: SeriesCliOptions & { format: string }) => {
      const format = parseFormat(o.format);
      const store = await openFlowStore(existingStore(o.db));
      try {
        const q = { ...seriesQuery(o), sources: true };
        const d = await store.series(q);
        const iso = (t: number) => new Date(t).toISOString().slice(0, o.bucket === 'day' ? 10 : 16);
        // Without a window given, buckets before the scope's first flow and after its last are
        // left out (the store's period can be far wider than one scope's).
        let lo = 0;
        let hi = d.buckets.length;
        if (q.fromMs === undefined) while (lo < hi && d.buckets[lo].flows === 0) lo++;
        if (q.toMs === undefined) while (hi > lo && d.buckets[hi - 1].flows === 0) hi--;
        const rows = d.buckets.slice(lo, hi).map((b) => ({
          bucket: iso(b.bucketMs),
          flows: b.flows,
          flows_est: b.flowsEst,
          packets_est: b.packetsEst,
          bytes_est: b.bytesEst,
          sources: b.sources,
          observed: b.observed,
        }));
        process.stdout.write(render(rows, format) + '\n');
      } finally {
        await store.close();
      }
    });
}
