// A file named as one block must be one: every way it is not is an error naming file and offset,
// never a warning and "indexed 0 blocks".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import { blockFromRaw } from '../../src/chain/source.js';
import { blkRecord } from '../../src/chain/synthetic.js';

const fixture = new URL('../fixtures/chain/block413567.raw', import.meta.url).pathname;

test('raw block: the real block reads; cut, corrupted, non-hex or blk-framed copies are errors with file and offset', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-raw-'));
  try {
    const block = readFileSync(fixture);
    const ok = blockFromRaw(fixture, new Diagnostics());
    assert.equal(ok.height, 413567);
    const at = (name: string, data: Buffer | string) => {
      const p = join(dir, name);
      writeFileSync(p, data);
      return p;
    };
    const cut = at('cut.raw', block.subarray(0, 500_000));
    assert.throws(
      () => blockFromRaw(cut, new Diagnostics()),
      new RegExp(`^Error: ${cut}:\\d+: not a block: `),
    );
    const flipped = Buffer.from(block);
    flipped[40] ^= 1; // a byte of the merkle root
    const bad = at('merkle.raw', flipped);
    assert.throws(
      () => blockFromRaw(bad, new Diagnostics()),
      new RegExp(`^Error: ${bad}:0: block [0-9a-f]{64}: merkle root does not match its transactions$`),
    );
    const hex = block.toString('hex');
    const nonHex = at('bad.hex', hex.slice(0, 1000) + 'zz' + hex.slice(1002) + '\n');
    assert.throws(
      () => blockFromRaw(nonHex, new Diagnostics()),
      new RegExp(`^Error: ${nonHex}: not a block: hex text stops at hex digit 1000 of ${hex.length}$`),
    );
    // Hex wrapped at 64 digits a line reads like one line.
    const wrapped = at('wrapped.hex', (hex.match(/.{1,64}/g) ?? []).join('\n') + '\n');
    assert.equal(blockFromRaw(wrapped, new Diagnostics()).height, 413567);
    const framed = at('blk.raw', blkRecord('f9beb4d9', block));
    assert.throws(
      () => blockFromRaw(framed, new Diagnostics()),
      new RegExp(
        `^Error: ${framed}:0: starts with block-file magic f9beb4d9: a blk\\*\\.dat file; give its blocks directory$`,
      ),
    );
    const trailing = at('trailing.raw', Buffer.concat([block, Buffer.alloc(3)]));
    assert.throws(
      () => blockFromRaw(trailing, new Diagnostics()),
      new RegExp(`^Error: ${trailing}:\\d+: not a block: `),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
