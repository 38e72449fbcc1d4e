/**
 * The hourly rollup (rollup.sql): per source, hour, kind, label and both ends' country, AS and
 * watchlist, the counters of the flows. A file's is written by the store's writer in the
 * transaction that commits its flows; a live source's every few seconds on a second connection
 * after the writer's commits (RollupMerger.rollUpTo), and readers group the flows past it
 * themselves (rollupRelation), so a reader never misses a committed flow; the console's overview
 * and the plain `series`/`summary` scopes read it — a few thousand rows where the flows are
 * millions (docs/benchmarks.md, console).
 *
 * What it can answer exactly: scopes made of country, source/destination country, AS, watchlist,
 * label, the crypto ports and the catalogued pools, over whole hours. Anything else (an address, a
 * CIDR, a filter, --where, scans left out, host counts) reads the flows, as before.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import type { DuckDBValue } from '@duckdb/node-api';
import { CRYPTO_PORTS, poolAddresses } from '../../scenario/world.js';
import type { SeriesScope } from '../queries.js';
import type { DuckDbDatabase } from './database.js';
import { ipValue } from './flows.js';
import { scopeConditions } from './series.js';

export const HOUR_MS = 3_600_000;

let pools: string | null = null;
/** `dst_ip` is a catalogued pool server (the 2018 catalogue's distinct addresses), as SQL. */
export function poolCondition(): string {
  pools ??= `dst_ip IN (${poolAddresses()
    .map((ip) => `'${ipValue(ip)}'::UHUGEINT`)
    .join(', ')})`;
  return pools;
}

/**
 * A flow's kind bits: 1 a crypto port is the destination port, 2 the destination is a catalogued
 * pool. The pools are a table the writer fills (`rollup_pools`): `dst_ip IN (SELECT …)` is a hash
 * lookup, where the same test against a list of ~150 UHUGEINT literals compared each flow with
 * every one of them — 2.5 µs per flow, most of a live commit (bench/collector-split.ts).
 */
const kindSql = () =>
  `((CASE WHEN dst_port IN (${CRYPTO_PORTS.join(', ')}) THEN 1 ELSE 0 END) + (CASE WHEN dst_ip IN (SELECT ip FROM rollup_pools) THEN 2 ELSE 0 END))::UTINYINT`;
export const KIND_CRYPTO_PORT = 1;
export const KIND_POOL = 2;

/** Changes with the definition of the rows (the kind's lists, the layout): a new one is rebuilt. */
export function rollupVersion(): string {
  return createHash('sha256')
    .update(`rollup 2\n${kindSql()}\n${poolAddresses().join(',')}`)
    .digest('hex')
    .slice(0, 16);
}

/** The catalogued pools' addresses into `rollup_pools` (inside the caller's transaction). */
async function fillPools(db: DuckDbDatabase): Promise<void> {
  await db.run('DELETE FROM rollup_pools');
  await db.run(
    `INSERT INTO rollup_pools SELECT unnest([${poolAddresses()
      .map((ip) => `'${ipValue(ip)}'::UHUGEINT`)
      .join(', ')}])`,
  );
}

const KEYS = 'src_country, dst_country, src_asn, dst_asn, src_watch, dst_watch';
const COUNTERS = `count(*), sum(sampling_rate), sum(packets + rev_packets), sum((packets + rev_packets) * sampling_rate),
  sum(bytes + rev_bytes), sum((bytes + rev_bytes) * sampling_rate), min(first_ms), max(first_ms)`;

/** Rollup rows (flow_rollup's columns) for every flow of `rel` (shaped as flow_rows) that `cond` admits. */
function flowRowsSelect(rel: string, cond: string): string {
  return `SELECT source_id, (first_ms // ${HOUR_MS}) * ${HOUR_MS} AS hour_ms, '' AS label, ${kindSql()} AS kind, ${KEYS}, ${COUNTERS}
    FROM ${rel} WHERE ${cond} GROUP BY ALL`;
}

/** Rollup rows per label: the flows of `rel` (admitted by `cond`) that carry a detection of it, each once. */
function labelRowsSelect(rel: string, cond: string, detCond: string): string {
  return `SELECT source_id, (first_ms // ${HOUR_MS}) * ${HOUR_MS} AS hour_ms, label, ${kindSql()} AS kind, ${KEYS}, ${COUNTERS}
    FROM ${rel} f JOIN (SELECT DISTINCT flow_id, label FROM detections WHERE ${detCond}) d ON d.flow_id = f.id
    WHERE ${cond} GROUP BY ALL`;
}

