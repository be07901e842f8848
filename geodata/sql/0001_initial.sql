CREATE TABLE grid_cell (
	id BIGSERIAL NOT NULL, 
	code VARCHAR(24) NOT NULL, 
	level SMALLINT NOT NULL, 
	name TEXT NOT NULL, 
	parent_id BIGINT, 
	path LTREE NOT NULL, 
	geom geometry(MULTIPOLYGON,4326) NOT NULL, 
	label_point geometry(POINT,4326), 
	area_km2 FLOAT NOT NULL, 
	population INTEGER NOT NULL, 
	households INTEGER NOT NULL, 
	synthetic BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT ck_grid_cell_level CHECK (level BETWEEN 1 AND 6), 
	CONSTRAINT ck_grid_cell_parent CHECK ((level = 1) = (parent_id IS NULL)), 
	CONSTRAINT ck_grid_cell_path_depth CHECK (nlevel(path) = level), 
	UNIQUE (code), 
	FOREIGN KEY(parent_id) REFERENCES grid_cell (id) ON DELETE RESTRICT
);

CREATE INDEX ix_grid_cell_code_prefix ON grid_cell (code text_pattern_ops);

CREATE INDEX ix_grid_cell_geom ON grid_cell USING gist (geom);

CREATE INDEX ix_grid_cell_level ON grid_cell (level);

CREATE INDEX ix_grid_cell_parent ON grid_cell (parent_id);

CREATE INDEX ix_grid_cell_path ON grid_cell USING gist (path);

CREATE TABLE account (
	id BIGSERIAL NOT NULL, 
	username VARCHAR(64) NOT NULL, 
	display_name TEXT NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	jurisdiction_cell_id BIGINT NOT NULL, 
	password_hash TEXT, 
	active BOOLEAN NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT ck_account_role CHECK (role IN ('admin', 'commander', 'dispatcher', 'supervisor', 'auditor', 'grid_worker')), 
	UNIQUE (username), 
	FOREIGN KEY(jurisdiction_cell_id) REFERENCES grid_cell (id)
);

CREATE TABLE grid_worker (
	id BIGSERIAL NOT NULL, 
	employee_no VARCHAR(32) NOT NULL, 
	name TEXT NOT NULL, 
	phone VARCHAR(32) NOT NULL, 
	cell_id BIGINT NOT NULL, 
	duty_status VARCHAR(16) NOT NULL, 
	position geometry(POINT,4326), 
	last_fix_at TIMESTAMP WITH TIME ZONE, 
	active BOOLEAN NOT NULL, 
	synthetic BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT ck_grid_worker_duty CHECK (duty_status IN ('on_duty', 'off_duty', 'on_leave')), 
	UNIQUE (employee_no), 
	FOREIGN KEY(cell_id) REFERENCES grid_cell (id)
);

CREATE INDEX ix_grid_worker_cell ON grid_worker (cell_id);

CREATE INDEX ix_grid_worker_position ON grid_worker USING gist (position);

CREATE TABLE event (
	id BIGSERIAL NOT NULL, 
	uuid UUID NOT NULL, 
	category VARCHAR(32) NOT NULL, 
	subcategory VARCHAR(64), 
	severity VARCHAR(16) NOT NULL, 
	difficulty VARCHAR(16), 
	title TEXT NOT NULL, 
	description TEXT NOT NULL, 
	location geometry(POINT,4326) NOT NULL, 
	cell_id BIGINT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	reporter_id BIGINT, 
	assignee_id BIGINT, 
	reported_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	accepted_at TIMESTAMP WITH TIME ZONE, 
	dispatched_at TIMESTAMP WITH TIME ZONE, 
	started_at TIMESTAMP WITH TIME ZONE, 
	resolved_at TIMESTAMP WITH TIME ZONE, 
	verified_at TIMESTAMP WITH TIME ZONE, 
	closed_at TIMESTAMP WITH TIME ZONE, 
	rejected_at TIMESTAMP WITH TIME ZONE, 
	due_at TIMESTAMP WITH TIME ZONE, 
	version INTEGER NOT NULL, 
	synthetic BOOLEAN NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT ck_event_category CHECK (category IN ('dispute', 'social_risk', 'public_security', 'party_building', 'rural_revitalisation', 'civilised_city', 'ethnic_religious', 'epidemic_prevention', 'environment', 'forest_fire', 'livelihood')), 
	CONSTRAINT ck_event_severity CHECK (severity IN ('low', 'medium', 'high', 'critical')), 
	CONSTRAINT ck_event_status CHECK (status IN ('reported', 'accepted', 'dispatched', 'in_progress', 'resolved', 'verified', 'closed', 'rejected', 'returned', 'escalated')), 
	CONSTRAINT ck_event_difficulty CHECK (difficulty IS NULL OR (category = 'dispute' AND difficulty IN ('simple', 'ordinary', 'difficult'))), 
	CONSTRAINT ck_event_version CHECK (version >= 1), 
	UNIQUE (uuid), 
	FOREIGN KEY(cell_id) REFERENCES grid_cell (id), 
	FOREIGN KEY(reporter_id) REFERENCES grid_worker (id), 
	FOREIGN KEY(assignee_id) REFERENCES grid_worker (id)
);

CREATE INDEX ix_event_assignee ON event (assignee_id);

CREATE INDEX ix_event_cell ON event (cell_id);

CREATE INDEX ix_event_location ON event USING gist (location);

CREATE INDEX ix_event_reported_at ON event (reported_at);

CREATE INDEX ix_event_status ON event (status);

CREATE TABLE worker_position (
	id BIGSERIAL NOT NULL, 
	worker_id BIGINT NOT NULL, 
	fix_time TIMESTAMP WITH TIME ZONE NOT NULL, 
	geom geometry(POINT,4326) NOT NULL, 
	accuracy_m FLOAT, 
	source VARCHAR(16) NOT NULL, 
	received_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_worker_position_fix UNIQUE (worker_id, fix_time), 
	CONSTRAINT ck_worker_position_source CHECK (source IN ('gps', 'network', 'manual', 'simulated')), 
	CONSTRAINT ck_worker_position_acc CHECK (accuracy_m IS NULL OR accuracy_m >= 0), 
	FOREIGN KEY(worker_id) REFERENCES grid_worker (id) ON DELETE CASCADE
);

CREATE INDEX ix_worker_position_time ON worker_position (fix_time);

CREATE TABLE event_action (
	id BIGSERIAL NOT NULL, 
	event_id BIGINT NOT NULL, 
	actor_type VARCHAR(16) NOT NULL, 
	actor_id BIGINT, 
	at TIMESTAMP WITH TIME ZONE NOT NULL, 
	from_status VARCHAR(16), 
	to_status VARCHAR(16) NOT NULL, 
	note TEXT NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT ck_event_action_actor CHECK (actor_type IN ('worker', 'account', 'system')), 
	FOREIGN KEY(event_id) REFERENCES event (id)
);

CREATE INDEX ix_event_action_event ON event_action (event_id, at);

CREATE INDEX ix_grid_cell_geom_l6 ON grid_cell USING gist (geom) WHERE level = 6;
