/**
 * Reading ip-location-db CSVs (the sapics/ip-location-db formats) into range lists:
 *   ip_range_start,ip_range_end,country_code                                  (country)
 *   ip_range_start,ip_range_end,autonomous_system_number,autonomous_system_organization  (ASN)
 * with the addresses as text (1.0.0.0, 2001:200::) or, in the `-num.csv` files, as decimal
 * integers; IPv4 and IPv6. No header row is needed; a header naming ip_range_start is skipped.
 * Bad rows are named by line and skipped (the caller decides whether a file with skipped rows is
 * refused).
 */
import { basename } from 'node:path';
import { writeIp } from '../flow/record.js';
import { eachCsvRow } from './ip-location-db.js';
import { checkImportSize, countRecord, MAX_ORG_BYTES, type ImportSink } from './import-sink.js';

const COUNTRY = /^[A-Z]{2}$/;
const DECIMAL = /^[0-9]{1,39}$/;
const V4_MAX = 0xffffffffn;
const V6_MAX = (1n << 128n) - 1n;

/** The family a `-num.csv` file's integers are in, from its name (ip-location-db names them so). */
function familyFromName(path: string): 4 | 6 | undefined {
  const b = basename(path).toLowerCase();
  if (/ipv6|[-_.]v6[-_.]/.test(b)) return 6;
  if (/ipv4|[-_.]v4[-_.]/.test(b)) return 4;
  return undefined;
}

const ipBuf = new Uint8Array(16);

/** An address field as [family, value], or a reason it is not one. */
function address(s: string, numFamily: 4 | 6 | undefined): [4 | 6, bigint] | string {
  if (DECIMAL.test(s)) {
    const v = BigInt(s);
    const fam = numFamily ?? (v > V4_MAX ? 6 : 4);
    if (v > (fam === 4 ? V4_MAX : V6_MAX)) return `${s} is past the IPv${fam} space`;
    return [fam, v];
  }
  let fam: 4 | 6;
  try {
    fam = writeIp(ipBuf, 0, s);
  } catch {
    return `${JSON.stringify(s.slice(0, 60))} is not an address`;
  }
  let v = 0n;
  const len = fam === 4 ? 4 : 16;
  for (let i = 0; i < len; i++) v = (v << 8n) | BigInt(ipBuf[i]);
  return [fam, v];
}

export function readLocationCsv(path: string, sink: ImportSink): void {
  const { names, v4, v6, stats } = sink;
  checkImportSize(path, sink.maxBytes);
  const numFamily = familyFromName(path);
  let kind: 'country' | 'asn' | undefined;
  eachCsvRow(path, (f, line) => {
    if (line === 1 && /ip_range_start|start_ip|^ip_from/i.test(f[0] ?? '')) return; // a header
    countRecord(path, sink);
    const skip = (message: string) => stats.skipped.push({ at: `line ${line}`, message });
    const rowKind = f.length === 3 ? 'country' : f.length === 4 ? 'asn' : undefined;
    if (!rowKind)
      return skip(`${f.length} fields: expected 3 (start,end,country) or 4 (start,end,asn,organisation)`);
    kind ??= rowKind;
    if (rowKind !== kind) return skip(`${f.length} fields in a ${kind} file`);
    const a = address(f[0], numFamily);
    const b = address(f[1], numFamily);
    if (typeof a === 'string') return skip(`range start: ${a}`);
    if (typeof b === 'string') return skip(`range end: ${b}`);
    if (a[0] !== b[0]) return skip('range start and end are of different families');
    if (a[1] > b[1]) return skip('range start is after its end');
    const fam = a[0];
    const t = fam === 4 ? v4 : v6;
    if (kind === 'country') {
      if (!COUNTRY.test(f[2])) return skip(`${JSON.stringify(f[2].slice(0, 20))} is not a country code`);
      t.country.push({ start: a[1], end: b[1], value: names.code(f[2]) });
    } else {
      if (!DECIMAL.test(f[2]) || Number(f[2]) > 0xffffffff)
        return skip(`${JSON.stringify(f[2].slice(0, 20))} is not an AS number`);
      if (Buffer.byteLength(f[3]) > MAX_ORG_BYTES)
        return skip(`organisation longer than ${MAX_ORG_BYTES} bytes`);
      t.asn.push({ start: a[1], end: b[1], value: Number(f[2]) });
      t.org.push({ start: a[1], end: b[1], value: names.org(f[3]) });
    }
    stats.kept++;
    if (fam === 4) stats.v4++;
    else stats.v6++;
    stats.gives.add(kind);
    stats.families[kind].add(fam);
  });
}
