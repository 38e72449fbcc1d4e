/**
 * Input format `nfcapd`: nfdump's binary flow files, as nfcapd writes them (nfcapd.YYYYMMDDhhmm).
 * Both layouts nfdump 1.7 reads:
 * - LAYOUT_VERSION_1 (nfdump 1.6): a 140-byte header (magic 0xA50C, version 1, flags with the
 *   compression bit, block count, ident), a 136-byte statistics record, then data blocks of type 2;
 * - LAYOUT_VERSION_2 (nfdump 1.7): a 40-byte header (magic, version 2, nfdump version, creation
 *   time, compression, encryption, appendix count and offset, block count), data blocks of type 3,
 *   and an appendix block (ident and statistics records) at the offset the header names.
 * Every block has a 12-byte header (records, size, type, flags); its data is compressed as the
 * file says (LZO, BZ2 or LZ4; ZSTD, which later nfdump builds add, is named and refused) unless
 * flag bit 0 marks the block uncompressed. Records are decoded in nfcapd-records.ts.
 *
 * Bad input: a corrupt block (it does not decompress, a record overruns it) is reported with the
 * file, block number and byte offset, and reading goes on at the next block, whose place the block
 * header gives; a file cut short in its last block (nfcapd killed while writing) has that block
 * counted as `truncated-block` and every earlier block read. The flow count in the file's
 * statistics is checked against the records read (`summary-mismatch`).
 */
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../flow/diagnostics.js';
import { registerFormat } from '../flow/formats.js';
import type { FlowBatch } from '../flow/record.js';
import type { FlowSource, FlowSourceOptions } from '../flow/source.js';
import { bz2Decompress } from './nfcapd-bz2.js';
import { lz4BlockDecompress } from './nfcapd-lz4.js';
import { lzo1xDecompress } from './nfcapd-lzo.js';
import { NfcapdRecordDecoder } from './nfcapd-records.js';

const MAGIC = 0xa50c;
const V1_HEADER = 140;
const V1_STAT = 136;
const V2_HEADER = 40;
const BLOCK_HEADER = 12;
const FLAG_BLOCK_UNCOMPRESSED = 1;
/** nfdump's BUFFSIZE: no block it writes or reads holds more (its readers refuse larger ones). */
export const MAX_BLOCK_BYTES = 5 * 1048576;
const TYPE_IDENT = 0x8001;
const TYPE_STAT = 0x8002;

export type NfcapdCompression = 'none' | 'lzo' | 'bz2' | 'lz4' | 'zstd';
const V2_COMPRESSION: NfcapdCompression[] = ['none', 'lzo', 'bz2', 'lz4', 'zstd'];

export interface NfcapdHeader {
  layout: 1 | 2;
  compression: NfcapdCompression;
  /** Where the first data block starts. */
  dataStart: number;
  /** Blocks the header announces (data blocks only in layout 2). */
  numBlocks: number;
  /** Layout 2: offset of the appendix (0: none). */
  appendixOffset: number;
  /** Flows the file's statistics count (layout 1: the header's stat record), when known. */
  statFlows?: number;
  /** nfdump version that wrote a layout-2 file, e.g. "1.7.1". */
  nfdumpVersion?: string;
}

/**
 * True for the first bytes of an nfdump file of either layout. A big-endian file (from nfcapd on a
 * big-endian machine) is claimed too, so that the reader names it rather than `unknown-format`.
 */
export function sniffNfcapd(head: Buffer): boolean {
  if (head.length < 4) return false;
  const le = head.readUInt16LE(0) === MAGIC;
  if (!le && head.readUInt16BE(0) !== MAGIC) return false;
  const layout = le ? head.readUInt16LE(2) : head.readUInt16BE(2);
  return layout === 1 || layout === 2;
}

/** Parse the file header; a string says why the file cannot be read. */
export function parseNfcapdHeader(head: Buffer): NfcapdHeader | string {
  if (head.length >= 2 && head.readUInt16BE(0) === MAGIC)
    return 'big-endian nfdump file (written on a big-endian machine); nfdump itself reads only its own byte order';
  if (head.length < 4 || head.readUInt16LE(0) !== MAGIC) return 'no nfdump magic 0xA50C';
  const layout = head.readUInt16LE(2);
  if (layout === 1) {
    if (head.length < V1_HEADER + V1_STAT)
      return `layout-1 header and stat record need ${V1_HEADER + V1_STAT} bytes, the file has ${head.length}`;
    const flags = head.readUInt32LE(4);
    const bits = flags & 0x19;
    const compression: NfcapdCompression =
      bits === 0 ? 'none' : bits === 0x1 ? 'lzo' : bits === 0x8 ? 'bz2' : bits === 0x10 ? 'lz4' : 'zstd';
    if (compression === 'zstd')
      return `layout-1 flags 0x${flags.toString(16)} name more than one compression`;
    return {
      layout: 1,
      compression,
      dataStart: V1_HEADER + V1_STAT,
      numBlocks: head.readUInt32LE(8),
      appendixOffset: 0,
      statFlows: u64(head, V1_HEADER),
    };
  }
  if (layout !== 2) return `unknown nfdump file layout ${layout}`;
  if (head.length < V2_HEADER) return `layout-2 header needs ${V2_HEADER} bytes, the file has ${head.length}`;
  const c = head[16];
  if (c >= V2_COMPRESSION.length) return `unknown compression ${c}`;
  if (head[17] !== 0)
    return `encrypted file (encryption ${head[17]}); nfdump defines no encryption it can read`;
  const v = head.readUInt32LE(4);
  return {
    layout: 2,
    compression: V2_COMPRESSION[c],
    dataStart: V2_HEADER,
    numBlocks: head.readUInt32LE(36),
    appendixOffset: u64(head, 24),
    nfdumpVersion: `${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`,
  };
}

