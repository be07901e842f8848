-- Identifier searches of the residents register are logged like an unmask ('id_search'),
-- and a refused over-limit search raises an alert ('rate_limit').
ALTER TABLE security_log DROP CONSTRAINT ck_security_log_kind;
ALTER TABLE security_log ADD CONSTRAINT ck_security_log_kind CHECK (kind IN ('login', 'login_failed', 'lockout', 'logout', 'session_expired', 'denied', 'export', 'unmask', 'password_change', 'account_change', 'second_factor', 'roster_change', 'id_search', 'rate_limit'));
-- The per-account window count of identifier searches.
CREATE INDEX ix_security_log_id_search ON security_log (account_id, at) WHERE kind = 'id_search';
