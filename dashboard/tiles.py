"""An offline basemap: raster (or vector) tiles served by the app itself from a local MBTiles
file (SQLite, https://github.com/mapbox/mbtiles-spec).

``GET /tiles/<z>/<x>/<y>.<ext>`` answers with the tile at XYZ ``z/x/y`` (MBTiles rows are
TMS, so ``tile_row = 2^z - 1 - y``), the ``Content-Type`` of the file's ``format`` metadata, a
long ``Cache-Control`` and a strong ETag; 404 for a missing tile, an extension that does not
match the file's format, or when no file is configured. The file is opened read-only per
request (no connection kept in process memory), so several workers can share it.

Register with ``server.register_blueprint(tiles_blueprint(settings.mbtiles_path))``; the
layout offers the "local tiles" base layer when :func:`registered_mbtiles` finds the file.
"""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import flask

__all__ = ["BLUEPRINT_NAME", "CONTENT_TYPES", "mbtiles_info", "registered_mbtiles",
           "tiles_blueprint"]  # fmt: skip

BLUEPRINT_NAME = "gridcmd_tiles"
#: MBTiles ``format`` → (URL extension, Content-Type).
CONTENT_TYPES: dict[str, tuple[str, str]] = {
    "png": ("png", "image/png"),
    "jpg": ("jpg", "image/jpeg"),
    "jpeg": ("jpg", "image/jpeg"),
    "webp": ("webp", "image/webp"),
    "pbf": ("pbf", "application/x-protobuf"),
}
#: Tiles of a file only change when the operator replaces it; a day is a safe browser cache.
CACHE_CONTROL = "public, max-age=86400"
MAX_Z = 24


def _connect(path: Path) -> sqlite3.Connection:
    # Read-only URI: a missing file raises instead of creating an empty database.
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=2)


def mbtiles_info(path: Path | str | None) -> dict[str, Any] | None:
    """The file's metadata relevant to the map: ``{"format", "ext", "content_type", "name",
    "attribution", "minzoom", "maxzoom"}``, or None when ``path`` is unset, missing or not a
    readable MBTiles file. ``format`` defaults to png (the spec's default)."""
    if not path:
        return None
    p = Path(path)
    if not p.is_file():
        return None
    try:
        with closing(_connect(p)) as db:
            meta = dict(db.execute("SELECT name, value FROM metadata").fetchall())
    except sqlite3.Error:
        return None
    fmt = str(meta.get("format") or "png").lower()
    if fmt not in CONTENT_TYPES:
        return None
    ext, ctype = CONTENT_TYPES[fmt]

    def _int(key: str) -> int | None:
        try:
            return int(meta[key])
        except (KeyError, TypeError, ValueError):
            return None

    return {
        "format": fmt,
        "ext": ext,
        "content_type": ctype,
        "name": meta.get("name") or p.stem,
        "attribution": meta.get("attribution") or "",
        "minzoom": _int("minzoom"),
        "maxzoom": _int("maxzoom"),
    }


def tiles_blueprint(path: Path | str | None) -> flask.Blueprint:
    """The ``/tiles/<z>/<x>/<y>.<ext>`` route on the MBTiles file at ``path`` (None or a
    missing file: every tile is 404). The path is kept on the blueprint as ``mbtiles_path``."""
    bp = flask.Blueprint(BLUEPRINT_NAME, __name__)
    bp.mbtiles_path = Path(path) if path else None  # type: ignore[attr-defined]

    @bp.get("/tiles/<int:z>/<int:x>/<int:y>.<ext>")
    def tile(z: int, x: int, y: int, ext: str) -> flask.Response:
        info = mbtiles_info(bp.mbtiles_path)  # type: ignore[attr-defined]
        n = 1 << z if 0 <= z <= MAX_Z else 0
        if info is None or ext != info["ext"] or not (0 <= x < n and 0 <= y < n):
            return _not_found()
        try:
            with closing(_connect(bp.mbtiles_path)) as db:  # type: ignore[attr-defined]
                row = db.execute(
                    "SELECT tile_data FROM tiles "
                    "WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                    (z, x, n - 1 - y),  # XYZ → TMS
                ).fetchone()
        except sqlite3.Error:
            return _not_found()
        if row is None or row[0] is None:
            return _not_found()
        data = bytes(row[0])
        etag = hashlib.blake2b(data, digest_size=12).hexdigest()
        headers = {"Cache-Control": CACHE_CONTROL}
        if flask.request.if_none_match.contains(etag):
            resp = flask.Response(status=304, headers=headers)
        else:
            resp = flask.Response(data, mimetype=info["content_type"], headers=headers)
            if info["format"] == "pbf" and data[:2] == b"\x1f\x8b":
                resp.headers["Content-Encoding"] = "gzip"  # vector tiles are stored gzipped
        resp.set_etag(etag)
        return resp

    return bp


def registered_mbtiles(app: flask.Flask) -> dict[str, Any] | None:
    """:func:`mbtiles_info` of the file behind ``app``'s tiles blueprint, plus its ``url``
    template (``/tiles/{z}/{x}/{y}.<ext>``); None when the blueprint is not registered or the
    file is unusable."""
    bp = app.blueprints.get(BLUEPRINT_NAME)
    info = mbtiles_info(getattr(bp, "mbtiles_path", None))
    if info is None:
        return None
    return {**info, "url": "/tiles/{z}/{x}/{y}." + info["ext"]}


def _not_found() -> flask.Response:
    resp = flask.Response(status=404)
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp
