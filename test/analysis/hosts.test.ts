// Host profiles (coinradar hosts): per internal host, crypto activity with its evidence grade,
// checked against a generated world's ground truth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadInfrastructure } from '../../src/detect/infrastructure.js';
import { createDetector } from '../../src/detect/registry.js';
import { redetectStore } from '../../src/detect/rerun.js';
import { CRYPTO_PORTS } from '../../src/scenario/world.js';
import { openDetectionStore } from '../../src/store/detections.js';
import { hostProfiles } from '../../src/store/duckdb/hosts.js';
import { dotted, withWorldStore } from '../helpers/world-store.js';

const DAY = 86_400_000;

test('host profiles: the miners of a world, from their first day, one long session each, with pool and coin', async () => {
  const over = { seed: 12, hosts: 10, days: 20, miners: 3, moneroShare: 0.34 };
  await withWorldStore(
    {
      ...over,
      startMs: Date.UTC(2017, 4, 10),
      onsetMs: Date.UTC(2017, 4, 17),
      growth: 'linear',
      rampDays: 6,
    },
    async (world, store) => {
      // Before detection: ports only (no detection tables yet), so no labels or coins.
      const byPort = await hostProfiles(store.db, { scope: { country: 'KP' }, ports: [...CRYPTO_PORTS] });
      assert.ok(byPort.length > 0);
      assert.ok(
        byPort.every((h) => h.labels.length === 0 && h.coins.length === 0 && h.firstStrongMs === null),
      );

      await redetectStore(store, await openDetectionStore(store), createDetector(loadInfrastructure()));
      const miners = world.crypto.filter((c) => c.kind === 'miner');
      assert.equal(miners.length, 3);
      const strong = await hostProfiles(store.db, {
        scope: { country: 'KP' },
        ports: [...CRYPTO_PORTS],
        minConfidence: 'infrastructure',
      });
      assert.deepEqual(strong.map((h) => h.host).sort(), miners.map((m) => dotted(m.ip)).sort());
      for (const m of miners) {
        const h = strong.find((x) => x.host === dotted(m.ip))!;
        assert.equal(Math.floor(h.firstMs / DAY) * DAY, m.startMs, `${h.host} starts on its start day`);
        assert.equal(h.firstStrongMs, h.firstMs);
        assert.ok(h.lastMs >= Date.UTC(2017, 4, 29), 'mines to the end');
        assert.deepEqual(h.coins, [`${m.coin}/infrastructure`]);
        assert.ok(h.labels.includes('stratum/infrastructure'));
        assert.deepEqual(h.ports, [m.pool!.port]);
        assert.ok(h.pools.length === 1 && h.pools[0] === m.pool!.server, `${h.pools} vs ${m.pool!.server}`);
        assert.equal(h.peers, 1);
        // Mining is continuous: NetFlow's active-timeout pieces merge into one session, every
        // hour from the first to the last is active.
        assert.equal(h.sessions, 1);
        assert.equal(h.dutyCycle, 1);
        assert.equal(h.hoursActive, Math.floor(h.lastMs / 3600000) - Math.floor(h.firstMs / 3600000) + 1);
        // One host scope gives the same profile.
        const [one] = await hostProfiles(store.db, {
          scope: { host: h.host },
          ports: [],
          minConfidence: 'infrastructure',
        });
        assert.deepEqual(one, h);
      }
      // Ports and detections of every grade: the miners are listed first (best evidence), then
      // hosts with port evidence only; a one-minute session gap splits sessions more finely.
      const all = await hostProfiles(store.db, { scope: { country: 'KP' }, ports: [...CRYPTO_PORTS] });
      assert.deepEqual(
        all
          .slice(0, 3)
          .map((h) => h.host)
          .sort(),
        miners.map((m) => dotted(m.ip)).sort(),
      );
      assert.ok(all.slice(3).every((h) => h.firstStrongMs === null));
      const fine = await hostProfiles(store.db, {
        scope: { country: 'KP' },
        ports: [],
        minConfidence: 'infrastructure',
        sessionGapMs: 0,
      });
      assert.ok(fine.every((h) => h.sessions >= strong.find((x) => x.host === h.host)!.sessions));
      // A time window and a label filter.
      const late = await hostProfiles(store.db, {
        scope: { country: 'KP' },
        ports: [],
        minConfidence: 'infrastructure',
        fromMs: Date.UTC(2017, 4, 27),
      });
      assert.ok(late.every((h) => h.firstMs >= Date.UTC(2017, 4, 27)));
      assert.deepEqual(
        await hostProfiles(store.db, { scope: { country: 'KP' }, ports: [], labels: ['monero-p2p'] }),
        [],
      );
    },
  );
});
