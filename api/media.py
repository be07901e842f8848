"""Stored media for the dashboard: ``GET /media/photo/<id>`` serves an event photo to a
commander whose jurisdiction (``scope_fn()``, an ltree path derived on the server) contains the
event's cell; otherwise 404 (unknown and out of scope look the same).

The stored bytes carry no EXIF/GPS (see :mod:`geodata.photos`). :func:`send_photo` is shared
with the mobile API's photo route.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flask
from sqlalchemy.engine import Engine

from geodata.photos import photo_in_scope
from gridcmd.web import json_error, log_denial

__all__ = ["PHOTO_CACHE_CONTROL", "media_blueprint", "send_photo"]

log = logging.getLogger(__name__)
#: Photos never change (content-addressed) but are personal data: private caches only.
PHOTO_CACHE_CONTROL = "private, max-age=86400"


#: The one answer for a photo that does not exist, is out of scope or lost its file.
NO_PHOTO = "no such photo"


def send_photo(row: Any, photo_dir: Path) -> flask.Response:
    """The stored bytes of a photo row (``storage_key``, ``content_type``, ``sha256``) with
    ETag = sha256 (304 on ``If-None-Match``), ``Cache-Control: private`` and ``nosniff``;
    a JSON 404 when the file is missing."""
    path = Path(photo_dir) / row.storage_key
    try:
        data = path.read_bytes()
    except OSError:
        log.error("photo %s: file %s is missing", row.id, path)
        return json_error(404, "not_found", NO_PHOTO)
    resp = flask.Response(data, mimetype=row.content_type)
    resp.set_etag(row.sha256)
    resp.headers["Cache-Control"] = PHOTO_CACHE_CONTROL
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Disposition"] = f'inline; filename="{row.sha256[:16]}.{path.suffix[1:]}"'
    return resp.make_conditional(flask.request)


def media_blueprint(
    engine: Engine, scope_fn: Callable[[], str], photo_dir: Path
) -> flask.Blueprint:
    """The ``/media`` routes on ``engine``; ``scope_fn()`` gives the caller's jurisdiction."""
    bp = flask.Blueprint("media", __name__)

    @bp.get("/media/photo/<int:photo_id>")
    def photo(photo_id: int) -> flask.Response:
        with engine.connect() as conn:
            row = photo_in_scope(conn, photo_id, scope_fn())
        if row is None:
            log_denial(engine, f"photo {photo_id}")
            return json_error(404, "not_found", NO_PHOTO)
        return send_photo(row, photo_dir)

    return bp
