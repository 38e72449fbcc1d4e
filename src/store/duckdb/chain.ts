import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { BIGINT, INTEGER, UTINYINT, VARCHAR, type DuckDBType } from '@duckdb/node-api';
import type {
  ChainRows,
  ChainSnapshot,
  ChainState,
  ChainStore,
  MoneyEdge,
  StoredAddress,
  StoredTx,
  TxSummary,
} from '../chain.js';
import { TXF_COINJOIN } from '../chain.js';
import { NumberColumn, TextColumn } from '../columns.js';
import {
  CHUNK_ROWS,
  closeAppender,
  discardAppender,
  readColumns,
  StagedChunk,
  setInt64,
  type ColumnKind,
} from './chunk.js';
import { DuckDbDatabase } from './database.js';

const SCRIPT_TYPES = [
  'nonstandard',
  'p2pk',
  'p2pkh',
  'p2sh',
  'p2wpkh',
  'p2wsh',
  'p2tr',
  'multisig',
  'op_return',
  'witness_unknown',
];

function ids(list: number[]): string {
  return list.map((n) => String(Math.trunc(n))).join(',') || 'NULL';
}

/** A column of a bulk-written table: its DuckDB type, how it is staged, and whether a negative
 * number stands for NULL (ids and values the indexer could not resolve). */
interface ColumnSpec {
  type: DuckDBType;
  kind: ColumnKind;
  nullIfNegative?: boolean;
}

const INT: ColumnSpec = { type: INTEGER, kind: 'INTEGER' };
const INT_NULL: ColumnSpec = { ...INT, nullIfNegative: true };
const BIG: ColumnSpec = { type: BIGINT, kind: 'BIGINT' };
const BIG_NULL: ColumnSpec = { ...BIG, nullIfNegative: true };
const TINY: ColumnSpec = { type: UTINYINT, kind: 'UTINYINT' };
const TEXT: ColumnSpec = { type: VARCHAR, kind: 'VARCHAR_HEAP' };

/** Columns of the bulk-written tables, in schema order (chain.sql). */
const TABLES = {
  chain_blocks: [INT, TEXT, TEXT, BIG, INT, INT, TEXT, INT],
  chain_txs: [INT, TEXT, INT, INT, BIG, INT, INT, BIG_NULL, BIG, TINY],
  chain_outputs: [BIG, INT, INT, BIG, TINY, INT_NULL],
  chain_inputs: [INT, INT, BIG_NULL, BIG_NULL, INT_NULL],
  chain_addresses: [INT, TEXT, TINY, TEXT, INT],
  cluster_changes: [INT, INT],
} satisfies Record<string, ColumnSpec[]>;

type BulkTable = keyof typeof TABLES;

const EDGE_SELECT = `
  SELECT o.output_id AS "outputId", o.tx_id AS "txId", o.vout, o.value, o.address_id AS "addressId",
         b.time, t.height, i.tx_id AS "spentByTx"
  FROM chain_outputs o JOIN chain_txs t ON t.tx_id = o.tx_id JOIN chain_blocks b ON b.height = t.height
  LEFT JOIN chain_inputs i ON i.spent_output = o.output_id`;

export class DuckDbChainStore implements ChainStore {
  private readonly chunks = new Map<BulkTable, StagedChunk>();

  private constructor(readonly db: DuckDbDatabase) {}

  static async open(path: string): Promise<DuckDbChainStore> {
    return DuckDbChainStore.on(await DuckDbDatabase.open(path));
  }

  /**
   * The index on a database this process has open already (DuckDB opens a file once per process):
   * `serve --collect` reads it on a connection of its own (`db.reader()`) while the collector
   * writes flows on another. Closing the store closes only that connection.
   */
  static async on(db: DuckDbDatabase): Promise<DuckDbChainStore> {
    await db.applySchema('chain.sql');
    return new DuckDbChainStore(db);
  }

