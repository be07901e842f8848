"""Live field data for the map: a compact snapshot of the scope's events and grid workers, and
the change feed that fans changes out to every app process through the database.

How changes travel (see docs/live.md):

* Statement-level triggers (migration 0004) append one ``live_change`` row per changing
  statement on ``event`` / ``grid_worker`` / ``camera`` (a batch of 5,000 fixes is one row)
  and ``pg_notify('gridcmd_live', id)`` once. The trigger takes a transaction-scoped advisory
  lock first, so ``live_change`` ids become visible in id order: a reader that has seen id N
  has seen every committed change below N, and the browser's cursor (an id) never skips a
  transaction that committed late.
* Every app process LISTENs (:mod:`api.live`) only to learn the newest id cheaply; the
  browser polls with its cursor and gets the *current* state of the rows that changed after
  it, scoped to the caller's jurisdiction. Nothing lives in process memory that another
  process would need: the database is the single source of truth.

Wire format (columnar, so gzip packs it and 25,884 workers fit in a few hundred KB):
coordinates are integers in units of :data:`QUANTUM` degrees (≈1.1 m) from ``origin``
(``[lon0, lat0]``, the scope's south-west corner floored to 0.1°); ids are sorted and
delta-encoded (first id absolute, then differences). Times are ages in seconds at ``now``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.cells import check_scope_path
from gridcmd.vocab import EVENT_CATEGORIES, EVENT_STATUSES, OPEN_STATUSES, SEVERITIES

__all__ = [
    "CHANNEL",
    "DUTY_CODES",
    "QUANTUM",
    "LiveReset",
    "changes",
    "decode_ids",
    "encode_ids",
    "event_detail",
    "latest_change_id",
    "listen_for_changes",
    "prune",
    "snapshot",
    "worker_detail",
    "worker_track",
]

#: The NOTIFY channel of the change log (payload: the new ``live_change.id``).
CHANNEL = "gridcmd_live"
#: Coordinate unit on the wire, degrees (1e-5° ≈ 1.1 m north-south in Dali).
QUANTUM = 1e-5
#: ``grid_worker.duty_status`` → wire code.
DUTY_CODES = {"off_duty": 0, "on_duty": 1, "on_leave": 2}
#: Most change-log rows one poll reads; a browser further behind reloads the snapshot.
MAX_CHANGE_ROWS = 600
#: Most ids one poll resolves (a whole fleet moves by ~26,000 ids per 10 s).
MAX_CHANGED_IDS = 60_000
#: Events in a snapshot: the open ones plus those reported in the last this-many days.
EVENT_WINDOW = dt.timedelta(days=30)
#: Most events in a snapshot (newest first).
MAX_EVENTS = 20_000
#: Longest track one call returns (fixes); longer ones are thinned evenly (ends kept).
MAX_TRACK_POINTS = 5_000
#: Longest period one track request may cover.
MAX_TRACK_SPAN = dt.timedelta(days=7)
#: grid_meta key: change-log ids below this were pruned (a cursor below it must reload).
PRUNED_KEY = "live_pruned_below"


class LiveReset(Exception):
    """The cursor can no longer be served incrementally (pruned, or too far behind): the
    browser must load a fresh snapshot."""


# ----------------------------------------------------------------------------- encoding


def encode_ids(ids: Sequence[int]) -> list[int]:
    """Sorted ids → first id, then differences (small numbers gzip well)."""
    out: list[int] = []
    prev = 0
    for i in ids:
        out.append(i - prev)
        prev = i
    return out


def decode_ids(deltas: Iterable[int]) -> list[int]:
    """Inverse of :func:`encode_ids`."""
    out: list[int] = []
    acc = 0
    for d in deltas:
        acc += d
        out.append(acc)
    return out


def _q(value: float, origin: float) -> int:
    return round((value - origin) / QUANTUM)


def scope_origin(conn: Connection, scope: str) -> tuple[float, float]:
    """The wire origin of a scope: its cell's south-west corner floored to 0.1°."""
    row = conn.execute(
        text(
            "SELECT ST_XMin(geom) AS x, ST_YMin(geom) AS y FROM grid_cell "
            "WHERE path = CAST(:s AS ltree)"
        ),
        {"s": scope},
    ).one_or_none()
    if row is None:
        return (0.0, 0.0)
    return (math.floor(row.x * 10) / 10, math.floor(row.y * 10) / 10)


def _age(now: dt.datetime, t: dt.datetime | None) -> int:
    return -1 if t is None else max(0, round((now - t).total_seconds()))


_WORKER_COLS = """
    SELECT w.id, ST_X(w.position) AS lon, ST_Y(w.position) AS lat, w.last_fix_at,
           w.duty_status, w.active AND w.position IS NOT NULL AS visible
    FROM grid_worker AS w JOIN grid_cell AS c ON c.id = w.cell_id
    WHERE c.path <@ CAST(:scope AS ltree)
"""


