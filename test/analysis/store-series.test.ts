import { test } from 'node:test';
import assert from 'node:assert/strict';
import { surgeOfBuckets } from '../../src/analysis/series.js';
import { dailyPortSeries } from '../../src/scenario/generate.js';
import { loadWorldIntoStore } from '../../src/scenario/store.js';
import { buildWorld, CRYPTO_PORTS, defaultConfig } from '../../src/scenario/world.js';
import { DuckDbSeries, scopeConditions } from '../../src/store/duckdb/series.js';
import { DuckDbFlowStore } from '../../src/store/duckdb/flows.js';

test('daily series from the DuckDB store equal the generator counts; surge finds the onset there', async () => {
  const world = buildWorld(
    defaultConfig({
      seed: 31,
      hosts: 15,
      days: 40,
      startMs: Date.UTC(2017, 3, 20),
      onsetMs: Date.UTC(2017, 4, 17),
      growth: 'step',
      miners: 2,
      btcNodes: 0,
      outageRate: 0.03,
    }),
  );
  const store = await DuckDbFlowStore.open(':memory:');
  try {
    await loadWorldIntoStore(world, store);
    const series = new DuckDbSeries(store.db);
    const d = await series.series({ bucket: 'day', scope: { country: 'KP', dstPorts: CRYPTO_PORTS } });
    const want = dailyPortSeries(world, CRYPTO_PORTS);
    assert.equal(d.buckets.length, 40);
    assert.deepEqual(
      d.buckets.map((b) => b.flows),
      want.flows,
    );
    assert.deepEqual(
      d.buckets.map((b) => b.observed),
      want.observed,
    );
    assert.ok(want.observed.includes(false), 'this seed has an exporter outage day');
    const r = surgeOfBuckets('crypto ports', d);
    const first = r.changes.find((c) => c.kind === 'increase');
    assert.ok(first, 'a surge is found');
    assert.equal(first.onset, '2017-05-17T00:00:00.000Z');
    assert.equal(first.shape, 'step');
    // Scopes: DNS to Chinese resolvers is there every observed day; a country not in the world is not.
    const dns = await series.series({ bucket: 'day', scope: { dstCountry: 'CN', dstPorts: [53] } });
    assert.ok(dns.buckets.every((b) => (b.flows > 0) === b.observed));
    const none = await series.series({ bucket: 'day', scope: { country: 'IR' } });
    assert.ok(none.buckets.every((b) => b.flows === 0));
    // A miner's own series starts on the onset day.
    const miner = world.crypto[0];
    const ip = `${miner.ip >>> 24}.${(miner.ip >>> 16) & 255}.${(miner.ip >>> 8) & 255}.${miner.ip & 255}`;
    const hs = await series.series({ bucket: 'day', scope: { host: ip, dstPorts: [miner.pool!.port] } });
    const firstDay = hs.buckets.find((b) => b.flows > 0)!;
    assert.equal(firstDay.bucketMs, Date.UTC(2017, 4, 17));
    // Hourly buckets sum to the daily ones.
    const h = await series.series({ bucket: 'hour', scope: { country: 'KP', dstPorts: CRYPTO_PORTS } });
    assert.equal(h.buckets.length, 40 * 24);
    assert.equal(
      h.buckets.reduce((a, b) => a + b.flows, 0),
      want.flows.reduce((a, b) => a + b, 0),
    );
    await assert.rejects(series.series({ bucket: 'day', scope: { label: 'stratum' } }), /no detections/);
  } finally {
    await store.close();
  }
});

test('scope conditions are parameterised; ports are validated', () => {
  const s = scopeConditions({ country: "KP' OR 1=1 --", asn: 131279, dstPorts: [3333, 8333] }, 4);
  assert.equal(
    s.sql,
    ' AND (src_country = $4 OR dst_country = $4) AND (src_asn = $5 OR dst_asn = $5) AND dst_port IN (3333, 8333)',
  );
  assert.deepEqual(s.params, ["KP' OR 1=1 --", 131279]);
  assert.throws(() => scopeConditions({ dstPorts: [70000] }, 1), /not a port/);
});
