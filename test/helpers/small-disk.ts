// A small file system of its own (tmpfs) that a test can fill to the last byte and empty again:
// the disk-full tests of the collector and the console. Needs root and the right to mount.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A file system of `mb` MiB of its own (tmpfs), so the test can fill it: null, with the reason,
 * where it cannot be mounted (not root, or a container without the right to mount).
 */
export function smallDisk(
  mb: number,
): { dir: string; fill: () => string; free: (f: string) => void; unmount: () => void } | string {
  if (process.getuid?.() !== 0) return 'not root: mounting a small tmpfs needs root';
  const dir = mkdtempSync(join(tmpdir(), 'cr-disk-full-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${mb}m`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return `mount -t tmpfs failed here (${(r.stderr || r.error?.message || '').trim()}): no small disk to fill`;
  }
  return {
    dir,
    // Zeros until the file system says ENOSPC: big writes, then small ones, so nothing is left.
    fill: () => {
      const f = join(dir, 'filler');
      const fd = openSync(f, 'w');
      try {
        for (const size of [1 << 20, 4096, 512]) {
          const buf = Buffer.alloc(size);
          for (;;)
            try {
              writeSync(fd, buf);
            } catch (e) {
              if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
              break;
            }
        }
      } finally {
        closeSync(fd);
      }
      return f;
    },
    free: (f) => rmSync(f, { force: true }),
    unmount: () => {
      spawnSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
