/**
 * Per-coin address validation and normalisation. `checkAddress(coin, address)` says whether an
 * address is well formed for its coin (checksum, version byte, network) and gives the key it is
 * indexed under: case-insensitive encodings (hex, bech32, cashaddr) are lower-cased, base58 is
 * case-sensitive and kept as written. Coins without a validator here are opaque strings.
 */
import { bech32, bech32m } from 'bech32';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { base58CheckDecode, base58CheckEncode, moneroBase58Decode, XRP_ALPHABET } from './base58.js';
import { decodeCashAddr, encodeCashAddr } from './cashaddr.js';

/** OFAC's currency codes → the ticker used here. Everything not listed maps to itself. */
export const OFAC_COIN_CODES: Record<string, string> = { XBT: 'BTC' };

export function coinFromListCode(code: string): string {
  const c = code.trim().toUpperCase();
  return OFAC_COIN_CODES[c] ?? c;
}

/** Tokens and chains that use Ethereum-style 0x addresses (EIP-55). */
export const EVM_COINS = new Set([
  'ETH',
  'ETC',
  'USDC',
  'ARB',
  'BSC',
  'BNB',
  'MATIC',
  'DAI',
  'BUSD',
  'OP',
  'AVAX',
]);

export type AddressKind =
  | 'p2pkh'
  | 'p2sh'
  | 'p2wpkh'
  | 'p2wsh'
  | 'p2tr'
  | 'witness'
  | 'cashaddr-p2pkh'
  | 'cashaddr-p2sh'
  | 'evm'
  | 'monero-standard'
  | 'monero-subaddress'
  | 'monero-integrated'
  | 'tron'
  | 'xrp'
  | 'bnb-beacon'
  | 'opaque';

export interface AddressCheck {
  coin: string;
  /** The address as given, trimmed. */
  address: string;
  /** Index key: lower-cased for case-insensitive encodings, as written otherwise. */
  key: string;
  valid: boolean;
  /** False when the coin has no validator here (the address is kept as an opaque string). */
  checked: boolean;
  kind: AddressKind;
  network?: 'mainnet' | 'testnet' | 'regtest';
  /** Why it is invalid. */
  problem?: string;
  /** Other spellings of the same destination (BCH legacy ↔ cashaddr), also indexed. */
  aliases?: string[];
}

interface Base58Versions {
  p2pkh: Record<number, 'mainnet' | 'testnet'>;
  p2sh: Record<number, 'mainnet' | 'testnet'>;
  hrp?: Record<string, 'mainnet' | 'testnet' | 'regtest'>;
}

// Version bytes from each coin's chainparams.
const BITCOIN_FAMILY: Record<string, Base58Versions> = {
  BTC: {
    p2pkh: { 0x00: 'mainnet', 0x6f: 'testnet' },
    p2sh: { 0x05: 'mainnet', 0xc4: 'testnet' },
    hrp: { bc: 'mainnet', tb: 'testnet', bcrt: 'regtest' },
  },
  BSV: { p2pkh: { 0x00: 'mainnet', 0x6f: 'testnet' }, p2sh: { 0x05: 'mainnet', 0xc4: 'testnet' } },
  LTC: {
    p2pkh: { 0x30: 'mainnet', 0x6f: 'testnet' },
    p2sh: { 0x32: 'mainnet', 0x05: 'mainnet', 0x3a: 'testnet', 0xc4: 'testnet' },
    hrp: { ltc: 'mainnet', tltc: 'testnet', rltc: 'regtest' },
  },
  BCH: { p2pkh: { 0x00: 'mainnet', 0x6f: 'testnet' }, p2sh: { 0x05: 'mainnet', 0xc4: 'testnet' } },
  DASH: { p2pkh: { 0x4c: 'mainnet', 0x8c: 'testnet' }, p2sh: { 0x10: 'mainnet', 0x13: 'testnet' } },
  BTG: {
    p2pkh: { 0x26: 'mainnet', 0x6f: 'testnet' },
    p2sh: { 0x17: 'mainnet', 0xc4: 'testnet' },
    hrp: { btg: 'mainnet', tbtg: 'testnet' },
  },
  XVG: { p2pkh: { 0x1e: 'mainnet', 0x6f: 'testnet' }, p2sh: { 0x21: 'mainnet', 0xc4: 'testnet' } },
  DOGE: { p2pkh: { 0x1e: 'mainnet', 0x71: 'testnet' }, p2sh: { 0x16: 'mainnet', 0xc4: 'testnet' } },
};

const fail = (
  coin: string,
  address: string,
  key: string,
  kind: AddressKind,
  problem: string,
): AddressCheck => ({
  coin,
  address,
  key,
  valid: false,
  checked: true,
  kind,
  problem,
});

