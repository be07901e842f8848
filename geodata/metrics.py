"""Map metrics: one value per drawn cell, for colouring the grid layer through its ``hideout``.

Metrics (see :mod:`geodata.stats` for the definitions): ``open`` and ``overdue`` event counts,
``rate30`` (events per 10,000 residents over 30 days), ``coverage`` (share of L5 grids with an
on-duty worker) and ``none``; and the roster's two (布网定人; "assigned" as defined in
:mod:`geodata.coverage`: an active worker of the grid or of one of its micro-grids):

* ``staffing`` — assigned workers per grid / micro-grid (0 uncovered, 1, 2+ several); drawn
  at levels 5–6 only (coarser levels get no value: see ``uncovered``).
* ``uncovered`` — grids (L5) without any assigned worker in the cell's subtree; at a
  micro-grid, 1 when its grid is uncovered.

Values cover the cells of one level whose bounding box meets a
viewport, inside the caller's scope; each metric is one indexed statement that starts from the
small side (open events, the last 30 days of events, the grids in view) and groups by the
ancestor code at the drawn level, ``ltree2text(subpath(path, level - 1, 1))``.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.cells import check_scope_path
from geodata.stats import NOW_SQL, check_int, custom_plans, resolve_cell
from gridcmd.vocab import METRICS, OPEN_STATUSES
from gridcmd.zoom import display_level, natural_level

__all__ = ["check_bbox", "metric_values", "view_metric_values"]

# Cells of one level in the view (inside the scope and, when given, inside `:inside`); `akey`
# is the code of the cell's ancestor at `:akey_level` (the cell itself for event metrics).
_VIEW_CELLS = """
    cells AS MATERIALIZED (
        SELECT c.id, c.parent_id, c.code, c.path, c.population,
               ltree2text(subpath(c.path, CAST(:akey_level AS int) - 1, 1)) AS akey
        FROM grid_cell AS c
        WHERE c.level = :level AND c.path <@ CAST(:scope AS ltree)
          AND (CAST(:inside AS text) IS NULL OR c.path <@ CAST(:inside AS ltree))
          AND c.geom && ST_MakeEnvelope(:xmin, :ymin, :xmax, :ymax, 4326)
    )
"""

# Events grouped by their ancestor at the drawn level. No scope filter needed here: only the
# groups of in-scope cells are joined below, and their subtrees lie inside the scope.
_EVENT_METRIC = """
    WITH {cells},
    agg AS (
        SELECT ltree2text(subpath(g.path, CAST(:akey_level AS int) - 1, 1)) AS akey,
               count(*) AS n
        FROM event AS e JOIN grid_cell AS g ON g.id = e.cell_id
        WHERE {cond}
        GROUP BY 1
    )
    SELECT cells.code, {value} AS v
    FROM cells LEFT JOIN agg ON agg.akey = cells.akey
    {where}
