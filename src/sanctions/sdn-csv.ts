/**
 * OFAC SDN "classic" CSV: sdn.csv (ent_num, name, type, programs, title, call sign, vessel type,
 * tonnage, GRT, vessel flag, vessel owner, remarks) plus add.csv (postal addresses), alt.csv
 * (aliases) and, when given, sdn_comments.csv (the remarks that did not fit sdn.csv's column).
 * No header rows; "-0- " is an empty field; several programs are written "DPRK3] [CYBER2".
 * Digital-currency addresses live in the remarks:
 *   "Digital Currency Address - XBT 1ABC...; alt. Digital Currency Address - ETH 0x...;"
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Diagnostics } from '../flow/diagnostics.js';
import { listAddress } from './listed.js';
import { csvRecords, ofacField } from './csv.js';
import type { ListedAddress, ParsedList, ParseOptions, SanctionedEntity } from './model.js';

export type SdnCsvRole = 'sdn' | 'add' | 'alt' | 'comments';

/** Which of the classic files this is, by its published name. */
export function sdnCsvRole(path: string): SdnCsvRole | null {
  const b = basename(path).toLowerCase();
  if (!b.endsWith('.csv')) return null;
  if (b.includes('comments')) return 'comments';
  if (b.startsWith('add')) return 'add';
  if (b.startsWith('alt')) return 'alt';
  if (b.startsWith('sdn')) return 'sdn';
  return null;
}

const DCA = /Digital Currency Address - ([A-Za-z0-9]+)\s+([^;\s]+)/g;

/** Every "Digital Currency Address - CODE address" in a remarks text, in order. */
export function remarksAddresses(remarks: string): { code: string; address: string }[] {
  const out: { code: string; address: string }[] = [];
  for (const m of remarks.matchAll(DCA))
    out.push({ code: m[1].toUpperCase(), address: m[2].replace(/\.+$/, '') });
  return out;
}

export function splitPrograms(v: string): string[] {
  const t = ofacField(v);
  if (!t) return [];
  return t
    .replace(/^\[|\]$/g, '')
    .split('] [')
    .map((p) => p.trim())
    .filter(Boolean);
}

export type SdnCsvOptions = ParseOptions;

/**
 * sdn.csv's remarks column holds at most this many characters; OFAC moves the rest of a longer
 * text to sdn_comments.csv. A remarks field of exactly this length was (almost surely) cut there.
 */
export const SDN_REMARKS_LIMIT = 1000;

type SdnRow = SanctionedEntity & { remarks: string; line: number; cut: boolean };

export function parseSdnCsv(paths: string[], opts: SdnCsvOptions = {}): ParsedList {
  const diag = opts.diagnostics ?? new Diagnostics();
  const byRole = new Map<SdnCsvRole, string>();
  for (const p of paths) {
    const role = sdnCsvRole(p);
    if (!role)
      throw new Error(`${p}: not one of the classic SDN files (sdn.csv, add.csv, alt.csv, sdn_comments.csv)`);
    if (byRole.has(role)) throw new Error(`${p}: a second ${role} file (already have ${byRole.get(role)})`);
    byRole.set(role, p);
  }
  const sdnPath = byRole.get('sdn');
  if (!sdnPath) throw new Error('the classic SDN CSV needs sdn.csv');
  const order: SdnCsvRole[] = ['sdn', 'add', 'alt', 'comments'];
  const files = order.filter((r) => byRole.has(r)).map((r) => byRole.get(r)!);
  const hash = createHash('sha256');
  const texts = new Map<SdnCsvRole, string>();
  for (const r of order) {
    const p = byRole.get(r);
    if (!p) continue;
    const buf = readFileSync(p);
    hash.update(buf);
    // The classic files are Windows-1252; latin1 is the same for every character they use but a few quotes.
    texts.set(r, buf.toString('latin1'));
  }

  const entities = new Map<string, SdnRow>();
  for (const rec of csvRecords(texts.get('sdn')!)) {
    diag.add('records.sdn');
    if (rec.fields.length !== 12) {
      diag.problem({
        source: sdnPath,
        offset: rec.line,
        unit: 'line',
        kind: 'bad-row',
        message: `expected 12 fields, found ${rec.fields.length}`,
      });
      continue;
    }
    const id = ofacField(rec.fields[0]);
    if (!/^\d+$/.test(id)) {
      diag.problem({
        source: sdnPath,
        offset: rec.line,
        unit: 'line',
        kind: 'bad-row',
        message: `ent_num '${id}' is not a number`,
      });
      continue;
    }
    entities.set(id, {
      id,
      name: ofacField(rec.fields[1]),
      type: ofacField(rec.fields[2]) || 'entity',
      programs: splitPrograms(rec.fields[3]),
      aliases: [],
      addresses: [],
      remarks: ofacField(rec.fields[11]),
      line: rec.line,
      cut: rec.fields[11].length >= SDN_REMARKS_LIMIT,
    });
  }
  const attach = (role: SdnCsvRole, minFields: number, use: (e: SdnRow, f: string[]) => void) => {
    const text = texts.get(role);
    if (text === undefined) return;
    const path = byRole.get(role)!;
    for (const rec of csvRecords(text)) {
      diag.add(`records.${role}`);
      const e = entities.get(ofacField(rec.fields[0]));
      if (rec.fields.length < minFields) {
        diag.problem({
          source: path,
          offset: rec.line,
          unit: 'line',
          kind: 'bad-row',
          message: `expected ${minFields} fields, found ${rec.fields.length}`,
        });
      } else if (!e) {
        diag.problem({
          source: path,
          offset: rec.line,
          unit: 'line',
          kind: 'unknown-entity',
          message: `ent_num ${rec.fields[0]} is not in sdn.csv`,
        });
      } else use(e, rec.fields);
    }
  };
  attach('add', 6, (e, f) => {
    const line = [f[2], f[3], f[4]].map(ofacField).filter(Boolean).join(', ');
    if (line) e.addresses.push(line);
  });
  attach('alt', 5, (e, f) => {
    const name = ofacField(f[3]);
    if (name) e.aliases.push(name);
  });
  attach('comments', 2, (e, f) => {
    e.remarks += ofacField(f[1]);
    e.cut = false;
  });

  const addresses: ListedAddress[] = [];
  for (const e of entities.values()) {
    if (e.cut) {
      // Not fatal, but never silent: the entry's later addresses (if any) are in a file we lack.
      diag.problem({
        source: sdnPath,
        offset: e.line,
        unit: 'line',
        kind: 'truncated-remarks',
        message: `${e.id} ${e.name}: remarks cut at ${SDN_REMARKS_LIMIT} characters; addresses may be missing (the rest is in sdn_comments.csv)`,
      });
    }
    for (const { code, address } of remarksAddresses(e.remarks)) {
      addresses.push(
        listAddress(diag, code, address, e.id, { source: sdnPath, line: e.line, who: `${e.id} ${e.name}` }),
      );
    }
  }
  diag.add('entities', entities.size);
  return {
    list: opts.list ?? 'ofac-sdn',
    format: 'sdn-csv',
    files,
    published: opts.published ?? null,
    checksum: hash.digest('hex'),
    entities: [...entities.values()].map(({ remarks: _r, line: _l, cut: _c, ...e }) => e),
    addresses,
    diagnostics: diag,
  };
}
