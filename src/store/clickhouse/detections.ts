/**
 * Detections and their artifacts on ClickHouse (the DetectionStore of ../detections.ts). Rows go
 * in as TabSeparated inserts; deletions are ALTER … DELETE run only when something matches (a
 * mutation rewrites whole parts). ClickHouse has no transactions: begin/commit/rollback are
 * no-ops, and a re-run clears and then adds (a reader between the two sees fewer detections).
 */
import type {
  BehaviourFlowRow,
  BehaviourGroupRow,
  DetectionInput,
  DetectionQuery,
  DetectionStore,
  StoredArtifact,
  StoredDetection,
} from '../detections.js';
import { lit, str } from './connection.js';
import { FLOWS_VIEW, isoMs, storedFlow, type ClickHouseFlowStore } from './flows.js';
import { TsvBuilder } from './tsv.js';

const FLOW_FIELDS = `id, first_ms, last_ms, ip_version, src, src_port AS sport, dst, dst_port AS dport, proto, packets,
  bytes, rev_packets, rev_bytes, tcp_flags, sampling_rate, exporter, observation_domain, src_country,
  dst_country, src_asn, dst_asn, src_watch, dst_watch, source, position`;

export class ClickHouseDetectionStore implements DetectionStore {
  constructor(private readonly store: ClickHouseFlowStore) {}

  private get conn() {
    return this.store.conn;
  }

  async dropStale(): Promise<void> {
    // Nothing to do here: flow ids are never given twice (ids.ts), and a replaced or aborted
    // source's detections go with its flows (ClickHouseFlowStore.dropSources). Deleting "ids at
    // or after the new ones, or of flows not stored yet" would take the rows of another writer
    // of the same database, whose flows are still staged.
  }

  async add(rows: DetectionInput[]): Promise<void> {
    if (rows.length === 0) return;
    await this.store.ensureSchema();
    const d = new TsvBuilder();
    const a = new TsvBuilder();
    for (const r of rows) {
      d.num(r.flowId)
        .tab()
        .str(r.label)
        .tab()
        .str(r.coin)
        .tab()
        .str(r.confidence)
        .tab()
        .num(r.confidenceRank)
        .tab();
      d.str(JSON.stringify(r.evidence)).tab().str(JSON.stringify(r.artifacts)).tab();
      d.str(r.listVersion).tab().str(r.detectorVersion).end();
      for (const x of r.artifacts)
        a.num(r.flowId)
          .tab()
          .str(x.kind)
          .tab()
          .str(x.value)
          .tab()
          .str(r.label)
          .tab()
          .str(r.coin)
          .tab()
          .str(r.confidence)
          .end();
    }
    await this.conn.insertTsv(
      'detections',
      [
        'flow_id',
        'label',
        'coin',
        'confidence',
        'confidence_rank',
        'evidence',
        'artifacts',
        'list_version',
        'detector_version',
      ],
      d.take(),
    );
    if (a.length > 0)
      await this.conn.insertTsv(
        'artifacts',
        ['flow_id', 'kind', 'value', 'label', 'coin', 'confidence'],
        a.take(),
      );
  }

  async clear(confidences?: string[]): Promise<void> {
    await this.store.ensureSchema();
    const where = confidences ? `confidence IN (${confidences.map(str).join(',')})` : '1';
    await this.store.deleteWhere('artifacts', where);
    await this.store.deleteWhere('detections', where);
  }

