/**
 * HalfSipHash (Aumasson & Bernstein's SipHash on 32-bit words) over a run of 32-bit words, keyed.
 * The behaviour tracker's group table hashes keys chosen by whoever sends us flows: with a plain
 * multiplicative hash they could pick addresses that all land in one bucket and make every lookup
 * walk the whole table. A secret per-process key (random at start) keeps the slots unpredictable.
 * 1 compression and 3 finalisation rounds, as Linux's `hsiphash` for hash tables; the rounds are
 * parameters so the test can check the code against the reference's HalfSipHash-2-4 vectors.
 */
import { randomBytes } from 'node:crypto';

/** A fresh random 64-bit key as two words. */
export function randomHashKey(): Uint32Array {
  const b = randomBytes(8);
  return new Uint32Array([b.readUInt32LE(0), b.readUInt32LE(4)]);
}

/** The state v0..v3 between rounds (one hash at a time; JavaScript is single-threaded here). */
const v = new Int32Array(4);

/** `n` SipRounds of HalfSipHash (rotations 5, 16, 8, 7, 13, 16) over `v`. */
function rounds(n: number): void {
  let v0 = v[0];
  let v1 = v[1];
  let v2 = v[2];
  let v3 = v[3];
  for (let r = 0; r < n; r++) {
    v0 = (v0 + v1) | 0;
    v1 = (v1 << 5) | (v1 >>> 27);
    v1 ^= v0;
    v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0;
    v3 = (v3 << 8) | (v3 >>> 24);
    v3 ^= v2;
    v0 = (v0 + v3) | 0;
    v3 = (v3 << 7) | (v3 >>> 25);
    v3 ^= v0;
    v2 = (v2 + v1) | 0;
    v1 = (v1 << 13) | (v1 >>> 19);
    v1 ^= v2;
    v2 = (v2 << 16) | (v2 >>> 16);
  }
  v[0] = v0;
  v[1] = v1;
  v[2] = v2;
  v[3] = v3;
}

/**
 * The 32-bit HalfSipHash-c-d of `n` little-endian words `w[at..at+n)` (a message of 4n bytes)
 * under the key (k0, k1).
 */
export function halfSipHash(
  k0: number,
  k1: number,
  w: ArrayLike<number>,
  at: number,
  n: number,
  cRounds = 1,
  dRounds = 3,
): number {
  v[0] = k0;
  v[1] = k1;
  v[2] = 0x6c796765 ^ k0;
  v[3] = 0x74656462 ^ k1;
  for (let k = 0; k <= n; k++) {
    // The last block holds the message length in bytes in its top byte (no tail: 4n bytes).
    const m = k < n ? w[at + k] | 0 : ((4 * n) & 0xff) << 24;
    v[3] ^= m;
    rounds(cRounds);
    v[0] ^= m;
  }
  v[2] ^= 0xff;
  rounds(dRounds);
  return (v[1] ^ v[3]) >>> 0;
}
