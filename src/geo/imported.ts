/**
 * Geo data a CERT imports (`coinradar geo import`): .mmdb files and ip-location-db CSVs turned
 * into the same lookup tables as the packaged data, kept beside the store they enrich
 * (`<db>.geo.bin`, the tables; `<db>.geo.json`, the manifest: each source's file name, sha256,
 * build date and version, what it gave and what was skipped). From then on every enrichment
 * of that store uses them; `geo reset` removes both and the packaged default is back.
 *
 * Parts no imported file gives (say IPv6 ASNs when only an IPv4 CSV was imported) come from the
 * packaged data unless `noDefault`, and the manifest says which.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename } from 'node:path';
import {
  GeoNames,
  partsFromRanges,
  readCache,
  writeCache,
  type FamilyRanges,
  type GeoDatabase,
} from './database.js';
import { locateGeoData, readAsnRanges, readCountryRanges } from './ip-location-db.js';
import { readLocationCsv } from './location-csv.js';
import { DEFAULT_MAX_RECORDS, emptyStats, type ImportSkip, type ReadStats } from './import-sink.js';
import { looksLikeMmdb, readMmdb, type MmdbInfo } from './mmdb.js';

const MANIFEST_FORMAT = 1;

/** Default bound on one imported file (GeoLite2-City is ~60 MB, DB-IP's city lite ~130 MB). */
export const DEFAULT_GEO_MAX_BYTES = 512 * 2 ** 20;

export interface GeoSource {
  /** The file name as given (base name) and its full path at import. */
  file: string;
  path: string;
  sha256: string;
  bytes: number;
  format: 'mmdb' | 'ip-location-db-csv';
  /** What it gave: country, asn; and for which families. */
  gives: string[];
  /** mmdb: database_type; CSV: ''. */
  databaseType: string;
  /** mmdb: build_epoch; CSV: the file's modification time (no date inside). */
  buildDate: string;
  /** mmdb: binary format major.minor; CSV: --data-version or ''. */
  version: string;
  /** Networks (mmdb) or rows (CSV) read, kept, skipped. */
  records: number;
  kept: number;
  skipped: number;
}

export interface GeoManifest {
  manifestFormat: number;
  importedAt: string;
  sources: GeoSource[];
  /** Parts taken from the packaged data ("country v6 from @ip-location-db/geolite2-country 2.3…"). */
  defaults: string[];
  /** Parts nobody gives (with noDefault): left unknown. */
  empty: string[];
  segments: { v4: number; v6: number };
  countries: number;
  organisations: number;
}

export function importedGeoPaths(db: string): { bin: string; manifest: string } {
  return { bin: `${db}.geo.bin`, manifest: `${db}.geo.json` };
}

/** The manifest of the store's imported geo data, or undefined when it uses the packaged default. */
export function readGeoManifest(db: string): GeoManifest | undefined {
  const { manifest } = importedGeoPaths(db);
  if (!existsSync(manifest)) return undefined;
  let m: GeoManifest;
  try {
    m = JSON.parse(readFileSync(manifest, 'utf8')) as GeoManifest;
  } catch (e) {
    throw new Error(
      `${manifest}: unreadable (${(e as Error).message}); \`coinradar geo reset\` goes back to the packaged data`,
      { cause: e },
    );
  }
  if (m.manifestFormat !== MANIFEST_FORMAT || !Array.isArray(m.sources))
    throw new Error(`${manifest}: not a coinradar geo manifest of format ${MANIFEST_FORMAT}`);
  return m;
}

/**
 * The store's imported tables, or undefined when it has none. A manifest whose tables cannot be
 * read is an error, never a silent fall back to other data.
 */
export function loadImportedGeo(db: string): GeoDatabase | undefined {
  const m = readGeoManifest(db);
  if (!m) return undefined;
  const { bin } = importedGeoPaths(db);
  const g = readCache(bin, performance.now(), 'imported');
  if (!g)
    throw new Error(
      `${bin}: missing or cut short (the manifest lists ${m.sources.length} imported source(s)); import again or \`coinradar geo reset\``,
    );
  return g;
}

/** Remove the store's imported geo data; true when there was some. */
export function resetImportedGeo(db: string): boolean {
  const { bin, manifest } = importedGeoPaths(db);
  const had = existsSync(manifest) || existsSync(bin);
  rmSync(manifest, { force: true });
  rmSync(bin, { force: true });
  return had;
}

export interface ImportGeoOptions {
  /** Bound on each file's size (default DEFAULT_GEO_MAX_BYTES). */
  maxBytes?: number;
  /** Bound on networks/rows of each file (default DEFAULT_MAX_RECORDS). */
  maxRecords?: number;
  /** Keep a source some of whose records could not be read (they are counted); refused otherwise. */
  allowPartial?: boolean;
  /** Leave the parts no file gives unknown instead of taking them from the packaged data. */
  noDefault?: boolean;
  /** Version recorded for the CSV sources (they carry none). */
  dataVersion?: string;
}

export class GeoImportRefused extends Error {
  constructor(
    message: string,
    readonly skipped: { file: string; skips: ImportSkip[] }[],
  ) {
    super(message);
  }
}

