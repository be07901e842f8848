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
import unicodedata
import uuid as uuid_mod
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.attribution import CoordinateError, attribute_point, validate_lonlat
from geodata.crs import to_wgs84

#: A fix more than this far in the future (phone clock skew allowance) is rejected.
FUTURE_TOLERANCE = dt.timedelta(minutes=2)
#: Fastest plausible movement between two fixes of one worker (252 km/h), m/s.
MAX_SPEED_MS = 70.0
_EARTH_R = 6_371_008.8


class IngestError(Exception):
    """A rejected report: ``status`` (HTTP-like), ``error`` code, ``detail``, ``field``."""

    def __init__(self, status: int, error: str, detail: str, field: str | None = None):
        super().__init__(detail)
        self.status, self.error, self.detail, self.field = status, error, detail, field


def clean_text(value: str) -> str:
    """Drop control characters (except newline and tab) and lone surrogates; keep CJK/emoji.

    PostgreSQL refuses NUL in text and lone surrogates cannot be encoded to UTF-8, so both
    would otherwise fail deep in the driver."""
    return "".join(
        ch for ch in value
        if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs")
    )  # fmt: skip


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
    """
    now = now or dt.datetime.now(dt.UTC)
    digest = payload_hash(body)
    ev_uuid = uuid_mod.UUID(str(body["uuid"]))

    # No look-up first: the INSERT's ON CONFLICT finds replays (rare) in the same round trip.
    if body.get("difficulty") is not None and body["category"] != "dispute":
        raise IngestError(422, "invalid", "difficulty applies to disputes only", "difficulty")
    try:
        lon, lat = validate_lonlat(body["lon"], body["lat"])
        lon, lat = to_wgs84(lon, lat, body.get("crs") or "wgs84")
        attribution = attribute_point(conn, lon, lat)
    except CoordinateError as exc:
        raise IngestError(422, "invalid_location", str(exc), "lon") from None
    if attribution is None:
        raise IngestError(
            422, "outside_area",
            f"({body['lon']}, {body['lat']}) in {body.get('crs') or 'wgs84'} is outside the "
            "prefecture (no grid cell contains it)",
            "lon",
        )  # fmt: skip
    reported_at = body.get("reported_at") or now
    if isinstance(reported_at, str):
        reported_at = dt.datetime.fromisoformat(reported_at)
    if reported_at > now + FUTURE_TOLERANCE:
        raise IngestError(422, "invalid", "reported_at is in the future", "reported_at")

    # One statement: the event, its first history row, and what the answer needs.
    row = conn.execute(
        text(
            """
            WITH ins AS (
                INSERT INTO event (uuid, category, subcategory, severity, difficulty, title,
                    description, location, cell_id, status, reporter_id, reported_at, version,
                    synthetic, payload_hash, original_lon, original_lat, original_crs)
                VALUES (:uuid, :category, :subcategory, :severity, :difficulty, :title,
                    :description, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :cell_id,
                    'reported', :reporter, :reported_at, 1, false, :hash, :olon, :olat, :ocrs)
                ON CONFLICT (uuid) DO NOTHING
                RETURNING *
            ), act AS (
                INSERT INTO event_action (event_id, actor_type, actor_id, at, from_status,
                    to_status, note)
                SELECT id, :actor_type, :reporter, :now, NULL, 'reported', :note FROM ins
            )
            SELECT ins.id, ins.uuid, ins.category, ins.subcategory, ins.severity,
                   ins.difficulty, ins.title, ins.description, ins.status,
                   ST_X(ins.location) AS lon, ST_Y(ins.location) AS lat, ins.original_lon,
                   ins.original_lat, ins.original_crs, ins.reported_at, ins.payload_hash,
                   ins.reporter_id, ins.assignee_id, :cell_code AS cell_code,
                   :cell_path AS cell_path
            FROM ins
            """
        ),
        {
            "uuid": ev_uuid,
            "category": body["category"],
            "subcategory": body.get("subcategory"),
            "severity": body.get("severity") or "medium",
            "difficulty": body.get("difficulty"),
            "title": body["title"],
            "description": body.get("description") or "",
            "lon": lon,
            "lat": lat,
            "cell_id": attribution.cell.id,
            "reporter": worker_id,
            "reported_at": reported_at,
            "hash": digest,
            "olon": body["lon"],
            "olat": body["lat"],
            "ocrs": body.get("crs") or "wgs84",
            "actor_type": "worker" if worker_id is not None else "system",
            "now": now,
            "note": "reported via the mobile API" if worker_id is not None else "reported",
            "cell_code": attribution.cell.code,
            "cell_path": ".".join(c.code for c in attribution.chain),
        },
    ).one_or_none()
    if row is None:  # the uuid exists: a replay, or a concurrent request committed first
        return _replay(_event_row(conn, ev_uuid), digest)
    return EventResult(True, event_dict(row))


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
