/**
 * Ids for several writers at once. ClickHouse has no sequence and no transaction, so a writer
 * claims what it takes in `id_blocks`: it reads the largest block claimed, inserts its claim of
 * the next ones (with a random token of its own), then reads back every claim of those blocks.
 * It owns them when it sees no other token there; else it leaves them and tries further on.
 * Two writers claiming one block: each inserts before it reads, so the one that reads second
 * sees the other's claim and gives way (both may give way; never neither). That needs a read to
 * see every insert that finished before it: true on one server, and on a cluster because the
 * claims of one block land on one shard (sharding key n) and inserts wait for the shards
 * (connection.ts CLUSTER_SETTINGS). Flow ids are block * 2^20 + offset — the ids stay below 2^53
 * (JavaScript numbers) for 2^33 blocks — and source ids are claimed one at a time the same way.
 * A claim that was given way, or the rest of a block a source did not fill, is never reused: ids
 * are unique, not dense, and a dropped source's ids never come back (so detections of an old
 * copy cannot attach to a new flow).
 */
import { randomBytes } from 'node:crypto';
import { lit, str, type ChConnection } from './connection.js';
import { TsvBuilder } from './tsv.js';

/** Flow ids per block: a collector at 100,000 flows/s claims one about every 10 s. */
export const BLOCK = 2 ** 20;
/** Tries before a claim gives up (each backs off a few random milliseconds more). */
const TRIES = 64;

export type IdKind = 'flow' | 'source';

export class IdClaims {
  /** This writer's token: one per store connection. */
  readonly token = randomBytes(12).toString('hex');
  /** Claims made (won or given way): the test reads it. */
  attempts = 0;

  constructor(private readonly conn: ChConnection) {}

  /**
   * Claim `count` consecutive numbers of this kind (blocks of flow ids, or source ids) for
   * `sourceId`; resolves to the first.
   */
  async claim(kind: IdKind, count: number, sourceId: number): Promise<number> {
    for (let attempt = 0; attempt < TRIES; attempt++) {
      this.attempts++;
      const [r] = await this.conn.rows<{ m: number; c: number }>(
        `SELECT toFloat64(max(n)) AS m, count() AS c FROM id_blocks WHERE kind = ${str(kind)}`,
      );
      const first =
        (Number(r.c) === 0 ? await this.before(kind) : Number(r.m) + 1) +
        // After a clash, a random step past the top: two writers that clashed rarely clash again.
        (attempt > 0 ? Math.floor(Math.random() * 4 * attempt) : 0);
      const t = new TsvBuilder();
      const now = Math.floor(Date.now() / 1000);
      for (let k = 0; k < count; k++)
        t.str(kind)
          .tab()
          .num(first + k)
          .tab()
          .str(this.token)
          .tab()
          .num(sourceId)
          .tab()
          .num(now)
          .end();
      await this.conn.insertTsv('id_blocks', ['kind', 'n', 'token', 'source_id', 'claimed_at'], t.take());
      const [o] = await this.conn.rows<{ c: number }>(
        `SELECT count() AS c FROM id_blocks WHERE kind = ${str(kind)} AND n >= ${lit(first)}
           AND n < ${lit(first + count)} AND token != ${str(this.token)}`,
      );
      if (Number(o.c) === 0) return first;
      await new Promise((res) => setTimeout(res, 5 + Math.random() * 20 * (attempt + 1)));
    }
    throw new Error(
      `${this.conn.display}: could not claim ${kind} ids after ${TRIES} tries (too many writers at once?)`,
    );
  }

  /**
   * Where claims start on a store written before id_blocks existed (ids were the largest + 1):
   * past every id stored.
   */
  private async before(kind: IdKind): Promise<number> {
    if (kind === 'source') {
      const [r] = await this.conn.rows<{ m: number }>('SELECT toFloat64(max(id)) AS m FROM sources');
      return Number(r?.m ?? 0) + 1;
    }
    const [r] = await this.conn.rows<{ m: number; c: number }>(
      'SELECT toFloat64(max(id)) AS m, count() AS c FROM flow_table',
    );
    return Number(r.c) === 0 ? 0 : Math.floor(Number(r.m) / BLOCK) + 1;
  }
}
