"""Live field data for the map: events and grid workers as GeoJSON points, a worker's track,
an event's details, and the cursor-based change feed that fans changes out across processes.

Every query is scoped by the caller's jurisdiction (``path <@ scope`` through the cell of the
event or worker), binds every parameter, and returns plain JSON-safe dicts (lon/lat in
WGS-84, EPSG:4326; timestamps as ISO 8601 strings).

Cross-process updates: :func:`changes_since` compares ``event.updated_at`` and
``grid_worker.last_fix_at`` with a cursor the *browser* keeps (the last value it saw). Every
app process asks the one database, so a change committed by any process or host is seen by
all; nothing lives in process memory. Caveat: a row committed with a timestamp older than a
cursor already handed out (a long transaction whose ``now()`` precedes a faster one's commit)
is missed until the next full refresh; the dashboard's filters/viewport changes reload fully.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.cells import check_scope_path
from geodata.models import EVENT_CATEGORIES, EVENT_STATUSES
from geodata.stats import OPEN_STATUSES

__all__ = [
    "MAX_LIMIT",
    "changes_since",
    "event_detail",
    "events_geojson",
    "live_delta",
    "parse_cursor",
    "worker_track",
    "workers_geojson",
]

#: Hard cap on the points one call returns (the browser clusters them, but not millions).
MAX_LIMIT = 20_000
#: Hard cap on the rows one change-feed poll returns.
MAX_CHANGES = 5_000
#: Longest track one call returns (fixes).
MAX_TRACK_POINTS = 20_000

Bbox = tuple[float, float, float, float]


def _check_bbox(bbox: Sequence[float] | None) -> Bbox | None:
    if bbox is None:
        return None
    try:
        x0, y0, x1, y1 = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise ValueError(
            f"bbox must be 4 numbers (minlon, minlat, maxlon, maxlat), not {bbox!r}"
        ) from None
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise ValueError("bbox must be finite numbers")
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise ValueError(f"bbox out of range or inverted: {bbox!r}")
    return (x0, y0, x1, y1)


def _check_values(name: str, values: Sequence[str] | None, allowed: Sequence[str]) -> list | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    out = list(values)
    bad = [v for v in out if v not in allowed]
    if bad:
        raise ValueError(f"unknown {name}: {bad!r} (allowed: {', '.join(allowed)})")
    return out


def _check_time(name: str, value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, not {value!r}")
    return value


def parse_cursor(cursor: str | None) -> dt.datetime | None:
    """The change-feed cursor (ISO 8601 with offset) as a datetime; None for no cursor.
    ValueError when malformed or without a timezone."""
    if cursor is None or cursor == "":
        return None
    if not isinstance(cursor, str) or len(cursor) > 40:
        raise ValueError(f"cursor must be an ISO 8601 timestamp string, not {cursor!r}")
    try:
        value = dt.datetime.fromisoformat(cursor)
    except ValueError:
        raise ValueError(f"cursor is not an ISO 8601 timestamp: {cursor!r}") from None
    if value.tzinfo is None:
        raise ValueError("cursor must carry a timezone offset")
    return value


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _fc(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def _point(lon: float, lat: float, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
        "properties": props,
    }


_BBOX_SQL = "AND {col} && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)"

_EVENTS_SQL = """
    SELECT e.id, e.uuid::text AS uuid, e.category, e.status, e.severity, e.title,
           e.reported_at, e.updated_at,
           (e.status = ANY(:open) AND e.due_at < coalesce(CAST(:now AS timestamptz), now()))
             AS overdue,
           ST_X(e.location) AS lon, ST_Y(e.location) AS lat
    FROM event AS e JOIN grid_cell AS c ON c.id = e.cell_id
    WHERE c.path <@ CAST(:scope AS ltree) {where}
    ORDER BY e.reported_at DESC, e.id DESC
    LIMIT :limit
