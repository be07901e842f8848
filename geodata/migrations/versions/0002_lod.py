"""Pre-simplified grid geometry per zoom band (level-of-detail) and a small metadata table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from pathlib import Path

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DDL = Path(__file__).resolve().parents[2] / "sql" / "0002_lod.sql"


def upgrade() -> None:
    for stmt in DDL.read_text(encoding="utf-8").split(";\n"):
        if stmt.strip():
            op.execute(stmt)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS grid_cell_lod")
    op.execute("DROP TABLE IF EXISTS grid_meta")
