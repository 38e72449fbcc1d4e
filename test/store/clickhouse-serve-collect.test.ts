// `serve --collect` on ClickHouse: the console's server collecting NetFlow v9 into a clickhouse-server
// 18.16 database that does not exist yet (the collector's first write makes it), while its network
// routes read the same store. A scenario's export replayed over loopback is stored whole, and the
// routes then answer what `serve` answers on a DuckDB file that ingested the same export.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openScreeningServer, type ScreeningServer } from '../../src/cli/serve.js';
import { replay } from '../../src/scenario/replay.js';
import { buildWorld, defaultConfig } from '../../src/scenario/world.js';
import { writeScenario } from '../../src/scenario/write.js';
import { ApiKeyFile, keysPathFor } from '../../src/server/keys.js';
import { ingestDemo } from './clickhouse-demo.js';
import { haveServer, startServer, type RunningServer } from './clickhouse-server.js';

const dir = mkdtempSync(join(tmpdir(), 'coinradar-ch-serve-collect-'));
let server: RunningServer | null = null;
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The routes compared: the overview's series and summary, and the hosts table. */
const PATHS = [
  '/v1/series?scope=watch:kp',
  '/v1/summary?by=country&by=asn&by=dport',
  '/v1/summary?scope=watch:kp&by=src',
  '/v1/hosts?scope=watch:kp',
];

async function ask(s: ScreeningServer, key: string): Promise<string[]> {
  const base = await s.app.listen({ host: '127.0.0.1', port: 0 });
  const out: string[] = [];
  for (const p of PATHS) {
    const r = await fetch(`${base}${p}`, { headers: { 'x-api-key': key } });
    const body = (await r.json()) as { series?: { label: string }[] };
    // The live detection labels its flows as the stream goes (per batch); the first three kinds
    // (all flows, crypto ports, catalogued pools) are the flows' own.
    if (body.series) body.series = body.series.slice(0, 3);
    out.push(`GET ${p}\n${r.status}\n${JSON.stringify(body)}`);
  }
  return out;
}

test(
  'serve --collect into clickhouse-server 18.16: every replayed record stored, the routes answer as on DuckDB',
  {
    skip: !haveServer() && 'clickhouse-server not installed (scripts/install-test-deps.sh)',
    timeout: 300_000,
  },
  async () => {
    const world = buildWorld(
      defaultConfig({
        seed: 3,
        startMs: Date.UTC(2017, 4, 12),
        days: 8,
        onsetMs: Date.UTC(2017, 4, 15),
        hosts: 14,
      }),
    );
    const exp = writeScenario(world, join(dir, 'scenario'), { format: 'netflow9' });
    const file = join(dir, 'scenario', 'export.pcap');
    assert.ok(exp.records > 5_000, `a stream worth the name (${exp.records} records)`);

    const duck = join(dir, 'flows.duckdb');
    await ingestDemo(duck, [file]);
    const { key: duckKey } = new ApiKeyFile(keysPathFor(duck)).create('analyst');
    const d = await openScreeningServer({ db: duck, consoleDir: null, rate: 0 });
    let want: string[];
    try {
      want = await ask(d, duckKey);
    } finally {
      await d.close();
    }
    assert.match(want[0], /"total":[1-9]/);

    server = await startServer('collected');
    const state = join(dir, 'state.duckdb');
    const { key } = new ApiKeyFile(keysPathFor(state)).create('analyst');
    // serve alone, before any writer made the store: the routes say so (503), not "internal error".
    const early = await openScreeningServer({ db: server.url, stateDb: state, consoleDir: null, rate: 0 });
    try {
      const r = await early.app.inject({ method: 'GET', url: '/v1/series', headers: { 'x-api-key': key } });
      assert.equal(r.statusCode, 503, r.body);
      assert.equal(r.json().error.code, 'store_not_ready');
      assert.match(
        r.json().error.message,
        /no coinradar store in database collected .*ingest or collect into it first/,
      );
    } finally {
      await early.close();
    }
    const s = await openScreeningServer({
      db: server.url,
      stateDb: state,
      consoleDir: null,
      rate: 0,
      collect: 'udp://127.0.0.1:0',
      // Nothing dropped: the replay below paces itself by what the receiver has read.
      collectBacklog: { maxBacklogBatches: 1 << 20, backlogMs: Infinity },
    });
    try {
      const collector = s.collector!;
      const window = {
        read: () => collector.datagramsRead(),
        datagrams: Math.max(16, Math.floor(collector.recvBuffer / 8192)),
      };
      const sent = await replay(file, { host: '127.0.0.1', port: collector.port }, 0, undefined, window);
      assert.equal(sent.records, exp.records);
      const until = Date.now() + 120_000;
      while (collector.flows < sent.records && Date.now() < until)
        await new Promise((r) => setTimeout(r, 100));
      assert.equal(collector.flows, sent.records);
      // A checkpoint (about a second) makes the last records visible.
      await new Promise((r) => setTimeout(r, 2_500));
      const got = await ask(s, key);
      for (let i = 0; i < PATHS.length; i++) assert.equal(got[i], want[i], PATHS[i]);
    } finally {
      await s.close();
    }
    const r = await s.collector!.done;
    assert.equal(r.flows, exp.records);
  },
);