"""


def _event_feature(r: Any) -> dict[str, Any]:
    return _point(
        r.lon,
        r.lat,
        {
            "id": r.id,
            "uuid": r.uuid,
            "category": r.category,
            "status": r.status,
            "severity": r.severity,
            "title": r.title,  # raw: escaped where it becomes HTML (dashboard/assets/live.js)
            "reported_at": _iso(r.reported_at),
            "overdue": bool(r.overdue),
        },
    )


def events_geojson(
    conn: Connection,
    *,
    scope_path: str,
    bbox: Sequence[float] | None = None,
    categories: Sequence[str] | None = None,
    statuses: Sequence[str] | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 5000,
    now: dt.datetime | None = None,
    ids: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Events of the scope as a GeoJSON FeatureCollection of points (lon/lat, EPSG:4326),
    newest first, at most ``limit``. Filters: ``bbox`` (minlon, minlat, maxlon, maxlat),
    ``categories`` / ``statuses`` (None: all; empty list: none), ``reported_at`` in
    [``since``, ``until``). Properties: id, uuid, category, status, severity, title (raw
    text), reported_at (ISO), overdue (open and past ``due_at`` at ``now``, default the
    database's now). ``ids`` restricts to those event ids (the change feed).
    The collection also carries ``truncated``."""
    params: dict[str, Any] = {
        "scope": check_scope_path(scope_path),
        "open": list(OPEN_STATUSES),
        "now": _check_time("now", now),
    }
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_LIMIT}, not {limit!r}")
    where = []
    box = _check_bbox(bbox)
    if box is not None:
        where.append(_BBOX_SQL.format(col="e.location"))
        params.update(x0=box[0], y0=box[1], x1=box[2], y1=box[3])
    cats = _check_values("categories", categories, EVENT_CATEGORIES)
    if cats is not None:
        where.append("AND e.category = ANY(:cats)")
        params["cats"] = cats
    sts = _check_values("statuses", statuses, EVENT_STATUSES)
    if sts is not None:
        where.append("AND e.status = ANY(:sts)")
        params["sts"] = sts
    if ids is not None:
        where.append("AND e.id = ANY(:ids)")
        params["ids"] = _check_ids(ids)
    if _check_time("since", since) is not None:
        where.append("AND e.reported_at >= :since")
        params["since"] = since
    if _check_time("until", until) is not None:
        where.append("AND e.reported_at < :until")
        params["until"] = until
    params["limit"] = limit + 1
    rows = conn.execute(text(_EVENTS_SQL.format(where=" ".join(where))), params).all()
    out = _fc([_event_feature(r) for r in rows[:limit]])
    out["truncated"] = len(rows) > limit
    return out


_WORKERS_SQL = """
    SELECT w.id, w.name, w.duty_status, w.last_fix_at, c.code AS cell_code, c.name AS cell_name,
           EXTRACT(EPOCH FROM (coalesce(CAST(:now AS timestamptz), now()) - w.last_fix_at))
             AS age_s,
           ST_X(w.position) AS lon, ST_Y(w.position) AS lat
    FROM grid_worker AS w JOIN grid_cell AS c ON c.id = w.cell_id
    WHERE c.path <@ CAST(:scope AS ltree) AND w.active AND w.position IS NOT NULL {where}
    ORDER BY (w.duty_status = 'on_duty') DESC, w.last_fix_at DESC NULLS LAST, w.id
    LIMIT :limit
"""


def worker_status(duty_status: str, age_s: float | None, stale_after_s: float) -> str:
    """``off_duty`` (not on duty: off duty or on leave), ``stale`` (on duty, but no fix for
    more than ``stale_after_s`` seconds, or never), else ``on_duty``."""
    if duty_status != "on_duty":
        return "off_duty"
    if age_s is None or age_s > stale_after_s:
        return "stale"
    return "on_duty"


def _worker_feature(r: Any, stale_after_s: float) -> dict[str, Any]:
    age = None if r.age_s is None else max(0, round(float(r.age_s)))
    return _point(
        r.lon,
        r.lat,
        {
            "id": r.id,
            "name": r.name,
            "status": worker_status(r.duty_status, age, stale_after_s),
            "cell_name": r.cell_name,
            "fix_age_s": age,
        },
    )


