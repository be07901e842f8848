"""Case workflow: priority/deadline policy, supervision, escalation, departments, merge.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from pathlib import Path

from alembic import op

from geodata.migrate import split_sql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

DDL = Path(__file__).resolve().parents[2] / "sql" / "0007_workflow.sql"

_ROLES_BEFORE = "'admin', 'commander', 'dispatcher', 'supervisor', 'auditor', 'grid_worker'"


def upgrade() -> None:
    for stmt in split_sql(DDL.read_text(encoding="utf-8")):
        op.execute(stmt)


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_event_due_unsupervised")  # on columns that stay
    op.execute("DROP TABLE IF EXISTS event_follower")
    op.execute("DELETE FROM account WHERE role = 'department'")
    op.execute("DELETE FROM role_policy WHERE role = 'department'")
    op.execute("ALTER TABLE account DROP CONSTRAINT IF EXISTS ck_account_department")
    op.execute("ALTER TABLE account DROP CONSTRAINT ck_account_role")
    op.execute("ALTER TABLE role_policy DROP CONSTRAINT ck_role_policy_role")
    for table in ("account", "role_policy"):
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT ck_{table}_role CHECK (role IN ({_ROLES_BEFORE}))"
        )
    op.execute("ALTER TABLE account DROP COLUMN IF EXISTS department_id")
    for col in (
        "department_id",
        "merged_into_id",
        "acknowledged_at",
        "escalated_at",
        "supervised_by",
        "supervision_reason",
        "supervised_at",
        "owner_level",
        "priority",
    ):
        op.execute(f"ALTER TABLE event DROP COLUMN IF EXISTS {col}")
    op.execute("DROP TABLE IF EXISTS department")
    op.execute("DROP TABLE IF EXISTS deadline_policy")
    op.execute("DROP TRIGGER IF EXISTS event_priority ON event")
    op.execute("DROP FUNCTION IF EXISTS gridcmd_event_priority()")
