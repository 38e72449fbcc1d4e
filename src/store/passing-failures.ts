/**
 * Store failures that can pass: the statement or write failed, and the same one may succeed once
 * memory or disk space is freed, or the server is back. The collector rolls its open interval back
 * and goes on (SourceWriter.recover); the API answers 503 with Retry-After when out of memory
 * (`store_busy`) or when the server is out of reach (`store_unavailable`).
 */

import { statfsSync } from 'node:fs';

/**
 * After a full disk, a store waits (its recover() says "not yet") until the file systems it
 * writes to have this much free again: writing earlier fails again at once, and what the collector
 * held meanwhile would be lost with that interval. Free for whoever runs it: root may use the
 * blocks a file system reserves for it, others may not.
 */
export const DISK_RECOVERY = { freeBytes: 16 * 2 ** 20 };

/** Bytes free to this process on the file system of `path`; null when it cannot be asked. */
export function freeBytes(path: string): number | null {
  try {
    const s = statfsSync(path);
    return (process.getuid?.() === 0 ? s.bfree : s.bavail) * s.bsize;
  } catch {
    return null;
  }
}

/** Whether every one of `paths` (directories) has DISK_RECOVERY.freeBytes free, or cannot be asked. */
export function spaceIsBack(paths: string[]): boolean {
  return paths.every((p) => (freeBytes(p) ?? Infinity) >= DISK_RECOVERY.freeBytes);
}

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
 * NOT_ENOUGH_SPACE.
 */
export function isDiskFull(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  return /No space left on device|Disk quota exceeded|ENOSPC|EDQUOT|NOT_ENOUGH_SPACE/i.test(messageOf(e));
}

/**
 * The store's server is out of reach or refusing work for a while: a ClickHouse server down or
 * restarting (connection refused or reset, a socket cut), a timeout (the client's, the server's, or
 * request-timeout.ts's bound: a server cut off by the network), too many parts to merge, a delete
 * still running (a mutation rewriting a large table: DeleteStillRunning).
 * What the server acknowledged is kept; what it did not may or may not have arrived.
 */
export function isUnreachable(e: unknown): boolean {
  return /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|socket hang up|other side closed|fetch failed|Timeout error|SOCKET_TIMEOUT|NETWORK_ERROR|TOO_MANY_PARTS|TIMEOUT_EXCEEDED|no answer in [0-9.]+ s \(--store-timeout|DELETE still running/i.test(
    messageOf(e),
  );
}

/**
 * Out of memory, out of disk space or a server out of reach: a failure that passes once memory or
 * space is freed or the server is back.
 */
export function isPassingFailure(e: unknown): boolean {
  return isOutOfMemory(e) || isDiskFull(e) || isUnreachable(e);
}

function messageOf(e: unknown): string {
  return String((e as Error)?.message ?? e);
}
