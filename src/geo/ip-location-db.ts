/**
 * Reading the `@ip-location-db` data packages: the `*-num.csv` files give each range as two
 * decimal integers (start,end) followed by the value columns — `asn,org` for @ip-location-db/asn,
 * `country` for @ip-location-db/geolite2-country.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { AddressRange } from './ranges.js';

const require = createRequire(import.meta.url);

export interface GeoDataFiles {
  asnV4: string;
  asnV6: string;
  countryV4: string;
  countryV6: string;
  /** Package versions, part of the cache key. */
  asnVersion: string;
  countryVersion: string;
  /** node_modules folder holding the packages (for node_modules/.cache). */
  nodeModules: string;
}

export function locateGeoData(): GeoDataFiles {
  const asnPkg = require.resolve('@ip-location-db/asn/package.json');
  const countryPkg = require.resolve('@ip-location-db/geolite2-country/package.json');
  const asnDir = dirname(asnPkg);
  const countryDir = dirname(countryPkg);
  return {
    asnV4: join(asnDir, 'asn-ipv4-num.csv'),
    asnV6: join(asnDir, 'asn-ipv6-num.csv'),
    countryV4: join(countryDir, 'geolite2-country-ipv4-num.csv'),
    countryV6: join(countryDir, 'geolite2-country-ipv6-num.csv'),
    asnVersion: (JSON.parse(readFileSync(asnPkg, 'utf8')) as { version: string }).version,
    countryVersion: (JSON.parse(readFileSync(countryPkg, 'utf8')) as { version: string }).version,
    nodeModules: dirname(dirname(asnDir)),
  };
}

/** Split one CSV line into fields (RFC 4180 quoting: "a, b" and "" inside quotes). */
export function csvFields(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let v = '';
      let j = i + 1;
      while (j < line.length) {
        if (line[j] === '"') {
          if (line[j + 1] === '"') {
            v += '"';
            j += 2;
            continue;
          }
          break;
        }
        v += line[j++];
      }
      out.push(v);
      i = j + 2; // past the closing quote and the comma
    } else {
      const c = line.indexOf(',', i);
      const end = c < 0 ? line.length : c;
      out.push(line.slice(i, end));
      i = end + 1;
    }
  }
  return out;
}

/** Calls `row(fields, lineNumber)` for each non-empty line of a CSV file. */
export function eachCsvRow(path: string, row: (f: string[], line: number) => void): void {
  const text = readFileSync(path, 'utf8');
  let line = 0;
  let pos = 0;
  while (pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    line++;
    let l = text.slice(pos, nl);
    if (l.endsWith('\r')) l = l.slice(0, -1);
    pos = nl + 1;
    if (l.length > 0) row(csvFields(l), line);
  }
}

function bound(s: string, path: string, line: number): bigint {
  if (!/^[0-9]+$/.test(s))
    throw new Error(`${path}:line ${line}: expected a decimal address, found ${JSON.stringify(s)}`);
  return BigInt(s);
}

/** Country ranges; values index `codes` (codes[0] = '' for unknown). */
export function readCountryRanges(
  path: string,
  codes: string[],
  codeIndex: Map<string, number>,
): AddressRange[] {
  const out: AddressRange[] = [];
  eachCsvRow(path, (f, line) => {
    const code = f[2] ?? '';
    let v = codeIndex.get(code);
    if (v === undefined) {
      v = codes.length;
      codes.push(code);
      codeIndex.set(code, v);
    }
    out.push({ start: bound(f[0], path, line), end: bound(f[1], path, line), value: v });
  });
  return out;
}

/** ASN ranges (value = ASN) and organisation ranges (value = index into `orgs`, orgs[0] = ''). */
export function readAsnRanges(
  path: string,
  orgs: string[],
  orgIndex: Map<string, number>,
): { asn: AddressRange[]; org: AddressRange[] } {
  const asn: AddressRange[] = [];
  const org: AddressRange[] = [];
  eachCsvRow(path, (f, line) => {
    const start = bound(f[0], path, line);
    const end = bound(f[1], path, line);
    const n = Number(f[2]);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
      throw new Error(`${path}:line ${line}: expected an AS number, found ${JSON.stringify(f[2])}`);
    }
    const name = f[3] ?? '';
    let o = orgIndex.get(name);
    if (o === undefined) {
      o = orgs.length;
      orgs.push(name);
      orgIndex.set(name, o);
    }
    asn.push({ start, end, value: n });
    org.push({ start, end, value: o });
  });
  return { asn, org };
}
