import type { FlowStore } from './store.js';
import { DuckDbFlowStore } from './duckdb/flows.js';
import { isClickHouseUrl } from './clickhouse/connection.js';

/**
 * Open the flow store at `path`: a DuckDB file (`:memory:` for a throwaway one), or a ClickHouse
 * server at `clickhouse://USER:PASSWORD@HOST:PORT/DATABASE` (`chdb:PATH` for chDB in-process).
 */
export async function openFlowStore(path: string): Promise<FlowStore> {
  if (isClickHouseUrl(path)) {
    const { ClickHouseFlowStore } = await import('./clickhouse/flows.js');
    return ClickHouseFlowStore.open(path);
  }
  return DuckDbFlowStore.open(path);
}
