"""Statistics of grid cells for the command map's side panel (summary, trend, categories).

Every function takes a connection first and the caller's *scope path* (ltree path of the
jurisdiction cell) and only sees the subtree ``path <@ scope_path``: a cell outside the scope
is indistinguishable from an unknown one. Events reference their L6 cell; a cell's numbers are
aggregated over its whole subtree through the ltree path (the ancestor code at level L of a
cell is ``ltree2text(subpath(path, L - 1, 1))``). Map metrics are in
:mod:`geodata.metrics`, search in :mod:`geodata.search`.

Definitions (``now`` defaults to the database's ``now()``; tests pass a fixed instant):

* open: status in :data:`OPEN_STATUSES`; overdue: open and ``due_at < now``;
* resolved in the last 7 days: ``now - 7 days <= resolved_at <= now``;
* rate30: events reported in ``(now - 30 days, now]`` per 10,000 residents of the cell;
* coverage: share of the L5 grids of the subtree with at least one active on-duty worker
  assigned to the grid or to one of its L6 micro-grids. An L6 cell has no grid below it, so
  its value is 1 when an active on-duty worker is assigned to the micro-grid itself or to its
  L5 grid (someone on duty answers for it), else 0.

Calendar days (the trend chart) are days in :data:`TIMEZONE`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.cells import check_scope_path
from gridcmd.vocab import CELL_CODE_RE, OPEN_STATUSES, TIMEZONE

__all__ = [
    "NOW_SQL",
    "PATH_NAMES_SQL",
    "cell_summary",
    "check_code",
    "check_int",
    "event_trend",
    "resolve_cell",
    "custom_plans",
    "top_categories",
]

#: The instant a statement counts from: the bound ``:now`` (tests pass a fixed instant), or
#: the database's ``now()`` when it is None. Every query module with a ``now`` argument uses it.
NOW_SQL = "coalesce(CAST(:now AS timestamptz), now())"

#: Names from the county (or the scope root, if deeper) down to the cell at ``{path}``; the
#: code is the path's label, so the unique code index finds the ancestors.
PATH_NAMES_SQL = """
    SELECT coalesce(json_agg(a.name ORDER BY a.level), '[]'::json)
    FROM grid_cell AS a
    WHERE a.code = ANY(string_to_array(ltree2text({path}), '.'))
      AND a.path <@ CAST(:scope AS ltree) AND (a.level >= 2 OR nlevel({path}) = 1)
"""

_RESOLVE = text(
    f"""
    SELECT c.code, c.name, c.level, ltree2text(c.path) AS path, c.population, c.households,
           ({PATH_NAMES_SQL.format(path="c.path")}) AS path_names,
           -- the only root of the table: its subtree is every row, no join needed
           (c.level = 1 AND NOT EXISTS (
               SELECT 1 FROM grid_cell AS o WHERE o.level = 1 AND o.id <> c.id)) AS whole
    FROM grid_cell AS c WHERE c.code = :code AND c.path <@ CAST(:scope AS ltree)
    """
)

#: FROM/WHERE prefix of "the events of the subtree at :path"; for the whole table (the only
#: root cell) no join to grid_cell at all.
_EVENTS_IN = {
    False: "event AS e JOIN grid_cell AS g ON g.id = e.cell_id "
    "WHERE g.path <@ CAST(:path AS ltree) AND",
    True: "event AS e WHERE",
}

_EVENT_COUNTS = f"""
    SELECT count(*) AS events_total,
           count(*) FILTER (WHERE e.status = ANY(:open)) AS events_open,
           count(*) FILTER (WHERE e.status = ANY(:open) AND e.due_at < {NOW_SQL}) AS events_overdue,
           count(*) FILTER (WHERE e.resolved_at >= {NOW_SQL} - interval '7 days'
                              AND e.resolved_at <= {NOW_SQL}) AS events_resolved_7d
"""
_WORKER_COUNTS = """
    SELECT count(*) AS workers,
           count(*) FILTER (WHERE w.duty_status = 'on_duty') AS workers_on_duty
