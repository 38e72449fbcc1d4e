/**
 * The offline geo database: country, ASN and AS organisation for any IPv4/IPv6 address, from
 * the @ip-location-db packages. Built once from the CSVs into flat typed arrays and cached as
 * one binary file keyed by the package versions; later loads map the file into typed-array
 * views without parsing anything.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { locateGeoData, readAsnRanges, readCountryRanges, type GeoDataFiles } from './ip-location-db.js';
import {
  type AddressRange,
  IPV4_MAX,
  IPV6_MAX,
  disjointRanges,
  findV4,
  findV6,
  overlay,
  readU32,
  v4Starts,
  v6Starts,
  type V4Starts,
  type V6Starts,
} from './ranges.js';

/** Bumped whenever the cache layout or the build rules change. */
const CACHE_FORMAT = 1;
const MAGIC = 'coinradar-geo\n';

/** Per-family segment columns: country code index, ASN, organisation index. */
interface FamilyTable {
  country: Uint16Array;
  asn: Uint32Array;
  org: Uint32Array;
}

export interface GeoAnswer {
  country: string;
  asn: number;
  org: string;
}

export class GeoDatabase {
  private readonly orgCache: (string | undefined)[];

  constructor(
    readonly v4: V4Starts & FamilyTable,
    readonly v6: V6Starts & FamilyTable,
    /** Country codes; codes[0] = '' (unknown). */
    readonly codes: string[],
    /** Organisation names as UTF-8, name i at orgBlob[orgOffsets[i], orgOffsets[i+1]). */
    private readonly orgOffsets: Uint32Array,
    private readonly orgBlob: Buffer,
    /** How it was obtained: 'built' from the CSVs, read from 'cache' or from a store's 'imported' tables, and the file path. */
    readonly origin: { how: 'built' | 'cache' | 'imported'; cacheFile?: string; ms: number },
  ) {
    this.orgCache = new Array(orgOffsets.length - 1);
  }

  get orgCount(): number {
    return this.orgOffsets.length - 1;
  }

  /** Organisation name by index (decoded on first use). */
  orgName(i: number): string {
    let s = this.orgCache[i];
    if (s === undefined) {
      s = this.orgBlob.toString('utf8', this.orgOffsets[i], this.orgOffsets[i + 1]);
      this.orgCache[i] = s;
    }
    return s;
  }

  /** Segment of an IPv4 address given as an unsigned 32-bit number. */
  segmentV4(x: number): number {
    return findV4(this.v4, x);
  }

  /** Segment of an IPv6 address given as four big-endian 32-bit words. */
  segmentV6(a: number, b: number, c: number, d: number): number {
    return findV6(this.v6, a, b, c, d);
  }

  /** Country, ASN and organisation of a 4- or 16-byte address at `off` ('' / 0 when unknown). */
  lookupBytes(buf: Uint8Array, off: number, version: number): GeoAnswer {
    if (version !== 6) return this.answer(this.v4, this.segmentV4(readU32(buf, off)));
    const a = readU32(buf, off);
    const b = readU32(buf, off + 4);
    const c = readU32(buf, off + 8);
    const d = readU32(buf, off + 12);
    // IPv4-mapped IPv6 (::ffff:a.b.c.d) is an IPv4 address.
    if (a === 0 && b === 0 && c === 0xffff) return this.answer(this.v4, this.segmentV4(d));
    return this.answer(this.v6, this.segmentV6(a, b, c, d));
  }

  private answer(t: FamilyTable, seg: number): GeoAnswer {
    return { country: this.codes[t.country[seg]], asn: t.asn[seg], org: this.orgName(t.org[seg]) };
  }
}

export interface LoadGeoOptions {
  /**
   * Folder for the binary cache; default $COINRADAR_CACHE_DIR, else the first usable of
   * node_modules/.cache/coinradar, ~/.cache/coinradar and the temp dir.
   */
  cacheDir?: string;
  /** Do not read or write a cache (always build from the CSVs). */
  noCache?: boolean;
  files?: GeoDataFiles;
  /** Called when no cache is usable and the tables are about to be built (takes seconds). */
  onBuild?: () => void;
}

