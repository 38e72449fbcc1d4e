/**
 * A scope as the API takes it: the CLI's `--scope key:value` items (country:KP, src-country:,
 * dst-country:, asn:131279, watch:NAME, host:IP, label:NAME) plus cidr:A.B.C.D/N, ANDed. Unlike
 * the CLI, which trusts its analyst with --where, the API takes no SQL: every value is checked
 * against what it may be, and the only SQL made here (a CIDR's address range, in the store's
 * dialect, and the literal form keyedSummary needs) is built from numbers and checked values,
 * never from request text.
 */
import { parseCidr } from '../geo/watchlist.js';
import { ipValue } from '../store/duckdb/flows.js';
import { addressRangeSql } from '../store/duckdb/reader.js';
import type { SeriesScope } from '../store/queries.js';
import { parseScope } from '../cli/series.js';

export interface ApiScope {
  /** What the series, hosts and report functions take (CIDR as a `where` on the address columns). */
  series: SeriesScope;
  /** The same scope as one SQL condition over the `flows` view (for keyedSummary), or '' for all. */
  where: string;
  /** The items as given, normalised (for the console's labels). */
  text: string;
}

export class ScopeError extends Error {}

const COUNTRY = /^[A-Za-z]{2}$/;
const NAME = /^[A-Za-z0-9_.:/-]{1,64}$/;
const MAX_ITEMS = 8;

/** A checked value quoted as an SQL string literal. */
const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** The 128-bit stored-address range of a CIDR (IPv4 as ::ffff:a.b.c.d, as flow_rows holds it). */
function cidrRange(text: string): [bigint, bigint] {
  let c: { version: 4 | 6; start: bigint; end: bigint };
  try {
    c = parseCidr(text);
  } catch (e) {
    throw new ScopeError(`cidr:${text}: ${(e as Error).message}`);
  }
  const base = c.version === 4 ? 0xffff_0000_0000n : 0n;
  return [base + c.start, base + c.end];
}

/**
 * Parse `scope` items (each "key:value"). Throws ScopeError, which the routes answer with 400.
 * Empty: every flow.
 */
export function parseApiScope(
  items: string[],
  /** A CIDR's condition in the store's SQL (the network reader's addressRange; DuckDB's by default). */
  addressRange: (lo: bigint, hi: bigint) => string = addressRangeSql,
): ApiScope {
  if (items.length > MAX_ITEMS) throw new ScopeError(`at most ${MAX_ITEMS} scope items`);
  const plain: string[] = [];
  const ranges: [bigint, bigint][] = [];
  for (const raw of items) {
    const item = raw.trim();
    const i = item.indexOf(':');
    const k = i < 0 ? item : item.slice(0, i);
    const v = i < 0 ? '' : item.slice(i + 1);
    if (k === 'cidr') {
      ranges.push(cidrRange(v));
      plain.push(item);
      continue;
    }
    const ok =
      k === 'country' || k === 'src-country' || k === 'dst-country'
        ? COUNTRY.test(v)
        : k === 'asn'
          ? /^(AS)?[0-9]{1,10}$/i.test(v)
          : k === 'host'
            ? /^[0-9A-Fa-f.:]{2,45}$/.test(v) && validIp(v)
            : k === 'watch' || k === 'label'
              ? NAME.test(v)
              : false;
    if (!ok)
      throw new ScopeError(
        `scope ${JSON.stringify(item.slice(0, 80))}: expected country:KP, src-country:, dst-country:, asn:131279, watch:NAME, host:IP, label:NAME or cidr:A.B.C.D/N`,
      );
    plain.push(item);
  }
  let series: SeriesScope;
  try {
    series = parseScope(plain.filter((x) => !x.startsWith('cidr:')));
  } catch (e) {
    throw new ScopeError((e as Error).message);
  }
  const rangeSql = ranges.map(([lo, hi]) => addressRange(lo, hi)).join(' AND ');
  if (rangeSql) series.where = rangeSql;
  return { series, where: literalWhere(series), text: plain.join(' ') };
}

/** Whether `v` is an IPv4 or IPv6 address as the store writes them. */
export function validIp(v: string): boolean {
  try {
    ipValue(v);
    return true;
  } catch {
    return false;
  }
}

/** The scope as one condition with literals (every value was checked above). */
function literalWhere(s: SeriesScope): string {
  const c: string[] = [];
  if (s.country) c.push(`(src_country = ${quote(s.country)} OR dst_country = ${quote(s.country)})`);
  if (s.srcCountry) c.push(`src_country = ${quote(s.srcCountry)}`);
  if (s.dstCountry) c.push(`dst_country = ${quote(s.dstCountry)}`);
  if (s.asn !== undefined) c.push(`(src_asn = ${Math.trunc(s.asn)} OR dst_asn = ${Math.trunc(s.asn)})`);
  if (s.watch) c.push(`(src_watch = ${quote(s.watch)} OR dst_watch = ${quote(s.watch)})`);
  if (s.host) {
    const x = `'${ipValue(s.host).toString()}'::UHUGEINT`;
    c.push(`(src_ip = ${x} OR dst_ip = ${x})`);
  }
  if (s.label) c.push(`id IN (SELECT flow_id FROM detections WHERE label = ${quote(s.label)})`);
  if (s.where) c.push(`(${s.where})`);
  return c.join(' AND ');
}
