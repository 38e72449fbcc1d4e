/**
 * The chain index behind `coinradar screen` and `coinradar serve`: both look in their --db file
 * and, when it holds one (`coinradar chain ingest`), add cluster and indirect matches through
 * ChainSanctionsExposure. One place, so the command line and the HTTP API screen alike.
 */
import type { Command } from 'commander';
import { ChainSanctionsExposure } from '../chain/sanctions-exposure.js';
import { buildScreeningIndex } from '../sanctions/index-loader.js';
import type { ChainExposureProvider, ScreeningIndex } from '../sanctions/screen.js';
import type { ChainState } from '../store/chain.js';
import { DuckDbChainStore } from '../store/duckdb/chain.js';
import type { DuckDbDatabase } from '../store/duckdb/database.js';
import { DuckDbSanctionsStore } from '../store/duckdb/sanctions.js';
import { parseWholeNumber } from './output.js';

export const MAX_CHAIN_HOPS = 20;

/** The options both commands take: --chain-hops <n> and --no-chain. */
export function addChainOptions(cmd: Command): Command {
  return cmd
    .option('--chain-hops <n>', 'indirect matches: follow received funds back this many hops', '3')
    .option('--no-chain', 'exact matches only, even when a chain index exists');
}

export function parseChainHops(v: string): number {
  return parseWholeNumber('--chain-hops', v, 0, MAX_CHAIN_HOPS);
}

export interface ChainIndex {
  state: ChainState;
  hops: number;
  provider: ChainExposureProvider;
  /** The database the index is read from (serve reads its flows through it too). */
  db: DuckDbDatabase;
  /** The index itself (serve's money routes read it). */
  store: DuckDbChainStore;
  /** What screening includes, for a command's summary line. */
  note: string;
  /** The current list versions, read through this index's open connection (DuckDB opens a file once per process). */
  screeningIndex(): Promise<ScreeningIndex>;
  close(): Promise<void>;
}

/**
 * The chain index in `db`, open, or null (and the file closed again) when the database holds no
 * indexed transactions. `db` may be a connection to a database this process holds already
 * (serve: DuckDB opens a file once per process); closing the index then closes that connection.
 */
export async function openChainIndex(db: string | DuckDbDatabase, hops: number): Promise<ChainIndex | null> {
  const store = typeof db === 'string' ? await DuckDbChainStore.open(db) : await DuckDbChainStore.on(db);
  let state: ChainState;
  try {
    state = await store.state();
  } catch (e) {
    await store.close();
    throw e;
  }
  if (state.txs === 0) {
    await store.close();
    return null;
  }
  return {
    state,
    hops,
    provider: new ChainSanctionsExposure(store, hops),
    db: store.db,
    store,
    note: `chain index ${state.network ?? ''} to height ${state.tipHeight}: cluster and indirect (${hops} hops, haircut) matches included`,
    async screeningIndex() {
      const lists = await DuckDbSanctionsStore.attach(store.db);
      try {
        return await buildScreeningIndex(lists);
      } finally {
        await lists.close();
      }
    },
    close: () => store.close(),
  };
}