const flowRows = (rel: string, cond: string) => `INSERT INTO flow_rollup ${flowRowsSelect(rel, cond)}`;
const labelRows = (rel: string, cond: string, detCond: string) =>
  `INSERT INTO flow_rollup ${labelRowsSelect(rel, cond, detCond)}`;

/**
 * Rows of `detections` of the flows up to `maxId` (0 when the store has no such table yet): all of
 * them less those of later flows. Both counts are cheap where a filtered count of the older ones
 * is not: a bare count(*) is kept by the table, and the later flows' detections lie in the last
 * row groups (appended in flow order), which DuckDB finds by their min/max without reading the rest.
 */
async function detectionCount(db: DuckDbDatabase, maxId: number): Promise<number> {
  if (!(await db.hasTable('detections'))) return 0;
  const [r] = await db.all<{ total: number; later: number }>(
    `SELECT (SELECT count(*) FROM detections)::BIGINT AS total,
            (SELECT count(*) FROM detections WHERE flow_id > ${int(maxId)})::BIGINT AS later`,
  );
  return Number(r.total) - Number(r.later);
}

/**
 * How far a live writer lets the rollup lag behind its commits: it rolls up when this many flows
 * or this much time have passed since it last did (and always at a source's last commit). Readers
 * group the flows past the rollup themselves (rollupRelation), so this bounds their extra work —
 * about a second of GROUP BY at a million flows — not what they see. Tests set it to 0 to roll up
 * at every commit.
 */
export const ROLLUP_LAG = { flows: 1 << 20, ms: 10_000 };

/**
 * Per writer (database instance): how many rows each (source, hour) had after it was last merged.
 * Lost on restart, which only makes the next commit merge that hour again.
 */
const merged = new WeakMap<DuckDbDatabase, Map<string, number>>();
/** An hour is merged again when its rows have grown to this many times what its last merge left… */
export const MERGE_GROWTH = 2;
/** …and not before it holds this many rows (a quiet hour's few commits cost nothing to read). */
export const MERGE_MIN_ROWS = 16;

/**
 * The rows of the hours (per source) that this commit's flows fell in, merged into one row per key
 * once they have doubled since their last merge: a live source commits every second, and without
 * merging each commit would add its own rows for the same hour — a rollup thousands of times its
 * size, read by every overview. Merging every commit instead cost the whole hour's rows at each
 * one (148 → 640 ms per commit over 15 commits of a mixed stream); merging at each doubling
 * costs each row a merge a constant number of times on average, and leaves at most twice the
 * merged rows for readers to add up (they sum rows anyway).
 */
type HourKey = { source_id: number; hour_ms: number };

/**
 * The hours a roll-up hands to the merge at most. Whoever sends the flows chooses their times, so
 * one roll-up's flows can fall in a million hours; the merge names its hours in its SQL. The
 * fullest go first; the others stay unmerged (their rows still add up, readers sum a few more)
 * until a later roll-up touches them.
 */
export const MAX_MERGE_HOURS = 1024;

/**
 * The (source, hour) pairs of the flows of `rel` that `cond` admits, where the rollup holds enough
 * rows to be worth merging: at most MAX_MERGE_HOURS, fullest first.
 */
function touchedHours(db: DuckDbDatabase, rel: string, cond: string): Promise<HourKey[]> {
  return db.all<HourKey>(
    `SELECT r.source_id, r.hour_ms FROM flow_rollup r
       JOIN (SELECT DISTINCT source_id, (first_ms // ${HOUR_MS}) * ${HOUR_MS} AS hour_ms FROM ${rel} WHERE ${cond}) t
         ON t.source_id = r.source_id AND t.hour_ms = r.hour_ms
     GROUP BY ALL HAVING count(*) >= ${MERGE_MIN_ROWS}
     ORDER BY count(*) DESC, r.source_id, r.hour_ms LIMIT ${MAX_MERGE_HOURS}`,
  );
}

/**
 * Merges those of `hours` whose rows have doubled since their last merge (`sizes`, per writer)
 * into one row per key, on `db` (inside the caller's transaction: the writer's for a file, the
 * merger's own for a live source).
 */
