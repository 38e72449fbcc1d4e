/**
 * Named CIDR watchlists: files of `name,cidr` lines ('#' comments and blank lines allowed).
 * An address is "on" the first list (in load order) that has a block containing it; the lists
 * are flattened into the same sorted-segment tables as the geo data, so a lookup is one search.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { writeIp } from '../flow/record.js';
import {
  IPV4_MAX,
  IPV6_MAX,
  disjointRanges,
  findV4,
  findV6,
  overlay,
  readU32,
  v4Starts,
  v6Starts,
  type AddressRange,
} from './ranges.js';

export interface WatchEntry {
  name: string;
  version: 4 | 6;
  start: bigint;
  end: bigint;
  /** Where the entry came from, e.g. 'kp.csv:line 5'. */
  origin: string;
}

/** The watchlists shipped with coinradar and loaded by default. */
export const DEFAULT_WATCHLISTS = [fileURLToPath(new URL('./watchlists/kp.csv', import.meta.url))];

/** Parse `a.b.c.d/n` or `x:y::/n` (a bare address is a /32 or /128) into an inclusive range. */
export function parseCidr(text: string): { version: 4 | 6; start: bigint; end: bigint } {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const buf = new Uint8Array(16);
  const version = writeIp(buf, 0, addr);
  const bits = version === 4 ? 32 : 128;
  const plen = slash < 0 ? bits : Number(text.slice(slash + 1));
  if (
    !Number.isInteger(plen) ||
    plen < 0 ||
    plen > bits ||
    (slash >= 0 && !/^[0-9]+$/.test(text.slice(slash + 1)))
  ) {
    throw new Error(`bad prefix length in ${JSON.stringify(text)}`);
  }
  let v = 0n;
  for (let k = 0; k < bits / 8; k++) v = (v << 8n) | BigInt(buf[k]);
  const host = (1n << BigInt(bits - plen)) - 1n;
  // Host bits set below the prefix are a typo more often than not; take the block that contains them.
  const start = v & ~host;
  return { version, start, end: start | host };
}

/** Parse a watchlist file's text. Throws with `file:line n` on the first bad line. */
export function parseWatchlist(text: string, source: string): WatchEntry[] {
  const out: WatchEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i].replace(/\r$/, '').trim();
    if (l === '' || l.startsWith('#')) continue;
    const m = /^([^,\s]+)\s*,\s*([^,\s]+)$/.exec(l);
    if (!m) throw new Error(`${source}:line ${i + 1}: expected "name,cidr", found ${JSON.stringify(l)}`);
    if (m[1] === 'name' && m[2] === 'cidr') continue; // header line
    try {
      out.push({ name: m[1], ...parseCidr(m[2]), origin: `${source}:line ${i + 1}` });
    } catch (e) {
      throw new Error(`${source}:line ${i + 1}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }
  return out;
}

export function readWatchlistFile(path: string): WatchEntry[] {
  return parseWatchlist(readFileSync(path, 'utf8'), path);
}

/** Flattened watchlists: segment → list index (0 = on no list, i → names[i]). */
export class WatchTable {
  private readonly v4;
  private readonly v4list: Uint16Array;
  private readonly v6;
  private readonly v6list: Uint16Array;
  /** names[0] = ''; list i has name names[i], in load order. */
  readonly names: string[];
  readonly entries: number;

  constructor(entries: WatchEntry[]) {
    const names = [''];
    for (const e of entries) if (!names.includes(e.name)) names.push(e.name);
    if (names.length > 65535) throw new Error('too many watchlists');
    this.names = names;
    this.entries = entries.length;
    const family = (version: 4 | 6, max: bigint) => {
      // One table per list; overlay keeps each list's membership and the first list wins.
      const tables: AddressRange[][] = names
        .slice(1)
        .map((name, k) =>
          disjointRanges(
            entries
              .filter((e) => e.name === name && e.version === version)
              .map((e) => ({ start: e.start, end: e.end, value: k + 1 })),
          ),
        );
      const seg = overlay(tables, max);
      const list = new Uint16Array(seg.starts.length);
      for (let i = 0; i < seg.starts.length; i++) {
        for (let t = 0; t < tables.length; t++) {
          if (seg.values[t][i] !== 0) {
            list[i] = seg.values[t][i];
            break;
          }
        }
      }
      return { starts: seg.starts, list };
    };
    const f4 = family(4, IPV4_MAX);
    const f6 = family(6, IPV6_MAX);
    this.v4 = v4Starts(f4.starts);
    this.v4list = f4.list;
    this.v6 = v6Starts(f6.starts);
    this.v6list = f6.list;
  }

  /** List index of an IPv4 address (unsigned 32-bit), 0 when on none. */
  listV4(x: number): number {
    return this.v4list[findV4(this.v4, x)];
  }

  listV6(a: number, b: number, c: number, d: number): number {
    return this.v6list[findV6(this.v6, a, b, c, d)];
  }

  /** List index of a 4- or 16-byte address at `off` (IPv4-mapped IPv6 is checked as IPv4). */
  listBytes(buf: Uint8Array, off: number, version: number): number {
    if (version !== 6) return this.listV4(readU32(buf, off));
    const a = readU32(buf, off);
    const b = readU32(buf, off + 4);
    const c = readU32(buf, off + 8);
    const d = readU32(buf, off + 12);
    if (a === 0 && b === 0 && c === 0xffff) return this.listV4(d);
    return this.listV6(a, b, c, d);
  }

  /** Name of the first list holding the address, '' when none. */
  lookup(text: string): string {
    const buf = new Uint8Array(16);
    const v = writeIp(buf, 0, text);
    return this.names[this.listBytes(buf, 0, v)];
  }
}

/** The default lists (unless `defaults` is false) followed by the given files. */
export function loadWatchTable(files: string[] = [], defaults = true): WatchTable {
  const paths = [...(defaults ? DEFAULT_WATCHLISTS : []), ...files];
  return new WatchTable(paths.flatMap(readWatchlistFile));
}
