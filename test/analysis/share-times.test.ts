/**
 * Hash rate from share times in payload samples: the arithmetic, the difficulty in force per share,
 * and the whole path on a generated capture — miners' Stratum sessions written as packets, read by
 * coinradar's capture reader into the store, estimated from the stored samples and their segment
 * times — against the generated truth.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/flow/all-formats.js';
import { hashrateFromShareTimes, type ShareSpan } from '../../src/analysis/estimate.js';
import { shareSpansOf, type StratumPayloadSample } from '../../src/analysis/share-times.js';
import { ingestFile } from '../../src/flow/ingest.js';
import { packPayloadTimes } from '../../src/flow/payload-times.js';
import { buildWorld, defaultConfig, ipv4Text } from '../../src/scenario/world.js';
import { writeScenario } from '../../src/scenario/write.js';
import { DuckDbSeries } from '../../src/store/duckdb/series.js';
import { openFlowStore } from '../../src/store/open.js';

const close = (a: number, b: number, rel = 1e-12) =>
  assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${a} vs ${b}`);

test('share times: H = Σ shares × difficulty × 2^32 / Σ (last − first share) over the samples', () => {
  const spans: ShareSpan[] = [
    { firstMs: 0, lastMs: 100_000, shares: 10, work: 10 * 1024 * 2 ** 32 },
    { firstMs: 1_800_000, lastMs: 1_860_000, shares: 5, work: 5 * 2048 * 2 ** 32 },
  ];
  const e = hashrateFromShareTimes('BTC', spans)!;
  close(e.hashrate.mid, ((10 * 1024 + 5 * 2048) * 2 ** 32) / 160);
  assert.equal(e.shares, 15);
  assert.equal(e.seconds, 160);
  assert.ok(e.hashrate.low < e.hashrate.mid && e.hashrate.mid < e.hashrate.high);
  assert.match(e.method, /^share times in payload samples \(15 shares in 2 samples/);
  assert.ok(e.assumptions.some((a) => a.name === 'coverage' && a.value.startsWith('2.7 min')));
  // CryptoNote: difficulty hashes per share.
  close(
    hashrateFromShareTimes('XMR', [{ firstMs: 0, lastMs: 50_000, shares: 4, work: 4 * 5000 }])!.hashrate.mid,
    400,
  );
  assert.equal(hashrateFromShareTimes('BTC', []), null);
  assert.equal(hashrateFromShareTimes('BTC', [{ firstMs: 5, lastMs: 5, shares: 0, work: 0 }]), null);
});

const T0 = Date.UTC(2017, 4, 17, 6);
const WALLET = '1BoatSLRHtKNngkdXEeobR76b53LETtpyT';
const submit = (id: number) =>
  `{"id":${id},"method":"mining.submit","params":["${WALLET}.r1","1","00000000","591b9380","a1b2c3d4"]}\n`;
const setDiff = (d: number) => `{"id":null,"method":"mining.set_difficulty","params":[${d}]}\n`;

/** A sample whose lines each arrive in their own segment at the given second after T0. */
function sample(
  flowId: number,
  fwd: [number, string][],
  rev: [number, string][],
  srcPort = 50000,
): StratumPayloadSample {
  const pack = (parts: [number, string][]) => {
    let off = 0;
    const entries: [number, number][] = [];
    for (const [s, text] of parts) {
      entries.push([off, T0 + s * 1000]);
      off += Buffer.byteLength(text);
    }
    return parts.length
      ? { bytes: Buffer.from(parts.map((p) => p[1]).join('')), times: packPayloadTimes(entries) }
      : { bytes: null, times: null };
  };
  const f = pack(fwd);
  const r = pack(rev);
  return {
    flowId,
    src: '175.45.176.9',
    srcPort,
    dst: '203.0.113.7',
    dstPort: 3333,
    firstMs: T0 + (fwd[0]?.[0] ?? 0) * 1000,
    fwd: f.bytes,
    rev: r.bytes,
    fwdTimes: f.times,
    revTimes: r.times,
  };
}

