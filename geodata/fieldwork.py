"""Field records written from the phone: attendance check-ins and patrol tracks (household
visits: :mod:`geodata.visits`).

Same contract as :mod:`geodata.ingest`: functions take a connection inside a transaction and
never commit; bodies are validated models dumped in JSON mode; failures the reporter can fix
raise :class:`~geodata.ingest.IngestError` (HTTP-like status, code, detail, field). Every record
is idempotent on its client ``uuid``: the same uuid and body → the stored record
(``created=False``), the same uuid with another body (or from another worker) → 409.

Distances are geodesic metres (``geography``); coordinates are stored in WGS-84 after
conversion from the phone's CRS (:func:`geodata.crs.to_wgs84`).

A worker's *grid* is the L5 ancestor of their assigned cell (``grid_worker.cell_id`` is an L5
grid or one of its L6 micro-grids); a worker assigned higher up has that cell as grid.
"""

from __future__ import annotations

import datetime as dt
import uuid as uuid_mod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.attribution import CoordinateError, validate_lonlat
from geodata.client_time import client_time_error
from geodata.crs import to_wgs84
from geodata.ingest import IngestError, payload_hash

__all__ = [
    "GRID_PATH_SQL",
    "FieldResult",
    "check_client_time",
    "check_replay",
    "on_duty_workers",
    "parse_time",
    "record_checkin",
    "record_patrol",
    "wgs84_point",
    "worker_grid",
]

#: ltree path of the L5 grid (or shallower assigned cell) of the worker row ``w``/cell ``wc``.
GRID_PATH_SQL = "subpath(wc.path, 0, LEAST(nlevel(wc.path), 5))"


@dataclass(frozen=True)
class FieldResult:
    """``created``: a new row was written (201) or the stored one replayed (200)."""

    created: bool
    record: dict[str, Any]


def parse_time(value: Any) -> dt.datetime:
    """A datetime from a JSON-mode dump (ISO string) or a datetime."""
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def check_client_time(at: dt.datetime, now: dt.datetime, field: str) -> None:
    """IngestError 422 naming ``field`` when ``at`` is beyond the clock-skew allowance or
    older than a phone's offline queue may hold (:mod:`geodata.client_time`)."""
    refused = client_time_error(at, now, field)
    if refused is not None:
        raise IngestError(422, "invalid", refused[1], field)


def wgs84_point(lon: Any, lat: Any, crs: str, field: str = "lon") -> tuple[float, float]:
    """Validated WGS-84 (lon, lat) from a pair in ``crs``; IngestError 422 naming ``field``."""
    try:
        lon, lat = validate_lonlat(lon, lat)
        return validate_lonlat(*to_wgs84(lon, lat, crs))
    except CoordinateError as exc:
        raise IngestError(422, "invalid_location", str(exc), field) from None


def check_replay(row: Any, digest: str, worker_id: int, what: str) -> None:
    """409 unless ``row`` is the same body from the same worker."""
    if row.payload_hash != digest or row.worker_id != worker_id:
        raise IngestError(409, "conflict",
                          f"a {what} with this uuid already exists with a different body",
                          "uuid")  # fmt: skip


# ----------------------------------------------------------------------------- check-ins

_CHECKIN_SQL = """
    SELECT k.uuid, k.worker_id, k.kind, k.at, ST_X(k.location) AS lon, ST_Y(k.location) AS lat,
           k.accuracy_m, c.code AS cell_code, k.distance_m, k.tolerance_m, k.inside,
           k.payload_hash, k.original_lon, k.original_lat, k.original_crs, k.received_at
    FROM checkin k JOIN grid_cell c ON c.id = k.cell_id
"""


def checkin_dict(row: Any) -> dict[str, Any]:
    """The API representation of a check-in row of :data:`_CHECKIN_SQL`."""
    return {
        "uuid": str(row.uuid),
        "kind": row.kind,
        "at": row.at.isoformat(),
        "lon": row.lon,
        "lat": row.lat,
        "original": {"lon": row.original_lon, "lat": row.original_lat, "crs": row.original_crs},
        "accuracy": row.accuracy_m,
        "cell": row.cell_code,
        "distance_m": round(row.distance_m, 1),
        "tolerance_m": row.tolerance_m,
        "inside": row.inside,
        "received_at": row.received_at.isoformat(),
    }


def _checkin_row(conn: Connection, u: uuid_mod.UUID) -> Any | None:
    return conn.execute(text(_CHECKIN_SQL + " WHERE k.uuid = :u"), {"u": u}).one_or_none()


