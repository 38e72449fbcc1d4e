import type {
  BehaviourFlowRow,
  BehaviourGroupRow,
  DetectionInput,
  DetectionQuery,
  DetectionStore,
  StoredArtifact,
  StoredDetection,
} from '../detections.js';
import { BIGINT, UTINYINT, VARCHAR } from '@duckdb/node-api';
import { CHUNK_ROWS, StagedChunk, closeAppender, discardAppender, setInt64 } from './chunk.js';
import type { DuckDbDatabase } from './database.js';
import { Rollup } from './rollup.js';

const TS = (col: string) => `strftime(epoch_ms(${col}), '%Y-%m-%dT%H:%M:%S.%gZ')`;

export class DuckDbDetectionStore implements DetectionStore {
  private constructor(private readonly db: DuckDbDatabase) {}

  static async open(db: DuckDbDatabase): Promise<DuckDbDetectionStore> {
    await db.applySchema('detections.sql');
    return new DuckDbDetectionStore(db);
  }

  async dropStale(fromFlowId: number): Promise<void> {
    for (const t of ['detections', 'artifacts']) {
      // flow_rows, not the flows view: binding the view's text macros cost 120–200 ms a statement
      // (bench/pcap-ingest-split.ts), ~0.4 CPU-s per ingested file.
      await this.db.run(`DELETE FROM ${t} WHERE flow_id >= $1 OR flow_id NOT IN (SELECT id FROM flow_rows)`, [
        fromFlowId,
      ]);
    }
  }

  private detChunk: StagedChunk | null = null;
  private artChunk: StagedChunk | null = null;

  async add(rows: DetectionInput[]): Promise<void> {
    if (rows.length === 0) return;
    // Column-wise through staged data chunks (chunk.ts), as flows are: one native call per column
    // per 2,048 rows instead of one per cell (a live collector may write a detection per flow).
    const det = (this.detChunk ??= new StagedChunk(
      [BIGINT, VARCHAR, VARCHAR, VARCHAR, UTINYINT, VARCHAR, VARCHAR, VARCHAR, VARCHAR],
      [
        'BIGINT',
        'VARCHAR',
        'VARCHAR',
        'VARCHAR',
        'UTINYINT',
        'VARCHAR_HEAP',
        'VARCHAR_HEAP',
        'VARCHAR',
        'VARCHAR',
      ],
    ));
    const art = (this.artChunk ??= new StagedChunk(
      [BIGINT, VARCHAR, VARCHAR, VARCHAR, VARCHAR, VARCHAR],
      ['BIGINT', 'VARCHAR', 'VARCHAR_HEAP', 'VARCHAR', 'VARCHAR', 'VARCHAR'],
    ));
    const a = await this.db.conn.createAppender('detections');
    const aa = await this.db.conn.createAppender('artifacts');
    try {
      let n = 0;
      let m = 0;
      const flushArt = () => {
        if (m > 0) art.append(aa, m);
        m = 0;
      };
      for (const r of rows) {
        setInt64(det.i64(0), n, r.flowId);
        det.varchar(1).set(n, r.label);
        det.varchar(2).set(n, r.coin);
        det.varchar(3).set(n, r.confidence);
        det.u8(4)[n] = r.confidenceRank;
        det.heap(5).set(n, JSON.stringify(r.evidence));
        det.heap(6).set(n, JSON.stringify(r.artifacts));
        det.varchar(7).set(n, r.listVersion);
        det.varchar(8).set(n, r.detectorVersion);
        if (++n === CHUNK_ROWS) {
          det.append(a, n);
          n = 0;
        }
        for (const x of r.artifacts) {
          setInt64(art.i64(0), m, r.flowId);
          art.varchar(1).set(m, x.kind);
          art.heap(2).set(m, x.value);
          art.varchar(3).set(m, r.label);
          art.varchar(4).set(m, r.coin);
          art.varchar(5).set(m, r.confidence);
          if (++m === CHUNK_ROWS) flushArt();
        }
      }
      if (n > 0) det.append(a, n);
      flushArt();
    } catch (e) {
      discardAppender(a);
      discardAppender(aa);
      throw e;
    }
    try {
      closeAppender(a);
    } catch (e) {
      discardAppender(aa);
      throw e;
    }
    closeAppender(aa);
  }

  async clear(confidences?: string[]): Promise<void> {
    if (!confidences) {
      await this.db.run('DELETE FROM artifacts');
      await this.db.run('DELETE FROM detections');
      return;
    }
    const list = confidences.map((c) => `'${c.replace(/'/g, "''")}'`).join(',');
    await this.db.run(`DELETE FROM artifacts WHERE confidence IN (${list})`);
    await this.db.run(`DELETE FROM detections WHERE confidence IN (${list})`);
  }

  async detections(q: DetectionQuery): Promise<StoredDetection[]> {
    const conds: string[] = [];
    const params: (string | number)[] = [];
    if (q.minRank) {
      params.push(q.minRank);
      conds.push(`d.confidence_rank >= $${params.length}`);
    }
    if (q.label) {
      params.push(q.label);
      conds.push(`d.label = $${params.length}`);
    }
    if (q.where) conds.push(`(${q.where})`);
    const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
    const limit = q.limit !== undefined ? `LIMIT ${Math.max(0, Math.floor(q.limit))}` : '';
    const rows = await this.db.all<StoredDetection & { evidence: string; artifacts: string }>(
      `SELECT f.id, ${TS('f.first_ms')} AS first, ${TS('f.last_ms')} AS last,
              f.ip_version, f.src, f.src_port AS sport, f.dst, f.dst_port AS dport, f.proto,
              f.packets, f.bytes, f.rev_packets, f.rev_bytes, f.tcp_flags, f.sampling_rate, f.exporter,
              f.observation_domain, f.src_country, f.dst_country, f.src_asn, f.dst_asn, f.src_watch,
              f.dst_watch, f.source, f.position,
              d.label, d.coin, d.confidence, d.evidence, d.artifacts, d.list_version, d.detector_version
       FROM detections d
       JOIN (SELECT fl.*, s.name AS source FROM flows fl JOIN sources s ON s.id = fl.source_id) f ON f.id = d.flow_id
       ${where}
       ORDER BY d.confidence_rank DESC, f.first_ms, f.id, d.label ${limit}`,
      params,
    );
    return rows.map((r) => ({ ...r, evidence: JSON.parse(r.evidence), artifacts: JSON.parse(r.artifacts) }));
  }

