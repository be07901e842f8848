"""Per-worker API tokens (hash only) and event idempotency/original-coordinate columns.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from pathlib import Path

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DDL = Path(__file__).resolve().parents[2] / "sql" / "0003_api_tokens.sql"


def upgrade() -> None:
    for stmt in DDL.read_text(encoding="utf-8").split(";\n"):
        if stmt.strip():
            op.execute(stmt)


def downgrade() -> None:
    op.execute("ALTER TABLE event DROP CONSTRAINT IF EXISTS ck_event_original_crs")
    for col in ("payload_hash", "original_lon", "original_lat", "original_crs"):
        op.execute(f"ALTER TABLE event DROP COLUMN IF EXISTS {col}")
    op.execute("DROP TABLE IF EXISTS api_token")