function sha256File(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let pos = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

function tail(path: string, size: number): Buffer {
  const n = Math.min(size, 128 * 1024);
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(n);
    readSync(fd, b, 0, n, size - n);
    return b;
  } finally {
    closeSync(fd);
  }
}

/** a.push(...b) without spreading hundreds of thousands of arguments onto the stack. */
function append<T>(a: T[], b: T[]): void {
  for (const x of b) a.push(x);
}

const emptyFamily = (): FamilyRanges => ({ country: [], asn: [], org: [] });

/**
 * Read the files, build the tables and store them beside `db` (replacing an earlier import only
 * when everything was read). Throws GeoImportRefused when a file has unreadable records and
 * `allowPartial` is off, or when the files give nothing.
 */
export function importGeoFiles(files: string[], db: string, o: ImportGeoOptions = {}): GeoManifest {
  if (files.length === 0) throw new Error('no files to import');
  const maxBytes = o.maxBytes ?? DEFAULT_GEO_MAX_BYTES;
  const names = new GeoNames();
  const v4 = emptyFamily();
  const v6 = emptyFamily();
  const sources: GeoSource[] = [];
  const given = { country: new Set<4 | 6>(), asn: new Set<4 | 6>() };
  const refused: { file: string; skips: ImportSkip[] }[] = [];
  for (const path of files) {
    const st = statSync(path);
    if (!st.isFile()) throw new Error(`${path}: not a file`);
    const stats: ReadStats = emptyStats();
    let info: MmdbInfo | undefined;
    const sink = { names, v4, v6, stats, maxBytes, maxRecords: o.maxRecords ?? DEFAULT_MAX_RECORDS };
    if (looksLikeMmdb(tail(path, st.size))) info = readMmdb(path, sink);
    else readLocationCsv(path, sink);
    if (stats.kept === 0)
      throw new Error(`${path}: no usable ${info ? 'network' : 'row'} (${stats.records} read)`);
    if (stats.skipped.length) refused.push({ file: path, skips: stats.skipped });
    for (const k of ['country', 'asn'] as const) for (const f of stats.families[k]) given[k].add(f);
    const gives: string[] = [];
    for (const k of ['country', 'asn'] as const)
      if (stats.families[k].size)
        gives.push(
          `${k} ${[...stats.families[k]]
            .sort()
            .map((f) => `v${f}`)
            .join('+')}`,
        );
    sources.push({
      file: basename(path),
      path,
      sha256: sha256File(path),
      bytes: st.size,
      format: info ? 'mmdb' : 'ip-location-db-csv',
      gives,
      databaseType: info?.databaseType ?? '',
      buildDate: info ? info.buildDate : st.mtime.toISOString(),
      version: info ? info.formatVersion : (o.dataVersion ?? ''),
      records: stats.records,
      kept: stats.kept,
      skipped: stats.skipped.length,
    });
  }
  if (refused.length && !o.allowPartial) {
    const n = refused.reduce((s, r) => s + r.skips.length, 0);
    throw new GeoImportRefused(
      `refused: ${n} record(s) of ${refused.map((r) => r.file).join(', ')} could not be read; nothing was imported (--allow-partial imports the rest)`,
      refused,
    );
  }
  const defaults: string[] = [];
  const empty: string[] = [];
  const missing: { kind: 'country' | 'asn'; fam: 4 | 6 }[] = [];
  for (const kind of ['country', 'asn'] as const)
    for (const fam of [4, 6] as const) if (!given[kind].has(fam)) missing.push({ kind, fam });
  if (missing.length && !o.noDefault) {
    const pkg = locateGeoData();
    for (const { kind, fam } of missing) {
      const t = fam === 4 ? v4 : v6;
      if (kind === 'country') {
        append(
          t.country,
          readCountryRanges(fam === 4 ? pkg.countryV4 : pkg.countryV6, names.codes, names.codeIndex),
        );
        defaults.push(`country v${fam} from @ip-location-db/geolite2-country ${pkg.countryVersion}`);
      } else {
        const r = readAsnRanges(fam === 4 ? pkg.asnV4 : pkg.asnV6, names.orgs, names.orgIndex);
        append(t.asn, r.asn);
        append(t.org, r.org);
        defaults.push(`asn v${fam} from @ip-location-db/asn ${pkg.asnVersion}`);
      }
    }
  } else for (const { kind, fam } of missing) empty.push(`${kind} v${fam}`);
  const parts = partsFromRanges(v4, v6, names);
  const manifest: GeoManifest = {
    manifestFormat: MANIFEST_FORMAT,
    importedAt: new Date().toISOString(),
    sources,
    defaults,
    empty,
    segments: { v4: parts.arrays.v4starts.length, v6: parts.arrays.v6starts.length / 4 },
    countries: names.codes.length - 1,
    organisations: names.orgs.length - 1,
  };
  // The tables first, the manifest last: a manifest always describes the tables beside it.
  const { bin, manifest: mpath } = importedGeoPaths(db);
  writeCache(bin, parts);
  const tmp = `${mpath}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(manifest, null, 2) + '\n');
  renameSync(tmp, mpath);
  // A check that the stored tables read back (the caller's next enrichment would fail otherwise).
  if (!readCache(bin, 0)) throw new Error(`${bin}: written but does not read back`);
  return manifest;
}