"""

_ON_DUTY = "w.active AND w.duty_status = 'on_duty'"

_METRIC_SQL: dict[str, Any] = {
    "open": text(
        _EVENT_METRIC.format(
            cells=_VIEW_CELLS,
            cond="e.status = ANY(:open)",
            value="CAST(coalesce(agg.n, 0) AS float8)",
            where="",
        )
    ),
    "overdue": text(
        _EVENT_METRIC.format(
            cells=_VIEW_CELLS,
            cond=f"e.status = ANY(:open) AND e.due_at < {NOW_SQL}",
            value="CAST(coalesce(agg.n, 0) AS float8)",
            where="",
        )
    ),
    "rate30": text(
        _EVENT_METRIC.format(
            cells=_VIEW_CELLS,
            cond=f"e.reported_at > {NOW_SQL} - interval '30 days' AND e.reported_at <= {NOW_SQL}",
            value="coalesce(agg.n, 0) * 10000.0 / cells.population",
            where="WHERE cells.population > 0",
        )
    ),
    # Prefecture, counties and townships: most of the prefecture is in view, so map every
    # on-duty worker to its grid once (hash join) and count the L5 grids of each cell.
    "coverage_hash": text(
        f"""
        WITH {_VIEW_CELLS},
        covered AS (
            SELECT DISTINCT CASE g.level WHEN 5 THEN g.id ELSE g.parent_id END AS gid
            FROM grid_worker AS w JOIN grid_cell AS g ON g.id = w.cell_id
            WHERE {_ON_DUTY} AND g.level >= 5
        ),
        agg AS (
            SELECT ltree2text(subpath(g.path, CAST(:akey_level AS int) - 1, 1)) AS akey,
                   count(*) AS total, count(cv.gid) AS covered
            FROM grid_cell AS g LEFT JOIN covered AS cv ON cv.gid = g.id
            WHERE g.level = 5 AND g.path <@ CAST(:scope AS ltree)
            GROUP BY 1
        )
        SELECT cells.code, CAST(agg.covered AS float8) / agg.total AS v
        FROM cells JOIN agg ON agg.akey = cells.akey
        """
    ),
    # Villages and grids: a bounded number of grids in view (a village's grids are its
    # children); probe the worker index per grid and per micro-grid of the grid.
    "coverage_probe": text(
        f"""
        WITH {_VIEW_CELLS},
        grids AS (
            SELECT cells.code, g.id FROM cells JOIN grid_cell AS g ON g.parent_id = cells.id
            WHERE CAST(:level AS int) = 4
            UNION ALL
            SELECT cells.code, cells.id FROM cells WHERE CAST(:level AS int) = 5
        )
        SELECT grids.code, avg(CASE WHEN EXISTS (
                   SELECT 1 FROM grid_worker AS w WHERE w.cell_id = grids.id AND {_ON_DUTY}
               ) OR EXISTS (
                   SELECT 1 FROM grid_cell AS m JOIN grid_worker AS w ON w.cell_id = m.id
                   WHERE m.parent_id = grids.id AND {_ON_DUTY}
               ) THEN 1.0 ELSE 0.0 END) AS v
        FROM grids GROUP BY grids.code
        """
    ),
    "coverage_l6": text(
        f"""
        WITH {_VIEW_CELLS}
        SELECT cells.code, CASE WHEN EXISTS (
                   SELECT 1 FROM grid_worker AS w
                   WHERE w.cell_id = ANY(ARRAY[cells.id, cells.parent_id]) AND {_ON_DUTY}
               ) THEN 1.0 ELSE 0.0 END AS v
        FROM cells
        """
    ),
}


# The roster metrics count active workers, on duty or not (geodata.coverage).
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

_ROSTER_SQL: dict[str, Any] = {
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


def check_bbox(bbox: Any) -> tuple[float, float, float, float]:
    """``(xmin, ymin, xmax, ymax)`` in lon/lat degrees as floats, or ValueError when it is not
    four finite numbers inside [-180, 180] × [-90, 90] with min <= max."""
    try:
        vals = tuple(float(v) for v in bbox)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bbox must be four numbers, not {bbox!r}") from exc
    if len(vals) != 4 or not all(math.isfinite(v) for v in vals):
        raise ValueError(f"bbox must be four finite numbers, not {bbox!r}")
    xmin, ymin, xmax, ymax = vals
    if not (-180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90):
        raise ValueError(f"bbox out of range or inverted: {bbox!r}")
    return xmin, ymin, xmax, ymax


def _metric_sql(metric: str, level: int) -> Any:
    if metric == "staffing":
        return _ROSTER_SQL.get(f"staffing_{level}", _ROSTER_SQL["staffing_none"])
    if metric == "uncovered":
        return _ROSTER_SQL.get(f"uncovered_{level}", _ROSTER_SQL["uncovered_hash"])
    if metric != "coverage":
        return _METRIC_SQL[metric]
    return _METRIC_SQL[{6: "coverage_l6", 5: "coverage_probe", 4: "coverage_probe"}.get(
        level, "coverage_hash")]  # fmt: skip


def metric_values(
    conn: Connection,
    *,
    scope_path: str,
    level: int,
    bbox: Any,
    metric: str,
    now: dt.datetime | None = None,
    inside: str | None = None,
) -> dict[str, float]:
    """``{code: value}`` of ``metric`` for the cells of ``level`` inside the scope (and inside
    the ltree path ``inside``, if given) whose bounding box meets ``bbox`` (``xmin, ymin,
    xmax, ymax``, lon/lat degrees).

    ``open``/``overdue``: event counts (every cell present, zeros included); ``rate30``:
    events per 10,000 residents over 30 days (cells without residents are omitted);
    ``coverage``: 0–1 (cells without grids omitted); ``none``: {} (no query).
    ValueError on an unknown metric, a bad level, bbox or path.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, not {metric!r}")
    level = check_int("level", level, 1, 6)
    xmin, ymin, xmax, ymax = check_bbox(bbox)
    scope = check_scope_path(scope_path)
    if inside is not None:
        check_scope_path(inside)
    if metric == "none":
        return {}
    params = {
        "scope": scope,
        "inside": inside,
        "level": level,
        "akey_level": min(level, 5) if metric == "coverage" else level,
        "xmin": xmin,
        "ymin": ymin,
        "xmax": xmax,
        "ymax": ymax,
        "open": list(OPEN_STATUSES),
        "now": now,
    }
    custom_plans(conn)
    rows = conn.execute(_metric_sql(metric, level), params)
    return {r.code: float(r.v) for r in rows}


def view_metric_values(
    conn: Connection,
    *,
    scope_path: str,
    zoom: float,
    bbox: Any,
    selected: str | None,
    metric: str,
    now: dt.datetime | None = None,
) -> tuple[int, dict[str, float]]:
    """``(level, values)`` for the cells the map draws in a viewport: the level is
    :func:`gridcmd.zoom.display_level` of ``zoom`` and the selected cell's level (as in the grid
    route), and when the selection is drawn deeper than the zoom's natural level only the
    cells inside the selection get values. An unknown or out-of-scope ``selected`` counts as
    no selection; a malformed one is a ValueError."""
    sel = None if not selected else resolve_cell(conn, scope_path=scope_path, code=selected)
    level = display_level(zoom, int(sel["level"]) if sel else None)
    inside = sel["path"] if sel and level > natural_level(zoom) else None
    values = metric_values(
        conn,
        scope_path=scope_path,
        level=level,
        bbox=bbox,
        metric=metric,
        now=now,
        inside=inside,
    )
    return level, values
