/**
 * Block parser: one pass over the serialized block in place, results in reusable typed arrays
 * (column per field, index per transaction/input/output). Nothing is copied out of the buffer
 * except the 32-byte hashes; scripts stay as (offset, length) into the caller's buffer.
 *
 * Serialization: legacy and BIP144 segwit (marker 0x00, flag 0x01). Litecoin's MWEB adds flag bit
 * 0x08 (a HogEx transaction with an empty MWEB part) and extension data after the last transaction;
 * the extension is skipped and reported, a transaction with a non-empty MWEB part is an error.
 */
import { sha256d } from './hash.js';

export class ChainParseError extends Error {
  constructor(
    readonly kind: 'truncated' | 'bad-varint' | 'bad-tx' | 'mweb-tx' | 'trailing-bytes',
    /** Offset in the parsed buffer where the problem was found. */
    readonly offset: number,
    message: string,
  ) {
    super(message);
    this.name = 'ChainParseError';
  }
}

export interface ParseOptions {
  /** Compute txids (default true). Without them parsing is a structural walk. */
  txids?: boolean;
  /** Compute wtxids of segwit transactions too (default false; equal to the txid otherwise). */
  wtxids?: boolean;
}

/** Transaction flags kept per transaction. */
export const TX_SEGWIT = 1;
export const TX_MWEB = 8;

function grow<T extends Uint32Array | Float64Array | Uint8Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  let n = a.length * 2;
  while (n < need) n *= 2;
  const b = new (a.constructor as { new (n: number): T })(n);
  b.set(a);
  return b;
}

export class ParsedBlock {
  buf: Uint8Array = new Uint8Array(0);
  /** Offsets of the block in buf. */
  start = 0;
  end = 0;
  version = 0;
  time = 0;
  bits = 0;
  nonce = 0;
  /** Block hash (internal order) and previous block hash. */
  readonly hash = new Uint8Array(32);
  readonly prevHash = new Uint8Array(32);
  readonly merkleRoot = new Uint8Array(32);
  txCount = 0;
  inCount = 0;
  outCount = 0;
  /** Bytes of MWEB extension data skipped after the transactions (Litecoin). */
  mwebBytes = 0;

  txStart = new Uint32Array(4096);
  txEnd = new Uint32Array(4096);
  /** Offset of the witness section (segwit) or of the locktime (legacy). */
  txWitness = new Uint32Array(4096);
  txFlags = new Uint8Array(4096);
  txVersion = new Uint32Array(4096);
  txLocktime = new Uint32Array(4096);
  txid = new Uint8Array(4096 * 32);
  wtxid = new Uint8Array(4096 * 32);
  /** First input/output index of each transaction; entry txCount is the total. */
  txIn = new Uint32Array(4097);
  txOut = new Uint32Array(4097);

  inPrev = new Uint32Array(16384); // offset of the 32-byte previous txid
  inVout = new Uint32Array(16384);
  inScript = new Uint32Array(16384);
  inScriptLen = new Uint32Array(16384);
  inSequence = new Uint32Array(16384);

  outValue = new Float64Array(16384);
  outScript = new Uint32Array(16384);
  outScriptLen = new Uint32Array(16384);

  /** Previous txid of input i equals all zeros with vout 0xffffffff (the coinbase input). */
  isCoinbaseInput(i: number): boolean {
    if (this.inVout[i] !== 0xffffffff) return false;
    const b = this.buf;
    const o = this.inPrev[i];
    for (let k = 0; k < 32; k++) if (b[o + k] !== 0) return false;
    return true;
  }

  /** Merkle root from the txids equals the header's (needs txids). */
  merkleOk(): boolean {
    let level = this.txid.slice(0, this.txCount * 32);
    let n = this.txCount;
    const pair = new Uint8Array(64);
    while (n > 1) {
      const m = (n + 1) >> 1;
      const next = new Uint8Array(m * 32);
      for (let i = 0; i < m; i++) {
        const a = 2 * i;
        const b = Math.min(2 * i + 1, n - 1);
        pair.set(level.subarray(a * 32, a * 32 + 32), 0);
        pair.set(level.subarray(b * 32, b * 32 + 32), 32);
        sha256d(pair, 0, 64, next, i * 32);
      }
      level = next;
      n = m;
    }
    for (let k = 0; k < 32; k++) if (level[k] !== this.merkleRoot[k]) return false;
    return true;
  }

