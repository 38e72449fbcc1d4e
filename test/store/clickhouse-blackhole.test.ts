// A live collector writing to clickhouse-server 18.16 through a link that goes dead (packets
// dropped, not refused: a broken link, a firewall): each store request is given up on after the
// store timeout, the receiver queues past its bound while that request stalls, the collector holds
// what arrives from then on, its tries to recover run beside it rather than in its way, and once
// the link is back every flow is stored once, in order.
// Without the bound the first insert waited for the client's ten minutes. Loopback only; skipped
// (saying why) without the server.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openScreeningServer } from '../../src/cli/serve.js';
import { healthJson } from '../../src/netflow/metrics-server.js';
import { ApiKeyFile, keysPathFor } from '../../src/server/keys.js';
import { DeleteStillRunning, type ClickHouseFlowStore } from '../../src/store/clickhouse/flows.js';
import { openFlowStore } from '../../src/store/open.js';
import { flowNumber, v9Stream } from '../netflow/live-sender.js';
import { collectArgs, exited, freeUdpPort, sleep, until } from '../netflow/peers.js';
import { isPassingFailure, isUnreachable } from '../../src/store/passing-failures.js';
import { noAnswerMessage } from '../../src/store/request-timeout.js';
import { BlackHoleProxy } from './blackhole-proxy.js';
import { failSourceRowOnce, liveCollector, PER } from './live-collector.js';
import { haveServer, startServer, type RunningServer } from './clickhouse-server.js';

const skip = !haveServer() && 'clickhouse-server not installed (scripts/install-test-deps.sh)';
let server: RunningServer | null = null;
after(async () => {
  await server?.stop();
});

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** A store in database `name` of the test's server (started on first use), schema made, closed after `body`. */
async function withStore(name: string, body: (store: ClickHouseFlowStore) => Promise<void>): Promise<void> {
  server ??= await startServer();
  const store = (await openFlowStore(server.url.replace(/\/coinradar$/, `/${name}`))) as ClickHouseFlowStore;
  try {
    await store.ensureSchema();
    await body(store);
  } finally {
    await store.close();
  }
}

