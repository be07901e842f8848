"""Test helper: cameras inserted into the shared session database for a test module, then
removed again together with the ``live_change`` rows their inserts logged (the database is
left as found: other tests read the change log's tail)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Engine

from geodata.cameras import ImportReport, import_cameras_csv


@contextmanager
def committed_cameras(engine: Engine, csv_text: str, code_prefix: str) -> Iterator[ImportReport]:
    """Import ``csv_text`` (committed, so the app's own connections see it); on exit delete the
    cameras whose code starts with ``code_prefix`` and the camera change-log rows written
    meanwhile."""
    with engine.begin() as conn:
        before = conn.execute(text("SELECT coalesce(max(id), 0) FROM live_change")).scalar_one()
        report = import_cameras_csv(conn, io.StringIO(csv_text))
        assert report.ok, report.errors
    try:
        yield report
    finally:
        delete_cameras(engine, code_prefix, since_change=before)


def delete_cameras(engine: Engine, code_prefix: str, *, since_change: int) -> None:
    """Delete cameras by code prefix and the camera ``live_change`` rows after ``since_change``."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM camera WHERE starts_with(code, :p)"), {"p": code_prefix})
        conn.execute(
            text("DELETE FROM live_change WHERE kind = 'camera' AND id > :id"),
            {"id": since_change},
        )


def latest_change(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT coalesce(max(id), 0) FROM live_change")).scalar_one()
