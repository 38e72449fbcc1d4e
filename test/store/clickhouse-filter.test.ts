// nfdump filters compile to DuckDB SQL; a ClickHouse store must refuse one rather than answer for
// every flow (it does not translate them yet).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filterSql } from '../../src/flow/nfdump-filter.js';
import type { ClickHouseFlowStore } from '../../src/store/clickhouse/flows.js';
import { openFlowStore } from '../../src/store/open.js';
import { haveChdb } from './clickhouse-server.js';

test('a ClickHouse store (chDB) refuses --filter in summary, summary --by, series and hosts', async (t) => {
  const why = await haveChdb();
  if (why) {
    t.skip(`chDB cannot be loaded here: ${why}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'cr-chf-'));
  const store = await openFlowStore(`chdb:${join(dir, 'db')}`);
  try {
    // An empty store as a write leaves it (opening alone creates nothing: a read would say so).
    await (store as ClickHouseFlowStore).ensureSchema();
    const filter = filterSql('proto tcp and dst port 8333');
    const refused = /--filter \(nfdump syntax\) is not supported on a ClickHouse store/;
    await assert.rejects(store.summary({ filter }), refused);
    await assert.rejects(store.summarize({ by: ['dport'], filter }), refused);
    await assert.rejects(store.series({ bucket: 'day', scope: { filter } }), refused);
    await assert.rejects(store.hostProfiles({ scope: { filter }, ports: [8333] }), refused);
    // Without a filter the same calls answer.
    assert.equal((await store.summary({})).total.flows, 0);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
