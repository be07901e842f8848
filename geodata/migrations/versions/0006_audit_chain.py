"""Tamper-evident audit trail: event_action rows chained by sha256 (prev_hash, row_hash).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from pathlib import Path

from alembic import op

from geodata.migrate import split_sql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

DDL = Path(__file__).resolve().parents[2] / "sql" / "0006_audit_chain.sql"


def upgrade() -> None:
    for stmt in split_sql(DDL.read_text(encoding="utf-8")):
        op.execute(stmt)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS event_action_chain ON event_action")
    for fn in (
        "gridcmd_event_action_rechain()",
        "gridcmd_event_action_chain()",
        "gridcmd_event_action_hash(BIGINT, BIGINT, TEXT, BIGINT, TIMESTAMPTZ, TEXT, TEXT, TEXT, "
        "TEXT)",
        "gridcmd_event_action_canonical(BIGINT, BIGINT, TEXT, BIGINT, TIMESTAMPTZ, TEXT, TEXT, "
        "TEXT, TEXT)",
        "gridcmd_audit_field(TEXT)",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {fn}")
    op.execute("ALTER TABLE event_action DROP COLUMN IF EXISTS row_hash")
    op.execute("ALTER TABLE event_action DROP COLUMN IF EXISTS prev_hash")
