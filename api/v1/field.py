"""Field-work routes of ``/api/v1``: the worker's profile, check-ins, patrols, household visits,
the worker's grid overview and open tasks, and event photos (multipart uploads, served without
metadata).

Registered on the API blueprint by :func:`register_field_routes` (authentication and the JSON
error handlers are the blueprint's). Writes answer 201 (new) or 200 (replay of the same uuid
and body) only after COMMIT; the same uuid with another body is 409.
"""

from __future__ import annotations

import uuid as uuid_mod

import flask
from sqlalchemy.engine import Engine

from api.media import send_photo
from api.v1.common import PREFIX, ApiError, json_response, read_json, validate
from api.v1.schemas_field import CheckinIn, PatrolIn, VisitIn
from api.v1.uploads import read_upload
from geodata.fieldwork import record_checkin, record_patrol
from geodata.ingest import worker_profile
from geodata.overview import MAX_TASKS, my_overview, my_tasks
from geodata.photos import add_photos, photo_dict, photo_for_worker
from geodata.visits import record_visit
from gridcmd.settings import Settings

__all__ = ["MAX_CURSOR", "register_field_routes"]

#: Largest ``?cursor=`` (an offset into the task list).
MAX_CURSOR = 100_000


def _event_uuid(raw: str) -> uuid_mod.UUID:
    try:
        return uuid_mod.UUID(raw)
    except ValueError:
        raise ApiError(404, "not_found", "no such event", "uuid") from None


def _query_int(name: str, default: int, lo: int, hi: int) -> int:
    raw = flask.request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise ApiError(400, "invalid", f"{name} must be an integer from {lo} to {hi}", name)
    return int(raw)


def register_field_routes(bp: flask.Blueprint, engine: Engine, settings: Settings) -> None:
    """Add the field-work routes to the ``/api/v1`` blueprint ``bp``."""

    @bp.get("/me")
    def me() -> flask.Response:
        with engine.connect() as conn:
            profile = worker_profile(conn, flask.g.api_worker.id)
        if profile is None:  # pragma: no cover - the token check found the worker
            raise ApiError(404, "not_found", "no such worker")
        return json_response(profile)

    @bp.post("/checkins")
    def post_checkin() -> flask.Response:
        data = validate(CheckinIn, read_json()).model_dump(mode="json")
        with engine.begin() as conn:
            res = record_checkin(conn, data, worker_id=flask.g.api_worker.id,
                                 tolerance_m=settings.checkin_tolerance_m)  # fmt: skip
        return json_response(res.record, 201 if res.created else 200)

    @bp.post("/patrols")
    def post_patrol() -> flask.Response:
        data = validate(PatrolIn, read_json()).model_dump(mode="json")
        with engine.begin() as conn:
            res = record_patrol(conn, data, worker_id=flask.g.api_worker.id)
        return json_response(res.record, 201 if res.created else 200)

    @bp.post("/visits")
    def post_visit() -> flask.Response:
        data = validate(VisitIn, read_json()).model_dump(mode="json")
        with engine.begin() as conn:
            res = record_visit(conn, data, worker_id=flask.g.api_worker.id,
                               tolerance_m=settings.checkin_tolerance_m)  # fmt: skip
        return json_response(res.record, 201 if res.created else 200)

    @bp.get("/me/overview")
    def me_overview() -> flask.Response:
        with engine.connect() as conn:
            out = my_overview(conn, flask.g.api_worker.id)
        if out is None:  # pragma: no cover - the token check found the worker
            raise ApiError(404, "not_found", "no such worker")
        return json_response(out)

    @bp.get("/me/tasks")
    def me_tasks() -> flask.Response:
        limit = _query_int("limit", 50, 1, MAX_TASKS)
        offset = _query_int("cursor", 0, 0, MAX_CURSOR)
        include = flask.request.args.get("include", "")
        if include not in ("", "reported"):
            raise ApiError(400, "invalid", "include must be 'reported' (or absent)", "include")
        with engine.connect() as conn:
            items, more = my_tasks(conn, flask.g.api_worker.id, limit=limit, offset=offset,
                                   include_reported=include == "reported")  # fmt: skip
        return json_response({"items": items, "next_cursor": str(offset + limit) if more else None})

    @bp.post("/events/<event_uuid>/photos")
    def post_photos(event_uuid: str) -> flask.Response:
        parsed = _event_uuid(event_uuid)
        _, photos = read_upload(settings, with_report=False)
        with engine.begin() as conn:
            rows, created = add_photos(conn, parsed, photos, worker_id=flask.g.api_worker.id,
                                       photo_dir=settings.photo_dir)  # fmt: skip
            out = {"photos": [photo_dict(r, PREFIX) for r in rows], "created": created}
        return json_response(out, 201 if created else 200)

    @bp.get("/events/<event_uuid>/photos/<int:photo_id>")
    def get_photo(event_uuid: str, photo_id: int) -> flask.Response:
        parsed = _event_uuid(event_uuid)
        with engine.connect() as conn:
            row = photo_for_worker(conn, parsed, photo_id, flask.g.api_worker.id)
        if row is None:
            raise ApiError(404, "not_found", "no such photo")
        return send_photo(row, settings.photo_dir)
