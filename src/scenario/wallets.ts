/**
 * Real-looking wallet addresses for generated miners: valid Base58Check P2PKH Bitcoin addresses and
 * checksum-valid 95-character Monero standard addresses (random keys: nobody holds them).
 */
import bs58 from 'bs58';
import { createHash } from 'node:crypto';
import { keccak_256 } from '@noble/hashes/sha3.js';
import type { Rng } from './rng.js';

function randomBytes(rng: Rng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = rng.u32() & 255;
  return b;
}

function sha256d(b: Buffer): Buffer {
  return createHash('sha256').update(createHash('sha256').update(b).digest()).digest();
}

/** Base58Check of version byte 0x00 and a random 20-byte key hash ("1..."). */
export function btcP2pkhAddress(rng: Rng): string {
  const payload = Buffer.concat([Buffer.from([0x00]), randomBytes(rng, 20)]);
  return bs58.encode(Buffer.concat([payload, sha256d(payload).subarray(0, 4)]));
}

const XMR_ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const XMR_BLOCK_CHARS = [0, 2, 3, 5, 6, 7, 9, 10, 11];

/** Monero's Base58: 8-byte blocks become 11 characters, a short last block fewer. */
export function moneroBase58(data: Uint8Array): string {
  let out = '';
  for (let off = 0; off < data.length; off += 8) {
    const block = data.subarray(off, Math.min(off + 8, data.length));
    let n = 0n;
    for (const byte of block) n = (n << 8n) | BigInt(byte);
    let s = '';
    for (let k = 0; k < XMR_BLOCK_CHARS[block.length]; k++) {
      s = XMR_ALPHABET[Number(n % 58n)] + s;
      n /= 58n;
    }
    out += s;
  }
  return out;
}

/** Standard mainnet address: network byte 18, spend key, view key, Keccak-256 checksum (95 chars). */
export function moneroAddress(rng: Rng): string {
  const body = Buffer.concat([Buffer.from([18]), randomBytes(rng, 64)]);
  const check = Buffer.from(keccak_256(body)).subarray(0, 4);
  return moneroBase58(Buffer.concat([body, check]));
}
