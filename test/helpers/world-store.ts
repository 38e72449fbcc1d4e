import { loadWorldIntoStore } from '../../src/scenario/store.js';
import { buildWorld, defaultConfig, type ScenarioConfig, type World } from '../../src/scenario/world.js';
import { DuckDbSeries } from '../../src/store/duckdb/series.js';
import { DuckDbFlowStore } from '../../src/store/duckdb/flows.js';

/** A generated world (a small one: step growth, no Bitcoin nodes unless asked) loaded into an
 * in-memory DuckDB store; the store is closed after `f`. */
export async function withWorldStore(
  over: Partial<ScenarioConfig>,
  f: (world: World, store: DuckDbFlowStore, series: DuckDbSeries) => Promise<void>,
): Promise<void> {
  const world = buildWorld(defaultConfig({ growth: 'step', btcNodes: 0, ...over }));
  const store = await DuckDbFlowStore.open(':memory:');
  try {
    await loadWorldIntoStore(world, store);
    await f(world, store, new DuckDbSeries(store.db));
  } finally {
    await store.close();
  }
}

/** Dotted text of an IPv4 address held as a number. */
export const dotted = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