  private async meta(): Promise<Map<string, string>> {
    const rows = await this.db.all<{ key: string; value: string }>('SELECT key, value FROM chain_meta');
    return new Map(rows.map((r) => [r.key, r.value]));
  }

  private async setMeta(kv: Record<string, string | number>): Promise<void> {
    for (const [k, v] of Object.entries(kv)) {
      await this.db.run(
        'INSERT INTO chain_meta VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
        [k, String(v)],
      );
    }
  }

  async state(): Promise<ChainState> {
    const m = await this.meta();
    const num = (k: string, d: number) => (m.has(k) ? Number(m.get(k)) : d);
    return {
      network: m.get('network') ?? null,
      tipHeight: num('tip_height', -1),
      tipHash: m.get('tip_hash') ?? null,
      txs: num('txs', 0),
      outputs: num('outputs', 0),
      addresses: num('addresses', 0),
      clusteredTx: num('clustered_tx', -1),
      clusterPolicy: m.get('cluster_policy') ?? null,
    };
  }

  async setNetwork(name: string): Promise<void> {
    await this.setMeta({ network: name });
  }

  async snapshot(): Promise<ChainSnapshot> {
    const st = await this.state();
    const txids = (await this.db.all<{ txid: string }>('SELECT txid FROM chain_txs ORDER BY tx_id')).map(
      (t) => t.txid,
    );
    const [txFirstOutput] = (await readColumns(
      this.db.conn,
      'SELECT first_output FROM chain_txs ORDER BY tx_id',
      ['BIGINT'],
    )) as Float64Array[];
    const [outputValue, outputAddress] = await readColumns(
      this.db.conn,
      'SELECT value, coalesce(address_id, -1) FROM chain_outputs ORDER BY output_id',
      ['BIGINT', 'INTEGER'],
    );
    const addrs = await this.db.all<{ key: string }>('SELECT key FROM chain_addresses ORDER BY address_id');
    if (txids.length !== st.txs || outputValue.length !== st.outputs || addrs.length !== st.addresses)
      throw new Error(
        `chain index is inconsistent: ${txids.length}/${st.txs} txs, ${outputValue.length}/${st.outputs} outputs`,
      );
    return {
      txids,
      txFirstOutput,
      outputValue: outputValue as Float64Array,
      outputAddress: outputAddress as Int32Array,
      addressKeys: addrs.map((a) => a.key),
    };
  }

  async blockHash(height: number): Promise<string | null> {
    const [r] = await this.db.all<{ hash: string }>('SELECT hash FROM chain_blocks WHERE height = $1', [
      height,
    ]);
    return r?.hash ?? null;
  }

  /**
   * Bulk rows go through an appender fed by staged data chunks (chunk.ts): each column of 2,048 rows
   * is copied into DuckDB with one native call. Columns are parallel, of equal length.
   */
  private async appendRows(table: BulkTable, cols: (NumberColumn | TextColumn)[]): Promise<void> {
    const n = cols[0].length;
    if (n === 0) return;
    const spec: ColumnSpec[] = TABLES[table];
    let ch = this.chunks.get(table);
    if (!ch) {
      ch = new StagedChunk(
        spec.map((c) => c.type),
        spec.map((c) => c.kind),
      );
      this.chunks.set(table, ch);
    }
    const appender = await this.db.conn.createAppender(table);
    try {
      for (let from = 0; from < n; from += CHUNK_ROWS) {
        const rows = Math.min(CHUNK_ROWS, n - from);
        for (let c = 0; c < spec.length; c++) stageColumn(ch, c, spec[c], cols[c], from, rows);
        ch.append(appender, rows);
      }
    } catch (e) {
      discardAppender(appender);
      throw e;
    }
    closeAppender(appender);
  }

