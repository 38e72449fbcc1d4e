import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as bitcoin from 'bitcoinjs-lib';
import { ChainParseError, ParsedBlock, coinbaseHeight } from '../../src/chain/block.js';
import { hashHex } from '../../src/chain/hash.js';
import { classifyScript, scriptPayload, ScriptType, witnessUnknownPayload } from '../../src/chain/script.js';
import { addressText } from '../../src/chain/address.js';
import { NETWORKS } from '../../src/chain/network.js';

const raw = readFileSync(new URL('../fixtures/chain/block413567.raw', import.meta.url));

function outputAddress(b: ParsedBlock, i: number): string {
  const t = classifyScript(b.buf, b.outScript[i], b.outScriptLen[i]);
  const payload =
    t === ScriptType.WitnessUnknown
      ? witnessUnknownPayload(b.buf, b.outScript[i], b.outScriptLen[i])
      : b.buf.subarray(scriptPayload.off, scriptPayload.off + scriptPayload.len);
  return addressText(t, payload, NETWORKS.bitcoin);
}

test('block 413567: txids, count, output total and every output address equal bitcoinjs-lib', () => {
  const b = new ParsedBlock().parse(raw, 0, raw.length, { wtxids: true });
  const ref = bitcoin.Block.fromBuffer(raw);
  const txs = ref.transactions!;
  assert.equal(raw.length, 999887);
  assert.equal(b.txCount, 1557);
  assert.equal(b.txCount, txs.length);
  assert.equal(hashHex(b.hash), ref.getId());
  assert.ok(b.merkleOk());
  let total = 0;
  let refTotal = 0n;
  let addresses = 0;
  for (let t = 0; t < b.txCount; t++) {
    assert.equal(hashHex(b.txid, t * 32), txs[t].getId(), `txid of tx ${t}`);
    assert.equal(b.txOut[t + 1] - b.txOut[t], txs[t].outs.length);
    assert.equal(b.txIn[t + 1] - b.txIn[t], txs[t].ins.length);
    for (let k = 0; k < txs[t].outs.length; k++) {
      const i = b.txOut[t] + k;
      const out = txs[t].outs[k];
      assert.equal(b.outValue[i], Number(out.value));
      refTotal += BigInt(out.value);
      total += b.outValue[i];
      let expected: string;
      try {
        expected = bitcoin.address.fromOutputScript(Buffer.from(out.script), bitcoin.networks.bitcoin);
      } catch {
        expected = '';
      }
      const got = outputAddress(b, i);
      // P2PK and bare multisig have no address text in bitcoinjs; we give them none either.
      assert.equal(got, expected, `address of tx ${t} output ${k}`);
      if (got) addresses++;
    }
  }
  assert.equal(total, 914705170223);
  assert.equal(refTotal, 914705170223n);
  assert.ok(addresses > 3000, `addresses checked: ${addresses}`);
  assert.equal(coinbaseHeight(b.buf, b.inScript[0], b.inScriptLen[0]), 413567);
});

