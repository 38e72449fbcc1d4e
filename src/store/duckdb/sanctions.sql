-- Sanctions list versions (one row per load), their entities and digital-currency addresses.
-- Arrays (programs, aliases, postal addresses, files) are JSON text: they are read whole, never queried into.
CREATE SEQUENCE IF NOT EXISTS sanctions_version_seq START 1;

CREATE TABLE IF NOT EXISTS sanctions_versions (
  id INTEGER PRIMARY KEY,
  list VARCHAR NOT NULL,
  format VARCHAR NOT NULL,
  published VARCHAR,
  checksum VARCHAR NOT NULL,
  files VARCHAR NOT NULL,
  loaded_at TIMESTAMP NOT NULL,
  entities INTEGER NOT NULL,
  addresses INTEGER NOT NULL,
  invalid_addresses INTEGER NOT NULL,
  diagnostics VARCHAR
);
-- A partial load (--allow-partial): the flag and every row the parser left out (JSON array of
-- {source, line, kind, message}). Added after the table first shipped, so older files gain them here.
ALTER TABLE sanctions_versions ADD COLUMN IF NOT EXISTS partial BOOLEAN DEFAULT false;
ALTER TABLE sanctions_versions ADD COLUMN IF NOT EXISTS skipped VARCHAR DEFAULT '[]';

CREATE TABLE IF NOT EXISTS sanctions_entities (
  version_id INTEGER NOT NULL,
  entity_id VARCHAR NOT NULL,
  name VARCHAR NOT NULL,
  type VARCHAR NOT NULL,
  programs VARCHAR NOT NULL,
  aliases VARCHAR NOT NULL,
  postal VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS sanctions_addresses (
  version_id INTEGER NOT NULL,
  entity_id VARCHAR,
  list_code VARCHAR NOT NULL,
  coin VARCHAR NOT NULL,
  address VARCHAR NOT NULL,
  key VARCHAR NOT NULL,
  valid BOOLEAN NOT NULL,
  checked BOOLEAN NOT NULL,
  kind VARCHAR NOT NULL,
  network VARCHAR,
  problem VARCHAR,
  aliases VARCHAR
);
