/**
 * Where detections live: one row per (flow, detection), artifacts in their own table so that
 * wallets, workers and pools can be listed across flows. Engine code in store/<engine>/detections.*.
 */
import type { FlowStore, StoredFlow } from './store.js';
import { DuckDbFlowStore } from './duckdb/flows.js';
import { DuckDbDetectionStore } from './duckdb/detections.js';

/** A detection as handed to the store (the shape of detect/types.ts Detection, kept engine-neutral). */
export interface DetectionInput {
  flowId: number;
  label: string;
  coin: string;
  confidence: string;
  /** Higher is stronger: payload 4, infrastructure 3, behaviour 2, port 1. */
  confidenceRank: number;
  evidence: Record<string, unknown>;
  artifacts: { kind: string; value: string }[];
  listVersion: string;
  detectorVersion: string;
}

/** A stored detection joined with its flow (the JSON-lines shape of `coinradar detections`). */
export type StoredDetection = StoredFlow & {
  label: string;
  coin: string;
  confidence: string;
  evidence: Record<string, unknown>;
  artifacts: { kind: string; value: string }[];
  list_version: string;
  detector_version: string;
};

export interface DetectionQuery {
  /** Only detections at least this strong (rank). */
  minRank?: number;
  label?: string;
  /** SQL condition over flow columns (as `coinradar flows --where`). */
  where?: string;
  limit?: number;
}

export interface StoredArtifact {
  kind: string;
  value: string;
  labels: string;
  coins: string;
  flows: number;
  first: string;
  last: string;
  hosts: string;
}

/** Per (client, server, server port, window) aggregates of TCP flows for the behaviour classifier. */
export interface BehaviourGroupRow {
  client: string;
  server: string;
  server_port: number;
  window_start_ms: number;
  records: number;
  ackpush: number;
  bytes_per_packet: number;
  packets_per_flow: number;
  packets_per_minute: number;
  requests: number;
  syn: number;
  rst: number;
  fin: number;
  /** Flow ids and start times of the group's flows that carry no payload/infrastructure detection. */
  flow_ids: number[];
  starts: number[];
}

/** One stored TCP flow as the behaviour model reads it (src/detect/classifier). */
export type BehaviourFlowRow = Pick<
  StoredFlow,
  'id' | 'src' | 'dst' | 'packets' | 'bytes' | 'rev_packets' | 'rev_bytes' | 'tcp_flags' | 'sampling_rate'
> & {
  first_ms: number;
  last_ms: number;
  src_port: number;
  dst_port: number;
  /** The flow has a detection at infrastructure confidence or better. */
  known: boolean;
};

export interface DetectionStore {
  /** Every stored TCP flow, in id order, for the behaviour model's store pass. */
  behaviourFlows(): Promise<BehaviourFlowRow[]>;
  /** Feature rows of every TCP (client, server, server port) group per window of `windowMs`. */
  behaviourGroups(windowMs: number): Promise<BehaviourGroupRow[]>;
  /**
   * Forget detections whose flow is gone or whose id is at least `fromFlowId` (a re-ingest of a
   * source replaced them). Called once before a source's detections are written.
   */
  dropStale(fromFlowId: number): Promise<void>;
  add(rows: DetectionInput[]): Promise<void>;
  /** Remove detections of these confidence levels (all when omitted) before a re-run. */
  clear(confidences?: string[]): Promise<void>;
  detections(q: DetectionQuery): Promise<StoredDetection[]>;
  artifacts(q?: { kind?: string; limit?: number }): Promise<StoredArtifact[]>;
  counts(): Promise<{ label: string; confidence: string; coin: string; n: number }[]>;
  begin(): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

/**
 * The detections beside a flow store for a command that only reads them: null when the store has
 * none (a DuckDB file never given detections is not given their tables by a read).
 */
export async function existingDetections(flows: FlowStore): Promise<DetectionStore | null> {
  if (flows instanceof DuckDbFlowStore && !(await flows.db.hasTable('artifacts'))) return null;
  return openDetectionStore(flows);
}

/** The detection store beside a flow store (same database, same connection). */
export async function openDetectionStore(flows: FlowStore): Promise<DetectionStore> {
  if (flows instanceof DuckDbFlowStore) return DuckDbDetectionStore.open(flows.db);
  const { ClickHouseFlowStore } = await import('./clickhouse/flows.js');
  if (flows instanceof ClickHouseFlowStore) {
    const { ClickHouseDetectionStore } = await import('./clickhouse/detections.js');
    return new ClickHouseDetectionStore(flows);
  }
  throw new Error('detections are stored only with the DuckDB and ClickHouse flow stores');
}