  async artifacts(q: { kind?: string; limit?: number } = {}): Promise<StoredArtifact[]> {
    const params: string[] = [];
    let where = '';
    if (q.kind) {
      params.push(q.kind);
      where = 'WHERE a.kind = $1';
    }
    const limit = q.limit !== undefined ? `LIMIT ${Math.max(0, Math.floor(q.limit))}` : '';
    return this.db.all<StoredArtifact>(
      `SELECT a.kind, a.value, string_agg(DISTINCT a.label, ',' ORDER BY a.label) AS labels,
              string_agg(DISTINCT nullif(a.coin, ''), ',' ORDER BY nullif(a.coin, '')) AS coins,
              count(DISTINCT a.flow_id) AS flows,
              ${TS('min(f.first_ms)')} AS first, ${TS('max(f.last_ms)')} AS last,
              string_agg(DISTINCT f.src, ',' ORDER BY f.src) AS hosts
       FROM artifacts a JOIN flows f ON f.id = a.flow_id ${where}
       GROUP BY a.kind, a.value ORDER BY a.kind, min(f.first_ms), a.value ${limit}`,
      params,
    );
  }

  async behaviourFlows(): Promise<BehaviourFlowRow[]> {
    return this.db.all<BehaviourFlowRow>(
      `SELECT id, first_ms, last_ms, src, dst, src_port, dst_port, packets, bytes, rev_packets, rev_bytes,
              tcp_flags, sampling_rate,
              id IN (SELECT flow_id FROM detections WHERE confidence_rank >= 3) AS known
       FROM flows WHERE proto = 6 ORDER BY id`,
    );
  }

  async behaviourGroups(windowMs: number): Promise<BehaviourGroupRow[]> {
    const w = Math.max(1, Math.floor(windowMs));
    // A record runs client → server when it is a biflow (the capture saw the initiator first) or,
    // for one-way NetFlow records, when it leaves from the higher port.
    const rows = await this.db.all<BehaviourGroupRow & { flow_ids: unknown; starts: unknown }>(
      `WITH r AS (
         SELECT id, first_ms, last_ms, tcp_flags, packets, bytes,
                (rev_packets > 0 OR src_port >= dst_port) AS request
              , CASE WHEN rev_packets > 0 OR src_port >= dst_port THEN src ELSE dst END AS client
              , CASE WHEN rev_packets > 0 OR src_port >= dst_port THEN dst ELSE src END AS server
              , CASE WHEN rev_packets > 0 OR src_port >= dst_port THEN dst_port ELSE src_port END AS server_port
              , (first_ms // ${w}) * ${w} AS window_start_ms
              , id IN (SELECT flow_id FROM detections WHERE confidence_rank >= 3) AS known
         FROM flows WHERE proto = 6)
       SELECT client, server, server_port, window_start_ms, count(*) AS records,
              100.0 * avg(CASE WHEN tcp_flags & 24 = 24 THEN 1 ELSE 0 END) AS ackpush,
              coalesce(sum(bytes) / nullif(sum(packets), 0), 0) AS bytes_per_packet,
              sum(packets) / count(*) AS packets_per_flow,
              sum(packets) / greatest(1.0, (max(last_ms) - min(first_ms)) / 60000.0) AS packets_per_minute,
              100.0 * avg(CASE WHEN request THEN 1 ELSE 0 END) AS requests,
              100.0 * avg(CASE WHEN tcp_flags & 2 = 2 THEN 1 ELSE 0 END) AS syn,
              100.0 * avg(CASE WHEN tcp_flags & 4 = 4 THEN 1 ELSE 0 END) AS rst,
              100.0 * avg(CASE WHEN tcp_flags & 1 = 1 THEN 1 ELSE 0 END) AS fin,
              to_json(list(id ORDER BY id) FILTER (WHERE NOT known))::VARCHAR AS flow_ids,
              to_json(list(first_ms ORDER BY first_ms))::VARCHAR AS starts
       FROM r GROUP BY ALL ORDER BY client, server, server_port, window_start_ms`,
    );
    return rows.map((r) => ({
      ...r,
      flow_ids: JSON.parse(String(r.flow_ids)) ?? [],
      starts: JSON.parse(String(r.starts)) ?? [],
    }));
  }

  async counts(): Promise<{ label: string; confidence: string; coin: string; n: number }[]> {
    return this.db.all(
      'SELECT label, confidence, coin, count(*) AS n FROM detections GROUP BY ALL ORDER BY max(confidence_rank) DESC, label, coin',
    );
  }

  async begin(): Promise<void> {
    await this.db.run('BEGIN TRANSACTION');
  }

  async commit(): Promise<void> {
    // Detections replaced wholesale (coinradar detect): the rollup's label rows follow them.
    await Rollup.rebuildLabels(this.db);
    await this.db.run('COMMIT');
  }

  async rollback(): Promise<void> {
    await this.db.run('ROLLBACK');
  }
}