async function compact(db: DuckDbDatabase, hours: HourKey[], sizes: Map<string, number>): Promise<void> {
  if (hours.length === 0) return;
  const list = (hs: HourKey[]) =>
    `(source_id, hour_ms) IN (${hs.map((t) => `(${int(Number(t.source_id))}, ${int(Number(t.hour_ms))})`).join(', ')})`;
  const touched = await db.all<HourKey & { n: number }>(
    `SELECT source_id, hour_ms, count(*)::BIGINT AS n FROM flow_rollup WHERE ${list(hours)} GROUP BY ALL`,
  );
  const due = touched.filter((t) => {
    const n = Number(t.n);
    return n >= MERGE_MIN_ROWS && n >= MERGE_GROWTH * (sizes.get(`${t.source_id}:${t.hour_ms}`) ?? 0);
  });
  if (due.length === 0) return;
  const inDue = list(due);
  await db.run(
    `CREATE OR REPLACE TEMP TABLE rollup_merged AS
       SELECT source_id, hour_ms, label, kind, ${KEYS}, sum(flows)::BIGINT, sum(flows_est)::HUGEINT,
              sum(packets), sum(packets_est), sum(bytes), sum(bytes_est), min(min_first_ms), max(max_first_ms)
       FROM flow_rollup WHERE ${inDue} GROUP BY ALL`,
  );
  await db.run(`DELETE FROM flow_rollup WHERE ${inDue}`);
  await db.run('INSERT INTO flow_rollup SELECT * FROM rollup_merged');
  const after = await db.all<HourKey & { n: number }>(
    'SELECT source_id, hour_ms, count(*)::BIGINT AS n FROM rollup_merged GROUP BY ALL',
  );
  for (const t of after) sizes.set(`${t.source_id}:${t.hour_ms}`, Number(t.n));
  await db.run('DROP TABLE rollup_merged');
}

function sizesOf(db: DuckDbDatabase): Map<string, number> {
  let sizes = merged.get(db);
  if (!sizes) merged.set(db, (sizes = new Map()));
  return sizes;
}

/**
 * A live writer's roll-ups, merges and checkpoints, off its storing path. A roll-up of a million
 * flows, and a merge (which reads all of an hour's rows: on traffic spread over the public space
 * hundreds of thousands of keys), inside the writer's commit held up storing until the collector's
 * backlog overflowed (docs/benchmarks.md). Here both run on a second connection, each in its own
 * transaction, after the writer's commit made the flows visible (rollUpTo, then the hours the
 * roll-up touched).
 * DuckDB's MVCC keeps it exact: the merge deletes and re-inserts only rows it sees, never rows the
 * writer is adding meanwhile. A reader sees the hour before or after a merge, with the same sums
 * either way. One merge runs at a time; hours touched meanwhile wait for the next. A merge that
 * fails leaves the rows unmerged (they still add up) and is counted. The same connection makes the
 * live store's checkpoints (checkpoint()).
 */
export class RollupMerger {
  /** Merges that failed (their hours stay unmerged until touched again), and the last error. */
  failed = 0;
  lastError: string | null = null;
  /** Hours left unmerged because MAX_MERGE_HOURS were already queued. */
  skipped = 0;
  /** Checkpoints made beside the writer (see checkpoint()), those that failed, and those left for
   * the next turn because reader statements ran on past CHECKPOINT.maxReaderWaitMs. */
  checkpoints = 0;
  checkpointsFailed = 0;
  checkpointsDeferred = 0;
  /** Checkpoints deferred since the last one made (see checkpoint()). */
  private deferredInARow = 0;
  /** The live source is ending: a checkpoint waits no longer than its bound (the exit promise). */
  ending = false;
  private conn: DuckDbDatabase | null = null;
  private waiting = new Map<string, HourKey>();
  private ready = new Map<string, HourKey>();
  private running: Promise<void> | null = null;
  /** The largest flow id the writer has committed and asked to have rolled up, and how to read past the rollup. */
  private target = 0;
  private relation: ((covered: number, db: DuckDbDatabase) => Promise<string>) | null = null;
  /** The target of the last roll-up made here. */
  private rolled = 0;

  constructor(private readonly writer: DuckDbDatabase) {}

  /**
   * Roll up the committed flows up to `maxId` (rows of `relation(covered)`, read on this
   * connection) at the next `start`, in a transaction of this connection's own: readers see the
   * rollup and its `max_id` move together, and group the flows past it themselves meanwhile
   * (rollupRelation). The writer never writes the rollup of a live source, so the two never
   * conflict.
   */
  rollUpTo(maxId: number, relation: (covered: number, db: DuckDbDatabase) => Promise<string>): void {
    if (maxId <= this.target) return;
    this.target = maxId;
    this.relation = relation;
  }

