"""Test helper: synthetic events inserted at a known spot of a county (for the event table,
its callbacks and exports), inside the caller's transaction."""

from __future__ import annotations

import uuid

from sqlalchemy import text


def first_micro_grid(conn, county: str):
    """The first micro-grid (L6, by code) under the code prefix ``county``: its ``id`` and a
    point on its surface (``x``, ``y``)."""
    return conn.execute(
        text(
            "SELECT id, ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) AS y "
            "FROM grid_cell WHERE level = 6 AND code LIKE :p ORDER BY code LIMIT 1"
        ),
        {"p": county + "%"},
    ).one()


def insert_event(conn, county: str, title: str, **cols) -> int:
    """Insert one synthetic event (version 1) at the point on the surface of the first
    micro-grid of ``county``; returns its id. Columns: ``title``, a fresh ``uuid``, category
    ``dispute`` and status ``reported`` unless given, and exactly the other columns of
    ``cols`` (any not given take the table's defaults and triggers)."""
    cell = first_micro_grid(conn, county)
    values = {"uuid": uuid.uuid4(), "category": "dispute", "status": "reported", **cols,
              "title": title}  # fmt: skip
    names = ", ".join(values)
    params = ", ".join(f":{k}" for k in values)
    return conn.execute(
        text(
            f"INSERT INTO event ({names}, location, cell_id, version, synthetic) VALUES "
            f"({params}, ST_SetSRID(ST_MakePoint(:_x, :_y), 4326), :_cell, 1, true) RETURNING id"
        ),
        {**values, "_x": cell.x, "_y": cell.y, "_cell": cell.id},
    ).scalar_one()