  async detections(q: DetectionQuery): Promise<StoredDetection[]> {
    const conds: string[] = [];
    if (q.minRank) conds.push(`confidence_rank >= ${lit(q.minRank)}`);
    if (q.label) conds.push(`label = ${str(q.label)}`);
    if (q.where) conds.push(`(${q.where})`);
    const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
    const limit = q.limit !== undefined ? `LIMIT ${Math.max(0, Math.floor(q.limit))}` : '';
    // One joined row per (flow, detection), named f so that --where may say f.dst_port as on DuckDB.
    const rows = await this.conn.rows<Record<string, unknown>>(
      `SELECT ${FLOW_FIELDS}, label, coin, confidence, evidence, artifacts, list_version, detector_version
       FROM (SELECT * FROM (SELECT flow_id AS id, label, coin, confidence, confidence_rank, evidence, artifacts,
                                   list_version, detector_version FROM detections) AS d
             ALL INNER JOIN (SELECT * FROM ${FLOWS_VIEW}) AS fl USING id) AS f
       ${where}
       ORDER BY confidence_rank DESC, first_ms, id, label ${limit}`,
    );
    return rows.map((r) => {
      const { label, coin, confidence, evidence, artifacts, list_version, detector_version, ...flow } = r;
      return {
        ...storedFlow(flow),
        label,
        coin,
        confidence,
        evidence: JSON.parse(String(evidence)),
        artifacts: JSON.parse(String(artifacts)),
        list_version,
        detector_version,
      } as StoredDetection;
    });
  }

  async artifacts(q: { kind?: string; limit?: number } = {}): Promise<StoredArtifact[]> {
    const where = q.kind ? `WHERE kind = ${str(q.kind)}` : '';
    const limit = q.limit !== undefined ? `LIMIT ${Math.max(0, Math.floor(q.limit))}` : '';
    const rows = await this.conn.rows<Record<string, unknown>>(
      `SELECT kind, value, arrayStringConcat(arraySort(groupUniqArray(label)), ',') AS labels,
              arrayFilter(x -> x != '', arraySort(groupUniqArray(coin))) AS coin_list,
              uniqExact(id) AS flows, min(first_ms) AS lo, max(last_ms) AS hi,
              arrayStringConcat(arraySort(groupUniqArray(src)), ',') AS hosts
       FROM (SELECT flow_id AS id, kind, value, label, coin FROM artifacts ${where}) AS a
         ALL INNER JOIN (SELECT id, first_ms, last_ms, src FROM ${FLOWS_VIEW}) AS fl USING id
       GROUP BY kind, value ORDER BY kind, lo, value ${limit}`,
    );
    return rows.map((r) => {
      const coins = r.coin_list as string[];
      return {
        kind: String(r.kind),
        value: String(r.value),
        labels: String(r.labels),
        coins: (coins.length ? coins.join(',') : null) as string,
        flows: Number(r.flows),
        first: isoMs(Number(r.lo)),
        last: isoMs(Number(r.hi)),
        hosts: String(r.hosts),
      };
    });
  }

  async behaviourFlows(): Promise<BehaviourFlowRow[]> {
    const rows = await this.conn.rows<Record<string, unknown>>(
      `SELECT id, first_ms, last_ms, src, dst, src_port, dst_port, packets, bytes, rev_packets, rev_bytes,
              tcp_flags, sampling_rate,
              id IN (SELECT flow_id FROM detections WHERE confidence_rank >= 3) AS known
       FROM ${FLOWS_VIEW} WHERE proto = 6 ORDER BY id`,
    );
    return rows.map((r) => {
      const o: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(r)) o[k] = k === 'src' || k === 'dst' ? v : Number(v);
      o.known = Number(r.known) === 1;
      return o as unknown as BehaviourFlowRow;
    });
  }

  async behaviourGroups(): Promise<BehaviourGroupRow[]> {
    throw new Error(
      `${this.conn.display}: the behaviour model's group features are not yet on ClickHouse; run it on a DuckDB store`,
    );
  }

  async counts(): Promise<{ label: string; confidence: string; coin: string; n: number }[]> {
    const rows = await this.conn.rows<{ label: string; confidence: string; coin: string; n: number }>(
      `SELECT label, confidence, coin, count() AS n FROM detections GROUP BY label, confidence, coin
       ORDER BY max(confidence_rank) DESC, label, coin`,
    );
    return rows.map((r) => ({ ...r, n: Number(r.n) }));
  }

  async begin(): Promise<void> {}
  async commit(): Promise<void> {}
  async rollback(): Promise<void> {}
}