  /** Runs `fn` when the work running now (if any) is over; work that starts later is not waited for. */
  afterCurrentRun(fn: () => void): void {
    const r = this.running;
    if (r) void r.then(fn, fn);
    else fn();
  }

  /**
   * Hours a roll-up touched, merged once the writer's transaction has committed (`start`). At
   * most MAX_MERGE_HOURS wait or are ready at a time; past that an hour is left unmerged (counted
   * in `skipped`) until a later roll-up touches it again.
   */
  add(hours: HourKey[]): void {
    for (const h of hours) {
      const k = `${h.source_id}:${h.hour_ms}`;
      if (this.waiting.has(k) || this.waiting.size + this.ready.size < MAX_MERGE_HOURS)
        this.waiting.set(k, h);
      else this.skipped++;
    }
  }

  /** The writer's transaction was rolled back: what it touched is not there. */
  discard(): void {
    this.waiting.clear();
  }

  /** The writer committed: what it touched may be merged now. */
  start(): void {
    this.readyWaiting();
    if (!this.running && (this.ready.size > 0 || this.target > this.rolled || this.walDue()))
      this.running = this.run().finally(() => (this.running = null));
  }

  private walDue(): boolean {
    return this.writer.path !== ':memory:' && walBytes(this.writer.path) >= CHECKPOINT.walBytes;
  }

  private async run(): Promise<void> {
    await this.rollUp();
    await this.merge();
    await this.checkpoint();
  }

  private async rollUp(): Promise<void> {
    while (this.target > this.rolled && this.relation) {
      const target = this.target;
      const relation = this.relation;
      const touched: HourKey[] = [];
      let db: DuckDbDatabase | null = null;
      try {
        db = this.conn ??= await this.writer.reader();
        const conn = db;
        await db.run('BEGIN TRANSACTION');
        await Rollup.advance(db, target, (covered) => relation(covered, conn), {
          add: (hours) => touched.push(...hours),
        });
        await db.run('COMMIT');
        this.rolled = target;
      } catch (e) {
        // Nothing is lost: the rollup stays where it was, readers group the flows past it, and the
        // next roll-up covers these flows too.
        this.failed++;
        this.lastError = (e as Error).message;
        await db?.run('ROLLBACK').catch(() => {});
        return;
      }
      // Committed: the hours it touched may be merged now.
      this.add(touched);
      this.readyWaiting();
    }
  }

  /** The hours waiting for a commit become ready to merge (it has been made). */
  private readyWaiting(): void {
    for (const [k, h] of this.waiting) this.ready.set(k, h);
    this.waiting.clear();
  }

  private async merge(): Promise<void> {
    while (this.ready.size > 0) {
      const hours = [...this.ready.values()];
      this.ready.clear();
      // Nobody awaits a merge as it runs: nothing here may reject (an unhandled rejection would
      // stop the collector), so every failure, the connection's included, is caught and counted.
      let db: DuckDbDatabase | null = null;
      try {
        db = this.conn ??= await this.writer.reader();
        await db.run('BEGIN TRANSACTION');
        await compact(db, hours, sizesOf(this.writer));
        await db.run('COMMIT');
      } catch (e) {
        this.failed++;
        this.lastError = (e as Error).message;
        await db?.run('ROLLBACK').catch(() => {});
      }
    }
  }

