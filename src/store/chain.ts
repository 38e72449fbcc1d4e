/**
 * Storage interface of the chain index (dense ids, BlockSci style). Engines implement it in
 * store/<engine>/chain.ts with their SQL beside it; chain/ talks only to this.
 */
import { float64Column, int32Column, TextColumn, uint8Column, type NumberColumn } from './columns.js';

/**
 * Rows of a run of blocks, columnar in typed arrays; every id is dense and assigned by the indexer.
 * -1 stands for NULL in the columns the schema lets be NULL (in_value, spent_output, input value,
 * address ids). Text columns hold UTF-8/ASCII bytes: hashes as display-order hex.
 */
export interface ChainRows {
  blocks: {
    height: NumberColumn<Int32Array>;
    hash: TextColumn;
    prev: TextColumn;
    time: NumberColumn<Float64Array>;
    txCount: NumberColumn<Int32Array>;
    size: NumberColumn<Int32Array>;
    coinbaseText: TextColumn;
    coinbaseHeight: NumberColumn<Int32Array>;
  };
  txs: {
    txId: NumberColumn<Int32Array>;
    txid: TextColumn;
    height: NumberColumn<Int32Array>;
    position: NumberColumn<Int32Array>;
    firstOutput: NumberColumn<Float64Array>;
    inCount: NumberColumn<Int32Array>;
    outCount: NumberColumn<Int32Array>;
    inValue: NumberColumn<Float64Array>;
    outValue: NumberColumn<Float64Array>;
    /** 1 coinbase, 2 segwit, 4 looks like CoinJoin, 8 MWEB HogEx. */
    flags: NumberColumn<Uint8Array>;
  };
  outputs: {
    outputId: NumberColumn<Float64Array>;
    txId: NumberColumn<Int32Array>;
    vout: NumberColumn<Int32Array>;
    value: NumberColumn<Float64Array>;
    scriptType: NumberColumn<Uint8Array>;
    addressId: NumberColumn<Int32Array>;
  };
  inputs: {
    txId: NumberColumn<Int32Array>;
    vin: NumberColumn<Int32Array>;
    spentOutput: NumberColumn<Float64Array>;
    value: NumberColumn<Float64Array>;
    addressId: NumberColumn<Int32Array>;
  };
  addresses: {
    addressId: NumberColumn<Int32Array>;
    address: TextColumn;
    scriptType: NumberColumn<Uint8Array>;
    /** `type:payload hex`, the (script type, payload) the address stands for. */
    key: TextColumn;
    firstHeight: NumberColumn<Int32Array>;
  };
}

export function emptyChainRows(): ChainRows {
  const i32 = int32Column;
  const f64 = float64Column;
  const text = () => new TextColumn();
  return {
    blocks: {
      height: i32(),
      hash: text(),
      prev: text(),
      time: f64(),
      txCount: i32(),
      size: i32(),
      coinbaseText: text(),
      coinbaseHeight: i32(),
    },
    txs: {
      txId: i32(),
      txid: text(),
      height: i32(),
      position: i32(),
      firstOutput: f64(),
      inCount: i32(),
      outCount: i32(),
      inValue: f64(),
      outValue: f64(),
      flags: uint8Column(),
    },
    outputs: {
      outputId: f64(),
      txId: i32(),
      vout: i32(),
      value: f64(),
      scriptType: uint8Column(),
      addressId: i32(),
    },
    inputs: { txId: i32(), vin: i32(), spentOutput: f64(), value: f64(), addressId: i32() },
    addresses: {
      addressId: i32(),
      address: text(),
      scriptType: uint8Column(),
      key: text(),
      firstHeight: i32(),
    },
  };
}

/** Empty every column of `rows` (keeping their capacity for the next run). */
export function clearChainRows(rows: ChainRows): void {
  for (const table of Object.values(rows) as Record<string, { clear(): void }>[])
    for (const col of Object.values(table)) col.clear();
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
  /** Resolved inputs of transactions after `afterTx` for clustering (parallel arrays, ordered by tx),
   * and which of those transactions are flagged CoinJoin-like. */
  clusterInputs(
    afterTx: number,
  ): Promise<{ txId: Int32Array; addressId: Int32Array; coinjoinTxs: Set<number> }>;
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
