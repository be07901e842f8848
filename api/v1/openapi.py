"""The OpenAPI 3.1 document of ``/api/v1``, built from the pydantic models and :data:`ROUTES`.

A test checks that every Flask rule under the prefix is listed here with the same methods, so
the document cannot silently drift from the implementation.
"""

from __future__ import annotations

import re
from typing import Any

import flask
from pydantic import BaseModel

from api.v1.cases import CaseActionIn, CaseStateOut
from api.v1.common import PREFIX, json_response
from api.v1.schemas import (
    MAX_BODY_BYTES,
    MAX_FIXES,
    MAX_GATEWAY_BODY_BYTES,
    MAX_GATEWAY_FIXES,
    ErrorOut,
    EventIn,
    EventReportOut,
    MeOut,
    PositionsIn,
    PositionsOut,
)
from api.v1.schemas_field import (
    CheckinIn,
    CheckinOut,
    EventUpload,
    EventWithPhotosOut,
    OverviewOut,
    PatrolIn,
    PatrolOut,
    PhotosOut,
    PhotosUpload,
    TasksOut,
    VisitIn,
    VisitOut,
)
from geodata.photos import MAX_PHOTOS_PER_EVENT, MAX_PHOTOS_PER_REQUEST

#: Marks a response whose body is the image itself.
IMAGE = "image"
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")

#: Schemas of path parameters, by name.
PATH_PARAMS: dict[str, dict[str, str]] = {
    "uuid": {"type": "string", "format": "uuid"},
    "photo_id": {"type": "integer"},
}
#: Query parameters, by (path, method).
QUERY_PARAMS: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("/me/tasks", "get"): [
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                    "maximum": 200, "default": 50}},
        {"name": "cursor", "in": "query", "schema": {"type": "string"},
         "description": "next_cursor of the previous page"},
        {"name": "include", "in": "query", "schema": {"enum": ["reported"]},
         "description": "also the open events the caller reported"},
    ],
}  # fmt: skip
#: ``multipart/form-data`` request bodies, by (path, method).
MULTIPART: dict[tuple[str, str], type[BaseModel]] = {
    ("/events", "post"): EventUpload,
    ("/events/{uuid}/photos", "post"): PhotosUpload,
}

_PHOTO_ERR: dict[str, tuple[str, Any]] = {
    "413": (f"A photo over the size limit (GRIDCMD_PHOTO_MAX_BYTES) or more than "
            f"{MAX_PHOTOS_PER_REQUEST} photos' worth of body", ErrorOut),
    "415": ("A part is not a JPEG, PNG or WebP image (checked by content)", ErrorOut),
    "422": (f"More than {MAX_PHOTOS_PER_REQUEST} photos per request or "
            f"{MAX_PHOTOS_PER_EVENT} per event, or a truncated/corrupt/oversized image",
            ErrorOut),
}  # fmt: skip

#: The field-work routes (:mod:`api.v1.field`), appended to :data:`ROUTES`.
FIELD_ROUTES: list[tuple[str, str, str, type[BaseModel] | None, dict[str, tuple[str, Any]]]] = [
    (
        "/checkins", "post",
        "Attendance check-in/out; the server decides whether it is inside the assigned cell",
        CheckinIn,
        {
            "201": ("Created (committed), with the verdict", CheckinOut),
            "200": ("Replay of the same uuid and body: the original", CheckinOut),
            "409": ("The uuid exists with a different body", ErrorOut),
            "422": ("Unusable coordinates or a future time", ErrorOut),
        },
    ),
    (
        "/patrols", "post", "A patrol track (2 to 5000 points)", PatrolIn,
        {
            "201": ("Created (committed)", PatrolOut),
            "200": ("Replay of the same uuid and body: the original", PatrolOut),
            "409": ("The uuid exists with a different body", ErrorOut),
            "422": ("ended_at before started_at or in the future, a bad point, or fewer than "
                    "two distinct points", ErrorOut),
        },
    ),
    (
        "/visits", "post", "A household visit in the caller's grid", VisitIn,
        {
            "201": ("Created (committed)", VisitOut),
            "200": ("Replay of the same uuid and body: the original", VisitOut),
            "403": ("cell_code is outside the caller's grid", ErrorOut),
            "409": ("The uuid exists with a different body", ErrorOut),
            "422": ("Unknown cell_code, a point outside the grid (beyond the tolerance) or the "
                    "prefecture, or a future time", ErrorOut),
        },
    ),
    ("/me/overview", "get", "The caller's L5 grid at a glance, and their own records", None,
     {"200": ("The overview", OverviewOut)}),
    (
        "/me/tasks", "get", "The caller's open tasks (assigned; ?include=reported adds their "
        "own open reports), soonest due first", None,
        {"200": ("One page", TasksOut)},
    ),
    (
        "/events/{uuid}/photos", "post",
        "Add photos to an event the caller reported (idempotent per image)", None,
        {
            "201": ("At least one photo was new (committed)", PhotosOut),
            "200": ("Every photo was already attached", PhotosOut),
            "404": ("Unknown event or not reported by the caller", ErrorOut),
            **_PHOTO_ERR,
        },
    ),
    (
        "/events/{uuid}/photos/{photo_id}", "get",
        "The stored photo (no EXIF/GPS); ETag = sha256, Cache-Control: private", None,
        {
            "200": ("The image", IMAGE),
            "304": ("Not modified (If-None-Match)", None),
            "404": ("Unknown, or the event is outside the caller's scope", ErrorOut),
        },
    ),
]  # fmt: skip