"""

_AGGREGATES = {
    # The subtree's cells are read once, then workers and events are hash-joined to them.
    # `:path` is bound as a value, so the planner sees how big the subtree is (sequential
    # scan for a county, ltree index for a village).
    False: text(
        f"""
        WITH sub AS MATERIALIZED (
            SELECT g.id, g.level FROM grid_cell AS g WHERE g.path <@ CAST(:path AS ltree)
        )
        SELECT
            (SELECT coalesce(json_object_agg(level, n), '{{}}'::json)
               FROM (SELECT level, count(*) AS n FROM sub GROUP BY level) AS l) AS cells_by_level,
            w.*, e.*
        FROM ({_WORKER_COUNTS} FROM grid_worker AS w JOIN sub AS s ON s.id = w.cell_id
              WHERE w.active) AS w,
             ({_EVENT_COUNTS} FROM event AS e JOIN sub AS s ON s.id = e.cell_id) AS e
        """
    ),
    True: text(
        f"""
        SELECT
            (SELECT coalesce(json_object_agg(level, n), '{{}}'::json)
               FROM (SELECT level, count(*) AS n FROM grid_cell GROUP BY level) AS l)
               AS cells_by_level,
            w.*, e.*
        FROM ({_WORKER_COUNTS} FROM grid_worker AS w WHERE w.active) AS w,
             ({_EVENT_COUNTS} FROM event AS e) AS e
        """
    ),
}

_TREND = {
    whole: text(
        f"""
        WITH p AS (
            SELECT {NOW_SQL} AS now, CAST(({NOW_SQL} AT TIME ZONE :tz) AS date) AS today
        ),
        days AS (
            SELECT CAST(d AS date) AS day
            FROM p, generate_series(p.today - (:days - 1), p.today, interval '1 day') AS d
        ),
        ev AS (
            SELECT CAST((e.reported_at AT TIME ZONE :tz) AS date) AS day
            FROM p, {_EVENTS_IN[whole]}
                e.reported_at >= (CAST(p.today - (:days - 1) AS timestamp) AT TIME ZONE :tz)
                AND e.reported_at <= p.now
        )
        SELECT days.day, count(ev.day) AS n
        FROM days LEFT JOIN ev ON ev.day = days.day
        GROUP BY days.day ORDER BY days.day
        """
    )
    for whole in (False, True)
}

_CATEGORIES = {
    whole: text(
        f"""
        SELECT e.category, count(*) AS n
        FROM {_EVENTS_IN[whole]}
            (CAST(:days AS int) IS NULL
             OR (e.reported_at > {NOW_SQL} - make_interval(days => CAST(:days AS int))
                 AND e.reported_at <= {NOW_SQL}))
        GROUP BY e.category ORDER BY n DESC, e.category LIMIT :limit
        """
    )
    for whole in (False, True)
}


_CUSTOM_PLANS = text("SELECT set_config('plan_cache_mode', 'force_custom_plan', true)")


def check_code(code: Any) -> str:
    """``code`` if it is a syntactically valid cell code, else raise ValueError."""
    if not isinstance(code, str) or not CELL_CODE_RE.fullmatch(code):
        raise ValueError(f"not a valid cell code: {code!r}")
    return code


def custom_plans(conn: Connection) -> None:
    """Plan the rest of the transaction's statements for their actual parameter values.

    psycopg prepares a statement after five executions and PostgreSQL may then switch to a
    generic plan; for ``path <@ :path`` one plan cannot fit both the prefecture (sequential
    scan) and a village (ltree index), and a generic plan made a village's panel 8× slower.
    """
    conn.execute(_CUSTOM_PLANS)


def check_int(name: str, value: Any, lo: int, hi: int) -> int:
    """``value`` if it is an int (not a bool) from ``lo`` to ``hi``, else a ValueError naming
    the argument ``name`` (a caller error, not a database one)."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer from {lo} to {hi}, not {value!r}")
    return value


def resolve_cell(conn: Connection, *, scope_path: str, code: str) -> dict[str, Any] | None:
    """``{code, name, level, path, population, households, path_names, whole}`` of ``code``
    inside the scope (None when unknown or outside; ValueError when malformed). ``path_names``
    lists the names from the county (or the scope root) down to the cell; ``whole`` is true
    for the table's only level-1 cell (its subtree is every row)."""
    params = {"code": check_code(code), "scope": check_scope_path(scope_path)}
    custom_plans(conn)
    row = conn.execute(_RESOLVE, params).mappings().one_or_none()
    return None if row is None else dict(row)


