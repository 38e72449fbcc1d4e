// The live collector into ClickHouse: a scenario's NetFlow v9 export replayed over loopback UDP into
// `NetflowCollector` writing a clickhouse-server 18.16 store (a live source: each checkpoint one
// insert, visible at once) stores every record, and the store's summary and daily series equal
// those of the same export ingested as a file into DuckDB.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/flow/all-formats.js';
import { emptyEnrichment } from '../../src/flow/enrichment.js';
import { ingestFile } from '../../src/flow/ingest.js';
import type { FlowBatch } from '../../src/flow/record.js';
import { NetflowCollector } from '../../src/netflow/collector.js';
import { replay } from '../../src/scenario/replay.js';
import { buildWorld, defaultConfig } from '../../src/scenario/world.js';
import { writeScenario } from '../../src/scenario/write.js';
import { openFlowStore } from '../../src/store/open.js';
import type { FlowStore } from '../../src/store/store.js';
import { haveServer, startServer, type RunningServer } from './clickhouse-server.js';

const dir = mkdtempSync(join(tmpdir(), 'coinradar-ch-collect-'));
let server: RunningServer | null = null;
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});
const enricher = { enrich: (b: FlowBatch) => emptyEnrichment(b.length) };

async function view(store: FlowStore) {
  return {
    summary: { ...(await store.summary({ top: 10 })), total: undefined },
    flows: (await store.summary({})).total.flows,
    series: (await store.series({ bucket: 'day', scope: { dstPorts: [3333, 8333, 4444] }, sources: true }))
      .buckets,
  };
}

test(
  'collect into clickhouse-server 18.16: every replayed record stored, the same summary and series as ingest into DuckDB',
  {
    skip: !haveServer() && 'clickhouse-server not installed (scripts/install-test-deps.sh)',
    timeout: 300_000,
  },
  async () => {
    const world = buildWorld(
      defaultConfig({
        seed: 2,
        startMs: Date.UTC(2017, 4, 10),
        days: 10,
        onsetMs: Date.UTC(2017, 4, 14),
        hosts: 14,
      }),
    );
    const exp = writeScenario(world, join(dir, 'scenario'), { format: 'netflow9' });
    const file = join(dir, 'scenario', 'export.pcap');
    const duck = await openFlowStore(':memory:');
    await ingestFile(file, { store: duck, enricher });
    const want = await view(duck);
    await duck.close();
    assert.equal(want.flows, exp.records);
    assert.ok(exp.records > 10_000, `a stream worth the name (${exp.records} records)`);

    server = await startServer();
    const store = await openFlowStore(server.url);
    const collector = await NetflowCollector.start({
      listen: 'udp://127.0.0.1:0',
      store,
      enricher,
      maxBacklogBatches: 1 << 20,
      backlogMs: Infinity,
    });
    // Paced by what the receiver has read, as the demo does, so the kernel drops nothing.
    const window = {
      read: () => collector.datagramsRead(),
      datagrams: Math.max(16, Math.floor(collector.recvBuffer / 8192)),
    };
    const sent = await replay(file, { host: '127.0.0.1', port: collector.port }, 0, undefined, window);
    const until = Date.now() + 120_000;
    while (collector.flows < sent.records && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    await collector.stop();
    const r = await collector.done;
    assert.equal(r.flows, sent.records);
    try {
      const got = await view(store);
      assert.equal(got.flows, sent.records);
      assert.deepEqual(got, want);
    } finally {
      await store.close();
    }
  },
);
