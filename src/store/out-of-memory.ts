/**
 * Store failures that can pass: the statement or write failed, and the same one may succeed once
 * memory or disk space is freed. The collector rolls its open interval back and goes on
 * (SourceWriter.recover); the API answers 503 with Retry-After.
 */

/**
 * An engine's error for a statement that ran out of memory — DuckDB's when its memory limit is
 * reached (its own statement, or others' holding it: readers beside a collector), ClickHouse's
 * MEMORY_LIMIT_EXCEEDED.
 */
export function isOutOfMemory(e: unknown): boolean {
  return /Out of Memory Error|failed to pin block|(could not|failed to) allocate|MEMORY_LIMIT_EXCEEDED|Memory limit \([^)]*\) exceeded/i.test(
    messageOf(e),
  );
}

/**
 * The file system the store writes to is full (or the user's quota is): Node's ENOSPC/EDQUOT from
 * a segment file, DuckDB's IO error for its WAL, database or spill file, ClickHouse's
 * NOT_ENOUGH_SPACE (a ClickHouse writer does not recover, so there it still stops the collector).
 */
export function isDiskFull(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  return /No space left on device|Disk quota exceeded|ENOSPC|EDQUOT|NOT_ENOUGH_SPACE/i.test(messageOf(e));
}

/** Out of memory or out of disk space: a failure that passes once memory or space is freed. */
export function isPassingFailure(e: unknown): boolean {
  return isOutOfMemory(e) || isDiskFull(e);
}

function messageOf(e: unknown): string {
  return String((e as Error)?.message ?? e);
}
