import { createHash } from 'node:crypto';
import { openSync, readSync, fstatSync, closeSync } from 'node:fs';

const EDGE = 1 << 20;

/**
 * A content fingerprint for idempotent re-ingest: size plus SHA-256 of the first and last MiB.
 * Cheap on multi-GB captures; two different captures with equal size and equal first/last MiB
 * are not a case worth reading the whole file for.
 */
export function fileFingerprint(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const h = createHash('sha256');
    h.update(String(size));
    const buf = Buffer.allocUnsafe(Math.min(EDGE, size));
    let n = readSync(fd, buf, 0, buf.length, 0);
    h.update(buf.subarray(0, n));
    if (size > EDGE) {
      n = readSync(fd, buf, 0, buf.length, size - buf.length);
      h.update(buf.subarray(0, n));
    }
    return `${size}:${h.digest('hex').slice(0, 32)}`;
  } finally {
    closeSync(fd);
  }
}
