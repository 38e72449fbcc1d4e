// A live collector writing to clickhouse-server 18.16 when the server goes away: killed and started
// again on the same data (a crash, an upgrade), the collector does not stop — the intervals the
// server missed are rolled back and counted, /healthz says "degraded" meanwhile, and once the
// server answers it writes again; an interval the server got part of is deleted from the store, so
// the store holds what the source's row counts; the API over it answers 503 while the server is
// away. Loopback only; skipped (saying why) without the server.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { healthJson } from '../../src/netflow/metrics-server.js';
import type { ClickHouseFlowStore } from '../../src/store/clickhouse/flows.js';
import { openNetworkReader } from '../../src/store/reader.js';
import { ScreeningIndex } from '../../src/sanctions/screen.js';
import { buildServer } from '../../src/server/app.js';
import { AuditLog } from '../../src/server/audit.js';
import { ApiKeyFile } from '../../src/server/keys.js';
import { listAndKey } from '../server/fixture.js';
import { flowNumber } from '../netflow/live-sender.js';
import { failSourceRowOnce, liveCollector, PER } from './live-collector.js';
import { sleep, until } from '../netflow/peers.js';
import { haveServer, startServer, type RunningServer } from './clickhouse-server.js';

const skip = !haveServer() && 'clickhouse-server not installed (scripts/install-test-deps.sh)';
let server: RunningServer | null = null;
after(async () => {
  await server?.stop();
});

/** A collector with detection into a fresh database of the running server. */
async function collectorOn(database: string, spoolDir?: string) {
  server ??= await startServer();
  return liveCollector(server.url.replace(/\/coinradar$/, `/${database}`), { spoolDir }, true);
}

/** Flow numbers stored, in order, and detections that name no stored flow. */
async function stored(store: ClickHouseFlowStore): Promise<{ flows: number[]; orphans: number }> {
  const rows = await store.flows({ limit: 100_000, orderBy: 'f.id' });
  const [o] = await store.conn.rows<{ n: number }>(
    'SELECT count() AS n FROM detections WHERE flow_id NOT IN (SELECT id FROM flow_table)',
  );
  return { flows: rows.map((r) => flowNumber(r.src)), orphans: Number(o.n) };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

test(
  'the ClickHouse server killed and started again under a live collector: the interval it broke and what arrives while it is away are held in memory and stored once it answers; no flow lost',
  { skip, timeout: 120_000 },
  async () => {
    const { store, c, send, said, close } = await collectorOn('restart1');
    try {
      await send(0, 10);
      await until(() => c.metrics().flowsCommitted === 300, 10_000, '300 flows committed');

      // Down for 5 s (SIGKILL, as a crash), flows arriving meanwhile.
      const pid = server!.pid;
      const back = server!.restart(5000);
      await until(() => !processAlive(pid), 10_000, 'the server gone');
      await send(10, 20);
      await until(
        () => c.metrics().storeFailing != null && c.metrics().counts.datagrams === 20,
        10_000,
        'the failure seen and every datagram taken',
      );
      const h = healthJson(c.metrics());
      assert.equal(h.status, 'degraded');
      assert.match(String(h.error), /ECONNREFUSED|ECONNRESET|socket hang up/);
      assert.equal(c.metrics().failed, null, 'not stopped');
      // More while it is away: held.
      for (let k = 20; k < 30; k++) {
        await send(k, k + 1);
        await sleep(50);
      }
      await until(() => c.metrics().counts.datagrams === 30, 10_000, 'every datagram taken');
      assert.ok(c.metrics().counts['flows.held-store'] >= PER, 'flows held while the server is away');
      await back;

      await until(
        () => healthJson(c.metrics()).status === 'ok',
        15_000,
        'writing again once the server answers',
      );
      assert.match(said[0], /^the store failed: clickhouse:\/\/coin:\*\*\*@.*collecting goes on$/);
      const m =
        /^the store is writing again after \d+\.\d s of failing \(.*\); (\d+) flows held in memory while it failed \(the interval it rolled back and what arrived since\) are stored now; (\d+) flows lost/.exec(
          said.at(-1)!,
        );
      assert.ok(m, said.at(-1));
      const [held, lost] = m.slice(1).map(Number);
      assert.ok(held >= PER && held <= 600 && lost === 0, `held ${held}, lost ${lost}`);
      await send(30, 40);
      await until(
        () => c.metrics().flowsCommitted === 1200 - lost,
        10_000,
        'every flow but the lost committed',
      );
      const r = await c.stop();
      assert.equal(r.flows, 1200 - lost);
      assert.equal(r.diagnostics.get('flows.lost-store'), lost);
      assert.equal(r.diagnostics.get('flows.held-stored'), held);

      // The interval the server broke was deleted by its ids and stored again: every flow once, in order.
      const s = await stored(store);
      assert.deepEqual(s.flows, range(0, 1200));
      assert.equal(s.orphans, 0);
      const [src] = await store.sources();
      assert.equal(src.flows, 1200 - lost, "the source's row counts what the store holds");
    } finally {
      await close();
    }
  },
);

test(
  'an interval the server got part of (its flows and detections inserted, the source row refused) is deleted from the store when the collector rolls it back, and stored again from memory: every flow once',
  { skip, timeout: 120_000 },
  async () => {
    const { store, c, send, said, close } = await collectorOn('restart2');
    try {
      await send(0, 10);
      await until(() => c.metrics().flowsCommitted === 300, 10_000, '300 flows committed');
      // The next update of the source's row fails as a connection cut would, after the interval's
      // flows, payloads and detections went in.
      failSourceRowOnce(store);
      await send(10, 20);
      await until(() => c.metrics().counts['store.intervals-failed'] === 1, 10_000, 'one interval failed');
      await until(() => healthJson(c.metrics()).status === 'ok', 10_000, 'writing again');
      await send(20, 30);
      await until(() => c.metrics().flowsCommitted === 900, 10_000, 'every flow committed');
      const r = await c.stop();
      assert.equal(r.flows, 900);
      assert.equal(r.diagnostics.get('flows.lost-store'), 0);
      assert.equal(r.diagnostics.get('flows.held-stored'), 300);
      assert.match(said[0], /test: socket hang up/);

      // Once each: the half-stored copy deleted (without the delete, flows 300–599 came twice).
      const s = await stored(store);
      assert.deepEqual(s.flows, range(0, 900), 'the half-stored interval deleted, then stored again');
      assert.equal(s.orphans, 0);
      const [src] = await store.sources();
      assert.equal(src.flows, 900);
    } finally {
      await close();
    }
  },
);

test(
  'a collector stopped before the server answered again, with --spool: the next collector on it deletes what the server got of the interval broken off, then stores what the spool holds: every flow once',
  { skip, timeout: 120_000 },
  async (t) => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'cr-ch-spool-'));
    t.after(() => rmSync(spoolDir, { recursive: true, force: true }));
    const one = await collectorOn('restart4', spoolDir);
    try {
      await one.send(0, 10);
      await until(() => one.c.metrics().flowsCommitted === 300, 10_000, '300 flows committed');
      // From here the server takes the interval's rows but not the source row's update, and
      // nothing can be deleted (as a server that went away between the two): the interval stays
      // half stored, the collector holds it and what follows (its spool too).
      const hangUp = () => Promise.reject(new Error('test: socket hang up'));
      one.store.putSource = hangUp;
      one.store.deleteWhere = hangUp;
      await one.send(10, 20);
      await until(
        () => one.c.metrics().counts['store.intervals-failed'] === 1,
        10_000,
        'one interval failed',
      );
      await one.send(20, 25);
      await until(() => one.c.metrics().counts['flows.held-store'] === 450, 10_000, '450 flows held');
      await assert.rejects(one.c.stop(), /450 are kept in .*held\.spool/);
    } finally {
      await one.close();
    }
    const two = await collectorOn('restart4', spoolDir);
    try {
      const [before] = await two.store.conn.rows<{ n: number }>('SELECT count() AS n FROM flow_table');
      assert.ok(Number(before.n) > 300, `the server got part of the broken interval: ${before.n} rows`);
      await until(() => two.c.metrics().flowsCommitted === 450, 20_000, 'the spool stored');
      assert.match(two.said.join('\n'), /450 flows a collector before this one held in .* are stored now/);
      await two.send(25, 30);
      await until(() => two.c.metrics().flowsCommitted === 600, 10_000, '150 more');
      await two.c.stop();
      const s = await stored(two.store);
      assert.deepEqual(s.flows, range(0, 900), 'every flow once, in order');
      assert.equal(s.orphans, 0);
      const counts = (await two.store.sources()).map((x) => x.flows).sort((a, b) => a - b);
      assert.deepEqual(counts, [300, 600], "each source's row counts what it stored");
    } finally {
      await two.close();
    }
  },
);