function u64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off + 4) * 4294967296 + buf.readUInt32LE(off);
}

const DECOMPRESS: Record<'lzo' | 'bz2' | 'lz4', (src: Uint8Array, dst: Uint8Array) => number> = {
  lzo: lzo1xDecompress,
  bz2: bz2Decompress,
  lz4: lz4BlockDecompress,
};

export function readNfcapd(path: string, opts: FlowSourceOptions): FlowSource {
  return { [Symbol.asyncIterator]: () => nfcapdBatches(path, opts) };
}

async function* nfcapdBatches(path: string, opts: FlowSourceOptions): AsyncGenerator<FlowBatch> {
  const d = opts.diagnostics;
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const headBuf = Buffer.alloc(V1_HEADER + V1_STAT);
    const { bytesRead } = await fh.read(headBuf, 0, headBuf.length, 0);
    const header = parseNfcapdHeader(headBuf.subarray(0, bytesRead));
    const problem = (offset: number, kind: string, message: string) =>
      d.problem({ source: path, offset, unit: 'byte', kind, message });
    if (typeof header === 'string') {
      throw new InputError({ source: path, offset: 0, unit: 'byte', kind: 'bad-header', message: header });
    }
    if (header.compression === 'zstd') {
      throw new InputError({
        source: path,
        offset: 16,
        unit: 'byte',
        kind: 'unsupported-compression',
        message:
          'ZSTD-compressed blocks (a later nfdump than 1.7.1); decompress with `nfdump -r FILE -w OUT` first',
      });
    }
    const ready: FlowBatch[] = [];
    const decoder = new NfcapdRecordDecoder(path, opts.batchSize ?? 4096, d, (b) => ready.push(b));
    const blockHead = Buffer.alloc(BLOCK_HEADER);
    let raw = Buffer.alloc(1 << 20);
    const plain = header.compression === 'none' ? raw : Buffer.alloc(MAX_BLOCK_BYTES);
    const decompress = header.compression === 'none' ? undefined : DECOMPRESS[header.compression];
    let statFlows = header.statFlows;
    let pos = header.dataStart;
    let index = 0;
    let nextProgress = 0;
    while (pos < size) {
      if (pos >= nextProgress) {
        opts.onProgress?.(pos);
        nextProgress = pos + (4 << 20);
      }
      const at = pos;
      if (pos + BLOCK_HEADER > size) {
        problem(
          at,
          'truncated-block',
          `block ${index}: the file ends ${size - pos} bytes into its 12-byte header`,
        );
        d.add('blocks.truncated');
        break;
      }
      await fh.read(blockHead, 0, BLOCK_HEADER, pos);
      const numRecords = blockHead.readUInt32LE(0);
      const len = blockHead.readUInt32LE(4);
      const type = blockHead.readUInt16LE(8);
      const flags = blockHead.readUInt16LE(10);
      pos += BLOCK_HEADER;
      if (pos + len > size) {
        problem(
          at,
          'truncated-block',
          `block ${index}: ${len} bytes announced, the file ends after ${size - pos} (${numRecords} records not read)`,
        );
        d.add('blocks.truncated');
        d.add('records.skipped', numRecords);
        break;
      }
      const appendix = header.layout === 2 && header.appendixOffset > 0 && at >= header.appendixOffset;
      if (len > MAX_BLOCK_BYTES) {
        problem(
          at,
          'bad-block',
          `block ${index}: ${len} bytes, more than nfdump's ${MAX_BLOCK_BYTES}-byte block buffer; skipped`,
        );
        d.add('blocks.skipped');
        d.add('records.skipped', numRecords);
        pos += len;
        index++;
        continue;
      }
      if (raw.length < len) raw = Buffer.alloc(Math.max(len, Math.min(raw.length * 2, MAX_BLOCK_BYTES)));
      await fh.read(raw, 0, len, pos);
      let data = raw;
      let dataLen = len;
      let dataOffset = pos;
      if (decompress && !(flags & FLAG_BLOCK_UNCOMPRESSED)) {
        try {
          dataLen = decompress(raw.subarray(0, len), plain);
        } catch (e) {
          problem(
            at,
            'bad-block',
            `block ${index}: ${header.compression.toUpperCase()} data does not decompress (${e instanceof Error ? e.message : String(e)}); its ${numRecords} records skipped`,
          );
          d.add('blocks.skipped');
          d.add('records.skipped', numRecords);
          pos += len;
          index++;
          continue;
        }
        data = plain;
        dataOffset = -1;
      }
      pos += len;
      d.add('blocks.read');
      if (appendix) {
        statFlows = appendixFlows(data, dataLen, numRecords) ?? statFlows;
      } else if (type === 2 || type === 3) {
        // Record types tell 1.6 records from 1.7 ones, so either block type is read in either layout.
        d.add('records.read', numRecords);
        decoder.decodeBlock(data, dataLen, numRecords, { blockOffset: at, blockIndex: index, dataOffset });
      } else if (type === 4) {
        // Array blocks hold no flows nfdump -r prints.
        d.add('blocks.array');
      } else {
        problem(
          at,
          'unknown-block',
          `block ${index}: type ${type} (flows are in types 2 and 3); its ${numRecords} records skipped`,
        );
        d.add('records.skipped', numRecords);
      }
      index++;
      while (ready.length > 0) yield ready.shift()!;
    }
    opts.onProgress?.(size);
    if (decoder.batch.length > 0) yield decoder.batch;
    if (statFlows !== undefined) {
      d.add('summary.flows', statFlows);
      if (statFlows !== decoder.kept && d.get('problems') === 0)
        problem(
          0,
          'summary-mismatch',
          `the file's statistics say ${statFlows} flows, ${decoder.kept} were read`,
        );
    }
  } finally {
    await fh.close();
  }
}

