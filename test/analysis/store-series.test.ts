import { test } from 'node:test';
import assert from 'node:assert/strict';
import { surgeOfBuckets } from '../../src/analysis/series.js';
import { dailyPortSeries } from '../../src/scenario/generate.js';
import { CRYPTO_PORTS } from '../../src/scenario/world.js';
import { hostProfiles } from '../../src/store/duckdb/hosts.js';
import { scopeConditions } from '../../src/store/duckdb/series.js';
import { dotted, withWorldStore } from '../helpers/world-store.js';

test('daily series from the DuckDB store equal the generator counts; surge finds the onset there', async () => {
  const over = { seed: 31, hosts: 15, days: 40, miners: 2, outageRate: 0.03 };
  await withWorldStore(
    { ...over, startMs: Date.UTC(2017, 3, 20), onsetMs: Date.UTC(2017, 4, 17) },
    async (world, store, series) => {
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
      assert.ok(dns.buckets.every((b) => b.flows > 0 === b.observed));
      const none = await series.series({ bucket: 'day', scope: { country: 'IR' } });
      assert.ok(none.buckets.every((b) => b.flows === 0));
      // A miner's own series starts on the onset day.
      const miner = world.crypto[0];
      const ip = dotted(miner.ip);
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
      // sources: the scope's hosts (the end inside the scope) per day, only when asked for.
      assert.ok(d.buckets.every((b) => Number.isNaN(b.sources)));
      const withHosts = await series.series({
        bucket: 'day',
        scope: { country: 'KP', dstPorts: CRYPTO_PORTS },
        sources: true,
      });
      const perDay = await store.db.all<{ day: number; n: number }>(
        `SELECT (first_ms // 86400000) * 86400000 AS day,
                count(DISTINCT CASE WHEN src_country = 'KP' THEN src ELSE dst END) AS n
         FROM flows WHERE (src_country = 'KP' OR dst_country = 'KP') AND dst_port IN (${CRYPTO_PORTS.join(',')})
         GROUP BY 1`,
      );
      const hostsPerDay = new Map(perDay.map((r) => [Number(r.day), Number(r.n)]));
      assert.ok(hostsPerDay.size > 10);
      for (const b of withHosts.buckets)
        assert.equal(b.sources, hostsPerDay.get(b.bucketMs) ?? 0, new Date(b.bucketMs).toISOString());
      assert.deepEqual(
        withHosts.buckets.map((b) => b.flows),
        d.buckets.map((b) => b.flows),
      );
    },
  );
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

test('top hosts, endpoints and host connections: address lists match on the stored integers; empty lists work', async () => {
  const over = { seed: 5, hosts: 8, days: 6, miners: 2 };
  await withWorldStore(
    { ...over, startMs: Date.UTC(2017, 4, 14), onsetMs: Date.UTC(2017, 4, 15) },
    async (world, store, series) => {
      const miner = world.crypto.find((c) => c.pool)!;
      const ip = dotted(miner.ip);
      const pool = { ip: dotted(miner.pool!.ip), port: miner.pool!.port };
      // By port alone (no addresses), by address alone (no ports), and neither.
      const byPort = await series.topHosts({ country: 'KP' }, [pool.port], [], 50);
      assert.ok(byPort.some((h) => h.host === ip && h.ports.includes(pool.port)));
      const byAddr = await series.topHosts({ country: 'KP' }, [], [pool.ip], 50);
      assert.ok(byAddr.some((h) => h.host === ip));
      // A host's flows are those with it as the end inside the scope and the pool at the other.
      const [sql] = await store.db.all<{ n: number }>(
        "SELECT count(*) AS n FROM flows WHERE (dst = $1 AND src_country = 'KP') OR (src = $1 AND dst_country = 'KP')",
        [pool.ip],
      );
      assert.equal(
        byAddr.reduce((a, h) => a + h.flows, 0),
        sql.n,
      );
      assert.deepEqual(await series.topHosts({ country: 'KP' }, [], [], 50), []);
      const eps = await series.endpoints({ country: 'KP' }, [pool.ip]);
      assert.ok(eps.length > 0 && eps.every((e) => e.dst === pool.ip));
      assert.deepEqual(await series.endpoints({ country: 'KP' }, []), []);
      const conns = await series.hostConnections(ip, [pool.ip]);
      assert.ok(conns.length > 0 && conns.every((c) => c.dst === pool.ip && c.flows > 0));
    },
  );
});

test("one host definition: the report's top hosts are the hosts `coinradar hosts` lists, all inside the scope", async () => {
  const over = { seed: 9, hosts: 10, days: 8, miners: 3 };
  await withWorldStore(
    { ...over, startMs: Date.UTC(2017, 4, 12), onsetMs: Date.UTC(2017, 4, 15) },
    async (world, store, series) => {
      const pools = [...new Set(world.crypto.filter((c) => c.pool).map((c) => dotted(c.pool!.ip)))];
      const top = await series.topHosts({ country: 'KP' }, CRYPTO_PORTS, pools, 1_000_000);
      const profiles = await hostProfiles(store.db, {
        scope: { country: 'KP' },
        ports: CRYPTO_PORTS,
        addresses: pools,
      });
      assert.ok(top.length > 0);
      assert.deepEqual(top.map((h) => h.host).sort(), profiles.map((h) => h.host).sort());
      const byHost = new Map(profiles.map((h) => [h.host, h]));
      for (const h of top) {
        assert.equal(h.flows, byHost.get(h.host)!.flows, `flows of ${h.host}`);
        const [inside] = await store.db.all<{ n: number }>(
          "SELECT count(*) AS n FROM flows WHERE (src = $1 AND src_country = 'KP') OR (dst = $1 AND dst_country = 'KP')",
          [h.host],
        );
        assert.ok(inside.n > 0, `${h.host} is inside the scope`);
      }
      // Far ends (pools, peers, scanners) are never the scope's hosts.
      for (const p of pools)
        assert.ok(!top.some((h) => h.host === p), `pool ${p} is not a host of the scope`);
    },
  );
});
