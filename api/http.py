"""Small HTTP helpers shared by the dashboard's data routes."""

from __future__ import annotations

import gzip
import hashlib

import flask

from gridcmd.web import json_error

__all__ = ["bbox_or_400", "cached_body"]


def cached_body(
    body: bytes, *, mimetype: str, cache_control: str, gzip_level: int = 6
) -> flask.Response:
    """``body`` with a weak ETag (one tag for the gzip and identity encodings), 304 when the
    client's ``If-None-Match`` matches, gzip when accepted, and ``Vary`` on the encoding and
    the cookie (the body depends on the caller's scope)."""
    etag = hashlib.blake2b(body, digest_size=16).hexdigest()
    headers = {"Cache-Control": cache_control, "Vary": "Accept-Encoding, Cookie"}
    if flask.request.if_none_match.contains_weak(etag):
        resp = flask.Response(status=304, headers=headers)
        resp.set_etag(etag, weak=True)
        return resp
    resp = flask.Response(body, mimetype=mimetype, headers=headers)
    if flask.request.accept_encodings["gzip"]:
        resp.set_data(gzip.compress(body, compresslevel=gzip_level, mtime=0))
        resp.headers["Content-Encoding"] = "gzip"
    resp.set_etag(etag, weak=True)
    return resp


def bbox_or_400(parse) -> tuple[object, flask.Response | None]:
    """``(bbox, None)`` from the request's ``bbox`` argument parsed by ``parse`` (ValueError
    when malformed), or ``(None, a 400 JSON response naming the field)``."""
    try:
        return parse(flask.request.args.get("bbox")), None
    except ValueError as exc:
        return None, json_error(400, "bad_request", str(exc), field="bbox")
