import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import { loadBlockFile, scanBlockFile } from '../../src/chain/blkfile.js';
import { blocksFromDir } from '../../src/chain/source.js';
import { hashHex } from '../../src/chain/hash.js';
import { NETWORKS } from '../../src/chain/network.js';
import { blkRecord, blockHash, buildBlock, coinbaseTx, p2pkhScript } from '../../src/chain/synthetic.js';

const net = NETWORKS['litecoin-regtest'];

/** A small chain g..b5 and a stale sibling of b2 (b2x). */
function makeChain() {
  const blocks: Buffer[] = [];
  let prev: Buffer = Buffer.alloc(32);
  for (let h = 0; h <= 5; h++) {
    const b = buildBlock(
      prev,
      [coinbaseTx(h, [{ value: 50e8, script: p2pkhScript(Buffer.alloc(20, h + 1)) }])],
      1_600_000_000 + h * 600,
    );
    blocks.push(b);
    prev = blockHash(b);
  }
  const b2x = buildBlock(
    blockHash(blocks[1]),
    [coinbaseTx(2, [{ value: 50e8, script: p2pkhScript(Buffer.alloc(20, 99)) }], 'stale')],
    1_600_001_300,
  );
  return { blocks, b2x };
}

async function collect(dir: string, diag: Diagnostics) {
  const out: { height: number; hash: string }[] = [];
  for await (const s of blocksFromDir(dir, net, diag))
    out.push({ height: s.height, hash: hashHex(s.block.hash) });
  return out;
}

test('blk files: file order is not height order; stale fork dropped; preallocated zeros; XOR key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-blk-'));
  try {
    const { blocks, b2x } = makeChain();
    const [g, b1, b2, b3, b4, b5] = blocks;
    const m = net.magic;
    const f0 = Buffer.concat([g, b1, b3, b2x, b2].map((b) => blkRecord(m, b)));
    const f1 = Buffer.concat([blkRecord(m, b5), blkRecord(m, b4), Buffer.alloc(4096)]);
    for (const xor of [null, Buffer.from('0123456789abcdef', 'hex')]) {
      const write = (name: string, data: Buffer) => {
        const d = Buffer.from(data);
        if (xor) for (let i = 0; i < d.length; i++) d[i] ^= xor[i % 8];
        writeFileSync(join(dir, name), d);
      };
      if (xor) writeFileSync(join(dir, 'xor.dat'), xor);
      write('blk00000.dat', f0);
      write('blk00001.dat', f1);
      const diag = new Diagnostics();
      const got = await collect(dir, diag);
      assert.deepEqual(
        got,
        blocks.map((b, h) => ({ height: h, hash: hashHex(blockHash(b)) })),
      );
      assert.equal(diag.get('chain.stale_blocks'), 1);
      assert.equal(diag.get('problems'), 0, diag.summary());
      assert.equal(diag.get('chain.preallocated_bytes'), 4096);
      assert.equal(diag.get('chain.xor_obfuscated_files'), xor ? 2 : 0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('corrupt blk file: wrong magic, truncated block, bad varint, length past EOF → located, resynchronised', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-blk-'));
  try {
    const { blocks, b2x } = makeChain();
    const [g, b1, b2, b3, b4, b5] = blocks;
    const m = net.magic;
    const parts: Buffer[] = [];
    const at: number[] = [];
    const push = (b: Buffer) => {
      at.push(parts.reduce((s, x) => s + x.length, 0));
      parts.push(b);
    };
    push(blkRecord(m, g));
    const wrong = blkRecord(m, b1);
    wrong.write('deadbeef', 0, 'hex');
    push(wrong);
    const truncated = blkRecord(m, b2).subarray(0, 8 + 60); // prefix says the full length
    push(truncated);
    push(blkRecord(m, b3));
    const badVarint = blkRecord(m, b4);
    badVarint[8 + 80] = 0xff;
    push(badVarint);
    push(blkRecord(m, b5));
    const pastEof = blkRecord(m, b2x);
    pastEof.writeUInt32LE(b2x.length + 1000, 4);
    push(pastEof);
    const file = join(dir, 'blk00000.dat');
    writeFileSync(file, Buffer.concat(parts));
    const diag = new Diagnostics();
    const recs = scanBlockFile(loadBlockFile(file, null), file, 0, Buffer.from(m, 'hex'), diag);
    assert.deepEqual(
      recs.map((r) => hashHex(r.hash)),
      [g, b3, b5].map((b) => hashHex(blockHash(b))),
    );
    const problems = diag.problems.map((p) => ({ source: p.source, kind: p.kind, offset: p.offset }));
    assert.equal(problems.length, 4, JSON.stringify(problems));
    assert.deepEqual(problems[0], { source: file, kind: 'bad-magic', offset: at[1] });
    // The truncated block swallows the next record's bytes and fails inside them.
    assert.equal(problems[1].source, file);
    assert.ok(problems[1].offset > at[2] + 8 && problems[1].offset < at[4], JSON.stringify(problems[1]));
    assert.deepEqual(problems[2], { source: file, kind: 'bad-varint', offset: at[4] + 8 + 80 });
    assert.deepEqual(problems[3], { source: file, kind: 'length-past-eof', offset: at[6] + 4 });
    assert.match(diag.problems[0].message, /expected magic fabfb5da, found deadbeef/);
    assert.ok(diag.get('chain.resync') >= 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
