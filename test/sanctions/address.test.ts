import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as bitcoin from 'bitcoinjs-lib';
import bs58 from 'bs58';
import * as bech32Lib from 'bech32';
import { checkAddress, checkEvm, checkMonero, coinFromListCode } from '../../src/sanctions/address.js';
import { base58Decode, base58CheckEncode } from '../../src/sanctions/base58.js';
import { decodeCashAddr, encodeCashAddr } from '../../src/sanctions/cashaddr.js';

test('base58 decoding agrees with bs58 on random payloads', () => {
  for (let i = 0; i < 200; i++) {
    const b = randomBytes(1 + (i % 40));
    if (i % 7 === 0) b[0] = 0;
    const s = bs58.encode(b);
    assert.deepEqual(Buffer.from(base58Decode(s)!), b);
  }
  assert.equal(base58Decode('0OIl'), null);
});

test('BTC addresses agree with bitcoinjs-lib (P2PKH, P2SH, P2WPKH, P2WSH, P2TR)', () => {
  for (let i = 0; i < 50; i++) {
    const h20 = randomBytes(20);
    const h32 = randomBytes(32);
    const cases: [string, string][] = [
      [bitcoin.payments.p2pkh({ hash: h20 }).address!, 'p2pkh'],
      [bitcoin.payments.p2sh({ hash: h20 }).address!, 'p2sh'],
      [bitcoin.payments.p2wpkh({ hash: h20 }).address!, 'p2wpkh'],
      [bitcoin.payments.p2wsh({ hash: h32 }).address!, 'p2wsh'],
      [bitcoin.address.toBech32(h32, 1, 'bc'), 'p2tr'],
    ];
    for (const [a, kind] of cases) {
      const c = checkAddress('XBT', a);
      assert.equal(c.valid, true, `${a}: ${c.problem}`);
      assert.equal(c.kind, kind);
      assert.equal(c.network, 'mainnet');
    }
    const t = checkAddress(
      'BTC',
      bitcoin.payments.p2wpkh({ hash: h20, network: bitcoin.networks.testnet }).address!,
    );
    assert.equal(t.network, 'testnet');
  }
  // bech32 is case-insensitive: the key is lower case; mixed case is invalid.
  const up = checkAddress('BTC', 'BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4');
  assert.equal(up.valid, true);
  assert.equal(up.key, 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4');
  assert.equal(checkAddress('BTC', 'bc1qW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4').valid, false);
  // v1 must be bech32m (BIP-350 test vector: v1 with bech32 checksum is invalid).
  assert.equal(
    checkAddress('BTC', 'bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd').valid,
    false,
  );
  assert.equal(
    checkAddress('BTC', 'bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0').valid,
    true,
  );
  const bad = checkAddress('BTC', '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3');
  assert.equal(bad.valid, false);
  assert.match(bad.problem!, /checksum/);
  assert.equal(checkAddress('BTC', '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2').valid, true);
});

test('OFAC codes map to tickers', () => {
  assert.equal(coinFromListCode('XBT'), 'BTC');
  assert.equal(coinFromListCode('eth'), 'ETH');
});

test('LTC, BCH (cashaddr and legacy), DASH, ZEC, TRX, XRP', () => {
  // LTC P2SH (M...) from the September 2024 SDN list; an LTC segwit address built from a BTC one's program.
  const m = checkAddress('LTC', 'M8yFL6SFC6TreATegTyuSYkDfDRbisdpT3');
  assert.deepEqual([m.valid, m.kind], [true, 'p2sh']);
  const prog = bitcoin.address.fromBech32('bc1q05aktddf9ce4p7hh3stgsf253m4vweu7nkhtmw').data;
  const ltc1 = checkAddress('LTC', bitcoin.address.toBech32(prog, 0, 'ltc'));
  assert.deepEqual([ltc1.valid, ltc1.kind], [true, 'p2wpkh']);
  // A BTC address is not an LTC address (wrong version byte / wrong hrp).
  assert.equal(checkAddress('LTC', '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2').valid, false);
  assert.equal(checkAddress('LTC', 'bc1q05aktddf9ce4p7hh3stgsf253m4vweu7nkhtmw').valid, false);
  // CashAddr spec test vector: same hash as legacy 1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu.
  const ca = checkAddress('BCH', 'bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a');
  assert.equal(ca.valid, true);
  assert.equal(ca.key, 'qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a');
  assert.deepEqual(ca.aliases, ['1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu']);
  const legacy = checkAddress('BCH', '1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu');
  assert.deepEqual(legacy.aliases, ['qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a']);
  assert.equal(checkAddress('BCH', 'qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6b').valid, false);
  const r = decodeCashAddr('bitcoincash:ppm2qsznhks23z7629mms6s4cwef74vcwvn0h829pq');
  assert.ok(r.ok && r.type === 'p2sh');
  if (r.ok) assert.equal(encodeCashAddr('p2sh', r.hash), 'ppm2qsznhks23z7629mms6s4cwef74vcwvn0h829pq');
  // DASH (X...), ZEC transparent (t1...), TRX (T..., 0x41), XRP (own alphabet)
  const dash = checkAddress('DASH', base58CheckEncode(Uint8Array.from([0x4c, ...randomBytes(20)])));
  assert.equal(dash.valid, true);
  assert.equal(
    checkAddress('ZEC', base58CheckEncode(Uint8Array.from([0x1c, 0xb8, ...randomBytes(20)]))).kind,
    'p2pkh',
  );
  assert.equal(
    checkAddress('TRX', base58CheckEncode(Uint8Array.from([0x41, ...randomBytes(20)]))).valid,
    true,
  );
  assert.equal(checkAddress('XRP', 'rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh').valid, true);
  assert.equal(checkAddress('XRP', 'rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTi').valid, false);
  // An unknown coin is an opaque string, kept as written.
  const o = checkAddress('FOO', ' AbC ');
  assert.deepEqual([o.valid, o.checked, o.key], [true, false, 'AbC']);
});

test('ETH: EIP-55 mixed case is checked, the key is lower case', () => {
  const good = checkEvm('ETH', '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed');
  assert.equal(good.valid, true);
  assert.equal(good.key, '0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed');
  assert.equal(checkEvm('ETH', '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD').valid, false);
  assert.equal(checkEvm('ETH', '0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed').valid, true);
  assert.equal(checkAddress('USDT', '0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed').kind, 'evm');
});

test('XMR: Monero base58 with Keccak checksum (a listed address from the SDN)', () => {
  const a = '49HqitRzdnhYjgTEAhgGpCfsjdTeMbUTU6cyR4JV1R7k2Eej9rGT8JpFiYDa4tZM6RZiFrHmMzgSrhHEqpDYKBe5B2ufNsL';
  const c = checkMonero('XMR', a);
  assert.equal(c.valid, true, c.problem);
  assert.equal(c.kind, 'monero-standard');
  const sub = checkMonero(
    'XMR',
    '884Bz8UH63aYsjVdkfWfScRYWZGGNbjFL7pztqvWNSrtYT4reFSwyvkCj9KEGUtheHhhMUj87ciTBFyzoesrMJ4L1FvSoxL',
  );
  assert.equal(sub.kind, 'monero-subaddress');
  const flipped = a.slice(0, 50) + (a[50] === 'A' ? 'B' : 'A') + a.slice(51);
  assert.equal(checkMonero('XMR', flipped).valid, false);
});

/** BIP-173's checksum, written out here as the reference the validator is held to (not the bech32 package it uses). */
function bech32ChecksumOk(s: string): boolean {
  const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
  const sep = s.lastIndexOf('1');
  if (sep < 1 || s.length - sep < 7) return false;
  const hrp = s.slice(0, sep);
  const data: number[] = [];
  for (const ch of s.slice(sep + 1)) {
    const v = CHARSET.indexOf(ch);
    if (v < 0) return false;
    data.push(v);
  }
  const values = [
    ...[...hrp].map((c) => c.charCodeAt(0) >> 5),
    0,
    ...[...hrp].map((c) => c.charCodeAt(0) & 31),
    ...data,
  ];
  const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = (((chk & 0x1ffffff) << 5) ^ v) >>> 0;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk = (chk ^ GEN[i]) >>> 0;
  }
  return chk === 1;
}

