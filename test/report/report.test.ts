import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildReport } from '../../src/report/build.js';
import { renderHtml, renderMarkdown } from '../../src/report/render.js';
import { DuckDbSeries } from '../../src/store/duckdb/series.js';
import { withWorldStore } from '../helpers/world-store.js';

test('report from a generated store: onset, pools, wallets, estimates, evidence; HTML is self-contained', async () => {
  const over = { seed: 41, hosts: 12, days: 35, miners: 2, payloadHosts: 1, moneroShare: 0 };
  await withWorldStore(
    { ...over, startMs: Date.UTC(2017, 3, 25), onsetMs: Date.UTC(2017, 4, 17) },
    async (world, store) => {
      // A stand-in for detect/'s table: flows to catalogued pools labelled 'stratum'.
      await store.db.run(
        "CREATE TABLE detections AS SELECT id AS flow_id, 'stratum' AS label FROM flows WHERE dst_watch = 'mining-pools-2018'",
      );
      const r = await buildReport(new DuckDbSeries(store.db), {
        scope: { country: 'KP' },
        scopeText: 'country:KP',
        scopeArgs: '--scope country:KP',
        labels: ['stratum'],
      });
      assert.equal(r.timelines.length, 3);
      assert.equal(r.timelines[2].changes[0]?.onset, '2017-05-17T00:00:00.000Z');
      assert.ok(r.evidence.some((c) => c.support.some((x) => x.ref.includes('--scope label:stratum'))));
      const pools = r.timelines[1];
      const inc = pools.changes.find((c) => c.kind === 'increase');
      assert.ok(inc, 'surge on the pool timeline');
      assert.equal(inc.onset, '2017-05-17T00:00:00.000Z');
      for (const m of world.crypto) {
        assert.ok(
          r.wallets.some((w) => w.wallet === m.wallet),
          `wallet ${m.wallet} found in payload samples`,
        );
        assert.ok(
          r.pools.some((p) => p.endpoint.startsWith(`${m.pool!.ip >>> 24}.`)),
          'pool endpoint listed',
        );
      }
      assert.equal(r.estimates.length, 2);
      for (const e of r.estimates) {
        // Difficulty seen in the payload: the flow-only hash-rate bounds bracket the truth.
        const m = world.crypto.find((c) =>
          e.subject.startsWith(`${c.ip >>> 24}.${(c.ip >>> 16) & 255}.${(c.ip >>> 8) & 255}.${c.ip & 255} `),
        )!;
        assert.ok(e.hashrateMethod!.includes('difficulty seen'), e.hashrateMethod);
        assert.ok(
          e.hashrate!.low <= m.hashrate! && m.hashrate! <= e.hashrate!.high,
          `${e.hashrate!.low} ≤ ${m.hashrate} ≤ ${e.hashrate!.high}`,
        );
        assert.ok(
          e.revenueUsd &&
            e.revenueUsd.low > 0 &&
            e.revenueUsd.low <= e.revenueUsd.mid &&
            e.revenueUsd.mid <= e.revenueUsd.high,
        );
        assert.ok(e.assumptions.some((a) => a.name === 'electricity price'));
      }
      assert.ok(r.evidence.length >= r.findings.length - 1);
      const html = renderHtml(r);
      assert.match(html, /^<!doctype html>/);
      assert.ok(!/<script|<link|<img|@import|url\(/i.test(html), 'no scripts, links, images or CSS fetches');
      assert.ok(
        !/https?:\/\/(?!www\.w3\.org\/2000\/svg)/.test(html),
        'no network references besides the SVG namespace',
      );
      assert.ok((html.match(/<svg /g) ?? []).length >= 3);
      assert.ok(html.includes('onset 2017-05-17'));
      assert.ok(html.includes(world.crypto[0].wallet!));
      const md = renderMarkdown(r);
      assert.ok(md.includes('## Evidence') && md.includes('| claim | supported by |'));
      assert.ok(md.includes('2017-05-17'));
    },
  );
});
