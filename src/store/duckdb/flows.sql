-- Flow store schema for DuckDB. Times are epoch milliseconds (UTC); the `flows` view adds
-- TIMESTAMP columns (first_ts, last_ts) for people typing SQL (--where 'year(first_ts) = 2017').
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

-- One row per flow. Addresses are 128-bit integers (IPv6 as is, IPv4 as the IPv4-mapped
-- ::ffff:a.b.c.d), stored as two UBIGINT words (hi, lo), as the segment files store them: DuckDB
-- bit-packs 128-bit columns too but reads them back ~50x slower than 64-bit ones (a filter on
-- dst_ip cost ~200 ns a row; docs/benchmarks.md), and the words compress as well. The writer copies
-- fixed-width columns and never builds address text; `flow_rows` gives the 128-bit value back
-- (src_ip, dst_ip, …) and the `flows` view the text. Query `flows` (or `flow_rows`); only the store
-- writes `flow_table`. File ingest appends here; live sources write Parquet segments (below).
CREATE TABLE IF NOT EXISTS flow_table (
  id BIGINT NOT NULL,
  source_id INTEGER NOT NULL,
  position DOUBLE NOT NULL,
  first_ms BIGINT NOT NULL,
  last_ms BIGINT NOT NULL,
  ip_version UTINYINT NOT NULL,
  src_ip_hi UBIGINT NOT NULL,
  src_ip_lo UBIGINT NOT NULL,
  dst_ip_hi UBIGINT NOT NULL,
  dst_ip_lo UBIGINT NOT NULL,
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
  dst_watch VARCHAR NOT NULL,
  -- Tunnel context of flows assembled from packets inside a tunnel (docs/data-model.md): the kind
  -- ('gre', 'ipip', 'vxlan', 'gtp-u', 'teredo', 'capwap', 'erspan'; '' when none), its id (GRE
  -- key, VXLAN VNI, GTP-U TEID, ERSPAN session; NULL when none) and the outer addresses (NULL when
  -- none), oriented as the flow. Last, and without NOT NULL (stores from before them were given
  -- them by ALTER TABLE … ADD COLUMN; flows.ts migrates older layouts).
  tunnel VARCHAR DEFAULT '',
  tunnel_id UINTEGER,
  outer_ip_version UTINYINT DEFAULT 0,
  outer_src_ip_hi UBIGINT,
  outer_src_ip_lo UBIGINT,
  outer_dst_ip_hi UBIGINT,
  outer_dst_ip_lo UBIGINT
);

-- A 128-bit address as flow_table's two words (for writing rows from SQL).
CREATE OR REPLACE MACRO ip_hi(v) AS (v::UHUGEINT >> 64)::UBIGINT;
CREATE OR REPLACE MACRO ip_lo(v) AS (v::UHUGEINT & 18446744073709551615::UHUGEINT)::UBIGINT;

-- The table's rows with each address as one 128-bit value: the columns every query reads
-- (flow_rows below; the segment files are read in the same shape, segments.ts).
CREATE OR REPLACE VIEW flow_table_rows AS
  SELECT id, source_id, position, first_ms, last_ms, ip_version,
         (src_ip_hi::UHUGEINT << 64) | src_ip_lo::UHUGEINT AS src_ip,
         (dst_ip_hi::UHUGEINT << 64) | dst_ip_lo::UHUGEINT AS dst_ip,
         src_port, dst_port, proto, packets, bytes, rev_packets, rev_bytes, tcp_flags, sampling_rate,
         exporter, observation_domain, src_country, dst_country, src_asn, dst_asn, src_watch,
         dst_watch, tunnel, tunnel_id, outer_ip_version,
         (outer_src_ip_hi::UHUGEINT << 64) | outer_src_ip_lo::UHUGEINT AS outer_src_ip,
         (outer_dst_ip_hi::UHUGEINT << 64) | outer_dst_ip_lo::UHUGEINT AS outer_dst_ip
  FROM flow_table;

-- Flows of live sources (the collector): one Parquet file per commit interval in `<db>.segments/`
-- (src_ip/dst_ip as two UBIGINT halves), registered here in the transaction that counts them.
CREATE TABLE IF NOT EXISTS flow_segments (
  file VARCHAR PRIMARY KEY,
  source_id INTEGER NOT NULL,
  rows BIGINT NOT NULL,
  bytes BIGINT NOT NULL,
  min_id BIGINT NOT NULL,
  max_id BIGINT NOT NULL,
  first_ms BIGINT NOT NULL,
  last_ms BIGINT NOT NULL,
  -- Where the file's row groups lie (JSON, parquet/writer.ts ParquetLayout): lets the store
  -- concatenate segments without decoding them.
  layout VARCHAR
);

-- Every flow: the table, and (replaced by the store when there are any) the segment files.
CREATE OR REPLACE VIEW flow_rows AS SELECT * FROM flow_table_rows;

