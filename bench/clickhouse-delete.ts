/**
 * What a collector's recovery delete costs on ClickHouse (docs/clickhouse.md, "What the delete
 * costs"): PARTS inserts of ROWS rows each into a MergeTree partitioned by day, then a delete of two
 * short id runs of the newest insert, in the shape of the recovery's condition (`source_id = … AND
 * (id runs)`). Said: the parts rewritten and those kept (the same inodes for every column file,
 * before and after: hard links), the time of the count before the delete and of the delete. On
 * Debian's clickhouse-server 18.16 on loopback, through the flow store's own deleteWhere; then on
 * chDB (the current engine, in process, `mutations_sync`). No peer: the cost is the engine's.
 *
 *   node --import tsx bench/clickhouse-delete.ts [PARTS=12] [ROWS=5000000]
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseFlowStore } from '../src/store/clickhouse/flows.js';
import { openFlowStore } from '../src/store/open.js';
import { haveChdb, haveServer, startServer } from '../test/store/clickhouse-server.js';
import { fmt, load, say } from './report.js';

const PARTS = Number(process.argv[2] ?? 12);
const ROWS = Number(process.argv[3] ?? 5_000_000);
const TABLE =
  '(d Date, source_id UInt32, id UInt64, v String, w UInt64) ENGINE = MergeTree PARTITION BY d ORDER BY (v, id)';
const insert = (p: number) =>
  `SELECT toDate('2026-01-0${1 + (p % 4)}'), 7, ${p * ROWS} + number, toString(number % 7), cityHash64(number) FROM numbers(${ROWS})`;
const newest = (PARTS - 1) * ROWS + 1000;
const WHERE = `source_id = 7 AND ((id >= ${newest} AND id < ${newest + 10}) OR (id >= ${newest + 20} AND id < ${newest + 30}))`;

/** Each active part's column files by inode (the same inodes after a mutation: hard links). */
function files(parts: { name: string; path: string }[]): Map<string, string> {
  return new Map(
    parts.map((p) => [
      p.name,
      readdirSync(p.path)
        .filter((f) => f.endsWith('.bin'))
        .map((f) => statSync(join(p.path, f)).ino)
        .join(','),
    ]),
  );
}

function compare(before: Map<string, string>, after: Map<string, string>): string {
  const old = new Set(before.values());
  let kept = 0;
  for (const v of after.values()) if (old.has(v)) kept++;
  return `${after.size} parts after the delete: ${after.size - kept} rewritten, ${kept} kept (hard links)`;
}

const PARTS_SQL = "SELECT name, path FROM system.parts WHERE table = 't' AND active ORDER BY name";

say(`load average at start: ${load()}`);
say(`${PARTS} inserts of ${fmt(ROWS)} rows (${fmt(PARTS * ROWS)} in all), a delete of 20 rows of the newest`);

if (!haveServer()) say('18.16: clickhouse-server not installed (scripts/install-test-deps.sh)');
else {
  const server = await startServer('deletebench');
  const store = (await openFlowStore(server.url)) as ClickHouseFlowStore;
  try {
    await store.ensureSchema();
    await store.conn.command(`CREATE TABLE t ${TABLE}`);
    for (let p = 0; p < PARTS; p++) await store.conn.command(`INSERT INTO t ${insert(p)}`);
    const [v] = await store.conn.rows<{ v: string }>('SELECT version() AS v');
    const [size] = await store.conn.rows<{ n: number; b: string }>(
      "SELECT count() AS n, formatReadableSize(sum(bytes_on_disk)) AS b FROM system.parts WHERE table = 't' AND active",
    );
    const before = files(await store.conn.rows(PARTS_SQL));
    let t0 = performance.now();
    const [c] = await store.conn.rows<{ n: number }>(`SELECT count() AS n FROM t WHERE ${WHERE}`);
    const countMs = performance.now() - t0;
    t0 = performance.now();
    await store.deleteWhere('t', WHERE, 600_000);
    const deleteMs = performance.now() - t0;
    const after = files(await store.conn.rows(PARTS_SQL));
    say(
      `clickhouse-server ${v.v}: ${size.n} parts, ${size.b}; count of the rows to delete (${c.n}) ${fmt(countMs)} ms; deleteWhere (count, ALTER … DELETE, wait) ${fmt(deleteMs)} ms; ${compare(before, after)}`,
    );
  } finally {
    await store.close();
    await server.stop();
  }
}

const missing = await haveChdb();
if (missing) say(`chDB: cannot load here: ${missing}`);
else {
  const { Session } = await import('chdb');
  const dir = mkdtempSync(join(tmpdir(), 'cr-chdb-delete-'));
  const s = new Session(join(dir, 'db'));
  try {
    const q = (sql: string) => s.query(sql, 'TSV').trim();
    q(`CREATE TABLE t ${TABLE} SETTINGS min_bytes_for_wide_part = 0`);
    for (let p = 0; p < PARTS; p++) q(`INSERT INTO t ${insert(p)}`);
    const rows = () =>
      q(PARTS_SQL.replace("table = 't'", "table = 't' AND database = currentDatabase()"))
        .split('\n')
        .map((l) => {
          const [name, path] = l.split('\t');
          return { name, path };
        });
    const before = files(rows());
    const t0 = performance.now();
    q(`ALTER TABLE t DELETE WHERE ${WHERE} SETTINGS mutations_sync = 1`);
    const deleteMs = performance.now() - t0;
    say(`chDB ${q('SELECT version()')}: delete ${fmt(deleteMs)} ms; ${compare(before, files(rows()))}`);
  } finally {
    s.cleanup?.();
    rmSync(dir, { recursive: true, force: true });
  }
}
