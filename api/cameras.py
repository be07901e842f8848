"""Cameras for the map: ``GET /geo/cameras.geojson[?bbox=minx,miny,maxx,maxy]``.

The caller's cameras (cell in the subtree of ``scope()``, derived server side) as a GeoJSON
FeatureCollection whose features carry only ``id``, ``name`` and ``kind`` (no stream URL: the
player panel re-reads it by id, scoped). The whole jurisdiction is a few thousand points at
most, so the map asks for all of them once and clusters in the browser; ``bbox`` narrows it.
gzip when accepted; a weak ETag over the body answers repeat requests with 304. Bad input is
a 400 JSON ``{error, detail, field}``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import flask
from sqlalchemy.engine import Engine

from api.http import bbox_or_400, cached_body
from geodata.cameras import cameras_in_view
from layers.cameras import cameras_geojson_text

__all__ = ["CAMERAS_PATH", "MAX_CAMERAS", "cameras_blueprint", "parse_bbox"]

CAMERAS_PATH = "/geo/cameras.geojson"
#: Most cameras sent in one response (the inventory of a prefecture is well below this).
MAX_CAMERAS = 20000
#: Short: an import should show up on the next page load; the ETag keeps revalidation cheap.
CACHE_CONTROL = "private, max-age=60"
GZIP_LEVEL = 6


def parse_bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    """``minx,miny,maxx,maxy`` (lon/lat degrees) → tuple; None when absent; ValueError when
    malformed."""
    if raw is None or raw == "":
        return None
    try:
        values = tuple(float(p) for p in raw.split(","))
    except ValueError:
        raise ValueError("bbox must be four numbers: minx,miny,maxx,maxy") from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ValueError("bbox must be four finite numbers: minx,miny,maxx,maxy")
    minx, miny, maxx, maxy = values
    if minx >= maxx or miny >= maxy:
        raise ValueError("bbox must have minx < maxx and miny < maxy")
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90
            and -90 <= maxy <= 90):  # fmt: skip
        raise ValueError("bbox is outside the lon/lat range (did you swap lat and lon?)")
    return values  # type: ignore[return-value]


def cameras_blueprint(engine: Engine, scope: Callable[[], str]) -> flask.Blueprint:
    """The camera route on ``engine``; ``scope()`` gives the caller's jurisdiction path."""
    bp = flask.Blueprint("geo_cameras", __name__)

    @bp.get(CAMERAS_PATH)
    def cameras() -> flask.Response:
        bbox, error = bbox_or_400(parse_bbox)
        if error is not None:
            return error
        with engine.connect() as conn:
            rows = cameras_in_view(conn, scope(), bbox, MAX_CAMERAS)
        body = cameras_geojson_text(rows).encode()
        return cached_body(
            body, mimetype="application/geo+json", cache_control=CACHE_CONTROL,
            gzip_level=GZIP_LEVEL,
        )  # fmt: skip

    return bp
