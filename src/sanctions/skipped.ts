/**
 * A list is loaded whole or not at all. Parsers name every row they could not read through
 * `rowSkipper`; `assertWhole` turns a list with skipped rows into a refusal that names each one,
 * unless the user asked for a partial load.
 */
import { formatProblem, type Diagnostics } from '../flow/diagnostics.js';
import type { ParsedList, SkippedRow } from './model.js';

/** Found data quoted in a message is cut here, so one 1,000,000-character line makes a short message. */
const QUOTE_LIMIT = 80;

/** `s` as quoted in a message: at most QUOTE_LIMIT characters, and says how long it was. */
export function quoteFound(s: string): string {
  return s.length <= QUOTE_LIMIT ? s : `${s.slice(0, QUOTE_LIMIT)}… (${s.length} characters)`;
}

export type SkipRow = (source: string, line: number, kind: string, message: string) => void;

/**
 * Count a skipped row in the diagnostics and keep it for the version. It is not passed on as a
 * diagnostics problem: the refusal (or, with --allow-partial, the load) names every skipped row
 * itself, where a problem list keeps only the first hundred.
 */
export function rowSkipper(diag: Diagnostics, skipped: SkippedRow[]): SkipRow {
  return (source, line, kind, message) => {
    diag.add(`problem.${kind}`);
    diag.add('problems');
    diag.add('rows.skipped');
    skipped.push({ source, line, kind, message });
  };
}

export function formatSkipped(r: SkippedRow): string {
  return formatProblem({ source: r.source, offset: r.line, unit: 'line', kind: r.kind, message: r.message });
}

/** Thrown when a list cannot be read whole: the store is not touched. */
export class ListRefusedError extends Error {
  constructor(
    readonly list: ParsedList,
    readonly skipped: SkippedRow[],
  ) {
    super(
      `refused: ${skipped.length} row(s) of ${list.files.join(', ')} could not be read, so this is not the whole list; ` +
        `nothing was stored (a version already loaded screens as before). Fix the file, or load it anyway with --allow-partial:\n` +
        skipped.map(formatSkipped).join('\n'),
    );
    this.name = 'ListRefusedError';
  }
}

/** Throw ListRefusedError when rows were skipped and a partial load was not allowed. */
export function assertWhole(list: ParsedList, allowPartial = false): void {
  if (list.skipped.length > 0 && !allowPartial) throw new ListRefusedError(list, list.skipped);
}