/** Build from the package CSVs, or load the cache built earlier for the same package versions. */
export function loadGeoDatabase(o: LoadGeoOptions = {}): GeoDatabase {
  const t0 = performance.now();
  const files = o.files ?? locateGeoData();
  const key = createHash('sha256')
    .update(`${CACHE_FORMAT}|${files.asnVersion}|${files.countryVersion}|${files.asnV4}|${files.countryV4}`)
    .digest('hex')
    .slice(0, 16);
  const name = `geo-${files.asnVersion}-${key}.bin`;
  const only = o.cacheDir ?? process.env.COINRADAR_CACHE_DIR;
  const dirs = only
    ? [only]
    : [
        join(files.nodeModules, '.cache', 'coinradar'),
        join(homedir(), '.cache', 'coinradar'),
        join(tmpdir(), 'coinradar-cache'),
      ];
  if (!o.noCache) {
    for (const d of dirs) {
      const p = join(d, name);
      if (!existsSync(p)) continue;
      const db = readCache(p, t0);
      if (db) return db;
    }
  }
  o.onBuild?.();
  const parts = buildParts(files);
  let cacheFile: string | undefined;
  if (!o.noCache) {
    for (const d of dirs) {
      try {
        mkdirSync(d, { recursive: true });
        const p = join(d, name);
        writeCache(p, parts);
        cacheFile = p;
        break;
      } catch {
        // Not writable (e.g. a read-only global install): try the next place, else run uncached.
      }
    }
  }
  return fromParts(parts, { how: 'built', cacheFile, ms: performance.now() - t0 });
}

/** Everything the database holds, as the arrays written to (and read from) the cache. */
export interface Parts {
  codes: string[];
  arrays: {
    v4starts: Uint32Array;
    v4index: Uint32Array;
    v4country: Uint16Array;
    v4asn: Uint32Array;
    v4org: Uint32Array;
    v6starts: Uint32Array;
    v6index: Uint32Array;
    v6country: Uint16Array;
    v6asn: Uint32Array;
    v6org: Uint32Array;
    orgOffsets: Uint32Array;
    orgBlob: Uint8Array;
  };
}

type ArrayName = keyof Parts['arrays'];
const ARRAY_KINDS: Record<ArrayName, 'u32' | 'u16' | 'u8'> = {
  v4starts: 'u32',
  v4index: 'u32',
  v4country: 'u16',
  v4asn: 'u32',
  v4org: 'u32',
  v6starts: 'u32',
  v6index: 'u32',
  v6country: 'u16',
  v6asn: 'u32',
  v6org: 'u32',
  orgOffsets: 'u32',
  orgBlob: 'u8',
};

function buildParts(files: GeoDataFiles): Parts {
  const names = new GeoNames();
  const family = (countryPath: string, asnPath: string): FamilyRanges => ({
    country: readCountryRanges(countryPath, names.codes, names.codeIndex),
    ...readAsnRanges(asnPath, names.orgs, names.orgIndex),
  });
  return partsFromRanges(family(files.countryV4, files.asnV4), family(files.countryV6, files.asnV6), names);
}

/** Country codes and organisation names, each interned once (index 0 = '' = unknown). */
export class GeoNames {
  readonly codes = [''];
  readonly codeIndex = new Map([['', 0]]);
  readonly orgs = [''];
  readonly orgIndex = new Map([['', 0]]);

  code(c: string): number {
    let v = this.codeIndex.get(c);
    if (v === undefined) {
      v = this.codes.length;
      this.codes.push(c);
      this.codeIndex.set(c, v);
    }
    return v;
  }

  org(name: string): number {
    let v = this.orgIndex.get(name);
    if (v === undefined) {
      v = this.orgs.length;
      this.orgs.push(name);
      this.orgIndex.set(name, v);
    }
    return v;
  }
}

/** One family's attribute ranges, values indexing GeoNames (country, org) or the ASN itself. */
export interface FamilyRanges {
  country: AddressRange[];
  asn: AddressRange[];
  org: AddressRange[];
}

/**
 * The lookup tables from range lists, whatever they were read from (the packaged CSVs, an
 * imported .mmdb or ip-location-db CSV): each attribute made disjoint (the later-starting range
 * wins where two overlap), then overlaid into one segmentation per family.
 */
export function partsFromRanges(r4: FamilyRanges, r6: FamilyRanges, names: GeoNames): Parts {
  const family = (r: FamilyRanges, max: bigint) => {
    const seg = overlay([disjointRanges(r.country), disjointRanges(r.asn), disjointRanges(r.org)], max);
    return {
      starts: seg.starts,
      country: Uint16Array.from(seg.values[0]),
      asn: Uint32Array.from(seg.values[1]),
      org: Uint32Array.from(seg.values[2]),
    };
  };
  if (names.codes.length > 0xffff) throw new Error(`${names.codes.length} country codes: at most 65535`);
  const f4 = family(r4, IPV4_MAX);
  const f6 = family(r6, IPV6_MAX);
  const s4 = v4Starts(f4.starts);
  const s6 = v6Starts(f6.starts);
  const encoded = names.orgs.map((s) => Buffer.from(s, 'utf8'));
  const orgOffsets = new Uint32Array(names.orgs.length + 1);
  for (let i = 0; i < encoded.length; i++) orgOffsets[i + 1] = orgOffsets[i] + encoded[i].length;
  return {
    codes: names.codes,
    arrays: {
      v4starts: s4.starts,
      v4index: s4.index,
      v4country: f4.country,
      v4asn: f4.asn,
      v4org: f4.org,
      v6starts: s6.starts,
      v6index: s6.index,
      v6country: f6.country,
      v6asn: f6.asn,
      v6org: f6.org,
      orgOffsets,
      orgBlob: Buffer.concat(encoded),
    },
  };
}