function checkBase58Family(coin: string, address: string, v: Base58Versions): AddressCheck {
  const r = base58CheckDecode(address);
  if (!r.ok) return fail(coin, address, address, 'p2pkh', r.problem);
  if (r.payload.length !== 21)
    return fail(coin, address, address, 'p2pkh', `payload is ${r.payload.length} bytes, not 21`);
  const ver = r.payload[0];
  const pkh = v.p2pkh[ver];
  const sh = v.p2sh[ver];
  if (!pkh && !sh)
    return fail(
      coin,
      address,
      address,
      'p2pkh',
      `version byte 0x${ver.toString(16).padStart(2, '0')} is not a ${coin} address`,
    );
  const kind: AddressKind = pkh ? 'p2pkh' : 'p2sh';
  const out: AddressCheck = {
    coin,
    address,
    key: address,
    valid: true,
    checked: true,
    kind,
    network: pkh ?? sh,
  };
  if (coin === 'BCH')
    out.aliases = [encodeCashAddr(kind === 'p2pkh' ? 'p2pkh' : 'p2sh', r.payload.subarray(1))];
  return out;
}

function checkSegwit(
  coin: string,
  address: string,
  hrps: Record<string, 'mainnet' | 'testnet' | 'regtest'>,
): AddressCheck {
  const key = address.toLowerCase();
  if (address !== key && address !== address.toUpperCase())
    return fail(coin, address, key, 'witness', 'bech32 with mixed case');
  let dec: { prefix: string; words: number[] };
  let variant: 'bech32' | 'bech32m';
  try {
    dec = bech32.decode(key, 90);
    variant = 'bech32';
  } catch {
    try {
      dec = bech32m.decode(key, 90);
      variant = 'bech32m';
    } catch (e) {
      return fail(coin, address, key, 'witness', `bad bech32: ${(e as Error).message}`);
    }
  }
  const network = hrps[dec.prefix];
  if (!network)
    return fail(coin, address, key, 'witness', `human-readable part '${dec.prefix}' is not ${coin}`);
  const version = dec.words[0];
  if (version === undefined || version > 16)
    return fail(coin, address, key, 'witness', 'bad witness version');
  if ((version === 0) !== (variant === 'bech32'))
    return fail(
      coin,
      address,
      key,
      'witness',
      `witness v${version} must use ${version === 0 ? 'bech32' : 'bech32m'}`,
    );
  let program: number[];
  try {
    program = bech32.fromWords(dec.words.slice(1));
  } catch (e) {
    return fail(coin, address, key, 'witness', `bad witness program: ${(e as Error).message}`);
  }
  if (program.length < 2 || program.length > 40)
    return fail(coin, address, key, 'witness', `witness program of ${program.length} bytes`);
  let kind: AddressKind = 'witness';
  if (version === 0) {
    if (program.length === 20) kind = 'p2wpkh';
    else if (program.length === 32) kind = 'p2wsh';
    else return fail(coin, address, key, 'witness', `v0 witness program of ${program.length} bytes`);
  } else if (version === 1 && program.length === 32) kind = 'p2tr';
  return { coin, address, key, valid: true, checked: true, kind, network };
}

/** EIP-55: all-lower or all-upper hex is unchecked but valid; mixed case must match the checksum. */
export function checkEvm(coin: string, address: string): AddressCheck {
  const key = address.toLowerCase();
  if (!/^0x[0-9a-fA-F]{40}$/.test(address))
    return fail(coin, address, key, 'evm', 'not 0x followed by 40 hex digits');
  const hex = address.slice(2);
  if (hex === hex.toLowerCase() || hex === hex.toUpperCase())
    return { coin, address, key, valid: true, checked: true, kind: 'evm', network: 'mainnet' };
  const hash = keccak_256(new TextEncoder().encode(hex.toLowerCase()));
  for (let i = 0; i < 40; i++) {
    const nibble = (hash[i >> 1] >> (i % 2 === 0 ? 4 : 0)) & 0xf;
    const ch = hex[i];
    if (/[a-f]/.test(ch) && nibble >= 8)
      return fail(coin, address, key, 'evm', `EIP-55 checksum mismatch at hex digit ${i + 1}`);
    if (/[A-F]/.test(ch) && nibble < 8)
      return fail(coin, address, key, 'evm', `EIP-55 checksum mismatch at hex digit ${i + 1}`);
  }
  return { coin, address, key, valid: true, checked: true, kind: 'evm', network: 'mainnet' };
}