def _encode_workers(rows: Sequence[Any], origin: tuple[float, float], now: dt.datetime) -> dict:
    """Columnar workers: ``i`` ids (delta), ``x``/``y`` quantised, ``a`` fix age s (-1: none),
    ``s`` duty code; ``r`` ids (delta) to remove (inactive or without a position)."""
    keep = sorted((r for r in rows if r.visible), key=lambda r: r.id)
    gone = sorted(r.id for r in rows if not r.visible)
    return {
        "i": encode_ids([r.id for r in keep]),
        "x": [_q(r.lon, origin[0]) for r in keep],
        "y": [_q(r.lat, origin[1]) for r in keep],
        "a": [_age(now, r.last_fix_at) for r in keep],
        "s": [DUTY_CODES.get(r.duty_status, 0) for r in keep],
        "r": encode_ids(gone),
    }


_EVENT_COLS = """
    SELECT e.id, ST_X(e.location) AS lon, ST_Y(e.location) AS lat, e.category, e.status,
           e.severity, e.reported_at, e.due_at, e.supervised_at
    FROM event AS e JOIN grid_cell AS c ON c.id = e.cell_id
    WHERE c.path <@ CAST(:scope AS ltree)
"""
_CAT = {c: i for i, c in enumerate(EVENT_CATEGORIES)}
_STATUS = {s: i for i, s in enumerate(EVENT_STATUSES)}
_SEV = {s: i for i, s in enumerate(SEVERITIES)}


def _encode_events(rows: Sequence[Any], origin: tuple[float, float], now: dt.datetime) -> dict:
    """Columnar events: ``i`` ids (delta), ``x``/``y`` quantised, ``k`` category index,
    ``s`` status index, ``v`` severity index, ``t`` age of the report in minutes,
    ``o`` 1 when overdue (open and past due) else 0, ``u`` 1 when an open case is under
    supervision (督办) else 0. Index tables: :func:`vocabulary`."""
    rows = sorted(rows, key=lambda r: r.id)
    return {
        "i": encode_ids([r.id for r in rows]),
        "x": [_q(r.lon, origin[0]) for r in rows],
        "y": [_q(r.lat, origin[1]) for r in rows],
        "k": [_CAT[r.category] for r in rows],
        "s": [_STATUS[r.status] for r in rows],
        "v": [_SEV[r.severity] for r in rows],
        "t": [max(0, round((now - r.reported_at).total_seconds() / 60)) for r in rows],
        "o": [
            1 if (r.status in OPEN_STATUSES and r.due_at is not None and r.due_at < now) else 0
            for r in rows
        ],
        "u": [
            1 if (r.status in OPEN_STATUSES and r.supervised_at is not None) else 0 for r in rows
        ],
    }


def vocabulary() -> dict[str, Any]:
    """The index tables the columnar events use (sent with every snapshot)."""
    return {
        "categories": list(EVENT_CATEGORIES),
        "statuses": list(EVENT_STATUSES),
        "severities": list(SEVERITIES),
        "open": [s for s in EVENT_STATUSES if s in OPEN_STATUSES],
        "duty": {str(v): k for k, v in DUTY_CODES.items()},
    }


# ----------------------------------------------------------------------------- feed


def latest_change_id(conn: Connection) -> int:
    """The newest committed ``live_change`` id visible to ``conn`` (0 when empty)."""
    return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM live_change")).scalar_one())


def listen_for_changes(pg_conn: Any) -> int:
    """Subscribe ``pg_conn`` — a plain psycopg connection in autocommit mode, held open by
    its listener thread (SQLAlchemy's pool would hand it to others) — to :data:`CHANNEL`,
    then return the newest change id. Read after the LISTEN, so a change committed in
    between is heard or counted, never missed."""
    pg_conn.execute(f"LISTEN {CHANNEL}")  # a constant identifier: LISTEN takes no parameters
    row = pg_conn.execute("SELECT coalesce(max(id), 0) FROM live_change").fetchone()
    return int(row[0]) if row else 0


def _db_now(conn: Connection) -> dt.datetime:
    return conn.execute(text("SELECT now()")).scalar_one()