test('each share counts at the difficulty in force when it was sent; later pieces inherit it', () => {
  const hello = `{"id":2,"method":"mining.authorize","params":["${WALLET}.r1","x"]}\n`;
  const first = sample(
    1,
    [
      [0, hello],
      [5, submit(10)], // before any difficulty: opens the window, not counted
      [20, submit(11)], // at 1024
      [40, submit(12)], // at 4096 (retargeted at 30 s)
    ],
    [
      [10, setDiff(1024)],
      [30, setDiff(4096)],
    ],
  );
  // The next 30-minute piece of the same connection: no set_difficulty in it.
  const second = sample(
    2,
    [
      [1800, submit(20)],
      [1830, submit(21)],
      [1870, submit(22)],
    ],
    [],
  );
  // Another connection (another source port) that never saw a difficulty: unusable.
  const other = sample(
    3,
    [
      [100, submit(30)],
      [110, submit(31)],
    ],
    [],
    50001,
  );
  const { spans, skipped } = shareSpansOf([second, other, first]);
  assert.deepEqual(spans.get('BTC'), [
    { firstMs: T0 + 5000, lastMs: T0 + 40_000, shares: 2, work: (1024 + 4096) * 2 ** 32 },
    { firstMs: T0 + 1_800_000, lastMs: T0 + 1_870_000, shares: 2, work: 2 * 4096 * 2 ** 32 },
  ]);
  assert.deepEqual([...skipped], [['difficulty not seen', 1]]);
  // Without times there is nothing to estimate from.
  const untimed = { ...first, fwdTimes: null, revTimes: null };
  assert.deepEqual([...shareSpansOf([untimed]).skipped], [['shares without times', 1]]);
});

test(
  'hash rate from stored payload samples of a generated capture: within ±20 % of the truth for hosts with an hour of shares',
  { timeout: 240_000 },
  async (t) => {
    const world = buildWorld(
      defaultConfig({ seed: 21, miners: 24, btcNodes: 0, hosts: 80, moneroShare: 0.3 }),
    );
    const miners = world.crypto.filter((c) => c.kind === 'miner');
    assert.equal(miners.length, 24);
    const dir = mkdtempSync(join(tmpdir(), 'cr-share-times-'));
    try {
      // Every miner's session for 1.5 hours, as packets; read back in 30-minute flow pieces (the
      // capture reader's default is 5 minutes) with room for whole pieces in the sample (64 KiB),
      // and with the default 2 KiB: the few shares of a 2 KiB sample per half hour.
      writeScenario(world, dir, { format: 'pcap', captureHours: 1.5, captureHosts: 0 });
      const results: Record<string, { within: number; covered: number; hosts: number; shares: number }> = {};
      for (const cap of [65536, 2048]) {
        const db = join(dir, `cap${cap}.duckdb`);
        const store = await openFlowStore(db);
        const r = await ingestFile(join(dir, 'capture.pcap'), {
          store,
          payloadCap: cap,
          activeTimeoutMs: 1_800_000,
        });
        assert.equal(r.error, undefined);
        await store.close();
        const { series, close: done } = await DuckDbSeries.open(db);
        const out = { within: 0, covered: 0, hosts: 0, shares: 0 };
        const misses: string[] = [];
        try {
          for (const m of miners) {
            const samples = await series.stratumPayloads({ host: ipv4Text(m.ip) }, 10_000);
            const { spans } = shareSpansOf(samples);
            const e = hashrateFromShareTimes(m.coin, spans.get(m.coin) ?? []);
            assert.ok(e, `${ipv4Text(m.ip)}: an estimate`);
            out.shares += e.shares;
            if (e.hashrate.low <= m.hashrate! && m.hashrate! <= e.hashrate.high) out.covered++;
            // The whole session is in 64 KiB samples: at least an hour of share windows.
            if (cap === 65536) assert.ok(e.seconds >= 3600, `${e.seconds} s of shares`);
            const err = e.hashrate.mid / m.hashrate! - 1;
            if (Math.abs(err) <= 0.2) out.within++;
            else misses.push(`${m.coin} ${m.hashrate} H/s: ${(err * 100).toFixed(1)} % (${e.shares} shares)`);
            out.hosts++;
          }
        } finally {
          await done();
        }
        if (cap === 65536) assert.deepEqual(misses, []);
        results[cap] = out;
      }
      t.diagnostic(`by payload cap: ${JSON.stringify(results)}`);
      // The 95 % interval covers the truth for most hosts (binomial slack for 24 draws), also from
      // the few shares a 2 KiB sample holds.
      assert.ok(results[65536].covered >= 20, JSON.stringify(results));
      assert.ok(results[2048].covered >= 20, JSON.stringify(results));
      assert.ok(results[2048].shares < results[65536].shares / 3, JSON.stringify(results));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
