-- Tamper-evident audit trail. Every event_action row carries row_hash, the sha256
-- (hex) of a canonical text of its content and of prev_hash, the row_hash of the row before it
-- (id order over the whole table; the first row's prev_hash is 64 zeros). geodata/audit.py
-- rebuilds the same canonical text in Python and walks the chain (`gridcmd audit verify`).
--
-- Canonical text (UTF-8; each field is '~' for NULL, else <octet length>:<value>, so no value
-- can forge a separator):
--   gridcmd.event_action.v1|id|event_id|actor_type|actor_id|at|from_status|to_status|note|prev_hash
-- with `at` in UTC as YYYY-MM-DDTHH:MI:SS.ffffffZ.
ALTER TABLE event_action ADD COLUMN prev_hash VARCHAR(64);
ALTER TABLE event_action ADD COLUMN row_hash VARCHAR(64);
CREATE FUNCTION gridcmd_audit_field(v TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN v IS NULL THEN '~' ELSE octet_length(convert_to(v, 'UTF8'))::text || ':' || v END
$$;
CREATE FUNCTION gridcmd_event_action_canonical(
	p_id BIGINT, p_event_id BIGINT, p_actor_type TEXT, p_actor_id BIGINT, p_at TIMESTAMPTZ,
	p_from_status TEXT, p_to_status TEXT, p_note TEXT, p_prev_hash TEXT
) RETURNS TEXT LANGUAGE sql STABLE AS $$
	SELECT 'gridcmd.event_action.v1'
		|| '|' || gridcmd_audit_field(p_id::text)
		|| '|' || gridcmd_audit_field(p_event_id::text)
		|| '|' || gridcmd_audit_field(p_actor_type)
		|| '|' || gridcmd_audit_field(p_actor_id::text)
		|| '|' || gridcmd_audit_field(to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
		|| '|' || gridcmd_audit_field(p_from_status)
		|| '|' || gridcmd_audit_field(p_to_status)
		|| '|' || gridcmd_audit_field(p_note)
		|| '|' || gridcmd_audit_field(p_prev_hash)
$$;
CREATE FUNCTION gridcmd_event_action_hash(
	p_id BIGINT, p_event_id BIGINT, p_actor_type TEXT, p_actor_id BIGINT, p_at TIMESTAMPTZ,
	p_from_status TEXT, p_to_status TEXT, p_note TEXT, p_prev_hash TEXT
) RETURNS TEXT LANGUAGE sql STABLE AS $$
	SELECT encode(sha256(convert_to(gridcmd_event_action_canonical(p_id, p_event_id, p_actor_type,
		p_actor_id, p_at, p_from_status, p_to_status, p_note, p_prev_hash), 'UTF8')), 'hex')
$$;
-- The chain link. The advisory lock (held to COMMIT) serialises writers of the history. A row's
-- id must be above the chain head's so that id order is chain order: when two transactions
-- insert at once, the one that drew the smaller id from the column default may chain second;
-- it then draws a fresh id under the lock (ids may have gaps, the chain has none). READ COMMITTED only: a REPEATABLE READ snapshot could miss the
-- newest committed row and fork the chain, so it is refused rather than silently forked.
-- Lock order: the live change log's lock (7411, 4; migration 0004) first, then the chain's
-- (7411, 6). Event writes take (7411, 4) at statement end; a transaction that inserted history
-- first (the ingest CTE) and one that updated an event first would otherwise deadlock.
CREATE FUNCTION gridcmd_event_action_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	prev TEXT;
	prev_id BIGINT;
BEGIN
	IF current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'event_action rows are chained in READ COMMITTED transactions only (this one is %)',
			current_setting('transaction_isolation');
	END IF;
	PERFORM pg_advisory_xact_lock(7411, 4);
	PERFORM pg_advisory_xact_lock(7411, 6);
	SELECT id, row_hash INTO prev_id, prev FROM event_action ORDER BY id DESC LIMIT 1;
	IF NEW.id <= prev_id THEN
		NEW.id := nextval('event_action_id_seq');
		IF NEW.id <= prev_id THEN
			PERFORM setval('event_action_id_seq', prev_id);
			NEW.id := nextval('event_action_id_seq');
		END IF;
	END IF;
	NEW.prev_hash := coalesce(prev, repeat('0', 64));
	NEW.row_hash := gridcmd_event_action_hash(NEW.id, NEW.event_id, NEW.actor_type, NEW.actor_id,
		NEW.at, NEW.from_status, NEW.to_status, NEW.note, NEW.prev_hash);
	RETURN NEW;
END $$;
-- Chain the rows that have no hash yet (inserted with triggers off: the migration's existing
-- rows, the demo seed's COPY) in id order after the last chained row; returns how many.
-- Updating the history needs the append-only trigger off: only the table owner can do that.
CREATE FUNCTION gridcmd_event_action_rechain() RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
	prev TEXT;
	last_chained BIGINT;
	r RECORD;
	n BIGINT := 0;
BEGIN
	PERFORM pg_advisory_xact_lock(7411, 4);
	PERFORM pg_advisory_xact_lock(7411, 6);
	SELECT id, row_hash INTO last_chained, prev FROM event_action
		WHERE row_hash IS NOT NULL ORDER BY id DESC LIMIT 1;
	IF EXISTS (SELECT 1 FROM event_action WHERE row_hash IS NULL AND id < last_chained) THEN
		RAISE EXCEPTION 'unchained event_action rows before the chain head %', last_chained;
	END IF;
	prev := coalesce(prev, repeat('0', 64));
	FOR r IN SELECT * FROM event_action WHERE row_hash IS NULL ORDER BY id LOOP
		r.prev_hash := prev;
		prev := gridcmd_event_action_hash(r.id, r.event_id, r.actor_type, r.actor_id, r.at,
			r.from_status, r.to_status, r.note, prev);
		UPDATE event_action SET prev_hash = r.prev_hash, row_hash = prev WHERE id = r.id;
		n := n + 1;
	END LOOP;
	RETURN n;
END $$;
ALTER TABLE event_action DISABLE TRIGGER event_action_no_update_delete;
SELECT gridcmd_event_action_rechain();
ALTER TABLE event_action ENABLE TRIGGER event_action_no_update_delete;
ALTER TABLE event_action ALTER COLUMN prev_hash SET NOT NULL;
ALTER TABLE event_action ALTER COLUMN row_hash SET NOT NULL;
CREATE TRIGGER event_action_chain BEFORE INSERT ON event_action
	FOR EACH ROW EXECUTE FUNCTION gridcmd_event_action_chain();
-- The append-only trigger (migration 0001) already refuses UPDATE/DELETE; no grant allows them.
REVOKE UPDATE, DELETE, TRUNCATE ON event_action FROM PUBLIC;
