/**
 * Double SHA-256 for txids and block hashes. The first pass is one native call over the bytes;
 * the second pass hashes exactly 32 bytes, a single SHA-256 block, which a JS compression does
 * faster than a second native call (the per-call cost, ~1.2 µs, dominates short inputs).
 */
import { hash } from 'node:crypto';

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);
const W = new Uint32Array(64);

/** SHA-256 of 32 bytes at src[so..so+32), written to out[oo..oo+32). */
export function sha256Of32(src: Uint8Array, so: number, out: Uint8Array, oo: number): void {
  for (let i = 0; i < 8; i++) {
    const p = so + i * 4;
    W[i] = (src[p] << 24) | (src[p + 1] << 16) | (src[p + 2] << 8) | src[p + 3];
  }
  W[8] = 0x80000000;
  for (let i = 9; i < 15; i++) W[i] = 0;
  W[15] = 256;
  for (let i = 16; i < 64; i++) {
    const a = W[i - 15];
    const b = W[i - 2];
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
  }
  let a = 0x6a09e667,
    b = 0xbb67ae85,
    c = 0x3c6ef372,
    d = 0xa54ff53a,
    e = 0x510e527f,
    f = 0x9b05688c,
    g = 0x1f83d9ab,
    h = 0x5be0cd19;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + S1 + ch + K[i] + W[i]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  writeWord(out, oo, a + 0x6a09e667);
  writeWord(out, oo + 4, b + 0xbb67ae85);
  writeWord(out, oo + 8, c + 0x3c6ef372);
  writeWord(out, oo + 12, d + 0xa54ff53a);
  writeWord(out, oo + 16, e + 0x510e527f);
  writeWord(out, oo + 20, f + 0x9b05688c);
  writeWord(out, oo + 24, g + 0x1f83d9ab);
  writeWord(out, oo + 28, h + 0x5be0cd19);
}

function writeWord(out: Uint8Array, o: number, v: number): void {
  out[o] = v >>> 24;
  out[o + 1] = (v >>> 16) & 0xff;
  out[o + 2] = (v >>> 8) & 0xff;
  out[o + 3] = v & 0xff;
}

/** Double SHA-256 of bytes[start..end) into out[oo..oo+32) (internal byte order, as in the chain). */
export function sha256d(bytes: Uint8Array, start: number, end: number, out: Uint8Array, oo: number): void {
  const first = hash('sha256', bytes.subarray(start, end), 'buffer') as unknown as Buffer;
  sha256Of32(first, 0, out, oo);
}

/** Double SHA-256 of a whole buffer, as a new 32-byte Buffer. */
export function sha256dBuffer(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(32);
  sha256d(bytes, 0, bytes.length, out, 0);
  return out;
}

export function sha256(bytes: Uint8Array): Buffer {
  return hash('sha256', bytes, 'buffer') as unknown as Buffer;
}

/** A 32-byte hash in display order (reversed hex), as explorers and RPC show txids and block hashes. */
export function hashHex(bytes: Uint8Array, o = 0): string {
  // One native call gives a flat string; concatenating 32 pieces builds a rope that costs GC.
  for (let i = 0; i < 32; i++) REVERSED[i] = bytes[o + 31 - i];
  return REVERSED.toString('hex');
}

const REVERSED = Buffer.alloc(32);

/** ASCII codes of the two hex digits of every byte value, high digit first. */
const HEX = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  const d = i.toString(16).padStart(2, '0');
  HEX[i * 2] = d.charCodeAt(0);
  HEX[i * 2 + 1] = d.charCodeAt(1);
}

/**
 * Lower-case hex of bytes[o..o+n) as ASCII at out[at..] (2n bytes; `reversed`: last byte first, the
 * display order of hashes). Returns 2n.
 */
export function hexInto(
  bytes: Uint8Array,
  o: number,
  n: number,
  out: Uint8Array,
  at: number,
  reversed = false,
): number {
  for (let i = 0; i < n; i++) {
    const b = bytes[reversed ? o + n - 1 - i : o + i] * 2;
    out[at + i * 2] = HEX[b];
    out[at + i * 2 + 1] = HEX[b + 1];
  }
  return n * 2;
}

/** Display-order hex back to internal byte order. */
export function hashFromHex(hex: string): Buffer {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error(`not a 32-byte hash: ${hex}`);
  return Buffer.from(hex, 'hex').reverse();
}
