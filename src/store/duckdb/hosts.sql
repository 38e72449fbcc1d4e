-- Host profiles: one row per internal host with crypto activity in the scope.
-- Markers (comments in capitals) replaced by hosts.ts: BY_PORT (see below); SIDE is true when the flow's source end is
-- the internal host (the end the scope names; the source when the scope names no end); SCOPE the
-- scope's AND-list; DETECTIONS and ARTIFACTS the detection tables (or typed empty stand-ins when
-- the store has none); LABELS an AND-condition on the detection label; STRONG and BY_DETECTION the
-- flow's detections (hosts.ts: constant conditions when the store has no detections).
-- Parameters: $1 server ports (int_list), $2 endpoint addresses (ip_list), $3 session gap in ms,
-- $4/$5 first_ms range, $6 row limit, $7 the least confidence rank a detection needs, $8 a host
-- list (ip_list, '' for all). A flow is
-- crypto activity when it carries such a detection or — when BY_PORT is true (least confidence
-- 'port') — either port is one of $1 or either address one of $2 (one-way NetFlow records of a
-- server's replies count too). Its service port is the one of $1 it uses, else the remote end's port (a pool's, a peer's).
WITH m AS (
  -- The crypto flows of the scope, each with its side worked out once.
  SELECT f.*, (/*SIDE*/) AS side,
         /*STRONG*/ AS strong
  FROM /*FLOWS*/ f
  WHERE f.first_ms >= $4 AND f.first_ms < $5
    AND ((/*BY_PORT*/ AND (list_contains(int_list($1), f.dst_port) OR list_contains(int_list($1), f.src_port)
                         OR ($2 <> '' AND (list_contains(ip_list($2), f.dst_ip) OR list_contains(ip_list($2), f.src_ip)))))
         OR /*BY_DETECTION*/) /*SCOPE*/
),
c AS (
  SELECT id, ip_version, first_ms, last_ms, strong,
         CASE WHEN list_contains(int_list($1), dst_port) THEN dst_port
              WHEN list_contains(int_list($1), src_port) THEN src_port
              WHEN side THEN dst_port ELSE src_port END AS service_port,
         CASE WHEN side THEN src_ip ELSE dst_ip END AS host_ip,
         CASE WHEN side THEN dst_ip ELSE src_ip END AS peer_ip,
         CASE WHEN side THEN src_country ELSE dst_country END AS country,
         CASE WHEN side THEN src_asn ELSE dst_asn END AS asn,
         (packets + rev_packets) * sampling_rate AS packets_est,
         (bytes + rev_bytes) * sampling_rate AS bytes_est
  FROM m
  -- $8: only these hosts (ip_list; '' = every host).
  WHERE $8 = '' OR list_contains(ip_list($8), CASE WHEN side THEN src_ip ELSE dst_ip END)
),
-- Sessions: a host's flows to one server endpoint, merged while each starts within the gap after
-- the latest end so far (NetFlow cuts long connections at its active timeout).
s AS (
  SELECT host_ip, first_ms,
         max(last_ms) OVER (PARTITION BY host_ip, peer_ip, service_port ORDER BY first_ms, id
                            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
  FROM c
),
sessions AS (
  SELECT host_ip, count(*) FILTER (WHERE prev_end IS NULL OR first_ms - prev_end > $3) AS sessions
  FROM s GROUP BY host_ip
),
-- Hours in which the host had a crypto flow open. (Strong: a flow with evidence better than its
-- port — behaviour, infrastructure or payload.)
hours AS (
  SELECT host_ip, count(DISTINCT h) AS hours
  FROM (SELECT host_ip, unnest(range(first_ms // 3600000, last_ms // 3600000 + 1)) AS h FROM c)
  GROUP BY host_ip
),
agg AS (
  SELECT host_ip, any_value(ip_version) AS ip_version, any_value(country) AS country,
         any_value(asn) AS asn, count(*) AS flows, sum(packets_est) AS packets_est,
         sum(bytes_est) AS bytes_est, min(first_ms) AS first_ms, max(last_ms) AS last_ms,
         min(first_ms) FILTER (WHERE strong) AS first_strong_ms,
         max(last_ms) FILTER (WHERE strong) AS last_strong_ms,
         list(DISTINCT service_port ORDER BY service_port) AS ports, count(DISTINCT peer_ip) AS peers
  FROM c GROUP BY host_ip
),
-- Labels and coins with the confidence that said so (a coin by its best confidence).
det AS (
  SELECT c.host_ip,
         list(DISTINCT d.label || '/' || d.confidence ORDER BY d.label || '/' || d.confidence) AS labels,
         max(d.confidence_rank) AS best_rank
  FROM c JOIN /*DETECTIONS*/ d ON d.flow_id = c.id
  GROUP BY c.host_ip
),
coins AS (
  SELECT host_ip, list(coin || '/' || confidence ORDER BY rank DESC, coin) AS coins
  FROM (SELECT c.host_ip, d.coin, max(d.confidence_rank) AS rank,
               arg_max(d.confidence, d.confidence_rank) AS confidence
        FROM c JOIN /*DETECTIONS*/ d ON d.flow_id = c.id
        WHERE d.coin <> ''
        GROUP BY c.host_ip, d.coin)
  GROUP BY host_ip
),
art AS (
  SELECT c.host_ip,
         list(DISTINCT a.value ORDER BY a.value) FILTER (WHERE a.kind = 'wallet') AS wallets,
         list(DISTINCT a.value ORDER BY a.value) FILTER (WHERE a.kind = 'worker') AS workers,
         list(DISTINCT a.value ORDER BY a.value) FILTER (WHERE a.kind = 'agent') AS agents,
         list(DISTINCT a.value ORDER BY a.value) FILTER (WHERE a.kind = 'pool') AS pools
  FROM c JOIN /*ARTIFACTS*/ a ON a.flow_id = c.id
  GROUP BY c.host_ip
)
SELECT ip_text(agg.host_ip, agg.ip_version) AS host, agg.country, agg.asn, agg.flows,
       sessions.sessions, hours.hours,
       hours.hours / (agg.last_ms // 3600000 - agg.first_ms // 3600000 + 1) AS duty_cycle,
       agg.packets_est, agg.bytes_est, agg.first_ms, agg.last_ms, agg.first_strong_ms,
       agg.last_strong_ms, agg.ports, agg.peers,
       coalesce(det.labels, []) AS labels, coalesce(coins.coins, []) AS coins,
       coalesce(art.wallets, []) AS wallets, coalesce(art.workers, []) AS workers,
       coalesce(art.agents, []) AS agents, coalesce(art.pools, []) AS pools
FROM agg
JOIN sessions USING (host_ip)
JOIN hours USING (host_ip)
LEFT JOIN det USING (host_ip)
LEFT JOIN coins USING (host_ip)
LEFT JOIN art USING (host_ip)
ORDER BY coalesce(det.best_rank, 0) DESC, agg.bytes_est DESC, host
LIMIT $6;
