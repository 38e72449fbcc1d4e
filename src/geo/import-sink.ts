/**
 * What a reader of an imported geo file fills: range lists per family (values interned in
 * `names`), counts, and the records it skipped with where they were.
 */
import { statSync } from 'node:fs';
import type { FamilyRanges, GeoNames } from './database.js';

export interface ImportSkip {
  /** Where: `network 1.2.3.0/24` (mmdb) or `line 12` (CSV). */
  at: string;
  message: string;
}

export interface ReadStats {
  /** Networks (mmdb) or rows (CSV) read. */
  records: number;
  /** ... of which kept (a country, an AS or both). */
  kept: number;
  v4: number;
  v6: number;
  gives: Set<'country' | 'asn'>;
  /** Families (4, 6) given per attribute. */
  families: { country: Set<4 | 6>; asn: Set<4 | 6> };
  skipped: ImportSkip[];
}

export function emptyStats(): ReadStats {
  return {
    records: 0,
    kept: 0,
    v4: 0,
    v6: 0,
    gives: new Set(),
    families: { country: new Set(), asn: new Set() },
    skipped: [],
  };
}

/** Largest AS organisation name kept (bytes of UTF-8); longer ones are a bad record. */
export const MAX_ORG_BYTES = 1024;

export interface ImportSink {
  names: GeoNames;
  v4: FamilyRanges;
  v6: FamilyRanges;
  stats: ReadStats;
  /** Bound on the file's size in bytes. */
  maxBytes: number;
  /** Bound on the networks/rows read from one file (memory: ~100 bytes each while building). */
  maxRecords: number;
}

/**
 * Default bound on networks/rows: GeoLite2-City holds ~4 M networks, the packaged data ~1.1 M rows;
 * a file that claims far more would exhaust memory while the tables are built.
 */
export const DEFAULT_MAX_RECORDS = 16_000_000;

/** Count one more record; throws past the bound, naming the file. */
export function countRecord(path: string, sink: ImportSink): void {
  if (++sink.stats.records > sink.maxRecords)
    throw new Error(`${path}: more than ${sink.maxRecords} networks/rows; refused`);
}

/** Refuse a file over the size bound before reading any of it. */
export function checkImportSize(path: string, maxBytes: number): void {
  const size = statSync(path).size;
  if (size > maxBytes)
    throw new Error(`${path}: ${size} bytes, more than the limit of ${maxBytes} (--max-bytes)`);
}
