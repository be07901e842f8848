"""Household visits (走访) recorded from the phone, placed in the worker's grid by cell code or
by position. Same contract as :mod:`geodata.fieldwork` (idempotent on the client uuid, caller
commits, :class:`~geodata.ingest.IngestError` for what the reporter can fix)."""

from __future__ import annotations

import datetime as dt
import uuid as uuid_mod
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.attribution import attribute_point
from geodata.fieldwork import (
    FieldResult,
    check_client_time,
    check_replay,
    parse_time,
    wgs84_point,
    worker_grid,
)
from geodata.ingest import IngestError, payload_hash

__all__ = ["record_visit", "visit_dict"]

_VISIT_SQL = """
    SELECT v.uuid, v.worker_id, v.visited_at, v.household, v.note, v.payload_hash,
           v.received_at, ST_X(v.location) AS lon, ST_Y(v.location) AS lat,
           c.code AS cell_code, ltree2text(c.path) AS cell_path
    FROM visit v JOIN grid_cell c ON c.id = v.cell_id
"""


def visit_dict(row: Any) -> dict[str, Any]:
    """The API representation of a visit row."""
    return {
        "uuid": str(row.uuid),
        "visited_at": row.visited_at.isoformat(),
        "household": row.household,
        "note": row.note,
        "cell": row.cell_code,
        "cell_path": row.cell_path.split("."),
        "lon": row.lon,
        "lat": row.lat,
        "received_at": row.received_at.isoformat(),
    }


def _visit_row(conn: Connection, u: uuid_mod.UUID) -> Any | None:
    return conn.execute(text(_VISIT_SQL + " WHERE v.uuid = :u"), {"u": u}).one_or_none()


def _cell_for_point(conn: Connection, lon: float, lat: float, grid: Any, tolerance_m: float) -> int:
    """The id of the L6 cell of a WGS-84 point inside the worker's grid, or — when the point
    lies outside the grid but within ``tolerance_m`` of it — the nearest L6 cell of the grid.
    IngestError 422 otherwise (with the distance)."""
    attribution = attribute_point(conn, lon, lat)
    if attribution is None:
        raise IngestError(422, "outside_area",
                          f"({lon:.6f}, {lat:.6f}) is outside the prefecture", "lon")  # fmt: skip
    cell = attribution.cell
    inside = conn.execute(
        text("SELECT path <@ CAST(:g AS ltree) FROM grid_cell WHERE id = :c"),
        {"g": grid.grid_path, "c": cell.id},
    ).scalar_one()
    if inside:
        return cell.id
    near = conn.execute(
        text(
            """
            SELECT c.id, ST_Distance(CAST(c.geom AS geography),
                                     CAST(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS geography))
                         AS m
            FROM grid_cell c
            WHERE c.path <@ CAST(:g AS ltree) AND c.level = 6
            ORDER BY c.geom <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), c.code
            LIMIT 1
            """
        ),
        {"lon": lon, "lat": lat, "g": grid.grid_path},
    ).one_or_none()
    if near is not None and near.m <= tolerance_m:
        return near.id
    dist = f"{near.m:.0f} m" if near is not None else "far"
    raise IngestError(
        422, "outside_grid",
        f"the point lies in cell {cell.code}, outside your grid {grid.grid_code} ({dist} from "
        f"it; tolerance {tolerance_m:.0f} m)",
        "lon",
    )  # fmt: skip


def record_visit(
    conn: Connection,
    body: dict[str, Any],
    *,
    worker_id: int,
    tolerance_m: float,
    now: dt.datetime | None = None,
) -> FieldResult:
    """Store a household visit: ``uuid, visited_at, household, note`` and a place, one of
    ``cell_code`` (any cell of the worker's grid subtree; outside → 403, unknown → 422) or
    ``lon, lat, crs`` (attributed to its L6 cell, which must be in the worker's grid or the
    point within ``tolerance_m`` of it, else 422). With both, the cell is ``cell_code`` and the
    point is checked and stored. Neither → 400; a ``visited_at`` out of bounds → 422."""
    now = now or dt.datetime.now(dt.UTC)
    digest = payload_hash(body)
    u = uuid_mod.UUID(str(body["uuid"]))
    existing = _visit_row(conn, u)
    if existing is not None:
        check_replay(existing, digest, worker_id, "visit")
        return FieldResult(False, visit_dict(existing))

    code, lon, lat = body.get("cell_code"), body.get("lon"), body.get("lat")
    if (lon is None) != (lat is None):
        raise IngestError(400, "invalid", "lon and lat go together",
                          "lat" if lat is None else "lon")  # fmt: skip
    if code is None and lon is None:
        raise IngestError(400, "invalid", "one of cell_code or lon/lat is required", "cell_code")
    visited_at = parse_time(body["visited_at"])
    check_client_time(visited_at, now, "visited_at")
    grid = worker_grid(conn, worker_id)
    if grid is None:
        raise IngestError(404, "not_found", "no such worker")

    point: tuple[float, float] | None = None
    cell_id: int | None = None
    if lon is not None:
        point = wgs84_point(lon, lat, body.get("crs") or "wgs84")
        cell_id = _cell_for_point(conn, point[0], point[1], grid, tolerance_m)
    if code is not None:
        row = conn.execute(
            text("SELECT id, path <@ CAST(:g AS ltree) AS ok FROM grid_cell WHERE code = :c"),
            {"c": code, "g": grid.grid_path},
        ).one_or_none()
        if row is None:
            raise IngestError(422, "unknown_cell", f"no cell with code {code!r}", "cell_code")
        if not row.ok:
            raise IngestError(403, "forbidden",
                              f"cell {code} is outside your grid {grid.grid_code}",
                              "cell_code")  # fmt: skip
        cell_id = row.id

    new_id = conn.execute(
        text(
            """
            INSERT INTO visit (uuid, worker_id, cell_id, visited_at, location, household,
                note, payload_hash)
            VALUES (:u, :w, :c, :at,
                    CASE WHEN CAST(:lon AS float8) IS NULL THEN NULL
                         ELSE ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) END,
                    :household, :note, :hash)
            ON CONFLICT (uuid) DO NOTHING
            RETURNING id
            """
        ),
        {
            "u": u,
            "w": worker_id,
            "c": cell_id,
            "at": visited_at,
            "lon": point[0] if point else None,
            "lat": point[1] if point else None,
            "household": body["household"],
            "note": body.get("note") or "",
            "hash": digest,
        },
    ).scalar_one_or_none()
    row = _visit_row(conn, u)
    if new_id is None:
        check_replay(row, digest, worker_id, "visit")
        return FieldResult(False, visit_dict(row))
    return FieldResult(True, visit_dict(row))
