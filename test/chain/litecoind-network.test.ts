// A real litecoind in regtest: `chain ingest` without --network reads the network from the node
// (genesis block) and from its block files (magic fabfb5da is Bitcoin regtest's too: the genesis
// decides), so an rltc1 address is found; a wrong --network is an error naming both networks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addressText } from '../../src/chain/address.js';
import { NETWORKS } from '../../src/chain/network.js';
import { ScriptType } from '../../src/chain/script.js';
import { p2wpkhScript } from '../../src/chain/synthetic.js';
import { cliProcess } from './cli-process.js';
import { litecoindMissing, RegtestNode } from './regtest-node.js';

test('litecoind regtest: chain ingest without --network stores rltc1 addresses (RPC and blk files); a wrong --network is refused', async (t) => {
  const missing = litecoindMissing();
  if (missing) {
    t.skip(missing);
    return;
  }
  const net = NETWORKS['litecoin-regtest'];
  const node = await RegtestNode.start();
  const dir = mkdtempSync(join(tmpdir(), 'cr-ltc-net-'));
  try {
    const hash = Buffer.alloc(20, 0x5a);
    for (let i = 0; i < 3; i++) await node.mineTagged(p2wpkhScript(hash), `net-test-${i}`);
    const address = addressText(ScriptType.P2WPKH, hash, net);
    assert.match(address, /^rltc1/);

    const rpcDb = join(dir, 'rpc.duckdb');
    const ing = await cliProcess(['chain', 'ingest', '--rpc', node.rpcUrl, '--db', rpcDb]);
    assert.equal(ing.code, 0, ing.stderr);
    assert.match(
      ing.stderr,
      new RegExp(
        `^network litecoin-regtest: the node's genesis block ${net.genesis} \\(chain "regtest"\\)$`,
        'm',
      ),
    );
    assert.match(ing.stderr, /^indexed 4 blocks \(tip 3\)/m);
    const c = await cliProcess(['chain', 'cluster', address, '--db', rpcDb, '--format', 'json']);
    assert.equal(c.code, 0, c.stderr);
    assert.deepEqual(JSON.parse(c.stdout).addresses, [address]);

    // --network only asserts: the wrong one is an error naming both, and nothing is stored.
    const wrongDb = join(dir, 'wrong.duckdb');
    const wrong = await cliProcess([
      'chain',
      'ingest',
      '--rpc',
      node.rpcUrl,
      '--network',
      'bitcoin',
      '--db',
      wrongDb,
    ]);
    assert.notEqual(wrong.code, 0);
    assert.match(
      wrong.stderr,
      new RegExp(
        `--network bitcoin does not match the data: the node's genesis block ${net.genesis} is litecoin-regtest's`,
      ),
    );
    const right = await cliProcess([
      'chain',
      'ingest',
      '--rpc',
      node.rpcUrl,
      '--network',
      'litecoin-regtest',
      '--db',
      wrongDb,
    ]);
    assert.equal(right.code, 0, right.stderr);
    assert.match(right.stderr, /^indexed 4 blocks \(tip 3\)/m);

    // The block files: same answer from magic + genesis, from the data dir, without --network.
    await node.stop();
    const blkDb = join(dir, 'blk.duckdb');
    const fromBlk = await cliProcess(['chain', 'ingest', node.datadir, '--db', blkDb]);
    assert.equal(fromBlk.code, 0, fromBlk.stderr);
    assert.match(
      fromBlk.stderr,
      new RegExp(`^network litecoin-regtest: genesis block ${net.genesis} and magic fabfb5da$`, 'm'),
    );
    const c2 = await cliProcess(['chain', 'cluster', address, '--db', blkDb, '--format', 'json']);
    assert.equal(c2.code, 0, c2.stderr);
    assert.deepEqual(JSON.parse(c2.stdout).addresses, [address]);
    const wrongBlk = await cliProcess([
      'chain',
      'ingest',
      node.blocksDir,
      '--network',
      'regtest',
      '--db',
      join(dir, 'w2.duckdb'),
    ]);
    assert.notEqual(wrongBlk.code, 0);
    assert.match(
      wrongBlk.stderr,
      /--network regtest does not match the data: the genesis block [0-9a-f]{64} in .*blk00000\.dat is litecoin-regtest's/,
    );
  } finally {
    await node.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
