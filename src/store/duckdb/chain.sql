-- Chain index for DuckDB: dense integer ids for transactions, outputs and addresses (BlockSci style).
-- Values in satoshis (litoshis); times in UNIX seconds (block header time).
CREATE TABLE IF NOT EXISTS chain_meta (key VARCHAR PRIMARY KEY, value VARCHAR);

CREATE TABLE IF NOT EXISTS chain_blocks (
  height INTEGER NOT NULL,
  hash VARCHAR NOT NULL,
  prev_hash VARCHAR NOT NULL,
  time BIGINT NOT NULL,
  tx_count INTEGER NOT NULL,
  size INTEGER NOT NULL,
  coinbase_text VARCHAR NOT NULL,
  coinbase_height INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS chain_txs (
  tx_id INTEGER NOT NULL,
  txid VARCHAR NOT NULL,
  height INTEGER NOT NULL,
  position INTEGER NOT NULL,
  first_output BIGINT NOT NULL,
  in_count INTEGER NOT NULL,
  out_count INTEGER NOT NULL,
  in_value BIGINT, -- NULL when an input spends an output outside the index
  out_value BIGINT NOT NULL,
  flags UTINYINT NOT NULL
);

CREATE TABLE IF NOT EXISTS chain_outputs (
  output_id BIGINT NOT NULL,
  tx_id INTEGER NOT NULL,
  vout INTEGER NOT NULL,
  value BIGINT NOT NULL,
  script_type UTINYINT NOT NULL,
  address_id INTEGER
);

CREATE TABLE IF NOT EXISTS chain_inputs (
  tx_id INTEGER NOT NULL,
  vin INTEGER NOT NULL,
  spent_output BIGINT,
  value BIGINT,
  address_id INTEGER
);

CREATE TABLE IF NOT EXISTS chain_addresses (
  address_id INTEGER NOT NULL,
  address VARCHAR NOT NULL,
  script_type UTINYINT NOT NULL,
  key VARCHAR NOT NULL,
  first_height INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS chain_clusters (
  address_id INTEGER NOT NULL,
  cluster_id INTEGER NOT NULL
);

CREATE OR REPLACE VIEW chain_cluster_sizes AS
  SELECT cluster_id, count(*) AS size FROM chain_clusters GROUP BY cluster_id;
