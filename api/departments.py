"""Departments for the map: ``GET /geo/departments.geojson[?bbox=minx,miny,maxx,maxy]``.

The department units visible to the caller (``geodata.departments.list_departments``: cells
in the subtree of ``scope()`` or its ancestors, derived server side) as a GeoJSON
FeatureCollection whose features carry only ``id``, ``name`` and ``kind``. Same conventions
as the cameras route (``api/cameras.py``, whose bbox parser this reuses): gzip when
accepted, a weak ETag (304), bad input a 400 JSON ``{error, detail, field}``.
"""

from __future__ import annotations

from collections.abc import Callable

import flask
from sqlalchemy.engine import Engine

from api.cameras import parse_bbox
from api.http import bbox_or_400, cached_body
from geodata.departments import list_departments
from layers.departments import departments_geojson_text

__all__ = ["DEPARTMENTS_PATH", "MAX_DEPARTMENTS", "departments_blueprint"]

DEPARTMENTS_PATH = "/geo/departments.geojson"
#: Most departments sent in one response (a prefecture has a few hundred).
MAX_DEPARTMENTS = 20000
CACHE_CONTROL = "private, max-age=60"


def departments_blueprint(engine: Engine, scope: Callable[[], str]) -> flask.Blueprint:
    """The department route on ``engine``; ``scope()`` gives the caller's jurisdiction path."""
    bp = flask.Blueprint("geo_departments", __name__)

    @bp.get(DEPARTMENTS_PATH)
    def departments() -> flask.Response:
        bbox, error = bbox_or_400(parse_bbox)
        if error is not None:
            return error
        with engine.connect() as conn:
            rows = list_departments(conn, scope(), bbox=bbox, limit=MAX_DEPARTMENTS)
        body = departments_geojson_text(rows).encode()
        return cached_body(body, mimetype="application/geo+json", cache_control=CACHE_CONTROL)

    return bp
