/**
 * The network read API (issue 11, step 2) over a generated world: each answer is what the CLI's
 * functions give for the same scope (series + surge, summary --by, hosts), the surge onset is the
 * world's, a miner's page has its detections and pool, search names what it is given, scopes are
 * checked (no SQL gets through), and every route needs a key or session.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { surgeOfBuckets } from '../../src/analysis/series.js';
import { loadInfrastructure } from '../../src/detect/infrastructure.js';
import { createDetector } from '../../src/detect/registry.js';
import { redetectStore } from '../../src/detect/rerun.js';
import { ScreeningIndex } from '../../src/sanctions/screen.js';
import { loadWorldIntoStore } from '../../src/scenario/store.js';
import { buildWorld, CRYPTO_PORTS, defaultConfig, poolCatalogue } from '../../src/scenario/world.js';
import { buildServer } from '../../src/server/app.js';
import { AuditLog } from '../../src/server/audit.js';
import { ApiKeyFile } from '../../src/server/keys.js';
import { openDetectionStore } from '../../src/store/detections.js';
import { DuckDbFlowStore } from '../../src/store/duckdb/flows.js';
import { hostProfiles } from '../../src/store/duckdb/hosts.js';
import { keyedSummary } from '../../src/store/duckdb/summary.js';
import { dotted, withWorldStore } from '../helpers/world-store.js';
import { listAndKey, readAudit } from './fixture.js';

/** What a value is once sent as JSON (undefined fields dropped). */
const asJson = (v: unknown) => JSON.parse(JSON.stringify(v));

