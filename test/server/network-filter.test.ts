/**
 * `filter=` on the network read API (nfdump's filter language, issue 12 point 4): series, summary
 * and hosts answer what the same condition written by hand as SQL gives, and a hostile filter
 * (quotes, semicolons, SQL, over-long) is a 400 naming the position — the store untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScreeningIndex } from '../../src/sanctions/screen.js';
import { CRYPTO_PORTS } from '../../src/scenario/world.js';
import { buildServer } from '../../src/server/app.js';
import { AuditLog } from '../../src/server/audit.js';
import { ApiKeyFile } from '../../src/server/keys.js';
import { hostProfiles } from '../../src/store/duckdb/hosts.js';
import { keyedSummary } from '../../src/store/duckdb/summary.js';
import { withWorldStore } from '../helpers/world-store.js';
import { listAndKey } from './fixture.js';

const asJson = (v: unknown) => JSON.parse(JSON.stringify(v));

// The filter and the same condition as SQL written by hand (175.45.176.0/22 as ::ffff:… range).
const FILTER = 'proto tcp and not dst port 53 and net 175.45.176.0/22';
const SQL =
  "proto = 6 AND dst_port <> 53 AND ((ip_version = 4 AND src_ip BETWEEN '281473620750336'::UHUGEINT AND '281473620751359'::UHUGEINT) OR (ip_version = 4 AND dst_ip BETWEEN '281473620750336'::UHUGEINT AND '281473620751359'::UHUGEINT))";

test('filter= on series, summary and hosts: the same answers as the condition in SQL; hostile filters are 400s', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-netfilter-'));
  const index = new ScreeningIndex();
  const keys = new ApiKeyFile(join(dir, 'db.keys.json'));
  const { key } = listAndKey(index, keys);
  try {
    await withWorldStore(
      {
        seed: 7,
        hosts: 10,
        days: 12,
        miners: 2,
        startMs: Date.UTC(2017, 4, 10),
        onsetMs: Date.UTC(2017, 4, 17),
      },
      async (_world, store, series) => {
        const app = buildServer({
          index,
          keys,
          audit: new AuditLog(join(dir, 'audit.jsonl')),
          rate: 0,
          network: { db: store.db, payloads: (ids) => store.payloads(ids) },
        });
        const get = (url: string) => app.inject({ method: 'GET', url, headers: { 'x-api-key': key } });
        const q = encodeURIComponent(FILTER);
        try {
          const [{ n }] = await store.db.all<{ n: number }>(
            `SELECT count(*)::INTEGER AS n FROM flow_rows WHERE ${SQL}`,
          );
          const [{ all }] = await store.db.all<{ all: number }>(
            'SELECT count(*)::INTEGER AS all FROM flow_rows',
          );
          assert.ok(n > 0 && n < all, `the filter selects some flows (${n} of ${all})`);

          const s = await get(`/v1/series?filter=${q}`);
          assert.equal(s.statusCode, 200, s.body);
          const d = await series.series({ bucket: 'day', scope: { where: SQL } });
          assert.deepEqual(
            s.json().series[0].points,
            d.buckets.map((b) => [b.bucketMs, b.flows, b.observed ? 1 : 0]),
          );
          assert.equal(s.json().series[0].total, n);

          const sum = await get(`/v1/summary?scope=country:KP&filter=${q}&by=dport&by=src&top=5`);
          assert.equal(sum.statusCode, 200, sum.body);
          const expect = await keyedSummary(store.db, {
            by: ['dport', 'src'],
            top: 5,
            order: 'flows',
            where: `(src_country = 'KP' OR dst_country = 'KP') AND ${SQL}`,
          });
          assert.deepEqual(sum.json().tables, asJson(Object.fromEntries(expect)));

          const hosts = await get(`/v1/hosts?filter=${q}`);
          assert.equal(hosts.statusCode, 200, hosts.body);
          assert.deepEqual(
            hosts.json().hosts,
            asJson(
              await hostProfiles(store.db, {
                scope: { where: SQL },
                ports: [...CRYPTO_PORTS],
                minConfidence: 'port',
                limit: 1000,
              }),
            ),
          );

          for (const bad of [
            "port 80'; DROP TABLE flow_table; --",
            'port 80; DELETE FROM flow_table',
            '1=1',
            'proto tcp or',
            "host 1.2.3.4' OR '1'='1",
            'port in [80) OR (1=1]',
          ]) {
            const r = await get(`/v1/summary?filter=${encodeURIComponent(bad)}`);
            assert.equal(r.statusCode, 400, bad);
            assert.equal(r.json().error.code, 'bad_request', bad);
            assert.match(r.json().error.message, /^filter: position \d+: expected /, bad);
          }
          const long = await get(`/v1/series?filter=${encodeURIComponent('any or '.repeat(700) + 'any')}`);
          assert.equal(long.statusCode, 400, 'longer than 4096 characters');
          const [{ after }] = await store.db.all<{ after: number }>(
            'SELECT count(*)::INTEGER AS after FROM flow_table',
          );
          assert.equal(after, all, 'the store is untouched');
        } finally {
          await app.close();
        }
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