test('segwit transaction: txid and wtxid equal bitcoinjs-lib', () => {
  // A BIP143 example transaction (native P2WPKH spend), wrapped in a one-transaction block.
  const txHex =
    '01000000000102fff7f7881a8099afa6940d42d1e7f6362bec38171ea3edf433541db4e4ad969f00000000494830450221008b9d1dc26ba6a9cb62127b02742fa9d754cd3bebf337f7a55d114c8e5cdd30be022040529b194ba3f9281a99f2b1c0a19c0489bc22ede944ccf4ecbab4cc618ef3ed01eeffffffef51e1b804cc89d182d279655c3aa89e815b1b309fe287d9b2b55d57b90ec68a0100000000ffffffff02202cb206000000001976a9148280b37df378db99f66f85c95a783a76ac7a6d5988ac9093510d000000001976a9143bde42dbee7e4dbe6a21b2d50ce2f0167faa815988ac000247304402203609e17b84f6a7d30c80bfa610b5b4542f32a8a0d5447a12fb1366d7f01cc44a0220573a954c4518331561406f90300e8f3358f51928d43c212a8caed02de67eebee0121025476c2e83188368da1ff3e292e7acafcdb3566bb0ad253f62fc70f07aeee635711000000';
  const tx = Buffer.from(txHex, 'hex');
  const header = Buffer.alloc(80);
  const blk = Buffer.concat([header, Buffer.from([1]), tx]);
  const b = new ParsedBlock().parse(blk, 0, blk.length, { wtxids: true });
  const ref = bitcoin.Transaction.fromBuffer(tx);
  assert.equal(hashHex(b.txid, 0), ref.getId());
  assert.equal(hashHex(b.wtxid, 0), Buffer.from(ref.getHash(true)).reverse().toString('hex'));
  assert.notEqual(hashHex(b.txid, 0), hashHex(b.wtxid, 0));
  assert.equal(b.txFlags[0], 1);
  assert.equal(b.inCount, 2);
  assert.equal(b.outCount, 2);
});

test('malformed blocks throw ChainParseError with the offset', () => {
  const b = new ParsedBlock();
  assert.throws(
    () => b.parse(raw, 0, 500000),
    (e: unknown) =>
      e instanceof ChainParseError && e.kind === 'truncated' && e.offset > 80 && e.offset <= 500000,
  );
  const bad = Buffer.from(raw);
  bad[80] = 0xff; // tx count varint
  assert.throws(
    () => b.parse(bad, 0, bad.length),
    (e: unknown) => e instanceof ChainParseError && e.kind === 'bad-varint' && e.offset === 80,
  );
  const trailing = Buffer.concat([raw, Buffer.from([1, 2, 3])]);
  assert.throws(
    () => b.parse(trailing, 0, trailing.length),
    (e: unknown) => e instanceof ChainParseError && e.kind === 'trailing-bytes' && e.offset === raw.length,
  );
});

test('Litecoin MWEB: HogEx transaction parsed, extension data after it skipped; an MWEB transaction is refused', async () => {
  const { buildBlock, coinbaseTx, serializeTx, legacyTxid, p2wpkhScript } =
    await import('../../src/chain/synthetic.js');
  const cb = coinbaseTx(500, [{ value: 50e8, script: p2wpkhScript(Buffer.alloc(20, 1)) }]);
  // HogEx: inputs/outputs as legacy, flag 0x08 after the marker, empty MWEB part (0x00) before locktime.
  const legacy = serializeTx(
    [{ prevTxid: Buffer.alloc(32, 7), vout: 0 }],
    [{ value: 1e8, script: Buffer.from('5820' + '11'.repeat(32), 'hex') }],
  );
  const hogex = Buffer.concat([
    legacy.subarray(0, 4),
    Buffer.from([0x00, 0x08]),
    legacy.subarray(4, legacy.length - 4),
    Buffer.from([0x00]),
    legacy.subarray(legacy.length - 4),
  ]);
  const ext = Buffer.from('01'.repeat(50), 'hex');
  const block = Buffer.concat([
    buildBlock(Buffer.alloc(32), [cb, hogex], 1, [legacyTxid(cb), legacyTxid(legacy)]),
    ext,
  ]);
  const b = new ParsedBlock().parse(block, 0, block.length);
  assert.equal(b.txCount, 2);
  assert.equal(b.txFlags[1], 8);
  assert.equal(b.mwebBytes, 50);
  assert.equal(hashHex(b.txid, 32), hashHex(legacyTxid(legacy)));
  assert.ok(b.merkleOk());
  const withMweb = Buffer.from(block);
  withMweb[block.length - 50 - 5] = 0x01; // the MWEB part is present
  assert.throws(
    () => new ParsedBlock().parse(withMweb, 0, withMweb.length),
    (e: unknown) => e instanceof ChainParseError && e.kind === 'mweb-tx',
  );
});
