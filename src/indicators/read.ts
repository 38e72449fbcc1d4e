/**
 * Reads an indicator file a CERT was sent (a STIX 2.1 bundle, a MISP event, a CSV): hostile until
 * checked. The size is checked before the file is read, the format is told from the bytes (a JSON
 * object with type "bundle", one with "Event", else CSV), each format checks every value before
 * keeping it, and what was left out is counted with its reason.
 */
import { createHash } from 'node:crypto';
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { basename } from 'node:path';
import { readIndicatorCsv } from './csv.js';
import { readMispEvent } from './misp.js';
import { IMPORT_LIMITS, type IndicatorFormat, type ParsedIndicators } from './model.js';
import { readStixBundle } from './stix.js';
import { Skips } from './values.js';

export interface ReadOptions {
  /** Name the source (overrides what the file says). */
  source?: string;
  maxBytes?: number;
}

function readBounded(path: string, max: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    if (st.isFile() && st.size > max)
      throw new Error(`${path}: ${st.size} bytes, more than the limit of ${max} (--max-bytes)`);
    // Read at most max+1 bytes whatever the file claims (a pipe, a file growing meanwhile).
    const buf = Buffer.alloc(Math.min(max + 1, st.isFile() ? st.size + 1 : max + 1));
    let n = 0;
    for (;;) {
      const k = readSync(fd, buf, n, buf.length - n, null);
      if (k === 0) break;
      n += k;
      if (n === buf.length) break;
    }
    if (n > max) throw new Error(`${path}: more than the limit of ${max} bytes (--max-bytes)`);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

export function readIndicatorFile(path: string, o: ReadOptions = {}): ParsedIndicators {
  const bytes = readBounded(path, o.maxBytes ?? IMPORT_LIMITS.maxBytes);
  const checksum = createHash('sha256').update(bytes).digest('hex');
  const text = bytes.toString('utf8');
  const skips = new Skips();
  let format: IndicatorFormat;
  let r: {
    source: string | null;
    version: string | null;
    infrastructure: ParsedIndicators['infrastructure'];
    addresses: ParsedIndicators['addresses'];
    read: number;
  };
  if (/^\s*[[{]/.test(text)) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new Error(`${path}: not JSON: ${(e as Error).message}`, { cause: e });
    }
    const isBundle =
      typeof doc === 'object' && doc !== null && (doc as Record<string, unknown>).type === 'bundle';
    format = isBundle ? 'stix' : 'misp';
    try {
      r = isBundle ? readStixBundle(doc, skips) : readMispEvent(doc, skips);
    } catch (e) {
      throw new Error(`${path}: ${(e as Error).message}`, { cause: e });
    }
  } else {
    format = 'csv';
    try {
      r = readIndicatorCsv(text, skips);
    } catch (e) {
      throw new Error(`${path}: ${(e as Error).message}`, { cause: e });
    }
  }
  // One entry per (value, port) and one address per (coin, address): a file may repeat itself.
  const infra = new Map(r.infrastructure.map((e) => [`${e.value}|${e.port}`, e]));
  const addrs = new Map(r.addresses.map((a) => [`${a.coin}|${a.address}`, a]));
  return {
    format,
    source: (o.source ?? r.source ?? basename(path)).slice(0, 128),
    version: r.version ?? `sha256:${checksum.slice(0, 16)}`,
    checksum,
    file: path,
    infrastructure: [...infra.values()],
    addresses: [...addrs.values()],
    skipped: skips.kept,
    skippedCount: skips.count,
    read: r.read,
  };
}
