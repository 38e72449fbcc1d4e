/**
 * Reading a MaxMind DB (.mmdb) file a CERT already has — GeoLite2/GeoIP2 Country, City or ASN,
 * DB-IP's country and ASN lites — into range lists for the lookup tables. The `maxmind` package
 * parses the metadata and decodes the data records; it has no way to list a database's networks,
 * so the search tree is walked here (the format: a binary trie of fixed-size nodes whose records
 * point to another node, to "no data" (= node_count) or into the data section).
 *
 * The file is hostile input: its size is bounded before it is read, the walk visits each node at
 * most once (a record that points back into the tree would make a DAG whose paths are
 * exponential), every record is decoded inside a try, and values that are not a country code or
 * an AS number are counted and skipped by network.
 */
import { readFileSync } from 'node:fs';
import { Reader } from 'maxmind';
import type { FamilyRanges } from './database.js';
import { checkImportSize, countRecord, MAX_ORG_BYTES, type ImportSink } from './import-sink.js';

export const MMDB_METADATA_MARKER = Buffer.from('abcdef4d61784d696e642e636f6d', 'hex'); // \xAB\xCD\xEFMaxMind.com

/** True when the last 128 KiB of `head` (the file's tail) hold the metadata marker. */
export function looksLikeMmdb(tail: Buffer): boolean {
  return tail.includes(MMDB_METADATA_MARKER);
}

export interface MmdbInfo {
  databaseType: string;
  /** build_epoch as an ISO date-time. */
  buildDate: string;
  /** binary_format_major.minor. */
  formatVersion: string;
  description: string;
  ipVersion: number;
  nodeCount: number;
  recordSize: number;
}

const COUNTRY = /^[A-Z]{2}$/;

export interface MmdbRecordValues {
  country?: string;
  asn?: number;
  org?: string;
  /** Why the record is unusable (nothing kept from it). */
  problem?: string;
}

/**
 * What a decoded data record gives: `country.iso_code` (else `registered_country.iso_code`, as
 * GeoLite2 leaves `country` out for some networks), `autonomous_system_number` and
 * `autonomous_system_organization`.
 */
export function mmdbRecordValues(rec: unknown): MmdbRecordValues {
  if (rec === null || typeof rec !== 'object' || Array.isArray(rec))
    return { problem: 'record is not a map' };
  const r = rec as Record<string, unknown>;
  const out: MmdbRecordValues = {};
  const iso = (m: unknown) =>
    m && typeof m === 'object' ? (m as Record<string, unknown>).iso_code : undefined;
  const c = iso(r.country) ?? iso(r.registered_country);
  if (c !== undefined) {
    if (typeof c !== 'string' || !COUNTRY.test(c))
      return { problem: `iso_code ${JSON.stringify(c)} is not a country code` };
    out.country = c;
  }
  const n = r.autonomous_system_number;
  if (n !== undefined) {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff)
      return { problem: `autonomous_system_number ${JSON.stringify(n)} is not an AS number` };
    out.asn = n;
    const o = r.autonomous_system_organization ?? '';
    if (typeof o !== 'string' || Buffer.byteLength(o) > MAX_ORG_BYTES)
      return { problem: `autonomous_system_organization is not a string of at most ${MAX_ORG_BYTES} bytes` };
    out.org = o;
  }
  if (out.country === undefined && out.asn === undefined) return { problem: 'no country and no AS number' };
  return out;
}

export function formatPrefix(start: bigint, len: number, family: 4 | 6): string {
  if (family === 4) {
    const x = Number(start);
    return `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}/${len}`;
  }
  const w: string[] = [];
  for (let i = 7; i >= 0; i--) w.push(Number((start >> BigInt(16 * i)) & 0xffffn).toString(16));
  return `${w
    .join(':')
    .replace(/\b(?:0:){2,}0?/, ':')
    .replace(/^:(?!:)/, '::')}/${len}`;
}

/**
 * Read every network of an .mmdb file into `v4`/`v6` (values interned in `names`). Throws, naming
 * the file and where, when the file is not a MaxMind DB or its tree is malformed.
 */
