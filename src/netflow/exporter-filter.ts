/**
 * The --exporters allow-list of the live collector: datagrams whose source address is outside every
 * listed CIDR block are dropped at the socket, before the decoder sees them (and so before they can
 * create any session or template state).
 */
import { parseCidr } from '../geo/watchlist.js';

interface Block {
  version: 4 | 6;
  start: bigint;
  end: bigint;
}

/** Parse `CIDR[,CIDR…]` (IPv4 and IPv6; a bare address is one host). Throws naming the bad entry. */
export function parseExporterList(text: string): string[] {
  const out: string[] = [];
  for (const part of text.split(',')) {
    const cidr = part.trim();
    if (cidr === '') continue;
    try {
      parseCidr(cidr);
    } catch (e) {
      throw new Error(
        `--exporters: ${JSON.stringify(cidr)} is not an address or CIDR block (${(e as Error).message})`,
        { cause: e },
      );
    }
    out.push(cidr);
  }
  if (out.length === 0) throw new Error('--exporters wants CIDR[,CIDR…], got an empty list');
  return out;
}

/**
 * Decides per source address; the answer is cached per address text, since exporters are few and
 * send many datagrams. The cache is bounded (cleared when full) so spoofed sources cannot grow it.
 */
export class ExporterFilter {
  private readonly blocks: Block[];
  private readonly cache = new Map<string, boolean>();

  constructor(
    cidrs: string[],
    private readonly maxCached = 65536,
  ) {
    this.blocks = cidrs.map((c) => parseCidr(c));
  }

  allows(address: string): boolean {
    const hit = this.cache.get(address);
    if (hit !== undefined) return hit;
    let ok: boolean;
    try {
      const a = parseCidr(address);
      ok = this.blocks.some((b) => b.version === a.version && a.start >= b.start && a.start <= b.end);
    } catch {
      ok = false;
    }
    if (this.cache.size >= this.maxCached) this.cache.clear();
    this.cache.set(address, ok);
    return ok;
  }
}
