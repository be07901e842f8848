"""Roster coverage (布网定人): which grids have an assigned worker, which have several, and which
workers spend most of their time outside their cell.

"Assigned" means an *active* worker whose current cell (``grid_worker.cell_id``, kept equal to
the open ``worker_assignment`` row by :mod:`geodata.roster`) is the cell. A grid (L5) counts
the workers assigned to it or to one of its micro-grids; a micro-grid (L6) counts its own and
those assigned to its grid as a whole (the grid worker answers for every micro-grid of the
grid). Two map metrics (hideout colouring, see :mod:`geodata.metrics`):

* ``staffing`` — assigned workers per grid / micro-grid (0 uncovered, 1, 2+ several); drawn
  at levels 5–6 only (coarser levels get no value: see ``uncovered``).
* ``uncovered`` — grids (L5) without any assigned worker in the cell's subtree; at a
  micro-grid, 1 when its grid is uncovered.

:func:`workers_outside` lists the workers whose recent fixes (``worker_position``, last 7
days by default) mostly fall outside their assigned cell (``ST_Covers``, cell polygon in
EPSG:4326; > 50 % by default).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.cells import check_scope_path
from geodata.metrics import _VIEW_CELLS
from geodata.stats import check_code, custom_plans

__all__ = ["ROSTER_METRICS", "coverage_summary", "metric_sql", "workers_outside"]

ROSTER_METRICS = ("staffing", "uncovered")
_ACTIVE = "w.active"

# Active workers of a grid: assigned to it, or to one of its micro-grids.
_GRID_WORKERS = f"""(
    (SELECT count(*) FROM grid_worker AS w WHERE w.cell_id = {{g}} AND {_ACTIVE})
  + (SELECT count(*) FROM grid_cell AS m JOIN grid_worker AS w ON w.cell_id = m.id
     WHERE m.parent_id = {{g}} AND {_ACTIVE}))"""
_GRID_COVERED = f"""(
    EXISTS (SELECT 1 FROM grid_worker AS w WHERE w.cell_id = {{g}} AND {_ACTIVE})
 OR EXISTS (SELECT 1 FROM grid_cell AS m JOIN grid_worker AS w ON w.cell_id = m.id
            WHERE m.parent_id = {{g}} AND {_ACTIVE}))"""

_SQL: dict[str, Any] = {
    "staffing_5": text(
        f"WITH {_VIEW_CELLS} SELECT cells.code, "
        f"CAST({_GRID_WORKERS.format(g='cells.id')} AS float8) AS v FROM cells"
    ),
    "staffing_6": text(
        f"""WITH {_VIEW_CELLS}
        SELECT cells.code, CAST((SELECT count(*) FROM grid_worker AS w
               WHERE w.cell_id = ANY(ARRAY[cells.id, cells.parent_id]) AND {_ACTIVE})
               AS float8) AS v
        FROM cells"""
    ),
    "staffing_none": text(f"WITH {_VIEW_CELLS} SELECT code, 0.0 AS v FROM cells WHERE false"),
    # Prefecture, counties, townships: map every active worker to its grid once (hash join).
    "uncovered_hash": text(
        f"""
        WITH {_VIEW_CELLS},
        covered AS (
            SELECT DISTINCT CASE g.level WHEN 5 THEN g.id ELSE g.parent_id END AS gid
            FROM grid_worker AS w JOIN grid_cell AS g ON g.id = w.cell_id
            WHERE {_ACTIVE} AND g.level >= 5
        ),
        agg AS (
            SELECT ltree2text(subpath(g.path, CAST(:akey_level AS int) - 1, 1)) AS akey,
                   count(*) FILTER (WHERE cv.gid IS NULL) AS n
            FROM grid_cell AS g LEFT JOIN covered AS cv ON cv.gid = g.id
            WHERE g.level = 5 AND g.path <@ CAST(:scope AS ltree)
            GROUP BY 1
        )
        SELECT cells.code, CAST(coalesce(agg.n, 0) AS float8) AS v
        FROM cells LEFT JOIN agg ON agg.akey = cells.akey
        """
    ),
    # Villages: probe the worker index for each grid of the villages in view.
    "uncovered_4": text(
        f"""
        WITH {_VIEW_CELLS}
        SELECT cells.code, CAST(count(g.id) FILTER (
                   WHERE NOT {_GRID_COVERED.format(g="g.id")}) AS float8) AS v
        FROM cells LEFT JOIN grid_cell AS g ON g.parent_id = cells.id
        GROUP BY cells.code
        """
    ),
    "uncovered_5": text(
        f"WITH {_VIEW_CELLS} SELECT cells.code, "
        f"CASE WHEN {_GRID_COVERED.format(g='cells.id')} THEN 0.0 ELSE 1.0 END AS v FROM cells"
    ),
    "uncovered_6": text(
        f"WITH {_VIEW_CELLS} SELECT cells.code, "
        f"CASE WHEN {_GRID_COVERED.format(g='cells.parent_id')} THEN 0.0 ELSE 1.0 END AS v "
        "FROM cells"
    ),
}


def metric_sql(metric: str, level: int) -> Any:
    """The statement of a roster metric at a drawn ``level`` (same parameters as the other
    metrics of :func:`geodata.metrics.metric_values`)."""
    if metric == "staffing":
        return _SQL.get(f"staffing_{level}", _SQL["staffing_none"])
    if metric == "uncovered":
        return _SQL.get(f"uncovered_{level}", _SQL["uncovered_hash"])
    raise ValueError(f"not a roster metric: {metric!r}")


def _under(conn: Connection, scope: str, cell_code: str | None) -> tuple[bool, str | None]:
    if not cell_code:
        return True, None
    path = conn.execute(
        text("SELECT path::text FROM grid_cell WHERE code = :c AND path <@ CAST(:s AS ltree)"),
        {"c": check_code(cell_code), "s": scope},
    ).scalar()
    return path is not None, path


def workers_outside(
    conn: Connection,
    scope_path: str,
    *,
    cell_code: str | None = None,
    days: int = 7,
    threshold: float = 0.5,
    now: dt.datetime | None = None,
    limit: int = 50,
) -> dict[str, Any] | None:
    """``{"total": n, "rows": [...]}``: active workers of the scope (of ``cell_code``'s
    subtree when given) with fixes in the ``days`` before ``now`` of which more than
    ``threshold`` (0–1) lie outside their assigned cell, most outside first. Rows:
    ``employee_no, name, cell_code, cell_name, fixes, outside, share``. None when
    ``cell_code`` is unknown or outside the scope."""
    scope = check_scope_path(scope_path)
    if not (isinstance(days, int) and 1 <= days <= 90 and 0 <= threshold < 1):
        raise ValueError("days must be 1–90 and threshold in [0, 1)")
    ok, under = _under(conn, scope, cell_code)
    if not ok:
        return None
    custom_plans(conn)
    rows = conn.execute(
        text(
            """
            -- Per worker, a probe of its recent fixes (index on worker_id, fix_time): the
            -- cell polygon is the same for consecutive ST_Covers calls, so PostGIS keeps it
            -- prepared (3x faster than joining all fixes to all cells first).
            SELECT w.employee_no, w.name, c.code AS cell_code, c.name AS cell_name,
                   f.fixes, f.outside, CAST(f.outside AS float8) / f.fixes AS share,
                   count(*) OVER () AS total
            FROM grid_worker AS w JOIN grid_cell AS c ON c.id = w.cell_id,
            LATERAL (
                SELECT count(*) AS fixes,
                       count(*) FILTER (WHERE NOT ST_Covers(c.geom, p.geom)) AS outside
                FROM worker_position AS p
                WHERE p.worker_id = w.id
                  AND p.fix_time > coalesce(CAST(:now AS timestamptz), now())
                                   - make_interval(days => CAST(:days AS int))
                  AND p.fix_time <= coalesce(CAST(:now AS timestamptz), now())
            ) AS f
            WHERE w.active AND c.path <@ CAST(:scope AS ltree)
              AND (CAST(:under AS text) IS NULL OR c.path <@ CAST(:under AS ltree))
              AND f.fixes > 0 AND f.outside > f.fixes * CAST(:threshold AS float8)
            ORDER BY share DESC, w.employee_no
            LIMIT :limit
            """
        ),
        {"scope": scope, "under": under, "days": days, "threshold": float(threshold),
         "now": now, "limit": limit},
    ).mappings().all()  # fmt: skip
    out = [{k: v for k, v in r.items() if k != "total"} for r in rows]
    return {"total": int(rows[0]["total"]) if rows else 0, "rows": out}


def coverage_summary(
    conn: Connection, scope_path: str, *, cell_code: str | None = None
) -> dict[str, int] | None:
    """Counts for the scope (or ``cell_code``'s subtree): ``grids`` (L5), ``uncovered``
    (grids without an assigned active worker), ``several`` (grids with two or more) and
    ``active_workers``. None when ``cell_code`` is unknown or outside the scope."""
    scope = check_scope_path(scope_path)
    ok, under = _under(conn, scope, cell_code)
    if not ok:
        return None
    custom_plans(conn)
    r = (
        conn.execute(
            text(
                """
            WITH n AS (
                SELECT CASE g.level WHEN 5 THEN g.id ELSE g.parent_id END AS gid,
                       count(*) AS n
                FROM grid_worker AS w JOIN grid_cell AS g ON g.id = w.cell_id
                WHERE w.active AND g.level >= 5 AND g.path <@ CAST(:scope AS ltree)
                GROUP BY 1
            ),
            grids AS (
                SELECT g.id FROM grid_cell AS g
                WHERE g.level = 5 AND g.path <@ CAST(:scope AS ltree)
                  AND (CAST(:under AS text) IS NULL OR g.path <@ CAST(:under AS ltree)
                       OR CAST(:under AS ltree) <@ g.path)
            )
            SELECT count(*) AS grids,
                   count(*) FILTER (WHERE n.n IS NULL) AS uncovered,
                   count(*) FILTER (WHERE n.n >= 2) AS several,
                   coalesce(sum(n.n), 0) AS active_workers
            FROM grids LEFT JOIN n ON n.gid = grids.id
            """
            ),
            {"scope": scope, "under": under},
        )
        .mappings()
        .one()
    )
    return {k: int(v) for k, v in r.items()}
