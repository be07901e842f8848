"""Household locations for the map: ``GET /geo/households.geojson?bbox=minx,miny,maxx,maxy``.

The caller's households (cell in the subtree of ``scope()``, derived server side) inside the
box as a GeoJSON FeatureCollection whose features carry only ``household_no`` and ``members``
(no names, ID or phone numbers). At most :data:`MAX_HOUSEHOLDS` per response: a wide view gets
a stable, spread-out sample (the overlay is clustered; zoom in for every household). gzip and a
weak ETag through :func:`api.http.cached_body`; bad input is a 400 JSON ``{error, detail,
field}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import flask
from sqlalchemy.engine import Engine

from api.cameras import parse_bbox
from api.http import bbox_or_400, cached_body
from geodata.residents import households_in_view

__all__ = ["HOUSEHOLDS_PATH", "MAX_HOUSEHOLDS", "households_blueprint", "households_geojson"]

HOUSEHOLDS_PATH = "/geo/households.geojson"
MAX_HOUSEHOLDS = 20_000
#: Residents change rarely; private because the body depends on the caller's scope.
CACHE_CONTROL = "private, max-age=60"
COORD_DIGITS = 6


def households_geojson(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Rows of :func:`geodata.residents.households_in_view` → a FeatureCollection (Points,
    properties ``household_no`` and ``members`` only)."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {
                    "type": "Point",
                    "coordinates": [
                        round(float(r["lon"]), COORD_DIGITS),
                        round(float(r["lat"]), COORD_DIGITS),
                    ],
                },
                "properties": {
                    "household_no": str(r["household_no"]),
                    "members": int(r["members"]),
                },
            }
            for r in rows
        ],
    }


def households_blueprint(engine: Engine, scope: Callable[[], str]) -> flask.Blueprint:
    """The household route on ``engine``; ``scope()`` gives the caller's jurisdiction path."""
    bp = flask.Blueprint("geo_households", __name__)

    @bp.get(HOUSEHOLDS_PATH)
    def households() -> flask.Response:
        bbox, error = bbox_or_400(parse_bbox)
        if error is not None:
            return error
        with engine.connect() as conn:
            rows = households_in_view(conn, scope(), bbox, MAX_HOUSEHOLDS)
        body = json.dumps(
            households_geojson(rows), ensure_ascii=False, separators=(",", ":")
        ).encode()
        return cached_body(body, mimetype="application/geo+json", cache_control=CACHE_CONTROL)

    return bp