export function fromParts(p: Parts, origin: GeoDatabase['origin']): GeoDatabase {
  const a = p.arrays;
  return new GeoDatabase(
    { starts: a.v4starts, index: a.v4index, country: a.v4country, asn: a.v4asn, org: a.v4org },
    { starts: a.v6starts, index: a.v6index, country: a.v6country, asn: a.v6asn, org: a.v6org },
    p.codes,
    a.orgOffsets,
    Buffer.from(a.orgBlob.buffer, a.orgBlob.byteOffset, a.orgBlob.byteLength),
    origin,
  );
}

/*
 * Cache layout: MAGIC, a u32 (little-endian) header length, a JSON header {codes, arrays:
 * [[name, kind, offset, length]...]}, then each array at an 8-byte-aligned offset from the start
 * of the file, in the machine's byte order (the header records which).
 */
export function writeCache(path: string, parts: Parts): void {
  const names = Object.keys(parts.arrays) as ArrayName[];
  const layout: [string, string, number, number][] = [];
  // Offsets are fixed after the header length is known; reserve generous room for it.
  const headerFor = (base: number) => {
    let off = base;
    layout.length = 0;
    for (const n of names) {
      off = (off + 7) & ~7;
      const arr = parts.arrays[n];
      layout.push([n, ARRAY_KINDS[n], off, arr.length]);
      off += arr.byteLength;
    }
    return Buffer.from(JSON.stringify({ codes: parts.codes, endian: endianness(), arrays: layout }), 'utf8');
  };
  const magic = Buffer.from(MAGIC, 'latin1');
  let header = headerFor(0);
  const base = (magic.length + 4 + header.length + 64 + 7) & ~7; // room for the offsets' digits
  header = headerFor(base);
  if (magic.length + 4 + header.length > base) throw new Error('geo cache header overflow');
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    const head = Buffer.alloc(base);
    magic.copy(head, 0);
    head.writeUInt32LE(header.length, magic.length);
    header.copy(head, magic.length + 4);
    writeSync(fd, head, 0, head.length, 0);
    for (const [n, , off] of layout) {
      const arr = parts.arrays[n as ArrayName];
      writeSync(fd, new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength), 0, arr.byteLength, off);
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function endianness(): 'le' | 'be' {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 'le' : 'be';
}

/** The tables of a file written by writeCache, or undefined when it is missing, foreign or cut short. */
export function readCache(
  path: string,
  t0: number,
  how: GeoDatabase['origin']['how'] = 'cache',
): GeoDatabase | undefined {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch {
    return undefined;
  }
  if (buf.toString('latin1', 0, MAGIC.length) !== MAGIC) return undefined;
  // Typed-array views need aligned offsets: copy into a fresh ArrayBuffer if the read one is not.
  if (buf.byteOffset % 8 !== 0) buf = Buffer.from(new Uint8Array(buf));
  const hlen = buf.readUInt32LE(MAGIC.length);
  let header: {
    codes: string[];
    endian: string;
    arrays: [ArrayName, 'u32' | 'u16' | 'u8', number, number][];
  };
  try {
    header = JSON.parse(buf.toString('utf8', MAGIC.length + 4, MAGIC.length + 4 + hlen));
  } catch {
    return undefined;
  }
  if (header.endian !== endianness()) return undefined;
  const arrays: Partial<Parts['arrays']> = {};
  for (const [name, kind, off, len] of header.arrays) {
    const size = kind === 'u32' ? 4 : kind === 'u16' ? 2 : 1;
    if (off + len * size > buf.length) return undefined; // truncated cache: rebuild
    const at = buf.byteOffset + off;
    const view =
      kind === 'u32'
        ? new Uint32Array(buf.buffer, at, len)
        : kind === 'u16'
          ? new Uint16Array(buf.buffer, at, len)
          : new Uint8Array(buf.buffer, at, len);
    (arrays as Record<string, unknown>)[name] = view;
  }
  for (const n of Object.keys(ARRAY_KINDS)) if (!(n in arrays)) return undefined;
  return fromParts(
    { codes: header.codes, arrays: arrays as Parts['arrays'] },
    { how, cacheFile: path, ms: performance.now() - t0 },
  );
}
