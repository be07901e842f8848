"""Alembic migrations up and down on a fresh database (the schema itself against its snapshot:
test_schema.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from geodata import migrate
from geodata.db import make_engine
from geodata.schema import SNAPSHOT, schema_snapshot

pytestmark = pytest.mark.slow  # migrates fresh databases up and down

TABLES = {"grid_cell", "grid_worker", "worker_position", "event", "event_action", "account"}


@pytest.fixture()
def fresh_engine(make_database):
    eng = make_engine(make_database("gridcmd_mig"))
    yield eng
    eng.dispose()


def test_upgrade_downgrade_upgrade(fresh_engine):
    assert migrate.current_revision(fresh_engine) is None
    migrate.upgrade(fresh_engine)
    assert migrate.current_revision(fresh_engine) == migrate.head_revision(fresh_engine)
    assert set(inspect(fresh_engine).get_table_names()) >= TABLES

    migrate.downgrade(fresh_engine, "base")
    assert migrate.current_revision(fresh_engine) is None
    assert not TABLES & set(inspect(fresh_engine).get_table_names())

    migrate.upgrade(fresh_engine)
    assert set(inspect(fresh_engine).get_table_names()) >= TABLES
    with fresh_engine.connect() as conn:  # down to base and up again: the schema of record
        assert schema_snapshot(conn) == SNAPSHOT.read_text(encoding="utf-8")


def test_spatial_indexes_exist(engine):
    with engine.connect() as conn:
        idx = set(
            conn.execute(
                text("SELECT indexname FROM pg_indexes WHERE indexdef ILIKE '%USING gist%'")
            ).scalars()
        )
    assert {
        "ix_grid_cell_geom",
        "ix_grid_cell_path",
        "ix_grid_cell_geom_l6",
        "ix_event_location",
        "ix_grid_worker_position",
    } <= idx


def test_worker_position_unique_per_fix(conn):
    w = conn.execute(text("SELECT id FROM grid_worker LIMIT 1")).scalar_one()
    ins = text(
        "INSERT INTO worker_position (worker_id, fix_time, geom, source) VALUES "
        "(:w, '2026-01-01T00:00:00Z', ST_SetSRID(ST_MakePoint(100.2, 25.6), 4326), 'gps') "
        "ON CONFLICT (worker_id, fix_time) DO NOTHING"
    )
    assert conn.execute(ins, {"w": w}).rowcount == 1
    assert conn.execute(ins, {"w": w}).rowcount == 0


def test_event_history_is_append_only(engine):
    from sqlalchemy.exc import DBAPIError

    with engine.connect() as c:
        with pytest.raises(DBAPIError, match="append-only"):
            c.execute(text("UPDATE event_action SET note = 'x' WHERE id = 1"))
        c.rollback()
        with pytest.raises(DBAPIError, match="append-only"):
            c.execute(text("DELETE FROM event_action WHERE id = 1"))
        c.rollback()
