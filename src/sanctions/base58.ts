/**
 * Base58 with a chosen alphabet (Bitcoin's, or XRP's own) and Monero's block-wise variant.
 * Decoding only: screening needs to validate, never to encode.
 */
import { sha256 } from '@noble/hashes/sha2.js';

export const BITCOIN_ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
export const XRP_ALPHABET = 'rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz';

const tables = new Map<string, Int8Array>();
function table(alphabet: string): Int8Array {
  let t = tables.get(alphabet);
  if (!t) {
    t = new Int8Array(128).fill(-1);
    for (let i = 0; i < alphabet.length; i++) t[alphabet.charCodeAt(i)] = i;
    tables.set(alphabet, t);
  }
  return t;
}

/** Plain base58 (leading zero bytes as leading first-alphabet characters); null on a bad character. */
export function base58Decode(s: string, alphabet = BITCOIN_ALPHABET): Uint8Array | null {
  const t = table(alphabet);
  const zero = alphabet[0];
  let zeros = 0;
  while (zeros < s.length && s[zeros] === zero) zeros++;
  const bytes: number[] = [];
  for (let i = zeros; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? t[c] : -1;
    if (v < 0) return null;
    let carry = v;
    for (let j = 0; j < bytes.length; j++) {
      carry += bytes[j] * 58;
      bytes[j] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  const out = new Uint8Array(zeros + bytes.length);
  for (let i = 0; i < bytes.length; i++) out[zeros + i] = bytes[bytes.length - 1 - i];
  return out;
}

export type Base58CheckResult = { ok: true; payload: Uint8Array } | { ok: false; problem: string };

/**
 * The longest base58check string worth decoding. Every base58check address this project checks
 * carries at most 22 bytes of payload (36 characters with the checksum); 128 leaves room for
 * extended keys (111). Decoding is quadratic in the length (each digit multiplies the whole
 * number so far), so a longer string is refused before it is decoded: a 160,000-character
 * "address" in a list took 46 s here before this check.
 */
export const BASE58CHECK_MAX_CHARS = 128;

/** Base58Check: payload plus the first four bytes of double SHA-256. */
export function base58CheckDecode(s: string, alphabet = BITCOIN_ALPHABET): Base58CheckResult {
  if (s.length > BASE58CHECK_MAX_CHARS)
    return { ok: false, problem: `${s.length} characters, longer than any base58check address` };
  const raw = base58Decode(s, alphabet);
  if (!raw) return { ok: false, problem: 'character outside the base58 alphabet' };
  if (raw.length < 5) return { ok: false, problem: 'too short for base58check' };
  const payload = raw.subarray(0, raw.length - 4);
  const sum = sha256(sha256(payload));
  for (let i = 0; i < 4; i++) {
    if (sum[i] !== raw[raw.length - 4 + i]) return { ok: false, problem: 'base58check checksum mismatch' };
  }
  return { ok: true, payload };
}

// Monero: 8-byte blocks become 11 characters; a short last block uses the sizes below.
const MONERO_ENCODED_BLOCK_SIZES = [0, 2, 3, 5, 6, 7, 9, 10, 11];

/** Monero's block-wise base58; null when a block is malformed. */
export function moneroBase58Decode(s: string): Uint8Array | null {
  const t = table(BITCOIN_ALPHABET);
  const fullBlocks = Math.floor(s.length / 11);
  const lastChars = s.length % 11;
  const lastBytes = MONERO_ENCODED_BLOCK_SIZES.indexOf(lastChars);
  if (lastBytes < 0) return null;
  const out = new Uint8Array(fullBlocks * 8 + lastBytes);
  const block = (from: number, chars: number, size: number, at: number): boolean => {
    let n = 0n;
    for (let i = 0; i < chars; i++) {
      const c = s.charCodeAt(from + i);
      const v = c < 128 ? t[c] : -1;
      if (v < 0) return false;
      n = n * 58n + BigInt(v);
    }
    if (n >> BigInt(size * 8) !== 0n) return false;
    for (let i = size - 1; i >= 0; i--) {
      out[at + i] = Number(n & 0xffn);
      n >>= 8n;
    }
    return true;
  };
  for (let b = 0; b < fullBlocks; b++) if (!block(b * 11, 11, 8, b * 8)) return null;
  if (lastChars > 0 && !block(fullBlocks * 11, lastChars, lastBytes, fullBlocks * 8)) return null;
  return out;
}

/** Base58Check encoding (for spelling a BCH hash as a legacy address, and for generated test lists). */
export function base58CheckEncode(payload: Uint8Array, alphabet = BITCOIN_ALPHABET): string {
  const sum = sha256(sha256(payload));
  const bytes = new Uint8Array(payload.length + 4);
  bytes.set(payload);
  bytes.set(sum.subarray(0, 4), payload.length);
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let s = '';
  while (n > 0n) {
    s = alphabet[Number(n % 58n)] + s;
    n /= 58n;
  }
  for (let i = 0; i < bytes.length && bytes[i] === 0; i++) s = alphabet[0] + s;
  return s;
}
