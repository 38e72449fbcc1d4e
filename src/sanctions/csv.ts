/**
 * RFC 4180 records with their starting line numbers. OFAC's classic files quote fields that hold
 * commas or quotes and write "-0- " for an empty field; a trailing ^Z (0x1A) line is ignored.
 *
 * One bad quote must not swallow the rest of a list: a quoted field that is still open at the end
 * of the file, or that runs on into a line that clearly starts a new record (`recordStart`), is a
 * fault. The record is yielded with `fault` set and the line where the quote opened, and reading
 * resynchronises at the line after it, so every following row is still read and counted.
 */
import type { Diagnostics } from '../flow/diagnostics.js';

export interface CsvRecord {
  line: number;
  fields: string[];
  /** Set when the record could not be read whole (an unterminated quote); the fields are not usable. */
  fault?: string;
}

export interface CsvOptions {
  /**
   * A line that starts a new record in this format (SDN rows start with an ent_num, a user list
   * with a coin code). A quoted field that would run on into such a line is an unterminated quote.
   * Tested against the first 64 characters of the line.
   */
  recordStart?: RegExp;
  /**
   * A quoted field may span at most this many lines (default 64). Bounds the work one stray quote
   * can cost: without it a file of lone quotes would be rescanned to its end once per quote.
   */
  maxRecordLines?: number;
}

const QUOTE = 34;
const COMMA = 44;
const LF = 10;
const CR = 13;

/** End of a run of characters with no meaning to the reader here (inside quotes: no quote or line end). */
function runEnd(text: string, i: number, quoted: boolean): number {
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE || c === LF || c === CR || (!quoted && c === COMMA)) return i;
    i++;
  }
  return n;
}

/** Where the line that starts at `i` ends (index of its '\n' or '\r', or text.length). */
function lineEnd(text: string, i: number, limit = text.length): number {
  // A loop, not indexOf('\r'): in a file without CRs that would scan to the end for every line.
  const end = Math.min(limit, text.length);
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) return i;
    i++;
  }
  return end;
}

/** Index of the first character of the line after the one holding `i`. */
function nextLineStart(text: string, i: number): number {
  const e = lineEnd(text, i);
  if (e >= text.length) return text.length;
  return text[e] === '\r' && text[e + 1] === '\n' ? e + 2 : e + 1;
}

export function* csvRecords(text: string, opts: CsvOptions = {}): Generator<CsvRecord> {
  const n = text.length;
  const maxLines = opts.maxRecordLines ?? 64;
  const startsRecord = opts.recordStart;
  let i = 0;
  let line = 1;
  while (i < n) {
    const start = line;
    const fields: string[] = [];
    let field = '';
    let quoted = false;
    let quoteLine = 0;
    let quoteAt = 0;
    let fault: string | undefined;
    for (;;) {
      if (i >= n) {
        if (quoted) fault = `quote opened at line ${quoteLine} is never closed (runs to the end of the file)`;
        fields.push(field);
        break;
      }
      const c = text.charCodeAt(i);
      if (quoted) {
        if (c === QUOTE) {
          if (text.charCodeAt(i + 1) === QUOTE) {
            field += '"';
            i += 2;
          } else {
            quoted = false;
            i++;
          }
        } else if (c === LF || c === CR) {
          const next = c === CR && text.charCodeAt(i + 1) === LF ? i + 2 : i + 1;
          if (line + 1 - quoteLine >= maxLines) {
            fault = `quote opened at line ${quoteLine} is still open ${maxLines} lines later`;
          } else if (
            startsRecord &&
            next < n &&
            startsRecord.test(text.slice(next, lineEnd(text, next, next + 64)))
          ) {
            fault = `quote opened at line ${quoteLine} is not closed before line ${line + 1}, which starts a new record`;
          }
          if (fault) break;
          field += text.slice(i, next);
          i = next;
          line++;
        } else {
          // A run of plain characters at once: one slice, not a string per character.
          const e = runEnd(text, i, true);
          field += text.slice(i, e);
          i = e;
        }
      } else if (c === QUOTE && field === '') {
        quoted = true;
        quoteLine = line;
        quoteAt = i;
        i++;
      } else if (c === COMMA) {
        fields.push(field);
        field = '';
        i++;
      } else if (c === LF || c === CR) {
        fields.push(field);
        if (c === CR && text.charCodeAt(i + 1) === LF) i++;
        i++;
        line++;
        break;
      } else if (c === QUOTE) {
        field += '"';
        i++;
      } else {
        const e = runEnd(text, i, false);
        field += text.slice(i, e);
        i = e;
      }
    }
    if (fault) {
      // Resynchronise at the line after the one where the quote opened: that line is the bad
      // record, everything after it is read again as records of its own.
      fields.push(field);
      yield { line: start, fields, fault };
      i = nextLineStart(text, quoteAt);
      line = quoteLine + 1;
      continue;
    }
    if (fields.length === 1 && (fields[0] === '' || fields[0] === '\x1a')) continue;
    yield { line: start, fields };
  }
}

/**
 * A file whose last line has no line end may have been cut mid-row (an interrupted download); the
 * row still parses, so say so. Null when the text ends with a line end (or ^Z, or is empty).
 */
function unterminatedLastLine(text: string): number | null {
  let e = text.length;
  if (e > 0 && text.charCodeAt(e - 1) === 0x1a) e--;
  if (e === 0) return null;
  const c = text.charCodeAt(e - 1);
  if (c === LF || c === CR) return null;
  let line = 1;
  for (let i = 0; i < e; i++) if (text.charCodeAt(i) === LF) line++;
  return line;
}

/** Report a last line without a line end (`unterminatedLastLine`) as a warning on `source`. */
export function noteUnterminatedLastLine(diag: Diagnostics, source: string, text: string): void {
  const line = unterminatedLastLine(text);
  if (line === null) return;
  diag.problem({
    source,
    offset: line,
    unit: 'line',
    kind: 'no-final-line-end',
    message: 'the file does not end with a line end: this last row may have been cut',
  });
}

/** OFAC's null marker "-0-" (usually written "-0- ") → empty string. */
export function ofacField(v: string | undefined): string {
  const t = (v ?? '').trim();
  return t === '-0-' ? '' : t;
}