def workers_geojson(
    conn: Connection,
    *,
    scope_path: str,
    bbox: Sequence[float] | None = None,
    stale_after_s: float = 900,
    now: dt.datetime | None = None,
    limit: int = MAX_LIMIT,
    ids: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Active workers of the scope with a known position, as GeoJSON points. Properties: id,
    name, status (``on_duty`` / ``off_duty`` / ``stale``, see :func:`worker_status`; ages
    measured at ``now``, default the database's now), cell_name, fix_age_s (seconds, None
    without a fix). On duty first, then the freshest fixes, at most ``limit``. ``ids`` restricts to
    those worker ids (the change feed)."""
    if isinstance(stale_after_s, bool) or not isinstance(stale_after_s, int | float):
        raise ValueError(f"stale_after_s must be a number of seconds, not {stale_after_s!r}")
    if not 0 < stale_after_s <= 7 * 86400:
        raise ValueError("stale_after_s must be between 0 and 7 days")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_LIMIT}, not {limit!r}")
    params: dict[str, Any] = {
        "scope": check_scope_path(scope_path),
        "now": _check_time("now", now),
        "limit": limit,
    }
    where = ""
    box = _check_bbox(bbox)
    if box is not None:
        where = _BBOX_SQL.format(col="w.position")
        params.update(x0=box[0], y0=box[1], x1=box[2], y1=box[3])
    if ids is not None:
        where += " AND w.id = ANY(:ids)"
        params["ids"] = _check_ids(ids)
    rows = conn.execute(text(_WORKERS_SQL.format(where=where)), params).all()
    return _fc([_worker_feature(r, stale_after_s) for r in rows])


_WORKER_IN_SCOPE_SQL = """
    SELECT w.id, w.name, w.duty_status, w.last_fix_at, c.code AS cell_code, c.name AS cell_name,
           EXTRACT(EPOCH FROM (now() - w.last_fix_at)) AS age_s
    FROM grid_worker AS w JOIN grid_cell AS c ON c.id = w.cell_id
    WHERE w.id = :id AND c.path <@ CAST(:scope AS ltree)
"""

_TRACK_SQL = """
    SELECT ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat, p.fix_time
    FROM worker_position AS p
    WHERE p.worker_id = :id AND p.fix_time >= :since AND p.fix_time < :until
    ORDER BY p.fix_time
    LIMIT :limit
"""


def _check_id(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**63:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")
    return value


def _check_ids(values: Sequence[int]) -> list[int]:
    out = [_check_id("id", v) for v in values]
    if len(out) > MAX_CHANGES:
        raise ValueError(f"at most {MAX_CHANGES} ids")
    return out


def worker_track(
    conn: Connection,
    *,
    scope_path: str,
    worker_id: int,
    since: dt.datetime,
    until: dt.datetime,
) -> dict[str, Any] | None:
    """The worker's fixes in [``since``, ``until``) as a GeoJSON Feature: a LineString (a
    Point for a single fix, null geometry for none) with properties id, name, cell_code,
    cell_name, duty_status, last_fix_at, fix_age_s (now) and ``times`` (ISO, one per
    vertex). None when the worker is unknown or outside the scope."""
    scope = check_scope_path(scope_path)
    wid = _check_id("worker_id", worker_id)
    if _check_time("since", since) is None or _check_time("until", until) is None:
        raise ValueError("since and until are required")
    if until <= since:
        raise ValueError("until must be after since")
    w = conn.execute(text(_WORKER_IN_SCOPE_SQL), {"id": wid, "scope": scope}).first()
    if w is None:
        return None
    rows = conn.execute(
        text(_TRACK_SQL), {"id": wid, "since": since, "until": until, "limit": MAX_TRACK_POINTS}
    ).all()
    coords = [[round(r.lon, 6), round(r.lat, 6)] for r in rows]
    if len(coords) >= 2:
        geometry: dict[str, Any] | None = {"type": "LineString", "coordinates": coords}
    elif coords:
        geometry = {"type": "Point", "coordinates": coords[0]}
    else:
        geometry = None
    return {
        "type": "Feature",
        "geometry": geometry,
        "properties": {
            "id": w.id,
            "name": w.name,
            "cell_code": w.cell_code,
            "cell_name": w.cell_name,
            "duty_status": w.duty_status,
            "last_fix_at": _iso(w.last_fix_at),
            "fix_age_s": None if w.age_s is None else max(0, round(float(w.age_s))),
            "times": [_iso(r.fix_time) for r in rows],
        },
    }


_EVENT_DETAIL_SQL = """
    SELECT e.id, e.uuid::text AS uuid, e.category, e.subcategory, e.status, e.severity,
           e.difficulty, e.title, e.description, e.reported_at, e.due_at, e.updated_at,
           (e.status = ANY(:open) AND e.due_at < now()) AS overdue,
           c.code AS cell_code, c.name AS cell_name,
           ST_X(e.location) AS lon, ST_Y(e.location) AS lat
    FROM event AS e JOIN grid_cell AS c ON c.id = e.cell_id
    WHERE e.id = :id AND c.path <@ CAST(:scope AS ltree)
