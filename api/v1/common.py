"""What every module of ``/api/v1`` shares: the prefix, the error type and answer, strict JSON
reading, schema validation and the JSON answer.

The package ``api.v1`` assembles the blueprint from the route modules; they import this
module, never the package.
"""

from __future__ import annotations

import json
from typing import Any

import flask
from pydantic import BaseModel, TypeAdapter, ValidationError

from api.v1.schemas import MAX_BODY_BYTES
from gridcmd.web import json_error

__all__ = [
    "PREFIX",
    "ApiError",
    "error_response",
    "first_error",
    "json_response",
    "read_json",
    "reject_constant",
    "validate",
]

PREFIX = "/api/v1"


class ApiError(Exception):
    """A refusal of the mobile API: answered by the blueprint as :func:`error_response`."""

    def __init__(self, status: int, error: str, detail: str, field: str | None = None):
        super().__init__(detail)
        self.status, self.error, self.detail, self.field = status, error, detail, field


def error_response(
    status: int, error: str, detail: str, field: str | None = None
) -> flask.Response:
    """The API's error answer: :func:`gridcmd.web.json_error` ``{error, detail, field?}``
    (``field`` only when given), with the bearer challenge on a 401."""
    resp = json_error(status, error, detail, **({"field": field} if field else {}))
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="gridcmd"'
    return resp


def reject_constant(name: str) -> None:
    """``json.loads``' ``parse_constant``: ``NaN``, ``Infinity`` and ``-Infinity`` are not
    JSON, and no coordinate or count may be one."""
    raise ValueError(f"{name} is not valid JSON")


def read_json() -> Any:
    """The request body parsed as strict JSON (no NaN/Infinity); ApiError 400/413 otherwise."""
    if (flask.request.content_length or 0) > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"the body is over {MAX_BODY_BYTES:,} bytes")
    raw = flask.request.get_data(cache=False)  # max_content_length caps chunked bodies too
    try:
        return json.loads(raw, parse_constant=reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None


def first_error(exc: ValidationError) -> tuple[str, str]:
    """``(detail, field)`` of the first error pydantic found (``field`` dotted, or
    ``"body"``)."""
    err = exc.errors(include_url=False, include_input=False)[0]
    field = ".".join(str(p) for p in err["loc"]) or "body"
    return f"{field}: {err['msg']}", field


def validate(model: type[BaseModel] | TypeAdapter, data: Any) -> Any:
    """Validate ``data``; ApiError 400 naming the first bad field."""
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(data)
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(400, "invalid", *first_error(exc)) from None


def json_response(data: Any, status: int = 200) -> flask.Response:
    """``data`` as a JSON answer with ``status``, never cached (it is one worker's)."""
    resp = flask.jsonify(data)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp
