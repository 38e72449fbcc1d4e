/**
 * Address text: Base58Check (P2PKH, P2SH) and bech32/bech32m (segwit v0, v1+). Hand-rolled because
 * they run once per distinct address on the index path; test/chain/address.test.ts proves them
 * against the bs58 and bech32 packages.
 */
import { base58Decode as decodeBase58 } from '../sanctions/base58.js';
import { sha256, sha256d } from './hash.js';
import { ScriptType } from './script.js';
import type { ChainNetwork } from './network.js';

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const B58_CODES = Uint8Array.from(B58, (c) => c.charCodeAt(0));
let digits = new Uint8Array(64);

// The encoders write ASCII into a byte array (the indexer stages address text as bytes, no string
// per address); the string forms below wrap them.

/** Base58 of bytes[off..off+len) as ASCII at out[at..]; returns the number of characters. */
export function base58EncodeInto(
  bytes: Uint8Array,
  off: number,
  len: number,
  out: Uint8Array,
  at: number,
): number {
  let zeros = 0;
  while (zeros < len && bytes[off + zeros] === 0) zeros++;
  if (digits.length < len * 2) digits = new Uint8Array(len * 2);
  // Base-256 to base-58 over little-endian digits (inputs are 25 bytes, so quadratic is fine).
  let n = 0;
  for (let i = off + zeros; i < off + len; i++) {
    let carry = bytes[i];
    for (let j = 0; j < n; j++) {
      carry += digits[j] << 8;
      digits[j] = carry % 58;
      carry = (carry / 58) | 0;
    }
    while (carry > 0) {
      digits[n++] = carry % 58;
      carry = (carry / 58) | 0;
    }
  }
  let p = at;
  for (let i = 0; i < zeros; i++) out[p++] = 0x31;
  for (let i = n - 1; i >= 0; i--) out[p++] = B58_CODES[digits[i]];
  return p - at;
}

let scratch = new Uint8Array(256);
const ascii = (n: number) => Buffer.from(scratch.buffer, 0, n).toString('latin1');

export function base58Encode(bytes: Uint8Array): string {
  if (scratch.length < bytes.length * 2) scratch = new Uint8Array(bytes.length * 2);
  return ascii(base58EncodeInto(bytes, 0, bytes.length, scratch, 0));
}

/** Bitcoin-alphabet base58 to bytes; the decoder is the sanctions module's (all alphabets). */
export function base58Decode(s: string): Buffer {
  const bytes = decodeBase58(s);
  if (!bytes) throw new Error(`invalid base58 string ${JSON.stringify(s)}`);
  return Buffer.from(bytes);
}

/** Base58Check of a version byte and payload[off..off+len) at out[at..]; returns its length. */
export function base58CheckInto(
  version: number,
  payload: Uint8Array,
  off: number,
  len: number,
  out: Uint8Array,
  at: number,
): number {
  const b = len + 5 <= CHECK_BODY.length ? CHECK_BODY : new Uint8Array(len + 5);
  b[0] = version;
  b.set(payload.subarray(off, off + len), 1);
  sha256d(b, 0, len + 1, CHECKSUM, 0);
  b.set(CHECKSUM.subarray(0, 4), len + 1);
  return base58EncodeInto(b, 0, len + 5, out, at);
}

const CHECK_BODY = new Uint8Array(64);
const CHECKSUM = new Uint8Array(32);

export function base58Check(version: number, payload: Uint8Array): string {
  return ascii(base58CheckInto(version, payload, 0, payload.length, scratch, 0));
}

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const CHARSET_CODES = Uint8Array.from(CHARSET, (c) => c.charCodeAt(0));

function polymodStep(chk: number, v: number): number {
  const top = chk >>> 25;
  chk = ((chk & 0x1ffffff) << 5) ^ v;
  if (top & 1) chk ^= 0x3b6a57b2;
  if (top & 2) chk ^= 0x26508e6d;
  if (top & 4) chk ^= 0x1ea119fa;
  if (top & 8) chk ^= 0x3d4233dd;
  if (top & 16) chk ^= 0x2a1462b3;
  return chk;
}

/**
 * A segwit address of program[off..off+len) as ASCII at out[at..]; returns its length. Witness
 * version 0 uses bech32, 1..16 bech32m (BIP350).
 */
