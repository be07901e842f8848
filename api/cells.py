"""The whole-level overview of the map, and the health check.

``GET /geo/cells.geojson?level=N`` (N = 1..3)
    The caller's cells of level N (inside the jurisdiction ``scope()``, derived server side)
    as GeoJSON, simplified for an overview, with a weak ETag (304 on ``If-None-Match``),
    ``Cache-Control`` and gzip when accepted. A bad level is a 400 JSON ``{error, detail}``;
    levels 4 to 6 are refused too (tens of MB whole: the map asks ``/geo/grid.pbf`` for a
    viewport instead).
``GET /healthz``
    ``{"status": "ok", "db": "ok"}``, or 503 ``{"status": "error", "db": "unavailable"}``
    with ``Retry-After`` when the database is down. Public (the gate lets it through).

Both sit on the blueprint ``geo``, so their endpoints are ``geo.cells`` and ``geo.healthz``
(the names the authorization matrix lists).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import flask
from sqlalchemy.engine import Engine

from api.http import cached_body
from geodata.cells import cells_geojson_text
from geodata.db import DatabaseError, check_connection
from gridcmd.web import RETRY_AFTER_S, json_error

__all__ = [
    "GEOJSON_CACHE_CONTROL",
    "GEOJSON_DIGITS",
    "MAX_WHOLE_LEVEL",
    "SIMPLIFY_DEG",
    "cells_blueprint",
]

log = logging.getLogger(__name__)

#: Overview simplification per level: Douglas–Peucker tolerance (degrees; 0.002° ≈ 200 m,
#: below a pixel at the prefecture-wide zooms) and coordinate decimals (5 ≈ 1 m).
SIMPLIFY_DEG: dict[int, float] = {1: 0.002, 2: 0.002, 3: 0.001, 4: 0.0005, 5: 0.0002, 6: 0.0001}
GEOJSON_DIGITS = 5
#: Finest level the whole-level GeoJSON overview route serves (L3: 110 townships, ~0.5 MB).
MAX_WHOLE_LEVEL = 3
#: Geometry changes only on re-seed/import; the ETag makes revalidation cheap after that.
GEOJSON_CACHE_CONTROL = "private, max-age=300"


def cells_blueprint(engine: Engine, scope: Callable[[], str]) -> flask.Blueprint:
    """The overview and health routes on ``engine``; ``scope()`` gives the caller's
    jurisdiction path."""
    bp = flask.Blueprint("geo", __name__)

    @bp.get("/geo/cells.geojson")
    def cells() -> flask.Response:
        raw = flask.request.args.get("level", "")
        if not raw.isdigit() or not 1 <= int(raw) <= 6:
            return json_error(400, "bad_request", "level must be an integer from 1 to 6")
        level = int(raw)
        if level > MAX_WHOLE_LEVEL:
            return json_error(
                400, "bad_request",
                f"level {level} is too large to send whole; use /geo/grid.pbf for a viewport",
            )  # fmt: skip
        with engine.connect() as conn:
            body = cells_geojson_text(
                conn,
                scope_path=scope(),
                level=level,
                simplify_deg=SIMPLIFY_DEG[level],
                digits=GEOJSON_DIGITS,
            ).encode()
        return cached_body(
            body, mimetype="application/geo+json", cache_control=GEOJSON_CACHE_CONTROL
        )

    @bp.get("/healthz")
    def healthz() -> tuple[flask.Response, int]:
        try:
            check_connection(engine)
        except DatabaseError as exc:
            log.warning("healthz: %s", exc)
            # Not the {error, detail} body: monitors read status/db.
            resp = flask.jsonify(status="error", db="unavailable")
            resp.headers["Retry-After"] = str(RETRY_AFTER_S)
            return resp, 503
        return flask.jsonify(status="ok", db="ok"), 200

    return bp
