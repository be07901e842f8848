"""The GPS position pipeline: one call stores the fixes of many workers (a phone's batch, or a
gateway relaying a whole fleet), vectorised so a 5,000-fix batch costs a handful of statements.

Steps (the caller's transaction; nothing here commits):

1. static checks in Python/numpy: a time too far ahead or back (:mod:`geodata.client_time`),
   invalid coordinates, (0, 0), outside China;
2. duplicates inside the batch (same worker and time) are counted, the first kept;
3. one ``SELECT … FOR NO KEY UPDATE`` reads each worker's current ``(position, last_fix_at)``
   and locks those rows in id order, so concurrent batches touching the same workers serialise
   instead of racing (or deadlocking) on the speed check and the forward-only update (the lock
   the UPDATE takes anyway; it does not block foreign-key checks of concurrent inserts);
4. **fast path** — fixes newer than ``last_fix_at`` (nearly all of them): the implied speed from
   the previous fix (the previous accepted fix of the batch, else the current position) is
   computed with numpy; only a worker whose batch contains a too-fast fix is re-walked in Python
   so that a rejected fix is not used as the next one's predecessor;
5. **slow path** — out-of-order fixes (at or before ``last_fix_at``) look up their stored
   neighbours before and after (``LATERAL``, one round trip for all of them);
6. one ``INSERT … SELECT FROM unnest(…) ON CONFLICT (worker_id, fix_time) DO NOTHING RETURNING``
   for all workers;
7. one ``UPDATE grid_worker … FROM unnest(…)`` moving each worker's current position forward
   (latest fix per worker, only when newer), so the statement-level live trigger writes one
   ``live_change`` row and one NOTIFY per batch.

Invariant relied on by the fast path: ``grid_worker.last_fix_at`` is the time of the worker's
latest stored fix (this pipeline and the demo seed keep it so), hence a fix newer than it has no
stored neighbour after it and cannot be a stored duplicate (a concurrent resend is still caught by
``ON CONFLICT`` and counted as a duplicate).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.attribution import CHINA_BOUNDS, CoordinateError, validate_lonlat
from geodata.client_time import FUTURE_TOLERANCE, MAX_CLIENT_AGE, client_time_error

#: Fastest plausible movement between two fixes of one worker (252 km/h), m/s.
MAX_SPEED_MS = 70.0
_EARTH_R = 6_371_008.8

#: ``(index, worker_id, fix_time, lon, lat, accuracy_m)``: one fix of a multi-worker batch.
FleetFix = tuple[int, int, dt.datetime, float, float, "float | None"]


@dataclass
class PositionResult:
    """Counts of a batch; ``rejected`` items are ``{index, reason, detail}``."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, index: int, reason: str, detail: str = "") -> None:
        self.rejected.append({"index": index, "reason": reason, "detail": detail})


def check_fix(lon: float, lat: float, fix_time: dt.datetime, now: dt.datetime) -> tuple[str, str]:
    """Static checks of one fix: ('', '') when plausible, else (reason, detail)."""
    refused = client_time_error(fix_time, now, "fix_time")
    if refused is not None:
        return refused
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