test('series, summary, hosts, host page and search answer what the CLI functions give for the same scope', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-network-'));
  const index = new ScreeningIndex();
  const keys = new ApiKeyFile(join(dir, 'db.keys.json'));
  const { key, keyId } = listAndKey(index, keys);
  const auditPath = join(dir, 'audit.jsonl');
  const audit = new AuditLog(auditPath);
  const onsetMs = Date.UTC(2017, 4, 17);
  try {
    await withWorldStore(
      { seed: 5, hosts: 12, days: 24, miners: 3, startMs: Date.UTC(2017, 4, 1), onsetMs, growth: 'step' },
      async (world, store, series) => {
        await redetectStore(store, await openDetectionStore(store), createDetector(loadInfrastructure()));
        const app = buildServer({
          index,
          keys,
          audit,
          rate: 0,
          network: { db: store.db, payloads: (ids) => store.payloads(ids) },
        });
        const get = async (url: string, ok = 200) => {
          const r = await app.inject({ method: 'GET', url, headers: { 'x-api-key': key } });
          assert.equal(r.statusCode, ok, `${url}: ${r.body}`);
          return r.json();
        };
        try {
          // Series: the same buckets and surges as DuckDbSeries + surgeOfBuckets (coinradar surge).
          const s = await get('/v1/series?scope=country:KP');
          const labels = s.series.map((x: { label: string }) => x.label);
          assert.deepEqual(labels.slice(0, 3), [
            'all flows in scope',
            'crypto ports (port match only)',
            'catalogued mining pools (2018 catalogue)',
          ]);
          assert.ok(labels.includes('label stratum'), labels.join());
          const d = await series.series({
            bucket: 'day',
            scope: { country: 'KP', dstPorts: [...CRYPTO_PORTS] },
          });
          const ports = s.series[1];
          assert.deepEqual(
            ports.points,
            d.buckets.map((b) => [b.bucketMs, b.flows, b.observed ? 1 : 0]),
          );
          assert.deepEqual(ports.changes, asJson(surgeOfBuckets(ports.label, d).changes));
          // The pools' onset is the world's (step growth): the day the miners start.
          const pools = s.series[2].changes.find((c: { kind: string }) => c.kind === 'increase');
          assert.ok(pools, 'a surge on the pool series');
          assert.equal(pools.onsetMs, onsetMs);
          assert.ok(pools.probability > 0.99);
          assert.ok(Array.isArray(pools.onsetInterval) && pools.shape);

          // A CIDR scope is an address range: all of IPv4 is every flow; one host's /32 is the host.
          const all = await get('/v1/series?scope=cidr:0.0.0.0/0');
          const none = await get('/v1/series');
          assert.equal(all.series[0].total, none.series[0].total);
          const miner = dotted(world.crypto.find((c) => c.kind === 'miner')!.ip);
          const h32 = await get(`/v1/series?scope=cidr:${miner}/32`);
          const hh = await get(`/v1/series?scope=host:${miner}`);
          assert.deepEqual(h32.series[0].points, hh.series[0].points);
          assert.ok(hh.series[0].total > 0);
          // since/until narrow the period; an hour bucket works too.
          const wk = await get('/v1/series?scope=country:KP&since=2017-05-15&until=2017-05-22&bucket=hour');
          assert.equal(wk.series[0].points.length, 7 * 24);

          // Summary: keyedSummary with the scope as its condition (coinradar summary --by).
          const sum = await get('/v1/summary?scope=asn:131279&by=country&by=dport&top=5');
          const expect = await keyedSummary(store.db, {
            by: ['country', 'dport'],
            top: 5,
            order: 'flows',
            where: '(src_asn = 131279 OR dst_asn = 131279)',
          });
          assert.deepEqual(sum.tables, asJson(Object.fromEntries(expect)));
          assert.equal(sum.tables.country[0].key, 'KP');

          // Hosts: hostProfiles with the CLI's defaults.
          const hosts = await get('/v1/hosts?scope=country:KP&minConfidence=infrastructure');
          assert.deepEqual(
            hosts.hosts,
            asJson(
              await hostProfiles(store.db, {
                scope: { country: 'KP' },
                ports: [...CRYPTO_PORTS],
                minConfidence: 'infrastructure',
                limit: 1000,
              }),
            ),
          );
          const miners = world.crypto.filter((c) => c.kind === 'miner').map((c) => dotted(c.ip));
          assert.deepEqual(hosts.hosts.map((h: { host: string }) => h.host).sort(), miners.sort());

          // One host: activity over its own period, every detection with rule and list version.
          const page = await get(`/v1/hosts/${miner}`);
          assert.equal(page.profile.host, miner);
          assert.ok(page.activity.points.length > 0 && page.activity.points.length <= 24);
          assert.ok(page.activity.points[0][1] > 0);
          assert.ok(page.detections.length > 0);
          for (const det of page.detections) {
            assert.ok(det.src === miner || det.dst === miner);
            assert.equal(typeof det.evidence.rule, 'string');
            assert.equal(typeof det.listVersion, 'string');
            assert.ok('fwd' in det.payload, 'payload sample field (null for NetFlow-era flows)');
          }
          assert.ok(page.detections.some((x: { label: string }) => x.label === 'stratum'));
          assert.equal(page.artifacts.pools.length, 1);
          await get('/v1/hosts/10.99.99.99', 404);

          // Search: what a string is, and the page for it.
          const kind = async (q: string) =>
            (await get(`/v1/search?q=${encodeURIComponent(q)}`)).results.map(
              (r: { kind: string; link: string | null }) => `${r.kind} ${r.link}`,
            );
          assert.deepEqual(await kind(miner), [`host #/host/${miner}`]);
          assert.deepEqual(await kind('175.45.176.0/22'), [
            `cidr #/overview?scope=${encodeURIComponent('cidr:175.45.176.0/22')}`,
          ]);
          assert.deepEqual(await kind('AS131279'), [
            `asn #/overview?scope=${encodeURIComponent('asn:131279')}`,
          ]);
          assert.deepEqual(await kind('1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ'), [
            `address #/screen?addresses=1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ`,
          ]);
          assert.deepEqual(await kind('ab'.repeat(32)), ['txid null']);
          const pool = poolCatalogue()[0];
          assert.ok((await kind(pool.server)).some((x: string) => x.startsWith('pool #/hosts?filter=')));

          // Bad input: 400 in the error shape; SQL in a scope value never reaches the store.
          for (const url of [
            "/v1/series?scope=country:KP' OR 1=1 --",
            '/v1/series?scope=watch:x%27);DROP TABLE flow_rows;--',
            '/v1/hosts?scope=host:not-an-ip',
            '/v1/summary?scope=cidr:10.0.0.0/33',
            '/v1/summary?scope=where:1=1',
            '/v1/series?since=yesterday',
            '/v1/series?bucket=minute',
            '/v1/summary?by=secret',
            '/v1/hosts?limit=100000',
            '/v1/series?since=1990-01-01&until=2017-01-01&bucket=hour',
          ]) {
            const r = await app.inject({ method: 'GET', url, headers: { 'x-api-key': key } });
            assert.deepEqual([r.statusCode, r.json().error.code], [400, 'bad_request'], url);
          }
          assert.ok((await get('/v1/series')).series[0].total > 0, 'the flows are still there');

          // Every route needs a key (or a session).
          for (const url of [
            '/v1/series',
            '/v1/summary',
            '/v1/hosts',
            `/v1/hosts/${miner}`,
            '/v1/search?q=x',
          ])
            assert.equal((await app.inject({ method: 'GET', url })).statusCode, 401, url);
          // The OpenAPI document names the routes.
          const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
          for (const p of [
            '/v1/series',
            '/v1/summary',
            '/v1/hosts',
            '/v1/hosts/{ip}',
            '/v1/search',
            '/v1/session',
          ])
            assert.ok(doc.paths[p], p);
        } finally {
          await app.close();
          await audit.close();
        }
        // Reads are rate-limited and audited like screening: refusals are in the log.
        assert.ok(readAudit(auditPath).some((e) => e.status === 401 && e.route.startsWith('GET /v1/series')));
        assert.ok(keyId);
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a request the store has no memory for is a 503 'store_busy' with Retry-After, not an internal error, and passes once memory is back", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-network-oom-'));
  const index = new ScreeningIndex();
  const keys = new ApiKeyFile(join(dir, 'db.keys.json'));
  const { key } = listAndKey(index, keys);
  const audit = new AuditLog(join(dir, 'audit.jsonl'));
  try {
    // A store file (an in-memory one cannot go under the memory its data holds).
    const world = buildWorld(
      defaultConfig({ seed: 5, hosts: 12, days: 10, miners: 2, btcNodes: 0, growth: 'step' }),
    );
    const store = await DuckDbFlowStore.open(join(dir, 'world.duckdb'));
    await loadWorldIntoStore(world, store);
    await store.db.run('CHECKPOINT');
    {
      const app = buildServer({ index, keys, audit, rate: 0, network: { db: store.db } });
      const get = () =>
        app.inject({ method: 'GET', url: '/v1/summary?by=src&by=dst', headers: { 'x-api-key': key } });
      try {
        // DuckDB's own failure: its limit set below what the query needs (in the field: a
        // collector's writer and other readers holding the process's --store-memory).
        await store.db.run("SET memory_limit = '1MB'");
        const r = await get();
        assert.equal(r.statusCode, 503, r.body);
        assert.equal(r.headers['retry-after'], '5');
        assert.equal(r.json().error.code, 'store_busy');
        assert.doesNotMatch(
          r.body,
          /Possible solutions|SET memory_limit/,
          'DuckDB’s advice is not the client’s',
        );
        await store.db.run("SET memory_limit = '1GB'");
        assert.equal((await get()).statusCode, 200);
      } finally {
        await app.close();
        await store.close();
      }
    }
  } finally {
    await audit.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