-- Address text from the 128-bit form, as coinradar prints it elsewhere: dotted IPv4, the
-- IPv4-mapped form ::ffff:a.b.c.d, and RFC 5952 IPv6 (lower-case hex, the longest run of two or
-- more zero groups, the first on a tie, written as ::).
CREATE OR REPLACE MACRO ip4_text(v) AS
  concat_ws('.', ((v >> 24) & 255)::INTEGER, ((v >> 16) & 255)::INTEGER, ((v >> 8) & 255)::INTEGER,
            (v & 255)::INTEGER);
CREATE OR REPLACE MACRO ip6_groups(v) AS
  ':' || array_to_string([format('{:x}', ((v >> (112 - 16 * i)::UTINYINT) & 65535)::INTEGER)
                          FOR i IN range(8)], ':') || ':';
CREATE OR REPLACE MACRO ip6_trim(r) AS
  CASE WHEN starts_with(r, '::') THEN r ELSE substr(r, 2) END;
CREATE OR REPLACE MACRO ip6_finish(r) AS
  CASE WHEN ends_with(ip6_trim(r), '::') THEN ip6_trim(r)
       ELSE substr(ip6_trim(r), 1, length(ip6_trim(r)) - 1) END;
CREATE OR REPLACE MACRO ip6_compress(s) AS ip6_finish(
  CASE WHEN contains(s, ':0:0:0:0:0:0:0:0:') THEN '::'
       WHEN contains(s, ':0:0:0:0:0:0:0:') THEN regexp_replace(s, ':0:0:0:0:0:0:0:', '::')
       WHEN contains(s, ':0:0:0:0:0:0:') THEN regexp_replace(s, ':0:0:0:0:0:0:', '::')
       WHEN contains(s, ':0:0:0:0:0:') THEN regexp_replace(s, ':0:0:0:0:0:', '::')
       WHEN contains(s, ':0:0:0:0:') THEN regexp_replace(s, ':0:0:0:0:', '::')
       WHEN contains(s, ':0:0:0:') THEN regexp_replace(s, ':0:0:0:', '::')
       WHEN contains(s, ':0:0:') THEN regexp_replace(s, ':0:0:', '::')
       ELSE s END);
-- Lists passed as one text parameter, comma-separated ('' = empty): addresses as decimal UHUGEINTs,
-- ports as integers. (An empty list value bound from the client has no item type.)
CREATE OR REPLACE MACRO ip_list(s) AS
  list_transform(list_filter(string_split(s, ','), x -> x <> ''), x -> x::UHUGEINT);
CREATE OR REPLACE MACRO int_list(s) AS
  list_transform(list_filter(string_split(s, ','), x -> x <> ''), x -> x::INTEGER);
CREATE OR REPLACE MACRO ip_text(v, ver) AS
  CASE WHEN ver = 4 THEN ip4_text(v)
       WHEN (v >> 32) = 65535 THEN '::ffff:' || ip4_text(v)
       ELSE ip6_compress(ip6_groups(v)) END;

-- Payload samples of flows assembled from packets: the first bytes of each direction, and when
-- their segments arrived (fwd_times, rev_times: packed 12-byte entries, u32 little-endian offset in
-- the sample then f64 little-endian capture time in ms since the epoch; docs/data-model.md).
CREATE TABLE IF NOT EXISTS flow_payloads (
  flow_id BIGINT NOT NULL,
  fwd BLOB,
  rev BLOB,
  fwd_times BLOB,
  rev_times BLOB
);
-- Stores written before segment times: their payloads keep NULL times.
ALTER TABLE flow_payloads ADD COLUMN IF NOT EXISTS fwd_times BLOB;
ALTER TABLE flow_payloads ADD COLUMN IF NOT EXISTS rev_times BLOB;

CREATE TABLE IF NOT EXISTS as_orgs (
  asn UINTEGER PRIMARY KEY,
  org VARCHAR NOT NULL
);

-- Every flow with its addresses as text (src, dst) beside their integer form (src_ip, dst_ip), and
-- its times as TIMESTAMPs (first_ts, last_ts, UTC) beside the milliseconds.
CREATE OR REPLACE VIEW flows AS
  SELECT id, source_id, position, first_ms, last_ms, ip_version,
         ip_text(src_ip, ip_version) AS src, ip_text(dst_ip, ip_version) AS dst,
         src_port, dst_port, proto, packets, bytes, rev_packets, rev_bytes, tcp_flags, sampling_rate,
         exporter, observation_domain, src_country, dst_country, src_asn, dst_asn, src_watch,
         dst_watch, src_ip, dst_ip, tunnel, tunnel_id, outer_ip_version, outer_src_ip, outer_dst_ip,
         epoch_ms(first_ms) AS first_ts, epoch_ms(last_ms) AS last_ts
  FROM flow_rows;

CREATE OR REPLACE VIEW flows_v AS
  SELECT f.*, s.name AS source
  FROM flows f JOIN sources s ON s.id = f.source_id;
