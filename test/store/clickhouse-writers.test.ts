// Several writers on one ClickHouse database (issue 13, point 3) and read commands that create
// nothing (point 4), on Debian's clickhouse-server 18.16 started on loopback:
// - writers claiming ids at once never get the same block or source id (ids.ts);
// - two real `coinradar collect` processes, different UDP ports, one database: every flow stored
//   once, ids and source ids distinct, and every detection each one wrote still there;
// - a read command on a database without the schema says so, exits 2 and creates nothing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BLOCK, IdClaims } from '../../src/store/clickhouse/ids.js';
import type { ClickHouseFlowStore } from '../../src/store/clickhouse/flows.js';
import { replay } from '../../src/scenario/replay.js';
import { buildWorld, defaultConfig } from '../../src/scenario/world.js';
import { writeScenario } from '../../src/scenario/write.js';
import { openFlowStore } from '../../src/store/open.js';
import { runCli } from '../cli-run.js';
import { exited, freeUdpPort, sleep } from '../netflow/peers.js';
import { PASSWORD, haveServer, startCluster, startServer, type RunningServer } from './clickhouse-server.js';

const dir = mkdtempSync(join(tmpdir(), 'coinradar-ch-writers-'));
let server: RunningServer | null = null;
const procs: ChildProcess[] = [];
after(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});
const skip = !haveServer() && 'clickhouse-server not installed (scripts/install-test-deps.sh)';
const serverUrl = async (database: string) => {
  server ??= await startServer();
  return server.url.replace(/\/coinradar$/, `/${database}`);
};

/**
 * Three writers claiming at once, 25 runs of flow blocks (1 or 2 blocks) and 15 source ids each,
 * through the store URLs given (one per writer): every block and source id given once.
 */
async function claimRace(urls: string[], cluster?: string): Promise<void> {
  const stores: ClickHouseFlowStore[] = [];
  try {
    for (const u of urls) stores.push((await openFlowStore(u, { cluster })) as ClickHouseFlowStore);
    for (const s of stores) await s.ensureSchema();
    const claims = stores.map((s) => new IdClaims(s.conn));
    const got = await Promise.all(
      claims.map(async (c, w) => {
        const blocks: number[] = [];
        const sources: number[] = [];
        for (let k = 0; k < 25; k++) {
          const n = 1 + ((k + w) % 2);
          const first = await c.claim('flow', n, w);
          for (let b = 0; b < n; b++) blocks.push(first + b);
          if (k < 15) sources.push(await c.claim('source', 1, w));
        }
        return { blocks, sources };
      }),
    );
    const blocks = got.flatMap((g) => g.blocks);
    const sources = got.flatMap((g) => g.sources);
    assert.equal(new Set(blocks).size, blocks.length, `a flow block given twice: ${blocks.join(',')}`);
    assert.equal(new Set(sources).size, sources.length, `a source id given twice: ${sources.join(',')}`);
    assert.equal(sources.length, 45);
    const attempts = claims.reduce((a, c) => a + c.attempts, 0);
    process.stderr.write(
      `# ${cluster ? `cluster ${cluster}` : 'one server'}: ${attempts} claims for ${75 + 45} runs (the rest gave way to another writer)\n`,
    );
    // And through the store: ids of one writer's batches are consecutive within a claimed block.
    const first = await stores[1].takeFlowIds(10, 1);
    assert.equal(await stores[1].takeFlowIds(5, 1), first + 10);
    assert.equal(Math.floor(first / BLOCK), Math.floor((first + 14) / BLOCK));
  } finally {
    for (const s of stores) await s.close();
  }
}

test(
  'writers claiming ids at once never share a block or a source id',
  { skip, timeout: 300_000 },
  async () => {
    const url = await serverUrl('claims');
    await claimRace([url, url, url]);
  },
);

test(
  'on a two-shard cluster too, each writer entering through either shard',
  { skip, timeout: 300_000 },
  async () => {
    const c = await startCluster('two', 'claims');
    try {
      const [a, b] = c.servers.map((x) => x.url);
      await claimRace([a, b, a], 'two');
    } finally {
      await c.stop();
    }
  },
);

/** A scenario's NetFlow v9 export (a different seed per collector). */
function exportOf(seed: number): string {
  const world = buildWorld(
    defaultConfig({
      seed,
      startMs: Date.UTC(2017, 4, 10),
      days: 4,
      onsetMs: Date.UTC(2017, 4, 12),
      hosts: 14,
    }),
  );
  writeScenario(world, join(dir, `s${seed}`), { format: 'netflow9' });
  return join(dir, `s${seed}`, 'export.pcap');
}

/** `coinradar collect` as its own process (the CLI from source through tsx). */
async function collector(
  db: string,
): Promise<{ proc: ChildProcess; port: number; out: () => string; err: () => string }> {
  const port = await freeUdpPort();
  // The store may fall behind on this loaded machine: the collector waits for it rather than
  // drop (the count is the point here, not the collector's speed).
  const opts = 'collect --no-geo --max-backlog 100000 --max-backlog-ms 600000'.split(' ');
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', ...opts, '--listen', `udp://127.0.0.1:${port}`, '--db', db],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  procs.push(proc);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  for (let k = 0; k < 1200 && !err.includes('collecting on') && proc.exitCode === null; k++) await sleep(50);
  assert.match(err, /collecting on udp:\/\/127\.0\.0\.1:\d+/, err);
  return { proc, port, out: () => out, err: () => err };
}

