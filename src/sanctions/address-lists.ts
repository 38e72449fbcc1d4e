/**
 * Plain address lists: the per-asset JSON arrays (sanctioned_addresses_<CODE>.json, one array of
 * strings per coin, as published by 0xB10C/ofac-sanctioned-digital-currency-addresses from the
 * SDN Advanced XML) and a simple user CSV `coin,address,label[,entity]` (header optional).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Diagnostics } from '../flow/diagnostics.js';
import { listAddress } from './listed.js';
import { csvRecords, noteUnterminatedLastLine } from './csv.js';
import type { ListedAddress, ParsedList, ParseOptions, SanctionedEntity, SkippedRow } from './model.js';
import { quoteFound, rowSkipper } from './skipped.js';

const JSON_NAME = /^sanctioned_addresses_([A-Za-z0-9]+)\.json$/;

export function isAddressJson(path: string): boolean {
  return JSON_NAME.test(basename(path));
}

export type AddressListOptions = ParseOptions;

/** One version from several per-asset JSON files (sorted by name so the checksum is stable). */
export function parseAddressJson(paths: string[], opts: AddressListOptions = {}): ParsedList {
  const diag = opts.diagnostics ?? new Diagnostics();
  const files = [...paths].sort((a, b) => basename(a).localeCompare(basename(b)));
  const hash = createHash('sha256');
  const addresses: ListedAddress[] = [];
  const skipped: SkippedRow[] = [];
  const skip = rowSkipper(diag, skipped);
  for (const path of files) {
    const m = JSON_NAME.exec(basename(path));
    if (!m) throw new Error(`${path}: expected a file named sanctioned_addresses_<COIN>.json`);
    const code = m[1].toUpperCase();
    const buf = readFileSync(path);
    hash.update(basename(path)).update(buf);
    const text = buf.toString('utf8');
    let arr: unknown;
    try {
      arr = JSON.parse(text);
    } catch (e) {
      // A file that is not JSON (a truncated download) is a whole file left out.
      const msg = (e as Error).message;
      skip(path, jsonErrorLine(text, msg), 'bad-json', `${msg}; none of its addresses were read`);
      continue;
    }
    if (!Array.isArray(arr)) {
      skip(path, 1, 'bad-json', 'expected a JSON array of address strings; none of its addresses were read');
      continue;
    }
    arr.forEach((v, k) => {
      if (typeof v !== 'string') {
        skip(
          path,
          k + 2,
          'bad-row',
          `item ${k}: expected an address string, found ${quoteFound(JSON.stringify(v) ?? String(v))}`,
        );
        return;
      }
      // The arrays are pretty-printed one address a line after the opening bracket.
      addresses.push(
        listAddress(diag, code, v, null, { source: path, line: k + 2, who: 'an unnamed SDN entry' }),
      );
    });
  }
  return {
    list: opts.list ?? 'ofac-sdn',
    format: 'address-json',
    files,
    published: opts.published ?? null,
    checksum: hash.digest('hex'),
    entities: [],
    addresses,
    skipped,
    diagnostics: diag,
  };
}

/** A user-list row starts with a coin code and a comma (or is a comment). */
const USER_CSV_RECORD = /^\s*([A-Za-z][A-Za-z0-9]{1,11}\s*,|#)/;

/** The line a JSON.parse error points at ("... at position 1234"), or 1. */
function jsonErrorLine(text: string, message: string): number {
  const m = /position (\d+)/.exec(message);
  if (!m) return 1;
  const end = Math.min(Number(m[1]), text.length);
  let line = 1;
  for (let i = 0; i < end; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** A user list: coin,address,label[,entity]. The entity column (or the label) groups addresses. */
export function parseAddressCsv(path: string, opts: AddressListOptions = {}): ParsedList {
  const diag = opts.diagnostics ?? new Diagnostics();
  const buf = readFileSync(path);
  const entities = new Map<string, SanctionedEntity>();
  const addresses: ListedAddress[] = [];
  const skipped: SkippedRow[] = [];
  const skip = rowSkipper(diag, skipped);
  // A byte-order mark would otherwise hide the header ("\uFEFFcoin") and load it as an address.
  const text = buf.toString('utf8').replace(/^\uFEFF/, '');
  noteUnterminatedLastLine(diag, path, text);
  for (const rec of csvRecords(text, { recordStart: USER_CSV_RECORD })) {
    diag.add('records');
    if (rec.fault) {
      skip(path, rec.line, 'unterminated-quote', rec.fault);
      continue;
    }
    const f = rec.fields.map((x) => x.trim());
    if (rec.line === 1 && f[0]?.toLowerCase() === 'coin' && f[1]?.toLowerCase() === 'address') continue;
    if (f.length === 1 && f[0] === '') continue;
    if (f[0]?.startsWith('#')) continue;
    if (f.length < 3 || f.length > 4 || !f[0] || !f[1]) {
      const found =
        f.length < 3 || f.length > 4 ? `${f.length} field(s)` : `an empty ${f[0] ? 'address' : 'coin'}`;
      skip(path, rec.line, 'bad-row', `expected coin,address,label[,entity], found ${found}`);
      continue;
    }
    const [code, address, label] = f;
    const entityName = f[3] || label;
    const id = entityName;
    if (!entities.has(id))
      entities.set(id, { id, name: entityName, type: 'entity', programs: [], aliases: [], addresses: [] });
    addresses.push(listAddress(diag, code, address, id, { source: path, line: rec.line, who: entityName }));
  }
  return {
    list: opts.list ?? basename(path).replace(/\.csv$/i, ''),
    format: 'address-csv',
    files: [path],
    published: opts.published ?? null,
    checksum: createHash('sha256').update(buf).digest('hex'),
    entities: [...entities.values()],
    addresses,
    skipped,
    diagnostics: diag,
  };
}
