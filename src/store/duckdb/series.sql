-- Count series over the flow store, one row per time bucket. Counters are as exported; the *_est
-- columns undo 1:N packet sampling (each sampled packet stands for N). The scope conditions are
-- put in place of the WHERE marker as a parameterised AND-list by series.ts. $1 is the bucket
-- width in ms, $2/$3 the time range (first_ms).
SELECT (first_ms // $1) * $1 AS bucket_ms,
       count(*) AS flows,
       sum(sampling_rate) AS flows_est,
       sum(packets + rev_packets) AS packets,
       sum((packets + rev_packets) * sampling_rate) AS packets_est,
       sum((bytes + rev_bytes) * sampling_rate) AS bytes_est,
       count(DISTINCT src_ip) AS sources
FROM flows
WHERE first_ms >= $2 AND first_ms < $3 /*SCOPE*/
GROUP BY 1
ORDER BY 1;

-- name: top_hosts
-- Hosts of the scope talking to the given server ports or addresses: $1 ports (int_list), $2 address
-- list (ip_list: comma-separated 128-bit integers, see flows.sql), $3 limit. The scope conditions replace the marker as above.
SELECT ip_text(src_ip, ip_version) AS host, count(*) AS flows, sum((packets + rev_packets) * sampling_rate) AS packets_est,
       sum((bytes + rev_bytes) * sampling_rate) AS bytes_est, min(first_ms) AS first_ms, max(last_ms) AS last_ms,
       list(DISTINCT dst_port ORDER BY dst_port) AS ports
FROM flows
WHERE (list_contains(int_list($1), dst_port) OR list_contains(ip_list($2), dst_ip)) /*SCOPE*/
GROUP BY src_ip, ip_version ORDER BY flows DESC, host LIMIT $3;

-- name: endpoints
-- Server endpoints among the given addresses that hosts of the scope reached: $1 address list.
SELECT ip_text(dst_ip, ip_version) AS dst, dst_port, count(DISTINCT src_ip) AS hosts, count(*) AS flows,
       min(first_ms) AS first_ms
FROM flows
WHERE list_contains(ip_list($1), dst_ip) /*SCOPE*/
GROUP BY dst_ip, ip_version, dst_port ORDER BY flows DESC, dst, dst_port;

-- name: host_stratum
-- Client-side counters of one host's connections to the given addresses: $1 host, $2 address list.
SELECT ip_text(dst_ip, ip_version) AS dst, dst_port, sum(packets * sampling_rate) AS packets_est, sum(bytes * sampling_rate) AS bytes_est,
       sum(last_ms - first_ms) / 1000.0 AS active_s, min(first_ms) AS first_ms, max(last_ms) AS last_ms, count(*) AS flows
FROM flows
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