test(
  'a live collector stopped by a failure that does not pass keeps what it committed, as on DuckDB: the interval broken off is deleted, the source row counts the rest',
  { skip, timeout: 120_000 },
  async () => {
    const { store, c, send, close } = await collectorOn('restart5');
    try {
      await send(0, 10);
      await until(() => c.metrics().flowsCommitted === 300, 10_000, '300 flows committed');
      failSourceRowOnce(store, 'test: not a passing failure');
      await send(10, 20);
      await assert.rejects(
        c.done,
        /storing failed, collection stopped: test: not a passing failure \(300 flows committed before it/,
      );
      const s = await stored(store);
      assert.deepEqual(s.flows, range(0, 300), 'what was committed stays; the broken interval is gone');
      assert.equal(s.orphans, 0);
      const [src] = await store.sources();
      assert.equal(src.flows, 300);
    } finally {
      await close();
    }
  },
);

test(
  "the API over a ClickHouse store whose server is down answers 503 'store_unavailable' with Retry-After, and answers again once the server is back",
  { skip, timeout: 120_000 },
  async () => {
    const { store, c, send, close } = await collectorOn('restart3');
    const dir = mkdtempSync(join(tmpdir(), 'cr-ch-api-'));
    const index = new ScreeningIndex();
    const keys = new ApiKeyFile(join(dir, 'db.keys.json'));
    const { key } = listAndKey(index, keys);
    const audit = new AuditLog(join(dir, 'audit.jsonl'));
    const app = buildServer({
      index,
      keys,
      audit,
      rate: 0,
      network: { reader: await openNetworkReader(store) },
    });
    const get = () => app.inject({ method: 'GET', url: '/v1/summary?by=src', headers: { 'x-api-key': key } });
    try {
      await send(0, 10);
      await until(() => c.metrics().flowsCommitted === 300, 10_000, '300 flows committed');
      await c.stop();
      assert.equal((await get()).statusCode, 200);
      const pid = server!.pid;
      const back = server!.restart(5000);
      await until(() => !processAlive(pid), 10_000, 'the server gone');
      const r = await get();
      assert.equal(r.statusCode, 503, r.body);
      assert.equal(r.headers['retry-after'], '5');
      assert.equal(r.json().error.code, 'store_unavailable');
      assert.doesNotMatch(r.body, /pa55|coin:/, 'neither the password nor the URL');
      await back;
      const again = await get();
      assert.equal(again.statusCode, 200, again.body);
    } finally {
      await app.close();
      await audit.close();
      await close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
