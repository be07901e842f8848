"""Field-work routes of ``/api/v1``: check-ins, patrols, household visits, the worker's grid
overview and open tasks, and event photos (multipart uploads, served without metadata).

Registered on the API blueprint by :func:`register_field_routes` (authentication and the JSON
error handlers are the blueprint's). Writes answer 201 (new) or 200 (replay of the same uuid
and body) only after COMMIT; the same uuid with another body is 409.
"""

from __future__ import annotations

import json
import uuid as uuid_mod
from typing import Any

import flask
from sqlalchemy.engine import Engine
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from api.media import send_photo
from api.v1 import (
    PREFIX,
    ApiError,
    _json,
    _reject_constant,
    read_json,
    validate,
    with_possible_duplicates,
)
from api.v1.schemas import MAX_BODY_BYTES, EventIn
from api.v1.schemas_field import CheckinIn, PatrolIn, VisitIn
from geodata.fieldwork import record_checkin, record_patrol
from geodata.ingest import ingest_event
from geodata.overview import MAX_TASKS, my_overview, my_tasks
from geodata.photos import (
    MAX_PHOTOS_PER_REQUEST,
    StoredPhoto,
    add_photos,
    photo_dict,
    photo_for_worker,
    photos_for_event,
    prepare_photo,
)
from geodata.visits import record_visit
from gridcmd.settings import Settings, get_settings

__all__ = ["event_photos", "post_event_multipart", "register_field_routes"]

#: Largest ``?cursor=`` (an offset into the task list).
MAX_CURSOR = 100_000


def _event_uuid(raw: str) -> uuid_mod.UUID:
    try:
        return uuid_mod.UUID(raw)
    except ValueError:
        raise ApiError(404, "not_found", "no such event", "uuid") from None


def event_photos(conn, event_uuid: uuid_mod.UUID) -> list[dict[str, Any]]:
    """The photos of an event as API dicts (the caller has checked the event's scope)."""
    return [photo_dict(r, PREFIX) for r in photos_for_event(conn, event_uuid)]


def _read_part(part: FileStorage, limit: int) -> bytes:
    return part.stream.read(limit + 1)


