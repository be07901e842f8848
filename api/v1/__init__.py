"""The mobile-app REST API, ``/api/v1`` (JSON in and out, bearer tokens only, no cookies).

Every route needs ``Authorization: Bearer <token>`` (tokens: ``gridcmd token create``).
Errors are JSON ``{error, detail, field?}``:

* 400 malformed JSON or a body that fails the schema (``field`` names the first bad field);
* 401 missing/unknown/revoked token; 403 acting for another worker, or a gateway token on any
  route but ``POST /positions`` (and ``openapi.json``);
* 404 unknown route or an event outside the caller's scope; 405 wrong method;
* 409 an event uuid reused with a different body; 413 body over 1 MB or more than 500 fixes
  (gateway tokens: 2 MB and 5,000 fixes);
* 422 well-formed but unusable (outside the prefecture, swapped lat/lon, future time).

2xx answers are sent only after the transaction committed. Routes and their schemas are listed
in :data:`api.v1.openapi.ROUTES`, served as ``GET /api/v1/openapi.json``.
"""

from __future__ import annotations

import json
import logging
import uuid as uuid_mod
from typing import Any

import flask
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from api.v1.schemas import (
    MAX_BODY_BYTES,
    MAX_FIXES,
    MAX_GATEWAY_BODY_BYTES,
    MAX_GATEWAY_FIXES,
    MAX_POSSIBLE_DUPLICATES,
    EventIn,
    FixIn,
)
from geodata.duplicates import find_duplicates, phone_duplicate
from geodata.ingest import (
    IngestError,
    event_for_worker,
    worker_profile,
)
from geodata.ingest_batch import EventWriter
from geodata.positions import ingest_fleet_positions, resolve_workers
from geodata.tokens import token_for_request
from gridcmd.settings import Settings, get_settings
from gridcmd.web import log_denial

__all__ = ["PREFIX", "api_blueprint", "with_possible_duplicates"]

PREFIX = "/api/v1"
#: Methods the catch-all answers with a JSON 404/405 (HEAD/OPTIONS are Flask's automatic ones).
_OTHER_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
FORBIDDEN_FIX = "403: a token may only send its own worker's fixes"
#: The only endpoints a gateway token may call (checked by endpoint in ``authenticate``, so
#: routes added later are closed to gateways by default).
GATEWAY_ENDPOINTS = frozenset({"api_v1.post_positions", "api_v1.openapi"})
GATEWAY_ONLY_POSITIONS = "a gateway token may only send positions"
GATEWAY_NEEDS_WORKER = "worker_id is required with a gateway token"
GATEWAY_UNKNOWN_WORKER = "no active worker with this worker_id"
GATEWAY_FORBIDDEN_FIX = "403: the worker is outside the gateway's scope"
log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: str, field: str | None = None):
        super().__init__(detail)
        self.status, self.error, self.detail, self.field = status, error, detail, field


def error_response(
    status: int, error: str, detail: str, field: str | None = None
) -> flask.Response:
    body: dict[str, Any] = {"error": error, "detail": detail}
    if field:
        body["field"] = field
    resp = flask.jsonify(body)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="gridcmd"'
    return resp


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def read_json() -> Any:
    """The request body parsed as strict JSON (no NaN/Infinity); ApiError 400/413 otherwise."""
    if (flask.request.content_length or 0) > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"the body is over {MAX_BODY_BYTES:,} bytes")
    raw = flask.request.get_data(cache=False)  # max_content_length caps chunked bodies too
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None


def validate(model: type[BaseModel] | TypeAdapter, data: Any) -> Any:
    """Validate ``data``; ApiError 400 naming the first bad field."""
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(data)
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(400, "invalid", *_first_error(exc)) from None


def _first_error(exc: ValidationError) -> tuple[str, str]:
    err = exc.errors(include_url=False, include_input=False)[0]
    field = ".".join(str(p) for p in err["loc"]) or "body"
    return f"{field}: {err['msg']}", field


def _json(data: Any, status: int = 200) -> flask.Response:
    resp = flask.jsonify(data)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


def with_possible_duplicates(
    conn: Connection, event: dict[str, Any], *, worker_id: int, settings: Settings
) -> dict[str, Any]:
    """The answer to ``POST /events``: ``event`` (stored and committed already) with
    ``possible_duplicates`` — at most :data:`MAX_POSSIBLE_DUPLICATES` open events of its
    category near it in space and time in the worker's county, nearest first, without
    titles or people (:func:`geodata.duplicates.find_duplicates`, one query on ``conn``) —
    and ``duplicates_checked``. The report is stored whatever happens here: if the lookup
    fails the answer still goes out, with ``[]`` and ``duplicates_checked: false``, so the
    phone never resends a stored report because of it."""
    try:
        rows = find_duplicates(
            conn, uuid_mod.UUID(event["uuid"]), worker_id=worker_id,
            radius_m=settings.duplicate_radius_m, window_h=settings.duplicate_window_h,
            limit=MAX_POSSIBLE_DUPLICATES,
        )  # fmt: skip
        items, checked = [phone_duplicate(r) for r in rows], True
    except Exception:  # noqa: BLE001 - the event is committed: answer it regardless
        log.exception("possible duplicates of event %s: lookup failed", event["uuid"])
        items, checked = [], False
    return {**event, "possible_duplicates": items, "duplicates_checked": checked}


