"""The write pipeline for field data: one path for an event or a GPS batch, whether it comes
from the phone (``/api/v1``) or the PC side.

Functions take a connection inside a transaction and never commit: the caller commits (the API
answers 2xx only after its ``engine.begin()`` block has committed). Failures the reporter can
fix raise :class:`IngestError` carrying an HTTP-like status, a code, a reason and the field.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import uuid as uuid_mod
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.attribution import CoordinateError, attribute_point, validate_lonlat
from geodata.client_time import FUTURE_TOLERANCE, client_time_error  # noqa: F401 (re-export)
from geodata.crs import to_wgs84
from geodata.safe_text import clean_text  # also re-exported: api.v1.schemas' Text

#: Fastest plausible movement between two fixes of one worker (252 km/h), m/s.
MAX_SPEED_MS = 70.0
_EARTH_R = 6_371_008.8


class IngestError(Exception):
    """A rejected report: ``status`` (HTTP-like), ``error`` code, ``detail``, ``field``."""

    def __init__(self, status: int, error: str, detail: str, field: str | None = None):
        super().__init__(detail)
        self.status, self.error, self.detail, self.field = status, error, detail, field


def payload_hash(body: dict[str, Any]) -> str:
    """sha256 hex of the canonical JSON of a validated body (sorted keys, no spaces)."""
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two WGS-84 points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_R * math.asin(min(1.0, math.sqrt(a)))


# ----------------------------------------------------------------------------- events

_EVENT_SQL = """
    SELECT e.id, e.uuid, e.category, e.subcategory, e.severity, e.difficulty, e.title,
           e.description, e.status, ST_X(e.location) AS lon, ST_Y(e.location) AS lat,
           e.original_lon, e.original_lat, e.original_crs, e.reported_at, e.payload_hash,
           e.reporter_id, e.assignee_id, c.code AS cell_code, ltree2text(c.path) AS cell_path
    FROM event e JOIN grid_cell c ON c.id = e.cell_id
