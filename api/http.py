"""Small HTTP helpers shared by the dashboard's data routes."""

from __future__ import annotations

import gzip
import hashlib

import flask

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
        resp = flask.jsonify(error="bad_request", detail=str(exc), field="bbox")
        resp.status_code = 400
        resp.headers["Cache-Control"] = "no-store"
        return None, resp


def log_denial(engine, target: str, detail: str = "not found in the caller's jurisdiction") -> None:
    """Record a refused lookup (an id or code the caller may not see, or that does not exist —
    indistinguishable to the caller on purpose) as a ``denied`` security-log entry, at most
    once a minute per (ip, target, account, detail). Never raises: logging must not turn a
    404 into a 500."""
    from sqlalchemy.exc import DBAPIError

    from geodata.security_log import log_denied_throttled

    caller = getattr(flask.g, "caller", None) if flask.has_request_context() else None
    worker = getattr(flask.g, "api_worker", None) if flask.has_request_context() else None
    try:
        with engine.begin() as conn:
            log_denied_throttled(
                conn,
                account_id=getattr(caller, "account_id", None),
                username=getattr(caller, "username", None) or getattr(worker, "employee_no", None),
                ip=flask.request.remote_addr if flask.has_request_context() else None,
                target=target[:200],
                detail=detail,
            )
    except DBAPIError as exc:  # pragma: no cover - the answer is still the 404
        import logging

        logging.getLogger(__name__).warning("denial not logged: %s", exc.orig)
