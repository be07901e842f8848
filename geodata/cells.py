"""Grid-cell queries: GeoJSON of a level, one cell by code, and a jurisdiction summary.

Every function takes a connection first and the caller's *scope path* (the ``ltree`` path of
the jurisdiction cell, e.g. ``"532900"`` for the whole prefecture or ``"532900.532901"`` for
大理市) and only ever sees the subtree ``path <@ scope_path``, so a forgotten filter in a caller
cannot leak cells outside its jurisdiction. Coordinates are EPSG:4326 (lon, lat), degrees.
"""

from __future__ import annotations

import math
import re
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from gridcmd.vocab import CLOSED_STATUSES

__all__ = [
    "PREFECTURE_PATH",
    "cell_by_code",
    "cells_geojson_text",
    "check_scope_path",
    "prefecture_summary",
]

#: Scope path of the whole prefecture (大理白族自治州, code 532900).
PREFECTURE_PATH = "532900"

#: An ltree path of cell codes: labels of letters, digits and ``_`` joined by dots.
_LTREE = re.compile(r"[A-Za-z0-9_]{1,64}(\.[A-Za-z0-9_]{1,64}){0,5}")

_CELLS_GEOJSON = text(
    """
    SELECT json_build_object(
        'type', 'FeatureCollection',
        'features', coalesce(json_agg(
            json_build_object(
                'type', 'Feature',
                'id', c.code,
                'geometry', ST_AsGeoJSON(
                    CASE WHEN CAST(:tolerance AS float8) IS NULL THEN c.geom
                         ELSE ST_SimplifyPreserveTopology(c.geom, CAST(:tolerance AS float8))
                    END,
                    :digits
                )::json,
                'properties', json_build_object(
                    'code', c.code,
                    'name', c.name,
                    'level', c.level,
                    'population', c.population
                )
            ) ORDER BY c.code
        ), '[]'::json)
    )::text
    FROM grid_cell AS c
    WHERE c.level = :level AND c.path <@ CAST(:scope AS ltree)
    """
)

_CELL_BY_CODE = text(
    """
    SELECT c.id, c.code, c.level, c.name, c.path::text AS path, c.population, c.households,
           c.area_km2, c.synthetic,
           ST_XMin(c.geom) AS xmin, ST_YMin(c.geom) AS ymin,
           ST_XMax(c.geom) AS xmax, ST_YMax(c.geom) AS ymax,
           ST_X(c.label_point) AS label_x, ST_Y(c.label_point) AS label_y
    FROM grid_cell AS c
    WHERE c.code = :code AND c.path <@ CAST(:scope AS ltree)
    """
)

_SCOPE_ROOT = text(
    """
    SELECT c.code, c.name, c.level, c.population, c.households, c.area_km2,
           ST_XMin(c.geom) AS xmin, ST_YMin(c.geom) AS ymin,
           ST_XMax(c.geom) AS xmax, ST_YMax(c.geom) AS ymax
    FROM grid_cell AS c
    -- the code equals the path's last label: the unique code index finds the row directly
    WHERE c.code = ltree2text(subpath(CAST(:scope AS ltree), -1))
      AND c.path = CAST(:scope AS ltree)
    """
)

# One pass over the subtree (materialised once) instead of one ltree scan per count.
_SCOPE_COUNTS = text(
    """
    WITH scoped AS MATERIALIZED (
        SELECT c.id, c.level FROM grid_cell AS c WHERE c.path <@ CAST(:scope AS ltree)
    )
    SELECT
        (SELECT coalesce(json_object_agg(level, n), '{}'::json)
           FROM (SELECT level, count(*) AS n FROM scoped GROUP BY level) AS l) AS cells_by_level,
        w.workers, w.workers_on_duty, e.events, e.events_open
    FROM (
        SELECT count(*) AS workers,
               count(*) FILTER (WHERE w.duty_status = 'on_duty') AS workers_on_duty
        FROM grid_worker AS w JOIN scoped AS s ON s.id = w.cell_id
        WHERE w.active
    ) AS w,
    (
        SELECT count(*) AS events,
               count(*) FILTER (WHERE e.status <> ALL(:closed)) AS events_open
        FROM event AS e JOIN scoped AS s ON s.id = e.cell_id
    ) AS e
    """
)


def check_scope_path(scope_path: str) -> str:
    """Return ``scope_path`` if it is a syntactically valid ltree path, else raise ValueError.

    Checked in Python so a malformed value is a caller error, not a database syntax error.
    """
    if not isinstance(scope_path, str) or not _LTREE.fullmatch(scope_path):
        raise ValueError(f"not a valid scope path: {scope_path!r}")
    return scope_path


def _check_level(level: int) -> int:
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 6:
        raise ValueError(f"level must be an integer from 1 to 6, not {level!r}")
    return level


