/** Bitcoin Cash CashAddr (spec: bitcoincash.org cashaddr.md): decode, validate, encode. */
const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const CASHADDR_MAX_CHARS = 112;
const GENERATORS = [0x98f2bc8e61n, 0x79b76d99e2n, 0xf33e5fb3c4n, 0xae2eabe2a8n, 0x1e4f43e470n];

function polymod(values: number[]): bigint {
  let c = 1n;
  for (const d of values) {
    const c0 = c >> 35n;
    c = ((c & 0x07ffffffffn) << 5n) ^ BigInt(d);
    for (let i = 0; i < 5; i++) if ((c0 >> BigInt(i)) & 1n) c ^= GENERATORS[i];
  }
  return c ^ 1n;
}

function prefixValues(prefix: string): number[] {
  return [...prefix].map((ch) => ch.charCodeAt(0) & 0x1f).concat([0]);
}

function convertBits(data: ArrayLike<number>, from: number, to: number, pad: boolean): number[] | null {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  const maxv = (1 << to) - 1;
  for (let i = 0; i < data.length; i++) {
    acc = (acc << from) | data[i];
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >> bits) & maxv);
    }
  }
  if (pad) {
    if (bits > 0) out.push((acc << (to - bits)) & maxv);
  } else if (bits >= from || ((acc << (to - bits)) & maxv) !== 0) return null;
  return out;
}

export interface CashAddr {
  prefix: string;
  type: 'p2pkh' | 'p2sh';
  hash: Uint8Array;
}

export type CashAddrResult = ({ ok: true } & CashAddr) | { ok: false; problem: string };

/** Decode `bitcoincash:q...` or a bare `q...`/`p...` (the prefix is then assumed, as wallets do). */
export function decodeCashAddr(input: string, defaultPrefix = 'bitcoincash'): CashAddrResult {
  if (input !== input.toLowerCase() && input !== input.toUpperCase())
    return { ok: false, problem: 'mixed case' };
  const s = input.toLowerCase();
  const colon = s.indexOf(':');
  const prefix = colon >= 0 ? s.slice(0, colon) : defaultPrefix;
  const body = colon >= 0 ? s.slice(colon + 1) : s;
  // The longest CashAddr (a 64-byte hash) is 112 characters after the prefix; the checksum below
  // costs a BigInt step per character, so a longer string is refused before it (1 MB took 0.6 s).
  if (body.length > CASHADDR_MAX_CHARS)
    return { ok: false, problem: `${body.length} characters, longer than any cashaddr` };
  const values: number[] = [];
  for (const ch of body) {
    const v = CHARSET.indexOf(ch);
    if (v < 0) return { ok: false, problem: `character '${ch}' outside the cashaddr charset` };
    values.push(v);
  }
  if (values.length < 9) return { ok: false, problem: 'too short for cashaddr' };
  if (polymod(prefixValues(prefix).concat(values)) !== 0n)
    return { ok: false, problem: 'cashaddr checksum mismatch' };
  const bytes = convertBits(values.slice(0, -8), 5, 8, false);
  if (!bytes || bytes.length < 1) return { ok: false, problem: 'bad cashaddr padding' };
  const version = bytes[0];
  const typeBits = (version >> 3) & 0x0f;
  const sizes = [20, 24, 28, 32, 40, 48, 56, 64];
  const size = sizes[version & 7];
  if (version & 0x80) return { ok: false, problem: 'cashaddr reserved bit set' };
  if (bytes.length - 1 !== size)
    return { ok: false, problem: `cashaddr hash is ${bytes.length - 1} bytes, version says ${size}` };
  if (typeBits !== 0 && typeBits !== 1) return { ok: false, problem: `unknown cashaddr type ${typeBits}` };
  return { ok: true, prefix, type: typeBits === 0 ? 'p2pkh' : 'p2sh', hash: Uint8Array.from(bytes.slice(1)) };
}

/** Encode without the prefix in the result (the form OFAC lists use). */
export function encodeCashAddr(type: 'p2pkh' | 'p2sh', hash: Uint8Array, prefix = 'bitcoincash'): string {
  const sizes = [20, 24, 28, 32, 40, 48, 56, 64];
  const version = ((type === 'p2pkh' ? 0 : 1) << 3) | sizes.indexOf(hash.length);
  const payload = convertBits([version, ...hash], 8, 5, true)!;
  const mod = polymod(prefixValues(prefix).concat(payload, [0, 0, 0, 0, 0, 0, 0, 0]));
  const checksum: number[] = [];
  for (let i = 0; i < 8; i++) checksum.push(Number((mod >> BigInt(5 * (7 - i))) & 0x1fn));
  return payload
    .concat(checksum)
    .map((v) => CHARSET[v])
    .join('');
}
