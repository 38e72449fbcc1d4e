/**
 * Block sources for the index, all yielding blocks in height order: a node's blocks directory,
 * a single raw block (binary or hex), or a running node over JSON-RPC. The yielded ParsedBlock is
 * reused: consume it before asking for the next.
 */
import { readFileSync } from 'node:fs';
import type { Diagnostics } from '../flow/diagnostics.js';
import { bestChain } from './best-chain.js';
import { listBlockFiles, loadBlockFile, readXorKey, scanBlockFile, type BlockRecord } from './blkfile.js';
import { ChainParseError, ParsedBlock, coinbaseHeight } from './block.js';
import { hashHex } from './hash.js';
import type { ChainNetwork } from './network.js';
import type { NodeRpc } from './rpc.js';

export interface SourcedBlock {
  height: number;
  block: ParsedBlock;
  /** file:offset or rpc height, for messages. */
  where: string;
}

export interface SourceOptions {
  /** Skip blocks below this height (resume). */
  fromHeight?: number;
  /** Check each block's merkle root against its transactions. */
  checkMerkle?: boolean;
}

function merkleCheck(b: ParsedBlock, where: string, diag: Diagnostics, on: boolean): boolean {
  if (!on || b.merkleOk()) return true;
  diag.problem({
    source: where,
    offset: 0,
    unit: 'byte',
    kind: 'bad-merkle-root',
    message: `block ${hashHex(b.hash)}: merkle root does not match its transactions`,
  });
  return false;
}

/** Blocks of a node's blocks directory, best chain only, in height order. */
export async function* blocksFromDir(
  blocksDir: string,
  net: ChainNetwork,
  diag: Diagnostics,
  opts: SourceOptions = {},
): AsyncGenerator<SourcedBlock> {
  const files = listBlockFiles(blocksDir);
  if (files.length === 0) throw new Error(`${blocksDir}: no blk*.dat files`);
  const key = readXorKey(blocksDir);
  if (key) diag.add('chain.xor_obfuscated_files', files.length);
  const magic = Buffer.from(net.magic, 'hex');
  const parser = new ParsedBlock();
  const records: BlockRecord[] = [];
  for (let i = 0; i < files.length; i++) {
    const buf = loadBlockFile(files[i], key);
    records.push(...scanBlockFile(buf, files[i], i, magic, diag, parser));
    diag.add('chain.file_bytes', buf.length);
  }
  const chain = bestChain(records, diag);
  const cache = new Map<number, Buffer>();
  const from = opts.fromHeight ?? 0;
  try {
    for (const r of chain) {
      if (r.height < from) continue;
      let buf = cache.get(r.fileIndex);
      if (!buf) {
        if (cache.size >= 2) cache.delete(cache.keys().next().value!);
        buf = loadBlockFile(r.file, key);
        cache.set(r.fileIndex, buf);
      }
      const where = `${r.file}:${r.offset}`;
      parser.parse(buf, r.offset, r.offset + r.length);
      if (!merkleCheck(parser, where, diag, opts.checkMerkle ?? false)) continue;
      yield { height: r.height, block: parser, where };
    }
  } finally {
    // The last block handed out points into a whole blk file (up to 128 MB): let it go.
    cache.clear();
    parser.buf = new Uint8Array(0);
  }
}

/** One block from a file of raw bytes or of hex text; its height from BIP34 (-1 when absent). */
export function blockFromRaw(path: string, diag: Diagnostics, opts: SourceOptions = {}): SourcedBlock | null {
  let buf = readFileSync(path);
  const text = buf.subarray(0, Math.min(buf.length, 4096)).toString('latin1');
  if (/^[0-9a-fA-F\s]+$/.test(text)) buf = Buffer.from(buf.toString('latin1').replace(/\s+/g, ''), 'hex');
  const parser = new ParsedBlock();
  try {
    parser.parse(buf, 0, buf.length);
  } catch (e) {
    if (!(e instanceof ChainParseError)) throw e;
    diag.problem({ source: path, offset: e.offset, unit: 'byte', kind: e.kind, message: e.message });
    return null;
  }
  if (!merkleCheck(parser, path, diag, opts.checkMerkle ?? true)) return null;
  const height = parser.version >= 2 ? coinbaseHeight(buf, parser.inScript[0], parser.inScriptLen[0]) : -1;
  return { height, block: parser, where: path };
}

/** Blocks from a running node: getblockhash and getblock (verbosity 0) in batches. */
export async function* blocksFromRpc(
  rpc: NodeRpc,
  diag: Diagnostics,
  opts: SourceOptions = {},
): AsyncGenerator<SourcedBlock> {
  const info = await rpc.call<{ blocks: number; chain: string }>('getblockchaininfo');
  const parser = new ParsedBlock();
  const step = 50;
  for (let h = opts.fromHeight ?? 0; h <= info.blocks; h += step) {
    const heights: number[] = [];
    for (let k = h; k < h + step && k <= info.blocks; k++) heights.push(k);
    const hashes = await rpc.batch<string>(
      'getblockhash',
      heights.map((k) => [k]),
    );
    const hexes = await rpc.batch<string>(
      'getblock',
      hashes.map((x) => [x, 0]),
    );
    for (let i = 0; i < heights.length; i++) {
      const buf = Buffer.from(hexes[i], 'hex');
      const where = `${rpc.where}#${heights[i]}`;
      try {
        parser.parse(buf, 0, buf.length);
      } catch (e) {
        if (!(e instanceof ChainParseError)) throw e;
        diag.problem({ source: where, offset: e.offset, unit: 'byte', kind: e.kind, message: e.message });
        continue;
      }
      if (parser.mwebBytes > 0) {
        diag.add('chain.mweb_blocks');
        diag.add('chain.mweb_bytes_skipped', parser.mwebBytes);
      }
      if (hashHex(parser.hash) !== hashes[i])
        throw new Error(`${where}: block hash ${hashHex(parser.hash)} is not ${hashes[i]}`);
      if (!merkleCheck(parser, where, diag, opts.checkMerkle ?? false)) continue;
      yield { height: heights[i], block: parser, where };
    }
  }
}
