-- Field records (photos, check-ins, patrols, household visits), cameras, gateway
-- tokens, and the live change log that fans changes out to every app process.
CREATE TABLE event_photo (
	id BIGSERIAL NOT NULL,
	event_id BIGINT NOT NULL,
	sha256 CHAR(64) NOT NULL,
	content_type VARCHAR(32) NOT NULL,
	n_bytes INTEGER NOT NULL,
	width INTEGER,
	height INTEGER,
	storage_key TEXT NOT NULL,
	uploaded_by BIGINT,
	uploaded_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_event_photo UNIQUE (event_id, sha256),
	CONSTRAINT ck_event_photo_type CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
	CONSTRAINT ck_event_photo_bytes CHECK (n_bytes > 0),
	FOREIGN KEY(event_id) REFERENCES event (id) ON DELETE CASCADE,
	FOREIGN KEY(uploaded_by) REFERENCES grid_worker (id) ON DELETE SET NULL
);
CREATE INDEX ix_event_photo_event ON event_photo (event_id);
CREATE TABLE checkin (
	id BIGSERIAL NOT NULL,
	uuid UUID NOT NULL,
	worker_id BIGINT NOT NULL,
	kind VARCHAR(8) NOT NULL,
	at TIMESTAMP WITH TIME ZONE NOT NULL,
	location geometry(POINT,4326) NOT NULL,
	accuracy_m FLOAT,
	cell_id BIGINT NOT NULL,
	distance_m FLOAT NOT NULL,
	tolerance_m FLOAT NOT NULL,
	inside BOOLEAN NOT NULL,
	payload_hash TEXT NOT NULL,
	original_lon DOUBLE PRECISION NOT NULL,
	original_lat DOUBLE PRECISION NOT NULL,
	original_crs VARCHAR(8) NOT NULL,
	received_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_checkin_uuid UNIQUE (uuid),
	CONSTRAINT ck_checkin_kind CHECK (kind IN ('in', 'out')),
	CONSTRAINT ck_checkin_distance CHECK (distance_m >= 0 AND tolerance_m >= 0),
	CONSTRAINT ck_checkin_crs CHECK (original_crs IN ('wgs84', 'gcj02', 'bd09')),
	FOREIGN KEY(worker_id) REFERENCES grid_worker (id) ON DELETE CASCADE,
	FOREIGN KEY(cell_id) REFERENCES grid_cell (id)
);
CREATE INDEX ix_checkin_worker_at ON checkin (worker_id, at);
CREATE TABLE patrol (
	id BIGSERIAL NOT NULL,
	uuid UUID NOT NULL,
	worker_id BIGINT NOT NULL,
	cell_id BIGINT NOT NULL,
	started_at TIMESTAMP WITH TIME ZONE NOT NULL,
	ended_at TIMESTAMP WITH TIME ZONE NOT NULL,
	track geometry(LINESTRING,4326) NOT NULL,
	length_m FLOAT NOT NULL,
	n_points INTEGER NOT NULL,
	note TEXT NOT NULL DEFAULT '',
	payload_hash TEXT NOT NULL,
	received_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_patrol_uuid UNIQUE (uuid),
	CONSTRAINT ck_patrol_times CHECK (ended_at >= started_at),
	CONSTRAINT ck_patrol_points CHECK (n_points >= 2 AND length_m >= 0),
	FOREIGN KEY(worker_id) REFERENCES grid_worker (id) ON DELETE CASCADE,
	FOREIGN KEY(cell_id) REFERENCES grid_cell (id)
);
CREATE INDEX ix_patrol_worker_started ON patrol (worker_id, started_at);
CREATE INDEX ix_patrol_track ON patrol USING gist (track);
CREATE TABLE visit (
	id BIGSERIAL NOT NULL,
	uuid UUID NOT NULL,
	worker_id BIGINT NOT NULL,
	cell_id BIGINT NOT NULL,
	visited_at TIMESTAMP WITH TIME ZONE NOT NULL,
	location geometry(POINT,4326),
	household TEXT NOT NULL,
	note TEXT NOT NULL,
	payload_hash TEXT NOT NULL,
	received_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_visit_uuid UNIQUE (uuid),
	FOREIGN KEY(worker_id) REFERENCES grid_worker (id) ON DELETE CASCADE,
	FOREIGN KEY(cell_id) REFERENCES grid_cell (id)
);
CREATE INDEX ix_visit_worker_at ON visit (worker_id, visited_at);
CREATE INDEX ix_visit_cell ON visit (cell_id);
CREATE TABLE camera (
	id BIGSERIAL NOT NULL,
	code VARCHAR(64) NOT NULL,
	name TEXT NOT NULL,
	location geometry(POINT,4326) NOT NULL,
	cell_id BIGINT NOT NULL,
	stream_url TEXT NOT NULL,
	stream_kind VARCHAR(8) NOT NULL,
	synthetic BOOLEAN NOT NULL DEFAULT false,
	imported_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_camera_code UNIQUE (code),
	CONSTRAINT ck_camera_kind CHECK (stream_kind IN ('hls', 'mp4', 'rtsp', 'web')),
	FOREIGN KEY(cell_id) REFERENCES grid_cell (id)
);
CREATE INDEX ix_camera_location ON camera USING gist (location);
CREATE INDEX ix_camera_cell ON camera (cell_id);
ALTER TABLE api_token ALTER COLUMN worker_id DROP NOT NULL;
ALTER TABLE api_token ADD COLUMN kind VARCHAR(8) NOT NULL DEFAULT 'worker';
ALTER TABLE api_token ADD COLUMN scope_cell_id BIGINT REFERENCES grid_cell (id);
ALTER TABLE api_token ADD CONSTRAINT ck_api_token_kind CHECK (
	(kind = 'worker' AND worker_id IS NOT NULL)
	OR (kind = 'gateway' AND worker_id IS NULL AND scope_cell_id IS NOT NULL));
