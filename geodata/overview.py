"""What the phone shows a worker at one tap: their grid's overview and their open tasks.

The grid is the worker's L5 grid (see :mod:`geodata.fieldwork`); its numbers come from
:func:`geodata.stats.cell_summary` (the same definitions as the command map's side panel),
plus the open events by status and category and the worker's own records. "Today" and "this
month" are calendar periods in :data:`gridcmd.vocab.TIMEZONE`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.fieldwork import worker_grid
from geodata.stats import NOW_SQL, cell_summary
from gridcmd.vocab import OPEN_STATUSES, TIMEZONE

__all__ = ["MAX_TASKS", "my_overview", "my_tasks"]

#: Largest page of :func:`my_tasks`.
MAX_TASKS = 200

#: Start of the local calendar day / month of ``now`` as timestamptz.
_DAY0 = f"(date_trunc('day', {NOW_SQL} AT TIME ZONE :tz) AT TIME ZONE :tz)"
_MONTH0 = f"(date_trunc('month', {NOW_SQL} AT TIME ZONE :tz) AT TIME ZONE :tz)"

_OPEN_BREAKDOWN = text(
    """
    SELECT e.status, e.category, count(*) AS n
    FROM event e JOIN grid_cell g ON g.id = e.cell_id
    WHERE g.path <@ CAST(:path AS ltree) AND e.status = ANY(:open)
    GROUP BY e.status, e.category
    """
)

_MINE = text(
    f"""
    SELECT
      (SELECT count(*) FROM event e WHERE e.reporter_id = :w
         AND e.reported_at >= {_DAY0} AND e.reported_at <= {NOW_SQL}) AS events_today,
      (SELECT count(*) FROM event e WHERE e.reporter_id = :w
         AND e.reported_at >= {_MONTH0} AND e.reported_at <= {NOW_SQL}) AS events_month,
      (SELECT count(*) FROM event e WHERE e.assignee_id = :w
         AND e.status = ANY(:open)) AS tasks_open,
      (SELECT count(*) FROM checkin k WHERE k.worker_id = :w
         AND k.at >= {_DAY0} AND k.at <= {NOW_SQL}) AS checkins_today,
      (SELECT count(*) FROM patrol p WHERE p.worker_id = :w
         AND p.started_at >= {_DAY0} AND p.started_at <= {NOW_SQL}) AS patrols_today,
      (SELECT coalesce(sum(p.length_m), 0) FROM patrol p WHERE p.worker_id = :w
         AND p.started_at >= {_DAY0} AND p.started_at <= {NOW_SQL}) AS patrol_m_today,
      (SELECT count(*) FROM visit v WHERE v.worker_id = :w
         AND v.visited_at >= {_MONTH0} AND v.visited_at <= {NOW_SQL}) AS visits_month
    """
)

_LAST_CHECKIN = text(
    f"""
    SELECT k.kind, k.at, k.inside, k.distance_m
    FROM checkin k
    WHERE k.worker_id = :w AND k.at >= {_DAY0} AND k.at <= {NOW_SQL}
    ORDER BY k.at DESC, k.id DESC LIMIT 1
    """
)


def my_overview(
    conn: Connection, worker_id: int, *, now: dt.datetime | None = None
) -> dict[str, Any] | None:
    """The worker's grid at a glance (None for an unknown worker).

    Keys: ``grid`` ({code, name, level, area_km2, population, households}), ``cells`` (the
    chain L1…grid as {code, level, name}), ``micro_grids``, ``workers`` ({total, on_duty},
    active workers assigned inside the grid), ``events_open`` ({total, overdue, by_status,
    by_category}), ``mine`` ({events_reported_today, events_reported_month, tasks_open,
    checkins_today, last_checkin, patrols_today, patrol_km_today, visits_month}).
    """
    grid = worker_grid(conn, worker_id)
    if grid is None:
        return None
    summary = cell_summary(conn, scope_path=grid.grid_path, code=grid.grid_code, now=now,
                           trend_days=1, top=1)  # fmt: skip
    if summary is None:  # pragma: no cover - the grid is its own scope
        return None
    area, chain = conn.execute(
        text(
            """
            SELECT g.area_km2,
                   (SELECT json_agg(json_build_object('code', a.code, 'level', a.level,
                                                      'name', a.name) ORDER BY a.level)
                    FROM grid_cell a WHERE a.code = ANY(string_to_array(ltree2text(g.path), '.')))
            FROM grid_cell g WHERE g.id = :g
            """
        ),
        {"g": grid.grid_id},
    ).one()
    by_status: dict[str, int] = {}
    by_category: dict[str, int] = {}
    params = {"path": grid.grid_path, "open": list(OPEN_STATUSES)}
    for r in conn.execute(_OPEN_BREAKDOWN, params):
        by_status[r.status] = by_status.get(r.status, 0) + int(r.n)
        by_category[r.category] = by_category.get(r.category, 0) + int(r.n)
    p = {"w": worker_id, "now": now, "tz": TIMEZONE, "open": list(OPEN_STATUSES)}
    mine = conn.execute(_MINE, p).one()
    last = conn.execute(_LAST_CHECKIN, p).one_or_none()
    return {
        "grid": {
            "code": summary["code"],
            "name": summary["name"],
            "level": int(summary["level"]),
            "area_km2": round(float(area or 0), 4),
            "population": int(summary["population"] or 0),
            "households": int(summary["households"] or 0),
        },
        "cells": list(chain or []),
        "micro_grids": summary["cells_by_level"].get(6, 0),
        "workers": {"total": summary["workers"], "on_duty": summary["workers_on_duty"]},
        "events_open": {
            "total": summary["events_open"],
            "overdue": summary["events_overdue"],
            "by_status": dict(sorted(by_status.items())),
            "by_category": dict(sorted(by_category.items())),
        },
        "mine": {
            "events_reported_today": int(mine.events_today),
            "events_reported_month": int(mine.events_month),
            "tasks_open": int(mine.tasks_open),
            "checkins_today": int(mine.checkins_today),
            "last_checkin": None
            if last is None
            else {
                "kind": last.kind,
                "at": last.at.isoformat(),
                "inside": last.inside,
                "distance_m": round(last.distance_m, 1),
            },
            "patrols_today": int(mine.patrols_today),
            "patrol_km_today": round(float(mine.patrol_m_today) / 1000, 3),
            "visits_month": int(mine.visits_month),
        },
    }


_TASKS = text(
    f"""
    SELECT e.uuid, e.title, e.category, e.severity, e.status, e.due_at, e.reported_at,
           e.due_at IS NOT NULL AND e.due_at < {NOW_SQL} AS overdue,
           ST_X(e.location) AS lon, ST_Y(e.location) AS lat, c.code AS cell_code,
           CASE WHEN e.assignee_id = :w THEN 'assigned'
                WHEN e.reporter_id = :w THEN 'reported' ELSE 'following' END AS role,
           e.version, e.priority, e.acknowledged_at IS NOT NULL AS acknowledged,
           e.supervised_at IS NOT NULL AS supervised
    FROM event e JOIN grid_cell c ON c.id = e.cell_id
    WHERE e.status = ANY(:open)
      AND (e.assignee_id = :w OR (:reported AND (e.reporter_id = :w OR EXISTS (
               SELECT 1 FROM event_follower f WHERE f.event_id = e.id AND f.worker_id = :w))))
    ORDER BY e.due_at ASC NULLS LAST, e.reported_at DESC, e.id
    LIMIT :limit OFFSET :offset
    """
)


def my_tasks(
    conn: Connection,
    worker_id: int,
    *,
    limit: int = 50,
    offset: int = 0,
    include_reported: bool = False,
    now: dt.datetime | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """The worker's open events: assigned to them (and, with ``include_reported``, reported
    by them or followed — the original of a duplicate they reported), soonest due first
    (overdue on top, no due date last, then newest reported).

    Returns ``(items, more)``; ``more`` tells whether a next page exists. ``limit`` 1–200 and
    ``offset`` ≥ 0 are the caller's to check (ValueError otherwise).
    """
    if not 1 <= limit <= MAX_TASKS or offset < 0:
        raise ValueError("limit must be 1..200 and offset >= 0")
    rows = conn.execute(
        _TASKS,
        {
            "w": worker_id,
            "open": list(OPEN_STATUSES),
            "reported": include_reported,
            "limit": limit + 1,
            "offset": offset,
            "now": now,
        },
    ).all()
    items = [
        {
            "uuid": str(r.uuid),
            "title": r.title,
            "category": r.category,
            "severity": r.severity,
            "status": r.status,
            "due_at": r.due_at.isoformat() if r.due_at else None,
            "overdue": bool(r.overdue),
            "reported_at": r.reported_at.isoformat(),
            "lon": r.lon,
            "lat": r.lat,
            "cell": r.cell_code,
            "role": r.role,
            "version": r.version,
            "priority": r.priority,
            "acknowledged": bool(r.acknowledged),
            "supervised": bool(r.supervised),
        }
        for r in rows[:limit]
    ]
    return items, len(rows) > limit
