import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import bs58 from 'bs58';
import { bech32, bech32m } from 'bech32';
import {
  ADDRESS_TEXT_MAX,
  addressText,
  addressTextInto,
  base58Check,
  base58Decode,
  parseAddress,
  segwitAddress,
} from '../../src/chain/address.js';
import { ScriptType } from '../../src/chain/script.js';
import { NETWORKS } from '../../src/chain/network.js';

/** Script types with an address, and their payload lengths. */
const PAYLOADS = [
  [ScriptType.P2PKH, 20],
  [ScriptType.P2SH, 20],
  [ScriptType.P2WPKH, 20],
  [ScriptType.P2WSH, 32],
  [ScriptType.P2TR, 32],
] as const;

const sha = (b: Buffer) => createHash('sha256').update(b).digest();

test('base58check equals the bs58 package (random payloads, leading zeros)', () => {
  for (let i = 0; i < 500; i++) {
    const payload = randomBytes(20);
    if (i % 10 === 0) payload.fill(0, 0, i % 20);
    const version = [0x00, 0x05, 0x30, 0x32, 0x6f, 0xc4, 0x3a][i % 7];
    const body = Buffer.concat([Buffer.from([version]), payload]);
    const expected = bs58.encode(Buffer.concat([body, sha(sha(body)).subarray(0, 4)]));
    assert.equal(base58Check(version, payload), expected);
    assert.deepEqual(base58Decode(expected), Buffer.from(bs58.decode(expected)));
  }
});

test('bech32 (v0) and bech32m (v1+) equal the bech32 package; parseAddress inverts addressText', () => {
  for (let i = 0; i < 300; i++) {
    const hrp = ['bc', 'tb', 'bcrt', 'ltc', 'rltc'][i % 5];
    const v = i % 3 === 0 ? 0 : i % 3 === 1 ? 1 : 2 + (i % 15);
    const prog = randomBytes(v === 0 ? (i % 2 ? 20 : 32) : v === 1 ? 32 : 2 + (i % 39));
    const words = [v, ...bech32.toWords(prog)];
    const expected = v === 0 ? bech32.encode(hrp, words) : bech32m.encode(hrp, words);
    assert.equal(segwitAddress(hrp, v, prog), expected);
  }
  const net = NETWORKS['litecoin-regtest'];
  for (const [type, len] of PAYLOADS) {
    const payload = randomBytes(len);
    const text = addressText(type, payload, net);
    const back = parseAddress(text, net);
    assert.equal(back?.type, type);
    assert.deepEqual(back?.payload, payload);
  }
  assert.equal(parseAddress('rltc1qnotanaddress', net), null);
});

test('addressTextInto writes the same text as addressText, from a payload inside a larger buffer', () => {
  const net = NETWORKS.bitcoin;
  const out = new Uint8Array(7 + ADDRESS_TEXT_MAX);
  for (const [type, len] of [...PAYLOADS, [ScriptType.WitnessUnknown, 41] as const]) {
    for (let i = 0; i < 50; i++) {
      const payload = randomBytes(len);
      if (type === ScriptType.WitnessUnknown) payload[0] = 2 + (i % 15);
      if (i % 5 === 0) payload.fill(0, type === ScriptType.WitnessUnknown ? 1 : 0, 4);
      const around = Buffer.concat([randomBytes(3), payload, randomBytes(5)]);
      out.fill(0xee);
      const n = addressTextInto(type, around, 3, len, net, out, 7);
      assert.equal(Buffer.from(out.subarray(7, 7 + n)).toString('latin1'), addressText(type, payload, net));
      assert.equal(out[7 + n], 0xee, 'nothing written past the text');
    }
  }
  assert.equal(addressTextInto(ScriptType.OpReturn, randomBytes(4), 0, 4, net, out, 0), 0);
});

test('parseAddress refuses text longer than any address before decoding it (base58 is quadratic)', () => {
  const net = NETWORKS.bitcoin;
  const t0 = performance.now();
  assert.equal(parseAddress('z'.repeat(1_000_000), net), null);
  assert.equal(parseAddress('bc1' + 'q'.repeat(1_000_000), net), null);
  assert.ok(performance.now() - t0 < 1000, 'refused without decoding');
  // The longest real forms still parse: a P2WSH bech32 address (62 characters).
  const p2wsh = 'bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3';
  assert.equal(parseAddress(p2wsh, net)?.payload.length, 32);
});