  async append(r: ChainRows): Promise<void> {
    if (r.blocks.height.length === 0) return;
    const st = await this.state();
    await this.db.run('BEGIN TRANSACTION');
    try {
      const b = r.blocks;
      await this.appendRows('chain_blocks', [
        b.height,
        b.hash,
        b.prev,
        b.time,
        b.txCount,
        b.size,
        b.coinbaseText,
        b.coinbaseHeight,
      ]);
      const t = r.txs;
      await this.appendRows('chain_txs', [
        t.txId,
        t.txid,
        t.height,
        t.position,
        t.firstOutput,
        t.inCount,
        t.outCount,
        t.inValue,
        t.outValue,
        t.flags,
      ]);
      const o = r.outputs;
      await this.appendRows('chain_outputs', [
        o.outputId,
        o.txId,
        o.vout,
        o.value,
        o.scriptType,
        o.addressId,
      ]);
      const i = r.inputs;
      await this.appendRows('chain_inputs', [i.txId, i.vin, i.spentOutput, i.value, i.addressId]);
      const a = r.addresses;
      await this.appendRows('chain_addresses', [a.addressId, a.address, a.scriptType, a.key, a.firstHeight]);
      const last = b.height.length - 1;
      await this.setMeta({
        tip_height: b.height.data[last],
        tip_hash: b.hash.get(last),
        txs: st.txs + t.txId.length,
        outputs: st.outputs + o.outputId.length,
        addresses: st.addresses + a.addressId.length,
      });
      await this.db.run('COMMIT');
    } catch (e) {
      await this.db.run('ROLLBACK');
      throw e;
    }
  }

  async clusterInputs(
    afterTx: number,
  ): Promise<{ txId: Int32Array; addressId: Int32Array; coinjoinTxs: Set<number> }> {
    const [txId, addressId] = (await readColumns(
      this.db.conn,
      `SELECT tx_id, address_id FROM chain_inputs WHERE tx_id > $1 AND address_id IS NOT NULL ORDER BY tx_id, vin`,
      ['INTEGER', 'INTEGER'],
      [afterTx],
    )) as Int32Array[];
    const [cj] = await readColumns(
      this.db.conn,
      `SELECT tx_id FROM chain_txs WHERE tx_id > $1 AND flags & ${TXF_COINJOIN} <> 0`,
      ['INTEGER'],
      [afterTx],
    );
    return { txId, addressId, coinjoinTxs: new Set(cj) };
  }

  async changeCandidates(
    afterTx: number,
  ): Promise<{ txId: number; outputs: { addressId: number; firstTx: boolean }[]; inputs: number[] }[]> {
    const rows = await this.db.all<{ t: number; a: number; fresh: boolean }>(
      `WITH first_seen AS (SELECT address_id, min(tx_id) AS first_tx FROM chain_outputs WHERE address_id IS NOT NULL GROUP BY address_id)
       SELECT o.tx_id AS t, o.address_id AS a, f.first_tx = o.tx_id AS fresh
       FROM chain_outputs o JOIN chain_txs t ON t.tx_id = o.tx_id JOIN first_seen f ON f.address_id = o.address_id
       WHERE o.tx_id > $1 AND t.out_count = 2 AND t.in_count >= 1 AND t.flags & 5 = 0 ORDER BY o.tx_id, o.vout`,
      [afterTx],
    );
    const ins = await this.db.all<{ t: number; a: number }>(
      `SELECT i.tx_id AS t, i.address_id AS a FROM chain_inputs i JOIN chain_txs t ON t.tx_id = i.tx_id
       WHERE i.tx_id > $1 AND t.out_count = 2 AND i.address_id IS NOT NULL ORDER BY i.tx_id`,
      [afterTx],
    );
    const byTx = new Map<
      number,
      { txId: number; outputs: { addressId: number; firstTx: boolean }[]; inputs: number[] }
    >();
    for (const r of rows) {
      let e = byTx.get(r.t);
      if (!e) byTx.set(r.t, (e = { txId: r.t, outputs: [], inputs: [] }));
      e.outputs.push({ addressId: r.a, firstTx: r.fresh });
    }
    for (const r of ins) byTx.get(r.t)?.inputs.push(r.a);
    return [...byTx.values()];
  }