CREATE INDEX ix_event_updated_at ON event (updated_at);
CREATE INDEX ix_grid_worker_last_fix ON grid_worker (last_fix_at);
-- The live change log: one row per changing *statement* (a batch of fixes is one row), written
-- in the writer's transaction by statement-level triggers, so every write path feeds it.
CREATE TABLE live_change (
	id BIGSERIAL NOT NULL,
	at TIMESTAMP WITH TIME ZONE DEFAULT clock_timestamp() NOT NULL,
	kind VARCHAR(8) NOT NULL,
	ids BIGINT[] NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT ck_live_change_kind CHECK (kind IN ('event', 'worker', 'camera'))
);
CREATE INDEX ix_live_change_at ON live_change (at);
CREATE FUNCTION gridcmd_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at := now();
	RETURN NEW;
END $$;
CREATE TRIGGER event_touch_updated_at BEFORE UPDATE ON event
	FOR EACH ROW EXECUTE FUNCTION gridcmd_touch_updated_at();
-- The advisory lock (held to COMMIT) makes live_change ids commit in id order, so a reader that
-- has seen id N has seen every committed row below N: the cursor never skips a late commit.
-- NOTIFY is one per statement (a batch), never per row.
CREATE FUNCTION gridcmd_live_log() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	changed BIGINT[];
	cid BIGINT;
BEGIN
	SELECT array_agg(id ORDER BY id) INTO changed FROM live_new_rows;
	IF changed IS NULL THEN
		RETURN NULL;
	END IF;
	PERFORM pg_advisory_xact_lock(7411, 4);
	INSERT INTO live_change (kind, ids) VALUES (TG_ARGV[0], changed) RETURNING id INTO cid;
	PERFORM pg_notify('gridcmd_live', cid::text);
	RETURN NULL;
END $$;
CREATE TRIGGER event_live_insert AFTER INSERT ON event
	REFERENCING NEW TABLE AS live_new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION gridcmd_live_log('event');
CREATE TRIGGER event_live_update AFTER UPDATE ON event
	REFERENCING NEW TABLE AS live_new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION gridcmd_live_log('event');
CREATE TRIGGER worker_live_insert AFTER INSERT ON grid_worker
	REFERENCING NEW TABLE AS live_new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION gridcmd_live_log('worker');
CREATE TRIGGER worker_live_update AFTER UPDATE ON grid_worker
	REFERENCING NEW TABLE AS live_new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION gridcmd_live_log('worker');
CREATE TRIGGER camera_live_insert AFTER INSERT ON camera
	REFERENCING NEW TABLE AS live_new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION gridcmd_live_log('camera');
CREATE TRIGGER camera_live_update AFTER UPDATE ON camera
	REFERENCING NEW TABLE AS live_new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION gridcmd_live_log('camera')
