"""Event reports of ``/api/v1``: ``POST /events`` (JSON, or ``multipart/form-data`` with
photos) answered with the possible duplicates nearby, and ``GET /events/<uuid>``.

A report is stored (and committed) before anything else is looked up: the answer is 201 for a
new event, 200 for a replay of the same uuid and body; the possible duplicates are read after
the COMMIT, and a failure there never fails the report.
"""

from __future__ import annotations

import logging
import uuid as uuid_mod
from typing import Any

import flask
from sqlalchemy.engine import Connection, Engine

from api.v1.common import ApiError, json_response, read_json, validate
from api.v1.schemas import MAX_POSSIBLE_DUPLICATES, EventIn
from api.v1.uploads import event_photos, read_upload
from geodata.duplicates import find_duplicates, phone_duplicate
from geodata.ingest import event_for_worker, ingest_event
from geodata.ingest_batch import EventWriter
from geodata.photos import add_photos
from gridcmd.settings import Settings
from gridcmd.web import log_denial

__all__ = ["register_event_routes", "with_possible_duplicates"]

log = logging.getLogger(__name__)


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


def post_event_multipart(engine: Engine, settings: Settings) -> flask.Response:
    """``POST /events`` as ``multipart/form-data``: the event (``report`` part, the JSON of
    :class:`~api.v1.schemas.EventIn`) and its photos in one transaction. 201 when the event is
    new, 200 on a replay (photos already attached are not duplicated); after the COMMIT, the
    possible duplicates are added as for the JSON body."""
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
    return json_response(event, 201 if result.created else 200)


def register_event_routes(bp: flask.Blueprint, engine: Engine, settings: Settings) -> None:
    """Add ``POST /events`` and ``GET /events/<uuid>`` to the ``/api/v1`` blueprint ``bp``."""
    writer = EventWriter(engine)

    @bp.post("/events")
    def post_event() -> flask.Response:
        if flask.request.mimetype == "multipart/form-data":  # the report plus photos
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
        return json_response(out, 201 if result.created else 200)

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
        return json_response(event)
