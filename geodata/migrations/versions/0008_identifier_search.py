"""Security-log kinds for identifier searches of the residents register.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

from pathlib import Path

from alembic import op

from geodata.migrate import split_sql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

DDL = Path(__file__).resolve().parents[2] / "sql" / "0008_identifier_search.sql"

_KINDS_BEFORE = (
    "'login', 'login_failed', 'lockout', 'logout', 'session_expired', 'denied', 'export', "
    "'unmask', 'password_change', 'account_change', 'second_factor', 'roster_change'"
)


def upgrade() -> None:
    for stmt in split_sql(DDL.read_text(encoding="utf-8")):
        op.execute(stmt)


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_security_log_id_search")
    op.execute("ALTER TABLE security_log DROP CONSTRAINT ck_security_log_kind")
    # The log is append-only: entries of the new kinds stay, so the old rule is not validated
    # against existing rows (it holds for every new row).
    op.execute(
        "ALTER TABLE security_log ADD CONSTRAINT ck_security_log_kind "
        f"CHECK (kind IN ({_KINDS_BEFORE})) NOT VALID"
    )