  async clusterAssignment(): Promise<Int32Array> {
    const st = await this.state();
    const out = new Int32Array(st.addresses).fill(-1);
    const [a, c] = await readColumns(this.db.conn, 'SELECT address_id, cluster_id FROM chain_clusters', [
      'INTEGER',
      'INTEGER',
    ]);
    for (let i = 0; i < a.length; i++) out[a[i]] = c[i];
    return out;
  }

  async writeClusters(
    addressIds: Int32Array,
    clusterIds: Int32Array,
    clusteredTx: number,
    policy: string,
    skipped: number,
  ): Promise<void> {
    const st = await this.state();
    await this.db.run('BEGIN TRANSACTION');
    try {
      if (st.clusterPolicy !== null && st.clusterPolicy !== policy)
        await this.db.run('DELETE FROM chain_clusters');
      await this.db.run(
        'CREATE TEMP TABLE IF NOT EXISTS cluster_changes (address_id INTEGER, cluster_id INTEGER)',
      );
      await this.db.run('DELETE FROM cluster_changes');
      const column = (a: Int32Array) => Object.assign(new NumberColumn(a), { length: a.length });
      await this.appendRows('cluster_changes', [column(addressIds), column(clusterIds)]);
      await this.db.run(
        'DELETE FROM chain_clusters WHERE address_id IN (SELECT address_id FROM cluster_changes)',
      );
      await this.db.run('INSERT INTO chain_clusters SELECT address_id, cluster_id FROM cluster_changes');
      const m = await this.meta();
      const prevSkipped = st.clusterPolicy === policy ? Number(m.get('coinjoin_skipped') ?? 0) : 0;
      await this.setMeta({
        clustered_tx: clusteredTx,
        cluster_policy: policy,
        coinjoin_skipped: prevSkipped + skipped,
      });
      await this.db.run('COMMIT');
    } catch (e) {
      await this.db.run('ROLLBACK');
      throw e;
    }
  }

  async clusterStats(): Promise<{
    clusters: number;
    largest: number;
    coinjoinSkipped: number;
    policy: string | null;
  }> {
    const [r] = await this.db.all<{ n: number; m: number | null }>(
      'SELECT count(*) AS n, max(size) AS m FROM chain_cluster_sizes',
    );
    const m = await this.meta();
    return {
      clusters: r.n,
      largest: r.m ?? 0,
      coinjoinSkipped: Number(m.get('coinjoin_skipped') ?? 0),
      policy: m.get('cluster_policy') ?? null,
    };
  }

  async tx(txid: string): Promise<StoredTx | null> {
    const [t] = await this.db.all<StoredTx & { flags: number }>(
      `SELECT t.tx_id, t.txid, t.height, strftime(to_timestamp(b.time), '%Y-%m-%dT%H:%M:%SZ') AS time, t.position, t.in_count, t.out_count,
              t.in_value, t.out_value, t.flags FROM chain_txs t JOIN chain_blocks b ON b.height = t.height WHERE t.txid = $1`,
      [txid.toLowerCase()],
    );
    if (!t) return null;
    t.coinbase = (t.flags & 1) !== 0;
    t.coinjoin = (t.flags & 4) !== 0;
    t.fee = t.coinbase || t.in_value === null ? null : t.in_value - t.out_value;
    t.inputs = await this.db.all(
      `SELECT i.vin, pt.txid AS prev_txid, po.vout AS prev_vout, a.address, i.value FROM chain_inputs i
       LEFT JOIN chain_outputs po ON po.output_id = i.spent_output LEFT JOIN chain_txs pt ON pt.tx_id = po.tx_id
       LEFT JOIN chain_addresses a ON a.address_id = i.address_id WHERE i.tx_id = $1 ORDER BY i.vin`,
      [t.tx_id],
    );
    const outs = await this.db.all<{
      vout: number;
      value: number;
      st: number;
      address: string | null;
      spent_by: string | null;
    }>(
      `SELECT o.vout, o.value, o.script_type AS st, a.address, st.txid AS spent_by FROM chain_outputs o
       LEFT JOIN chain_addresses a ON a.address_id = o.address_id LEFT JOIN chain_inputs i ON i.spent_output = o.output_id
       LEFT JOIN chain_txs st ON st.tx_id = i.tx_id WHERE o.tx_id = $1 ORDER BY o.vout`,
      [t.tx_id],
    );
    t.outputs = outs.map((o) => ({
      vout: o.vout,
      value: o.value,
      script_type: SCRIPT_TYPES[o.st],
      address: o.address,
      spent_by: o.spent_by,
    }));
    delete (t as { flags?: number }).flags;
    return t;
  }

