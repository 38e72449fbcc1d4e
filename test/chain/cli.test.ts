import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as bitcoin from 'bitcoinjs-lib';

const fixture = new URL('../fixtures/chain/block413567.raw', import.meta.url).pathname;
const cli = (args: string[]) =>
  execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });

test('chain ingest of a hex dump, then chain tx / address / cluster / export as JSON', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-chain-cli-'));
  try {
    const hex = join(dir, 'block.hex');
    writeFileSync(hex, readFileSync(fixture).toString('hex') + '\n');
    const db = join(dir, 'db.duckdb');
    cli(['chain', 'ingest', hex, '--db', db]);
    const ref = bitcoin.Block.fromBuffer(readFileSync(fixture));
    const cbId = ref.transactions![0].getId();
    const tx = JSON.parse(cli(['chain', 'tx', cbId, '--db', db, '--format', 'json']));
    assert.equal(tx.txid, cbId);
    assert.equal(tx.height, 413567);
    assert.equal(tx.coinbase, true);
    const refOut = ref.transactions![0].outs;
    assert.deepEqual(
      tx.outputs.map((o: { value: number }) => o.value),
      refOut.map((o) => Number(o.value)),
    );
    const addr = tx.outputs.find((o: { address: string | null }) => o.address)?.address as string;
    const a = JSON.parse(cli(['chain', 'address', addr, '--db', db, '--format', 'json']));
    assert.equal(a.address, addr);
    assert.deepEqual(a.cluster_heuristics, ['common-input']);
    const c = JSON.parse(cli(['chain', 'cluster', addr, '--db', db, '--format', 'json']));
    assert.ok(c.addresses.includes(addr));
    assert.equal(c.size, c.addresses.length);
    const files = cli(['chain', 'export', join(dir, 'pq'), '--db', db])
      .trim()
      .split('\n');
    assert.equal(files.length, 6);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
