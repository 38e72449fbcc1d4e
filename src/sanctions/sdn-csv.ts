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
import { csvRecords, ofacField, noteUnterminatedLastLine, type CsvRecord } from './csv.js';
import type { ListedAddress, ParsedList, ParseOptions, SanctionedEntity, SkippedRow } from './model.js';
import { quoteFound, rowSkipper } from './skipped.js';

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
  for (const m of remarks.matchAll(DCA)) out.push({ code: m[1].toUpperCase(), address: trimDots(m[2]) });
  return out;
}

/** Drop the sentence's full stop(s). Not /\.+$/: that regex is quadratic on a long run of dots. */
function trimDots(s: string): string {
  let e = s.length;
  while (e > 0 && s.charCodeAt(e - 1) === 46) e--;
  return s.slice(0, e);
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

/** Every record of a classic SDN file starts with its ent_num. */
const SDN_RECORD = /^\d+,/;

/** Fields per record of each classic file. */
const SDN_FIELDS: Record<SdnCsvRole, number> = { sdn: 12, add: 6, alt: 5, comments: 2 };

/**
 * add.csv/alt.csv rows that name an ent_num sdn.csv lacks. OFAC's files are not published in
 * perfect lockstep (January 2022: one add.csv row, ent_num 34489), so a few are reported and
 * skipped; more distinct ent_nums than this means sdn.csv itself was read short (cut at a line
 * end, which leaves no broken row to notice) and the list is refused.
 */
export const SDN_UNKNOWN_ENTITY_LIMIT = 10;

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
    const text = buf.toString('latin1');
    texts.set(r, text);
    noteUnterminatedLastLine(diag, p, text);
  }

  const skipped: SkippedRow[] = [];
  const skip = rowSkipper(diag, skipped);
  /** The structural checks every classic file's record must pass; false when it was skipped. */
  const readable = (role: SdnCsvRole, path: string, rec: CsvRecord): boolean => {
    diag.add(`records.${role}`);
    if (rec.fault) {
      skip(path, rec.line, 'unterminated-quote', rec.fault);
      return false;
    }
    const want = SDN_FIELDS[role];
    if (rec.fields.length !== want) {
      skip(path, rec.line, 'bad-row', `expected ${want} fields, found ${rec.fields.length}`);
      return false;
    }
    const id = ofacField(rec.fields[0]);
    if (!/^\d+$/.test(id)) {
      skip(path, rec.line, 'bad-row', `ent_num: expected a number, found '${quoteFound(id)}'`);
      return false;
    }
    // add_num / alt_num: the row's own id, a number in both files.
    if ((role === 'add' || role === 'alt') && !/^\d+$/.test(ofacField(rec.fields[1]))) {
      skip(path, rec.line, 'bad-row', `${role}_num: expected a number, found '${quoteFound(rec.fields[1])}'`);
      return false;
    }
    return true;
  };

  const entities = new Map<string, SdnRow>();
  for (const rec of csvRecords(texts.get('sdn')!, { recordStart: SDN_RECORD })) {
    if (!readable('sdn', sdnPath, rec)) continue;
    const id = ofacField(rec.fields[0]);
    const before = entities.get(id);
    if (before) {
      // Not a short read (both rows were read), but never silent: the later row replaces the earlier.
      diag.problem({
        source: sdnPath,
        offset: rec.line,
        unit: 'line',
        kind: 'duplicate-entity',
        message: `ent_num ${id} again (first at line ${before.line}, ${before.name}); this row (${ofacField(rec.fields[1])}) replaces it`,
      });
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
  const unknown: { path: string; line: number; id: string }[] = [];
  const attach = (role: SdnCsvRole, use: (e: SdnRow, f: string[]) => void) => {
    const text = texts.get(role);
    if (text === undefined) return;
    const path = byRole.get(role)!;
    for (const rec of csvRecords(text, { recordStart: SDN_RECORD })) {
      if (!readable(role, path, rec)) continue;
      const id = ofacField(rec.fields[0]);
      const e = entities.get(id);
      if (!e) unknown.push({ path, line: rec.line, id });
      else use(e, rec.fields);
    }
  };
  attach('add', (e, f) => {
    const line = [f[2], f[3], f[4]].map(ofacField).filter(Boolean).join(', ');
    if (line) e.addresses.push(line);
  });
  attach('alt', (e, f) => {
    const name = ofacField(f[3]);
    if (name) e.aliases.push(name);
  });
  attach('comments', (e, f) => {
    e.remarks += ofacField(f[1]);
    e.cut = false;
  });
  const unknownIds = new Set(unknown.map((u) => u.id));
  const short = unknownIds.size > SDN_UNKNOWN_ENTITY_LIMIT;
  for (const u of unknown) {
    const message = `ent_num ${u.id} is not in sdn.csv`;
    if (short)
      skip(
        u.path,
        u.line,
        'unknown-entity',
        `${message} (${unknown.length} rows name ${unknownIds.size} ent_nums sdn.csv lacks, more than ${SDN_UNKNOWN_ENTITY_LIMIT}: sdn.csv looks short)`,
      );
    else diag.problem({ source: u.path, offset: u.line, unit: 'line', kind: 'unknown-entity', message });
  }

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
    skipped,
    diagnostics: diag,
  };
}
