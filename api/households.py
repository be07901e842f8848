"""Household locations for the map: ``GET /geo/households.geojson?bbox=minx,miny,maxx,maxy``.

The caller's households (cell in the subtree of ``scope()``, derived server side) inside the
box as a GeoJSON FeatureCollection (no names, ID or phone numbers), with ``total``: how many
households the view holds.

* Up to :data:`MAX_HOUSEHOLDS`: one point per household, properties ``household_no`` and
  ``members``.
* More (a wide view): one point per grid (L5) at its label point, properties ``grid``,
  ``code`` and ``households`` (``aggregate: true``) — true counts, where a sample of
  households would make the clustered map under-count (``dashboard/assets/households.js``
  sums ``households`` in its cluster bubbles). Such a view costs a second query (≈0.6 s each
  prefecture-wide on the full demo; the answer is cached for 60 s).

gzip and a weak ETag through :func:`api.http.cached_body`; bad input is a 400 JSON ``{error,
detail, field}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import flask
from sqlalchemy.engine import Engine

from api.cameras import parse_bbox
from api.http import bbox_or_400, cached_body
from dashboard.population import HOUSEHOLDS_PATH
from geodata.residents import households_by_grid, households_in_view

__all__ = [
    "MAX_HOUSEHOLDS",
    "grid_households_geojson",
    "households_blueprint",
    "households_geojson",
]

MAX_HOUSEHOLDS = 20_000
#: Residents change rarely; private because the body depends on the caller's scope.
CACHE_CONTROL = "private, max-age=60"
COORD_DIGITS = 6


def _points(rows: Iterable[Mapping[str, Any]],
            properties: Callable[[Mapping[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """A FeatureCollection of Points at each row's ``lon``/``lat`` (rounded to
    :data:`COORD_DIGITS`) carrying ``properties(row)``."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {
                    "type": "Point",
                    "coordinates": [round(float(r["lon"]), COORD_DIGITS),
                                    round(float(r["lat"]), COORD_DIGITS)],  # fmt: skip
                },
                "properties": properties(r),
            }
            for r in rows
        ],
    }


def households_geojson(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Rows of :func:`geodata.residents.households_in_view` → a FeatureCollection (Points,
    properties ``household_no`` and ``members`` only)."""
    return _points(rows, lambda r: {"household_no": str(r["household_no"]),
                                    "members": int(r["members"])})  # fmt: skip


def grid_households_geojson(grids: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Rows of :func:`geodata.residents.households_by_grid` → a FeatureCollection of grid
    label points (properties ``aggregate``, ``grid``, ``code``, ``households``)."""
    return _points(grids, lambda g: {"aggregate": True, "grid": str(g["name"]),
                                     "code": str(g["code"]), "households": int(g["households"])})


def households_blueprint(engine: Engine, scope: Callable[[], str]) -> flask.Blueprint:
    """The household route on ``engine``; ``scope()`` gives the caller's jurisdiction path."""
    bp = flask.Blueprint("geo_households", __name__)

    @bp.get(HOUSEHOLDS_PATH)
    def households() -> flask.Response:
        bbox, error = bbox_or_400(parse_bbox)
        if error is not None:
            return error
        with engine.connect() as conn:
            # the usual (zoomed-in) view is one query; only a view over the limit asks again
            rows = households_in_view(conn, scope(), bbox, MAX_HOUSEHOLDS + 1)
            if len(rows) <= MAX_HOUSEHOLDS:
                fc, total = households_geojson(rows), len(rows)
            else:
                grids = households_by_grid(conn, scope(), bbox)
                fc, total = grid_households_geojson(grids), sum(g["households"] for g in grids)
        fc["total"] = total
        body = json.dumps(fc, ensure_ascii=False, separators=(",", ":")).encode()
        return cached_body(body, mimetype="application/geo+json", cache_control=CACHE_CONTROL)

    return bp
