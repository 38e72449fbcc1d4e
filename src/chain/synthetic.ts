/**
 * Builds real serialized transactions, blocks and blk*.dat records, for tests and the benchmark's
 * generated chain. Blocks carry a correct merkle root; proof of work is not ground (the index does
 * not check it).
 */
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