  async addressIdOf(text: string): Promise<number | null> {
    const [r] = await this.db.all<{ id: number }>(
      'SELECT address_id AS id FROM chain_addresses WHERE address = $1',
      [text],
    );
    return r?.id ?? null;
  }

  async address(text: string): Promise<StoredAddress | null> {
    const [r] = await this.db.all<StoredAddress & { st: number }>(
      `WITH a AS (SELECT * FROM chain_addresses WHERE address = $1),
            o AS (SELECT o.output_id, o.tx_id, o.value, i.tx_id AS spender FROM chain_outputs o LEFT JOIN chain_inputs i ON i.spent_output = o.output_id
                  WHERE o.address_id = (SELECT address_id FROM a))
       SELECT a.address_id, a.address, a.script_type AS st, a.first_height, c.cluster_id,
              (SELECT size FROM chain_cluster_sizes s WHERE s.cluster_id = c.cluster_id) AS cluster_size,
              coalesce((SELECT sum(value) FROM o), 0) AS received,
              coalesce((SELECT sum(value) FROM o WHERE spender IS NOT NULL), 0) AS sent,
              (SELECT count(DISTINCT x) FROM (SELECT tx_id AS x FROM o UNION SELECT spender FROM o WHERE spender IS NOT NULL)) AS tx_count,
              (SELECT count(*) FROM o) AS outputs, (SELECT count(spender) FROM o) AS spent_outputs
       FROM a LEFT JOIN chain_clusters c ON c.address_id = a.address_id`,
      [text],
    );
    if (!r) return null;
    r.script_type = SCRIPT_TYPES[r.st];
    r.balance = r.received - r.sent;
    delete (r as { st?: number }).st;
    return r;
  }

  async addressTexts(list: number[]): Promise<Map<number, string>> {
    if (list.length === 0) return new Map();
    const rows = await this.db.all<{ id: number; address: string }>(
      `SELECT address_id AS id, address FROM chain_addresses WHERE address_id IN (${ids(list)})`,
    );
    return new Map(rows.map((r) => [r.id, r.address]));
  }

  async clusterOf(addressId: number): Promise<number | null> {
    const [r] = await this.db.all<{ c: number }>(
      'SELECT cluster_id AS c FROM chain_clusters WHERE address_id = $1',
      [addressId],
    );
    return r?.c ?? null;
  }

  async clusterMembers(clusterId: number): Promise<number[]> {
    const rows = await this.db.all<{ a: number }>(
      'SELECT address_id AS a FROM chain_clusters WHERE cluster_id = $1 ORDER BY address_id',
      [clusterId],
    );
    return rows.map((r) => r.a);
  }

  async txIdOf(txid: string): Promise<number | null> {
    const [r] = await this.db.all<{ id: number }>('SELECT tx_id AS id FROM chain_txs WHERE txid = $1', [
      txid.toLowerCase(),
    ]);
    return r?.id ?? null;
  }

