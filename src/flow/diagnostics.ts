/**
 * Errors as values with a location. Every reader reports bad input through a `Diagnostics`
 * sink: the problem is counted, the first few are kept verbatim, and reading goes on where the
 * format allows it. A run ends with `summary()`: what was read, kept and skipped.
 */

export interface InputProblem {
  /** File path, or udp://address for a live socket. */
  source: string;
  /** Byte offset in the file, datagram number, or line number (see `unit`). */
  offset: number;
  unit: 'byte' | 'datagram' | 'line';
  /** Short machine-readable kind, e.g. 'truncated-record', 'no-template', 'bad-row'. */
  kind: string;
  message: string;
}

export function formatProblem(p: InputProblem): string {
  const where =
    p.unit === 'line' ? `line ${p.offset}` : p.unit === 'datagram' ? `datagram ${p.offset}` : `${p.offset}`;
  return `${p.source}:${where}: ${p.kind}: ${p.message}`;
}

export class Diagnostics {
  /** Counters by name: read/kept/skipped records, packets, bytes, per-problem kinds. */
  readonly counts = new Map<string, number>();
  readonly problems: InputProblem[] = [];
  /**
   * Structured figures beside the counters (e.g. the live collector's per-exporter statistics);
   * stored with the source next to the counts (`stored()`).
   */
  readonly details: Record<string, unknown> = {};

  constructor(
    /** Keep at most this many problems verbatim; the rest are only counted. */
    readonly keep = 100,
    /** Called for every problem (e.g. print the first few to stderr). */
    readonly onProblem?: (p: InputProblem) => void,
  ) {}

  add(name: string, n = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + n);
  }

  get(name: string): number {
    return this.counts.get(name) ?? 0;
  }

  problem(p: InputProblem): void {
    this.add(`problem.${p.kind}`);
    this.add('problems');
    if (this.problems.length < this.keep) this.problems.push(p);
    this.onProblem?.(p);
  }

  merge(other: Diagnostics): void {
    for (const [k, v] of other.counts) this.add(k, v);
    for (const p of other.problems) if (this.problems.length < this.keep) this.problems.push(p);
  }

  summary(): string {
    const keys = [...this.counts.keys()].sort();
    return keys.map((k) => `${k}=${this.counts.get(k)}`).join(' ');
  }

  /** What a store keeps with the source: the counters, and the details when there are any. */
  stored(): Record<string, unknown> {
    return { ...Object.fromEntries(this.counts), ...this.details };
  }

  toJSON(): { counts: Record<string, number>; problems: InputProblem[] } {
    return { counts: Object.fromEntries(this.counts), problems: this.problems };
  }
}

/** A thrown error that carries its location (for failures that end reading a source). */
export class InputError extends Error {
  constructor(readonly problem: InputProblem) {
    super(formatProblem(problem));
    this.name = 'InputError';
  }
}