/** The flow count of a layout-2 appendix's statistics record (TYPE_STAT), if it has one. */
function appendixFlows(buf: Buffer, len: number, numRecords: number): number | undefined {
  let p = 0;
  for (let k = 0; k < numRecords && p + 4 <= len; k++) {
    const type = buf.readUInt16LE(p);
    const size = buf.readUInt16LE(p + 2);
    if (size < 4 || p + size > len) return undefined;
    if (type === TYPE_STAT && size >= 12) return u64(buf, p + 4);
    if (type !== TYPE_IDENT && type !== TYPE_STAT) return undefined;
    p += size;
  }
  return undefined;
}

/** nfcapd's file name carries the start of the interval it covers: nfcapd.YYYYMMDDhhmm[ss]. */
const NAME_TIME = /^nfcapd\.(\d{12}(?:\d{2})?)$/;

/**
 * The nfdump files under `dir` (up to 8 levels deep; nfcapd -S nests 4), in time order: by the
 * time in the name, then by path. Files being written (`nfcapd.current.*`), files whose bytes are
 * not an nfdump file, symbolic links and other non-files are left out and returned as `skipped`.
 */
export async function nfcapdFilesIn(dir: string): Promise<{ files: string[]; skipped: string[] }> {
  const found: { path: string; time: string }[] = [];
  const skipped: string[] = [];
  const walk = async (d: string, depth: number) => {
    // nfcapd -S nests at most year/month/day/hour; a deeper tree is not an nfcapd directory.
    if (depth > 8) return;
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      // An unreadable subdirectory (permissions) is named as left out; the rest is still read.
      skipped.push(d);
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p, depth + 1);
      // Symbolic links and devices are not followed (no loops, nothing outside the tree): named.
      else if (!e.isFile()) skipped.push(p);
      else if (e.name.startsWith('nfcapd.current')) skipped.push(p);
      else if (!(await isNfcapdFile(p))) skipped.push(p);
      else found.push({ path: p, time: NAME_TIME.exec(e.name)?.[1].padEnd(14, '0') ?? '' });
    }
  };
  if (!(await stat(dir)).isDirectory()) throw new Error(`${dir} is not a directory`);
  await walk(dir, 0);
  found.sort((a, b) =>
    a.time < b.time ? -1 : a.time > b.time ? 1 : a.path < b.path ? -1 : a.path > b.path ? 1 : 0,
  );
  return { files: found.map((f) => f.path), skipped };
}

async function isNfcapdFile(path: string): Promise<boolean> {
  // A file that cannot be opened is not read here; `skipped` names it.
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return false;
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    return sniffNfcapd(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

registerFormat({
  kind: 'nfcapd',
  description: "nfdump's binary flow file (nfcapd.*, nfdump 1.6 and 1.7 layouts; LZO, LZ4, BZ2 blocks)",
  sniff: sniffNfcapd,
  read: readNfcapd,
});
