/**
 * List files as published: plain, compressed (bzip2 as the SDN Advanced XML is archived, gzip,
 * zstd, xz — sniffed from the bytes, never the name) or zipped (OFAC's .zip downloads). Each
 * input becomes a plain file under its published name in a private folder (mode 0700), so the
 * parsers, which tell sdn.csv from add.csv by name, read them as they would the plain files;
 * `close()` removes everything. Sizes are bounded (a decompression bomb is refused, not spooled).
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { formatProblem } from '../flow/diagnostics.js';
import { openInput, sniffCompression, type OpenedInput } from '../flow/decompress.js';
import { isZip, readZip } from './zip.js';

/** Default bound on one list file, decompressed (the SDN Advanced XML is ~120 MB). */
export const LIST_MAX_BYTES = 1024 * 2 ** 20;

/** A name the list loaders know (what is taken from a folder or a zip). */
export const LIST_FILE = /\.(csv|json|xml)$/i;

export interface ListInputs {
  /** Plain files to parse, in the order given (a zip's entries in archive order). */
  paths: string[];
  /** Published name of each path that is not the input itself: `sdn.zip:sdn.csv`, `x.xml.bz2`. */
  labels: Map<string, string>;
  close(): void;
}

function head(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(16);
    return b.subarray(0, readSync(fd, b, 0, 16, 0));
  } finally {
    closeSync(fd);
  }
}

/** sdn_advanced-2024-09-26.xml.bz2 → sdn_advanced-2024-09-26.xml */
function withoutCompressionSuffix(name: string): string {
  return name.replace(/\.(bz2|gz|zst|xz)$/i, '');
}

export async function openListInputs(files: string[], maxBytes = LIST_MAX_BYTES): Promise<ListInputs> {
  let dir: string | undefined;
  const spools: OpenedInput[] = [];
  const paths: string[] = [];
  const labels = new Map<string, string>();
  const folder = () => (dir ??= mkdtempSync(join(tmpdir(), 'coinradar-lists-')));
  const close = () => {
    for (const s of spools) s.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const f of files) {
      const h = head(f);
      if (isZip(h)) {
        const { entries } = readZip(f, (b) => LIST_FILE.test(b), maxBytes);
        if (entries.length === 0) throw new Error(`${f}: no .csv, .json or .xml list file in the archive`);
        const sub = mkdtempSync(join(folder(), 'zip-'));
        const seen = new Set<string>();
        for (const e of entries) {
          if (seen.has(e.base.toLowerCase())) throw new Error(`${f}: two entries named ${e.base}`);
          seen.add(e.base.toLowerCase());
          const p = join(sub, e.base);
          writeFileSync(p, e.data, { mode: 0o600 });
          paths.push(p);
          labels.set(p, `${f}:${e.name}`);
        }
        continue;
      }
      if (!sniffCompression(h)) {
        paths.push(f);
        continue;
      }
      const o = await openInput(f, { spoolLimit: maxBytes });
      spools.push(o);
      if (o.error) throw new Error(formatProblem(o.error));
      if (o.problem) throw new Error(formatProblem(o.problem));
      // The parsers know the files by name: a link named as the file was before compression.
      const p = join(mkdtempSync(join(folder(), 'x-')), withoutCompressionSuffix(basename(f)));
      symlinkSync(o.path, p);
      paths.push(p);
      labels.set(p, f);
    }
  } catch (e) {
    close();
    throw e;
  }
  return { paths, labels, close };
}