test(
  'the link to the ClickHouse server goes dead under a live collector: the failure is seen within the store timeout, what arrives is held without a datagram dropped, and once the link is back every flow is stored once, in order',
  { skip, timeout: 120_000 },
  async () => {
    server ??= await startServer();
    const proxy = await BlackHoleProxy.start(server.httpPort);
    const url = server.url.replace(`:${server.httpPort}/coinradar`, `:${proxy.port}/blackhole1`);
    const { store, c, send, said, close } = await liveCollector(url, {
      storeTimeoutMs: 1000,
      // A backlog of 4 batches and 100 ms: the first request's wait (1 s) would overflow it (20
      // batches a second arrive) but for the stall (STALL_CHECK_MS), which lets it queue more.
      maxBacklogBatches: 4,
      backlogMs: 100,
    });
    try {
      for (let k = 0; k < 10; k++) await send(k);
      await until(() => c.metrics().flowsCommitted === 10 * PER, 10_000, '300 flows committed');

      proxy.cut();
      const cutAt = Date.now();
      // 20 datagrams a second for 6 s: the store's requests go nowhere.
      let k = 10;
      let seenAfter = -1;
      for (; k < 130; k++) {
        await send(k);
        await sleep(50);
        if (seenAfter < 0 && c.metrics().storeFailing != null) seenAfter = Date.now() - cutAt;
      }
      assert.ok(seenAfter >= 0, 'the failure seen while the link is dead');
      // The first request in flight waits out its bound (1 s), and one more may have begun.
      assert.ok(seenAfter < 3000, `seen ${seenAfter} ms after the cut`);
      await until(() => c.metrics().counts.datagrams === k, 10_000, 'every datagram taken').catch((e) => {
        console.log(seenAfter, JSON.stringify(c.metrics().counts), c.metrics().storeFailing);
        throw e;
      });
      const m = c.metrics();
      assert.equal(healthJson(m).status, 'degraded');
      assert.match(String(m.storeFailing), /no answer in 1 s \(--store-timeout; query_id \S+ may still run/);
      assert.equal(m.failed, null, 'not stopped');
      assert.equal(
        m.counts['datagrams.dropped-backlog'] ?? 0,
        0,
        'no datagram dropped while recovery is tried',
      );
      assert.equal(m.counts['flows.lost-store'] ?? 0, 0);
      assert.ok(m.counts['store.stalls'] >= 1, `stalls: ${m.counts['store.stalls']}`);
      assert.ok(m.counts['flows.held-store'] >= 100 * PER, `held: ${m.counts['flows.held-store']}`);

      proxy.restore();
      await until(
        () => healthJson(c.metrics()).status === 'ok',
        20_000,
        'writing again once the link is back',
      );
      for (; k < 140; k++) await send(k);
      await until(() => c.metrics().flowsCommitted === k * PER, 20_000, 'every flow committed');
      const r = await c.stop();
      assert.equal(r.flows, k * PER);
      assert.equal(r.diagnostics.get('flows.lost-store'), 0);
      assert.equal(r.diagnostics.get('datagrams.dropped-backlog') ?? 0, 0);
      assert.match(said[0], /^the store failed: .*no answer in 1 s/);
      assert.match(said.at(-1)!, /^the store is writing again after/);

      // Every flow once, in order: what the server got of the interval broken off was deleted.
      const rows = await store.flows({ limit: 100_000, orderBy: 'f.id' });
      assert.deepEqual(
        rows.map((x) => flowNumber(x.src)),
        range(0, k * PER),
      );
      const [src] = await store.sources();
      assert.equal(src.flows, k * PER, "the source's row counts what the store holds");
    } finally {
      await close();
      await proxy.stop();
    }
  },
);

test(
  'the deletes of a recovery run past the store timeout (on a large store their counts read the whole flow table): the collector still recovers, every flow once',
  { skip, timeout: 120_000 },
  async () => {
    server ??= await startServer();
    const { store, c, send, close } = await liveCollector(server.url.replace(/\/coinradar$/, '/blackhole2'), {
      storeTimeoutMs: 1000,
    });
    try {
      await send(0, 10);
      await until(() => c.metrics().flowsCommitted === 300, 10_000, '300 flows committed');
      // The next update of the source's row fails as a connection cut would, and every count
      // before a delete takes 1.5 s, longer than the bound.
      failSourceRowOnce(store);
      const del = store.deleteWhere.bind(store);
      store.deleteWhere = async (table, where) => {
        await store.conn.rows('SELECT sleep(1.5) AS s');
        return del(table, where);
      };
      await send(10, 20);
      await until(() => c.metrics().counts['store.intervals-failed'] === 1, 10_000, 'one interval failed');
      await until(() => healthJson(c.metrics()).status === 'ok', 30_000, 'writing again');
      await send(20, 30);
      await until(() => c.metrics().flowsCommitted === 900, 10_000, 'every flow committed');
      const r = await c.stop();
      assert.equal(r.diagnostics.get('flows.lost-store'), 0);
      const rows = await store.flows({ limit: 100_000, orderBy: 'f.id' });
      assert.deepEqual(
        rows.map((x) => flowNumber(x.src)),
        range(0, 900),
      );
    } finally {
      await close();
    }
  },
);

test(
  'coinradar collect --spool started while its ClickHouse server cannot be reached: it collects anyway, holding what arrives in the spool, opens the store once the server answers, and stores what it held first; every flow once, in order',
  { skip, timeout: 120_000 },
  async (t) => {
    server ??= await startServer();
    const proxy = await BlackHoleProxy.start(server.httpPort);
    const dir = mkdtempSync(join(tmpdir(), 'cr-late-store-'));
    t.after(async () => {
      await proxy.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    const url = server.url.replace(`:${server.httpPort}/coinradar`, `:${proxy.port}/blackhole3`);
    proxy.cut();
    const port = await freeUdpPort();
    // Without a spool it stops at once, saying what --spool would do.
    const bare = spawn(
      process.execPath,
      collectArgs(url, `udp://127.0.0.1:${port}`, '--store-timeout', '1'),
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let bareErr = '';
    bare.stderr.on('data', (d) => (bareErr += d));
    assert.equal(await exited(bare), 2, bareErr);
    assert.match(
      bareErr,
      /no answer in 1 s \(--store-timeout.*\(with --spool DIR, collect starts anyway and keeps what arrives on disk until the store answers\)/,
    );
    const cli = spawn(
      process.execPath,
      collectArgs(
        url,
        `udp://127.0.0.1:${port}`,
        '--spool',
        join(dir, 'spool'),
        '--store-timeout',
        '1',
        '--no-geo',
      ),
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    let out = '';
    cli.stderr.on('data', (d) => (err += d));
    cli.stdout.on('data', (d) => (out += d));
    const { send, close: closeSender } = v9Stream(port, PER);
    try {
      await until(
        () => /collecting on udp:\/\/127\.0\.0\.1:\d+ into clickhouse:/.test(err),
        30_000,
        `waiting for the store: ${err}`,
      );
      assert.match(
        err,
        /^warning: the store cannot be reached \(.*no answer in 1 s \(--store-timeout.*\); collecting anyway, what arrives held in .*held\.spool \(and memory\) and stored once it answers/m,
      );
      await send(0, 20);
      await sleep(500);
      proxy.restore();
      await until(
        () => /the store is writing again after/.test(err),
        30_000,
        `the held flows stored: ${err}`,
      );
      assert.match(
        err,
        /warning: the store is writing again after \d+\.\d s of failing \(.*\); 600 flows held in memory and in .*held\.spool while it failed \(.*\) are stored now; 0 flows lost/,
      );
      await send(20, 30);
      await sleep(1500);
      cli.kill('SIGINT');
      assert.equal(await exited(cli), 0, err);
      assert.match(out, /900 flows stored/);
      // Detection ran once the store opened (the hook it was started with waited for it).
      assert.match(out, /detections: (?!none)/, out);
      const store = (await openFlowStore(
        server.url.replace(/\/coinradar$/, '/blackhole3'),
      )) as ClickHouseFlowStore;
      try {
        const rows = await store.flows({ limit: 100_000, orderBy: 'f.id' });
        assert.deepEqual(
          rows.map((x) => flowNumber(x.src)),
          range(0, 900),
        );
      } finally {
        await store.close();
      }
    } finally {
      closeSender();
      if (cli.exitCode === null) cli.kill('SIGKILL');
    }
  },
);

test(
  'serve on a ClickHouse server it cannot reach at start: it serves anyway (screening answers, the network routes 503 until the store answers); with --collect --spool the collector holds what arrives and stores it once the store opens',
  { skip, timeout: 120_000 },
  async (t) => {
    server ??= await startServer();
    const proxy = await BlackHoleProxy.start(server.httpPort);
    const dir = mkdtempSync(join(tmpdir(), 'cr-late-serve-'));
    t.after(async () => {
      await proxy.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    const url = server.url.replace(`:${server.httpPort}/coinradar`, `:${proxy.port}/blackhole6`);
    const state = join(dir, 'state.duckdb');
    const { key } = new ApiKeyFile(keysPathFor(state)).create('analyst');
    const base = { db: url, stateDb: state, consoleDir: null, rate: 0, storeTimeoutMs: 1000 };
    proxy.cut();
    // --collect without --spool stops at once, saying what --spool would do.
    await assert.rejects(openScreeningServer({ ...base, collect: 'udp://127.0.0.1:0' }), (e: Error) => {
      assert.match(
        e.message,
        /no answer in 1 s \(--store-timeout.*\(with --spool DIR, serve --collect starts anyway/,
      );
      return true;
    });
    const started = Date.now();
    const s = await openScreeningServer({
      ...base,
      collect: 'udp://127.0.0.1:0',
      spoolDir: join(dir, 'spool'),
    });
    try {
      assert.ok(Date.now() - started < 5000, `started within the bound (${Date.now() - started} ms)`);
      assert.match(s.summary, /network API and console on the store .*, not reachable yet/);
      const get = (url: string) => s.app.inject({ method: 'GET', url, headers: { 'x-api-key': key } });
      const down = await get('/v1/summary?by=dport');
      assert.equal(down.statusCode, 503, down.body);
      assert.equal(down.json().error.code, 'store_unavailable');
      assert.equal(down.headers['retry-after'], '5');
      // Screening needs no flow store.
      const screened = await s.app.inject({
        method: 'GET',
        url: '/v1/screen/1BoatSLRHtKNngkdXEeobR76b53LETtpyT',
        headers: { 'x-api-key': key },
      });
      assert.equal(screened.statusCode, 200, screened.body);
      const collector = s.collector!;
      const { send, close } = v9Stream(collector.port, PER);
      t.after(close);
      await send(0, 20);
      await until(
        () => collector.metrics().counts['flows.held-store'] >= 20 * PER,
        10_000,
        'held while away',
      );
      proxy.restore();
      await until(() => collector.metrics().flowsCommitted === 20 * PER, 30_000, 'the held flows stored');
      await send(20, 30);
      await until(() => collector.metrics().flowsCommitted === 30 * PER, 10_000, 'then the new ones');
      const m = collector.metrics();
      assert.equal(m.counts['datagrams.dropped-backlog'] ?? 0, 0);
      assert.equal(m.counts['flows.lost-store'] ?? 0, 0);
      const up = await get('/v1/summary?by=dport');
      assert.equal(up.statusCode, 200, up.body);
      assert.equal(up.json().tables.dport[0].flows, 30 * PER, up.body);
    } finally {
      await s.close();
    }
    // Plain serve (no collector) on the cut link starts too, and opens the store on a request once
    // it answers.
    proxy.cut();
    const plain = await openScreeningServer(base);
    try {
      const get = () =>
        plain.app.inject({ method: 'GET', url: '/v1/summary?by=dport', headers: { 'x-api-key': key } });
      assert.equal((await get()).statusCode, 503);
      proxy.restore();
      let r = await get();
      await until(
        async () => (r = await get()).statusCode === 200,
        15_000,
        'the routes answer once the store does',
      );
      assert.equal(r.json().tables.dport[0].flows, 30 * PER, r.body);
    } finally {
      await plain.close();
    }
  },
);

test(
  'a delete that outlasts its wait is left running on the server and waited for by the next try, never begun twice',
  { skip, timeout: 120_000 },
  () =>
    withStore('blackhole4', async (store) => {
      await store.conn.command('CREATE TABLE big (id Int64, x String) ENGINE = MergeTree ORDER BY x');
      for (let p = 0; p < 8; p++)
        await store.conn.command(
          `INSERT INTO big SELECT number + ${p * 1_000_000}, toString(number) FROM numbers(1000000)`,
        );
      const mutations = async () =>
        Number(
          (
            await store.conn.rows<{ n: number }>(
              "SELECT count() AS n FROM system.mutations WHERE database = currentDatabase() AND table = 'big'",
            )
          )[0].n,
        );
      const where = 'id >= 10 AND id < 20';
      await assert.rejects(store.deleteWhere('big', where, 0), (e: Error) => {
        assert.ok(e instanceof DeleteStillRunning, String(e));
        assert.match(e.message, /ALTER TABLE big DELETE still running/);
        assert.ok(isPassingFailure(e), 'a failure that passes');
        return true;
      });
      assert.equal(await mutations(), 1);
      // The next try, while it still runs: waited for, not begun again.
      await store.deleteWhere('big', where, 0).catch((e: unknown) => {
        if (!(e instanceof DeleteStillRunning)) throw e;
      });
      await store.deleteWhere('big', where, 60_000);
      assert.equal(await mutations(), 1, 'one delete, not two');
      const [left] = await store.conn.rows<{ n: number }>(`SELECT count() AS n FROM big WHERE ${where}`);
      assert.equal(Number(left.n), 0);
    }),
);

test(
  "a recovery's delete rewrites only the part that holds the interval's rows; the others keep their files (hard links)",
  { skip, timeout: 60_000 },
  () =>
    withStore('blackhole5', async (store) => {
      await store.conn.command(
        'CREATE TABLE parts (d Date, source_id UInt32, id UInt64, x String) ENGINE = MergeTree PARTITION BY d ORDER BY (x, id)',
      );
      for (let p = 0; p < 6; p++)
        await store.conn.command(
          `INSERT INTO parts SELECT toDate('2026-01-0${1 + (p % 3)}'), 7, number + ${p * 100_000}, toString(number % 5) FROM numbers(100000)`,
        );
      // Each part's column files by inode: the same inodes after the delete are the same files.
      const files = async () => {
        const parts = await store.conn.rows<{ name: string; path: string }>(
          "SELECT name, path FROM system.parts WHERE database = currentDatabase() AND table = 'parts' AND active ORDER BY name",
        );
        return parts.map((p) =>
          readdirSync(p.path)
            .filter((f) => f.endsWith('.bin'))
            .map((f) => statSync(join(p.path, f)).ino)
            .join(','),
        );
      };
      const before = await files();
      assert.equal(before.length, 6);
      // The shape of discardRuns' condition, on two runs of the newest insert.
      await store.deleteWhere(
        'parts',
        'source_id = 7 AND ((id >= 500010 AND id < 500020) OR (id >= 500100 AND id < 500105))',
        60_000,
      );
      const after = await files();
      assert.equal(after.length, 6);
      const kept = after.filter((f) => before.includes(f)).length;
      assert.equal(kept, 5, 'five parts hard-linked, one rewritten');
      const [n] = await store.conn.rows<{ n: number }>('SELECT count() AS n FROM parts');
      assert.equal(Number(n.n), 600_000 - 15);
    }),
);

test('a request given up on counts as the server out of reach; --store-timeout is checked before a store is opened', async () => {
  assert.ok(isUnreachable(new Error(`clickhouse://x: ${noAnswerMessage(1500, 'q1')}`)));
  const dir = mkdtempSync(join(tmpdir(), 'cr-store-timeout-'));
  try {
    for (const bad of ['soon', '-1']) {
      const cli = spawn(
        process.execPath,
        collectArgs(join(dir, 'x.duckdb'), 'udp://127.0.0.1:0', '--store-timeout', bad),
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let err = '';
      cli.stderr.on('data', (d) => (err += d));
      assert.equal(await exited(cli), 2, err);
      assert.match(err, new RegExp(`--store-timeout must be a number of at least 0, not '${bad}'`));
    }
    assert.ok(!readdirSync(dir).includes('x.duckdb'), 'no store opened');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
