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
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.attribution import CHINA_BOUNDS, CoordinateError, attribute_point, validate_lonlat
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

    existing = _event_row(conn, ev_uuid)
    if existing is not None:
        return _replay(existing, digest)

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

    new_id = conn.execute(
        text(
            """
            INSERT INTO event (uuid, category, subcategory, severity, difficulty, title,
                description, location, cell_id, status, reporter_id, reported_at, version,
                synthetic, payload_hash, original_lon, original_lat, original_crs)
            VALUES (:uuid, :category, :subcategory, :severity, :difficulty, :title,
                :description, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :cell_id, 'reported',
                :reporter, :reported_at, 1, false, :hash, :olon, :olat, :ocrs)
            ON CONFLICT (uuid) DO NOTHING
            RETURNING id
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
        },
    ).scalar_one_or_none()
    if new_id is None:  # a concurrent request with the same uuid committed first
        return _replay(_event_row(conn, ev_uuid), digest)
    conn.execute(
        text(
            "INSERT INTO event_action (event_id, actor_type, actor_id, at, from_status, "
            "to_status, note) VALUES (:e, :t, :a, :at, NULL, 'reported', :n)"
        ),
        {
            "e": new_id,
            "t": "worker" if worker_id is not None else "system",
            "a": worker_id,
            "at": now,
            "n": "reported via the mobile API" if worker_id is not None else "reported",
        },
    )
    return EventResult(True, event_dict(_event_row(conn, ev_uuid)))


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


@dataclass
class PositionResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, index: int, reason: str, detail: str = "") -> None:
        self.rejected.append({"index": index, "reason": reason, "detail": detail})


def check_fix(lon: float, lat: float, fix_time: dt.datetime, now: dt.datetime) -> tuple[str, str]:
    """Static checks of one fix: ('', '') when plausible, else (reason, detail)."""
    if fix_time > now + FUTURE_TOLERANCE:
        return "future", f"fix_time is more than {FUTURE_TOLERANCE} ahead of the server clock"
    try:
        lon, lat = validate_lonlat(lon, lat)
    except CoordinateError as exc:
        return "invalid_coordinates", str(exc)
    if lon == 0 and lat == 0:
        return "null_island", "(0, 0) is the default of a phone without a fix"
    x0, y0, x1, y1 = CHINA_BOUNDS
    if not (x0 <= lon <= x1 and y0 <= lat <= y1):
        if x0 <= lat <= x1 and y0 <= lon <= y1:
            return "outside_china", "outside China: are lon and lat swapped?"
        return "outside_china", f"({lon}, {lat}) is outside China"
    return "", ""


def ingest_positions(
    conn: Connection,
    worker_id: int,
    fixes: list[tuple[int, dt.datetime, float, float, float | None]],
    *,
    now: dt.datetime | None = None,
    source: str = "gps",
) -> PositionResult:
    """Store one worker's GPS fixes ``(index, fix_time, lon, lat, accuracy_m)``; caller commits.

    At-least-once safe: a fix already stored for (worker, fix_time) counts as a duplicate.
    Rejected per item (the rest is kept): future, (0,0), outside China, and an implied speed
    above :data:`MAX_SPEED_MS` from the neighbouring stored (or earlier accepted) fix.
    Out-of-order fixes are stored; ``grid_worker.position``/``last_fix_at`` only move forward.
    Returns counts; ``rejected`` items carry the caller's ``index``.
    """
    now = now or dt.datetime.now(dt.UTC)
    res = PositionResult()
    ok: list[tuple[int, dt.datetime, float, float, float | None]] = []
    for item in fixes:
        reason, detail = check_fix(item[2], item[3], item[1], now)
        if reason:
            res.reject(item[0], reason, detail)
        else:
            ok.append(item)
    if not ok:
        return res

    # Neighbouring stored fixes (before and after each candidate), one round trip.
    times = [f[1] for f in ok]
    neigh = conn.execute(
        text(
            """
            SELECT t.i,
                   p.fix_time AS p_time, ST_X(p.geom) AS p_lon, ST_Y(p.geom) AS p_lat,
                   n.fix_time AS n_time, ST_X(n.geom) AS n_lon, ST_Y(n.geom) AS n_lat,
                   d.fix_time IS NOT NULL AS dup
            FROM unnest(CAST(:times AS timestamptz[])) WITH ORDINALITY AS t(ts, i)
            LEFT JOIN LATERAL (SELECT fix_time, geom FROM worker_position
                WHERE worker_id = :w AND fix_time < t.ts ORDER BY fix_time DESC LIMIT 1) p ON true
            LEFT JOIN LATERAL (SELECT fix_time, geom FROM worker_position
                WHERE worker_id = :w AND fix_time > t.ts ORDER BY fix_time LIMIT 1) n ON true
            LEFT JOIN worker_position d ON d.worker_id = :w AND d.fix_time = t.ts
            ORDER BY t.i
            """
        ),
        {"times": times, "w": worker_id},
    ).all()

    def too_fast(a_lon, a_lat, a_t, b_lon, b_lat, b_t) -> float | None:
        secs = abs((b_t - a_t).total_seconds())
        speed = haversine_m(a_lon, a_lat, b_lon, b_lat) / secs if secs else 0.0
        return speed if speed > MAX_SPEED_MS else None

    rows: list[tuple[dt.datetime, float, float, float | None]] = []
    seen: set[dt.datetime] = set()
    order = sorted(range(len(ok)), key=lambda k: ok[k][1])
    last: tuple[dt.datetime, float, float] | None = None  # latest accepted batch fix so far
    for k in order:
        idx, t, lon, lat, acc = ok[k]
        nb = neigh[k]
        if nb.dup or t in seen:
            res.duplicates += 1
            continue
        prev = (nb.p_time, nb.p_lon, nb.p_lat) if nb.p_time is not None else None
        if last is not None and (prev is None or last[0] > prev[0]):
            prev = last
        speed = None
        if prev is not None:
            speed = too_fast(prev[1], prev[2], prev[0], lon, lat, t)
        if speed is None and nb.n_time is not None:
            speed = too_fast(lon, lat, t, nb.n_lon, nb.n_lat, nb.n_time)
        if speed is not None:
            res.reject(
                idx,
                "impossible_speed",
                f"{speed:.0f} m/s from the neighbouring fix (limit {MAX_SPEED_MS:.0f})",
            )
            continue
        seen.add(t)
        last = (t, lon, lat)
        rows.append((t, lon, lat, acc))
    if not rows:
        return res

    inserted = conn.execute(
        text(
            """
            INSERT INTO worker_position (worker_id, fix_time, geom, accuracy_m, source)
            SELECT :w, f.t, ST_SetSRID(ST_MakePoint(f.x, f.y), 4326), f.a, :src
            FROM unnest(CAST(:ts AS timestamptz[]), CAST(:xs AS float8[]),
                        CAST(:ys AS float8[]), CAST(:accs AS float8[])) AS f(t, x, y, a)
            ON CONFLICT (worker_id, fix_time) DO NOTHING
            RETURNING fix_time
            """
        ),
        {
            "w": worker_id,
            "src": source,
            "ts": [r[0] for r in rows],
            "xs": [r[1] for r in rows],
            "ys": [r[2] for r in rows],
            "accs": [r[3] for r in rows],
        },
    ).all()
    res.accepted = len(inserted)
    res.duplicates += len(rows) - len(inserted)  # lost a race with a concurrent resend
    latest = max(rows, key=lambda r: r[0])
    conn.execute(
        text(
            """
            UPDATE grid_worker SET position = ST_SetSRID(ST_MakePoint(:x, :y), 4326),
                   last_fix_at = :t
            WHERE id = :w AND (last_fix_at IS NULL OR last_fix_at < :t)
            """
        ),
        {"w": worker_id, "x": latest[1], "y": latest[2], "t": latest[0]},
    )
    return res


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
