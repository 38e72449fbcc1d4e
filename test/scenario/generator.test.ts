import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as bitcoin from 'bitcoinjs-lib';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { dailyPortSeries, flowBatches } from '../../src/scenario/generate.js';
import { Rng } from '../../src/scenario/rng.js';
import { btcP2pkhAddress, moneroAddress } from '../../src/scenario/wallets.js';
import {
  activeCryptoHosts,
  buildWorld,
  CRYPTO_PORTS,
  defaultConfig,
  groundTruth,
  ipv4Value,
  parseCidr,
} from '../../src/scenario/world.js';

const DAY = 86400000;

test('same seed, same flows; different seed, different flows; time order holds', () => {
  const cfg = defaultConfig({ seed: 11, days: 2, hosts: 30, onsetMs: Date.UTC(2017, 3, 2) });
  const digest = (seed: number) => {
    let n = 0;
    let h = 0;
    let last = 0;
    for (const b of flowBatches(buildWorld({ ...cfg, seed }))) {
      for (let i = 0; i < b.length; i++) {
        assert.ok(b.firstMs[i] >= last, 'flows come in start-time order');
        last = b.firstMs[i];
        h = (Math.imul(h, 31) + b.dstPort[i] + b.packets[i]) | 0;
        n++;
      }
    }
    return `${n}:${h}`;
  };
  assert.equal(digest(11), digest(11));
  assert.notEqual(digest(11), digest(12));
});

test('series mode counts exactly what the full generator emits', () => {
  for (const sampling of [1, 10]) {
    const world = buildWorld(
      defaultConfig({ seed: 5, days: 4, hosts: 40, onsetMs: Date.UTC(2017, 3, 3), growth: 'step', sampling }),
    );
    const series = dailyPortSeries(world, CRYPTO_PORTS);
    const full = new Array(4).fill(0);
    const set = new Set(CRYPTO_PORTS);
    for (const b of flowBatches(world)) {
      for (let i = 0; i < b.length; i++)
        if (set.has(b.dstPort[i])) full[Math.floor((b.firstMs[i] - world.config.startMs) / DAY)]++;
    }
    assert.deepEqual(series.flows, full);
    assert.ok(full[3] > full[0], 'crypto activity from day 2 shows');
  }
});

test('addresses stay inside the configured blocks; ground truth names every crypto host', () => {
  const world = buildWorld(defaultConfig({ seed: 2, miners: 5, btcNodes: 1 }));
  const blocks = world.config.cidrs.map(parseCidr);
  for (const h of world.hosts) assert.ok(blocks.some((b) => h.ip >= b.base && h.ip < b.base + b.size));
  const gt = groundTruth(world) as {
    cryptoHosts: { kind: string; wallet?: string; hashrate?: number; ip: string }[];
    onset: string;
  };
  assert.equal(gt.onset, '2017-05-17T00:00:00.000Z');
  assert.equal(gt.cryptoHosts.length, 6);
  assert.equal(gt.cryptoHosts.filter((c) => c.kind === 'miner').length, 5);
  for (const c of gt.cryptoHosts.filter((x) => x.kind === 'miner')) assert.ok(c.wallet && c.hashrate! > 0);
  assert.ok(
    world.crypto.every(
      (c) => world.hosts[c.host].ip === ipv4Value(gt.cryptoHosts.find((g) => g.ip === ipv4ToText(c.ip))!.ip),
    ),
  );
});

function ipv4ToText(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

test('growth curves: step all at once, linear and exponential ramp to the total', () => {
  assert.equal(activeCryptoHosts(10, 'step', 30, 0), 10);
  assert.equal(activeCryptoHosts(10, 'linear', 10, 0), 1);
  assert.equal(activeCryptoHosts(10, 'linear', 10, 4), 5);
  assert.equal(activeCryptoHosts(10, 'linear', 10, 9), 10);
  assert.equal(activeCryptoHosts(16, 'exponential', 5, 0), 1);
  assert.equal(activeCryptoHosts(16, 'exponential', 5, 2), 4);
  assert.equal(activeCryptoHosts(16, 'exponential', 5, 4), 16);
  assert.equal(activeCryptoHosts(16, 'exponential', 5, -1), 0);
});

test('Bitcoin wallets are valid P2PKH Base58Check addresses (bitcoinjs-lib as oracle)', () => {
  const rng = new Rng(7);
  for (let i = 0; i < 50; i++) {
    const a = btcP2pkhAddress(rng);
    const d = bitcoin.address.fromBase58Check(a);
    assert.equal(d.version, 0);
    assert.equal(d.hash.length, 20);
    assert.equal(bitcoin.address.toBase58Check(d.hash, 0), a);
  }
});

test('Monero wallets are 95-character standard addresses with a valid Keccak checksum', () => {
  const rng = new Rng(8);
  const ALPHA = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
  for (let i = 0; i < 20; i++) {
    const a = moneroAddress(rng);
    assert.equal(a.length, 95);
    assert.equal(a[0], '4');
    // Decode Monero base58 (11-char blocks → 8 bytes, last 7 chars → 5 bytes).
    const bytes: number[] = [];
    for (let off = 0; off < 95; off += 11) {
      const chunk = a.slice(off, off + 11);
      let n = 0n;
      for (const ch of chunk) n = n * 58n + BigInt(ALPHA.indexOf(ch));
      const len = chunk.length === 11 ? 8 : 5;
      const out: number[] = [];
      for (let k = 0; k < len; k++) {
        out.unshift(Number(n & 255n));
        n >>= 8n;
      }
      bytes.push(...out);
    }
    assert.equal(bytes.length, 69);
    assert.equal(bytes[0], 18);
    const check = Buffer.from(keccak_256(Uint8Array.from(bytes.slice(0, 65)))).subarray(0, 4);
    assert.deepEqual([...check], bytes.slice(65));
  }
});

test('1:N sampling thins flows and marks the sampling rate', () => {
  const base = defaultConfig({ seed: 9, days: 1, hosts: 30, onsetMs: null });
  let unsampled = 0;
  for (const b of flowBatches(buildWorld(base))) unsampled += b.length;
  let sampled = 0;
  let rateOk = true;
  for (const b of flowBatches(buildWorld({ ...base, sampling: 100 }))) {
    sampled += b.length;
    for (let i = 0; i < b.length; i++) rateOk &&= b.samplingRate[i] === 100;
  }
  assert.ok(rateOk);
  assert.ok(sampled > 0 && sampled < unsampled / 5, `${sampled} of ${unsampled} survive 1:100`);
});
