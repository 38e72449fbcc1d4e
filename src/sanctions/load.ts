/**
 * `coinradar sanctions load <file...>`: decide the format of the files given and parse them as
 * one list version. Formats: the classic SDN CSV set (sdn.csv [+ add.csv, alt.csv,
 * sdn_comments.csv]), SDN Advanced XML, per-asset JSON arrays (files or a folder of them), and a
 * user CSV of coin,address,label[,entity].
 */
import { openSync, readSync, closeSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Diagnostics } from '../flow/diagnostics.js';
import { isAddressJson, parseAddressCsv, parseAddressJson } from './address-lists.js';
import type { ListFormat, ParsedList, ParseOptions } from './model.js';
import { parseSdnAdvancedXml } from './sdn-advanced.js';
import { parseSdnCsv, sdnCsvRole } from './sdn-csv.js';
import { assertWhole } from './skipped.js';
import { openListInputs } from './inputs.js';

export interface LoadOptions extends ParseOptions {
  format?: ListFormat;
  /**
   * Return a list with skipped rows (`skipped` says which) instead of refusing it. Off by
   * default: a list that loads short screens its missing addresses as clean.
   */
  allowPartial?: boolean;
  /** Bound on each file, decompressed (default LIST_MAX_BYTES). */
  maxBytes?: number;
}

function head(path: string, n = 512): string {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(n);
    const got = readSync(fd, b, 0, n, 0);
    return b.subarray(0, got).toString('latin1');
  } finally {
    closeSync(fd);
  }
}

/** What a folder's list files are called: plain, compressed or zipped. */
const LIST_IN_FOLDER = /\.(csv|json|xml)(\.(bz2|gz|zst|xz))?$|\.zip$/i;

/** Expand folders into the list files they hold. */
export function expandListPaths(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (statSync(p).isDirectory()) {
      for (const f of readdirSync(p).sort()) if (LIST_IN_FOLDER.test(f)) out.push(join(p, f));
    } else out.push(p);
  }
  return out;
}

export function sniffListFormat(paths: string[]): ListFormat {
  if (paths.length === 0) throw new Error('no list files given');
  if (paths.every(isAddressJson)) return 'address-json';
  const h = head(paths[0])
    .replace(/^\uFEFF/, '')
    .trimStart();
  if (paths.length === 1 && h.startsWith('<')) return 'sdn-advanced-xml';
  // Classic SDN rows start with a numeric ent_num and have "-0- " nulls; a user CSV starts with a coin.
  if (paths.every((p) => sdnCsvRole(p) !== null) && /^\d+,/.test(h)) return 'sdn-csv';
  if (paths.length === 1 && /\.csv$/i.test(paths[0])) return 'address-csv';
  throw new Error(`cannot tell the list format of ${paths.join(', ')} (use --format)`);
}

/**
 * Parse the files as one list version. Throws ListRefusedError (naming every row left out) when
 * the list could not be read whole, unless `allowPartial`.
 */
export async function loadListFiles(input: string[], opts: LoadOptions = {}): Promise<ParsedList> {
  // Compressed and zipped files are read as the plain files they hold, under their published names.
  const inputs = await openListInputs(expandListPaths(input), opts.maxBytes);
  let list: ParsedList;
  try {
    list = await parseListFiles(inputs.paths, opts);
  } finally {
    inputs.close();
  }
  const label = (p: string) => inputs.labels.get(p) ?? p;
  list.files = list.files.map(label);
  for (const r of list.skipped) r.source = label(r.source);
  assertWhole(list, opts.allowPartial);
  return list;
}

async function parseListFiles(paths: string[], opts: LoadOptions): Promise<ParsedList> {
  const format = opts.format ?? sniffListFormat(paths);
  const diagnostics = opts.diagnostics ?? new Diagnostics();
  const common = { list: opts.list, published: opts.published ?? null, diagnostics };
  switch (format) {
    case 'sdn-csv':
      return parseSdnCsv(paths, common);
    case 'address-json':
      return parseAddressJson(paths, common);
    case 'address-csv':
      if (paths.length !== 1) throw new Error('a user address CSV is loaded one file at a time');
      return parseAddressCsv(paths[0], common);
    case 'sdn-advanced-xml': {
      if (paths.length !== 1) throw new Error('SDN Advanced XML is one file');
      const l = await parseSdnAdvancedXml(paths[0], { list: opts.list, diagnostics });
      if (opts.published) l.published = opts.published;
      return l;
    }
    case 'indicators':
      throw new Error('indicator files are read by `coinradar indicators import`, not as a sanctions list');
  }
}