def cells_geojson_text(
    conn: Connection,
    *,
    scope_path: str,
    level: int,
    simplify_deg: float | None = None,
    digits: int = 6,
) -> str:
    """The cells of ``level`` inside ``scope_path`` as a GeoJSON FeatureCollection, serialised
    by PostgreSQL (no per-feature Python work).

    ``simplify_deg``: Douglas–Peucker tolerance in degrees (``ST_SimplifyPreserveTopology``,
    per feature, so neighbouring edges may drift apart by up to the tolerance); None keeps the
    stored geometry. ``digits``: decimal places of coordinates (6 ≈ 0.1 m).
    Feature ``id`` is the cell code; properties are ``code``, ``name``, ``level``,
    ``population``. Features are ordered by code. An unknown scope yields no features.
    """
    if simplify_deg is not None and not simplify_deg >= 0:
        raise ValueError(f"simplify_deg must be >= 0, not {simplify_deg!r}")
    if not 0 <= digits <= 15:
        raise ValueError(f"digits must be 0..15, not {digits!r}")
    params = {
        "scope": check_scope_path(scope_path),
        "level": _check_level(level),
        "tolerance": simplify_deg,
        "digits": digits,
    }
    return conn.execute(_CELLS_GEOJSON, params).scalar_one()


def cell_by_code(conn: Connection, code: str, *, scope_path: str) -> dict[str, Any] | None:
    """One cell by its code, or None when it does not exist *or* lies outside ``scope_path``
    (the two are indistinguishable to the caller on purpose).

    Keys: ``id, code, level, name, path, population, households, area_km2, synthetic``,
    ``bbox`` = ``[xmin, ymin, xmax, ymax]`` (lon/lat degrees) and ``label_point`` =
    ``[lon, lat]`` (or None).
    """
    row = (
        conn.execute(_CELL_BY_CODE, {"code": code, "scope": check_scope_path(scope_path)})
        .mappings()
        .one_or_none()
    )
    if row is None:
        return None
    cell = {k: row[k] for k in ("id", "code", "level", "name", "path", "population")}
    cell.update(
        households=row["households"],
        area_km2=row["area_km2"],
        synthetic=row["synthetic"],
        bbox=[row["xmin"], row["ymin"], row["xmax"], row["ymax"]],
        label_point=None if row["label_x"] is None else [row["label_x"], row["label_y"]],
    )
    return cell


def prefecture_summary(conn: Connection, scope_path: str) -> dict[str, Any]:
    """Headline numbers of the jurisdiction ``scope_path``.

    Returns ``{"root": {code, name, level, population, households, area_km2, bbox} | None,
    "cells_by_level": {level: count} (levels 1–6, zeros included, counted inside the scope),
    "population": int, "households": int (of the root cell, which sums its subtree),
    "workers": int, "workers_on_duty": int (active workers assigned inside the scope),
    "events": int, "events_open": int (events in cells inside the scope)}``.
    ``bbox`` is ``[xmin, ymin, xmax, ymax]`` in lon/lat degrees.
    An unknown scope gives ``root=None`` and zeros.
    """
    params = {"scope": check_scope_path(scope_path)}
    root = conn.execute(_SCOPE_ROOT, params).mappings().one_or_none()
    agg = conn.execute(_SCOPE_COUNTS, {**params, "closed": list(CLOSED_STATUSES)})
    agg = agg.mappings().one()
    counts = {level: 0 for level in range(1, 7)}
    counts.update({int(k): int(v) for k, v in agg["cells_by_level"].items()})
    root_out = None
    if root is not None:
        root_out = {
            k: root[k] for k in ("code", "name", "level", "population", "households", "area_km2")
        }
        root_out["bbox"] = [root["xmin"], root["ymin"], root["xmax"], root["ymax"]]
    return {
        "root": root_out,
        "cells_by_level": counts,
        "population": int(root["population"]) if root is not None else 0,
        "households": int(root["households"]) if root is not None else 0,
        "workers": int(agg["workers"]),
        "workers_on_duty": int(agg["workers_on_duty"]),
        "events": int(agg["events"]),
        "events_open": int(agg["events_open"]),
    }


_ANCESTORS = text(
    """
    SELECT a.code, a.name, a.level
    FROM grid_cell AS c
    JOIN grid_cell AS a ON a.code = ANY (string_to_array(ltree2text(c.path), '.'))
    WHERE c.code = :code
      AND c.path <@ CAST(:scope AS ltree)
      AND a.path <@ CAST(:scope AS ltree)
    ORDER BY a.level
    """
)


def cell_ancestors(conn: Connection, code: str, *, scope_path: str) -> list[dict[str, Any]]:
    """The chain from the scope's root down to ``code`` (inclusive) as ``{code, name, level}``
    dicts; empty when the cell is unknown or outside the scope."""
    rows = conn.execute(_ANCESTORS, {"code": code, "scope": check_scope_path(scope_path)})
    return [dict(r._mapping) for r in rows]


def view_params(bbox, limit: int) -> dict[str, Any]:
    """Bound parameters ``minx, miny, maxx, maxy, limit`` of a point-layer query: ``bbox`` is
    four finite lon/lat numbers or None (the whole scope: all four None). ValueError when
    malformed or ``limit`` is not a non-negative integer."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be a non-negative integer, not {limit!r}")
    box: dict[str, float | None] = dict.fromkeys(("minx", "miny", "maxx", "maxy"))
    if bbox is not None:
        values = [float(v) for v in bbox]
        if len(values) != 4 or not all(math.isfinite(v) for v in values):
            raise ValueError("bbox must be four finite numbers: minx, miny, maxx, maxy")
        box = dict(zip(("minx", "miny", "maxx", "maxy"), values, strict=True))
    return {**box, "limit": limit}
