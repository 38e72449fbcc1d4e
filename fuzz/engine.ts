/**
 * The fuzz loop: fast-check generates mutated seeds, each is fed to the target and its promises
 * checked; a broken promise is shrunk by fast-check and saved under fuzz/findings/. Runs are
 * chunked (a fresh fast-check seed per chunk) so that a time budget ends the loop between inputs
 * rather than mid-run, and so that a replay needs only the chunk's seed.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { inputArb, materialize, type FuzzInput } from './mutate.js';
import { FUZZ_DIR, InvariantBreach, loadCorpus, type FuzzTarget } from './target.js';
import { Watchdog } from './watchdog.js';

export interface FuzzOptions {
  seconds: number;
  /** fast-check seed of the first chunk (default: from the clock; printed for replay). */
  seed?: number;
  /** An execution slower than this is a hang: the input is saved and the process killed. */
  hangMs?: number;
  /** Resident memory beyond this after an execution is a breach (bytes). */
  maxRssBytes?: number;
  /** Where reproducers go (default fuzz/findings). */
  findingsDir?: string;
  /** Go on after a finding (a long campaign): later breaches of another shape are saved too. */
  keepGoing?: boolean;
  /** Called about once a second with the executions so far. */
  onProgress?: (executions: number, elapsedMs: number) => void;
}

export interface Finding {
  target: string;
  message: string;
  /** The shrunk input, saved to `path`. */
  path: string;
  bytes: number;
  seed: number;
}

export interface FuzzReport {
  target: string;
  executions: number;
  seconds: number;
  seeds: number;
  /** Executions per outcome: 'ok' and one key per documented error kind seen. */
  outcomes: Record<string, number>;
  /** The first breach (null: none), and with keepGoing every breach of a distinct shape. */
  finding: Finding | null;
  findings: Finding[];
  firstSeed: number;
  maxInputBytes: number;
}

const CHUNK = 200;
const DEFAULT_HANG_MS = 10_000;
const DEFAULT_MAX_RSS = 1536 * 1024 * 1024;

/** Feed one input and check the promises every target shares (plus the target's own). */
async function runOne(
  target: FuzzTarget,
  input: Buffer,
  maxRss: number,
  outcomes: Record<string, number>,
): Promise<void> {
  try {
    await target.run(input);
    outcomes.ok = (outcomes.ok ?? 0) + 1;
  } catch (e) {
    const open =
      e instanceof InvariantBreach ? target.knownOpen?.find((k) => k.matches.test(e.message)) : undefined;
    if (open) {
      outcomes[`open:${open.finding}`] = (outcomes[`open:${open.finding}`] ?? 0) + 1;
      return;
    }
    if (e instanceof InvariantBreach || !target.expected?.(e)) throw e;
    const kind = e instanceof Error ? e.name : typeof e;
    outcomes[kind] = (outcomes[kind] ?? 0) + 1;
  }
  const rss = process.memoryUsage.rss();
  if (rss > maxRss) {
    // One more look after a collection: garbage is not a leak.
    (globalThis as { gc?: () => void }).gc?.();
    const after = process.memoryUsage.rss();
    if (after > maxRss)
      throw new InvariantBreach(
        `resident memory ${Math.round(after / 2 ** 20)} MB after a ${input.length}-byte input (limit ${Math.round(maxRss / 2 ** 20)} MB)`,
      );
  }
}

export function saveFinding(dir: string, target: string, input: Buffer, message: string): string {
  mkdirSync(dir, { recursive: true });
  const name = `${target}-${createHash('sha256').update(input).digest('hex').slice(0, 12)}`;
  writeFileSync(join(dir, `${name}.bin`), input);
  writeFileSync(join(dir, `${name}.txt`), `${message}\n`);
  return join(dir, `${name}.bin`);
}

export async function fuzz(target: FuzzTarget, opts: FuzzOptions): Promise<FuzzReport> {
  const seeds = loadCorpus(target.name);
  const tokens = (target.tokens ?? []).map((t) => Buffer.from(t, 'latin1'));
  const findingsDir = opts.findingsDir ?? join(FUZZ_DIR, 'findings');
  const maxRss = opts.maxRssBytes ?? DEFAULT_MAX_RSS;
  const firstSeed = opts.seed ?? Date.now() % 2 ** 31;
  const outcomes: Record<string, number> = {};
  const watchdog = new Watchdog(target.name, findingsDir, opts.hangMs ?? DEFAULT_HANG_MS);
  const t0 = Date.now();
  const deadline = t0 + opts.seconds * 1000;
  let executions = 0;
  let maxInputBytes = 0;
  let lastProgress = t0;
  const findings: Finding[] = [];
  const shapes = new Set<string>();
  await target.setup?.();
  try {
    const arb = inputArb(seeds.length, tokens.length);
    for (let chunk = 0; Date.now() < deadline && (opts.keepGoing || findings.length === 0); chunk++) {
      const seed = (firstSeed + chunk) | 0;
      let shrinking = false;
      const prop = fc.asyncProperty(arb, async (fi: FuzzInput) => {
        const input = materialize(fi, seeds, tokens);
        if (!shrinking) {
          executions++;
          if (input.length > maxInputBytes) maxInputBytes = input.length;
        }
        watchdog.enter(input);
        try {
          // Executions while shrinking are not counted as outcomes (they re-run one failure).
          await runOne(target, input, maxRss, shrinking ? {} : outcomes);
        } catch (e) {
          shrinking = true;
          throw e;
        } finally {
          watchdog.leave();
        }
        const now = Date.now();
        if (opts.onProgress && now - lastProgress >= 1000) {
          lastProgress = now;
          opts.onProgress(executions, now - t0);
        }
      });
      const r = (await fc.check(prop, {
        numRuns: CHUNK,
        seed,
        // Shrinking gets at most a minute (or the time left, if more): a reproducer is kept anyway.
        plugins: [fc.interruptAfterTimeLimit(Math.max(60_000, deadline - Date.now()))],
      })) as fc.RunDetails<[FuzzInput]>;
      if (r.failed && r.counterexample) {
        const input = materialize(r.counterexample[0], seeds, tokens);
        const err = r.errorInstance;
        const message =
          err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : `thrown: ${String(err)}`;
        // The same breach with other numbers in it is the same bug: saved once.
        const shape = message.split('\n')[0].replace(/[0-9]+/g, '#');
        if (!shapes.has(shape)) {
          shapes.add(shape);
          const path = saveFinding(
            findingsDir,
            target.name,
            input,
            `${target.name} (fast-check seed ${seed}): ${message}`,
          );
          findings.push({
            target: target.name,
            message: message.split('\n')[0],
            path,
            bytes: input.length,
            seed,
          });
        }
      }
    }
  } finally {
    await watchdog.stop();
    await target.teardown?.();
  }
  return {
    target: target.name,
    executions,
    seconds: (Date.now() - t0) / 1000,
    seeds: seeds.length,
    outcomes,
    finding: findings[0] ?? null,
    findings,
    firstSeed,
    maxInputBytes,
  };
}

/** Run the target on one saved input (a reproducer), returning the error it breaks with or null. */
export async function replay(target: FuzzTarget, input: Buffer): Promise<unknown> {
  await target.setup?.();
  try {
    // A known-open breach is still a breach when its reproducer is replayed.
    await runOne({ ...target, knownOpen: [] }, input, DEFAULT_MAX_RSS, {});
    return null;
  } catch (e) {
    return e;
  } finally {
    await target.teardown?.();
  }
}
