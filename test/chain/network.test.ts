// The network comes from the data: genesis hashes (proved here from the genesis headers' published
// parameters), block-file magic, and --network as an assertion that must agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import { NETWORKS, networkByGenesis, networksByMagic } from '../../src/chain/network.js';
import { scanBlocksDir } from '../../src/chain/source.js';
import { hashHex, sha256dBuffer } from '../../src/chain/hash.js';
import { blkRecord, blockHash, buildBlock, coinbaseTx, p2pkhScript } from '../../src/chain/synthetic.js';

/** Bitcoin's genesis coinbase ("The Times 03/Jan/2009 …"), shared by main, testnet3, signet and regtest. */
const BTC_GENESIS_TX = Buffer.from(
  '01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000',
  'hex',
);
const LTC_GENESIS_MERKLE = '97ddfbbae6be97fd6cdf3e7ca13232a3afff2353e29badfab7f73011edd4ced9';

/** Version-1 genesis header from its merkle root (display hex), time, bits and nonce. */
function genesisHeader(merkle: string, time: number, bits: number, nonce: number): Buffer {
  const h = Buffer.alloc(80);
  h.writeUInt32LE(1, 0);
  Buffer.from(merkle, 'hex').reverse().copy(h, 36);
  h.writeUInt32LE(time, 68);
  h.writeUInt32LE(bits, 72);
  h.writeUInt32LE(nonce, 76);
  return h;
}

const btcMerkle = hashHex(sha256dBuffer(BTC_GENESIS_TX));
// Time, bits, nonce of each genesis header as published in chainparams.cpp of Bitcoin Core and Litecoin Core.
const PARAMS: Record<string, [string, number, number, number]> = {
  bitcoin: [btcMerkle, 1231006505, 0x1d00ffff, 2083236893],
  testnet: [btcMerkle, 1296688602, 0x1d00ffff, 414098458],
  signet: [btcMerkle, 1598918400, 0x1e0377ae, 52613770],
  regtest: [btcMerkle, 1296688602, 0x207fffff, 2],
  litecoin: [LTC_GENESIS_MERKLE, 1317972665, 0x1e0ffff0, 2084524493],
  'litecoin-testnet': [LTC_GENESIS_MERKLE, 1486949366, 0x1e0ffff0, 293345],
  'litecoin-regtest': [LTC_GENESIS_MERKLE, 1296688602, 0x207fffff, 0],
};

test('genesis hashes of every network follow from the genesis headers; lookups by genesis and magic', () => {
  assert.equal(btcMerkle, '4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b');
  assert.deepEqual(Object.keys(PARAMS).sort(), Object.keys(NETWORKS).sort());
  for (const [name, [merkle, time, bits, nonce]] of Object.entries(PARAMS)) {
    const g = hashHex(sha256dBuffer(genesisHeader(merkle, time, bits, nonce)));
    assert.equal(NETWORKS[name].genesis, g, name);
    assert.equal(networkByGenesis(g)?.name, name);
    assert.equal(networkByGenesis(g.toUpperCase())?.name, name);
  }
  assert.equal(networkByGenesis('00'.repeat(32)), undefined);
  // Bitcoin and Litecoin regtest share their magic: only the genesis tells them apart.
  assert.deepEqual(
    networksByMagic('fabfb5da').map((n) => n.name),
    ['regtest', 'litecoin-regtest'],
  );
  assert.deepEqual(
    networksByMagic('fbc0b6db').map((n) => n.name),
    ['litecoin'],
  );
});

/** A chain on `genesis` of `n` more blocks, as blk records with `magic`. */
function chainOn(genesis: Buffer, n: number, magic: string): Buffer {
  const blocks = [genesis];
  for (let h = 1; h <= n; h++)
    blocks.push(
      buildBlock(
        blockHash(blocks[h - 1]),
        [coinbaseTx(h, [{ value: 50e8, script: p2pkhScript(Buffer.alloc(20, h)) }])],
        1_600_000_000 + h * 600,
      ),
    );
  return Buffer.concat(blocks.map((b) => blkRecord(magic, b)));
}

test('block files: the network from magic and genesis; --network asserts; unknown magic is an error at file:0', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-net-'));
  const file = join(dir, 'blk00000.dat');
  try {
    // The real Bitcoin regtest genesis block, magic fabfb5da (shared with Litecoin regtest).
    const [m, time, bits, nonce] = PARAMS.regtest;
    const genesis = Buffer.concat([genesisHeader(m, time, bits, nonce), Buffer.from([1]), BTC_GENESIS_TX]);
    assert.equal(hashHex(blockHash(genesis)), NETWORKS.regtest.genesis);
    writeFileSync(file, chainOn(genesis, 3, 'fabfb5da'));
    const s = scanBlocksDir(dir, new Diagnostics());
    assert.equal(s.net.name, 'regtest');
    assert.equal(s.networkFrom, `genesis block ${NETWORKS.regtest.genesis} and magic fabfb5da`);
    assert.equal(s.chain.length, 4);
    assert.equal(scanBlocksDir(dir, new Diagnostics(), NETWORKS.regtest).net.name, 'regtest');
    assert.throws(
      () => scanBlocksDir(dir, new Diagnostics(), NETWORKS['litecoin-regtest']),
      new RegExp(
        `^Error: --network litecoin-regtest does not match the data: the genesis block ${NETWORKS.regtest.genesis} in .*blk00000\\.dat is regtest's$`,
      ),
    );
    assert.throws(
      () => scanBlocksDir(dir, new Diagnostics(), NETWORKS.bitcoin),
      /--network bitcoin does not match the data: .*blk00000\.dat:0 has magic fabfb5da, that of regtest, litecoin-regtest \(bitcoin uses f9beb4d9\)/,
    );

    // A synthetic genesis: a shared magic needs --network; a unique magic names the network.
    const fake = buildBlock(
      Buffer.alloc(32),
      [coinbaseTx(0, [{ value: 1, script: p2pkhScript(Buffer.alloc(20)) }])],
      1,
    );
    writeFileSync(file, chainOn(fake, 2, 'fabfb5da'));
    assert.throws(
      () => scanBlocksDir(dir, new Diagnostics()),
      /magic fabfb5da is shared by regtest, litecoin-regtest and the genesis block [0-9a-f]{64} is none of theirs; say which with --network/,
    );
    const d = new Diagnostics();
    const asserted = scanBlocksDir(dir, d, NETWORKS['litecoin-regtest']);
    assert.equal(asserted.net.name, 'litecoin-regtest');
    assert.match(asserted.networkFrom, /^--network, magic fabfb5da agrees/);
    assert.equal(d.get('chain.genesis_unknown'), 1);
    writeFileSync(file, chainOn(fake, 2, 'fbc0b6db'));
    assert.equal(scanBlocksDir(dir, new Diagnostics()).net.name, 'litecoin');

    // Not a block file at all.
    writeFileSync(file, 'hello, this is text and not a block file\n');
    assert.throws(
      () => scanBlocksDir(dir, new Diagnostics()),
      /blk00000\.dat:0: not a block file: found 68656c6c where a record's magic belongs; known magics: bitcoin f9beb4d9/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
