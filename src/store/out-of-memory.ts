/**
 * An engine's error for a statement that ran out of memory — DuckDB's when its memory limit is
 * reached (its own statement, or others' holding it: readers beside a collector), ClickHouse's
 * MEMORY_LIMIT_EXCEEDED. The statement failed; the same one may pass once memory is freed.
 */
export function isOutOfMemory(e: unknown): boolean {
  return /Out of Memory Error|failed to pin block|(could not|failed to) allocate|MEMORY_LIMIT_EXCEEDED|Memory limit \([^)]*\) exceeded/i.test(
    String((e as Error)?.message ?? e),
  );
}