def haversine_np(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distances in metres between arrays of WGS-84 points (degrees)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * _EARTH_R * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def _speed(lon1, lat1, t1, lon2, lat2, t2) -> float:
    """Implied speed (m/s) between two fixes; 0 when the times are equal."""
    secs = abs(t2 - t1)
    return float(haversine_np(lon1, lat1, lon2, lat2)) / secs if secs else 0.0


def _too_fast_detail(speed: float) -> str:
    return f"{speed:.0f} m/s from the neighbouring fix (limit {MAX_SPEED_MS:.0f})"


def _epoch(t: dt.datetime) -> float:
    return t.timestamp()


# Arrays go to PostgreSQL as one text literal each (``'{1,2,3}'``, cast in SQL): psycopg's
# list adapter costs ~40 µs per element in Python, i.e. ~0.2 s for a 5,000-fix batch.


def _pg_array(items) -> str:
    return "{" + ",".join(items) + "}"


def _pg_ints(a: np.ndarray) -> str:
    return _pg_array(map(str, a.tolist()))


def _pg_floats(values) -> str:
    """float8[] literal; ``repr`` is the shortest exact round trip; None → NULL."""
    return _pg_array("NULL" if v is None else repr(float(v)) for v in values)


def _pg_times(epoch_s: np.ndarray) -> str:
    """timestamptz[] literal from epoch seconds (exact to the microsecond: the float64 error
    at today's epoch is < 0.3 µs, and the value is rounded to whole microseconds)."""
    us = np.rint(epoch_s * 1e6).astype(np.int64).astype("datetime64[us]")
    return _pg_array(np.datetime_as_string(us, unit="us", timezone="UTC").tolist())


def ingest_positions(
    conn: Connection,
    worker_id: int,
    fixes: Sequence[tuple[int, dt.datetime, float, float, float | None]],
    *,
    now: dt.datetime | None = None,
) -> PositionResult:
    """Store one worker's fixes ``(index, fix_time, lon, lat, accuracy_m)``; caller commits.

    A thin wrapper over :func:`ingest_fleet_positions` (same checks and counts)."""
    return ingest_fleet_positions(
        conn, [(i, worker_id, t, x, y, a) for i, t, x, y, a in fixes], now=now
    )


def ingest_fleet_positions(
    conn: Connection,
    fixes: Sequence[FleetFix],
    *,
    now: dt.datetime | None = None,
) -> PositionResult:
    """Store GPS fixes of many workers ``(index, worker_id, fix_time, lon, lat, accuracy_m)``
    (WGS-84 degrees, metres, aware datetimes) with ``source = 'gps'`` (the phone API's fixes
    name no other source); the caller commits.

    At-least-once safe: a fix already stored for (worker, fix_time), or repeated in the batch,
    counts as a duplicate. Rejected per item (the rest is kept): ``future``, ``too_old``,
    ``invalid_coordinates``, ``null_island``, ``outside_china``, and ``impossible_speed`` (above
    :data:`MAX_SPEED_MS` from the neighbouring stored fix before or after, or from the previous
    accepted fix of the batch). Out-of-order fixes are stored; ``grid_worker.position`` and
    ``last_fix_at`` only move forward. ``worker_id`` values must exist (the API resolves them).
    Returns counts; rejected items carry the caller's ``index``.
    """
    now = now or dt.datetime.now(dt.UTC)
    res = PositionResult()
    n = len(fixes)
    if n == 0:
        return res

    # 1. static checks, vectorised; the few failures get their reason from check_fix
    wid = np.fromiter((f[1] for f in fixes), dtype=np.int64, count=n)
    ts = np.fromiter((_epoch(f[2]) for f in fixes), dtype=np.float64, count=n)
    lon = np.fromiter((f[3] for f in fixes), dtype=np.float64, count=n)
    lat = np.fromiter((f[4] for f in fixes), dtype=np.float64, count=n)
    x0, y0, x1, y1 = CHINA_BOUNDS
    with np.errstate(invalid="ignore"):
        ok = (
            (ts <= _epoch(now + FUTURE_TOLERANCE))
            & (ts >= _epoch(now - MAX_CLIENT_AGE))
            & np.isfinite(lon)
            & np.isfinite(lat)
            & (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
        )  # fmt: skip
    for k in np.flatnonzero(~ok):
        f = fixes[k]
        reason, detail = check_fix(f[3], f[4], f[2], now)
        res.reject(f[0], reason or "outside_china", detail)
    keep = np.flatnonzero(ok)
    if keep.size == 0:
        return res

    # 2. order by (worker, time, input position); in-batch duplicates: keep the first
    order = keep[np.lexsort((keep, ts[keep], wid[keep]))]
    w_o, t_o = wid[order], ts[order]
    same = np.zeros(order.size, dtype=bool)
    same[1:] = (w_o[1:] == w_o[:-1]) & (t_o[1:] == t_o[:-1])
    res.duplicates += int(same.sum())
    order = order[~same]
    w_o, t_o, x_o, y_o = wid[order], ts[order], lon[order], lat[order]

    # 3. current position of every worker of the batch, rows locked in id order
    workers = np.unique(w_o)
    # (float8 epoch: the same correctly rounded double as datetime.timestamp())
    cur = conn.execute(
        text(
            """
            SELECT id::float8, coalesce(extract(epoch FROM last_fix_at)::float8, '-Infinity'),
                   coalesce(ST_X(position), 'NaN'), coalesce(ST_Y(position), 'NaN')
            FROM grid_worker WHERE id = ANY(CAST(:ids AS bigint[]))
            ORDER BY id FOR NO KEY UPDATE
            """
        ),
        {"ids": _pg_ints(workers)},
    ).all()
    # plain tuples: numpy probing SQLAlchemy Rows for array attributes costs ~50 µs per row
    table = np.array([tuple(r) for r in cur], dtype=np.float64).reshape(-1, 4)
    pos = np.searchsorted(workers, w_o)
    cur_t = np.full(workers.size, -np.inf)
    cur_x = np.full(workers.size, np.nan)
    cur_y = np.full(workers.size, np.nan)
    found = np.searchsorted(workers, table[:, 0].astype(np.int64))  # missing workers: no fix
    cur_t[found], cur_x[found], cur_y[found] = table[:, 1], table[:, 2], table[:, 3]
    fast = t_o > cur_t[pos]

    accepted = np.zeros(order.size, dtype=bool)
    # 5. slow path first (its fixes are older than every fast fix of the same worker)
    slow = np.flatnonzero(~fast)
    last_slow: dict[int, tuple[float, float, float]] = {}
    if slow.size:
        _slow_path(conn, res, fixes, order, slow, w_o, t_o, x_o, y_o, accepted, last_slow)

    # 4. fast path: predecessor = previous fix of the batch (same worker) else current position
    fidx = np.flatnonzero(fast)
    if fidx.size:
        fw, ft, fx, fy = w_o[fidx], t_o[fidx], x_o[fidx], y_o[fidx]
        first = np.ones(fidx.size, dtype=bool)
        first[1:] = fw[1:] != fw[:-1]
        pj = pos[fidx]
        px, py, pt = np.roll(fx, 1), np.roll(fy, 1), np.roll(ft, 1)
        px[first], py[first], pt[first] = cur_x[pj[first]], cur_y[pj[first]], cur_t[pj[first]]
        dist = haversine_np(px, py, fx, fy)
        secs = ft - pt
        with np.errstate(invalid="ignore", divide="ignore"):
            speed = np.where(np.isfinite(dist) & (secs > 0), dist / secs, 0.0)
        bad_workers = np.unique(fw[speed > MAX_SPEED_MS])
        if bad_workers.size == 0:
            accepted[fidx] = True
        else:
            # the common case stays vectorised; only these workers are walked fix by fix
            walk = np.isin(fw, bad_workers)
            accepted[fidx[~walk]] = True
            prev_of: dict[int, tuple[float, float, float] | None] = {}
            for g in np.flatnonzero(walk).tolist():
                k = fidx[g]
                w = int(w_o[k])
                if w not in prev_of:
                    j = pos[k]
                    p = (cur_t[j], cur_x[j], cur_y[j]) if np.isfinite(cur_x[j]) else None
                    sp = last_slow.get(w)
                    prev_of[w] = sp if sp is not None and (p is None or sp[0] > p[0]) else p
                p = prev_of[w]
                s = 0.0 if p is None else _speed(p[1], p[2], p[0], x_o[k], y_o[k], t_o[k])
                if s > MAX_SPEED_MS:
                    # rejected: not the next fix's predecessor
                    res.reject(fixes[order[k]][0], "impossible_speed", _too_fast_detail(s))
                else:
                    accepted[k] = True
                    prev_of[w] = (t_o[k], x_o[k], y_o[k])

    rows = np.flatnonzero(accepted)
    if rows.size == 0:
        return res

    # 6. one INSERT for every worker of the batch
    src = order[rows]
    inserted = conn.execute(
        text(
            """
            WITH ins AS (
                INSERT INTO worker_position (worker_id, fix_time, geom, accuracy_m, source)
                SELECT f.w, f.t, ST_SetSRID(ST_MakePoint(f.x, f.y), 4326), f.a, 'gps'
                FROM unnest(CAST(:ws AS bigint[]), CAST(:ts AS timestamptz[]),
                            CAST(:xs AS float8[]), CAST(:ys AS float8[]),
                            CAST(:accs AS float8[])) AS f(w, t, x, y, a)
                ON CONFLICT (worker_id, fix_time) DO NOTHING
                RETURNING 1
            )
            SELECT count(*) FROM ins
            """
        ),
        {
            "ws": _pg_ints(w_o[rows]),
            "ts": _pg_times(t_o[rows]),
            "xs": _pg_floats(x_o[rows].tolist()),
            "ys": _pg_floats(y_o[rows].tolist()),
            "accs": _pg_floats(fixes[k][5] for k in src.tolist()),
        },
    ).scalar_one()
    res.accepted = int(inserted)
    res.duplicates += int(rows.size) - res.accepted  # lost a race with a concurrent resend

    # 7. one UPDATE: each worker's latest accepted fix, when newer than the current one
    aw = w_o[rows]
    last_of = np.ones(rows.size, dtype=bool)
    last_of[:-1] = aw[:-1] != aw[1:]  # rows are sorted by (worker, time): last of each run
    lr = rows[last_of]
    newer = t_o[lr] > cur_t[pos[lr]]
    lr = lr[newer]
    if lr.size:
        conn.execute(
            text(
                """
                UPDATE grid_worker g
                SET position = ST_SetSRID(ST_MakePoint(u.x, u.y), 4326), last_fix_at = u.t
                FROM unnest(CAST(:ws AS bigint[]), CAST(:ts AS timestamptz[]),
                            CAST(:xs AS float8[]), CAST(:ys AS float8[])) AS u(w, t, x, y)
                WHERE g.id = u.w AND (g.last_fix_at IS NULL OR g.last_fix_at < u.t)
                """
            ),
            {
                "ws": _pg_ints(w_o[lr]),
                "ts": _pg_times(t_o[lr]),
                "xs": _pg_floats(x_o[lr].tolist()),
                "ys": _pg_floats(y_o[lr].tolist()),
            },  # fmt: skip
        )
    return res


def _slow_path(conn, res, fixes, order, slow, w_o, t_o, x_o, y_o, accepted, last_slow) -> None:
    """Out-of-order fixes: stored neighbours before/after and stored duplicates, one query;
    then walked in (worker, time) order like the batch's own predecessors."""
    src = order[slow].tolist()
    neigh = conn.execute(
        text(
            """
            SELECT t.i,
                   extract(epoch FROM p.fix_time) AS p_t, ST_X(p.geom) AS p_x,
                   ST_Y(p.geom) AS p_y,
                   extract(epoch FROM n.fix_time) AS n_t, ST_X(n.geom) AS n_x,
                   ST_Y(n.geom) AS n_y,
                   d.fix_time IS NOT NULL AS dup
            FROM unnest(CAST(:ws AS bigint[]), CAST(:ts AS timestamptz[]))
                 WITH ORDINALITY AS t(w, ts, i)
            LEFT JOIN LATERAL (SELECT fix_time, geom FROM worker_position
                WHERE worker_id = t.w AND fix_time < t.ts ORDER BY fix_time DESC LIMIT 1) p
                ON true
            LEFT JOIN LATERAL (SELECT fix_time, geom FROM worker_position
                WHERE worker_id = t.w AND fix_time > t.ts ORDER BY fix_time LIMIT 1) n ON true
            LEFT JOIN worker_position d ON d.worker_id = t.w AND d.fix_time = t.ts
            ORDER BY t.i
            """
        ),
        {"ws": w_o[slow].tolist(), "ts": [fixes[k][2] for k in src]},
    ).all()
    for g, k in enumerate(slow.tolist()):
        nb = neigh[g]
        w, t, x, y = int(w_o[k]), float(t_o[k]), float(x_o[k]), float(y_o[k])
        if nb.dup:
            res.duplicates += 1
            continue
        prev = (float(nb.p_t), nb.p_x, nb.p_y) if nb.p_t is not None else None
        mine = last_slow.get(w)
        if mine is not None and (prev is None or mine[0] > prev[0]):
            prev = mine
        s = 0.0 if prev is None else _speed(prev[1], prev[2], prev[0], x, y, t)
        if s <= MAX_SPEED_MS and nb.n_t is not None:
            s = _speed(x, y, t, nb.n_x, nb.n_y, float(nb.n_t))
        if s > MAX_SPEED_MS:
            res.reject(fixes[order[k]][0], "impossible_speed", _too_fast_detail(s))
            continue
        accepted[k] = True
        last_slow[w] = (t, x, y)


def resolve_workers(
    conn: Connection, refs: Sequence[str | int], scope_path: str
) -> dict[str | int, tuple[int | None, str]]:
    """Resolve the ``worker_id`` values of a gateway batch in one query.

    ``refs`` are employee numbers (str) or numeric ids (int). Returns ``{ref: (id, reason)}``
    with ``reason`` '' when usable, ``unknown_worker`` (no such active worker) or
    ``forbidden`` (assigned outside the gateway's subtree ``scope_path``, an ltree path)."""
    emps = sorted({r for r in refs if isinstance(r, str)})
    ids = sorted({r for r in refs if isinstance(r, int) and 0 < r < 2**63})  # bigint ids
    out: dict[str | int, tuple[int | None, str]] = {r: (None, "unknown_worker") for r in refs}
    if not emps and not ids:
        return out
    # two index lookups (an OR of two ANYs would scan the table); JSON arrays: exact for any
    # string and parsed in C on both sides
    rows = conn.execute(
        text(
            """
            SELECT w.id, w.employee_no, c.path <@ CAST(:scope AS ltree) AS inside
            FROM json_array_elements_text(CAST(:emps AS json)) AS e(no)
            JOIN grid_worker w ON w.employee_no = e.no
            JOIN grid_cell c ON c.id = w.cell_id
            WHERE w.active
            UNION ALL
            SELECT w.id, w.employee_no, c.path <@ CAST(:scope AS ltree)
            FROM unnest(CAST(:ids AS bigint[])) AS i(id)
            JOIN grid_worker w ON w.id = i.id
            JOIN grid_cell c ON c.id = w.cell_id
            WHERE w.active
            """
        ),
        {"scope": scope_path, "emps": json.dumps(emps), "ids": _pg_array(map(str, ids))},
    ).all()
    for wid, emp, inside in rows:
        verdict = (wid, "" if inside else "forbidden")
        if emp in out:
            out[emp] = verdict
        if wid in out:
            out[wid] = verdict
    return out