"""


def event_dict(row: Any) -> dict[str, Any]:
    """The API representation of an event row from :data:`_EVENT_SQL` (no internal ids)."""
    return {
        "uuid": str(row.uuid),
        "category": row.category,
        "subcategory": row.subcategory,
        "severity": row.severity,
        "difficulty": row.difficulty,
        "title": row.title,
        "description": row.description,
        "status": row.status,
        "lon": row.lon,
        "lat": row.lat,
        "original": {"lon": row.original_lon, "lat": row.original_lat, "crs": row.original_crs}
        if row.original_crs
        else None,
        "reported_at": row.reported_at.isoformat(),
        "cell": row.cell_code,
        "cell_path": row.cell_path.split("."),
    }


def _event_row(conn: Connection, event_uuid: uuid_mod.UUID) -> Any | None:
    return conn.execute(text(_EVENT_SQL + " WHERE e.uuid = :u"), {"u": event_uuid}).one_or_none()


@dataclass(frozen=True)
class EventResult:
    created: bool
    event: dict[str, Any]


#: The whole write in one statement, for one report or a batch of them (``unnest`` of
#: parameter arrays, in order ``n``): for each point the L6 cell containing it (GiST index
#: ``ix_grid_cell_geom_l6``, boundary ties to the smallest code, as ``attribute_point``), the
#: event, and its first history row. Per report: ``code`` NULL — outside the prefecture;
#: ``id`` NULL — the uuid exists (a replay, or a concurrent request committed first). Only what
#: the answer cannot know beforehand comes back (id, the stored ``reported_at``, the cell's code
#: and path). The uuids of one batch are distinct (:func:`ingest_events` sees to it).
_INGEST_SQL = text(
    """
    WITH r AS (
        SELECT * FROM unnest(
            CAST(:uuid AS uuid[]), CAST(:category AS text[]), CAST(:subcategory AS text[]),
            CAST(:severity AS text[]), CAST(:difficulty AS text[]), CAST(:title AS text[]),
            CAST(:description AS text[]), CAST(:lon AS float8[]), CAST(:lat AS float8[]),
            CAST(:reporter AS bigint[]), CAST(:reported_at AS timestamptz[]),
            CAST(:hash AS text[]), CAST(:olon AS float8[]), CAST(:olat AS float8[]),
            CAST(:ocrs AS text[]), CAST(:actor_type AS text[]), CAST(:note AS text[])
        ) WITH ORDINALITY AS r(uuid, category, subcategory, severity, difficulty, title,
            description, lon, lat, reporter, reported_at, hash, olon, olat, ocrs, actor_type,
            note, n)
    ), hit AS (
        SELECT r.n, c.id, c.code, ltree2text(c.path) AS path
        FROM r CROSS JOIN LATERAL (
            SELECT c.id, c.code, c.path FROM grid_cell c
            WHERE c.level = 6
              AND ST_Intersects(c.geom, ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326))
            ORDER BY c.code
            LIMIT 1
        ) AS c
    ), ins AS (
        INSERT INTO event (uuid, category, subcategory, severity, difficulty, title,
            description, location, cell_id, status, reporter_id, reported_at, version,
            synthetic, payload_hash, original_lon, original_lat, original_crs)
        SELECT r.uuid, r.category, r.subcategory, r.severity, r.difficulty, r.title,
            r.description, ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326), hit.id, 'reported',
            r.reporter, r.reported_at, 1, false, r.hash, r.olon, r.olat, r.ocrs
        FROM r JOIN hit ON hit.n = r.n
        ORDER BY r.n
        ON CONFLICT (uuid) DO NOTHING
        RETURNING id, uuid, reported_at
    ), act AS (
        INSERT INTO event_action (event_id, actor_type, actor_id, at, from_status,
            to_status, note)
        SELECT ins.id, r.actor_type, r.reporter, :now, NULL, 'reported', r.note
        FROM ins JOIN r ON r.uuid = ins.uuid
        ORDER BY ins.id
    )
    SELECT r.n, hit.code, hit.path, ins.id, ins.reported_at
    FROM r LEFT JOIN hit ON hit.n = r.n LEFT JOIN ins ON ins.uuid = r.uuid
    ORDER BY r.n
    """
)

#: Columns of :data:`_INGEST_SQL`'s parameter arrays.
_COLUMNS = ("uuid", "category", "subcategory", "severity", "difficulty", "title", "description",
            "lon", "lat", "reporter", "reported_at", "hash", "olon", "olat", "ocrs",
            "actor_type", "note")  # fmt: skip


def _text(value: str | None) -> str | None:
    return None if value is None else clean_text(value)


def _prepare(
    conn: Connection, body: dict[str, Any], worker_id: int | None, now: dt.datetime
) -> dict[str, Any]:
    """The row of one report for :data:`_INGEST_SQL`, or IngestError (checks that need no
    write: difficulty, coordinates and their conversion, a time too far ahead or back
    (:mod:`geodata.client_time`); free text cleaned (:func:`geodata.safe_text.clean_text`))."""
    if body.get("difficulty") is not None and body["category"] != "dispute":
        raise IngestError(422, "invalid", "difficulty applies to disputes only", "difficulty")
    crs = body.get("crs") or "wgs84"
    try:
        lon, lat = validate_lonlat(body["lon"], body["lat"])
        lon, lat = validate_lonlat(*to_wgs84(lon, lat, crs))
    except CoordinateError as exc:
        raise IngestError(422, "invalid_location", str(exc), "lon") from None
    reported_at = body.get("reported_at") or now
    if isinstance(reported_at, str):
        reported_at = dt.datetime.fromisoformat(reported_at)
    refused = client_time_error(reported_at, now, "reported_at")
    if refused is not None:
        if attribute_point(conn, lon, lat) is None:  # the same precedence as ever: 'outside'
            raise _outside(body, crs)
        raise IngestError(422, "invalid", refused[1], "reported_at")
    return {
        "uuid": uuid_mod.UUID(str(body["uuid"])),
        "category": body["category"],
        "subcategory": _text(body.get("subcategory")),
        "severity": body.get("severity") or "medium",
        "difficulty": body.get("difficulty"),
        "title": _text(body["title"]),
        "description": _text(body.get("description")) or "",
        "lon": lon,
        "lat": lat,
        "reporter": worker_id,
        "reported_at": reported_at,
        "hash": payload_hash(body),
        "olon": body["lon"],
        "olat": body["lat"],
        "ocrs": crs,
        "actor_type": "worker" if worker_id is not None else "system",
        "note": "reported via the mobile API" if worker_id is not None else "reported",
    }


def ingest_events(
    conn: Connection,
    reports: list[tuple[dict[str, Any], int | None]],
    *,
    now: dt.datetime | None = None,
) -> list[EventResult | IngestError]:
    """Record several reports at once (see :func:`ingest_event`): one result per report, in
    order — its :class:`EventResult`, or the :class:`IngestError` that refused it (the others
    are written all the same). One statement for the batch (more only when a uuid repeats
    within it: the repeat goes in the next statement, so it is answered as a replay or a 409,
    exactly as if it had come later). The caller commits."""
    now = now or dt.datetime.now(dt.UTC)
    out: list[EventResult | IngestError | None] = [None] * len(reports)
    rows: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
    for i, (body, worker_id) in enumerate(reports):
        try:
            rows.append((i, body, _prepare(conn, body, worker_id, now)))
        except IngestError as exc:
            out[i] = exc
    while rows:
        seen: set[uuid_mod.UUID] = set()
        batch, later = [], []
        for item in rows:
            (later if item[2]["uuid"] in seen else batch).append(item)
            seen.add(item[2]["uuid"])
        params: dict[str, Any] = {c: [p[c] for _, _, p in batch] for c in _COLUMNS}
        params["now"] = now
        results = conn.execute(_INGEST_SQL, params).all()
        for (i, body, p), row in zip(batch, results, strict=True):
            out[i] = _outcome(conn, body, p, row)
        rows = later
    return out  # type: ignore[return-value]


def _outcome(conn: Connection, body: dict[str, Any], p: dict[str, Any], row: Any):
    if row.code is None:
        return _outside(body, p["ocrs"])
    if row.id is None:  # the uuid exists: a replay, or a concurrent request committed first
        try:
            return _replay(_event_row(conn, p["uuid"]), p["hash"])
        except IngestError as exc:
            return exc
    # What was just inserted, in the shape of an _EVENT_SQL row (no second read).
    stored = SimpleNamespace(
        uuid=p["uuid"], category=p["category"], subcategory=p["subcategory"],
        severity=p["severity"], difficulty=p["difficulty"], title=p["title"],
        description=p["description"], status="reported", lon=p["lon"], lat=p["lat"],
        original_lon=p["olon"], original_lat=p["olat"], original_crs=p["ocrs"],
        reported_at=row.reported_at, cell_code=row.code, cell_path=row.path,
    )  # fmt: skip
    return EventResult(True, event_dict(stored))


def ingest_event(
    conn: Connection, body: dict[str, Any], *, worker_id: int | None, now: dt.datetime | None = None
) -> EventResult:
    """Record a reported event (idempotent on ``body['uuid']``); the caller commits.

    ``body`` is a validated report (keys of ``api.v1.schemas.EventIn`` dumped in JSON mode):
    ``uuid, category, subcategory, severity, difficulty, title, description, lon, lat, crs,
    reported_at``. Coordinates in ``crs`` are converted to WGS-84 and the original kept; the
    point is attributed to its L6 cell. A replay of the same body returns the stored event with
    ``created=False``; the same uuid with a different body raises 409; outside the prefecture
    422. Writes the first ``event_action`` row (actor: the worker, or 'system' when None).

    Attribution, the event and its history row are one statement. On an ``AUTOCOMMIT``
    connection that statement is its own transaction, committed by the server before it
    answers: the history's advisory locks (migrations 0004 and 0006, held to COMMIT) are then
    never held across a round trip to this process. ``POST /api/v1/events`` writes the reports
    arriving together as one such statement (:mod:`geodata.ingest_batch`).
    """
    (result,) = ingest_events(conn, [(body, worker_id)], now=now)
    if isinstance(result, IngestError):
        raise result
    return result


def _outside(body: dict[str, Any], crs: str) -> IngestError:
    return IngestError(
        422, "outside_area",
        f"({body['lon']}, {body['lat']}) in {crs} is outside the prefecture (no grid cell "
        "contains it)",
        "lon",
    )  # fmt: skip


def _replay(row: Any, digest: str) -> EventResult:
    if row.payload_hash != digest:
        raise IngestError(
            409, "conflict",
            "an event with this uuid already exists with a different body", "uuid"
        )  # fmt: skip
    return EventResult(False, event_dict(row))


def event_for_worker(conn: Connection, event_uuid: uuid_mod.UUID, worker_id: int) -> Any | None:
    """The event if the worker may see it (reported by / assigned to them, or inside their L5
    grid's subtree), else None — unknown and out-of-scope are indistinguishable on purpose."""
    row = conn.execute(
        text(
            _EVENT_SQL
            + """
            JOIN grid_worker w ON w.id = :w
            JOIN grid_cell wc ON wc.id = w.cell_id
            WHERE e.uuid = :u
              AND (e.reporter_id = w.id OR e.assignee_id = w.id
                   OR c.path <@ subpath(wc.path, 0, LEAST(nlevel(wc.path), 5)))
            """
        ),
        {"u": event_uuid, "w": worker_id},
    ).one_or_none()
    return None if row is None else event_dict(row)


# ----------------------------------------------------------------------------- positions
# The GPS pipeline (multi-worker, vectorised) lives in geodata.positions; re-exported here so
# ``from geodata.ingest import ingest_positions`` keeps working.
from geodata.positions import (  # noqa: E402, F401
    PositionResult,
    check_fix,
    ingest_fleet_positions,
    ingest_positions,
)

# ----------------------------------------------------------------------------- worker


def worker_profile(conn: Connection, worker_id: int) -> dict[str, Any] | None:
    """The worker as the app shows them: employee number, name, duty, last fix, cell chain."""
    w = conn.execute(
        text(
            """
            SELECT w.employee_no, w.name, w.duty_status, w.last_fix_at,
                   ST_X(w.position) AS lon, ST_Y(w.position) AS lat, ltree2text(c.path) AS path
            FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id WHERE w.id = :w
            """
        ),
        {"w": worker_id},
    ).one_or_none()
    if w is None:
        return None
    chain = conn.execute(
        text(
            "SELECT code, level, name FROM grid_cell "
            "WHERE code = ANY (string_to_array(:p, '.')) ORDER BY level"
        ),
        {"p": w.path},
    ).all()
    return {
        "employee_no": w.employee_no,
        "name": w.name,
        "duty_status": w.duty_status,
        "last_fix_at": w.last_fix_at.isoformat() if w.last_fix_at else None,
        "position": {"lon": w.lon, "lat": w.lat} if w.lon is not None else None,
        "cells": [{"code": r.code, "level": r.level, "name": r.name} for r in chain],
    }
