"""Field records (photos, check-ins, patrols, visits), cameras, gateway tokens, live change log.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from pathlib import Path

from alembic import op

from geodata.migrate import split_sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DDL = Path(__file__).resolve().parents[2] / "sql" / "0004_field_live.sql"


def upgrade() -> None:
    for stmt in split_sql(DDL.read_text(encoding="utf-8")):
        op.execute(stmt)


def downgrade() -> None:
    for table, trig in (
        ("event", "event_live_insert"), ("event", "event_live_update"),
        ("grid_worker", "worker_live_insert"), ("grid_worker", "worker_live_update"),
        ("event", "event_touch_updated_at"),
    ):  # fmt: skip
        op.execute(f"DROP TRIGGER IF EXISTS {trig} ON {table}")
    op.execute("DROP TABLE IF EXISTS live_change")
    op.execute("DROP INDEX IF EXISTS ix_grid_worker_last_fix")
    op.execute("DROP INDEX IF EXISTS ix_event_updated_at")
    op.execute("DELETE FROM api_token WHERE kind <> 'worker'")
    op.execute("ALTER TABLE api_token DROP CONSTRAINT IF EXISTS ck_api_token_kind")
    op.execute("ALTER TABLE api_token DROP COLUMN IF EXISTS scope_cell_id")
    op.execute("ALTER TABLE api_token DROP COLUMN IF EXISTS kind")
    op.execute("ALTER TABLE api_token ALTER COLUMN worker_id SET NOT NULL")
    for table in ("camera", "visit", "patrol", "checkin", "event_photo"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
    op.execute("DROP FUNCTION IF EXISTS gridcmd_live_log()")
    op.execute("DROP FUNCTION IF EXISTS gridcmd_touch_updated_at()")
