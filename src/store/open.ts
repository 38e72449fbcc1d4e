import type { FlowStore } from './store.js';
import { DuckDbFlowStore } from './duckdb/flows.js';

/** Open the flow store at `path` (a DuckDB file; `:memory:` for a throwaway one). */
export async function openFlowStore(path: string): Promise<FlowStore> {
  return DuckDbFlowStore.open(path);
}