test('BNB Beacon Chain: bnb1… is that chain’s bech32 (20-byte account), checksum-broken ones refused; 0x… stays EVM (BNB Smart Chain)', () => {
  // Real mainnet accounts seen in public code (the SDN versions in ../shared/data list none, checked:
  // no "bnb1" in either SDN Advanced XML, sdn.csv, sdn_comments or the address lists): a Binance
  // Chain RPC client's test account, THORChain's stagenet funding address, Binance Chain's doc example.
  const real = [
    'bnb17eak3g00hn5mvvlz6f0dv09p83z7cu5ym7cesl',
    'bnb1laxspje9u0faauqh7j07p9x6ds8lg4ychhg5qh',
    'bnb1grpf0955h0ykzq3ar5nmum7y6gdfl6lxfn46h2',
  ];
  for (const a of real) {
    assert.ok(bech32ChecksumOk(a), a);
    const c = checkAddress('BNB', a);
    assert.equal(c.valid, true, `${a}: ${c.problem}`);
    assert.equal(c.kind, 'bnb-beacon');
    assert.equal(c.network, 'mainnet');
    assert.equal(c.key, a);
    // Upper case is the same address (bech32 is case-insensitive); mixed case is refused.
    assert.equal(checkAddress('BNB', a.toUpperCase()).key, a);
    assert.equal(checkAddress('BNB', a.slice(0, 10) + a.slice(10).toUpperCase()).valid, false);
    // Every single-character substitution in the data part breaks the checksum (BIP-173 detects
    // any one error); the validator refuses exactly what the reference polymod refuses.
    const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
    let tried = 0;
    for (let i = 4; i < a.length; i++) {
      for (const ch of CHARSET) {
        if (ch === a[i]) continue;
        const broken = a.slice(0, i) + ch + a.slice(i + 1);
        assert.equal(bech32ChecksumOk(broken), false);
        const r = checkAddress('BNB', broken);
        assert.equal(r.valid, false, broken);
        assert.match(r.problem ?? '', /checksum|bech32/);
        tried++;
      }
    }
    assert.equal(tried, (a.length - 4) * 31);
  }
  // Other human parts and lengths: a Cosmos account, a 32-byte program, Bitcoin's bc1.
  const { bech32, bech32m } = bech32Lib;
  const words20 = bech32.toWords(randomBytes(20));
  assert.equal(checkAddress('BNB', bech32.encode('cosmos', words20)).valid, false);
  assert.equal(checkAddress('BNB', bech32.encode('tbnb', words20)).network, 'testnet');
  assert.match(
    checkAddress('BNB', bech32.encode('bnb', bech32.toWords(randomBytes(32)))).problem ?? '',
    /20-byte/,
  );
  assert.equal(checkAddress('BNB', bech32m.encode('bnb', words20)).valid, false);
  // The Smart Chain's 0x addresses are still checked as EVM.
  const evm = checkAddress('BNB', '0x742d35Cc6634C0532925a3b844Bc454e4438f44e');
  assert.equal(evm.kind, 'evm');
});
