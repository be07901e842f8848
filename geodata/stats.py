"""Statistics of grid cells for the command map: the side panel, map metrics and search.

Every function takes a connection first and the caller's *scope path* (ltree path of the
jurisdiction cell) and only sees the subtree ``path <@ scope_path``: a cell outside the scope
is indistinguishable from an unknown one. Events reference their L6 cell; a cell's numbers are
aggregated over its whole subtree through the ltree path (the ancestor code at level L of a
cell is ``ltree2text(subpath(path, L - 1, 1))``).

Definitions (``now`` defaults to the database's ``now()``; tests pass a fixed instant):

* open: status in :data:`OPEN_STATUSES`; overdue: open and ``due_at < now``;
* resolved in the last 7 days: ``now - 7 days <= resolved_at <= now``;
* rate30: events reported in ``(now - 30 days, now]`` per 10,000 residents of the cell;
* coverage: share of the L5 grids of the subtree with at least one active on-duty worker
  assigned to the grid or one of its L6 micro-grids (an L6 cell takes its grid's value).

Calendar days (the trend chart) are days in :data:`TIMEZONE`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.cells import check_scope_path

__all__ = [
    "CODE_RE",
    "METRICS",
    "OPEN_STATUSES",
    "TIMEZONE",
    "cell_summary",
    "check_bbox",
    "check_code",
    "event_trend",
    "metric_values",
    "search_cells",
    "top_categories",
]

#: Event statuses that count as open (not finished).
OPEN_STATUSES = ("reported", "accepted", "dispatched", "in_progress", "returned", "escalated")
#: Map metrics; "none" colours nothing.
METRICS = ("none", "open", "overdue", "rate30", "coverage")
#: Local time zone of Dali prefecture, for calendar days.
TIMEZONE = "Asia/Shanghai"
#: A cell code (ltree label): letters, digits, underscore.
CODE_RE = re.compile(r"[A-Za-z0-9_]{1,24}")
#: Search query length bounds, characters (after stripping).
QUERY_MAX = 50
_DIGITS = re.compile(r"[0-9]{1,24}")

_NOW = "coalesce(CAST(:now AS timestamptz), now())"

_CELL = """
    SELECT c.id, c.code, c.name, c.level, c.path, c.population, c.households
    FROM grid_cell AS c WHERE c.code = :code AND c.path <@ CAST(:scope AS ltree)
"""

# Names of the ancestors (inside the scope, below the prefecture) and the cell itself; the
# code equals the path label, so the unique code index finds them.
_PATH_NAMES = """
    SELECT coalesce(json_agg(a.name ORDER BY a.level), '[]'::json)
    FROM grid_cell AS a
    WHERE a.code = ANY(string_to_array(ltree2text({path}), '.'))
      AND a.path <@ CAST(:scope AS ltree) AND (a.level >= 2 OR nlevel({path}) = 1)