def record_checkin(
    conn: Connection,
    body: dict[str, Any],
    *,
    worker_id: int,
    tolerance_m: float,
    now: dt.datetime | None = None,
) -> FieldResult:
    """Store an attendance check-in/out and the verdict on being at the assigned cell.

    ``body``: ``uuid, kind ('in'|'out'), at, lon, lat, crs, accuracy``. ``distance_m`` is the
    geodesic distance from the WGS-84 point to the worker's assigned cell polygon (0 inside);
    ``inside`` is ``distance_m <= tolerance_m``. A point outside the prefecture is stored too
    (``inside`` false: the verdict is the point); unusable coordinates or an ``at`` out of
    bounds (:mod:`geodata.client_time`) → 422.
    """
    now = now or dt.datetime.now(dt.UTC)
    digest = payload_hash(body)
    u = uuid_mod.UUID(str(body["uuid"]))
    existing = _checkin_row(conn, u)
    if existing is not None:
        check_replay(existing, digest, worker_id, "check-in")
        return FieldResult(False, checkin_dict(existing))

    crs = body.get("crs") or "wgs84"
    lon, lat = wgs84_point(body["lon"], body["lat"], crs)
    at = parse_time(body["at"])
    check_client_time(at, now, "at")
    new_id = conn.execute(
        text(
            """
            INSERT INTO checkin (uuid, worker_id, kind, at, location, accuracy_m, cell_id,
                distance_m, tolerance_m, inside, payload_hash, original_lon, original_lat,
                original_crs)
            SELECT :u, w.id, :kind, :at, p.g, :acc, w.cell_id, d.m, :tol, d.m <= :tol, :hash,
                   :olon, :olat, :ocrs
            FROM grid_worker w
            JOIN grid_cell c ON c.id = w.cell_id
            CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g) p
            CROSS JOIN LATERAL (
                SELECT CASE WHEN ST_Intersects(c.geom, p.g) THEN 0.0
                            ELSE ST_Distance(CAST(c.geom AS geography), CAST(p.g AS geography))
                       END AS m) d
            WHERE w.id = :w
            ON CONFLICT (uuid) DO NOTHING
            RETURNING id
            """
        ),
        {
            "u": u,
            "w": worker_id,
            "kind": body["kind"],
            "at": at,
            "acc": body.get("accuracy"),
            "tol": float(tolerance_m),
            "hash": digest,
            "lon": lon,
            "lat": lat,
            "olon": body["lon"],
            "olat": body["lat"],
            "ocrs": crs,
        },
    ).scalar_one_or_none()
    row = _checkin_row(conn, u)
    if new_id is None:  # a concurrent resend committed first (or the worker vanished)
        if row is None:
            raise IngestError(404, "not_found", "no such worker")
        check_replay(row, digest, worker_id, "check-in")
        return FieldResult(False, checkin_dict(row))
    return FieldResult(True, checkin_dict(row))


# ----------------------------------------------------------------------------- patrols

_PATROL_SQL = """
    SELECT p.uuid, p.worker_id, p.started_at, p.ended_at, p.length_m, p.n_points, p.note,
           p.payload_hash, p.received_at, c.code AS cell_code,
           ST_XMin(p.track) AS x0, ST_YMin(p.track) AS y0,
           ST_XMax(p.track) AS x1, ST_YMax(p.track) AS y1
    FROM patrol p JOIN grid_cell c ON c.id = p.cell_id
"""


def patrol_dict(row: Any) -> dict[str, Any]:
    """The API representation of a patrol row (the track itself is not echoed: up to 5000
    points; its bounding box is)."""
    return {
        "uuid": str(row.uuid),
        "started_at": row.started_at.isoformat(),
        "ended_at": row.ended_at.isoformat(),
        "n_points": row.n_points,
        "length_m": round(row.length_m, 1),
        "bbox": [row.x0, row.y0, row.x1, row.y1],
        "cell": row.cell_code,
        "note": row.note,
        "received_at": row.received_at.isoformat(),
    }


def _patrol_row(conn: Connection, u: uuid_mod.UUID) -> Any | None:
    return conn.execute(text(_PATROL_SQL + " WHERE p.uuid = :u"), {"u": u}).one_or_none()


