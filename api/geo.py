"""Grid geometry for the map: one viewport's cells as compressed geobuf, and one cell's facts.

``GET /geo/grid.pbf?z=<zoom>&bbox=<minx,miny,maxx,maxy>[&sel=<code>]``
    The cells drawn for that viewport (level by ``gridcmd.zoom.display_level``), pre-simplified for
    the zoom band and quantised, inside the caller's scope only. gzip when accepted; a weak
    ETag over (LOD build, scope, request) answers repeat requests with 304 without touching the
    geometry; ``X-Grid-Level``/``-Features``/``-Vertices`` headers describe the payload.
``GET /geo/cell/<code>.json``
    ``{code, name, level, bbox, label_point, population, households, path: [...]}`` — 404 when
    the code is unknown *or* outside the caller's scope (indistinguishable on purpose).

Bad input is a 400 JSON ``{error, detail, field}``; never a 500.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable

import flask
from sqlalchemy.engine import Engine

from geodata.cells import cell_ancestors, cell_by_code
from geodata.lod import grid_view, lod_version, selected_level
from gridcmd.vocab import CELL_CODE_RE
from gridcmd.web import json_error, log_denial
from layers.viewport import parse_view

CACHE_CONTROL = "private, max-age=600"
#: gzip level 4: ~2× faster than 6 for a few percent more bytes on these payloads.
GZIP_LEVEL = 4


def geo_blueprint(engine: Engine, scope: Callable[[], str]) -> flask.Blueprint:
    """Routes on ``engine``; ``scope()`` gives the caller's jurisdiction path (server side)."""
    bp = flask.Blueprint("geo_grid", __name__)

    @bp.get("/geo/grid.pbf")
    def grid() -> flask.Response:
        try:
            z, bbox, sel = parse_view(flask.request.args)
        except ValueError as exc:
            field, detail = exc.args
            return json_error(400, "bad_request", detail, field=field)
        scope_path = scope()
        with engine.connect() as conn:
            version = lod_version(conn)
            if version is None:
                return json_error(404, "not_found", "the grid geometry has not been built yet "
                                  "(gridcmd lod build)", field="z")  # fmt: skip
            key = f"{version}|{scope_path}|{z}|{bbox}|{sel}".encode()
            etag = hashlib.blake2b(key, digest_size=12).hexdigest()
            if flask.request.if_none_match.contains_weak(etag):
                resp = flask.Response(status=304)
                resp.set_etag(etag, weak=True)
                resp.headers["Cache-Control"] = CACHE_CONTROL
                return resp
            if sel and selected_level(conn, scope_path=scope_path, code=sel) is None:
                log_denial(engine, f"grid sel={sel}")
                return json_error(404, "not_found", f"unknown cell code {sel!r}", field="sel")
            body, level, n, nv = grid_view(conn, scope_path=scope_path, zoom=z, bbox=bbox,
                                           selected=sel)  # fmt: skip
        resp = flask.Response(body, mimetype="application/x-protobuf")
        if flask.request.accept_encodings["gzip"]:
            resp.set_data(gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0))
            resp.headers["Content-Encoding"] = "gzip"
        resp.set_etag(etag, weak=True)  # weak: one tag for the gzip and identity encodings
        resp.headers.update({
            "Cache-Control": CACHE_CONTROL,
            "Vary": "Accept-Encoding, Cookie",
            "X-Grid-Level": str(level),
            "X-Grid-Features": str(n),
            "X-Grid-Vertices": str(nv),
        })  # fmt: skip
        return resp

    @bp.get("/geo/cell/<code>.json")
    def cell(code: str) -> flask.Response:
        if not CELL_CODE_RE.fullmatch(code):
            return json_error(400, "bad_request", "a cell code is 6 to 20 digits", field="code")
        scope_path = scope()
        with engine.connect() as conn:
            info = cell_by_code(conn, code, scope_path=scope_path)
            if info is None:
                log_denial(engine, f"cell {code}")
                return json_error(404, "not_found", f"unknown cell code {code!r}", field="code")
            path = cell_ancestors(conn, code, scope_path=scope_path)
        keep = ("code", "name", "level", "bbox", "label_point", "population", "households",
                "area_km2", "synthetic")  # fmt: skip
        resp = flask.jsonify({**{k: info[k] for k in keep}, "path": path})
        resp.headers["Cache-Control"] = "private, max-age=60"
        return resp

    return bp
