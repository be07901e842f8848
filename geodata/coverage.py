"""Roster coverage (布网定人): which grids have an assigned worker, which have several, and which
workers spend most of their time outside their cell.

"Assigned" means an *active* worker whose current cell (``grid_worker.cell_id``, kept equal to
the open ``worker_assignment`` row by :mod:`geodata.roster`) is the cell. A grid (L5) counts
the workers assigned to it or to one of its micro-grids; a micro-grid (L6) counts its own and
those assigned to its grid as a whole (the grid worker answers for every micro-grid of the
grid). :func:`coverage_summary` counts the scope's grids by that rule; the same rule colours
the map as the metrics ``staffing`` and ``uncovered`` of :mod:`geodata.metrics`.

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
from geodata.stats import check_code, custom_plans

__all__ = ["coverage_summary", "workers_outside"]


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