  private ensureTx(n: number): void {
    if (n < this.txStart.length) return;
    this.txStart = grow(this.txStart, n + 1);
    this.txEnd = grow(this.txEnd, n + 1);
    this.txWitness = grow(this.txWitness, n + 1);
    this.txFlags = grow(this.txFlags, n + 1);
    this.txVersion = grow(this.txVersion, n + 1);
    this.txLocktime = grow(this.txLocktime, n + 1);
    this.txid = grow(this.txid, (n + 1) * 32);
    this.wtxid = grow(this.wtxid, (n + 1) * 32);
    this.txIn = grow(this.txIn, n + 2);
    this.txOut = grow(this.txOut, n + 2);
  }

  private ensureIn(n: number): void {
    if (n < this.inPrev.length) return;
    this.inPrev = grow(this.inPrev, n + 1);
    this.inVout = grow(this.inVout, n + 1);
    this.inScript = grow(this.inScript, n + 1);
    this.inScriptLen = grow(this.inScriptLen, n + 1);
    this.inSequence = grow(this.inSequence, n + 1);
  }

  private ensureOut(n: number): void {
    if (n < this.outValue.length) return;
    this.outValue = grow(this.outValue, n + 1);
    this.outScript = grow(this.outScript, n + 1);
    this.outScriptLen = grow(this.outScriptLen, n + 1);
  }

