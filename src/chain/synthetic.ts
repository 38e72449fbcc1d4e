/**
 * Builds real serialized transactions, blocks and blk*.dat records, for tests and the benchmark's
 * generated chain. Blocks carry a correct merkle root; proof of work is not ground (the index does
 * not check it).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256d } from './hash.js';

export interface TxInputSpec {
  prevTxid: Uint8Array; // internal byte order
  vout: number;
  script?: Uint8Array;
  sequence?: number;
  witness?: Uint8Array[];
}

export interface TxOutputSpec {
  value: number;
  script: Uint8Array;
}

function varint(n: number): Buffer {
  if (n < 0xfd) return Buffer.from([n]);
  if (n <= 0xffff) return Buffer.from([0xfd, n & 0xff, n >> 8]);
  const b = Buffer.alloc(5);
  b[0] = 0xfe;
  b.writeUInt32LE(n, 1);
  return b;
}

export function serializeTx(
  inputs: TxInputSpec[],
  outputs: TxOutputSpec[],
  locktime = 0,
  version = 2,
): Buffer {
  const segwit = inputs.some((i) => i.witness && i.witness.length > 0);
  const parts: Buffer[] = [];
  const v = Buffer.alloc(4);
  v.writeUInt32LE(version);
  parts.push(v);
  if (segwit) parts.push(Buffer.from([0, 1]));
  parts.push(varint(inputs.length));
  for (const i of inputs) {
    const o = Buffer.alloc(36);
    o.set(i.prevTxid, 0);
    o.writeUInt32LE(i.vout >>> 0, 32);
    const s = Buffer.from(i.script ?? []);
    const seq = Buffer.alloc(4);
    seq.writeUInt32LE((i.sequence ?? 0xffffffff) >>> 0);
    parts.push(o, varint(s.length), s, seq);
  }
  parts.push(varint(outputs.length));
  for (const o of outputs) {
    const val = Buffer.alloc(8);
    val.writeUInt32LE(o.value % 4294967296, 0);
    val.writeUInt32LE(Math.floor(o.value / 4294967296), 4);
    parts.push(val, varint(o.script.length), Buffer.from(o.script));
  }
  if (segwit) {
    for (const i of inputs) {
      const w = i.witness ?? [];
      parts.push(varint(w.length));
      for (const item of w) parts.push(varint(item.length), Buffer.from(item));
    }
  }
  const lt = Buffer.alloc(4);
  lt.writeUInt32LE(locktime >>> 0);
  parts.push(lt);
  return Buffer.concat(parts);
}

/** Coinbase with a BIP34 height push and optional tag text. */
export function coinbaseTx(height: number, outputs: TxOutputSpec[], tag = ''): Buffer {
  const h: number[] = [];
  for (let x = height; x > 0; x = Math.floor(x / 256)) h.push(x & 0xff);
  if (h.length && h[h.length - 1] & 0x80) h.push(0);
  const script = Buffer.concat([Buffer.from([h.length, ...h]), Buffer.from(tag, 'latin1')]);
  const padded = script.length < 2 ? Buffer.concat([script, Buffer.from([0])]) : script;
  return serializeTx([{ prevTxid: new Uint8Array(32), vout: 0xffffffff, script: padded }], outputs);
}

/** txid of a legacy-serialized transaction (internal order). */
export function legacyTxid(tx: Uint8Array): Buffer {
  const out = Buffer.alloc(32);
  sha256d(tx, 0, tx.length, out, 0);
  return out;
}

export function merkleRoot(txids: Uint8Array[]): Buffer {
  let level: Buffer[] = txids.map((t) => Buffer.from(t));
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const pair = Buffer.concat([level[i], level[Math.min(i + 1, level.length - 1)]]);
      const h = Buffer.alloc(32);
      sha256d(pair, 0, 64, h, 0);
      next.push(h);
    }
    level = next;
  }
  return level[0];
}

