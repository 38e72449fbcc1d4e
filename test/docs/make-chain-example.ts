// Writes examples/chain/: the block file of a litecoind -regtest history built by the chain tests'
// scenario (test/chain/scenario.ts), with the tag and pool files docs/chain-usage.md uses. Run
// once by hand when the example must change (needs litecoind):
//   node --import tsx test/docs/make-chain-example.ts
// The node preallocates blk00000.dat to 16 MiB of zeros; only the bytes up to the last block are
// kept (the reader stops at the end of the file as at the zeros), so the example is ~60 KB.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RegtestNode } from '../chain/regtest-node.js';
import { buildScenario } from '../chain/scenario.js';

const out = 'examples/chain';
const node = await RegtestNode.start();
try {
  const truth = await buildScenario(node);
  await node.stop();
  const blk = readFileSync(join(node.blocksDir, 'blk00000.dat'));
  let end = blk.length;
  while (end > 0 && blk[end - 1] === 0) end--;
  // The last block may end in zero bytes (a lock time of 0): walk the records to the real end.
  let pos = 0;
  while (pos + 8 <= blk.length && blk.readUInt32LE(pos) !== 0) pos += 8 + blk.readUInt32LE(pos + 4);
  mkdirSync(join(out, 'regtest', 'blocks'), { recursive: true });
  writeFileSync(join(out, 'regtest', 'blocks', 'blk00000.dat'), blk.subarray(0, pos));
  writeFileSync(join(out, 'tags.csv'), `address,tag,label\n${truth.a[0]},sanctioned,alice\n`);
  writeFileSync(join(out, 'pools.csv'), `address,pool\n${truth.P1},Regtest Pool\n`);
  // Who is who in the history (the page's addresses and transactions come from here).
  writeFileSync(join(out, 'truth.json'), JSON.stringify(truth, null, 2) + '\n');
  console.log(
    `${out}: ${pos} bytes of blocks (of ${blk.length}; ${end} before the zeros); alice ${truth.a[0]}, pool ${truth.P1}`,
  );
} finally {
  await node.destroy();
}