"""

_SUMMARY = text(
    f"""
    WITH cell AS ({_CELL}),
    sub AS MATERIALIZED (
        SELECT g.id, g.level, g.path FROM grid_cell AS g JOIN cell ON g.path <@ cell.path
    )
    SELECT cell.code, cell.name, cell.level, ltree2text(cell.path) AS path,
           cell.population, cell.households,
           ({_PATH_NAMES.format(path="cell.path")}) AS path_names,
           (SELECT coalesce(json_object_agg(level, n), '{{}}'::json)
              FROM (SELECT level, count(*) AS n FROM sub GROUP BY level) AS l) AS cells_by_level,
           w.workers, w.workers_on_duty, w.grids_covered, e.*
    FROM cell,
    LATERAL (
        SELECT count(*) AS workers,
               count(*) FILTER (WHERE w.duty_status = 'on_duty') AS workers_on_duty,
               count(DISTINCT subpath(s.path, 0, 5))
                   FILTER (WHERE w.duty_status = 'on_duty' AND s.level >= 5) AS grids_covered
        FROM grid_worker AS w JOIN sub AS s ON s.id = w.cell_id
        WHERE w.active
    ) AS w,
    LATERAL (
        SELECT count(*) AS events_total,
               count(*) FILTER (WHERE e.status = ANY(:open)) AS events_open,
               count(*) FILTER (WHERE e.status = ANY(:open) AND e.due_at < {_NOW})
                   AS events_overdue,
               count(*) FILTER (WHERE e.resolved_at >= {_NOW} - interval '7 days'
                                  AND e.resolved_at <= {_NOW}) AS events_resolved_7d
        FROM event AS e JOIN sub AS s ON s.id = e.cell_id
    ) AS e
    """
)

_TREND = text(
    f"""
    WITH p AS (
        SELECT {_NOW} AS now,
               CAST(({_NOW} AT TIME ZONE :tz) AS date) AS today
    ),
    days AS (
        SELECT CAST(d AS date) AS day
        FROM p, generate_series(p.today - (:days - 1), p.today, interval '1 day') AS d
    ),
    ev AS (
        SELECT CAST((e.reported_at AT TIME ZONE :tz) AS date) AS day
        FROM p, event AS e JOIN grid_cell AS g ON g.id = e.cell_id
        WHERE g.path <@ CAST(:path AS ltree)
          AND e.reported_at >= ((p.today - (:days - 1)) AT TIME ZONE :tz)
          AND e.reported_at <= p.now
    )
    SELECT days.day, count(ev.day) AS n
    FROM days LEFT JOIN ev ON ev.day = days.day
    GROUP BY days.day ORDER BY days.day
    """
)

_CATEGORIES = text(
    f"""
    SELECT e.category, count(*) AS n
    FROM event AS e JOIN grid_cell AS g ON g.id = e.cell_id
    WHERE g.path <@ CAST(:path AS ltree)
      AND (CAST(:days AS int) IS NULL
           OR (e.reported_at > {_NOW} - make_interval(days => CAST(:days AS int))
               AND e.reported_at <= {_NOW}))
    GROUP BY e.category ORDER BY n DESC, e.category LIMIT :limit
    """
)

_SCOPE_CHECK = text("SELECT ltree2text(path) FROM grid_cell WHERE code = :code")

# Cells of one level in the view; `akey` is the code of the ancestor at level `akey_level`
# (the cell itself, or its L5 grid for the coverage of L6 cells).
_VIEW_CELLS = """
    cells AS MATERIALIZED (
        SELECT c.code, c.population,
               ltree2text(subpath(c.path, CAST(:akey_level AS int) - 1, 1)) AS akey
        FROM grid_cell AS c
        WHERE c.level = :level AND c.path <@ CAST(:scope AS ltree)
          AND c.geom && ST_MakeEnvelope(:xmin, :ymin, :xmax, :ymax, 4326)
    )
"""

# Events of the scope grouped by their ancestor at `akey_level`, only for the cells in view.
_EVENT_AGG = """
    agg AS (
        SELECT ltree2text(subpath(g.path, CAST(:akey_level AS int) - 1, 1)) AS akey,
               count(*) AS n
        FROM event AS e JOIN grid_cell AS g ON g.id = e.cell_id
        WHERE g.path <@ CAST(:scope AS ltree) AND {cond}
        GROUP BY 1
    )