test(
  'two collector processes write one database: every flow stored once, no id or source id shared, no detection lost',
  { skip, timeout: 600_000 },
  async () => {
    const url = await serverUrl('two_writers');
    const files = [exportOf(3), exportOf(4)];
    const cs = [await collector(url), await collector(url)];
    // Both at once, paced (10,000 records/s each) so that the kernel drops nothing on a loaded machine.
    const sent = await Promise.all(
      files.map((f, i) => replay(f, { host: '127.0.0.1', port: cs[i].port }, 10_000)),
    );
    const total = sent[0].records + sent[1].records;
    assert.ok(
      sent.every((s) => s.records > 5_000),
      `streams worth the name: ${sent.map((s) => s.records)}`,
    );
    const reader = (await openFlowStore(url)) as ClickHouseFlowStore;
    try {
      // Live sources are visible as each checkpoint (about a second) lands.
      const until = Date.now() + 120_000;
      while ((await reader.summary({})).total.flows < total && Date.now() < until) await sleep(250);
      for (const c of cs) c.proc.kill('SIGINT');
      const codes = await Promise.all(cs.map((c) => exited(c.proc)));
      assert.deepEqual(codes, [0, 0], cs.map((c) => c.err()).join('\n'));
      const stored = cs.map((c) => Number(/ (\d+) flows stored/.exec(c.out())?.[1]));
      assert.deepEqual(
        stored,
        sent.map((s) => s.records),
        cs.map((c) => c.out()).join('\n'),
      );
      for (const c of cs) {
        assert.ok(!c.err().includes(PASSWORD) && !c.err().includes(encodeURIComponent(PASSWORD)), c.err());
        assert.ok(!c.out().includes(PASSWORD), c.out());
      }
      const [r] = await reader.conn.rows<{ n: number; ids: number; sources: number }>(
        'SELECT count() AS n, uniqExact(id) AS ids, uniqExact(source_id) AS sources FROM flow_table',
      );
      assert.deepEqual([Number(r.n), Number(r.ids), Number(r.sources)], [total, total, 2]);
      assert.equal((await reader.summary({})).total.flows, total);
      const sources = await reader.sources();
      assert.equal(sources.length, 2);
      assert.deepEqual(
        sources.map((s) => s.flows).sort((a, b) => a - b),
        sent.map((s) => s.records).sort((a, b) => a - b),
      );
      // What each collector said it detected is what the table holds: neither writer's clean-up
      // took the other's rows (dropStale used to delete ids at or after its own first one).
      const said = cs
        .map((c) => /detections: (.*)/.exec(c.out())?.[1] ?? '')
        .flatMap((line) => [...line.matchAll(/ (\d+)(,|$)/g)].map((m) => Number(m[1])))
        .reduce((a, b) => a + b, 0);
      const [d] = await reader.conn.rows<{ n: number; orphans: number }>(
        'SELECT count() AS n, countIf(flow_id NOT IN (SELECT id FROM flow_table)) AS orphans FROM detections',
      );
      assert.ok(said > 0, 'the scenario has detections');
      assert.deepEqual([Number(d.n), Number(d.orphans)], [said, 0]);
    } finally {
      await reader.close();
    }
  },
);

test(
  'a read command on a database without the schema says so, exits 2 and creates nothing',
  { skip, timeout: 120_000 },
  async () => {
    const url = await serverUrl('never_written');
    const said = /no coinradar store in database never_written \(read commands never create one/;
    // The binary: its message and exit code.
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'summary', '--db', url], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, said);
    assert.match(r.stderr, /coin:\*\*\*@127\.0\.0\.1/);
    assert.ok(!r.stderr.includes(PASSWORD) && !r.stderr.includes(encodeURIComponent(PASSWORD)), r.stderr);
    // The other read commands (in this process) refuse the same way.
    for (const cmd of [
      ['series', '--scope', 'watch:kp'],
      ['surge', '--scope', 'watch:kp'],
      ['hosts'],
      ['detections'],
      ['artifacts'],
      ['flows'],
    ])
      await assert.rejects(runCli([...cmd, '--db', url]), said, cmd[0]);
    const q = await fetch(
      `http://127.0.0.1:${server!.httpPort}/?user=coin&password=${encodeURIComponent(PASSWORD)}`,
      { method: 'POST', body: "SELECT count() FROM system.databases WHERE name = 'never_written'" },
    );
    assert.equal((await q.text()).trim(), '0');
    // --cluster on a DuckDB file is a usage error.
    await assert.rejects(
      runCli(['summary', '--db', join(dir, 'x.duckdb'), '--cluster', 'two']),
      /a cluster needs a ClickHouse store/,
    );
  },
);
