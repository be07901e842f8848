"""GPS fixes of ``/api/v1``: ``POST /positions``, a batch from one worker's phone or from a
gateway relaying the fixes of many workers.

The batch is validated as a whole, item by item only when something is wrong; each refused
fix is listed with its index and reason, the others are stored in one call
(:func:`geodata.positions.ingest_fleet_positions`) and the answer sent after the COMMIT.
"""

from __future__ import annotations

import json
from typing import Any

import flask
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.engine import Engine

from api.v1.common import ApiError, first_error, json_response, read_json, reject_constant
from api.v1.schemas import MAX_FIXES, MAX_GATEWAY_BODY_BYTES, MAX_GATEWAY_FIXES, FixIn
from geodata.positions import ingest_fleet_positions, resolve_workers

__all__ = [
    "FORBIDDEN_FIX",
    "GATEWAY_FORBIDDEN_FIX",
    "GATEWAY_NEEDS_WORKER",
    "GATEWAY_UNKNOWN_WORKER",
    "register_position_routes",
]

FORBIDDEN_FIX = "403: a token may only send its own worker's fixes"
GATEWAY_NEEDS_WORKER = "worker_id is required with a gateway token"
GATEWAY_UNKNOWN_WORKER = "no active worker with this worker_id"
GATEWAY_FORBIDDEN_FIX = "403: the worker is outside the gateway's scope"


def _read_gateway_json() -> Any:
    """The body of a gateway's batch: strict JSON like :func:`read_json`, with the gateway's
    larger body limit."""
    if (flask.request.content_length or 0) > MAX_GATEWAY_BODY_BYTES:
        raise ApiError(413, "too_large", f"the body is over {MAX_GATEWAY_BODY_BYTES:,} bytes")
    try:
        return json.loads(flask.request.get_data(cache=False), parse_constant=reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None


def register_position_routes(bp: flask.Blueprint, engine: Engine) -> None:
    """Add ``POST /positions`` to the ``/api/v1`` blueprint ``bp``."""
    fix_adapter = TypeAdapter(FixIn)
    fixes_adapter = TypeAdapter(list[FixIn])

    @bp.post("/positions")
    def post_positions() -> flask.Response:
        caller = flask.g.api_caller
        gateway = caller.is_gateway
        data = _read_gateway_json() if gateway else read_json()
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
                    detail, _field = first_error(exc)
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
        return json_response({"accepted": res.accepted, "duplicates": res.duplicates,
                              "rejected": rejected})  # fmt: skip
