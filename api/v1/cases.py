"""Case-workflow routes of ``/api/v1`` for the phone: the assignee accepts (接单),
starts, resolves (with a note and optional photos) or declines (with a reason) a task.

``POST /events/{uuid}/accept|start|resolve|decline`` with JSON ``{"version"?: int, "note"?:
str}`` (``/resolve`` also as ``multipart/form-data``: a ``report`` part with that JSON and up
to 6 ``photos`` parts). The same :func:`geodata.workflow.perform` as the dashboard: 404 unknown
or not visible to the worker (one answer for both: same status, code, text and field, no id echoed),
403 not the assignee, 409 illegal from the current status or a
stale ``version``, 422 missing reason. A resend of the same action by the same worker after it
was applied (the phone lost the answer) returns the current state with 200 and
``"replayed": true`` instead of a 409, so retries are safe. 2xx only after COMMIT.
"""

from __future__ import annotations

import datetime as dt
import uuid as uuid_mod
from typing import Annotated, Any

import flask
from pydantic import BaseModel, Field, StrictInt
from sqlalchemy.engine import Engine

from api.v1.common import ApiError, json_response, read_json, validate
from api.v1.schemas import STRICT, Text
from api.v1.uploads import read_upload
from geodata.photos import add_photos
from geodata.workflow import (
    MAX_NOTE,
    NO_EVENT,
    Actor,
    WorkflowError,
    event_id_for_uuid,
    perform,
    replayed_state,
)
from gridcmd.settings import Settings
from gridcmd.web import log_denial

__all__ = ["PHONE_ACTIONS", "CaseActionIn", "CaseStateOut", "register_case_routes"]

#: Phone action (URL) → workflow action.
PHONE_ACTIONS = {"accept": "acknowledge", "start": "start", "resolve": "resolve",
                 "decline": "decline"}  # fmt: skip


class CaseActionIn(BaseModel):
    """Body of a case action. ``version``: the event version the phone last saw (409 if it
    changed since); ``note``: required for resolve (what was done) and decline (why)."""

    model_config = STRICT

    version: Annotated[StrictInt, Field(ge=1, le=2**31 - 1)] | None = None
    note: Annotated[Text, Field(max_length=MAX_NOTE)] = ""


class CaseStateOut(BaseModel):
    uuid: str
    status: str
    version: int
    priority: str
    due_at: dt.datetime | None
    acknowledged_at: dt.datetime | None
    supervised: bool
    replayed: bool = False
    photos_added: int = 0


def _out(state: dict[str, Any], *, replayed: bool = False, photos: int = 0) -> dict[str, Any]:
    def iso(v: dt.datetime | None) -> str | None:
        return v.isoformat() if v is not None else None

    return {
        "uuid": state["uuid"], "status": state["status"], "version": state["version"],
        "priority": state["priority"], "due_at": iso(state["due_at"]),
        "acknowledged_at": iso(state["acknowledged_at"]),
        "supervised": state["supervised_at"] is not None, "replayed": replayed,
        "photos_added": photos,
    }  # fmt: skip


def _not_found() -> ApiError:
    """The answer for an unknown uuid and for an event the worker may not see: identical
    (status, code, text, field), and never the event's internal id."""
    return ApiError(404, "not_found", NO_EVENT, "uuid")


def _event_id(conn, raw: str) -> int:
    try:
        parsed = uuid_mod.UUID(raw)
    except ValueError:
        raise _not_found() from None
    event_id = event_id_for_uuid(conn, parsed)
    if event_id is None:
        raise _not_found()
    return event_id


def register_case_routes(bp: flask.Blueprint, engine: Engine, settings: Settings) -> None:
    """Add the case-action routes to the ``/api/v1`` blueprint ``bp``."""

    def apply(conn, event_uuid: str, action: str, body: CaseActionIn, photos: list,
              worker_id: int) -> tuple[dict[str, Any], bool, int]:  # fmt: skip
        """Perform (or recognise the replay of) ``action``; (state, replayed, photos added)."""
        event_id = _event_id(conn, event_uuid)
        try:
            state = perform(conn, event_id, action, Actor.worker(worker_id),
                            version=body.version, note=body.note)  # fmt: skip
            replayed = False
        except WorkflowError as exc:
            if exc.status == 404:
                raise _not_found() from None
            again = replayed_state(conn, event_id, action, worker_id) if exc.status == 409 else None
            if again is None:
                raise ApiError(exc.status, exc.error, exc.detail, exc.field) from None
            state, replayed = again, True
        added = 0
        if photos:
            _, added = add_photos(conn, uuid_mod.UUID(state["uuid"]), photos,
                                  worker_id=worker_id, photo_dir=settings.photo_dir,
                                  reporter_only=False)  # fmt: skip
        return state, replayed, added

    def act(event_uuid: str, phone_action: str) -> flask.Response:
        action = PHONE_ACTIONS[phone_action]
        photos: list = []
        if phone_action == "resolve" and flask.request.mimetype == "multipart/form-data":
            raw, photos = read_upload(settings, with_report=True)
            body = validate(CaseActionIn, raw)
        else:
            body = validate(CaseActionIn, read_json())
        worker_id = flask.g.api_worker.id
        try:
            with engine.begin() as conn:
                state, replayed, added = apply(conn, event_uuid, action, body, photos, worker_id)
        except ApiError as exc:
            if exc.status == 404:  # unknown or out of reach: logged, answered alike
                log_denial(engine, f"api case {phone_action}")
            raise
        return json_response(_out(state, replayed=replayed, photos=added))

    for name in PHONE_ACTIONS:
        bp.add_url_rule(
            f"/events/<event_uuid>/{name}",
            endpoint=f"case_{name}",
            view_func=lambda event_uuid, _n=name: act(event_uuid, _n),
            methods=["POST"],
        )