/** Monero: network byte, spend key, view key (+ payment id), 4-byte Keccak-256 checksum. */
export function checkMonero(coin: string, address: string): AddressCheck {
  // Standard and subaddresses are 95 characters, integrated 106: anything far longer is refused
  // before a BigInt decode of every block.
  if (address.length > 128)
    return fail(
      coin,
      address,
      address,
      'monero-standard',
      `${address.length} characters, longer than any Monero address`,
    );
  const raw = moneroBase58Decode(address);
  if (!raw) return fail(coin, address, address, 'monero-standard', 'not Monero base58');
  if (raw.length !== 69 && raw.length !== 77)
    return fail(coin, address, address, 'monero-standard', `decodes to ${raw.length} bytes, not 69 or 77`);
  const body = raw.subarray(0, raw.length - 4);
  const sum = keccak_256(body);
  for (let i = 0; i < 4; i++)
    if (sum[i] !== raw[raw.length - 4 + i])
      return fail(coin, address, address, 'monero-standard', 'Keccak checksum mismatch');
  const nets: Record<number, [AddressKind, 'mainnet' | 'testnet']> = {
    18: ['monero-standard', 'mainnet'],
    19: ['monero-integrated', 'mainnet'],
    42: ['monero-subaddress', 'mainnet'],
    53: ['monero-standard', 'testnet'],
    54: ['monero-integrated', 'testnet'],
    63: ['monero-subaddress', 'testnet'],
    24: ['monero-standard', 'testnet'], // stagenet
    25: ['monero-integrated', 'testnet'],
    36: ['monero-subaddress', 'testnet'],
  };
  const n = nets[raw[0]];
  if (!n) return fail(coin, address, address, 'monero-standard', `network byte ${raw[0]} is not Monero`);
  if ((n[0] === 'monero-integrated') !== (raw.length === 77))
    return fail(coin, address, address, n[0], 'length does not fit the address type');
  return { coin, address, key: address, valid: true, checked: true, kind: n[0], network: n[1] };
}

/** Zcash transparent addresses: two-byte version prefix (t1/t3 mainnet, tm/t2 testnet). */
function checkZcash(coin: string, address: string): AddressCheck {
  if (!address.startsWith('t')) {
    // Shielded (zs..., zc...) and unified (u1...) addresses cannot be checked here; kept opaque.
    return {
      coin,
      address,
      key: address.startsWith('zs') || address.startsWith('u1') ? address.toLowerCase() : address,
      valid: true,
      checked: false,
      kind: 'opaque',
    };
  }
  const r = base58CheckDecode(address);
  if (!r.ok) return fail(coin, address, address, 'p2pkh', r.problem);
  if (r.payload.length !== 22)
    return fail(coin, address, address, 'p2pkh', `payload is ${r.payload.length} bytes, not 22`);
  const v = (r.payload[0] << 8) | r.payload[1];
  const known: Record<number, [AddressKind, 'mainnet' | 'testnet']> = {
    0x1cb8: ['p2pkh', 'mainnet'],
    0x1cbd: ['p2sh', 'mainnet'],
    0x1d25: ['p2pkh', 'testnet'],
    0x1cba: ['p2sh', 'testnet'],
  };
  const k = known[v];
  if (!k)
    return fail(
      coin,
      address,
      address,
      'p2pkh',
      `version 0x${v.toString(16)} is not a Zcash transparent address`,
    );
  return { coin, address, key: address, valid: true, checked: true, kind: k[0], network: k[1] };
}

function checkTron(coin: string, address: string): AddressCheck {
  const r = base58CheckDecode(address);
  if (!r.ok) return fail(coin, address, address, 'tron', r.problem);
  if (r.payload.length !== 21 || r.payload[0] !== 0x41)
    return fail(coin, address, address, 'tron', 'not a 21-byte payload starting 0x41');
  return { coin, address, key: address, valid: true, checked: true, kind: 'tron', network: 'mainnet' };
}

/**
 * BNB Beacon Chain (Binance Chain) account address: bech32 (BIP-173, not bech32m) with the human
 * part `bnb` (mainnet) or `tbnb` (testnet) over a 20-byte account hash (Cosmos SDK AccAddress),
 * no witness version. Lower-cased for the key: bech32 is case-insensitive.
 */
function checkBnbBeacon(coin: string, address: string): AddressCheck {
  const key = address.toLowerCase();
  if (address !== key && address !== address.toUpperCase())
    return fail(coin, address, key, 'bnb-beacon', 'bech32 with mixed case');
  let dec: { prefix: string; words: number[] };
  try {
    dec = bech32.decode(key, 90);
  } catch (e) {
    return fail(coin, address, key, 'bnb-beacon', `bad bech32: ${(e as Error).message}`);
  }
  const network = dec.prefix === 'bnb' ? 'mainnet' : dec.prefix === 'tbnb' ? 'testnet' : undefined;
  if (!network)
    return fail(coin, address, key, 'bnb-beacon', `human part '${dec.prefix}' is not bnb or tbnb`);
  const bytes = bech32.fromWordsUnsafe(dec.words);
  if (!bytes || bytes.length !== 20)
    return fail(coin, address, key, 'bnb-beacon', 'not a 20-byte account hash');
  return { coin, address, key, valid: true, checked: true, kind: 'bnb-beacon', network };
}

