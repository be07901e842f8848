"""Request and response bodies of the mobile API (pydantic v2); the OpenAPI document is built
from these with ``model_json_schema``.

Numbers are strict (a string or a boolean is not a coordinate), non-finite values are refused,
and text is cleaned of control characters (except newline and tab) and bidirectional controls
(U+202E …) while CJK and emoji are kept (:func:`geodata.safe_text.clean_text`). Client times
are bounded by the pipeline (:mod:`geodata.client_time`: 422 naming the field).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
)

from geodata.crs import CRS_NAMES
from geodata.safe_text import clean_text
from gridcmd.vocab import DIFFICULTIES, EVENT_CATEGORIES, SEVERITIES

#: Most fixes accepted in one ``POST /positions`` with a worker token (more → 413).
MAX_FIXES = 500
#: Most fixes accepted in one ``POST /positions`` with a gateway token (more → 413).
MAX_GATEWAY_FIXES = 5_000
#: Largest ``POST /positions`` body with a gateway token, bytes (5,000 fixes are ~0.7 MB).
MAX_GATEWAY_BODY_BYTES = 2_000_000
#: Largest request body, bytes (more → 413).
MAX_BODY_BYTES = 1_000_000
#: Most possible duplicates listed in the answer to ``POST /events`` (the nearest ones).
MAX_POSSIBLE_DUPLICATES = 5


def nonblank(v: str) -> str:
    """Validator of required text fields: white space alone is not a value."""
    if not v.strip():
        raise ValueError("must not be blank")
    return v


Text = Annotated[StrictStr, AfterValidator(clean_text)]

#: The model config of every request body: an unknown field is an error, not ignored (a
#: misspelt optional field would otherwise vanish silently).
STRICT = ConfigDict(extra="forbid")


class EventIn(BaseModel):
    """An event reported from the field. ``uuid`` is made by the phone (idempotency key)."""

    model_config = STRICT

    uuid: uuid.UUID
    category: Literal[EVENT_CATEGORIES]  # type: ignore[valid-type]
    subcategory: Annotated[Text, Field(max_length=64)] | None = None
    severity: Literal[SEVERITIES] = "medium"  # type: ignore[valid-type]
    difficulty: Literal[DIFFICULTIES] | None = Field(  # type: ignore[valid-type]
        None, description="Disputes only."
    )
    title: Annotated[Text, Field(min_length=1, max_length=200), AfterValidator(nonblank)]
    description: Annotated[Text, Field(max_length=5000)] = ""
    # Range checks (and the swapped lat/lon hint) are done by the ingest pipeline.
    lon: Annotated[float, Field(allow_inf_nan=False, strict=True, description="Longitude")]
    lat: Annotated[float, Field(allow_inf_nan=False, strict=True, description="Latitude")]
    crs: Literal[CRS_NAMES] = "wgs84"  # type: ignore[valid-type]
    reported_at: AwareDatetime | None = None


class FixIn(BaseModel):
    """One GPS fix (WGS-84). ``worker_id``: the employee number (string) or numeric id. With a
    worker token it defaults to the token's worker and no other is allowed; with a gateway
    token it is required and must be a worker of the gateway's subtree."""

    model_config = STRICT

    worker_id: Annotated[StrictStr, Field(max_length=32)] | StrictInt | None = None
    fix_time: AwareDatetime
    lon: Annotated[float, Field(allow_inf_nan=False, strict=True)]
    lat: Annotated[float, Field(allow_inf_nan=False, strict=True)]
    accuracy: Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False, strict=True)] | None = (
        None
    )


class PositionsIn(BaseModel):
    """A batch of fixes: up to :data:`MAX_FIXES` with a worker token, up to
    :data:`MAX_GATEWAY_FIXES` with a gateway token (more → 413). A bad item is rejected alone
    (``rejected[].reason = "invalid"``), the rest is kept."""

    model_config = STRICT

    fixes: list[FixIn] = Field(
        max_length=MAX_GATEWAY_FIXES,
        description=f"≤ {MAX_FIXES} with a worker token, ≤ {MAX_GATEWAY_FIXES} with a gateway "
        "token (then every fix needs worker_id)",
    )


class Rejection(BaseModel):
    index: int
    reason: str
    detail: str = ""


class PositionsOut(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[Rejection]


class OriginalLocation(BaseModel):
    lon: float
    lat: float
    crs: str


class EventOut(BaseModel):
    uuid: str
    category: str
    subcategory: str | None
    severity: str
    difficulty: str | None
    title: str
    description: str
    status: str
    lon: float = Field(description="WGS-84")
    lat: float = Field(description="WGS-84")
    original: OriginalLocation | None
    reported_at: dt.datetime
    cell: str = Field(description="Code of the L6 micro-grid")
    cell_path: list[str] = Field(description="Codes from L1 to L6")


class PossibleDuplicateOut(BaseModel):
    """Another open event that may be the same matter (``geodata.duplicates``): nothing
    personal — no title, description or person."""

    id: int = Field(description="The event's number (#id on the dashboard)")
    uuid: str
    category: str = Field(description="The same as the report's")
    subcategory: str | None
    status: str = Field(description="An open status (reported … escalated)")
    distance_m: int = Field(ge=0, description="Geodesic distance to the report, whole metres")
    reported_at: dt.datetime
    own: bool = Field(description="Reported by the caller")


class EventReportOut(EventOut):
    """The answer to ``POST /events``: the event (with ``photos`` when sent as multipart) and
    the possible duplicates, looked up after the COMMIT."""

    possible_duplicates: list[PossibleDuplicateOut] = Field(
        max_length=MAX_POSSIBLE_DUPLICATES,
        description=f"At most {MAX_POSSIBLE_DUPLICATES}, nearest first: open events (not "
        "merged) of the same category in the caller's county within GRIDCMD_DUPLICATE_RADIUS_M "
        "metres (geodesic, default 300) of the report, reported within "
        "GRIDCMD_DUPLICATE_WINDOW_H hours (default 72) of its reported_at; the report itself "
        "excluded. Recomputed on a replay.",
    )
    duplicates_checked: bool = Field(
        description="false when the lookup failed (the report is stored all the same and "
        "possible_duplicates is empty): do not resend"
    )


class CellOut(BaseModel):
    code: str
    level: int
    name: str


class PointOut(BaseModel):
    lon: float
    lat: float


class MeOut(BaseModel):
    employee_no: str
    name: str
    duty_status: str
    last_fix_at: dt.datetime | None
    position: PointOut | None
    cells: list[CellOut]


class ErrorOut(BaseModel):
    error: str
    detail: str
    field: str | None = None
