"""Request and response bodies of the field-work routes (check-ins, patrols, visits, the
worker's overview and tasks, photos). Same conventions as :mod:`api.v1.schemas`: strict
numbers, no NaN/Infinity, unknown fields refused, text cleaned of control and bidi characters;
times bounded by :mod:`geodata.client_time`."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field

from api.v1.schemas import STRICT, EventOut, OriginalLocation, Text, nonblank
from geodata.crs import CRS_NAMES
from geodata.photos import MAX_PHOTOS_PER_REQUEST

#: Most points of one patrol track.
MAX_TRACK_POINTS = 5000

Lon = Annotated[float, Field(allow_inf_nan=False, strict=True, description="Longitude")]
Lat = Annotated[float, Field(allow_inf_nan=False, strict=True, description="Latitude")]
Accuracy = Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False, strict=True)]
CellCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,24}$", strict=True)]


class CheckinIn(BaseModel):
    """An attendance check-in or check-out at a position (``uuid``: idempotency key)."""

    model_config = STRICT

    uuid: uuid.UUID
    kind: Literal["in", "out"]
    at: AwareDatetime
    lon: Lon
    lat: Lat
    crs: Literal[CRS_NAMES] = "wgs84"  # type: ignore[valid-type]
    accuracy: Accuracy | None = Field(None, description="Reported GPS accuracy, metres")


class CheckinOut(BaseModel):
    uuid: str
    kind: str
    at: dt.datetime
    lon: float = Field(description="WGS-84")
    lat: float = Field(description="WGS-84")
    original: OriginalLocation
    accuracy: float | None
    cell: str = Field(description="Code of the worker's assigned cell")
    distance_m: float = Field(description="Geodesic metres to the assigned cell (0 inside)")
    tolerance_m: float
    inside: bool = Field(description="distance_m <= tolerance_m")
    received_at: dt.datetime


class PatrolIn(BaseModel):
    """A patrol track: 2 to 5000 ``[lon, lat]`` points in ``crs``."""

    model_config = STRICT

    uuid: uuid.UUID
    started_at: AwareDatetime
    ended_at: AwareDatetime
    points: list[tuple[Lon, Lat]] = Field(min_length=2, max_length=MAX_TRACK_POINTS)
    crs: Literal[CRS_NAMES] = "wgs84"  # type: ignore[valid-type]
    note: Annotated[Text, Field(max_length=4000)] = ""


class PatrolOut(BaseModel):
    uuid: str
    started_at: dt.datetime
    ended_at: dt.datetime
    n_points: int
    length_m: float = Field(description="Geodesic length of the track, metres")
    bbox: list[float] = Field(description="[min lon, min lat, max lon, max lat], WGS-84")
    cell: str = Field(description="The worker's assigned cell")
    note: str
    received_at: dt.datetime


class VisitIn(BaseModel):
    """A household visit, placed by ``cell_code`` or by ``lon``/``lat`` (one is required)."""

    model_config = STRICT

    uuid: uuid.UUID
    visited_at: AwareDatetime
    household: Annotated[Text, Field(min_length=1, max_length=200), AfterValidator(nonblank)]
    note: Annotated[Text, Field(max_length=4000)] = ""
    cell_code: CellCode | None = Field(None, description="A cell of the worker's grid")
    lon: Lon | None = None
    lat: Lat | None = None
    crs: Literal[CRS_NAMES] = "wgs84"  # type: ignore[valid-type]


class VisitOut(BaseModel):
    uuid: str
    visited_at: dt.datetime
    household: str
    note: str
    cell: str
    cell_path: list[str]
    lon: float | None
    lat: float | None
    received_at: dt.datetime


class CellRefOut(BaseModel):
    code: str
    level: int
    name: str


class GridOut(BaseModel):
    code: str
    name: str
    level: int
    area_km2: float
    population: int
    households: int


class WorkersOut(BaseModel):
    total: int = Field(description="Active workers assigned inside the grid")
    on_duty: int


class OpenEventsOut(BaseModel):
    total: int
    overdue: int
    by_status: dict[str, int]
    by_category: dict[str, int]


class LastCheckinOut(BaseModel):
    kind: str
    at: dt.datetime
    inside: bool
    distance_m: float


class MineOut(BaseModel):
    events_reported_today: int
    events_reported_month: int
    tasks_open: int
    checkins_today: int
    last_checkin: LastCheckinOut | None
    patrols_today: int
    patrol_km_today: float
    visits_month: int


class OverviewOut(BaseModel):
    """The worker's L5 grid at a glance ("today"/"this month": Asia/Shanghai calendar)."""

    grid: GridOut
    cells: list[CellRefOut] = Field(description="Chain from L1 down to the grid")
    micro_grids: int
    workers: WorkersOut
    events_open: OpenEventsOut
    mine: MineOut


class TaskOut(BaseModel):
    uuid: str
    title: str
    category: str
    severity: str
    status: str
    due_at: dt.datetime | None
    overdue: bool
    reported_at: dt.datetime
    lon: float
    lat: float
    cell: str
    role: Literal["assigned", "reported", "following"]
    version: int = Field(description="Send as `version` with a case action")
    priority: Literal["red", "yellow", "blue"]
    acknowledged: bool = Field(description="Accepted (接单) by the assignee")
    supervised: bool = Field(description="Under supervision (督办)")


class TasksOut(BaseModel):
    items: list[TaskOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


class PhotoOut(BaseModel):
    id: int
    sha256: str = Field(description="sha256 of the served bytes (also the ETag)")
    content_type: Literal["image/jpeg", "image/png", "image/webp"]
    n_bytes: int
    width: int | None
    height: int | None
    url: str


class PhotosOut(BaseModel):
    photos: list[PhotoOut] = Field(description="One per uploaded part, in order")
    created: int = Field(description="How many were new")


class EventWithPhotosOut(EventOut):
    photos: list[PhotoOut]


class PhotosUpload(BaseModel):
    """``multipart/form-data``: 1 to 6 image parts named ``photos`` (JPEG/PNG/WebP by
    content; EXIF/GPS is stripped before storage)."""

    photos: list[bytes] = Field(min_length=1, max_length=MAX_PHOTOS_PER_REQUEST)


class EventUpload(PhotosUpload):
    """``multipart/form-data``: a ``report`` part with the JSON of :class:`EventIn` plus up to
    6 ``photos`` parts. The answer is the event with its ``photos`` and the possible duplicates
    of ``POST /events`` (EventReportOut);
    photo errors are those of ``POST /events/{uuid}/photos`` (413/415/422)."""

    photos: list[bytes] = Field([], max_length=MAX_PHOTOS_PER_REQUEST)
    report: str = Field(description="The JSON body of POST /events (EventIn)",
                        json_schema_extra={"contentMediaType": "application/json"})  # fmt: skip