def _trend(conn: Connection, cell: dict, days: int, now: dt.datetime | None) -> list[tuple]:
    params = {"path": cell["path"], "days": days, "now": now, "tz": TIMEZONE}
    return [(r.day, int(r.n)) for r in conn.execute(_TREND[bool(cell["whole"])], params)]


def _categories(
    conn: Connection, cell: dict, limit: int, days: int | None, now: dt.datetime | None
) -> list[tuple[str, int]]:
    params = {"path": cell["path"], "limit": limit, "days": days, "now": now}
    rows = conn.execute(_CATEGORIES[bool(cell["whole"])], params)
    return [(r.category, int(r.n)) for r in rows]


def event_trend(
    conn: Connection, *, scope_path: str, code: str, days: int = 30, now: dt.datetime | None = None
) -> list[tuple[dt.date, int]]:
    """Events reported per calendar day (:data:`TIMEZONE`) in the subtree of ``code`` over the
    last ``days`` days up to ``now`` inclusive, oldest first, zero-filled (exactly ``days``
    rows). Empty when the cell is unknown or outside the scope; ValueError on a malformed code
    or ``days`` outside 1–366."""
    check_int("days", days, 1, 366)
    cell = resolve_cell(conn, scope_path=scope_path, code=code)
    return [] if cell is None else _trend(conn, cell, days, now)


def top_categories(
    conn: Connection,
    *,
    scope_path: str,
    code: str,
    limit: int = 5,
    days: int | None = 30,
    now: dt.datetime | None = None,
) -> list[tuple[str, int]]:
    """The ``limit`` (1–50) most frequent event categories in the subtree of ``code`` as
    ``(category, count)``, most frequent first (ties by name), counting events reported in the
    last ``days`` days (None: all time). Empty when the cell is unknown or out of scope."""
    check_int("limit", limit, 1, 50)
    if days is not None:
        check_int("days", days, 1, 3660)
    cell = resolve_cell(conn, scope_path=scope_path, code=code)
    return [] if cell is None else _categories(conn, cell, limit, days, now)


def cell_summary(
    conn: Connection,
    *,
    scope_path: str,
    code: str,
    now: dt.datetime | None = None,
    trend_days: int = 30,
    top: int = 5,
) -> dict[str, Any] | None:
    """Everything the side panel shows for the cell ``code``, aggregated over its subtree;
    None when the code is unknown or outside ``scope_path``; ValueError when malformed.

    Keys: those of :func:`resolve_cell`; ``cells_by_level`` ({level: count} for each level
    below the cell, zeros included); ``workers``, ``workers_on_duty`` (active workers);
    ``grids`` (L5 grids in the subtree, 0 for an L6 cell); ``events_total``,
    ``events_open``, ``events_overdue``, ``events_resolved_7d``; ``trend`` (rows of
    :func:`event_trend` over ``trend_days``), ``trend_days``; ``categories`` (``top`` rows of
    :func:`top_categories` over the same days).
    """
    check_int("trend_days", trend_days, 1, 366)
    check_int("top", top, 1, 50)
    out = resolve_cell(conn, scope_path=scope_path, code=code)
    if out is None:
        return None
    params = {"path": out["path"], "open": list(OPEN_STATUSES), "now": now}
    agg = dict(conn.execute(_AGGREGATES[bool(out["whole"])], params).mappings().one())
    level = int(out["level"])
    by_level = {int(k): int(v) for k, v in (agg.pop("cells_by_level") or {}).items()}
    out["cells_by_level"] = {k: by_level.get(k, 0) for k in range(level + 1, 7)}
    out["grids"] = by_level.get(5, 0)
    out.update({k: int(v or 0) for k, v in agg.items()})
    out["path_names"] = list(out["path_names"] or [])
    out["trend_days"] = trend_days
    out["trend"] = _trend(conn, out, trend_days, now)
    out["categories"] = _categories(conn, out, top, trend_days, now)
    return out