"""


def event_detail(conn: Connection, *, scope_path: str, event_id: int) -> dict[str, Any] | None:
    """One event of the scope as a dict (raw text fields; timestamps ISO), or None when
    unknown or outside the scope."""
    params = {
        "id": _check_id("event_id", event_id),
        "scope": check_scope_path(scope_path),
        "open": list(OPEN_STATUSES),
    }
    r = conn.execute(text(_EVENT_DETAIL_SQL), params).mappings().first()
    if r is None:
        return None
    out = dict(r)
    for k in ("reported_at", "due_at", "updated_at"):
        out[k] = _iso(out[k])
    out["overdue"] = bool(out["overdue"])
    return out


_CHANGED_EVENTS_SQL = """
    SELECT e.id, e.updated_at
    FROM event AS e JOIN grid_cell AS c ON c.id = e.cell_id
    WHERE e.updated_at > :cursor AND c.path <@ CAST(:scope AS ltree)
    ORDER BY e.updated_at
    LIMIT :limit
"""

_CHANGED_WORKERS_SQL = """
    SELECT w.id, w.last_fix_at
    FROM grid_worker AS w JOIN grid_cell AS c ON c.id = w.cell_id
    WHERE w.last_fix_at > :cursor AND c.path <@ CAST(:scope AS ltree)
    ORDER BY w.last_fix_at
    LIMIT :limit
"""

_HIGH_WATER_SQL = """
    SELECT greatest((SELECT max(updated_at) FROM event),
                    (SELECT max(last_fix_at) FROM grid_worker))
"""


def changes_since(
    conn: Connection, *, scope_path: str, cursor: str | None
) -> tuple[str | None, list[int], list[int]]:
    """``(new_cursor, event_ids, worker_ids)``: the scope's events whose ``updated_at`` and
    workers whose ``last_fix_at`` are after ``cursor`` (ISO 8601), and the cursor to send
    next time (the largest such timestamp seen, or ``cursor`` when nothing changed).

    Without a cursor, nothing is reported as changed and the cursor starts at the
    database's current high-water mark (the caller has just loaded everything). The
    high-water mark is global (not scoped): it only says *when*, never *what*."""
    scope = check_scope_path(scope_path)
    start = parse_cursor(cursor)
    if start is None:
        high = conn.execute(text(_HIGH_WATER_SQL)).scalar()
        return _iso(high), [], []
    params = {"cursor": start, "scope": scope, "limit": MAX_CHANGES}
    events = conn.execute(text(_CHANGED_EVENTS_SQL), params).all()
    workers = conn.execute(text(_CHANGED_WORKERS_SQL), params).all()
    stamps = [r.updated_at for r in events] + [r.last_fix_at for r in workers]
    new = max(stamps) if stamps else start
    return _iso(new), [r.id for r in events], [r.id for r in workers]


def live_delta(
    conn: Connection,
    *,
    scope_path: str,
    cursor: str | None,
    bbox: Sequence[float] | None = None,
    categories: Sequence[str] | None = None,
    statuses: Sequence[str] | None = None,
    since: dt.datetime | None = None,
    stale_after_s: float = 900,
) -> tuple[str | None, dict[str, Any] | None]:
    """One poll of the change feed for a map: ``(new_cursor, delta)``; ``delta`` is None when
    nothing changed, else ``{"events": {"features", "removed"}, "workers": {...}}`` holding
    only the changed rows that match the map's filters (``features``) and the changed ids
    that no longer do (``removed``: the browser drops them). See :func:`changes_since`."""
    new_cursor, event_ids, worker_ids = changes_since(conn, scope_path=scope_path, cursor=cursor)
    if not event_ids and not worker_ids:
        return new_cursor, None
    events = (
        events_geojson(
            conn, scope_path=scope_path, bbox=bbox, categories=categories, statuses=statuses,
            since=since, ids=event_ids, limit=MAX_CHANGES,
        )["features"]
        if event_ids
        else []
    )  # fmt: skip
    workers = (
        workers_geojson(
            conn, scope_path=scope_path, bbox=bbox, stale_after_s=stale_after_s, ids=worker_ids
        )["features"]
        if worker_ids
        else []
    )
    kept_e = {f["properties"]["id"] for f in events}
    kept_w = {f["properties"]["id"] for f in workers}
    return new_cursor, {
        "events": {"features": events, "removed": [i for i in event_ids if i not in kept_e]},
        "workers": {"features": workers, "removed": [i for i in worker_ids if i not in kept_w]},
    }