def record_patrol(
    conn: Connection, body: dict[str, Any], *, worker_id: int, now: dt.datetime | None = None
) -> FieldResult:
    """Store a patrol track: ``uuid, started_at, ended_at, points [[lon, lat], ...], crs,
    note``. Points are converted to WGS-84 and stored as a LineString; ``length_m`` is its
    geodesic length; ``cell_id`` is the worker's assigned cell. 422 when ``ended_at`` is
    before ``started_at``, a time is out of bounds (:mod:`geodata.client_time`), a point is
    unusable (``field`` = ``points.<i>``), or fewer than two distinct points remain."""
    now = now or dt.datetime.now(dt.UTC)
    digest = payload_hash(body)
    u = uuid_mod.UUID(str(body["uuid"]))
    existing = _patrol_row(conn, u)
    if existing is not None:
        check_replay(existing, digest, worker_id, "patrol")
        return FieldResult(False, patrol_dict(existing))

    started, ended = parse_time(body["started_at"]), parse_time(body["ended_at"])
    if ended < started:
        raise IngestError(422, "invalid", "ended_at is before started_at", "ended_at")
    check_client_time(started, now, "started_at")
    check_client_time(ended, now, "ended_at")
    crs = body.get("crs") or "wgs84"
    xs: list[float] = []
    ys: list[float] = []
    for i, point in enumerate(body["points"]):
        x, y = wgs84_point(point[0], point[1], crs, f"points.{i}")
        xs.append(x)
        ys.append(y)
    if len(set(zip(xs, ys, strict=True))) < 2:
        raise IngestError(422, "invalid", "a patrol needs at least two distinct points",
                          "points")  # fmt: skip
    new_id = conn.execute(
        text(
            """
            WITH line AS (
                SELECT ST_SetSRID(ST_MakeLine(ST_MakePoint(p.x, p.y) ORDER BY p.i), 4326) AS g
                FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[]))
                     WITH ORDINALITY AS p(x, y, i)
            )
            INSERT INTO patrol (uuid, worker_id, cell_id, started_at, ended_at, track,
                length_m, n_points, note, payload_hash)
            SELECT :u, w.id, w.cell_id, :started, :ended, line.g,
                   ST_Length(CAST(line.g AS geography)), :n, :note, :hash
            FROM grid_worker w, line
            WHERE w.id = :w
            ON CONFLICT (uuid) DO NOTHING
            RETURNING id
            """
        ),
        {
            "u": u,
            "w": worker_id,
            "started": started,
            "ended": ended,
            "xs": xs,
            "ys": ys,
            "n": len(xs),
            "note": body.get("note") or "",
            "hash": digest,
        },
    ).scalar_one_or_none()
    row = _patrol_row(conn, u)
    if new_id is None:
        if row is None:
            raise IngestError(404, "not_found", "no such worker")
        check_replay(row, digest, worker_id, "patrol")
        return FieldResult(False, patrol_dict(row))
    return FieldResult(True, patrol_dict(row))


# ----------------------------------------------------------------------------- grid


def worker_grid(conn: Connection, worker_id: int) -> Any | None:
    """``(grid_id, grid_code, grid_path)`` of the worker's L5 grid, or None."""
    return conn.execute(
        text(
            f"""
            SELECT g.id AS grid_id, g.code AS grid_code, ltree2text(g.path) AS grid_path
            FROM grid_worker w JOIN grid_cell wc ON wc.id = w.cell_id
            JOIN grid_cell g ON g.path = {GRID_PATH_SQL}
            WHERE w.id = :w
            """
        ),
        {"w": worker_id},
    ).one_or_none()


def on_duty_workers(conn: Connection, *, limit: int, first: Sequence[int] = ()) -> list[Any]:
    """Up to ``limit`` active on-duty workers, those whose id is in ``first`` before the rest,
    then by id (the field simulator's fleet). Rows: ``id, employee_no``, ``lon, lat`` — the
    current position, else a point of the assigned cell — and ``home_lon, home_lat``, that point
    of the cell (``ST_PointOnSurface``); WGS-84 degrees."""
    return list(
        conn.execute(
            text(
                """
                SELECT w.id, w.employee_no,
                       ST_X(coalesce(w.position, ST_PointOnSurface(c.geom))) AS lon,
                       ST_Y(coalesce(w.position, ST_PointOnSurface(c.geom))) AS lat,
                       ST_X(ST_PointOnSurface(c.geom)) AS home_lon,
                       ST_Y(ST_PointOnSurface(c.geom)) AS home_lat
                FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id
                WHERE w.active AND w.duty_status = 'on_duty'
                ORDER BY (w.id = ANY(CAST(:first AS bigint[]))) DESC, w.id
                LIMIT :n
                """
            ),
            {"first": list(first), "n": limit},
        ).all()
    )
