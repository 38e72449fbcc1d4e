-- The hourly rollup of the flow store (rollup.ts): what the console's overview and the plain
-- series/summary scopes read instead of every flow. One row per source, hour (of first_ms), kind,
-- label and both ends' country, AS and watchlist, with the counters the series and the summary
-- give. label = '' rows count every flow; a row with a label counts the flows carrying at least one
-- detection of that label (as `--label` does). kind: bit 1 the destination port is one of the
-- crypto ports (scenario/world.ts CRYPTO_PORTS), bit 2 the destination is a catalogued pool
-- server (the 2018 catalogue) — as of the rollup's version (rollup_state), which changes with
-- either list and makes the next writer rebuild the rollup.
CREATE TABLE IF NOT EXISTS flow_rollup (
  source_id INTEGER NOT NULL,
  hour_ms BIGINT NOT NULL,
  label VARCHAR NOT NULL,
  kind UTINYINT NOT NULL,
  src_country VARCHAR NOT NULL,
  dst_country VARCHAR NOT NULL,
  src_asn UINTEGER NOT NULL,
  dst_asn UINTEGER NOT NULL,
  src_watch VARCHAR NOT NULL,
  dst_watch VARCHAR NOT NULL,
  flows BIGINT NOT NULL,
  flows_est HUGEINT NOT NULL,
  -- packets + rev_packets and bytes + rev_bytes as exported, and scaled by the sampling rate.
  packets DOUBLE NOT NULL,
  packets_est DOUBLE NOT NULL,
  bytes DOUBLE NOT NULL,
  bytes_est DOUBLE NOT NULL,
  -- The earliest and latest first_ms of the row's flows (a series' period is the flows' own).
  min_first_ms BIGINT NOT NULL,
  max_first_ms BIGINT NOT NULL
);

-- One row: the rollup's version, the largest flow id it covers (every flow with a larger id is
-- rolled up by the next commit; ids only grow), and how many detections there were when its label
-- rows were last brought up to date (a reader that counts otherwise does not trust them).
CREATE TABLE IF NOT EXISTS rollup_state (
  version VARCHAR NOT NULL,
  max_id BIGINT NOT NULL,
  detections BIGINT NOT NULL
);

-- The catalogued pool servers' addresses, as of the rollup's version (kind bit 2): filled by the
-- writer when it rebuilds the rollup, read by each commit's roll-up as a hash lookup.
CREATE TABLE IF NOT EXISTS rollup_pools (
  ip UHUGEINT NOT NULL
);
