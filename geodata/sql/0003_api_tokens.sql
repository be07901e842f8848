CREATE TABLE api_token (
	id BIGSERIAL NOT NULL,
	worker_id BIGINT NOT NULL,
	token_hash TEXT NOT NULL,
	label TEXT NOT NULL DEFAULT '',
	created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
	last_used_at TIMESTAMP WITH TIME ZONE,
	revoked_at TIMESTAMP WITH TIME ZONE,
	PRIMARY KEY (id),
	CONSTRAINT uq_api_token_hash UNIQUE (token_hash),
	FOREIGN KEY(worker_id) REFERENCES grid_worker (id) ON DELETE CASCADE
);
CREATE INDEX ix_api_token_worker ON api_token (worker_id);
ALTER TABLE event ADD COLUMN payload_hash TEXT;
ALTER TABLE event ADD COLUMN original_lon DOUBLE PRECISION;
ALTER TABLE event ADD COLUMN original_lat DOUBLE PRECISION;
ALTER TABLE event ADD COLUMN original_crs VARCHAR(8);
ALTER TABLE event ADD CONSTRAINT ck_event_original_crs
	CHECK (original_crs IS NULL OR original_crs IN ('wgs84', 'gcj02', 'bd09'));