"""

_METRIC_SQL: dict[str, Any] = {
    "open": text(
        f"""
        WITH {_VIEW_CELLS}, {_EVENT_AGG.format(cond="e.status = ANY(:open)")}
        SELECT cells.code, CAST(coalesce(agg.n, 0) AS float8) AS v
        FROM cells LEFT JOIN agg ON agg.akey = cells.akey
        """
    ),
    "overdue": text(
        f"""
        WITH {_VIEW_CELLS},
        {_EVENT_AGG.format(cond=f"e.status = ANY(:open) AND e.due_at < {_NOW}")}
        SELECT cells.code, CAST(coalesce(agg.n, 0) AS float8) AS v
        FROM cells LEFT JOIN agg ON agg.akey = cells.akey
        """
    ),
    "rate30": text(
        f"""
        WITH {_VIEW_CELLS},
        {_EVENT_AGG.format(cond=f"e.reported_at > {_NOW} - interval '30 days' "
                                f"AND e.reported_at <= {_NOW}")}
        SELECT cells.code, coalesce(agg.n, 0) * 10000.0 / cells.population AS v
        FROM cells LEFT JOIN agg ON agg.akey = cells.akey
        WHERE cells.population > 0
        """
    ),
    "coverage": text(
        f"""
        WITH {_VIEW_CELLS},
        covered AS (
            SELECT DISTINCT subpath(g.path, 0, 5) AS grid
            FROM grid_worker AS w JOIN grid_cell AS g ON g.id = w.cell_id
            WHERE w.active AND w.duty_status = 'on_duty' AND g.level >= 5
              AND g.path <@ CAST(:scope AS ltree)
        ),
        agg AS (
            SELECT ltree2text(subpath(g.path, CAST(:akey_level AS int) - 1, 1)) AS akey,
                   count(*) AS total, count(cv.grid) AS covered
            FROM grid_cell AS g LEFT JOIN covered AS cv ON cv.grid = g.path
            WHERE g.level = 5 AND g.path <@ CAST(:scope AS ltree)
            GROUP BY 1
        )
        SELECT cells.code, CAST(agg.covered AS float8) / agg.total AS v
        FROM cells JOIN agg ON agg.akey = cells.akey
        WHERE agg.total > 0
        """
    ),
}

_SEARCH = text(
    f"""
    WITH hits AS (
        SELECT c.code, c.name, c.level, c.path
        FROM grid_cell AS c
        WHERE c.path <@ CAST(:scope AS ltree)
          AND (c.name ILIKE :contains ESCAPE '\\'
               OR (CAST(:code_prefix AS text) IS NOT NULL
                   AND c.code LIKE :code_prefix ESCAPE '\\'))
        ORDER BY (c.code = :q) DESC, (c.name = :q) DESC, c.level, length(c.name), c.code
        LIMIT :limit
    )
    SELECT h.code, h.name, h.level, ltree2text(h.path) AS path,
           ({_PATH_NAMES.format(path="h.path")}) AS path_names
    FROM hits AS h
    ORDER BY (h.code = :q) DESC, (h.name = :q) DESC, h.level, length(h.name), h.code
    """
)


def check_code(code: Any) -> str:
    """``code`` if it is a syntactically valid cell code, else raise ValueError."""
    if not isinstance(code, str) or not CODE_RE.fullmatch(code):
        raise ValueError(f"not a valid cell code: {code!r}")
    return code


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


def _check_level(level: Any) -> int:
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 6:
        raise ValueError(f"level must be an integer from 1 to 6, not {level!r}")
    return level


def _check_int(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer from {lo} to {hi}, not {value!r}")
    return value


def _cell_path(conn: Connection, *, scope_path: str, code: str) -> str | None:
    """The ltree path of ``code`` if it lies inside ``scope_path``, else None."""
    path = conn.execute(_SCOPE_CHECK, {"code": check_code(code)}).scalar_one_or_none()
    scope = check_scope_path(scope_path)
    if path is None or not (path == scope or path.startswith(scope + ".")):
        return None
    return path


def _trend(conn: Connection, path: str, days: int, now: dt.datetime | None) -> list[tuple]:
    params = {"path": path, "days": days, "now": now, "tz": TIMEZONE}
    return [(r.day, int(r.n)) for r in conn.execute(_TREND, params)]


def _categories(
    conn: Connection, path: str, limit: int, days: int | None, now: dt.datetime | None
) -> list[tuple[str, int]]:
    params = {"path": path, "limit": limit, "days": days, "now": now}
    return [(r.category, int(r.n)) for r in conn.execute(_CATEGORIES, params)]


def event_trend(
    conn: Connection,
    *,
    scope_path: str,
    code: str,
    days: int = 30,
    now: dt.datetime | None = None,
) -> list[tuple[dt.date, int]]:
    """Events reported per calendar day (:data:`TIMEZONE`) in the subtree of ``code`` over the
    last ``days`` days up to ``now`` inclusive, oldest first, zero-filled (exactly ``days``
    rows). Empty list when the cell is unknown or outside the scope; ValueError on a malformed
    code or ``days`` outside 1–366."""
    _check_int("days", days, 1, 366)
    path = _cell_path(conn, scope_path=scope_path, code=code)
    return [] if path is None else _trend(conn, path, days, now)


def top_categories(
    conn: Connection,
    *,
    scope_path: str,
    code: str,
    limit: int = 5,
    days: int | None = 30,
    now: dt.datetime | None = None,
) -> list[tuple[str, int]]:
    """The ``limit`` most frequent event categories in the subtree of ``code`` as
    ``(category, count)``, most frequent first (ties by name), counting events reported in the
    last ``days`` days (None: all time). Empty when the cell is unknown or out of scope."""
    _check_int("limit", limit, 1, 50)
    if days is not None:
        _check_int("days", days, 1, 3660)
    path = _cell_path(conn, scope_path=scope_path, code=code)
    return [] if path is None else _categories(conn, path, limit, days, now)


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

    Keys: ``code, name, level, path`` (ltree text), ``path_names`` (names from the county down
    to the cell, inside the scope), ``population, households``, ``cells_by_level``
    ({level: count} for the levels below the cell, zeros included), ``workers``,
    ``workers_on_duty``, ``grids`` (L5 grids in the subtree; 1 for an L6 cell's own grid is not
    counted), ``grids_covered`` (grids with an on-duty worker), ``events_total``,
    ``events_open``, ``events_overdue``, ``events_resolved_7d``, ``trend``
    (:func:`event_trend` rows over ``trend_days``), ``trend_days``, ``categories``
    (:func:`top_categories` over the same days, ``top`` of them).
    """
    _check_int("trend_days", trend_days, 1, 366)
    _check_int("top", top, 1, 50)
    params = {
        "code": check_code(code),
        "scope": check_scope_path(scope_path),
        "open": list(OPEN_STATUSES),
        "now": now,
    }
    row = conn.execute(_SUMMARY, params).mappings().one_or_none()
    if row is None:
        return None
    out = dict(row)
    level = int(out["level"])
    by_level = {int(k): int(v) for k, v in (out.pop("cells_by_level") or {}).items()}
    out["cells_by_level"] = {k: by_level.get(k, 0) for k in range(level + 1, 7)}
    out["grids"] = by_level.get(5, 0) if level <= 5 else 0
    for k in ("population", "households", "workers", "workers_on_duty", "grids_covered"):
        out[k] = int(out[k] or 0)
    for k in ("events_total", "events_open", "events_overdue", "events_resolved_7d"):
        out[k] = int(out[k] or 0)
    out["trend_days"] = trend_days
    out["trend"] = _trend(conn, out["path"], trend_days, now)
    out["categories"] = _categories(conn, out["path"], top, trend_days, now)
    return out


