/**
 * Indicators from a STIX 2.1 bundle: pool endpoints, networks and names from indicators whose
 * STIX pattern (parsed by the OASIS grammar) is a plain set of alternatives of equalities on
 * ipv4-addr/ipv6-addr/domain-name values or network-traffic dst_ref/dst_port; wallet addresses
 * from cryptocurrency-wallet objects (coinradar's extension, export/stix.ts). Everything else is
 * counted and named as skipped. Nothing is trusted: ids, types and timestamps are checked first.
 */
import { parseStixPattern, type PatternComparison } from '../export/stix-pattern/parse.js';
import { WALLET_SCO_TYPE } from '../export/stix.js';
import { IMPORT_LIMITS, type ImportedAddress, type ImportedInfra } from './model.js';
import { infraEntry, quote, Skips } from './values.js';

const ID =
  /^([a-z][a-z0-9-]+[a-z0-9])--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

export interface StixRead {
  source: string | null;
  version: string | null;
  infrastructure: ImportedInfra[];
  addresses: ImportedAddress[];
  read: number;
}

type Obj = Record<string, unknown>;

/** One observation's equalities as an entry, or why not. */
function fromObservation(cs: PatternComparison[], name: string): ImportedInfra | string {
  const by = new Map<string, string>();
  for (const c of cs) {
    if (by.has(c.path) && by.get(c.path) !== c.value) return `two values for ${c.path}`;
    by.set(c.path, c.value);
  }
  const keys = [...by.keys()].sort().join(' ');
  const single = (path: string) => (keys === path ? by.get(path)! : null);
  for (const path of ['ipv4-addr:value', 'ipv6-addr:value', 'domain-name:value']) {
    const v = single(path);
    if (v !== null) return infraEntry(v, 0, { name });
  }
  const dst = by.get('network-traffic:dst_ref.value');
  const allowed = new Set([
    'network-traffic:dst_ref.value',
    'network-traffic:dst_ref.type',
    'network-traffic:dst_port',
  ]);
  if (dst !== undefined && [...by.keys()].every((k) => allowed.has(k))) {
    const t = by.get('network-traffic:dst_ref.type');
    if (t !== undefined && !['ipv4-addr', 'ipv6-addr', 'domain-name'].includes(t))
      return `dst_ref.type ${quote(t)}`;
    const port = by.has('network-traffic:dst_port') ? Number(by.get('network-traffic:dst_port')) : 0;
    return infraEntry(dst, port, { name });
  }
  return `comparisons on ${keys} name no address, network or domain alone`;
}

