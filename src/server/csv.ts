/**
 * CSV (RFC 4180) of a table, shared by the API's `format=csv` answers and the console's table
 * export, so a table saved from either says the same thing. Pure: no node or DOM API, the console
 * bundles it.
 */

/** One column: its header and the text of a row's cell. */
export interface CsvColumn<T> {
  title: string;
  value: (row: T) => string | number | boolean | null | undefined;
}

// A text cell starting with one of these is a formula to a spreadsheet (CSV injection: an address
// or a user agent from the wire could run as =HYPERLINK(...)); such a cell is written with a
// leading apostrophe, which spreadsheets show as text. Numbers are written as numbers.
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  let s = String(v);
  if (FORMULA_START.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The header line and one line a row, CRLF-terminated as RFC 4180 says. */
export function toCsv<T>(columns: CsvColumn<T>[], rows: Iterable<T>): string {
  const lines = [columns.map((c) => csvCell(c.title)).join(',')];
  for (const r of rows) lines.push(columns.map((c) => csvCell(c.value(r))).join(','));
  return lines.join('\r\n') + '\r\n';
}
