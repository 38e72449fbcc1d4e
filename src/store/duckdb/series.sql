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
       count(DISTINCT src) AS sources
FROM flows
WHERE first_ms >= $2 AND first_ms < $3 /*SCOPE*/
GROUP BY 1
ORDER BY 1;