export function readStixBundle(doc: unknown, skips: Skips): StixRead {
  const out: StixRead = { source: null, version: null, infrastructure: [], addresses: [], read: 0 };
  const b = doc as Obj;
  if (
    typeof b !== 'object' ||
    b === null ||
    b.type !== 'bundle' ||
    typeof b.id !== 'string' ||
    !ID.test(b.id)
  )
    throw new Error(
      'not a STIX bundle: expected {"type": "bundle", "id": "bundle--<uuid>", "objects": [...]}',
    );
  if (!Array.isArray(b.objects)) throw new Error('STIX bundle without an objects array');
  if (b.objects.length > IMPORT_LIMITS.maxItems)
    throw new Error(`STIX bundle of ${b.objects.length} objects, more than ${IMPORT_LIMITS.maxItems}`);
  const byId = new Map<string, Obj>();
  const unused = new Map<string, number>();
  b.objects.forEach((o: unknown, i: number) => {
    out.read++;
    const x = o as Obj;
    if (typeof x !== 'object' || x === null || typeof x.type !== 'string' || typeof x.id !== 'string')
      return skips.add(`objects[${i}]`, 'not an object with a type and an id');
    const m = ID.exec(x.id);
    if (!m || m[1] !== x.type)
      return skips.add(`objects[${i}]`, `id ${quote(x.id)} is not ${x.type}--<uuid>`);
    if (byId.has(x.id) && x.type !== 'relationship') {
      // Versions of one object: the latest modified wins (STIX 2.1 §3.6).
      const had = byId.get(x.id)!;
      if (String(x.modified ?? '') <= String(had.modified ?? '')) return;
    }
    byId.set(x.id, x);
  });
  // Names: an indicator that `indicates` an infrastructure takes the infrastructure's name.
  const indicates = new Map<string, string>();
  for (const x of byId.values())
    if (x.type === 'relationship' && x.relationship_type === 'indicates') {
      const target = byId.get(String(x.target_ref));
      if (target?.type === 'infrastructure' && typeof target.name === 'string')
        indicates.set(String(x.source_ref), target.name.slice(0, IMPORT_LIMITS.maxValueChars));
    }
  let latest = '';
  let creator: string | null = null;
  for (const x of byId.values()) {
    // The version is the newest content: definitions (markings, extensions) carry their own dates.
    const content = !String(x.type).endsWith('-definition');
    if (content && typeof x.modified === 'string' && TIMESTAMP.test(x.modified) && x.modified > latest)
      latest = x.modified;
    if (x.type === 'indicator') {
      if (x.revoked === true) {
        skips.add(x.id as string, 'revoked');
        continue;
      }
      if (x.pattern_type !== 'stix') {
        skips.add(
          x.id as string,
          `pattern_type ${quote(String(x.pattern_type))}: only STIX patterns are read`,
        );
        continue;
      }
      if (
        typeof x.pattern !== 'string' ||
        typeof x.valid_from !== 'string' ||
        !TIMESTAMP.test(x.valid_from)
      ) {
        skips.add(x.id as string, 'no pattern string or no valid_from timestamp');
        continue;
      }
      if (
        typeof x.valid_until === 'string' &&
        TIMESTAMP.test(x.valid_until) &&
        x.valid_until <= x.valid_from
      ) {
        skips.add(x.id as string, 'valid_until is not after valid_from');
        continue;
      }
      const r = parseStixPattern(x.pattern);
      if (!r.ok) {
        skips.add(x.id as string, `pattern does not parse: ${r.error}`);
        continue;
      }
      if (!r.plain) {
        skips.add(
          x.id as string,
          'pattern is not a plain OR of equalities (AND/FOLLOWEDBY across observations, qualifiers, NOT, other operators)',
        );
        continue;
      }
      const name =
        indicates.get(x.id as string) ??
        (typeof x.name === 'string' ? x.name.slice(0, IMPORT_LIMITS.maxValueChars) : '');
      for (let k = 0; k < r.observations; k++) {
        const e = fromObservation(
          r.comparisons.filter((c) => c.observation === k),
          name,
        );
        if (typeof e === 'string') skips.add(`${x.id}[${k}]`, e);
        else out.infrastructure.push(e);
      }
      if (typeof x.created_by_ref === 'string') creator ??= x.created_by_ref;
    } else if (x.type === WALLET_SCO_TYPE) {
      const addr = x.address;
      const coin = typeof x.currency === 'string' ? x.currency : '';
      if (
        typeof addr !== 'string' ||
        addr.length === 0 ||
        addr.length > IMPORT_LIMITS.maxValueChars ||
        /\s/.test(addr)
      )
        skips.add(x.id as string, 'no address, or one with spaces or too long');
      else if (!/^[A-Za-z0-9]{2,10}$/.test(coin))
        skips.add(x.id as string, `currency ${quote(coin)} is not a ticker`);
      else
        out.addresses.push({ coin: coin.toUpperCase(), address: addr, name: 'STIX cryptocurrency-wallet' });
    } else if (
      !['identity', 'relationship', 'infrastructure', 'marking-definition', 'extension-definition'].includes(
        x.type as string,
      )
    )
      unused.set(x.type as string, (unused.get(x.type as string) ?? 0) + 1);
  }
  for (const [type, n] of unused)
    skips.add(type, `${n} object(s) of this type: nothing in them for detection or screening`);
  const who = creator ? byId.get(creator) : undefined;
  if (who?.type === 'identity' && typeof who.name === 'string') out.source = who.name.slice(0, 128);
  out.version = latest || null;
  return out;
}
