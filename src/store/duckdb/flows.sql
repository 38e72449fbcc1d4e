-- Flow store schema for DuckDB. Times are epoch milliseconds (UTC); the `flows_v` view adds
-- TIMESTAMP columns for people typing SQL.
CREATE SEQUENCE IF NOT EXISTS source_id_seq START 1;

CREATE TABLE IF NOT EXISTS sources (
  id INTEGER PRIMARY KEY,
  name VARCHAR NOT NULL,
  kind VARCHAR NOT NULL,
  fingerprint VARCHAR,
  ingested_at TIMESTAMP NOT NULL,
  flows BIGINT NOT NULL DEFAULT 0,
  complete BOOLEAN NOT NULL DEFAULT false,
  diagnostics VARCHAR
);

CREATE TABLE IF NOT EXISTS flows (
  id BIGINT NOT NULL,
  source_id INTEGER NOT NULL,
  position DOUBLE NOT NULL,
  first_ms BIGINT NOT NULL,
  last_ms BIGINT NOT NULL,
  ip_version UTINYINT NOT NULL,
  src VARCHAR NOT NULL,
  dst VARCHAR NOT NULL,
  src_port USMALLINT NOT NULL,
  dst_port USMALLINT NOT NULL,
  proto UTINYINT NOT NULL,
  packets DOUBLE NOT NULL,
  bytes DOUBLE NOT NULL,
  rev_packets DOUBLE NOT NULL,
  rev_bytes DOUBLE NOT NULL,
  tcp_flags UTINYINT NOT NULL,
  sampling_rate UINTEGER NOT NULL,
  exporter VARCHAR NOT NULL,
  observation_domain UINTEGER NOT NULL,
  src_country VARCHAR NOT NULL,
  dst_country VARCHAR NOT NULL,
  src_asn UINTEGER NOT NULL,
  dst_asn UINTEGER NOT NULL,
  src_watch VARCHAR NOT NULL,
  dst_watch VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS flow_payloads (
  flow_id BIGINT NOT NULL,
  fwd BLOB,
  rev BLOB
);

CREATE TABLE IF NOT EXISTS as_orgs (
  asn UINTEGER PRIMARY KEY,
  org VARCHAR NOT NULL
);

CREATE OR REPLACE VIEW flows_v AS
  SELECT f.*, epoch_ms(f.first_ms) AS first_ts, epoch_ms(f.last_ms) AS last_ts, s.name AS source
  FROM flows f JOIN sources s ON s.id = f.source_id;
