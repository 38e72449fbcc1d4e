/**
 * Bitcoin Core block files (blocks/blk*.dat): records of [magic:4][length:4 LE][block], in the
 * order the node received blocks, not height order. Recent Bitcoin Core obfuscates the files with
 * an 8-byte XOR key in blocks/xor.dat. Bad records are reported with file:offset and reading
 * resynchronises at the next magic.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Diagnostics } from '../flow/diagnostics.js';
import { ChainParseError, ParsedBlock } from './block.js';
import { NETWORKS, networksByMagic, type ChainNetwork } from './network.js';

/** One block record found in a block file. */
export interface BlockRecord {
  /** Index of the file in the directory listing and its path. */
  fileIndex: number;
  file: string;
  /** Offset of the block bytes (after the 8-byte prefix) and their length. */
  offset: number;
  length: number;
  hash: Buffer;
  prev: Buffer;
  bits: number;
  time: number;
}

export function listBlockFiles(blocksDir: string): string[] {
  return readdirSync(blocksDir)
    .filter((f) => /^blk\d+\.dat$/.test(f))
    .sort((a, b) => Number(a.slice(3, -4)) - Number(b.slice(3, -4)))
    .map((f) => join(blocksDir, f));
}

/** The XOR key of blocks/xor.dat, or null when absent or all zero (no obfuscation). */
export function readXorKey(blocksDir: string): Uint8Array | null {
  const p = join(blocksDir, 'xor.dat');
  if (!existsSync(p)) return null;
  const key = readFileSync(p);
  if (key.length === 0 || key.every((b) => b === 0)) return null;
  return key;
}

/** Read a block file and undo the XOR obfuscation (key byte i applies at file position ≡ i mod len). */
export function loadBlockFile(path: string, xorKey: Uint8Array | null): Buffer {
  const buf = readFileSync(path);
  if (xorKey) {
    const k = xorKey.length;
    for (let i = 0; i < buf.length; i++) buf[i] ^= xorKey[i % k];
  }
  return buf;
}

/**
 * Find the block records of one file. Each block is walked structurally (no hashing) so that a
 * truncated block or a bad varint is caught here, with its location, rather than mid-index.
 */
export function scanBlockFile(
  buf: Buffer,
  file: string,
  fileIndex: number,
  magic: Buffer,
  diag: Diagnostics,
  parser = new ParsedBlock(),
): BlockRecord[] {
  const out: BlockRecord[] = [];
  const word = magic.readUInt32LE(0);
  const problem = (offset: number, kind: string, message: string) =>
    diag.problem({ source: file, offset, unit: 'byte', kind, message });
  const resync = (from: number): number => {
    const next = buf.indexOf(magic, from);
    if (next >= 0) diag.add('chain.resync');
    return next < 0 ? buf.length : next;
  };
  let p = 0;
  while (p + 8 <= buf.length) {
    const w = buf.readUInt32LE(p);
    if (w !== word) {
      if (w === 0 && isZero(buf, p)) {
        // Bitcoin Core preallocates block files: zeros after the last record are free space.
        diag.add('chain.preallocated_bytes', buf.length - p);
        return out;
      }
      problem(
        p,
        'bad-magic',
        `expected magic ${magic.toString('hex')}, found ${buf.subarray(p, p + 4).toString('hex')}`,
      );
      p = resync(p + 1);
      continue;
    }
    const len = buf.readUInt32LE(p + 4);
    if (p + 8 + len > buf.length) {
      problem(
        p + 4,
        'length-past-eof',
        `block length ${len} runs past the end of the file (${buf.length - p - 8} bytes left)`,
      );
      p = resync(p + 8);
      continue;
    }
    try {
      parser.parse(buf, p + 8, p + 8 + len, { txids: false });
    } catch (e) {
      if (!(e instanceof ChainParseError)) throw e;
      problem(e.offset, e.kind, `${e.message} (block record at ${p})`);
      p = resync(p + 8);
      continue;
    }
    if (parser.mwebBytes > 0) {
      diag.add('chain.mweb_blocks');
      diag.add('chain.mweb_bytes_skipped', parser.mwebBytes);
    }
    out.push({
      fileIndex,
      file,
      offset: p + 8,
      length: len,
      hash: Buffer.from(parser.hash),
      prev: Buffer.from(parser.prevHash),
      bits: parser.bits,
      time: parser.time,
    });
    diag.add('chain.block_records');
    p += 8 + len;
  }
  if (p < buf.length)
    problem(p, 'truncated', `${buf.length - p} bytes at the end of the file are not a block record`);
  return out;
}

function isZero(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * The networks a block file can belong to, from the magic of its first record. A file that starts
 * with no known magic is not a block file (or belongs to a network coinradar does not know): an
 * error at file:0 rather than a run of bad-magic warnings and "indexed 0 blocks".
 */
export function blockFileNetworks(buf: Buffer, file: string): { magic: string; networks: ChainNetwork[] } {
  if (buf.length < 8) throw new Error(`${file}:0: ${buf.length} bytes, too short for a block record`);
  const magic = buf.subarray(0, 4).toString('hex');
  const networks = networksByMagic(magic);
  if (networks.length === 0)
    throw new Error(
      `${file}:0: not a block file: found ${magic} where a record's magic belongs; known magics: ` +
        Object.values(NETWORKS)
          .map((n) => `${n.name} ${n.magic}`)
          .join(', '),
    );
  return { magic, networks };
}
