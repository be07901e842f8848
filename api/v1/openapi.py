"""The OpenAPI 3.1 document of ``/api/v1``, built from the pydantic models and :data:`ROUTES`.

A test checks that every Flask rule under the prefix is listed here with the same methods, so
the document cannot silently drift from the implementation.
"""

from __future__ import annotations

from typing import Any

import flask
from pydantic import BaseModel

from api.v1.schemas import (
    MAX_BODY_BYTES,
    MAX_FIXES,
    ErrorOut,
    EventIn,
    EventOut,
    MeOut,
    PositionsIn,
    PositionsOut,
)

_ERR: dict[str, tuple[str, Any]] = {
    "400": ("Malformed JSON or a body that fails the schema", ErrorOut),
    "401": ("Missing, unknown or revoked bearer token", ErrorOut),
}

#: (path under the prefix, method, summary, request model, {status: (description, model)})
ROUTES: list[tuple[str, str, str, type[BaseModel] | None, dict[str, tuple[str, Any]]]] = [
    (
        "/events", "post", "Report an event (idempotent on the client uuid)", EventIn,
        {
            "201": ("Created (committed)", EventOut),
            "200": ("Replay of the same uuid and body: the original event", EventOut),
            "409": ("The uuid exists with a different body", ErrorOut),
            "413": (f"Body over {MAX_BODY_BYTES:,} bytes", ErrorOut),
            "422": ("Outside the prefecture, swapped lat/lon, or a future time", ErrorOut),
        },
    ),
    (
        "/events/{uuid}", "get", "One event in the caller's scope", None,
        {"200": ("The event", EventOut), "404": ("Unknown or outside the scope", ErrorOut)},
    ),
    (
        "/positions", "post", f"A batch of up to {MAX_FIXES} GPS fixes (per-item rejections)",
        PositionsIn,
        {
            "200": ("Counts and per-item rejections (committed)", PositionsOut),
            "413": (f"More than {MAX_FIXES} fixes or a body over {MAX_BODY_BYTES:,} bytes",
                    ErrorOut),
        },
    ),
    ("/me", "get", "The caller (worker) and their chain of cells", None,
     {"200": ("The worker", MeOut)}),
    ("/openapi.json", "get", "This document", None, {"200": ("OpenAPI 3.1 document", None)}),
]  # fmt: skip


def _ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        schemas[name] = sub
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def openapi_document(app: flask.Flask | None = None, *, prefix: str = "/api/v1") -> dict[str, Any]:
    """The OpenAPI 3.1 document (``app`` unused for now; kept for server URLs later)."""
    schemas: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for path, method, summary, req, responses in ROUTES:
        op: dict[str, Any] = {"summary": summary, "security": [{"bearer": []}], "responses": {}}
        if "{uuid}" in path:
            op["parameters"] = [{"name": "uuid", "in": "path", "required": True,
                                 "schema": {"type": "string", "format": "uuid"}}]  # fmt: skip
        if req is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _ref(req, schemas)}},
            }
        for status, (desc, model) in {**responses, **_ERR}.items():
            r: dict[str, Any] = {"description": desc}
            if model is not None:
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
