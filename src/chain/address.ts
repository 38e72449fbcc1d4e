/**
 * Address text: Base58Check (P2PKH, P2SH) and bech32/bech32m (segwit v0, v1+). Hand-rolled because
 * they run once per distinct address on the index path; test/chain/address.test.ts proves them
 * against the bs58 and bech32 packages.
 */
import { base58Decode as decodeBase58 } from '../sanctions/base58.js';
import { sha256 } from './hash.js';
import { ScriptType } from './script.js';
import type { ChainNetwork } from './network.js';

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

export function base58Encode(bytes: Uint8Array): string {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  // Base-256 to base-58 over a digit array (inputs are 25 bytes, so quadratic is fine).
  const digits: number[] = [];
  for (let i = zeros; i < bytes.length; i++) {
    let carry = bytes[i];
    for (let j = 0; j < digits.length; j++) {
      carry += digits[j] << 8;
      digits[j] = carry % 58;
      carry = (carry / 58) | 0;
    }
    while (carry > 0) {
      digits.push(carry % 58);
      carry = (carry / 58) | 0;
    }
  }
  let s = '1'.repeat(zeros);
  for (let i = digits.length - 1; i >= 0; i--) s += B58[digits[i]];
  return s;
}

/** Bitcoin-alphabet base58 to bytes; the decoder is the sanctions module's (all alphabets). */
export function base58Decode(s: string): Buffer {
  const bytes = decodeBase58(s);
  if (!bytes) throw new Error(`invalid base58 string ${JSON.stringify(s)}`);
  return Buffer.from(bytes);
}

export function base58Check(version: number, payload: Uint8Array): string {
  const b = Buffer.allocUnsafe(payload.length + 5);
  b[0] = version;
  b.set(payload, 1);
  const check = sha256(sha256(b.subarray(0, payload.length + 1)));
  check.copy(b, payload.length + 1, 0, 4);
  return base58Encode(b);
}

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GEN[i];
  }
  return chk >>> 0;
}

function hrpExpand(hrp: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) >> 5);
  out.push(0);
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) & 31);
  return out;
}

function toWords(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push((acc >>> bits) & 31);
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out.push((acc << (5 - bits)) & 31);
  return out;
}

/** A segwit address: witness version 0 uses bech32, 1..16 bech32m (BIP350). */
export function segwitAddress(hrp: string, version: number, program: Uint8Array): string {
  const data = [version, ...toWords(program)];
  const constant = version === 0 ? 1 : 0x2bc830a3;
  const mod = polymod([...hrpExpand(hrp), ...data, 0, 0, 0, 0, 0, 0]) ^ constant;
  let s = hrp + '1';
  for (const d of data) s += CHARSET[d];
  for (let i = 0; i < 6; i++) s += CHARSET[(mod >>> (5 * (5 - i))) & 31];
  return s;
}

/** Address text for a classified script's payload; '' for types that have no address. */
export function addressText(type: ScriptType, payload: Uint8Array, net: ChainNetwork): string {
  switch (type) {
    case ScriptType.P2PKH:
      return base58Check(net.pubkeyHash, payload);
    case ScriptType.P2SH:
      return base58Check(net.scriptHash, payload);
    case ScriptType.P2WPKH:
    case ScriptType.P2WSH:
      return segwitAddress(net.bech32, 0, payload);
    case ScriptType.P2TR:
      return segwitAddress(net.bech32, 1, payload);
    case ScriptType.WitnessUnknown:
      // payload = version byte + program
      return segwitAddress(net.bech32, payload[0], payload.subarray(1));
    default:
      return '';
  }
}

/** Parse address text back to (type, payload): the key under which the index stores it. */
export function parseAddress(text: string, net: ChainNetwork): { type: ScriptType; payload: Buffer } | null {
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
