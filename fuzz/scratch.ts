/**
 * Readers that take a path get their input through one scratch file per process, in RAM where
 * Linux offers it (/dev/shm): writing it costs microseconds and nothing reaches the disk.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let dir: string | null = null;

/** A directory that lives as long as the process. */
export function scratchDir(): string {
  if (!dir) {
    dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'coinradar-fuzz-'));
    const d = dir;
    process.once('exit', () => rmSync(d, { recursive: true, force: true }));
  }
  return dir;
}

/** Write `input` to `name` in the scratch directory and return its path. */
export function scratchFile(name: string, input: Buffer): string {
  const p = join(scratchDir(), name);
  writeFileSync(p, input);
  return p;
}