export function readMmdb(path: string, sink: ImportSink): MmdbInfo {
  const { names, v4, v6, stats } = sink;
  checkImportSize(path, sink.maxBytes);
  const db = readFileSync(path);
  let reader: Reader<Record<string, unknown>>;
  try {
    reader = new Reader(db);
  } catch (e) {
    throw new Error(`${path}: not a MaxMind DB file: ${(e as Error).message}`, { cause: e });
  }
  const m = reader.metadata;
  const info: MmdbInfo = {
    databaseType: String(m.databaseType ?? ''),
    buildDate:
      m.buildEpoch instanceof Date && !isNaN(m.buildEpoch.getTime()) ? m.buildEpoch.toISOString() : '',
    formatVersion: `${m.binaryFormatMajorVersion}.${m.binaryFormatMinorVersion}`,
    description:
      typeof m.description === 'object' && m.description
        ? String((m.description as Record<string, unknown>).en ?? '')
        : '',
    ipVersion: m.ipVersion,
    nodeCount: m.nodeCount,
    recordSize: m.recordSize,
  };
  if (m.binaryFormatMajorVersion !== 2)
    throw new Error(`${path}: binary format ${info.formatVersion}, only 2.x is known`);
  if (m.ipVersion !== 4 && m.ipVersion !== 6) throw new Error(`${path}: ip_version ${m.ipVersion}`);
  if (![24, 28, 32].includes(m.recordSize)) throw new Error(`${path}: record_size ${m.recordSize}`);
  const nodeCount = m.nodeCount;
  const nodeBytes = m.nodeByteSize;
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount * nodeBytes + 16 > db.length)
    throw new Error(`${path}: node_count ${nodeCount} does not fit in ${db.length} bytes`);
  const dataSize = db.length - nodeCount * nodeBytes - 16;
  const record = recordReader(db, m.recordSize, nodeBytes);
  const bits = m.ipVersion === 6 ? 128 : 32;

  // In an IPv6 tree the IPv4 space is ::/96, and MaxMind aliases ::ffff:0:0/96 and 2002::/16 to the
  // same node; those aliases are not walked (their answers are the IPv4 ones).
  let ipv4Node = 0;
  if (bits === 128) {
    for (let i = 0; i < 96 && ipv4Node < nodeCount; i++) ipv4Node = record(ipv4Node, 0);
  }
  const values = new Map<number, MmdbRecordValues>();
  const seen = new Uint8Array(nodeCount);
  const stack: { node: number; depth: number; start: bigint }[] = [{ node: 0, depth: 0, start: 0n }];
  const leaf = (ptr: number, depth: number, start: bigint) => {
    let val = values.get(ptr);
    if (!val) {
      const off = ptr - nodeCount - 16;
      if (off < 0 || off >= dataSize) {
        val = { problem: `data pointer ${ptr} points outside the data section (${dataSize} bytes)` };
      } else {
        try {
          // The library's own lookup of the network's first address: the same record, decoded by it.
          const [rec, prefix] = reader.getWithPrefixLength(addressText(start, bits));
          val =
            prefix !== depth
              ? { problem: `maxmind finds this network at /${prefix}, the tree walk at /${depth}` }
              : mmdbRecordValues(rec);
        } catch (e) {
          val = { problem: `data record at offset ${off}: ${(e as Error).message}` };
        }
      }
      values.set(ptr, val);
    }
    const end = start + (1n << BigInt(bits - depth)) - 1n;
    countRecord(path, sink);
    // ::/96 in an IPv6 tree is the IPv4 space: those networks go to the IPv4 table too.
    const isV4 = bits === 32 || end <= 0xffffffffn;
    if (val.problem) {
      stats.skipped.push({
        at: `network ${formatPrefix(start, depth, bits === 32 ? 4 : 6)}`,
        message: val.problem,
      });
      return;
    }
    stats.kept++;
    const add = (t: FamilyRanges, fam: 4 | 6, s: bigint, e: bigint) => {
      if (fam === 4) stats.v4++;
      else stats.v6++;
      if (val.country !== undefined) {
        t.country.push({ start: s, end: e, value: names.code(val.country) });
        stats.gives.add('country');
        stats.families.country.add(fam);
      }
      if (val.asn !== undefined) {
        t.asn.push({ start: s, end: e, value: val.asn });
        t.org.push({ start: s, end: e, value: names.org(val.org ?? '') });
        stats.gives.add('asn');
        stats.families.asn.add(fam);
      }
    };
    if (bits === 32) add(v4, 4, start, end);
    else {
      add(v6, 6, start, end);
      if (isV4) add(v4, 4, start, end);
      else if (start === 0n) add(v4, 4, 0n, 0xffffffffn); // a network that holds all of ::/96
    }
  };
  while (stack.length) {
    const { node, depth, start } = stack.pop()!;
    if (seen[node]) throw new Error(`${path}: search tree node ${node} is reached twice (not a tree)`);
    seen[node] = 1;
    for (const side of [1, 0] as const) {
      const next = record(node, side);
      const childStart = side ? start | (1n << BigInt(bits - depth - 1)) : start;
      const d = depth + 1;
      if (next === nodeCount) continue; // no data
      if (next > nodeCount) leaf(next, d, childStart);
      else {
        if (d >= bits) throw new Error(`${path}: search tree deeper than ${bits} bits at node ${node}`);
        if (bits === 128 && next === ipv4Node && !(childStart === 0n && d === 96)) continue; // an alias of ::/96
        stack.push({ node: next, depth: d, start: childStart });
      }
    }
  }
  return info;
}

function recordReader(db: Buffer, size: number, nodeBytes: number): (node: number, side: 0 | 1) => number {
  if (size === 24) return (n, s) => db.readUIntBE(n * nodeBytes + 3 * s, 3);
  if (size === 32) return (n, s) => db.readUInt32BE(n * nodeBytes + 4 * s);
  return (n, s) => {
    const o = n * nodeBytes;
    return s === 0
      ? (db[o + 3] & 0xf0) * 2 ** 20 + db.readUIntBE(o, 3)
      : (db[o + 3] & 0x0f) * 2 ** 24 + db.readUIntBE(o + 4, 3);
  };
}

/** The address text maxmind's lookup takes for the first address of a network. */
function addressText(start: bigint, bits: number): string {
  if (bits === 32) return formatPrefix(start, 32, 4).slice(0, -3);
  const w: string[] = [];
  for (let i = 7; i >= 0; i--) w.push(Number((start >> BigInt(16 * i)) & 0xffffn).toString(16));
  return w.join(':');
}
