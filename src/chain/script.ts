/**
 * Output-script classification over the block buffer, without copying. `classifyScript` returns the
 * type and leaves the address payload's position in `scriptPayload` (one shared record, so the hot
 * path allocates nothing).
 */
export enum ScriptType {
  NonStandard = 0,
  P2PK = 1,
  P2PKH = 2,
  P2SH = 3,
  P2WPKH = 4,
  P2WSH = 5,
  P2TR = 6,
  Multisig = 7,
  OpReturn = 8,
  WitnessUnknown = 9,
}

export const SCRIPT_TYPE_NAMES = [
  'nonstandard',
  'p2pk',
  'p2pkh',
  'p2sh',
  'p2wpkh',
  'p2wsh',
  'p2tr',
  'multisig',
  'op_return',
  'witness_unknown',
] as const;

/** Where the address payload of the last classified script lies in the buffer (length 0: none). */
export const scriptPayload = { off: 0, len: 0 };

/** Types that identify an owner (and so get an address id in the index). */
export function hasAddress(t: ScriptType): boolean {
  return t !== ScriptType.NonStandard && t !== ScriptType.OpReturn;
}

export function classifyScript(b: Uint8Array, o: number, n: number): ScriptType {
  scriptPayload.off = o;
  scriptPayload.len = 0;
  if (
    n === 25 &&
    b[o] === 0x76 &&
    b[o + 1] === 0xa9 &&
    b[o + 2] === 0x14 &&
    b[o + 23] === 0x88 &&
    b[o + 24] === 0xac
  ) {
    scriptPayload.off = o + 3;
    scriptPayload.len = 20;
    return ScriptType.P2PKH;
  }
  if (n === 23 && b[o] === 0xa9 && b[o + 1] === 0x14 && b[o + 22] === 0x87) {
    scriptPayload.off = o + 2;
    scriptPayload.len = 20;
    return ScriptType.P2SH;
  }
  if (n === 22 && b[o] === 0x00 && b[o + 1] === 0x14) {
    scriptPayload.off = o + 2;
    scriptPayload.len = 20;
    return ScriptType.P2WPKH;
  }
  if (n === 34 && b[o + 1] === 0x20 && (b[o] === 0x00 || b[o] === 0x51)) {
    scriptPayload.off = o + 2;
    scriptPayload.len = 32;
    return b[o] === 0x00 ? ScriptType.P2WSH : ScriptType.P2TR;
  }
  if (n > 0 && b[o] === 0x6a) return ScriptType.OpReturn;
  if (
    (n === 35 && b[o] === 33 && (b[o + 1] === 2 || b[o + 1] === 3) && b[o + 34] === 0xac) ||
    (n === 67 && b[o] === 65 && b[o + 1] === 4 && b[o + 66] === 0xac)
  ) {
    scriptPayload.off = o + 1;
    scriptPayload.len = n - 2;
    return ScriptType.P2PK;
  }
  // Future witness versions (BIP141: version push then a 2..40 byte program).
  if (n >= 4 && n <= 42 && b[o] >= 0x51 && b[o] <= 0x60 && b[o + 1] === n - 2) {
    // payload = [version, program...]; the version byte is rewritten by the reader (OP_n - 0x50).
    scriptPayload.off = o;
    scriptPayload.len = n;
    return ScriptType.WitnessUnknown;
  }
  if (isMultisig(b, o, n)) {
    scriptPayload.off = o;
    scriptPayload.len = n;
    return ScriptType.Multisig;
  }
  return ScriptType.NonStandard;
}

function isMultisig(b: Uint8Array, o: number, n: number): boolean {
  if (n < 37 || b[o + n - 1] !== 0xae) return false;
  const m = b[o] - 0x50;
  const k = b[o + n - 2] - 0x50;
  if (m < 1 || m > 16 || k < m || k > 16) return false;
  let p = o + 1;
  const end = o + n - 2;
  let keys = 0;
  while (p < end) {
    const len = b[p];
    if (len !== 33 && len !== 65) return false;
    p += 1 + len;
    keys++;
  }
  return p === end && keys === k;
}

/** The payload bytes of a witness-unknown script as [version, program...]. */
export function witnessUnknownPayload(b: Uint8Array, o: number, n: number): Buffer {
  const out = Buffer.allocUnsafe(n - 1);
  out[0] = b[o] - 0x50;
  out.set(b.subarray(o + 2, o + n), 1);
  return out;
}
