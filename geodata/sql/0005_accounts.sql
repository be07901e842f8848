-- Accounts and sessions, the security log, the residents register, the roster
-- (assignment history, training).
ALTER TABLE account ADD COLUMN worker_id BIGINT REFERENCES grid_worker (id) ON DELETE SET NULL;
ALTER TABLE account ADD COLUMN totp_secret TEXT;
ALTER TABLE account ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE account ADD COLUMN locked_until TIMESTAMP WITH TIME ZONE;
ALTER TABLE account ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE account ADD COLUMN password_changed_at TIMESTAMP WITH TIME ZONE;
ALTER TABLE account ADD COLUMN can_unmask BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE account ADD COLUMN synthetic BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE account ADD CONSTRAINT ck_account_failed CHECK (failed_logins >= 0);
CREATE INDEX ix_account_jurisdiction ON account (jurisdiction_cell_id);
-- Per-role policy an admin sets: require a second factor (TOTP) for the role.
CREATE TABLE role_policy (
	role VARCHAR(16) NOT NULL,
	totp_required BOOLEAN NOT NULL DEFAULT false,
	updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
	PRIMARY KEY (role),
	CONSTRAINT ck_role_policy_role CHECK (role IN ('admin', 'commander', 'dispatcher', 'supervisor', 'auditor', 'grid_worker'))
);
-- Server-side sessions: the cookie carries a random token; only its sha256 is stored.
CREATE TABLE auth_session (
	id BIGSERIAL NOT NULL,
	token_hash TEXT NOT NULL,
	account_id BIGINT NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
	last_seen_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
	expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
	second_factor_ok BOOLEAN NOT NULL DEFAULT false,
	revoked_at TIMESTAMP WITH TIME ZONE,
	ip TEXT,
	user_agent TEXT,
	PRIMARY KEY (id),
	CONSTRAINT uq_auth_session_token UNIQUE (token_hash),
	FOREIGN KEY(account_id) REFERENCES account (id) ON DELETE CASCADE
);
CREATE INDEX ix_auth_session_account ON auth_session (account_id);
-- Append-only security log: logins, failures, lockouts, denials, exports, unmasking.
CREATE TABLE security_log (
	id BIGSERIAL NOT NULL,
	at TIMESTAMP WITH TIME ZONE DEFAULT clock_timestamp() NOT NULL,
	kind VARCHAR(24) NOT NULL,
	account_id BIGINT,
	username TEXT,
	ip TEXT,
	target TEXT,
	detail TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (id),
	CONSTRAINT ck_security_log_kind CHECK (kind IN ('login', 'login_failed', 'lockout', 'logout', 'session_expired', 'denied', 'export', 'unmask', 'password_change', 'account_change', 'second_factor', 'roster_change')),
	FOREIGN KEY(account_id) REFERENCES account (id) ON DELETE SET NULL
);
CREATE INDEX ix_security_log_at ON security_log (at);
CREATE INDEX ix_security_log_account ON security_log (account_id, at);
CREATE FUNCTION gridcmd_security_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'security_log is append-only (% refused)', TG_OP;
END $$;
CREATE TRIGGER security_log_append_only BEFORE UPDATE OR DELETE ON security_log
	FOR EACH ROW EXECUTE FUNCTION gridcmd_security_log_append_only();
-- Residents register (人口信息; synthetic in the demo). Personal data: masked before it leaves.
CREATE TABLE resident (
	id BIGSERIAL NOT NULL,
	name TEXT NOT NULL,
	id_number VARCHAR(18) NOT NULL,
	phone VARCHAR(20) NOT NULL,
	gender VARCHAR(1) NOT NULL,
	birth_date DATE NOT NULL,
	household_no VARCHAR(32) NOT NULL,
	address TEXT NOT NULL DEFAULT '',
	cell_id BIGINT NOT NULL,
	location geometry(POINT,4326),
	synthetic BOOLEAN NOT NULL DEFAULT true,
	PRIMARY KEY (id),
	CONSTRAINT uq_resident_id_number UNIQUE (id_number),
	CONSTRAINT ck_resident_gender CHECK (gender IN ('M', 'F')),
	FOREIGN KEY(cell_id) REFERENCES grid_cell (id)
);
CREATE INDEX ix_resident_cell ON resident (cell_id);
CREATE INDEX ix_resident_name ON resident (name text_pattern_ops);
CREATE INDEX ix_resident_phone ON resident (phone);
CREATE INDEX ix_resident_household ON resident (household_no);
CREATE INDEX ix_resident_location ON resident USING gist (location);
-- Roster: every assignment of a worker to a cell, with who changed it (history kept).
CREATE TABLE worker_assignment (
	id BIGSERIAL NOT NULL,
	worker_id BIGINT NOT NULL,
	cell_id BIGINT NOT NULL,
	started_at TIMESTAMP WITH TIME ZONE NOT NULL,
	ended_at TIMESTAMP WITH TIME ZONE,
	changed_by BIGINT,
	note TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (id),
	CONSTRAINT ck_worker_assignment_times CHECK (ended_at IS NULL OR ended_at >= started_at),
	FOREIGN KEY(worker_id) REFERENCES grid_worker (id) ON DELETE CASCADE,
	FOREIGN KEY(cell_id) REFERENCES grid_cell (id),
	FOREIGN KEY(changed_by) REFERENCES account (id) ON DELETE SET NULL
);
CREATE INDEX ix_worker_assignment_worker ON worker_assignment (worker_id, started_at);
CREATE UNIQUE INDEX uq_worker_assignment_open ON worker_assignment (worker_id) WHERE ended_at IS NULL;
-- Training sessions attended by grid workers.
CREATE TABLE worker_training (
	id BIGSERIAL NOT NULL,
	worker_id BIGINT NOT NULL,
	held_on DATE NOT NULL,
	title TEXT NOT NULL,
	hours FLOAT NOT NULL,
	recorded_by BIGINT,
	recorded_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT ck_worker_training_hours CHECK (hours > 0 AND hours <= 24),
	FOREIGN KEY(worker_id) REFERENCES grid_worker (id) ON DELETE CASCADE,
	FOREIGN KEY(recorded_by) REFERENCES account (id) ON DELETE SET NULL
);
CREATE INDEX ix_worker_training_worker ON worker_training (worker_id, held_on)