/** A block from serialized transactions (txids given for segwit ones, else computed). */
export function buildBlock(
  prevHash: Uint8Array,
  txs: Buffer[],
  time: number,
  txids?: Uint8Array[],
  bits = 0x207fffff,
): Buffer {
  const header = Buffer.alloc(80);
  header.writeUInt32LE(0x20000000, 0);
  header.set(prevHash, 4);
  merkleRoot(txids ?? txs.map(legacyTxid)).copy(header, 36);
  header.writeUInt32LE(time >>> 0, 68);
  header.writeUInt32LE(bits >>> 0, 72);
  return Buffer.concat([header, varint(txs.length), ...txs]);
}

export function blockHash(block: Uint8Array): Buffer {
  const h = Buffer.alloc(32);
  sha256d(block, 0, 80, h, 0);
  return h;
}

/** One blk*.dat record: magic, little-endian length, block. */
export function blkRecord(magicHex: string, block: Buffer): Buffer {
  const pre = Buffer.alloc(8);
  Buffer.from(magicHex, 'hex').copy(pre, 0);
  pre.writeUInt32LE(block.length, 4);
  return Buffer.concat([pre, block]);
}

/** P2PKH/P2WPKH output scripts for a 20-byte hash. */
export function p2pkhScript(hash20: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([0x76, 0xa9, 0x14]), Buffer.from(hash20), Buffer.from([0x88, 0xac])]);
}

export function p2wpkhScript(hash20: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([0x00, 0x14]), Buffer.from(hash20)]);
}

const P2PKH_AROUND = [
  [25, 0x76, 0xa9, 0x14],
  [0x88, 0xac],
];
const P2WPKH_AROUND = [[22, 0x00, 0x14], []];

/**
 * A generated chain written as real blk files: blocks of 2,000 transactions spending earlier
 * outputs (1 input 60%, 2 inputs 30%, 3-5 inputs 10%), two outputs each (P2PKH or P2WPKH), 30% of
 * outputs to an address seen before. Inputs carry a 107-byte scriptSig like a real P2PKH spend.
 */
