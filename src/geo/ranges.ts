/**
 * Sorted-range tables: the address space cut into segments that cover it completely, each
 * segment carrying small integer attributes. A lookup is "the last segment whose start is
 * <= the address": a 64 Ki-entry index on the top 16 bits narrows the binary search to a few
 * steps. IPv4 starts are one Uint32 each; IPv6 starts are four big-endian Uint32 words each
 * (no BigInt on the lookup path). BigInt is used only while building.
 */

/** An inclusive address range with one attribute value (0 means "nothing"). */
export interface AddressRange {
  start: bigint;
  end: bigint;
  value: number;
}

/**
 * Sort ranges by start and make them disjoint. Where two overlap, the one that starts later
 * (the more specific one for nested blocks) wins; the earlier range keeps what is left on
 * either side.
 */
export function disjointRanges(rows: AddressRange[]): AddressRange[] {
  const sorted = rows.every((r, i) => i === 0 || rows[i - 1].start <= r.start)
    ? rows
    : [...rows].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: AddressRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end) {
      const tail = last.end > r.end ? { start: r.end + 1n, end: last.end, value: last.value } : undefined;
      if (r.start === last.start) out.pop();
      else last.end = r.start - 1n;
      out.push({ ...r });
      if (tail) out.push(tail);
    } else {
      out.push({ ...r });
    }
  }
  return out;
}

/** Segments covering [0, max]: starts ascending (starts[0] = 0) and one value column per input table. */
export interface Segments {
  starts: bigint[];
  values: number[][];
}

/**
 * Overlay several disjoint, sorted range tables into one segmentation of [0, max]. Adjacent
 * segments with equal values are coalesced, so the result is as small as the data allows.
 */
export function overlay(tables: AddressRange[][], max: bigint): Segments {
  const k = tables.length;
  const ptr = new Array<number>(k).fill(0);
  const starts: bigint[] = [];
  const values: number[][] = tables.map(() => []);
  let cur = 0n;
  const vals = new Array<number>(k);
  while (true) {
    let next = max + 1n;
    for (let t = 0; t < k; t++) {
      const rows = tables[t];
      while (ptr[t] < rows.length && rows[ptr[t]].end < cur) ptr[t]++;
      const r = rows[ptr[t]];
      if (r === undefined) {
        vals[t] = 0;
        continue;
      }
      if (r.start <= cur) {
        vals[t] = r.value;
        if (r.end + 1n < next) next = r.end + 1n;
      } else {
        vals[t] = 0;
        if (r.start < next) next = r.start;
      }
    }
    const n = starts.length;
    if (n === 0 || vals.some((v, t) => values[t][n - 1] !== v)) {
      starts.push(cur);
      for (let t = 0; t < k; t++) values[t].push(vals[t]);
    }
    if (next > max) break;
    cur = next;
  }
  return { starts, values };
}

export const IPV4_MAX = 0xffffffffn;
export const IPV6_MAX = (1n << 128n) - 1n;

/** Segment starts of the IPv4 space plus the top-16-bit index. */
export interface V4Starts {
  starts: Uint32Array;
  /** index[h] = last segment whose start <= h << 16; index[65536] = last segment. */
  index: Uint32Array;
}

/** Segment starts of the IPv6 space (4 words per start) plus the top-16-bit index. */
export interface V6Starts {
  starts: Uint32Array;
  index: Uint32Array;
}

export function v4Starts(starts: bigint[]): V4Starts {
  const s = Uint32Array.from(starts, (b) => Number(b));
  return { starts: s, index: buildIndex(s.length, (i, h) => s[i] <= h * 65536) };
}

export function v6Starts(starts: bigint[]): V6Starts {
  const s = new Uint32Array(starts.length * 4);
  starts.forEach((b, i) => {
    s[4 * i] = Number((b >> 96n) & 0xffffffffn);
    s[4 * i + 1] = Number((b >> 64n) & 0xffffffffn);
    s[4 * i + 2] = Number((b >> 32n) & 0xffffffffn);
    s[4 * i + 3] = Number(b & 0xffffffffn);
  });
  const atOrBelow = (i: number, h: number) => {
    const w0 = s[4 * i];
    const bucket = h * 65536;
    return w0 < bucket || (w0 === bucket && s[4 * i + 1] === 0 && s[4 * i + 2] === 0 && s[4 * i + 3] === 0);
  };
  return { starts: s, index: buildIndex(starts.length, atOrBelow) };
}

/**
 * index[h] = last segment whose start is at or below the first address of bucket h (the
 * addresses whose top 16 bits are h). Segment 0 starts at 0, so there always is one.
 */
function buildIndex(n: number, atOrBelow: (i: number, h: number) => boolean): Uint32Array {
  const index = new Uint32Array(65537);
  let i = 0;
  for (let h = 0; h < 65536; h++) {
    while (i + 1 < n && atOrBelow(i + 1, h)) i++;
    index[h] = i;
  }
  index[65536] = n - 1;
  return index;
}

/** Segment holding IPv4 address x (an unsigned 32-bit number). */
export function findV4(st: V4Starts, x: number): number {
  const starts = st.starts;
  const h = x >>> 16;
  let lo = st.index[h];
  let hi = st.index[h + 1];
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (starts[mid] <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Segment holding the IPv6 address whose four big-endian words are a, b, c, d. */
export function findV6(st: V6Starts, a: number, b: number, c: number, d: number): number {
  const s = st.starts;
  const h = a >>> 16;
  let lo = st.index[h];
  let hi = st.index[h + 1];
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    const o = mid * 4;
    const m0 = s[o];
    let le: boolean;
    if (m0 !== a) le = m0 < a;
    else if (s[o + 1] !== b) le = s[o + 1] < b;
    else if (s[o + 2] !== c) le = s[o + 2] < c;
    else le = s[o + 3] <= d;
    if (le) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Big-endian unsigned 32-bit word at `off`. */
export function readU32(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}