def snapshot(
    conn: Connection,
    *,
    scope_path: str,
    kinds: Sequence[str] = ("events", "workers"),
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The scope's live points and the cursor they are consistent with.

    Run it in a REPEATABLE READ transaction (``api.live`` does): the cursor and the rows then
    come from one snapshot, and changes committed after it have larger ids (see module doc).
    ``kinds``: any of ``events`` (open, or reported in the last :data:`EVENT_WINDOW`; newest
    :data:`MAX_EVENTS`) and ``workers`` (active, with a position). Times are measured at
    ``now`` (default: the database's transaction time)."""
    scope = check_scope_path(scope_path)
    bad = set(kinds) - {"events", "workers"}
    if bad:
        raise ValueError(f"unknown kinds: {sorted(bad)}")
    cursor = latest_change_id(conn)
    now = now or _db_now(conn)
    origin = scope_origin(conn, scope)
    out: dict[str, Any] = {"cursor": cursor, "origin": list(origin), "q": QUANTUM, "now": now}
    if "workers" in kinds:
        rows = conn.execute(
            text(_WORKER_COLS + " AND w.active AND w.position IS NOT NULL"), {"scope": scope}
        ).all()
        out["workers"] = _encode_workers(rows, origin, now)
    if "events" in kinds:
        rows = conn.execute(
            text(
                _EVENT_COLS
                + """ AND (e.status = ANY(:open) OR e.reported_at >= :since)
                ORDER BY e.reported_at DESC LIMIT :limit"""
            ),
            {
                "scope": scope,
                "open": list(OPEN_STATUSES),
                "since": now - EVENT_WINDOW,
                "limit": MAX_EVENTS,
            },
        ).all()
        out["events"] = _encode_events(rows, origin, now)
        out["vocabulary"] = vocabulary()
    out["now"] = now.isoformat()
    return out


def changes(
    conn: Connection,
    *,
    scope_path: str,
    cursor: int,
    kinds: Sequence[str] = ("events", "workers"),
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """What changed after ``cursor`` (a ``live_change`` id), as the current state of the
    changed rows inside the scope, in the snapshot's wire format, with the next cursor.

    Raises :class:`LiveReset` when the cursor was pruned or is more than
    :data:`MAX_CHANGE_ROWS` statements behind, and ValueError for a negative cursor."""
    scope = check_scope_path(scope_path)
    if isinstance(cursor, bool) or not isinstance(cursor, int) or cursor < 0:
        raise ValueError(f"cursor must be a non-negative integer, not {cursor!r}")
    pruned = conn.execute(
        text("SELECT value FROM grid_meta WHERE key = :k"), {"k": PRUNED_KEY}
    ).scalar_one_or_none()
    if pruned is not None and cursor < int(pruned) - 1:
        raise LiveReset("the cursor is older than the kept change log")
    rows = conn.execute(
        text("SELECT id, kind, ids FROM live_change WHERE id > :c ORDER BY id LIMIT :n"),
        {"c": cursor, "n": MAX_CHANGE_ROWS + 1},
    ).all()
    if len(rows) > MAX_CHANGE_ROWS:
        raise LiveReset(f"more than {MAX_CHANGE_ROWS} changes behind")
    now = now or _db_now(conn)
    new_cursor = rows[-1].id if rows else cursor
    worker_ids: set[int] = set()
    event_ids: set[int] = set()
    for r in rows:
        if r.kind == "worker" and "workers" in kinds:
            worker_ids.update(r.ids)
        elif r.kind == "event" and "events" in kinds:
            event_ids.update(r.ids)
    if len(worker_ids) + len(event_ids) > MAX_CHANGED_IDS:
        raise LiveReset(f"more than {MAX_CHANGED_IDS} changed rows")
    out: dict[str, Any] = {"cursor": new_cursor, "now": now.isoformat()}
    if not worker_ids and not event_ids:
        return out
    origin = scope_origin(conn, scope)
    out["origin"] = list(origin)
    if worker_ids:
        wrows = conn.execute(
            text(_WORKER_COLS + " AND w.id = ANY(:ids)"),
            {"scope": scope, "ids": sorted(worker_ids)},
        ).all()
        out["workers"] = _encode_workers(wrows, origin, now)
    if event_ids:
        erows = conn.execute(
            text(_EVENT_COLS + " AND e.id = ANY(:ids)"),
            {"scope": scope, "ids": sorted(event_ids)},
        ).all()
        out["events"] = _encode_events(erows, origin, now)
    return out


def prune(conn: Connection, *, keep: dt.timedelta = dt.timedelta(hours=2)) -> int:
    """Delete change-log rows older than ``keep`` and record the watermark; returns the count.
    The caller commits. Browsers whose cursor falls below the watermark reload a snapshot."""
    top = conn.execute(
        text("DELETE FROM live_change WHERE at < now() - :keep RETURNING id"), {"keep": keep}
    ).scalars().all()  # fmt: skip
    if top:
        conn.execute(
            text(
                "INSERT INTO grid_meta (key, value) VALUES (:k, :v) ON CONFLICT (key) DO UPDATE "
                "SET value = GREATEST(grid_meta.value::bigint, EXCLUDED.value::bigint)::text, "
                "updated_at = now()"
            ),
            {"k": PRUNED_KEY, "v": str(max(top) + 1)},
        )
    return len(top)


# ----------------------------------------------------------------------------- details


def _check_id(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**63:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")
    return value


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


_EVENT_DETAIL_SQL = """
    SELECT e.id, e.uuid::text AS uuid, e.category, e.subcategory, e.status, e.severity,
           e.difficulty, e.title, e.description, e.reported_at, e.due_at, e.updated_at,
           e.synthetic, (e.status = ANY(:open) AND e.due_at < now()) AS overdue,
           c.code AS cell_code, c.name AS cell_name, rw.name AS reporter, aw.name AS assignee,
           ST_X(e.location) AS lon, ST_Y(e.location) AS lat
    FROM event AS e JOIN grid_cell AS c ON c.id = e.cell_id
    LEFT JOIN grid_worker AS rw ON rw.id = e.reporter_id
    LEFT JOIN grid_worker AS aw ON aw.id = e.assignee_id
    WHERE e.id = :id AND c.path <@ CAST(:scope AS ltree)
"""


def event_detail(conn: Connection, *, scope_path: str, event_id: int) -> dict[str, Any] | None:
    """One event of the scope (raw text fields, timestamps ISO) with its photos (ids) and
    history, or None when unknown or outside the scope (indistinguishable on purpose)."""
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
    out["photos"] = list(
        conn.execute(
            text("SELECT id FROM event_photo WHERE event_id = :id ORDER BY id"), {"id": r["id"]}
        ).scalars()
    )
    out["history"] = [
        {"at": _iso(h.at), "from": h.from_status, "to": h.to_status, "note": h.note}
        for h in conn.execute(
            text(
                "SELECT at, from_status, to_status, note FROM event_action "
                "WHERE event_id = :id ORDER BY at, id"
            ),
            {"id": r["id"]},
        )
    ]
    return out


_WORKER_DETAIL_SQL = """
    SELECT w.id, w.employee_no, w.name, w.duty_status, w.last_fix_at, w.synthetic,
           ST_X(w.position) AS lon, ST_Y(w.position) AS lat,
           c.code AS cell_code, c.name AS cell_name, c.level AS cell_level
    FROM grid_worker AS w JOIN grid_cell AS c ON c.id = w.cell_id
    WHERE w.id = :id AND c.path <@ CAST(:scope AS ltree) AND w.active
"""


def worker_detail(
    conn: Connection, *, scope_path: str, worker_id: int, now: dt.datetime | None = None
) -> dict[str, Any] | None:
    """One active worker of the scope: name, employee number, cell, duty, last fix and its
    age in seconds at ``now``; None when unknown or outside the scope. The phone number is
    not included (personal data, not needed on the map)."""
    r = conn.execute(
        text(_WORKER_DETAIL_SQL),
        {"id": _check_id("worker_id", worker_id), "scope": check_scope_path(scope_path)},
    ).mappings().first()  # fmt: skip
    if r is None:
        return None
    now = now or _db_now(conn)
    out = dict(r)
    out["fix_age_s"] = None if r["last_fix_at"] is None else _age(now, r["last_fix_at"])
    out["last_fix_at"] = _iso(r["last_fix_at"])
    return out


def worker_track(
    conn: Connection,
    *,
    scope_path: str,
    worker_id: int,
    since: dt.datetime,
    until: dt.datetime,
) -> dict[str, Any] | None:
    """The worker's fixes in ``[since, until)`` as ``{"worker", "times", "coords",
    "thinned"}`` (coords ``[lon, lat]`` WGS-84, times ISO, time order; more than
    :data:`MAX_TRACK_POINTS` fixes are thinned evenly, first and last kept). None when the
    worker is unknown or outside the scope; ValueError for a bad period (max 7 days)."""
    for name, value in (("since", since), ("until", until)):
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ValueError(f"{name} must be a timezone-aware datetime")
    if until <= since:
        raise ValueError("the end of the period must be after its start")
    if until - since > MAX_TRACK_SPAN:
        raise ValueError(f"a track covers at most {MAX_TRACK_SPAN.days} days")
    worker = worker_detail(conn, scope_path=scope_path, worker_id=worker_id)
    if worker is None:
        return None
    rows = conn.execute(
        text(
            """
            SELECT fix_time, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM worker_position
            WHERE worker_id = :w AND fix_time >= :since AND fix_time < :until
            ORDER BY fix_time
            """
        ),
        {"w": worker_id, "since": since, "until": until},
    ).all()
    thinned = len(rows) > MAX_TRACK_POINTS
    if thinned:
        step = (len(rows) - 1) / (MAX_TRACK_POINTS - 1)
        rows = [rows[round(k * step)] for k in range(MAX_TRACK_POINTS)]
    return {
        "worker": worker,
        "times": [r.fix_time.isoformat() for r in rows],
        "coords": [[round(r.lon, 6), round(r.lat, 6)] for r in rows],
        "thinned": thinned,
    }
