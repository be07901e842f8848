"""Accounts and sessions, security log, residents register, roster history and training.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from pathlib import Path

from alembic import op

from geodata.migrate import split_sql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

DDL = Path(__file__).resolve().parents[2] / "sql" / "0005_accounts.sql"


def upgrade() -> None:
    for stmt in split_sql(DDL.read_text(encoding="utf-8")):
        op.execute(stmt)


def downgrade() -> None:
    for table in (
        "worker_training", "worker_assignment", "resident", "security_log", "auth_session",
        "role_policy",
    ):  # fmt: skip
        op.execute(f"DROP TABLE IF EXISTS {table}")
    op.execute("DROP FUNCTION IF EXISTS gridcmd_security_log_append_only()")
    op.execute("DROP INDEX IF EXISTS ix_account_jurisdiction")
    op.execute("ALTER TABLE account DROP CONSTRAINT IF EXISTS ck_account_failed")
    for col in (
        "worker_id", "totp_secret", "failed_logins", "locked_until", "must_change_password",
        "password_changed_at", "can_unmask", "synthetic",
    ):  # fmt: skip
        op.execute(f"ALTER TABLE account DROP COLUMN IF EXISTS {col}")