def read_upload(settings: Settings, *, with_report: bool) -> tuple[Any, list[StoredPhoto]]:
    """Parse a ``multipart/form-data`` request: the ``report`` part (JSON, when
    ``with_report``) and up to :data:`MAX_PHOTOS_PER_REQUEST` ``photos`` parts, each checked by
    content and cleaned (:func:`geodata.photos.prepare_photo`). ApiError/PhotoError 4xx."""
    if flask.request.mimetype != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type", "send multipart/form-data with "
                       "`photos` parts")  # fmt: skip
    max_photo = settings.photo_max_bytes
    # Room for every photo part plus the report and the multipart framing.
    limit = MAX_BODY_BYTES + MAX_PHOTOS_PER_REQUEST * (max_photo + 64 * 1024)
    flask.request.max_content_length = limit
    if (flask.request.content_length or 0) > limit:
        raise ApiError(413, "too_large", f"the upload is over {limit:,} bytes (at most "
                       f"{MAX_PHOTOS_PER_REQUEST} photos of {max_photo:,} bytes)")  # fmt: skip
    try:
        files, form = flask.request.files, flask.request.form
    except RequestEntityTooLarge:
        raise ApiError(413, "too_large", f"the upload is over {limit:,} bytes") from None
    allowed_files = {"photos", "report"} if with_report else {"photos"}
    allowed_form = {"report"} if with_report else set()
    for name in list(files) + list(form):
        if name not in (allowed_files if name in files else allowed_form):
            raise ApiError(400, "invalid", f"unexpected part {name!r}", name)
    report: Any = None
    if with_report:
        raw = form.get("report")
        if raw is None and "report" in files:
            raw_bytes = _read_part(files["report"], MAX_BODY_BYTES)
            if len(raw_bytes) > MAX_BODY_BYTES:
                raise ApiError(413, "too_large", f"the report is over {MAX_BODY_BYTES:,} bytes",
                               "report")  # fmt: skip
            raw = raw_bytes.decode("utf-8", errors="replace")
        if raw is None:
            raise ApiError(400, "invalid", "a `report` part with the event JSON is required",
                           "report")  # fmt: skip
        try:
            report = json.loads(raw, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise ApiError(400, "malformed_json", f"the report is not valid JSON: {exc}",
                           "report") from None  # fmt: skip
    parts = files.getlist("photos")
    if len(parts) > MAX_PHOTOS_PER_REQUEST:
        raise ApiError(422, "too_many_photos",
                       f"at most {MAX_PHOTOS_PER_REQUEST} photos per request ({len(parts)} sent)",
                       "photos")  # fmt: skip
    if not with_report and not parts:
        raise ApiError(400, "invalid", "at least one `photos` part is required", "photos")
    photos = []
    for i, part in enumerate(parts):
        photos.append(prepare_photo(_read_part(part, max_photo), max_bytes=max_photo,
                                    field=f"photos.{i}"))  # fmt: skip
    return report, photos


def post_event_multipart(engine: Engine, settings: Settings | None) -> flask.Response:
    """``POST /events`` as ``multipart/form-data``: the event (``report`` part, the JSON of
    :class:`~api.v1.schemas.EventIn`) and its photos in one transaction. 201 when the event is
    new, 200 on a replay (photos already attached are not duplicated); after the COMMIT, the
    possible duplicates are added as for the JSON body."""
    settings = settings or get_settings()
    report, photos = read_upload(settings, with_report=True)
    data = validate(EventIn, report).model_dump(mode="json")
    me = flask.g.api_worker
    with engine.begin() as conn:
        result = ingest_event(conn, data, worker_id=me.id)
        ev_uuid = uuid_mod.UUID(result.event["uuid"])
        if photos:
            add_photos(conn, ev_uuid, photos, worker_id=me.id, photo_dir=settings.photo_dir)
        event = {**result.event, "photos": event_photos(conn, ev_uuid)}
    # committed: only now look for possible duplicates (on the request's autocommit connection)
    event = with_possible_duplicates(flask.g.api_conn, event, worker_id=me.id,
                                     settings=settings)  # fmt: skip
    return _json(event, 201 if result.created else 200)


def _query_int(name: str, default: int, lo: int, hi: int) -> int:
    raw = flask.request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise ApiError(400, "invalid", f"{name} must be an integer from {lo} to {hi}", name)
    return int(raw)


def register_field_routes(bp: flask.Blueprint, engine: Engine, settings: Settings | None) -> None:
    """Add the field-work routes to the ``/api/v1`` blueprint ``bp``."""
    settings = settings or get_settings()
    from api.v1.cases import register_case_routes

    register_case_routes(bp, engine, settings)

    @bp.post("/checkins")
    def post_checkin() -> flask.Response:
        data = validate(CheckinIn, read_json()).model_dump(mode="json")
        with engine.begin() as conn:
            res = record_checkin(conn, data, worker_id=flask.g.api_worker.id,
                                 tolerance_m=settings.checkin_tolerance_m)  # fmt: skip
        return _json(res.record, 201 if res.created else 200)

    @bp.post("/patrols")
    def post_patrol() -> flask.Response:
        data = validate(PatrolIn, read_json()).model_dump(mode="json")
        with engine.begin() as conn:
            res = record_patrol(conn, data, worker_id=flask.g.api_worker.id)
        return _json(res.record, 201 if res.created else 200)

    @bp.post("/visits")
    def post_visit() -> flask.Response:
        data = validate(VisitIn, read_json()).model_dump(mode="json")
        with engine.begin() as conn:
            res = record_visit(conn, data, worker_id=flask.g.api_worker.id,
                               tolerance_m=settings.checkin_tolerance_m)  # fmt: skip
        return _json(res.record, 201 if res.created else 200)

    @bp.get("/me/overview")
    def me_overview() -> flask.Response:
        with engine.connect() as conn:
            out = my_overview(conn, flask.g.api_worker.id)
        if out is None:  # pragma: no cover - the token check found the worker
            raise ApiError(404, "not_found", "no such worker")
        return _json(out)

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
        return _json({"items": items, "next_cursor": str(offset + limit) if more else None})

    @bp.post("/events/<event_uuid>/photos")
    def post_photos(event_uuid: str) -> flask.Response:
        parsed = _event_uuid(event_uuid)
        _, photos = read_upload(settings, with_report=False)
        with engine.begin() as conn:
            rows, created = add_photos(conn, parsed, photos, worker_id=flask.g.api_worker.id,
                                       photo_dir=settings.photo_dir)  # fmt: skip
            out = {"photos": [photo_dict(r, PREFIX) for r in rows], "created": created}
        return _json(out, 201 if created else 200)

    @bp.get("/events/<event_uuid>/photos/<int:photo_id>")
    def get_photo(event_uuid: str, photo_id: int) -> flask.Response:
        parsed = _event_uuid(event_uuid)
        with engine.connect() as conn:
            row = photo_for_worker(conn, parsed, photo_id, flask.g.api_worker.id)
        if row is None:
            raise ApiError(404, "not_found", "no such photo")
        return send_photo(row, settings.photo_dir)
