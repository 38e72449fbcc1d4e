-- Detections of flows (detect/) and the artifacts they carry. Evidence and artifacts are JSON text.
CREATE TABLE IF NOT EXISTS detections (
  flow_id BIGINT NOT NULL,
  label VARCHAR NOT NULL,
  coin VARCHAR NOT NULL,
  confidence VARCHAR NOT NULL,
  confidence_rank UTINYINT NOT NULL,
  evidence VARCHAR NOT NULL,
  artifacts VARCHAR NOT NULL,
  list_version VARCHAR NOT NULL,
  detector_version VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS artifacts (
  flow_id BIGINT NOT NULL,
  kind VARCHAR NOT NULL,
  value VARCHAR NOT NULL,
  label VARCHAR NOT NULL,
  coin VARCHAR NOT NULL,
  confidence VARCHAR NOT NULL
);