  /**
   * A checkpoint once the write-ahead log has passed CHECKPOINT.walBytes, here beside the writer
   * rather than inside one of its commits (DuckDB's own, at `checkpoint_threshold`). Until a
   * checkpoint, DuckDB keeps what the log holds in memory as well: at 200 k flows/s on a spread
   * stream the log grew ~15 bytes and the collector's memory ~30 bytes a flow, to 2 GB resident
   * before its first checkpoint at 1 GB of log, and that checkpoint, in a commit, stalled storing
   * long enough to drop 42 k flows (docs/benchmarks.md).
   */
  private async checkpoint(): Promise<void> {
    if (!this.walDue()) return;
    try {
      const db = (this.conn ??= await this.writer.reader());
      // With no reader statement running (they wait meanwhile): DuckDB refuses a checkpoint while
      // a reader holds a snapshot older than the writer's last commit (database.ts ReadsInFlight).
      // After CHECKPOINT.maxDeferrals in a row it waits for them however long they run: readers
      // whose statements always outlast the bound must not keep the log (and memory) growing.
      // A source's end gives up at once instead (`ending`: the exit promise).
      const wait = this.deferredInARow >= CHECKPOINT.maxDeferrals ? Infinity : CHECKPOINT.maxReaderWaitMs;
      const ran = await this.writer.reads.exclusive(
        () => db.run('CHECKPOINT'),
        wait,
        () => this.ending,
      );
      if (ran) {
        this.checkpoints++;
        this.deferredInARow = 0;
      } else {
        this.checkpointsDeferred++;
        this.deferredInARow++;
      }
    } catch (e) {
      // Nothing is lost: the log keeps it all, and DuckDB's own checkpoint still comes at
      // `checkpoint_threshold`; the next merge tries again.
      this.checkpointsFailed++;
      this.lastError = (e as Error).message;
    }
  }

