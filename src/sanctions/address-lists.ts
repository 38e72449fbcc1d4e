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
import { csvRecords } from './csv.js';
import type { ListedAddress, ParsedList, SanctionedEntity } from './model.js';

const JSON_NAME = /^sanctioned_addresses_([A-Za-z0-9]+)\.json$/;

export function isAddressJson(path: string): boolean {
  return JSON_NAME.test(basename(path));
}

export interface AddressListOptions {
  list?: string;
  published?: string | null;
  diagnostics?: Diagnostics;
}

/** One version from several per-asset JSON files (sorted by name so the checksum is stable). */
export function parseAddressJson(paths: string[], opts: AddressListOptions = {}): ParsedList {
  const diag = opts.diagnostics ?? new Diagnostics();
  const files = [...paths].sort((a, b) => basename(a).localeCompare(basename(b)));
  const hash = createHash('sha256');
  const addresses: ListedAddress[] = [];
  for (const path of files) {
    const m = JSON_NAME.exec(basename(path));
    if (!m) throw new Error(`${path}: expected a file named sanctioned_addresses_<COIN>.json`);
    const code = m[1].toUpperCase();
    const buf = readFileSync(path);
    hash.update(basename(path)).update(buf);
    let arr: unknown;
    try {
      arr = JSON.parse(buf.toString('utf8'));
    } catch (e) {
      diag.problem({
        source: path,
        offset: 0,
        unit: 'byte',
        kind: 'bad-json',
        message: (e as Error).message,
      });
      continue;
    }
    if (!Array.isArray(arr)) {
      diag.problem({
        source: path,
        offset: 0,
        unit: 'byte',
        kind: 'bad-json',
        message: 'expected a JSON array of address strings',
      });
      continue;
    }
    arr.forEach((v, k) => {
      if (typeof v !== 'string') {
        diag.problem({
          source: path,
          offset: k + 2,
          unit: 'line',
          kind: 'bad-row',
          message: `item ${k} is not a string`,
        });
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
    diagnostics: diag,
  };
}

/** A user list: coin,address,label[,entity]. The entity column (or the label) groups addresses. */
export function parseAddressCsv(path: string, opts: AddressListOptions = {}): ParsedList {
  const diag = opts.diagnostics ?? new Diagnostics();
  const buf = readFileSync(path);
  const entities = new Map<string, SanctionedEntity>();
  const addresses: ListedAddress[] = [];
  for (const rec of csvRecords(buf.toString('utf8'))) {
    const f = rec.fields.map((x) => x.trim());
    if (rec.line === 1 && f[0]?.toLowerCase() === 'coin' && f[1]?.toLowerCase() === 'address') continue;
    if (f.length === 1 && f[0] === '') continue;
    if (f[0]?.startsWith('#')) continue;
    if (f.length < 3 || f.length > 4 || !f[0] || !f[1]) {
      diag.problem({
        source: path,
        offset: rec.line,
        unit: 'line',
        kind: 'bad-row',
        message: 'expected coin,address,label[,entity]',
      });
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
    diagnostics: diag,
  };
}
