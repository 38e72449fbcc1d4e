-- Flow store schema for ClickHouse (18.16 as Debian ships it, and current releases; chDB runs the
-- same statements). Markers replaced by schema.ts: LC(x) is LowCardinality(x) where the server
-- has it as a regular type (19.x on; 18.16's is experimental) and plain x before; TTL is the
-- `TTL …` clause of --ttl-days (servers from 19.6) or nothing. Statements end with a line `;`.
-- Times are epoch milliseconds (UTC), as in the DuckDB store.

-- One row per version of a source: inserted when it begins, again as its counters move and when
-- it completes or is replaced (`dropped`). Read with FINAL (the newest version of each id). A
-- flow is visible when its source is not dropped and is complete or live: an ingest that is
-- running, or died, shows nothing (what DuckDB's transaction gives), and a re-ingest hides the
-- old copy at once, before the ALTER … DELETE that removes it has run.
CREATE TABLE IF NOT EXISTS sources (
  id UInt32,
  name String,
  kind String,
  fingerprint Nullable(String),
  ingested_at DateTime,
  flows UInt64,
  complete UInt8,
  live UInt8,
  dropped UInt8,
  diagnostics String,
  version UInt64
) ENGINE = ReplacingMergeTree(version) ORDER BY id
;
-- Flows: partitioned by UTC day of their first packet (a day's data is one partition to drop or
-- expire), ordered by the scope keys then time (scope queries read few granules; the day
-- partitions prune time ranges). Addresses are 16 bytes in network order, IPv4 as ::ffff:a.b.c.d
-- (FixedString(16): 18.16 has neither IPv6 nor UInt128).
CREATE TABLE IF NOT EXISTS flow_table (
  id UInt64,
  source_id UInt32,
  position Float64,
  first_ms Int64,
  last_ms Int64,
  ip_version UInt8,
  src_ip FixedString(16),
  dst_ip FixedString(16),
  src_port UInt16,
  dst_port UInt16,
  proto UInt8,
  packets Float64,
  bytes Float64,
  rev_packets Float64,
  rev_bytes Float64,
  tcp_flags UInt8,
  sampling_rate UInt32,
  exporter LC(String),
  observation_domain UInt32,
  src_country LC(String),
  dst_country LC(String),
  src_asn UInt32,
  dst_asn UInt32,
  src_watch LC(String),
  dst_watch LC(String)
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(toDateTime(intDiv(first_ms, 1000), 'UTC'))
ORDER BY (src_watch, src_country, dst_port, first_ms, id)
TTL
;
CREATE TABLE IF NOT EXISTS flow_payloads (
  flow_id UInt64,
  source_id UInt32,
  fwd Nullable(String),
  rev Nullable(String),
  fwd_times Nullable(String),
  rev_times Nullable(String)
) ENGINE = MergeTree ORDER BY flow_id
;
CREATE TABLE IF NOT EXISTS as_orgs (
  asn UInt32,
  org String
) ENGINE = ReplacingMergeTree ORDER BY asn
;
CREATE TABLE IF NOT EXISTS detections (
  flow_id UInt64,
  label LC(String),
  coin LC(String),
  confidence LC(String),
  confidence_rank UInt8,
  evidence String,
  artifacts String,
  list_version String,
  detector_version String
) ENGINE = MergeTree ORDER BY (flow_id, label)
;
CREATE TABLE IF NOT EXISTS artifacts (
  flow_id UInt64,
  kind LC(String),
  value String,
  label LC(String),
  coin LC(String),
  confidence LC(String)
) ENGINE = MergeTree ORDER BY (kind, value, flow_id)
;
-- Blocks of ids claimed by writers (ids.ts): `kind` 'flow' (block n is flow ids n * 2^20 …) or
-- 'source' (n is a source id). Several collectors write one database at once; a writer owns a
-- block when, after inserting its claim, it reads no other writer's claim of it.
CREATE TABLE IF NOT EXISTS id_blocks (
  kind String,
  n UInt64,
  token String,
  source_id UInt32,
  claimed_at DateTime
) ENGINE = MergeTree ORDER BY (kind, n)
;