function checkXrp(coin: string, address: string): AddressCheck {
  const r = base58CheckDecode(address, XRP_ALPHABET);
  if (!r.ok) return fail(coin, address, address, 'xrp', r.problem);
  if (r.payload.length !== 21 || r.payload[0] !== 0x00)
    return fail(coin, address, address, 'xrp', 'not a 21-byte account id with version 0');
  return { coin, address, key: address, valid: true, checked: true, kind: 'xrp', network: 'mainnet' };
}

function checkBch(address: string): AddressCheck {
  const lower = address.toLowerCase();
  const looksCash =
    lower.startsWith('bitcoincash:') ||
    lower.startsWith('bchtest:') ||
    /^[qp][02-9ac-hj-np-z]{41}$/.test(lower);
  if (!looksCash) return checkBase58Family('BCH', address, BITCOIN_FAMILY.BCH);
  const r = decodeCashAddr(address);
  const bare = lower.includes(':') ? lower.slice(lower.indexOf(':') + 1) : lower;
  if (!r.ok) return fail('BCH', address, bare, 'cashaddr-p2pkh', r.problem);
  const network = r.prefix === 'bitcoincash' ? 'mainnet' : 'testnet';
  const out: AddressCheck = {
    coin: 'BCH',
    address,
    key: bare,
    valid: true,
    checked: true,
    kind: r.type === 'p2pkh' ? 'cashaddr-p2pkh' : 'cashaddr-p2sh',
    network,
  };
  if (network === 'mainnet' && r.hash.length === 20)
    out.aliases = [legacyFromHash(r.type === 'p2pkh' ? 0x00 : 0x05, r.hash)];
  return out;
}

function legacyFromHash(version: number, hash: Uint8Array): string {
  return base58CheckEncode(Uint8Array.from([version, ...hash]));
}

/** Validate and normalise `address` as an address of `coin` (a ticker; OFAC codes are mapped). */
export function checkAddress(coinOrCode: string, address: string): AddressCheck {
  const coin = coinFromListCode(coinOrCode);
  const a = address.trim();
  if (a === '') return fail(coin, a, a, 'opaque', 'empty address');
  if (coin === 'BCH') return checkBch(a);
  const fam = BITCOIN_FAMILY[coin];
  if (fam) {
    const lower = a.toLowerCase();
    const sep = lower.lastIndexOf('1');
    if (fam.hrp && sep > 0 && fam.hrp[lower.slice(0, sep)] !== undefined)
      return checkSegwit(coin, a, fam.hrp);
    return checkBase58Family(coin, a, fam);
  }
  // BNB names two chains: the Beacon Chain (bech32 bnb1…/tbnb1…) and the Smart Chain (EVM 0x…).
  if (coin === 'BNB' && !a.startsWith('0x')) return checkBnbBeacon(coin, a);
  if (EVM_COINS.has(coin)) return checkEvm(coin, a);
  // Tether lives on Ethereum (0x...), Tron (T...) and the Omni layer on Bitcoin (1.../3...).
  if (coin === 'USDT') {
    if (a.startsWith('0x')) return checkEvm(coin, a);
    if (a.startsWith('T')) return checkTron(coin, a);
    return { ...checkBase58Family('BTC', a, BITCOIN_FAMILY.BTC), coin };
  }
  if (coin === 'TRX') return checkTron(coin, a);
  if (coin === 'XMR') return checkMonero(coin, a);
  if (coin === 'ZEC') return checkZcash(coin, a);
  if (coin === 'XRP') return checkXrp(coin, a);
  return opaque(coin, a);
}

function opaque(coin: string, a: string): AddressCheck {
  return { coin, address: a, key: a, valid: true, checked: false, kind: 'opaque' };
}

/**
 * The key an address given without its coin is looked up under: exact first (base58 is
 * case-sensitive), then this. Lower-casing is right for hex, bech32 and cashaddr; the
 * `bitcoincash:` prefix is dropped because OFAC lists write cashaddr without it.
 */
export function lookupKey(s: string): string {
  const lower = s.trim().toLowerCase();
  const colon = lower.indexOf(':');
  return colon > 0 ? lower.slice(colon + 1) : lower;
}