def metric_values(
    conn: Connection,
    *,
    scope_path: str,
    level: int,
    bbox: Any,
    metric: str,
    now: dt.datetime | None = None,
) -> dict[str, float]:
    """``{code: value}`` of ``metric`` for the cells of ``level`` inside the scope whose
    bounding box intersects ``bbox`` (``xmin, ymin, xmax, ymax``, lon/lat degrees).

    ``open``/``overdue``: event counts (every cell present, zeros included); ``rate30``:
    events per 10,000 residents over 30 days (cells without residents are omitted);
    ``coverage``: 0–1 share of covered L5 grids (cells without grids omitted); ``none``: {}.
    ValueError on an unknown metric, a bad level or a bad bbox.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, not {metric!r}")
    level = _check_level(level)
    xmin, ymin, xmax, ymax = check_bbox(bbox)
    scope = check_scope_path(scope_path)
    if metric == "none":
        return {}
    params = {
        "scope": scope,
        "level": level,
        "akey_level": min(level, 5) if metric == "coverage" else level,
        "xmin": xmin,
        "ymin": ymin,
        "xmax": xmax,
        "ymax": ymax,
        "open": list(OPEN_STATUSES),
        "now": now,
    }
    return {r.code: float(r.v) for r in conn.execute(_METRIC_SQL[metric], params)}


def _like_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_cells(
    conn: Connection, *, scope_path: str, q: Any, limit: int = 20
) -> list[dict[str, Any]]:
    """Cells inside the scope whose name contains ``q`` (case-insensitive, any script, e.g.
    a partial Chinese name) or whose code starts with ``q``; best first (exact code, exact
    name, higher level, shorter name, code). Each: ``code, name, level, path`` (ltree text),
    ``path_names`` (list, county → cell) and ``path_label`` (joined with " › ").

    ``q`` is stripped and must be 1–50 characters (ValueError otherwise); LIKE wildcards in it
    match literally. ``limit``: 1–100.
    """
    if not isinstance(q, str):
        raise ValueError("query must be a string")
    q = q.strip()
    if not 1 <= len(q) <= QUERY_MAX or any(ord(ch) < 32 for ch in q):
        raise ValueError(f"query must be 1 to {QUERY_MAX} printable characters")
    _check_int("limit", limit, 1, 100)
    params = {
        "scope": check_scope_path(scope_path),
        "q": q,
        "contains": f"%{_like_escape(q)}%",
        "code_prefix": f"{q}%" if _DIGITS.fullmatch(q) else None,
        "limit": limit,
    }
    out = []
    for r in conn.execute(_SEARCH, params).mappings():
        d = dict(r)
        d["path_names"] = list(d["path_names"] or [])
        d["path_label"] = " › ".join(d["path_names"])
        out.append(d)
    return out
