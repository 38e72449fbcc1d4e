import type { FlowStore } from './store.js';
import { DuckDbFlowStore } from './duckdb/flows.js';
import { isClickHouseUrl, withCluster } from './clickhouse/connection.js';

/**
 * Open the flow store at `path`: a DuckDB file (`:memory:` for a throwaway one), or a ClickHouse
 * server at `clickhouse://USER:PASSWORD@HOST:PORT/DATABASE` (`chdb:PATH` for chDB in-process).
 * `cluster` (or `?cluster=NAME` in the URL) puts a ClickHouse store on that cluster's shards.
 * `memoryLimit` (bytes) is DuckDB's for this process (database.ts); ClickHouse servers keep their own.
 */
export async function openFlowStore(
  path: string,
  opts: { cluster?: string; memoryLimit?: number } = {},
): Promise<FlowStore> {
  if (opts.cluster) path = withCluster(path, opts.cluster);
  if (isClickHouseUrl(path)) {
    const { ClickHouseFlowStore } = await import('./clickhouse/flows.js');
    return ClickHouseFlowStore.open(path);
  }
  return DuckDbFlowStore.open(path, { memoryLimit: opts.memoryLimit });
}
