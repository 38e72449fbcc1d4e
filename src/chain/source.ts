/**
 * Block sources for the index, all yielding blocks in height order: a node's blocks directory,
 * a single raw block (binary or hex), or a running node over JSON-RPC. The yielded ParsedBlock is
 * reused: consume it before asking for the next.
 */
import { readFileSync } from 'node:fs';
import type { Diagnostics } from '../flow/diagnostics.js';
import { bestChain, type PlacedBlock } from './best-chain.js';
import {
  blockFileNetworks,
  listBlockFiles,
  loadBlockFile,
  readXorKey,
  scanBlockFile,
  type BlockRecord,
} from './blkfile.js';
import { ChainParseError, ParsedBlock, coinbaseHeight } from './block.js';
import { hashHex } from './hash.js';
import { assertNetwork, networkByGenesis, networksByMagic, type ChainNetwork } from './network.js';
import { blockHash, hexString, record, RpcError, text, wholeNumber, type NodeRpc } from './rpc.js';

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

/** A blocks directory scanned: its files, its network (from the data) and its best chain. */
export interface ScannedBlocks {
  files: string[];
  key: Uint8Array | null;
  net: ChainNetwork;
  /** How the network was known, for the run's summary. */
  networkFrom: string;
  chain: PlacedBlock[];
}

/**
 * Scan every blk file of a directory. The network comes from the data: the magic of the first
 * record narrows it to the networks that share that magic, and the hash of the genesis block (the
 * root of the best chain) picks one. `asserted` (--network) must agree; it decides only when the
 * genesis is not one coinradar knows (a synthetic chain) and the magic fits.
 */
export function scanBlocksDir(blocksDir: string, diag: Diagnostics, asserted?: ChainNetwork): ScannedBlocks {
  const files = listBlockFiles(blocksDir);
  if (files.length === 0) throw new Error(`${blocksDir}: no blk*.dat files`);
  const key = readXorKey(blocksDir);
  if (key) diag.add('chain.xor_obfuscated_files', files.length);
  let first: Buffer | null = loadBlockFile(files[0], key);
  const { magic, networks } = blockFileNetworks(first, files[0]);
  if (asserted && !networks.includes(asserted))
    throw new Error(
      `--network ${asserted.name} does not match the data: ${files[0]}:0 has magic ${magic}, ` +
        `that of ${networks.map((n) => n.name).join(', ')} (${asserted.name} uses ${asserted.magic})`,
    );
  const magicBytes = Buffer.from(magic, 'hex');
  const parser = new ParsedBlock();
  const records: BlockRecord[] = [];
  for (let i = 0; i < files.length; i++) {
    const buf = first ?? loadBlockFile(files[i], key);
    // Only one whole blk file (up to 128 MiB) is held at a time.
    first = null;
    records.push(...scanBlockFile(buf, files[i], i, magicBytes, diag, parser));
    diag.add('chain.file_bytes', buf.length);
  }
  const chain = bestChain(records, diag);
  const genesis = chain.length > 0 && chain[0].height === 0 ? hashHex(chain[0].hash) : null;
  const known = genesis ? networkByGenesis(genesis) : undefined;
  let net: ChainNetwork;
  let networkFrom: string;
  if (known && networks.includes(known)) {
    net = assertNetwork(known, `the genesis block ${genesis} in ${chain[0].file}`, asserted);
    networkFrom = `genesis block ${genesis} and magic ${magic}`;
  } else if (asserted) {
    net = asserted;
    networkFrom = `--network, magic ${magic} agrees (genesis ${genesis ?? 'not in the files'} is not a known one)`;
  } else if (networks.length === 1) {
    net = networks[0];
    networkFrom = `magic ${magic} (genesis ${genesis ?? 'not in the files'} is not a known one)`;
  } else
    throw new Error(
      `${files[0]}: magic ${magic} is shared by ${networks.map((n) => n.name).join(', ')} and the genesis block ` +
        `${genesis ?? '(not in the files)'} is none of theirs; say which with --network`,
    );
  if (!known) diag.add('chain.genesis_unknown');
  return { files, key, net, networkFrom, chain };
}