  async txSummaries(list: number[]): Promise<Map<number, TxSummary>> {
    if (list.length === 0) return new Map();
    const rows = await this.db.all<TxSummary>(
      `SELECT t.tx_id AS "txId", t.txid, t.height, b.time, t.in_value AS "inValue", t.out_value AS "outValue", t.flags,
              CASE WHEN t.flags & 1 = 1 THEN b.coinbase_text END AS "coinbaseText"
       FROM chain_txs t JOIN chain_blocks b ON b.height = t.height WHERE t.tx_id IN (${ids(list)})`,
    );
    return new Map(rows.map((r) => [r.txId, r]));
  }

  async outputsTo(addressIds: number[]): Promise<MoneyEdge[]> {
    if (addressIds.length === 0) return [];
    return this.db.all<MoneyEdge>(
      `${EDGE_SELECT} WHERE o.address_id IN (${ids(addressIds)}) ORDER BY o.output_id`,
    );
  }

  async outputsOf(txIds: number[]): Promise<MoneyEdge[]> {
    if (txIds.length === 0) return [];
    return this.db.all<MoneyEdge>(`${EDGE_SELECT} WHERE o.tx_id IN (${ids(txIds)}) ORDER BY o.output_id`);
  }

  async inputsOf(txIds: number[]): Promise<MoneyEdge[]> {
    if (txIds.length === 0) return [];
    return this.db.all<MoneyEdge>(
      `${EDGE_SELECT} WHERE o.output_id IN (SELECT spent_output FROM chain_inputs WHERE tx_id IN (${ids(txIds)})) ORDER BY o.output_id`,
    );
  }

  async coinbaseRecipients(): Promise<
    { addressId: number; txId: number; value: number; height: number; time: number; coinbaseText: string }[]
  > {
    return this.db.all(
      `SELECT o.address_id AS "addressId", o.tx_id AS "txId", o.value, t.height, b.time, b.coinbase_text AS "coinbaseText"
       FROM chain_txs t JOIN chain_outputs o ON o.tx_id = t.tx_id JOIN chain_blocks b ON b.height = t.height
       WHERE t.flags & 1 = 1 AND o.address_id IS NOT NULL ORDER BY t.tx_id, o.vout`,
    );
  }

  async exportParquet(dir: string): Promise<string[]> {
    mkdirSync(dir, { recursive: true });
    const out: string[] = [];
    for (const t of [
      'chain_blocks',
      'chain_txs',
      'chain_outputs',
      'chain_inputs',
      'chain_addresses',
      'chain_clusters',
    ]) {
      const f = resolve(dir, `${t.replace('chain_', '')}.parquet`);
      await this.db.run(`COPY ${t} TO '${f.replace(/'/g, "''")}' (FORMAT parquet)`);
      out.push(f);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

/** Stage rows [from, from + rows) of one column into column `c` of the chunk. */
function stageColumn(
  ch: StagedChunk,
  c: number,
  spec: ColumnSpec,
  col: NumberColumn | TextColumn,
  from: number,
  rows: number,
): void {
  if (col instanceof TextColumn) {
    ch.heap(c).setMany(col.bytes, col.starts, from, rows);
    return;
  }
  const v = col.data;
  if (spec.kind === 'BIGINT') {
    const out = ch.i64(c);
    for (let k = 0; k < rows; k++) setInt64(out, k, v[from + k]);
  } else if (spec.kind === 'INTEGER') {
    if (v instanceof Int32Array) ch.i32(c).set(v.subarray(from, from + rows));
    else throw new Error(`INTEGER column ${c} staged from ${v.constructor.name}`);
  } else if (spec.kind === 'UTINYINT') {
    if (v instanceof Uint8Array) ch.u8(c).set(v.subarray(from, from + rows));
    else throw new Error(`UTINYINT column ${c} staged from ${v.constructor.name}`);
  } else throw new Error(`no staging for ${spec.kind}`);
  if (spec.nullIfNegative) for (let k = 0; k < rows; k++) if (v[from + k] < 0) ch.setNull(c, k);
}