export function writeSyntheticChain(
  dir: string,
  totalTxs: number,
  magicHex: string,
): { txs: number; bytes: number; files: number } {
  mkdirSync(dir, { recursive: true });
  const magic = Buffer.from(magicHex, 'hex');
  let seed = 12345;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  const cap = 1 << 22;
  let uTxid = new Uint8Array(cap * 32);
  let uVout = new Uint32Array(cap);
  let uValue = new Float64Array(cap);
  let uCount = 0;
  const addUtxo = (txid: Uint8Array, to: number, vout: number, value: number) => {
    if (uCount === uVout.length) {
      const n = uVout.length * 2;
      const a = new Uint8Array(n * 32);
      a.set(uTxid);
      uTxid = a;
      const b = new Uint32Array(n);
      b.set(uVout);
      uVout = b;
      const c = new Float64Array(n);
      c.set(uValue);
      uValue = c;
    }
    uTxid.set(txid.subarray(to, to + 32), uCount * 32);
    uVout[uCount] = vout;
    uValue[uCount] = value;
    uCount++;
  };
  let nextAddr = 1;
  const file = Buffer.alloc(130 << 20);
  let fileLen = 0;
  let fileNo = 0;
  let bytes = 0;
  const flushFile = () => {
    writeFileSync(join(dir, `blk${String(fileNo).padStart(5, '0')}.dat`), file.subarray(0, fileLen));
    fileNo++;
    bytes += fileLen;
    fileLen = 0;
  };
  const block = Buffer.alloc(4 << 20);
  const txids = new Uint8Array(2001 * 32);
  let prev = Buffer.alloc(32);
  let txs = 0;
  const perBlock = 2000;
  for (let height = 0; txs < totalTxs; height++) {
    let p = 83; // 80-byte header, tx count as varint 0xfd + 2 bytes
    const n = height < 10 ? 1 : Math.min(perBlock, totalTxs - txs);
    for (let t = 0; t < n; t++) {
      const s = p;
      block.writeUInt32LE(1, p);
      p += 4;
      const coinbase = t === 0 || uCount < 10;
      const nIn = coinbase
        ? 1
        : Math.min(
            uCount,
            (() => {
              const r = rnd();
              return r < 0.6 ? 1 : r < 0.9 ? 2 : 3 + Math.floor(rnd() * 3);
            })(),
          );
      block[p++] = nIn;
      let inSum = 0;
      for (let i = 0; i < nIn; i++) {
        if (coinbase) {
          block.fill(0, p, p + 32);
          block.writeUInt32LE(0xffffffff, p + 32);
          p += 36;
          block[p++] = 4;
          block.writeUInt32LE(height + 1, p);
          p += 4;
          inSum += 50e8;
        } else {
          const k = Math.floor(rnd() * uCount);
          block.set(uTxid.subarray(k * 32, k * 32 + 32), p);
          block.writeUInt32LE(uVout[k], p + 32);
          inSum += uValue[k];
          uCount--;
          uTxid.copyWithin(k * 32, uCount * 32, uCount * 32 + 32);
          uVout[k] = uVout[uCount];
          uValue[k] = uValue[uCount];
          p += 36;
          block[p++] = 107;
          block.fill(0x30 + (t & 0x3f), p, p + 107);
          p += 107;
        }
        block.writeUInt32LE(0xffffffff, p);
        p += 4;
      }
      block[p++] = 2;
      const fee = coinbase ? 0 : Math.min(1000, Math.floor(inSum / 10));
      const v0 = Math.floor((inSum - fee) * (0.1 + rnd() * 0.8));
      const values = [v0, inSum - fee - v0];
      for (let o = 0; o < 2; o++) {
        block.writeUInt32LE(values[o] % 4294967296, p);
        block.writeUInt32LE(Math.floor(values[o] / 4294967296), p + 4);
        p += 8;
        const addr = coinbase
          ? 1 + (height % 5)
          : rnd() < 0.3
            ? 1 + Math.floor(rnd() * nextAddr)
            : ++nextAddr;
        // Odd addresses P2PKH, even P2WPKH: [script length, prefix] hash20 [suffix].
        const [pre, post] = addr & 1 ? P2PKH_AROUND : P2WPKH_AROUND;
        for (const x of pre) block[p++] = x;
        block.fill(0, p, p + 20);
        block.writeUInt32LE(addr, p);
        p += 20;
        for (const x of post) block[p++] = x;
      }
      block.writeUInt32LE(0, p);
      p += 4;
      sha256d(block, s, p, txids, t * 32);
      for (let o = 0; o < 2; o++) if (values[o] > 0) addUtxo(txids, t * 32, o, values[o]);
      txs++;
    }
    block.writeUInt32LE(0x20000000, 0);
    prev.copy(block, 4);
    merkleRoot(Array.from({ length: n }, (_, i) => txids.subarray(i * 32, i * 32 + 32))).copy(block, 36);
    block.writeUInt32LE(1_500_000_000 + height * 600, 68);
    block.writeUInt32LE(0x207fffff, 72);
    block.writeUInt32LE(0, 76);
    // Canonical varint: one byte below 253 transactions.
    const countLen = n < 0xfd ? 1 : 3;
    const len = 80 + countLen + (p - 83);
    prev = Buffer.alloc(32);
    sha256d(block, 0, 80, prev, 0);
    if (fileLen + len + 8 > file.length) flushFile();
    magic.copy(file, fileLen);
    file.writeUInt32LE(len, fileLen + 4);
    file.set(block.subarray(0, 80), fileLen + 8);
    if (countLen === 1) file[fileLen + 88] = n;
    else {
      file[fileLen + 88] = 0xfd;
      file.writeUInt16LE(n, fileLen + 89);
    }
    file.set(block.subarray(83, p), fileLen + 88 + countLen);
    fileLen += 8 + len;
  }
  flushFile();
  return { txs, bytes, files: fileNo };
}