_ERR: dict[str, tuple[str, Any]] = {
    "400": ("Malformed JSON or a body that fails the schema", ErrorOut),
    "401": ("Missing, unknown or revoked bearer token", ErrorOut),
}

#: (path under the prefix, method, summary, request model, {status: (description, model)})
ROUTES: list[tuple[str, str, str, type[BaseModel] | None, dict[str, tuple[str, Any]]]] = [
    (
        "/events", "post", "Report an event (idempotent on the client uuid); the answer lists "
        "possible duplicates nearby", EventIn,
        {
            "201": ("Created (committed), with its possible duplicates (multipart: and its "
                    "photos)", EventReportOut),
            "200": ("Replay of the same uuid and body: the original event, possible "
                    "duplicates recomputed", EventReportOut),
            "409": ("The uuid exists with a different body", ErrorOut),
            "413": (f"Body over {MAX_BODY_BYTES:,} bytes", ErrorOut),
            "422": ("Outside the prefecture, swapped lat/lon, or a future time", ErrorOut),
        },
    ),
    (
        "/events/{uuid}", "get", "One event in the caller's scope", None,
        {"200": ("The event and its photos", EventWithPhotosOut),
         "404": ("Unknown or outside the scope", ErrorOut)},
    ),
    (
        "/positions", "post",
        f"A batch of GPS fixes (per-item rejections): up to {MAX_FIXES} with a worker token "
        f"(own fixes only), up to {MAX_GATEWAY_FIXES:,} with a gateway token (every fix names "
        "its worker_id, a worker of the gateway's subtree)",
        PositionsIn,
        {
            "200": ("Counts and per-item rejections (committed)", PositionsOut),
            "413": (f"More than {MAX_FIXES} fixes ({MAX_GATEWAY_FIXES:,} for a gateway) or a "
                    f"body over {MAX_BODY_BYTES:,} bytes ({MAX_GATEWAY_BODY_BYTES:,} for a "
                    "gateway)", ErrorOut),
        },
    ),
    ("/me", "get", "The caller (worker) and their chain of cells", None,
     {"200": ("The worker", MeOut)}),
    ("/openapi.json", "get", "This document", None, {"200": ("OpenAPI 3.1 document", None)}),
]  # fmt: skip


ROUTES.extend(FIELD_ROUTES)

_CASE_SUMMARY = {
    "accept": "Accept (接单) a task assigned to the caller; the status stays dispatched",
    "start": "Start handling a task assigned to the caller (→ in_progress)",
    "resolve": "Report the task handled (→ resolved; `note` required): JSON, or "
    "multipart/form-data with a `report` part (this JSON) and up to "
    f"{MAX_PHOTOS_PER_REQUEST} `photos` parts",
    "decline": "Give the task back to the dispatcher (→ returned; `note` = the reason)",
}
for _name, _summary in _CASE_SUMMARY.items():
    ROUTES.append((
        f"/events/{{uuid}}/{_name}", "post", _summary, CaseActionIn,
        {
            "200": ("The case's new state (committed); a resend of an applied action answers "
                    "the current state with replayed=true", CaseStateOut),
            "403": ("The task is not assigned to the caller", ErrorOut),
            "404": ("Unknown event, or not visible to the caller", ErrorOut),
            "409": ("Not possible from the current status, or `version` is stale", ErrorOut),
            "422": ("A required note (reason) is missing or too long", ErrorOut),
        },
    ))  # fmt: skip


def _ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        schemas[name] = sub
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def openapi_document(*, prefix: str = PREFIX) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the routes under ``prefix``."""
    schemas: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for path, method, summary, req, responses in ROUTES:
        op: dict[str, Any] = {"summary": summary, "security": [{"bearer": []}], "responses": {}}
        params = [{"name": name, "in": "path", "required": True, "schema": PATH_PARAMS[name]}
                  for name in re.findall(r"{(\w+)}", path)]  # fmt: skip
        params += QUERY_PARAMS.get((path, method), [])
        if params:
            op["parameters"] = params
        if req is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _ref(req, schemas)}},
            }
        if (path, method) in MULTIPART:
            body = op.setdefault("requestBody", {"required": True, "content": {}})
            body["content"]["multipart/form-data"] = {
                "schema": _ref(MULTIPART[path, method], schemas)
            }
        for status, (desc, model) in {**responses, **_ERR}.items():
            r: dict[str, Any] = {"description": desc}
            if model == IMAGE:
                r["content"] = {t: {"schema": {"type": "string", "format": "binary"}}
                                for t in PHOTO_TYPES}  # fmt: skip
            elif model is not None:
                r["content"] = {"application/json": {"schema": _ref(model, schemas)}}
            op["responses"][status] = r
        paths.setdefault(prefix + path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Grid Command mobile API",
            "version": "1",
            "description": "Errors are JSON {error, detail, field?}. 2xx only after commit.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def register_openapi_route(bp: flask.Blueprint) -> None:
    """Add ``GET /openapi.json`` (this document) to the ``/api/v1`` blueprint ``bp``."""

    @bp.get("/openapi.json")
    def openapi() -> flask.Response:
        return json_response(openapi_document(prefix=PREFIX))
