-- The case workflow, deadlines and supervision (督办), departments, duplicate merge.
--
-- event.priority: red / yellow / blue deadline tier (default from severity: critical -> red,
--   high -> yellow, medium/low -> blue); deadline_policy gives the hours to resolve per
--   category and tier, due_at = dispatched_at + those hours.
-- event.owner_level: the grid level whose commander currently owns the case (3 = township by
--   default; escalation moves it one level up, to 2 = county, then 1 = prefecture).
-- event.supervised_at / supervision_reason / supervised_by: the case is under supervision
--   (automatically when overdue, or flagged by a supervisor); escalated_at: the last escalation.
-- event.department_id: dispatched to a department unit instead of (or beside) a grid worker.
-- event.merged_into_id: a duplicate merged into the original (closed with the link).
-- event.acknowledged_at: the assignee accepted the task on the phone (接单).
ALTER TABLE event ADD COLUMN priority VARCHAR(8);
UPDATE event SET priority = CASE severity WHEN 'critical' THEN 'red' WHEN 'high' THEN 'yellow' ELSE 'blue' END;
ALTER TABLE event ALTER COLUMN priority SET NOT NULL;
-- A new event without a tier gets its severity's (one pipeline: phone, PC, seed, importers).
CREATE FUNCTION gridcmd_event_priority() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.priority IS NULL THEN
		NEW.priority := CASE NEW.severity WHEN 'critical' THEN 'red' WHEN 'high' THEN 'yellow' ELSE 'blue' END;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER event_priority BEFORE INSERT ON event
	FOR EACH ROW EXECUTE FUNCTION gridcmd_event_priority();
ALTER TABLE event ADD CONSTRAINT ck_event_priority CHECK (priority IN ('red', 'yellow', 'blue'));
ALTER TABLE event ADD COLUMN owner_level SMALLINT NOT NULL DEFAULT 3;
ALTER TABLE event ADD CONSTRAINT ck_event_owner_level CHECK (owner_level BETWEEN 1 AND 6);
ALTER TABLE event ADD COLUMN supervised_at TIMESTAMP WITH TIME ZONE;
ALTER TABLE event ADD COLUMN supervision_reason VARCHAR(16);
ALTER TABLE event ADD CONSTRAINT ck_event_supervision_reason
	CHECK (supervision_reason IS NULL OR supervision_reason IN ('overdue', 'manual'));
ALTER TABLE event ADD COLUMN supervised_by BIGINT REFERENCES account (id);
ALTER TABLE event ADD COLUMN escalated_at TIMESTAMP WITH TIME ZONE;
ALTER TABLE event ADD COLUMN acknowledged_at TIMESTAMP WITH TIME ZONE;
ALTER TABLE event ADD COLUMN merged_into_id BIGINT REFERENCES event (id);
ALTER TABLE event ADD CONSTRAINT ck_event_not_merged_into_self CHECK (merged_into_id IS NULL OR merged_into_id <> id);
-- The supervision job's two scans (geodata/supervision.py): dispatched cases not yet
-- supervised, by due time, and supervised ones. A new report (no due time, not supervised)
-- enters neither index, so they cost event ingest nothing.
CREATE INDEX ix_event_due_unsupervised ON event (due_at)
	WHERE supervised_at IS NULL AND due_at IS NOT NULL;
CREATE INDEX ix_event_supervised ON event (supervised_at) WHERE supervised_at IS NOT NULL;
CREATE INDEX ix_event_merged_into ON event (merged_into_id) WHERE merged_into_id IS NOT NULL;

-- Hours to resolve per category and priority tier (an admin may edit the rows; the workflow
-- falls back to red 2 h / yellow 24 h / blue 72 h for a missing row).
CREATE TABLE deadline_policy (
	category VARCHAR(32) NOT NULL,
	priority VARCHAR(8) NOT NULL,
	resolve_hours DOUBLE PRECISION NOT NULL,
	PRIMARY KEY (category, priority),
	CONSTRAINT ck_deadline_policy_priority CHECK (priority IN ('red', 'yellow', 'blue')),
	CONSTRAINT ck_deadline_policy_hours CHECK (resolve_hours > 0 AND resolve_hours <= 8760)
);
INSERT INTO deadline_policy (category, priority, resolve_hours)
SELECT c, p, CASE
		WHEN c = 'forest_fire' AND p = 'red' THEN 1
		WHEN c = 'forest_fire' AND p = 'yellow' THEN 12
		WHEN c = 'forest_fire' AND p = 'blue' THEN 24
		WHEN p = 'red' THEN 2 WHEN p = 'yellow' THEN 24 ELSE 72 END
FROM unnest(ARRAY['dispute', 'social_risk', 'public_security', 'party_building', 'rural_revitalisation',
	'civilised_city', 'ethnic_religious', 'epidemic_prevention', 'environment', 'forest_fire',
	'livelihood']) AS c,
	unnest(ARRAY['red', 'yellow', 'blue']) AS p;

-- Department units plugged into the grid (police stations, courts, procuratorates, judicial
-- offices, petition offices): a location, a service area, the categories they take.
CREATE TABLE department (
	id BIGSERIAL NOT NULL,
	code VARCHAR(32) NOT NULL,
	name TEXT NOT NULL,
	kind VARCHAR(16) NOT NULL,
	cell_id BIGINT NOT NULL REFERENCES grid_cell (id),
	location geometry(POINT, 4326) NOT NULL,
	service_area geometry(MULTIPOLYGON, 4326) NOT NULL,
	categories VARCHAR(32)[] NOT NULL,
	phone VARCHAR(32),
	active BOOLEAN NOT NULL DEFAULT true,
	synthetic BOOLEAN NOT NULL DEFAULT true,
	PRIMARY KEY (id),
	UNIQUE (code),
	CONSTRAINT ck_department_kind CHECK (kind IN ('police', 'court', 'procuratorate', 'judicial', 'petition'))
);
CREATE INDEX ix_department_service_area ON department USING gist (service_area);
CREATE INDEX ix_department_location ON department USING gist (location);
CREATE INDEX ix_department_cell ON department (cell_id);

ALTER TABLE event ADD COLUMN department_id BIGINT REFERENCES department (id);
CREATE INDEX ix_event_department ON event (department_id) WHERE department_id IS NOT NULL;

-- Department staff sign in with the 'department' role and work their unit's queue.
ALTER TABLE account ADD COLUMN department_id BIGINT REFERENCES department (id);
ALTER TABLE account DROP CONSTRAINT ck_account_role;
ALTER TABLE account ADD CONSTRAINT ck_account_role CHECK (role IN ('admin', 'commander', 'dispatcher', 'supervisor', 'auditor', 'grid_worker', 'department'));
ALTER TABLE account ADD CONSTRAINT ck_account_department CHECK ((role = 'department') = (department_id IS NOT NULL));
ALTER TABLE role_policy DROP CONSTRAINT ck_role_policy_role;
ALTER TABLE role_policy ADD CONSTRAINT ck_role_policy_role CHECK (role IN ('admin', 'commander', 'dispatcher', 'supervisor', 'auditor', 'grid_worker', 'department'));

-- Workers who follow an event they did not report (the reporter of a merged duplicate).
CREATE TABLE event_follower (
	event_id BIGINT NOT NULL REFERENCES event (id),
	worker_id BIGINT NOT NULL REFERENCES grid_worker (id) ON DELETE CASCADE,
	since TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
	via_event_id BIGINT REFERENCES event (id),
	PRIMARY KEY (event_id, worker_id)
);
CREATE INDEX ix_event_follower_worker ON event_follower (worker_id);