def api_blueprint(engine: Engine, settings: Settings | None = None) -> flask.Blueprint:
    """The ``/api/v1`` blueprint on ``engine`` (``settings``: the tunables; read from the
    environment when None)."""
    from api.v1.field import event_photos, register_field_routes
    from api.v1.openapi import openapi_document

    settings = settings or get_settings()

    bp = flask.Blueprint("api_v1", __name__, url_prefix=PREFIX)
    writer = EventWriter(engine)
    fix_adapter = TypeAdapter(FixIn)
    fixes_adapter = TypeAdapter(list[FixIn])

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
        # Blueprint handlers are looked up before the app's, so this mirrors app.py's 503.
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

    @bp.post("/events")
    def post_event() -> flask.Response:
        if flask.request.mimetype == "multipart/form-data":  # the report plus photos
            from api.v1.field import post_event_multipart

            return post_event_multipart(engine, settings)
        body = validate(EventIn, read_json())
        data = body.model_dump(mode="json")
        # Group commit (geodata/ingest_batch.py): the reports arriving together share one
        # statement, one transaction and one WAL flush; this returns once the COMMIT holding
        # ours is done. If this request does the writing, it uses its own autocommit
        # connection (already checked out for the token).
        worker_id = flask.g.api_worker.id
        result = writer.submit(data, worker_id=worker_id, conn=flask.g.api_conn)
        # committed: only now look for possible duplicates (a read that sees the event) and
        # answer
        out = with_possible_duplicates(flask.g.api_conn, result.event, worker_id=worker_id,
                                       settings=settings)  # fmt: skip
        return _json(out, 201 if result.created else 200)

    @bp.get("/events/<event_uuid>")
    def get_event(event_uuid: str) -> flask.Response:
        try:
            parsed = uuid_mod.UUID(event_uuid)
        except ValueError:
            raise ApiError(404, "not_found", "no such event", "uuid") from None
        with engine.connect() as conn:
            event = event_for_worker(conn, parsed, flask.g.api_worker.id)
            if event is not None:
                event["photos"] = event_photos(conn, parsed)
        if event is None:
            log_denial(engine, f"api event {parsed}")
            raise ApiError(404, "not_found", "no such event", "uuid")
        return _json(event)

    @bp.post("/positions")
    def post_positions() -> flask.Response:
        caller = flask.g.api_caller
        gateway = caller.is_gateway
        if gateway:  # larger batches: read with the gateway's body limit
            if (flask.request.content_length or 0) > MAX_GATEWAY_BODY_BYTES:
                raise ApiError(413, "too_large",
                               f"the body is over {MAX_GATEWAY_BODY_BYTES:,} bytes")  # fmt: skip
            try:
                data = json.loads(flask.request.get_data(cache=False),
                                  parse_constant=_reject_constant)  # fmt: skip
            except (ValueError, RecursionError) as exc:
                raise ApiError(400, "malformed_json",
                               f"the body is not valid JSON: {exc}") from None  # fmt: skip
        else:
            data = read_json()
        if not isinstance(data, dict) or not isinstance(data.get("fixes"), list):
            raise ApiError(400, "invalid", 'the body must be {"fixes": [...]}', "fixes")
        extra = set(data) - {"fixes"}
        if extra:
            raise ApiError(400, "invalid", f"unexpected field {sorted(extra)[0]!r}",
                           sorted(extra)[0])  # fmt: skip
        items = data["fixes"]
        limit = MAX_GATEWAY_FIXES if gateway else MAX_FIXES
        if len(items) > limit:
            raise ApiError(413, "too_large", f"at most {limit} fixes per request",
                           "fixes")  # fmt: skip
        rejected: list[dict[str, Any]] = []
        try:  # the whole batch in one call; per item only when something is wrong
            valid = list(enumerate(fixes_adapter.validate_python(items)))
        except ValidationError:
            valid = []
            for i, item in enumerate(items):
                try:
                    valid.append((i, fix_adapter.validate_python(item)))
                except ValidationError as exc:
                    detail, _field = _first_error(exc)
                    rejected.append({"index": i, "reason": "invalid", "detail": detail})
        fleet = []
        with engine.begin() as conn:
            if gateway:
                refs = [f.worker_id for _, f in valid if f.worker_id is not None]
                who = resolve_workers(conn, refs, caller.scope_path) if refs else {}
                for i, f in valid:
                    if f.worker_id is None:
                        rejected.append({"index": i, "reason": "invalid",
                                         "detail": GATEWAY_NEEDS_WORKER})  # fmt: skip
                        continue
                    wid, why = who[f.worker_id]
                    if why:
                        detail = GATEWAY_FORBIDDEN_FIX if why == "forbidden" else (
                            GATEWAY_UNKNOWN_WORKER)  # fmt: skip
                        rejected.append({"index": i, "reason": why, "detail": detail})
                        continue
                    fleet.append((i, wid, f.fix_time, f.lon, f.lat, f.accuracy))
            else:
                me = caller.worker
                for i, f in valid:
                    if f.worker_id is not None and f.worker_id not in (me.employee_no, me.id):
                        rejected.append({"index": i, "reason": "forbidden",
                                         "detail": FORBIDDEN_FIX})  # fmt: skip
                        continue
                    fleet.append((i, me.id, f.fix_time, f.lon, f.lat, f.accuracy))
            res = ingest_fleet_positions(conn, fleet)
        # committed: only now answer
        rejected = sorted(rejected + res.rejected, key=lambda r: r["index"])
        return _json({"accepted": res.accepted, "duplicates": res.duplicates,
                      "rejected": rejected})  # fmt: skip

    @bp.get("/me")
    def me() -> flask.Response:
        with engine.connect() as conn:
            profile = worker_profile(conn, flask.g.api_worker.id)
        if profile is None:  # pragma: no cover - the token check found the worker
            raise ApiError(404, "not_found", "no such worker")
        return _json(profile)

    register_field_routes(bp, engine, settings)

    @bp.get("/openapi.json")
    def openapi() -> flask.Response:
        return _json(openapi_document(flask.current_app, prefix=PREFIX))

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

    return bp
