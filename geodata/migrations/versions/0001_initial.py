"""Initial schema: six-level grid, workers, positions, events, event history, accounts.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from pathlib import Path

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The DDL is frozen in a SQL file so later model changes never rewrite history.
DDL = Path(__file__).resolve().parents[2] / "sql" / "0001_initial.sql"

APPEND_ONLY = """
CREATE FUNCTION event_action_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'event_action is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER event_action_no_update_delete
  BEFORE UPDATE OR DELETE ON event_action
  FOR EACH ROW EXECUTE FUNCTION event_action_append_only();
"""


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS ltree")
    for stmt in DDL.read_text(encoding="utf-8").split(";\n"):
        if stmt.strip():
            op.execute(stmt)
    op.execute(APPEND_ONLY)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS event_action_no_update_delete ON event_action")
    op.execute("DROP FUNCTION IF EXISTS event_action_append_only()")
    for table in (
        "account",
        "event_action",
        "event",
        "worker_position",
        "grid_worker",
        "grid_cell",
    ):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    # Extensions stay: other schemas in the database may use them.
