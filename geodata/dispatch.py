"""Spatial dispatch: recommend grid workers for an event.

:func:`recommend_workers` ranks the candidates for one event of the caller's scope:

* **Candidates**: the active workers *responsible* for the event — assigned to its L6 micro-grid
  (``'cell'``) or to the L5 grid containing it (``'grid'``); responsibility is by path: the
  worker's cell is the event's cell or its L5 ancestor — whatever their duty status, plus the
  nearest active **on-duty** workers with a position (PostGIS KNN, ``position <-> location`` on
  the GiST index ``ix_grid_worker_position``). Only workers whose cell lies in the scope.
* **Ranking** (the key, smallest first, is ``(group, score_m, worker id)``):

  - group 0: responsible for the micro-grid, on duty and not stale;
  - group 1: responsible for the grid, on duty and not stale;
  - group 2: everybody else (nearest on-duty workers; responsible workers who are off duty, on
    leave or stale), ordered by ``score_m``;
  - ``score_m = distance_m + LOAD_PENALTY_M × open cases + STALE_PENALTY_M (if stale)
    + OFF_DUTY_PENALTY_M (if not on duty)``, in metres: one open case weighs like 500 m more
    of travel, a stale position like 2 km, being off duty / on leave like 10 km. A worker with no
    position has no distance and ranks last of group 2.
  - stale: no position, never a fix, or the last fix more than ``stale_after_s`` before ``now``.

* **Distances** are geodesic metres on the WGS-84 spheroid (``geography``), from the worker's
  position to the event's location.

KNN returns workers in planar-degree order, while the ranking uses geodesic metres and
penalties; the search therefore widens until no worker it has not fetched could still enter
the list: every unfetched worker is at least ``k-th planar distance × smallest metres per
degree`` away (a lower bound, :mod:`geodata.knn`), and the list is final once its last entry
scores below that (the next k is estimated from the density seen and the radius that bound
must reach).
The result is exactly what ranking *all* workers would give (tests compare with a brute force).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.cells import check_scope_path
from geodata.knn import lower_bound_m, radius_deg
from gridcmd.vocab import OPEN_STATUSES

__all__ = [
    "LOAD_PENALTY_M",
    "OFF_DUTY_PENALTY_M",
    "STALE_PENALTY_M",
    "rank_key",
    "recommend_workers",
]

#: Score penalty per open case of the worker, metres.
LOAD_PENALTY_M = 500.0
#: Score penalty of a stale (or missing) position, metres.
STALE_PENALTY_M = 2_000.0
#: Score penalty of a worker who is off duty or on leave, metres.
OFF_DUTY_PENALTY_M = 10_000.0
#: First KNN fetch: this many times ``limit`` (at least :data:`KNN_MIN`).
KNN_FACTOR = 3
KNN_MIN = 30

_EVENT = text(
    """
    SELECT ST_X(e.location) AS lon, ST_Y(e.location) AS lat, c.path::text AS path, now() AS now
    FROM event AS e JOIN grid_cell AS c ON c.id = e.cell_id
    WHERE e.id = :event_id AND c.path <@ CAST(:scope AS ltree)
    """
)

# One round trip: the responsible workers (by path) and the k nearest on-duty workers (KNN on
# the GiST index: the point is an expression of parameters, not a CTE column, so the planner
# can use it as the index's ORDER BY operand), with geodesic distance and open-case load.
_CANDIDATES_SQL = """
    WITH resp AS (
        SELECT w.id, CASE WHEN rc.level = 6 THEN 'cell' ELSE 'grid' END AS responsibility
        FROM grid_cell AS rc JOIN grid_worker AS w ON w.cell_id = rc.id
        WHERE rc.path @> CAST(:path AS ltree) AND rc.level >= 5 AND w.active
          AND rc.path <@ CAST(:scope AS ltree)
    ),
    knn AS (
        SELECT w.id, w.position <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS deg
        FROM grid_worker AS w JOIN grid_cell AS wc ON wc.id = w.cell_id
        WHERE w.active AND w.duty_status = 'on_duty' AND w.position IS NOT NULL
          AND wc.path <@ CAST(:scope AS ltree)
          {nearest}
    ),
    cand AS (SELECT id FROM resp UNION SELECT id FROM knn WHERE deg <= :cut)
    SELECT w.id, w.employee_no, w.name, w.duty_status, w.last_fix_at,
           ST_X(w.position) AS lon, ST_Y(w.position) AS lat,
           wc.id AS cell_id, wc.code AS cell_code, wc.name AS cell_name,
           resp.responsibility,
           ST_Distance(w.position::geography,
                       ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS distance_m,
           (SELECT count(*) FROM event AS o
             WHERE o.assignee_id = w.id AND o.status = ANY(:open)) AS open_cases,
           (SELECT count(*) FROM knn) AS n_knn,
           (SELECT max(deg) FROM knn) AS max_deg
    FROM cand JOIN grid_worker AS w ON w.id = cand.id
    JOIN grid_cell AS wc ON wc.id = w.cell_id
    LEFT JOIN resp ON resp.id = w.id
"""
#: The k nearest (KNN: ordered GiST index scan, stops after k rows).
_CANDIDATES = text(_CANDIDATES_SQL.format(
    nearest="ORDER BY w.position <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) LIMIT :k"
))  # fmt: skip


def rank_key(c: dict[str, Any]) -> tuple[int, float, int]:
    """The ranking key of a candidate dict (see the module docstring): smaller ranks first."""
    return (c["group"], c["score_m"], c["worker_id"])


def _score(distance_m: float | None, open_cases: int, stale: bool, on_duty: bool) -> float:
    if distance_m is None:
        return math.inf
    return (
        distance_m
        + LOAD_PENALTY_M * open_cases
        + (STALE_PENALTY_M if stale else 0.0)
        + (0.0 if on_duty else OFF_DUTY_PENALTY_M)
    )


def _candidate(r: Any, now: dt.datetime, stale_after_s: float) -> dict[str, Any]:
    age = None if r.last_fix_at is None else (now - r.last_fix_at).total_seconds()
    stale = r.lon is None or age is None or age > stale_after_s
    on_duty = r.duty_status == "on_duty"
    resp = r.responsibility
    open_cases = int(r.open_cases)
    group = (0 if resp == "cell" else 1) if resp is not None and on_duty and not stale else 2
    return {
        "worker_id": r.id,
        "employee_no": r.employee_no,
        "name": r.name,
        "duty_status": r.duty_status,
        "cell_id": r.cell_id,
        "cell_code": r.cell_code,
        "cell_name": r.cell_name,
        "responsible": resp is not None,
        "responsibility": resp,
        "distance_m": None if r.distance_m is None else float(r.distance_m),
        "open_cases": open_cases,
        "last_fix_at": r.last_fix_at,
        "fix_age_s": None if age is None else max(0, round(age)),
        "stale": stale,
        "lon": r.lon,
        "lat": r.lat,
        "group": group,
        "score_m": _score(r.distance_m, open_cases, stale, on_duty),
    }


def recommend_workers(
    conn: Connection,
    event_id: int,
    *,
    scope_path: str,
    limit: int = 10,
    stale_after_s: float = 900,
    now: dt.datetime | None = None,
    knn_start: int | None = None,
) -> list[dict[str, Any]]:
    """Ranked candidate workers for an event of the scope (``LookupError`` when the event does
    not exist or lies outside ``scope_path``).

    Each entry: ``worker_id``, ``employee_no``, ``name``, ``duty_status``, ``cell_id``,
    ``cell_code``, ``cell_name`` (the worker's cell), ``responsible`` (bool) and
    ``responsibility`` (``'cell'`` L6 / ``'grid'`` L5 / None), ``distance_m`` (geodesic metres,
    None without a position), ``open_cases``, ``last_fix_at``, ``fix_age_s`` (s, None when
    never), ``stale``, ``lon``/``lat`` (WGS-84), ``group`` and ``score_m`` (the ranking, see the
    module docstring) and ``rank`` (1-based). ``now`` defaults to the database's ``now()``;
    ``knn_start`` (tests) sets the first KNN fetch size.
    """
    check_scope_path(scope_path)
    if limit < 1:
        raise ValueError("limit must be at least 1")
    ev = conn.execute(_EVENT, {"event_id": event_id, "scope": scope_path}).one_or_none()
    if ev is None:
        raise LookupError(f"no event {event_id} in scope {scope_path}")
    now = now or ev.now
    k = knn_start or max(KNN_MIN, KNN_FACTOR * limit)
    params = {"lon": ev.lon, "lat": ev.lat, "path": ev.path, "scope": scope_path,
              "open": list(OPEN_STATUSES)}  # fmt: skip

    def rank(rows: list) -> list[dict[str, Any]]:
        return sorted((_candidate(r, now, stale_after_s) for r in rows), key=rank_key)[:limit]

    cut = math.inf  # KNN rows farther than this (degrees) cannot enter the list
    while True:
        rows = conn.execute(_CANDIDATES, {**params, "k": k, "cut": cut}).all()
        ranked = rank(rows)
        n_knn = rows[0].n_knn if rows else 0
        if n_knn < k:  # every eligible on-duty worker was fetched
            break
        bound = lower_bound_m(ev.lat, rows[0].max_deg)
        if len(ranked) == limit and (ranked[-1]["group"] < 2 or ranked[-1]["score_m"] < bound):
            break
        if (len(ranked) == limit and math.isfinite(ranked[-1]["score_m"])
                and rows[0].max_deg > 0):  # fmt: skip
            # The list is full but an unfetched worker could still beat its last entry: widen
            # to the radius whose lower bound reaches that score, with k estimated from the
            # density seen so far (a KNN LIMIT stays a cheap ordered index scan; a radius
            # query's bitmap scan tempts the planner into a parallel plan costing ~50 ms).
            radius = radius_deg(ev.lat, ranked[-1]["score_m"])
            k = max(2 * k, math.ceil(1.5 * n_knn * (radius / rows[0].max_deg) ** 2))
            # Beyond the radius a worker is farther than the current last score: skip the
            # distance and load of those rows (the last score only drops as k grows).
            cut = radius
        else:
            k *= 4
    for i, c in enumerate(ranked, 1):
        c["rank"] = i
    return ranked