/** Blocks of a node's blocks directory, best chain only, in height order. */
export async function* blocksFromDir(
  blocksDir: string,
  net: ChainNetwork | undefined,
  diag: Diagnostics,
  opts: SourceOptions = {},
): AsyncGenerator<SourcedBlock> {
  yield* blocksOfScan(scanBlocksDir(blocksDir, diag, net), diag, opts);
}

/** The blocks of a scanned directory, in height order. */
export async function* blocksOfScan(
  scan: ScannedBlocks,
  diag: Diagnostics,
  opts: SourceOptions = {},
): AsyncGenerator<SourcedBlock> {
  const { chain, key } = scan;
  const parser = new ParsedBlock();
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

/**
 * One block from a file of raw bytes or of hex text; its height from BIP34 (-1 when absent). The
 * user named this one file as a block: if it is not one, that is an error with file and offset,
 * not a warning and "indexed 0 blocks".
 */
export function blockFromRaw(path: string, diag: Diagnostics, opts: SourceOptions = {}): SourcedBlock {
  let buf = readFileSync(path);
  // Hex text when it opens with a header's worth of hex digits (160): binary headers never do, and
  // a bad digit further on is then reported where it is rather than parsed as binary.
  const head = buf.subarray(0, Math.min(buf.length, 4096)).toString('latin1');
  if (/^[0-9a-fA-F]{160}/.test(head.replace(/\s+/g, ''))) {
    const hex = buf.toString('latin1').replace(/\s+/g, '');
    buf = Buffer.from(hex, 'hex');
    // Buffer.from stops at the first non-hex pair: name where the hex ends instead of parsing a stub.
    if (buf.length * 2 !== hex.length)
      throw new Error(`${path}: not a block: hex text stops at hex digit ${buf.length * 2} of ${hex.length}`);
  }
  if (buf.length >= 4 && networksByMagic(buf.subarray(0, 4).toString('hex')).length > 0)
    throw new Error(
      `${path}:0: starts with block-file magic ${buf.subarray(0, 4).toString('hex')}: a blk*.dat file; give its blocks directory`,
    );
  const parser = new ParsedBlock();
  try {
    parser.parse(buf, 0, buf.length);
  } catch (e) {
    if (!(e instanceof ChainParseError)) throw e;
    throw new Error(`${path}:${e.offset}: not a block: ${e.message}`, { cause: e });
  }
  if (!merkleCheck(parser, path, diag, opts.checkMerkle ?? true))
    throw new Error(`${path}:0: block ${hashHex(parser.hash)}: merkle root does not match its transactions`);
  const height = parser.version >= 2 ? coinbaseHeight(buf, parser.inScript[0], parser.inScriptLen[0]) : -1;
  return { height, block: parser, where: path };
}

/** The part of getblockchaininfo the ingest uses, checked. */
export const blockchainInfo = record({ chain: text, blocks: wholeNumber, bestblockhash: blockHash });

/**
 * The network a node is on: `getblockhash 0` against the genesis hashes coinradar knows, checked
 * against getblockchaininfo.chain. `asserted` (--network) must agree; it is taken on its word only
 * when the genesis is unknown and the chain name fits.
 */
export async function networkOfNode(
  rpc: NodeRpc,
  asserted?: ChainNetwork,
): Promise<{ net: ChainNetwork; networkFrom: string }> {
  const info = await rpc.call('getblockchaininfo', [], blockchainInfo);
  const genesis = await rpc.call('getblockhash', [0], blockHash);
  const known = networkByGenesis(genesis);
  if (known) {
    if (known.rpcChain !== info.chain)
      throw new Error(
        `node at ${rpc.where}: genesis block ${genesis} is ${known.name}'s, but getblockchaininfo says chain "${info.chain}"`,
      );
    return {
      net: assertNetwork(known, `the node's genesis block ${genesis}`, asserted),
      networkFrom: `the node's genesis block ${genesis} (chain "${info.chain}")`,
    };
  }
  if (asserted && asserted.rpcChain === info.chain)
    return { net: asserted, networkFrom: `--network; the node's genesis ${genesis} is not a known one` };
  throw new Error(
    `node at ${rpc.where}: genesis block ${genesis} (chain "${info.chain}") is not that of any network coinradar knows` +
      (asserted ? `; --network ${asserted.name} is chain "${asserted.rpcChain}"` : ''),
  );
}

/**
 * Blocks from a running node: getblockhash and getblock (verbosity 0) in batches. A getblock batch
 * whose answer passes the size cap is halved (down to one block) and stays at that size: only a
 * single block over the cap is an error.
 */
export async function* blocksFromRpc(
  rpc: NodeRpc,
  diag: Diagnostics,
  opts: SourceOptions = {},
): AsyncGenerator<SourcedBlock> {
  const info = await rpc.call('getblockchaininfo', [], blockchainInfo);
  const parser = new ParsedBlock();
  const step = 50;
  let blockBatch = step;
  const getBlocks = async (hashes: string[]): Promise<string[]> => {
    const out: string[] = [];
    for (let i = 0; i < hashes.length;) {
      const n = Math.min(blockBatch, hashes.length - i);
      try {
        out.push(
          ...(await rpc.batch(
            'getblock',
            hashes.slice(i, i + n).map((x) => [x, 0]),
            hexString,
          )),
        );
        i += n;
      } catch (e) {
        if (!(e instanceof RpcError && e.failure === 'too-large' && n > 1)) throw e;
        blockBatch = Math.max(1, n >> 1);
        diag.add('chain.rpc_batches_split');
      }
    }
    return out;
  };
  for (let h = opts.fromHeight ?? 0; h <= info.blocks; h += step) {
    const heights: number[] = [];
    for (let k = h; k < h + step && k <= info.blocks; k++) heights.push(k);
    const hashes = await rpc.batch(
      'getblockhash',
      heights.map((k) => [k]),
      blockHash,
    );
    const hexes = await getBlocks(hashes);
    for (let i = 0; i < heights.length; i++) {
      const buf = Buffer.from(hexes[i], 'hex');
      if (buf.length * 2 !== hexes[i].length)
        throw new RpcError(
          'getblock',
          rpc.where,
          'type',
          `result for block ${hashes[i]} is not hex: a non-hex digit at character ${buf.length * 2}`,
        );
      const where = `${rpc.where}#${heights[i]}`;
      // A block the node serves must parse and be the one asked for: skipping it would only move
      // the failure to the next block ("does not extend the indexed tip"), far from its cause.
      const bad = (detail: string) =>
        new RpcError('getblock', rpc.where, 'type', `block ${hashes[i]} at height ${heights[i]}: ${detail}`);
      try {
        parser.parse(buf, 0, buf.length);
      } catch (e) {
        if (!(e instanceof ChainParseError)) throw e;
        diag.problem({ source: where, offset: e.offset, unit: 'byte', kind: e.kind, message: e.message });
        throw bad(`does not parse at byte ${e.offset}: ${e.message}`);
      }
      if (parser.mwebBytes > 0) {
        diag.add('chain.mweb_blocks');
        diag.add('chain.mweb_bytes_skipped', parser.mwebBytes);
      }
      if (hashHex(parser.hash) !== hashes[i]) throw bad(`the node sent block ${hashHex(parser.hash)}`);
      if (!merkleCheck(parser, where, diag, opts.checkMerkle ?? false))
        throw bad('merkle root does not match its transactions');
      yield { height: heights[i], block: parser, where };
    }
  }
}
