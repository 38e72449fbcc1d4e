import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bitcoinPerDay,
  hashrateBoundsFromFlows,
  hashrateFromShares,
  power,
  revenue,
} from '../../src/analysis/estimate.js';
import { bitcoinNetwork, dailyPrices } from '../../src/analysis/market.js';
import { stratumEvidence } from '../../src/analysis/stratum-evidence.js';
import { Rng } from '../../src/scenario/rng.js';
import { stratumSession } from '../../src/scenario/stratum.js';
import { buildWorld, defaultConfig } from '../../src/scenario/world.js';

const close = (a: number, b: number, rel = 1e-9) =>
  assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${a} vs ${b}`);

test('revenue of 14 TH/s on 17 May 2017 equals the hand calculation from the network file', () => {
  const day = bitcoinNetwork().get('2017-05-17')!;
  // The file's row: price 1807.485063, hash rate 4314627.131 TH/s, difficulty 5.59971E+11,
  // miners' revenue 4241263.699 USD, fees 485.9361122 BTC.
  assert.equal(day.priceUsd, 1807.485063);
  assert.equal(day.difficulty, 5.59971e11);
  // By hand: revenue in BTC 4241263.699 / 1807.485063 = 2346.5000; blocks (2346.5 − 485.936) / 12.5
  // = 148.845; fees per block 3.26471 BTC; expected blocks of 14 TH/s in a day
  // 14e12 × 86400 / (5.59971e11 × 2^32) = 5.0294e-4; × (12.5 + 3.26471) = 0.0079287 BTC.
  const r = bitcoinPerDay(14e12, day);
  close(r.blocksPerDay, 148.8451109651558, 1e-9);
  close(r.byDifficulty, 0.007928706924743173, 1e-9);
  // Share of network: 14 / 4314627.131 × 2346.5 = 0.0076139 BTC.
  close(r.byShare, 0.007613867662786517, 1e-9);
  // Over that day with no pool fee and an exact hash rate: BTC range spans both estimators, USD
  // uses the day's low / close / high (1661.910034 / 1839.089966 / 1864.050049).
  const h = { low: 14e12, mid: 14e12, high: 14e12 };
  const est = revenue('BTC', h, Date.UTC(2017, 4, 17), Date.UTC(2017, 4, 18), { poolFee: [0, 0] });
  assert.equal(est.days.length, 1);
  close(est.totalCoin.low, 0.007613867662786517);
  close(est.totalCoin.mid, 0.007928706924743173);
  close(est.totalCoin.high, 0.007928706924743173);
  close(est.totalUsd.mid, 14.581605348649887);
  close(est.totalUsd.low, 12.653563066333042);
  close(est.totalUsd.high, 14.779506531574151);
  assert.ok(est.assumptions.some((a) => a.name === 'pool fee'));
  assert.equal(dailyPrices('BTC').get('2017-05-17')!.close, 1839.089966);
});

test('revenue over a period sums days; the range widens with the hash-rate interval and fees', () => {
  const h = { low: 12e12, mid: 14e12, high: 16e12 };
  const est = revenue('BTC', h, Date.UTC(2017, 4, 17), Date.UTC(2017, 5, 17));
  assert.equal(est.days.length, 31);
  assert.deepEqual(est.missing, []);
  assert.ok(est.totalCoin.low < est.totalCoin.mid && est.totalCoin.mid < est.totalCoin.high);
  // About 0.24 BTC a month for one S9-class miner in mid-2017.
  assert.ok(est.totalCoin.mid > 0.15 && est.totalCoin.mid < 0.3, String(est.totalCoin.mid));
  const xmr = revenue('XMR', { low: 400, mid: 500, high: 600 }, Date.UTC(2017, 4, 17), Date.UTC(2017, 4, 20));
  assert.equal(xmr.days.length, 0);
  assert.ok(xmr.assumptions.some((a) => a.value.startsWith('not available')));
});

test('power of an Antminer S9 at 13.5 TH/s: 0.098 J/GH → 1323 W, 31.75 kWh a day', () => {
  const p = power({ low: 13.5e12, mid: 13.5e12, high: 13.5e12 }, 'antminer-s9', [0.05, 0.1]);
  close(p.watts.mid, 1323, 1e-9);
  close(p.kWhPerDay.mid, 31.752, 1e-9);
  close(p.costUsdPerDay.mid, 31.752 * 0.075, 1e-9);
  assert.ok(p.watts.low < p.watts.mid && p.watts.high > p.watts.mid);
  assert.throws(() => power({ low: 1, mid: 1, high: 1 }, 'abacus'));
});

test('hash rate from Stratum evidence within ±20 % of the generated truth for an hour of shares', () => {
  const world = buildWorld(
    defaultConfig({ seed: 21, miners: 40, btcNodes: 0, hosts: 120, moneroShare: 0.3 }),
  );
  let n = 0;
  let covered = 0;
  const errors: string[] = [];
  for (const m of world.crypto) {
    if (m.kind !== 'miner') continue;
    const rng = new Rng(77, m.host);
    const seconds = 3600;
    const msgs = stratumSession(
      {
        coin: m.coin,
        wallet: m.wallet!,
        worker: m.worker!,
        difficulty: m.difficulty!,
        shareIntervalS: m.shareIntervalS!,
      },
      m.startMs,
      seconds,
      rng,
    );
    const ev = stratumEvidence(msgs);
    assert.equal(ev.coin, m.coin);
    assert.equal(ev.wallet, m.wallet);
    assert.equal(ev.badLines, 0);
    const est = hashrateFromShares(m.coin, ev.shares, {
      startMs: m.startMs,
      endMs: m.startMs + seconds * 1000,
    })!;
    const err = est.hashrate.mid / m.hashrate! - 1;
    n++;
    if (Math.abs(err) > 0.2)
      errors.push(`${m.coin} ${m.hashrate} H/s: ${(err * 100).toFixed(1)} % (${est.shares} shares)`);
    if (est.hashrate.low <= m.hashrate! && m.hashrate! <= est.hashrate.high) covered++;
  }
  assert.equal(n, 40);
  assert.deepEqual(errors, []);
  // The 95 % interval covers the truth for most miners (binomial slack for 40 draws).
  assert.ok(covered >= 34, `interval covered ${covered}/40`);
});

test('flow-only bounds bracket the share rate; a seen difficulty narrows the hash rate', () => {
  // 240 shares of 150 bytes and 120 keepalive/ACK packets in an hour, 52-byte headers.
  const packets = 240 + 120;
  const bytes = packets * 52 + 240 * 150;
  const b = hashrateBoundsFromFlows({ coin: 'BTC', packets, bytes, seconds: 3600, difficulty: 65536 });
  assert.ok(b.sharesPerMinute.low <= 4 && 4 <= b.sharesPerMinute.high, JSON.stringify(b.sharesPerMinute));
  const truth = (240 * 65536 * 2 ** 32) / 3600;
  assert.ok(b.hashrate.low <= truth && truth <= b.hashrate.high);
  const wide = hashrateBoundsFromFlows({ coin: 'BTC', packets, bytes, seconds: 3600 });
  assert.ok(wide.hashrate.high / wide.hashrate.low > b.hashrate.high / b.hashrate.low);
  assert.ok(wide.assumptions.some((a) => a.name === 'difficulty' && a.value.includes('assumed')));
  // Sampled counters are scaled back up.
  const s = hashrateBoundsFromFlows({
    coin: 'BTC',
    packets: packets / 10,
    bytes: bytes / 10,
    seconds: 3600,
    samplingRate: 10,
    difficulty: 65536,
  });
  close(s.sharesPerMinute.mid, b.sharesPerMinute.mid, 1e-9);
});

test('stratum evidence: rejected shares and bad lines are counted, not used', () => {
  const ev = stratumEvidence([
    {
      timeMs: 0,
      fromClient: true,
      line: '{"id":2,"method":"mining.authorize","params":["1BoatSLRHtKNngkdXEeobR76b53LETtpyT.rig1","x"]}',
    },
    { timeMs: 10, fromClient: false, line: '{"id":null,"method":"mining.set_difficulty","params":[1024]}' },
    {
      timeMs: 1000,
      fromClient: true,
      line: '{"id":5,"method":"mining.submit","params":["a","1","0","0","0"]}',
    },
    {
      timeMs: 1050,
      fromClient: false,
      line: '{"id":5,"result":false,"error":[23,"Low difficulty share",null]}',
    },
    {
      timeMs: 2000,
      fromClient: true,
      line: '{"id":6,"method":"mining.submit","params":["a","1","0","0","0"]}',
    },
    { timeMs: 2050, fromClient: false, line: '{"id":6,"result":true,"error":null}' },
    { timeMs: 2100, fromClient: false, line: 'garbage' },
  ]);
  assert.equal(ev.wallet, '1BoatSLRHtKNngkdXEeobR76b53LETtpyT');
  assert.equal(ev.worker, 'rig1');
  assert.equal(ev.rejected, 1);
  assert.equal(ev.badLines, 1);
  assert.deepEqual(ev.shares, [{ timeMs: 2000, difficulty: 1024, accepted: true }]);
});
