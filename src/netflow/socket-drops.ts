/**
 * Linux's count of datagrams the kernel dropped for one UDP socket (receive buffer full): the
 * `drops` column of /proc/net/udp and /proc/net/udp6. The socket is found by its inode, which
 * /proc/self/fd names as socket:[inode]; a port can be shared (SO_REUSEPORT, another process on
 * another address), so the port alone is not enough. Elsewhere (no procfs) there is no figure.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const TABLES = ['/proc/net/udp', '/proc/net/udp6'];

/** Rows of the UDP tables: [local port, inode, drops]. */
function udpRows(): [number, string, number][] {
  const out: [number, string, number][] = [];
  for (const t of TABLES) {
    let text: string;
    try {
      text = readFileSync(t, 'utf8');
    } catch {
      continue;
    }
    const lines = text.split('\n');
    // Columns: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
    for (let i = 1; i < lines.length; i++) {
      const f = lines[i].trim().split(/\s+/);
      if (f.length < 13) continue;
      const port = parseInt(f[1].slice(f[1].lastIndexOf(':') + 1), 16);
      out.push([port, f[9], Number(f[12])]);
    }
  }
  return out;
}

/** Inodes of the sockets this process holds open. */
function ownSocketInodes(): Set<string> {
  const out = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync('/proc/self/fd');
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) out.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** The inode of this process's UDP socket bound to `port`, or null where Linux does not say. */
export function udpSocketInode(port: number): string | null {
  const own = ownSocketInodes();
  const mine = udpRows().filter(([p, inode]) => p === port && own.has(inode));
  return mine.length === 1 ? mine[0][1] : null;
}

/** The kernel's drop counter for the socket with this inode (cumulative), or null if not found. */
export function udpSocketDrops(inode: string): number | null {
  for (const [, i, drops] of udpRows()) if (i === inode) return drops;
  return null;
}
