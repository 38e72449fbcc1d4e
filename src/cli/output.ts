import { existsSync } from 'node:fs';
/** Shared output formats for the CLI: aligned table, CSV, JSON lines, JSON. */
export type OutputFormat = 'table' | 'csv' | 'jsonl' | 'json';

export function parseFormat(
  v: string,
  allowed: OutputFormat[] = ['table', 'csv', 'jsonl', 'json'],
): OutputFormat {
  if (!allowed.includes(v as OutputFormat))
    throw new Error(`--format must be one of ${allowed.join(', ')}, not ${v}`);
  return v as OutputFormat;
}

/** A read command's store: it must exist already (reading never creates an empty one). */
export function existingStore(path: string): string {
  // A server URL (clickhouse://, chdb:) is checked by connecting to it.
  if (path !== ':memory:' && !/^(clickhouses?|chdb):/i.test(path) && !existsSync(path))
    throw new Error(
      `${path}: no such store (read commands never create one; ingest or collect into it first, or give --db / COINRADAR_DB)`,
    );
  return path;
}

/** A number option value (decimals allowed) in [min, max], or an error that names the option. */
export function parseNumberOption(option: string, v: string, min = -Infinity, max = Infinity): number {
  const n = Number(v);
  if (!/^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(v) || !Number.isFinite(n) || n < min || n > max)
    throw new Error(
      `${option} must be a number${min > -Infinity && max < Infinity ? ` from ${min} to ${max}` : min > -Infinity ? ` of at least ${min}` : ''}, not '${v}'`,
    );
  return n;
}

/** A whole-number option value in [min, max], or an error that names the option and the range. */
export function parseWholeNumber(option: string, v: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || n < min || n > max)
    throw new Error(
      `${option} must be a whole number ${max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`}, not '${v}'`,
    );
  return n;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(3);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function renderTable(rows: Record<string, unknown>[], columns?: string[]): string {
  const cols = columns ?? (rows.length ? Object.keys(rows[0]) : []);
  const cells = rows.map((r) => cols.map((c) => cell(r[c])));
  const width = cols.map((c, k) => Math.max(c.length, ...cells.map((r) => r[k].length)));
  const numeric = cols.map(
    (c) => rows.length > 0 && rows.every((r) => typeof r[c] === 'number' || r[c] == null),
  );
  const line = (vals: string[]) =>
    vals
      .map((v, k) => (numeric[k] ? v.padStart(width[k]) : v.padEnd(width[k])))
      .join('  ')
      .trimEnd();
  return [line(cols), line(width.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

function csvCell(v: unknown): string {
  const s = typeof v === 'object' && v !== null ? JSON.stringify(v) : cell(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function renderCsv(rows: Record<string, unknown>[], columns?: string[]): string {
  const cols = columns ?? (rows.length ? Object.keys(rows[0]) : []);
  return [cols.join(','), ...rows.map((r) => cols.map((c) => csvCell(r[c])).join(','))].join('\n');
}

export function render(rows: Record<string, unknown>[], format: OutputFormat, columns?: string[]): string {
  switch (format) {
    case 'table':
      return renderTable(rows, columns);
    case 'csv':
      return renderCsv(rows, columns);
    case 'jsonl':
      return rows.map((r) => JSON.stringify(r)).join('\n');
    case 'json':
      return JSON.stringify(rows, null, 2);
  }
}

/** Commander accumulator for repeatable options. */
export const collect = (v: string, prev: string[]) => [...prev, v];
