-- Imported indicator sets (coinradar indicators import): one row per import of a source's file,
-- and the infrastructure entries (pool endpoints, CIDRs, domains) detection adds to its lists.
-- Addresses for screening go to the sanctions tables as a list version of their own.
CREATE SEQUENCE IF NOT EXISTS indicator_set_seq START 1;

CREATE TABLE IF NOT EXISTS indicator_sets (
  id INTEGER PRIMARY KEY,
  source VARCHAR NOT NULL,
  format VARCHAR NOT NULL,
  version VARCHAR NOT NULL,
  checksum VARCHAR NOT NULL,
  file VARCHAR NOT NULL,
  imported_at TIMESTAMP NOT NULL,
  infrastructure INTEGER NOT NULL,
  addresses INTEGER NOT NULL,
  skipped VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS indicator_infrastructure (
  set_id INTEGER NOT NULL,
  value VARCHAR NOT NULL,
  port INTEGER NOT NULL,
  label VARCHAR NOT NULL,
  coin VARCHAR NOT NULL,
  name VARCHAR NOT NULL
);
