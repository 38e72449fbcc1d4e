/**
 * Storage interface of the chain index (dense ids, BlockSci style). Engines implement it in
 * store/<engine>/chain.ts with their SQL beside it; chain/ talks only to this.
 */

/** Rows of a run of blocks, columnar; every id is dense and assigned by the indexer. */
export interface ChainRows {
  blocks: {
    height: number[];
    hash: string[];
    prev: string[];
    time: number[];
    txCount: number[];
    size: number[];
    coinbaseText: string[];
    coinbaseHeight: number[];
  };
  txs: {
    txId: number[];
    txid: string[];
    height: number[];
    position: number[];
    firstOutput: number[];
    inCount: number[];
    outCount: number[];
    inValue: number[];
    outValue: number[];
    /** 1 coinbase, 2 segwit, 4 looks like CoinJoin, 8 MWEB HogEx. */
    flags: number[];
  };
  outputs: {
    outputId: number[];
    txId: number[];
    vout: number[];
    value: number[];
    scriptType: number[];
    addressId: number[];
  };
  inputs: { txId: number[]; vin: number[]; spentOutput: number[]; value: number[]; addressId: number[] };
  addresses: {
    addressId: number[];
    address: string[];
    scriptType: number[];
    key: string[];
    firstHeight: number[];
  };
}

export function emptyChainRows(): ChainRows {
  return {
    blocks: {
      height: [],
      hash: [],
      prev: [],
      time: [],
      txCount: [],
      size: [],
      coinbaseText: [],
      coinbaseHeight: [],
    },
    txs: {
      txId: [],
      txid: [],
      height: [],
      position: [],
      firstOutput: [],
      inCount: [],
      outCount: [],
      inValue: [],
      outValue: [],
      flags: [],
    },
    outputs: { outputId: [], txId: [], vout: [], value: [], scriptType: [], addressId: [] },
    inputs: { txId: [], vin: [], spentOutput: [], value: [], addressId: [] },
    addresses: { addressId: [], address: [], scriptType: [], key: [], firstHeight: [] },
  };
}

export const TXF_COINBASE = 1;
export const TXF_SEGWIT = 2;
export const TXF_COINJOIN = 4;
export const TXF_HOGEX = 8;

/** What the index holds so far (chain_meta). */
export interface ChainState {
  network: string | null;
  tipHeight: number;
  tipHash: string | null;
  txs: number;
  outputs: number;
  addresses: number;
  /** Last tx id folded into the clusters, and the policy they were made with. */
  clusteredTx: number;
  clusterPolicy: string | null;
}

/** Everything the indexer needs in memory to resume: txid → id, outputs, address keys. */
export interface ChainSnapshot {
  txids: string[]; // index = tx id, hex display order
  txFirstOutput: Float64Array;
  outputValue: Float64Array; // index = output id
  outputAddress: Int32Array; // -1: none
  addressKeys: string[]; // index = address id
}

export interface StoredTx {
  tx_id: number;
  txid: string;
  height: number;
  time: string;
  position: number;
  in_count: number;
  out_count: number;
  in_value: number | null;
  out_value: number;
  fee: number | null;
  coinbase: boolean;
  coinjoin: boolean;
  inputs: {
    vin: number;
    prev_txid: string | null;
    prev_vout: number | null;
    address: string | null;
    value: number | null;
  }[];
  outputs: {
    vout: number;
    value: number;
    script_type: string;
    address: string | null;
    spent_by: string | null;
  }[];
}

export interface StoredAddress {
  address_id: number;
  address: string;
  script_type: string;
  first_height: number;
  cluster_id: number | null;
  cluster_size: number | null;
  received: number;
  sent: number;
  balance: number;
  tx_count: number;
  outputs: number;
  spent_outputs: number;
}

/** An edge of the money graph: output `outputId` of tx `fromTx` paid `value` to `addressId`, spent by `spentBy` (or not). */
export interface MoneyEdge {
  outputId: number;
  txId: number;
  vout: number;
  value: number;
  addressId: number;
  time: number;
  height: number;
  spentByTx: number | null;
}

export interface TxSummary {
  txId: number;
  txid: string;
  height: number;
  time: number;
  inValue: number;
  outValue: number;
  flags: number;
  coinbaseText: string | null;
}

export interface ChainStore {
  state(): Promise<ChainState>;
  setNetwork(name: string): Promise<void>;
  snapshot(): Promise<ChainSnapshot>;
  /** Block hash at a height (to check that a resumed source is the same chain). */
  blockHash(height: number): Promise<string | null>;
  /** Append one run of blocks atomically and move the tip. */
  append(rows: ChainRows): Promise<void>;
  /** Inputs of transactions after `afterTx` for clustering: parallel arrays, ordered by tx. */
  clusterInputs(
    afterTx: number,
  ): Promise<{ txId: Int32Array; addressId: Int32Array; txFlags: Map<number, number> }>;
  /** Two-output transactions after `afterTx` with their outputs (for the change policy). */
  changeCandidates(
    afterTx: number,
  ): Promise<{ txId: number; outputs: { addressId: number; firstTx: boolean }[]; inputs: number[] }[]>;
  /** Current cluster of every address (index = address id; -1: none yet). */
  clusterAssignment(): Promise<Int32Array>;
  writeClusters(
    addressIds: Int32Array,
    clusterIds: Int32Array,
    clusteredTx: number,
    policy: string,
    skippedCoinJoin: number,
  ): Promise<void>;

  tx(txid: string): Promise<StoredTx | null>;
  address(text: string): Promise<StoredAddress | null>;
  addressIdOf(text: string): Promise<number | null>;
  addressTexts(ids: number[]): Promise<Map<number, string>>;
  clusterOf(addressId: number): Promise<number | null>;
  clusterMembers(clusterId: number): Promise<number[]>;
  txIdOf(txid: string): Promise<number | null>;
  txSummaries(txIds: number[]): Promise<Map<number, TxSummary>>;
  /** Outputs paying any of the addresses. */
  outputsTo(addressIds: number[]): Promise<MoneyEdge[]>;
  /** Outputs created by the transactions. */
  outputsOf(txIds: number[]): Promise<MoneyEdge[]>;
  /** Outputs spent by the transactions (their inputs, resolved). */
  inputsOf(txIds: number[]): Promise<MoneyEdge[]>;
  /** Address ids that received coinbase outputs, with the coinbase text of those blocks. */
  coinbaseRecipients(): Promise<
    { addressId: number; txId: number; value: number; height: number; time: number; coinbaseText: string }[]
  >;
  clusterStats(): Promise<{
    clusters: number;
    largest: number;
    coinjoinSkipped: number;
    policy: string | null;
  }>;
  /** Write the whole index as Parquet files into a directory. */
  exportParquet(dir: string): Promise<string[]>;
  close(): Promise<void>;
}

/** Open the chain index at `path` (a DuckDB file; `:memory:` for a throwaway one). */
export async function openChainStore(path: string): Promise<ChainStore> {
  const { DuckDbChainStore } = await import('./duckdb/chain.js');
  return DuckDbChainStore.open(path);
}
