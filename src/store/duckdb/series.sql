-- Count series over the flow store, one row per time bucket, in one scan of the time range: the
-- scope's counters are FILTERed aggregates, so every bucket the store has any flow in comes back
-- (observed) with the scope's counts beside it. Counters are as exported; the *_est columns undo
-- 1:N packet sampling (each sampled packet stands for N). Markers replaced by series.ts: COND is
-- the scope's condition (TRUE for all flows); SOURCES is the count of the scope's hosts — the end
-- of each flow inside the scope (as in hosts.sql) — or NULL when not asked for (a DISTINCT per
-- bucket is the dearest part). FLOWS is the table (flow_rows) or, when an analyst's --where may
-- name the text columns, the `flows` view, which costs several times the table to scan. $1 is the
-- bucket width in ms, $2/$3 the time range (first_ms).
SELECT bucket_ms,
       count(*) FILTER (WHERE m) AS flows,
       coalesce(sum(sampling_rate) FILTER (WHERE m), 0) AS flows_est,
       coalesce(sum(packets + rev_packets) FILTER (WHERE m), 0) AS packets,
       coalesce(sum((packets + rev_packets) * sampling_rate) FILTER (WHERE m), 0) AS packets_est,
       coalesce(sum((bytes + rev_bytes) * sampling_rate) FILTER (WHERE m), 0) AS bytes_est,
       /*SOURCES*/ AS sources
FROM (SELECT (first_ms // $1) * $1 AS bucket_ms, (/*COND*/) AS m, sampling_rate, packets, rev_packets,
             bytes, rev_bytes /*HOST*/
      FROM /*FLOWS*/
      WHERE first_ms >= $2 AND first_ms < $3)
GROUP BY 1
ORDER BY 1;

-- name: top_hosts
-- Hosts of the scope whose flows use the given ports or addresses: $1 ports (int_list), $2 address
-- list (ip_list: comma-separated 128-bit integers, see flows.sql), $3 limit. The host is the end
-- inside the scope (SIDE: true when that is the source, as in hosts.sql); a flow counts when either
-- port is one of $1 or either address one of $2, as `coinradar hosts` counts by port. The scope
-- conditions replace the SCOPE marker as above.
SELECT ip_text(host_ip, ip_version) AS host, count(*) AS flows, sum((packets + rev_packets) * sampling_rate) AS packets_est,
       sum((bytes + rev_bytes) * sampling_rate) AS bytes_est, min(first_ms) AS first_ms, max(last_ms) AS last_ms,
       list(DISTINCT service_port ORDER BY service_port) AS ports
FROM (
  SELECT CASE WHEN (/*SIDE*/) THEN src_ip ELSE dst_ip END AS host_ip, ip_version, packets, rev_packets,
         bytes, rev_bytes, sampling_rate, first_ms, last_ms,
         CASE WHEN list_contains(int_list($1), dst_port) THEN dst_port
              WHEN list_contains(int_list($1), src_port) THEN src_port
              WHEN (/*SIDE*/) THEN dst_port ELSE src_port END AS service_port
  FROM /*FLOWS*/
  WHERE (list_contains(int_list($1), dst_port) OR list_contains(int_list($1), src_port)
         OR list_contains(ip_list($2), dst_ip) OR list_contains(ip_list($2), src_ip)) /*SCOPE*/
)
GROUP BY host_ip, ip_version ORDER BY flows DESC, host LIMIT $3;

-- name: endpoints
-- Server endpoints among the given addresses that hosts of the scope reached as clients: $1 address
-- list; SIDE (the source is the scope's host) as above.
SELECT ip_text(dst_ip, ip_version) AS dst, dst_port, count(DISTINCT src_ip) AS hosts, count(*) AS flows,
       min(first_ms) AS first_ms, max(last_ms) AS last_ms
FROM /*FLOWS*/
WHERE list_contains(ip_list($1), dst_ip) AND (/*SIDE*/) /*SCOPE*/
GROUP BY dst_ip, ip_version, dst_port ORDER BY flows DESC, dst, dst_port;

-- name: host_stratum
-- Client-side counters of one host's connections to the given addresses: $1 host, $2 address list.
SELECT ip_text(dst_ip, ip_version) AS dst, dst_port, sum(packets * sampling_rate) AS packets_est, sum(bytes * sampling_rate) AS bytes_est,
       sum(last_ms - first_ms) / 1000.0 AS active_s, min(first_ms) AS first_ms, max(last_ms) AS last_ms, count(*) AS flows
FROM /*FLOWS*/
WHERE src_ip = $1::UHUGEINT AND list_contains(ip_list($2), dst_ip)
GROUP BY dst_ip, ip_version, dst_port ORDER BY flows DESC, dst, dst_port;

-- name: stratum_payloads
-- Payload samples that look like Stratum logins, jobs or (CryptoNote) shares, with their segment
-- times, from the scope: $1 limit. A BLOB cast to VARCHAR writes '"' as \x22, so the quoted method
-- names are matched in that form.
SELECT f.id, f.src, f.src_port, f.dst, f.dst_port, f.first_ms, f.last_ms, p.fwd, p.rev, p.fwd_times,
       p.rev_times
FROM flows f JOIN flow_payloads p ON p.flow_id = f.id
WHERE (contains(CAST(p.fwd AS VARCHAR), 'mining.') OR contains(CAST(p.fwd AS VARCHAR), '\x22login\x22')
       OR contains(CAST(p.fwd AS VARCHAR), '\x22submit\x22')) /*SCOPE*/
ORDER BY f.first_ms LIMIT $1;
