/**
 * The behaviour tracker's groups — (client, server, server port), oriented as features.ts's
 * `orient` does — as dense ids in typed arrays: no text key, no object per group. A keyed hash
 * (keyed-hash.ts, a random key per table) finds a row's group by open addressing; a doubly linked
 * list keeps the groups least recently seen first, the order the tracker evicts in. Every array
 * grows by doubling from small, so a quiet collector holds little.
 */
import { ipText, type FlowBatch } from '../../flow/record.js';
import { halfSipHash, randomHashKey } from './keyed-hash.js';
import { grown } from './record-chains.js';

/** Words per key: [ip version << 16 | server port, client 4 words, server 4 words] (IPv4: see idOf). */
const KW = 9;
const NONE = -1;

/** Address words of a batch column, big-endian (the text order of the bytes). */
function word(a: Uint8Array, o: number): number {
  return (a[o] << 24) | (a[o + 1] << 16) | (a[o + 2] << 8) | a[o + 3];
}

export class GroupTable {
  /** Groups held. */
  size = 0;
  /** Whether the last `idOf` added its group. */
  added = false;
  private keys = new Int32Array(KW * 64);
  private hashes = new Uint32Array(64);
  /** Least recently seen first: [previous, next] group per id, side by side (one cache line). */
  private lru = new Int32Array(2 * 64);
  /** Ids free for reuse (a stack) and the first id never used. */
  private freeIds = new Int32Array(64);
  private freeCount = 0;
  private highId = 0;
  private head = NONE;
  private tail = NONE;
  /**
   * Open addressing: [group id, its hash] per slot (id NONE when empty), at most half full. The
   * hash beside the id lets a probe pass other groups without reading their keys.
   */
  private slots = new Int32Array(2 * 128).fill(NONE);
  private readonly k0: number;
  private readonly k1: number;
  /** The key of the row being looked up (also what a new group copies). */
  private readonly probe = new Int32Array(KW);
  private readonly text = new Uint8Array(32);

  constructor(key: Uint32Array = randomHashKey()) {
    this.k0 = key[0];
    this.k1 = key[1];
  }

  /**
   * The id of row `i`'s group, its client being the source when `up`; adds the group when new
   * (`added`). Either way the group becomes the most recently seen.
   */
  idOf(b: FlowBatch, i: number, up: boolean, serverPort: number): number {
    return this.lookup(b, i, up, serverPort, true);
  }

  /** The id of row `i`'s group if there is one (-1 if not); nothing added, nothing moved. */
  find(b: FlowBatch, i: number, up: boolean, serverPort: number): number {
    return this.lookup(b, i, up, serverPort, false);
  }

  private lookup(b: FlowBatch, i: number, up: boolean, serverPort: number, insert: boolean): number {
    const p = this.probe;
    const v6 = b.ipVersion[i] === 6;
    const c = up ? b.src : b.dst;
    const s = up ? b.dst : b.src;
    const o = i * 16;
    p[0] = ((v6 ? 6 : 4) << 16) | serverPort;
    p[1] = word(c, o);
    let n = 3;
    if (v6) {
      p[2] = word(c, o + 4);
      p[3] = word(c, o + 8);
      p[4] = word(c, o + 12);
      p[5] = word(s, o);
      p[6] = word(s, o + 4);
      p[7] = word(s, o + 8);
      p[8] = word(s, o + 12);
      n = KW;
    } else {
      // An IPv4 key is [version/port, client, server] (an address is its column's first four
      // bytes); the other words stay zero so that keys compare whole.
      p[2] = word(s, o);
      p[3] = p[4] = p[5] = p[6] = p[7] = p[8] = 0;
    }
    // IPv4 keys hash as three words (version/port, client, server), IPv6 keys as nine.
    const h = halfSipHash(this.k0, this.k1, p, 0, n);
    const slots = this.slots;
    const mask = (slots.length >> 1) - 1;
    const hs = h | 0;
    for (let at = h & mask; ; at = (at + 1) & mask) {
      const g = slots[2 * at];
      if (g === NONE) break;
      if (slots[2 * at + 1] === hs && this.same(g)) {
        if (!insert) return g;
        this.added = false;
        this.toTail(g);
        return g;
      }
    }
    if (!insert) return -1;
    this.added = true;
    return this.add(h);
  }

