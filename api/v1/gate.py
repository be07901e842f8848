"""Everything around the routes of ``/api/v1``: the bearer-token check before each request,
the request's database connection, the JSON error handlers and the catch-all that answers
unknown paths and wrong methods as JSON.
"""

from __future__ import annotations

import logging

import flask
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from api.v1.common import PREFIX, ApiError, error_response
from api.v1.schemas import MAX_BODY_BYTES, MAX_GATEWAY_BODY_BYTES
from geodata.ingest import IngestError
from geodata.tokens import token_for_request

__all__ = ["GATEWAY_ENDPOINTS", "GATEWAY_ONLY_POSITIONS", "install_gate"]

log = logging.getLogger(__name__)

#: Methods the catch-all answers with a JSON 404/405 (HEAD/OPTIONS are Flask's automatic ones).
_OTHER_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: The only endpoints a gateway token may call (checked by endpoint in ``authenticate``, so
#: routes added later are closed to gateways by default).
GATEWAY_ENDPOINTS = frozenset({"api_v1.post_positions", "api_v1.openapi"})
GATEWAY_ONLY_POSITIONS = "a gateway token may only send positions"


def install_gate(bp: flask.Blueprint, engine: Engine) -> None:
    """Install on the ``/api/v1`` blueprint ``bp``: the token check and the request's
    connection (``flask.g.api_conn``, ``api_caller``, ``api_worker``), its error handlers, and
    the catch-all route for paths no other rule matched."""

    @bp.before_request
    def authenticate() -> flask.Response | None:
        flask.request.max_content_length = MAX_BODY_BYTES
        auth = flask.request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return error_response(401, "unauthorized", "an `Authorization: Bearer <token>` "
                                  "header is required")  # fmt: skip
        # One autocommit connection per request (released in ``release_connection``): the token
        # check (a read, at most once a minute a one-row update) needs no BEGIN/COMMIT, and
        # routes that write in one statement (POST /events) reuse it instead of a second
        # checkout (and its pre-ping).
        conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        flask.g.api_conn = conn
        caller = token_for_request(conn, token.strip())
        if caller is None:
            return error_response(401, "unauthorized", "the token is unknown or revoked")
        if caller.is_gateway:
            # by endpoint, so every other route (including ones added later) is closed
            if flask.request.endpoint not in GATEWAY_ENDPOINTS:
                return error_response(403, "forbidden", GATEWAY_ONLY_POSITIONS)
            flask.request.max_content_length = MAX_GATEWAY_BODY_BYTES
        flask.g.api_caller = caller
        flask.g.api_worker = caller.worker  # None for a gateway
        return None

    @bp.teardown_request
    def release_connection(_exc: BaseException | None) -> None:
        conn = flask.g.pop("api_conn", None)
        if conn is not None:
            conn.close()

    @bp.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> flask.Response:
        return error_response(exc.status, exc.error, exc.detail, exc.field)

    @bp.errorhandler(IngestError)
    def _ingest_error(exc: IngestError) -> flask.Response:
        return error_response(exc.status, exc.error, exc.detail, exc.field)

    @bp.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> flask.Response:
        return error_response(413, "too_large", f"the body is over {MAX_BODY_BYTES:,} bytes")

    @bp.errorhandler(DBAPIError)
    def _db_error(exc: DBAPIError) -> flask.Response:
        # Blueprint handlers are looked up before the app's, so this mirrors api/errors.py.
        log.error("database error: %s", exc.orig if exc.orig is not None else exc)
        return error_response(503, "database_unavailable",
                              "The database is unavailable; try again in a moment.")  # fmt: skip

    @bp.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> flask.Response:
        return error_response(exc.code or 500, exc.name.lower().replace(" ", "_"),
                              exc.description or exc.name)  # fmt: skip

    @bp.errorhandler(Exception)
    def _unexpected(exc: Exception) -> flask.Response:
        # A bug, not bad input: still JSON for the app, with the traceback in the log.
        log.exception("unexpected error in %s %s", flask.request.method, flask.request.path)
        return error_response(500, "internal", "unexpected server error")

    @bp.route("/<path:rest>", methods=[*_OTHER_METHODS])
    def unknown(rest: str) -> flask.Response:
        # Catches what no API rule matched (else the Dash pages' catch-all would answer 200
        # HTML). A path that exists under another method is a 405 with ``Allow``.
        adapter = flask.current_app.url_map.bind_to_environ(flask.request.environ)
        allowed = []
        for method in ("GET", "POST"):
            try:
                endpoint, _ = adapter.match(method=method)
            except HTTPException:
                continue
            if endpoint != "api_v1.unknown":
                allowed.append(method)
        if allowed and flask.request.method not in allowed:
            resp = error_response(405, "method_not_allowed",
                                  f"{flask.request.method} is not allowed here; use "
                                  f"{' or '.join(allowed)}")  # fmt: skip
            resp.headers["Allow"] = ", ".join(allowed)
            return resp
        raise ApiError(404, "not_found", f"no route {PREFIX}/{rest}")