  /** Waits for the merges started so far (and any queued behind them). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }
}

/**
 * The write-ahead log's size past which a live writer's merger checkpoints (RollupMerger); tests
 * lower it.
 */
export const CHECKPOINT = {
  walBytes: 32 * 1024 * 1024,
  /** How long a checkpoint waits for reader statements to end before it is left for the next turn… */
  maxReaderWaitMs: 2000,
  /** …unless this many in a row were left: then it waits for them to end (not when a source ends). */
  maxDeferrals: 3,
};

function walBytes(path: string): number {
  try {
    return statSync(`${path}.wal`).size;
  } catch {
    return 0;
  }
}

const int = (n: number) => {
  if (!Number.isSafeInteger(n)) throw new Error(`not an id: ${n}`);
  return String(n);
};

/**
 * The writer's side. `ensure` on open (a store without a rollup, or with one of another version,
 * is rolled up whole, in one transaction); `advance` in each commit, for the flows added since;
 * `dropSource` when a source's flows are deleted; `rebuildLabels` after detections were replaced.
 */
export const Rollup = {
  async ensure(db: DuckDbDatabase, maxId: number): Promise<void> {
    if (db.remote) return;
    await db.applySchema('rollup.sql');
    const version = rollupVersion();
    const [st] = await db.all<{ version: string }>('SELECT version FROM rollup_state');
    if (st?.version === version) return;
    await Rollup.rebuild(db, maxId);
  },

  /** The rollup made anew from every flow up to `maxId`, in one transaction. */
  async rebuild(db: DuckDbDatabase, maxId: number): Promise<void> {
    const version = rollupVersion();
    await db.run('BEGIN TRANSACTION');
    try {
      await db.run('DELETE FROM flow_rollup');
      await db.run('DELETE FROM rollup_state');
      merged.delete(db);
      await fillPools(db);
      await db.run(flowRows('flow_rows', `id <= ${int(maxId)}`));
      if (await db.hasTable('detections'))
        await db.run(labelRows('flow_rows', `id <= ${int(maxId)}`, 'TRUE'));
      await db.run('INSERT INTO rollup_state VALUES ($1, $2, $3)', [
        version,
        maxId,
        await detectionCount(db, maxId),
      ]);
      await db.run('COMMIT');
    } catch (e) {
      await db.run('ROLLBACK');
      throw e;
    }
  },

  /**
   * Rolls up the flows with ids in (covered, maxId] — read from `relation(covered)`, the rows that
   * may hold them (the table, and only the segment files that do) — and their labels; inside the
   * caller's transaction.
   */
  async advance(
    db: DuckDbDatabase,
    maxId: number,
    relation: (covered: number) => Promise<string>,
    /** Where the touched hours go to be merged later (else they are merged here, in this transaction). */
    merger?: { add(hours: HourKey[]): void },
  ): Promise<void> {
    if (db.remote) return;
    const [st] = await db.all<{ max_id: number }>('SELECT max_id FROM rollup_state');
    if (!st || maxId <= Number(st.max_id)) return;
    const rel = await relation(Number(st.max_id));
    const cond = `id > ${int(Number(st.max_id))} AND id <= ${int(maxId)}`;
    await db.run(flowRows(rel, cond));
    if (await db.hasTable('detections')) await db.run(labelRows(rel, cond, cond.replaceAll('id', 'flow_id')));
    const hours = await touchedHours(db, rel, cond);
    if (merger) merger.add(hours);
    else await compact(db, hours, sizesOf(db));
    await db.run('UPDATE rollup_state SET max_id = $1, detections = $2', [
      maxId,
      await detectionCount(db, maxId),
    ]);
  },

  async dropSource(db: DuckDbDatabase, sourceId: number): Promise<void> {
    if (await db.hasTable('flow_rollup'))
      await db.run('DELETE FROM flow_rollup WHERE source_id = $1', [sourceId]);
  },

  async rebuildLabels(db: DuckDbDatabase): Promise<void> {
    if (!(await db.hasTable('rollup_state'))) return;
    const [st] = await db.all<{ max_id: number }>('SELECT max_id FROM rollup_state');
    if (!st) return;
    await db.run("DELETE FROM flow_rollup WHERE label <> ''");
    const cond = `id <= ${int(Number(st.max_id))}`;
    await db.run(labelRows('flow_rows', cond, cond.replaceAll('id', 'flow_id')));
    await db.run('UPDATE rollup_state SET detections = $1', [await detectionCount(db, Number(st.max_id))]);
  },
};

/** The crypto ports as a set, to recognise a scope that asks for exactly them. */
const CRYPTO_SET = new Set(CRYPTO_PORTS);

/**
 * The rollup's condition for a scope (extra `params` appended, numbered from `firstParam`), or null
 * when the rollup cannot answer it exactly. `label` is the label rows to read ('' for all flows).
 */
export function rollupScope(
  scope: SeriesScope,
  params: DuckDBValue[],
): { cond: string; label: string } | null {
  if (scope.host || scope.where || scope.filter || scope.noScans) return null;
  const kinds: string[] = [];
  if (scope.dstPorts) {
    const ports = new Set(scope.dstPorts);
    if (ports.size !== CRYPTO_SET.size || ![...ports].every((p) => CRYPTO_SET.has(p))) return null;
    kinds.push(`kind & ${KIND_CRYPTO_PORT} <> 0`);
  }
  if (scope.pools) kinds.push(`kind & ${KIND_POOL} <> 0`);
  // The ends' country, AS and watchlist are the flows' own columns, named alike in the rollup.
  const ends = scopeConditions(
    { ...scope, dstPorts: undefined, pools: undefined, label: undefined },
    params.length + 1,
  );
  params.push(...ends.params);
  const c = [...kinds, ...(ends.sql ? [ends.sql.slice(' AND '.length)] : [])];
  return { cond: c.length ? c.join(' AND ') : 'TRUE', label: scope.label ?? '' };
}

/**
 * What a reader reads for the rollup, or null when it cannot be trusted: it must exist and be of
 * this version; for `labels`, its label rows must have been made from the detections there are
 * now (none added or removed since for the flows it covers). A live writer rolls up every few
 * seconds, not at each commit (`ROLLUP_LAG`): the flows committed since — ids past the rollup's
 * `max_id`, at most a few seconds' worth — are grouped here, in the reader's query, and added to
 * the rollup's rows. So a reader sees every committed flow, as it does in the flows.
 */
export async function rollupRelation(db: DuckDbDatabase, labels = false): Promise<string | null> {
  if (!(await db.hasTable('rollup_state'))) return null;
  const [st] = await db.all<{ version: string; max_id: number; detections: number }>(
    'SELECT version, max_id, detections FROM rollup_state',
  );
  if (!st || st.version !== rollupVersion()) return null;
  const covered = int(Number(st.max_id));
  if (labels) {
    // Detections of flows past the rollup belong to the tail; the others must be the rollup's.
    if ((await detectionCount(db, Number(st.max_id))) !== Number(st.detections)) return null;
  }
  const [r] = await db.all<{ n: number }>(
    `SELECT greatest((SELECT coalesce(max(id), 0) FROM flow_table),
                     (SELECT coalesce(max(max_id), 0) FROM flow_segments))::BIGINT AS n`,
  );
  if (Number(r.n) <= Number(st.max_id)) return 'flow_rollup';
  const cond = `id > ${covered}`;
  const tail = [flowRowsSelect('flow_rows', cond)];
  if (labels) tail.push(labelRowsSelect('flow_rows', cond, `flow_id > ${covered}`));
  return `(SELECT * FROM flow_rollup UNION ALL ${tail.map((t) => `(${t})`).join(' UNION ALL ')})`;
}