  /**
   * Parse the block at buf[start..end). Throws ChainParseError (offset into buf) on malformed data.
   * The block must fit in the range; bytes after the last transaction are an error unless they are
   * MWEB extension data.
   */
  parse(buf: Uint8Array, start: number, end: number, opts: ParseOptions = {}): this {
    const wantTxids = opts.txids !== false;
    const wantWtxids = opts.wtxids === true;
    this.buf = buf;
    this.start = start;
    this.end = end;
    this.mwebBytes = 0;
    if (end - start < 81)
      throw new ChainParseError('truncated', start, `block header needs 81 bytes, ${end - start} left`);
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.version = dv.getUint32(start, true);
    this.prevHash.set(buf.subarray(start + 4, start + 36));
    this.merkleRoot.set(buf.subarray(start + 36, start + 68));
    this.time = dv.getUint32(start + 68, true);
    this.bits = dv.getUint32(start + 72, true);
    this.nonce = dv.getUint32(start + 76, true);
    sha256d(buf, start, start + 80, this.hash, 0);

    let p = start + 80;
    // Inline varint reader; returns -1 and leaves p unchanged on truncation.
    const varint = (): number => {
      if (p >= end) throw new ChainParseError('truncated', p, 'varint past end of block');
      const c = buf[p];
      if (c < 0xfd) {
        p += 1;
        return c;
      }
      if (c === 0xfd) {
        if (p + 3 > end) throw new ChainParseError('truncated', p, 'varint past end of block');
        const v = buf[p + 1] | (buf[p + 2] << 8);
        if (v < 0xfd) throw new ChainParseError('bad-varint', p, `non-canonical varint 0xfd ${v}`);
        p += 3;
        return v;
      }
      if (c === 0xfe) {
        if (p + 5 > end) throw new ChainParseError('truncated', p, 'varint past end of block');
        const v = dv.getUint32(p + 1, true);
        if (v < 0x10000) throw new ChainParseError('bad-varint', p, `non-canonical varint 0xfe ${v}`);
        p += 5;
        return v;
      }
      throw new ChainParseError('bad-varint', p, 'varint 0xff (64-bit) is larger than any block');
    };

    const nTx = varint();
    // Smallest transaction is 60 bytes: a count beyond that is corruption, not a huge block.
    if (nTx === 0 || nTx > (end - p) / 60 + 1)
      throw new ChainParseError('bad-varint', p, `implausible transaction count ${nTx}`);
    this.ensureTx(nTx);
    let nIn = 0;
    let nOut = 0;
    let scratch = this.scratch;
    let lastHogEx = false;
    for (let t = 0; t < nTx; t++) {
      const txStart = p;
      this.txStart[t] = p;
      this.txIn[t] = nIn;
      this.txOut[t] = nOut;
      if (p + 10 > end) throw new ChainParseError('truncated', p, `transaction ${t} past end of block`);
      this.txVersion[t] = dv.getUint32(p, true);
      p += 4;
      let flags = 0;
      if (buf[p] === 0 && buf[p + 1] !== 0) {
        flags = buf[p + 1];
        if ((flags & ~(TX_SEGWIT | TX_MWEB)) !== 0)
          throw new ChainParseError('bad-tx', p, `unknown transaction flags 0x${flags.toString(16)}`);
        p += 2;
      }
      const bodyStart = p;
      const ins = varint();
      if (ins > (end - p) / 41) throw new ChainParseError('bad-varint', p, `implausible input count ${ins}`);
      this.ensureIn(nIn + ins);
      for (let i = 0; i < ins; i++) {
        if (p + 36 > end) throw new ChainParseError('truncated', p, 'input past end of block');
        this.inPrev[nIn] = p;
        this.inVout[nIn] = dv.getUint32(p + 32, true);
        p += 36;
        const sl = varint();
        if (p + sl + 4 > end)
          throw new ChainParseError('truncated', p, `input script of ${sl} bytes past end of block`);
        this.inScript[nIn] = p;
        this.inScriptLen[nIn] = sl;
        p += sl;
        this.inSequence[nIn] = dv.getUint32(p, true);
        p += 4;
        nIn++;
      }
      const outs = varint();
      if (outs > (end - p) / 9)
        throw new ChainParseError('bad-varint', p, `implausible output count ${outs}`);
      this.ensureOut(nOut + outs);
      for (let i = 0; i < outs; i++) {
        if (p + 9 > end) throw new ChainParseError('truncated', p, 'output past end of block');
        this.outValue[nOut] = dv.getUint32(p, true) + dv.getUint32(p + 4, true) * 4294967296;
        p += 8;
        const sl = varint();
        if (p + sl > end)
          throw new ChainParseError('truncated', p, `output script of ${sl} bytes past end of block`);
        this.outScript[nOut] = p;
        this.outScriptLen[nOut] = sl;
        p += sl;
        nOut++;
      }
      const bodyEnd = p;
      this.txWitness[t] = p;
      if (flags & TX_SEGWIT) {
        for (let i = 0; i < ins; i++) {
          const items = varint();
          for (let k = 0; k < items; k++) {
            const l = varint();
            if (p + l > end)
              throw new ChainParseError('truncated', p, `witness item of ${l} bytes past end of block`);
            p += l;
          }
        }
      }
      lastHogEx = false;
      if (flags & TX_MWEB) {
        if (p >= end) throw new ChainParseError('truncated', p, 'MWEB marker past end of block');
        if (buf[p] !== 0)
          throw new ChainParseError(
            'mweb-tx',
            p,
            'transaction carries an MWEB part (not supported); block skipped',
          );
        p += 1;
        lastHogEx = true;
      }
      if (p + 4 > end) throw new ChainParseError('truncated', p, 'locktime past end of block');
      this.txLocktime[t] = dv.getUint32(p, true);
      p += 4;
      this.txEnd[t] = p;
      this.txFlags[t] = flags;
      if (wantTxids) {
        if (flags === 0) {
          sha256d(buf, txStart, p, this.txid, t * 32);
        } else {
          // txid covers version | inputs, outputs | locktime, without marker, witness and MWEB part.
          const len = 4 + (bodyEnd - bodyStart) + 4;
          if (scratch.length < len) scratch = this.scratch = new Uint8Array(len * 2);
          scratch.set(buf.subarray(txStart, txStart + 4), 0);
          scratch.set(buf.subarray(bodyStart, bodyEnd), 4);
          scratch.set(buf.subarray(p - 4, p), 4 + bodyEnd - bodyStart);
          sha256d(scratch, 0, len, this.txid, t * 32);
        }
        if (wantWtxids) {
          if (flags === 0) this.wtxid.set(this.txid.subarray(t * 32, t * 32 + 32), t * 32);
          else sha256d(buf, txStart, p, this.wtxid, t * 32);
        }
      }
    }
    this.txCount = nTx;
    this.inCount = nIn;
    this.outCount = nOut;
    this.txIn[nTx] = nIn;
    this.txOut[nTx] = nOut;
    if (p < end) {
      if (lastHogEx && nTx >= 2) {
        this.mwebBytes = end - p;
      } else {
        throw new ChainParseError('trailing-bytes', p, `${end - p} bytes after the last transaction`);
      }
    }
    return this;
  }

  private scratch = new Uint8Array(1 << 16);
}

/** BIP34 height from the coinbase scriptSig (first push, little-endian), or -1 if absent. */
export function coinbaseHeight(b: Uint8Array, o: number, n: number): number {
  if (n < 1) return -1;
  const op = b[o];
  if (op === 0) return 0;
  if (op >= 0x51 && op <= 0x60) return op - 0x50;
  if (op < 1 || op > 8 || op + 1 > n) return -1;
  let v = 0;
  for (let i = op; i >= 1; i--) v = v * 256 + b[o + i];
  return v;
}

/** Printable text of a coinbase scriptSig (runs of ≥ 3 printable ASCII characters, joined by space). */
export function coinbaseText(b: Uint8Array, o: number, n: number): string {
  const runs: string[] = [];
  let cur = '';
  for (let i = o; i < o + n; i++) {
    const c = b[i];
    if (c >= 0x20 && c < 0x7f) cur += String.fromCharCode(c);
    else {
      if (cur.length >= 3) runs.push(cur);
      cur = '';
    }
  }
  if (cur.length >= 3) runs.push(cur);
  return runs.join(' ');
}
