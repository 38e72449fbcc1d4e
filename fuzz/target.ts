/**
 * What a fuzz target is: one parser, the promises it makes about any input, and a function that
 * feeds it one input and checks those promises. A broken promise is an `InvariantBreach`; an error
 * the parser throws is allowed only when `expected(e)` says it is the parser's documented error
 * (an error value that carries the input's location).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export class InvariantBreach extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantBreach';
  }
}

export function check(ok: boolean, message: string): asserts ok {
  if (!ok) throw new InvariantBreach(message);
}

export interface FuzzTarget {
  name: string;
  /** What the parser is, for --list. */
  description: string;
  /** The promises checked on every input, in words (docs/fuzzing.md lists them). */
  invariants: string[];
  /** Tokens the mutator inserts (field separators, keywords, edge numbers). */
  tokens?: string[];
  /** Once per process before the first input (e.g. build a server). */
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
  /** Feed one input; throw InvariantBreach (or let an unexpected error escape) on a broken promise. */
  run(input: Buffer): Promise<void>;
  /** True when `e`, thrown by the parser, is its documented error-with-location. */
  expected?(e: unknown): boolean;
  /**
   * Breaches already reported whose fix belongs to another part of the code (reproducer under
   * fuzz/findings/): counted as outcome `open:<finding>` instead of ending the run, so the budget
   * still looks for new ones. Remove the entry when the fix lands.
   */
  knownOpen?: KnownOpen[];
}

export interface KnownOpen {
  /** The reproducer's name under fuzz/findings/ (without .bin). */
  finding: string;
  /** Matches the breach message. */
  matches: RegExp;
}

export const FUZZ_DIR = fileURLToPath(new URL('.', import.meta.url));

export function corpusDir(target: string): string {
  return join(FUZZ_DIR, 'corpus', target);
}

/** The seed inputs of a target, in file-name order (empty when it has no corpus yet). */
export function loadCorpus(target: string): Buffer[] {
  const dir = corpusDir(target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => !f.startsWith('.') && f !== 'README.md')
    .sort()
    .map((f) => readFileSync(join(dir, f)));
}