export function segwitAddressInto(
  hrp: string,
  version: number,
  program: Uint8Array,
  off: number,
  len: number,
  out: Uint8Array,
  at: number,
): number {
  let chk = 1;
  for (let i = 0; i < hrp.length; i++) chk = polymodStep(chk, hrp.charCodeAt(i) >> 5);
  chk = polymodStep(chk, 0);
  let p = at;
  for (let i = 0; i < hrp.length; i++) {
    const c = hrp.charCodeAt(i);
    chk = polymodStep(chk, c & 31);
    out[p++] = c;
  }
  out[p++] = 0x31; // '1'
  chk = polymodStep(chk, version);
  out[p++] = CHARSET_CODES[version];
  let acc = 0;
  let bits = 0;
  for (let i = off; i < off + len; i++) {
    acc = (acc << 8) | program[i];
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      const w = (acc >>> bits) & 31;
      chk = polymodStep(chk, w);
      out[p++] = CHARSET_CODES[w];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) {
    const w = (acc << (5 - bits)) & 31;
    chk = polymodStep(chk, w);
    out[p++] = CHARSET_CODES[w];
  }
  for (let i = 0; i < 6; i++) chk = polymodStep(chk, 0);
  const mod = (chk ^ (version === 0 ? 1 : 0x2bc830a3)) >>> 0;
  for (let i = 0; i < 6; i++) out[p++] = CHARSET_CODES[(mod >>> (5 * (5 - i))) & 31];
  return p - at;
}

export function segwitAddress(hrp: string, version: number, program: Uint8Array): string {
  return ascii(segwitAddressInto(hrp, version, program, 0, program.length, scratch, 0));
}

/** Longest address text `addressTextInto` writes (bech32 of a 40-byte program with a long HRP). */
export const ADDRESS_TEXT_MAX = 128;

/**
 * Address text of a classified script's payload, payload[off..off+len), as ASCII at out[at..];
 * returns its length (0 for types that have no address).
 */
export function addressTextInto(
  type: ScriptType,
  payload: Uint8Array,
  off: number,
  len: number,
  net: ChainNetwork,
  out: Uint8Array,
  at: number,
): number {
  switch (type) {
    case ScriptType.P2PKH:
      return base58CheckInto(net.pubkeyHash, payload, off, len, out, at);
    case ScriptType.P2SH:
      return base58CheckInto(net.scriptHash, payload, off, len, out, at);
    case ScriptType.P2WPKH:
    case ScriptType.P2WSH:
      return segwitAddressInto(net.bech32, 0, payload, off, len, out, at);
    case ScriptType.P2TR:
      return segwitAddressInto(net.bech32, 1, payload, off, len, out, at);
    case ScriptType.WitnessUnknown:
      // payload = version byte + program
      return segwitAddressInto(net.bech32, payload[off], payload, off + 1, len - 1, out, at);
    default:
      return 0;
  }
}

/** Address text for a classified script's payload; '' for types that have no address. */
export function addressText(type: ScriptType, payload: Uint8Array, net: ChainNetwork): string {
  return ascii(addressTextInto(type, payload, 0, payload.length, net, scratch, 0));
}

/** Parse address text back to (type, payload): the key under which the index stores it. */
export function parseAddress(text: string, net: ChainNetwork): { type: ScriptType; payload: Buffer } | null {
  // No address is longer (bech32: 90 characters, BIP 173; Base58Check of 25 bytes: 35), and base58
  // decoding is quadratic in the length: a megabyte of text given on the command line is refused
  // here, not decoded.
  if (text.length > 90) return null;
  const lower = text.toLowerCase();
  if (lower.startsWith(net.bech32 + '1')) {
    const data: number[] = [];
    for (const ch of lower.slice(net.bech32.length + 1)) {
      const v = CHARSET.indexOf(ch);
      if (v < 0) return null;
      data.push(v);
    }
    if (data.length < 7) return null;
    const version = data[0];
    const words = data.slice(1, -6);
    const bytes: number[] = [];
    let acc = 0;
    let bits = 0;
    for (const w of words) {
      acc = (acc << 5) | w;
      bits += 5;
      if (bits >= 8) {
        bits -= 8;
        bytes.push((acc >>> bits) & 0xff);
      }
      acc &= (1 << bits) - 1;
    }
    const program = Buffer.from(bytes);
    if (segwitAddress(net.bech32, version, program) !== lower) return null;
    if (version === 0 && program.length === 20) return { type: ScriptType.P2WPKH, payload: program };
    if (version === 0 && program.length === 32) return { type: ScriptType.P2WSH, payload: program };
    if (version === 1 && program.length === 32) return { type: ScriptType.P2TR, payload: program };
    return { type: ScriptType.WitnessUnknown, payload: Buffer.concat([Buffer.from([version]), program]) };
  }
  let raw: Buffer;
  try {
    raw = base58Decode(text);
  } catch {
    return null;
  }
  if (raw.length !== 25) return null;
  const check = sha256(sha256(raw.subarray(0, 21)));
  if (!check.subarray(0, 4).equals(raw.subarray(21))) return null;
  const payload = raw.subarray(1, 21);
  if (raw[0] === net.pubkeyHash) return { type: ScriptType.P2PKH, payload };
  if (raw[0] === net.scriptHash || raw[0] === net.scriptHashAlt) return { type: ScriptType.P2SH, payload };
  return null;
}