  private same(g: number): boolean {
    const k = this.keys;
    const p = this.probe;
    const o = g * KW;
    for (let w = 0; w < KW; w++) if (k[o + w] !== p[w]) return false;
    return true;
  }

  private add(h: number): number {
    if ((this.size + 1) * 4 > this.slots.length) this.rehash(this.slots.length);
    let g: number;
    if (this.freeCount > 0) g = this.freeIds[--this.freeCount];
    else {
      if (this.highId === this.hashes.length) this.growIds();
      g = this.highId++;
    }
    this.keys.set(this.probe, g * KW);
    this.hashes[g] = h;
    this.place(this.slots, g, h);
    this.size++;
    this.lru[2 * g] = this.tail;
    this.lru[2 * g + 1] = NONE;
    if (this.tail !== NONE) this.lru[2 * this.tail + 1] = g;
    else this.head = g;
    this.tail = g;
    return g;
  }

  private growIds(): void {
    const n = this.hashes.length * 2;
    this.keys = grown(this.keys, n * KW);
    this.hashes = grown(this.hashes, n);
    this.lru = grown(this.lru, 2 * n);
    this.freeIds = grown(this.freeIds, n);
  }

  /** Put group `g` with hash `h` in the first free slot from its home. */
  private place(slots: Int32Array, g: number, h: number): void {
    const mask = (slots.length >> 1) - 1;
    let at = h & mask;
    while (slots[2 * at] !== NONE) at = (at + 1) & mask;
    slots[2 * at] = g;
    slots[2 * at + 1] = h;
  }

  /** Twice the slots (`size` slots as they are now, in array entries: two per slot). */
  private rehash(size: number): void {
    const slots = new Int32Array(2 * size).fill(NONE);
    for (let g = this.head; g !== NONE; g = this.lru[2 * g + 1]) this.place(slots, g, this.hashes[g]);
    this.slots = slots;
  }

  /** Make `g` the most recently seen. */
  private toTail(g: number): void {
    if (this.tail === g) return;
    const lru = this.lru;
    const p = lru[2 * g];
    const n = lru[2 * g + 1];
    if (p !== NONE) lru[2 * p + 1] = n;
    else this.head = n;
    lru[2 * n] = p; // n exists: g is not the tail
    lru[2 * g] = this.tail;
    lru[2 * g + 1] = NONE;
    lru[2 * this.tail + 1] = g;
    this.tail = g;
  }

  /** The least recently seen group, or -1 when none. */
  oldest(): number {
    return this.head;
  }

  /** Forget group `g`; its id may be handed out again. */
  delete(g: number): void {
    const slots = this.slots;
    const mask = (slots.length >> 1) - 1;
    let at = this.hashes[g] & mask;
    while (slots[2 * at] !== g) at = (at + 1) & mask;
    // Backward-shift deletion: entries after the hole that may live there move up, so no probe
    // ever stops early at it (no tombstones to collect).
    for (let j = (at + 1) & mask; ; j = (j + 1) & mask) {
      const e = slots[2 * j];
      if (e === NONE) break;
      const home = slots[2 * j + 1] & mask;
      if (((j - home) & mask) >= ((j - at) & mask)) {
        slots[2 * at] = e;
        slots[2 * at + 1] = slots[2 * j + 1];
        at = j;
      }
    }
    slots[2 * at] = NONE;
    const lru = this.lru;
    const p = lru[2 * g];
    const n = lru[2 * g + 1];
    if (p !== NONE) lru[2 * p + 1] = n;
    else this.head = n;
    if (n !== NONE) lru[2 * n] = p;
    else this.tail = p;
    this.freeIds[this.freeCount++] = g;
    this.size--;
  }

  /** `client -> server:port`, as features.ts's `orient` writes the key (for evidence). */
  keyText(g: number): string {
    const k = this.keys;
    const o = g * KW;
    const version = k[o] >>> 16;
    const t = this.text;
    for (let w = 0; w < 8; w++) {
      const x = k[o + 1 + w];
      t[4 * w] = x >>> 24;
      t[4 * w + 1] = (x >>> 16) & 255;
      t[4 * w + 2] = (x >>> 8) & 255;
      t[4 * w + 3] = x & 255;
    }
    if (version !== 6) return `${ipText(t, 0, 4)} -> ${ipText(t, 4, 4)}:${k[o] & 0xffff}`;
    return `${ipText(t, 0, 6)} -> ${ipText(t, 16, 6)}:${k[o] & 0xffff}`;
  }
}
