"""Photos in and out of ``/api/v1``: reading a ``multipart/form-data`` upload (a report part and
photo parts, each photo checked by content and cleaned) and listing an event's photos.

Shared by the event report (``api/v1/events.py``), the photo routes (``api/v1/field.py``) and
the resolve step of a case (``api/v1/cases.py``).
"""

from __future__ import annotations

import json
import uuid as uuid_mod
from typing import Any

import flask
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from api.v1.common import PREFIX, ApiError, reject_constant
from api.v1.schemas import MAX_BODY_BYTES
from geodata.photos import (
    MAX_PHOTOS_PER_REQUEST,
    StoredPhoto,
    photo_dict,
    photos_for_event,
    prepare_photo,
)
from gridcmd.settings import Settings

__all__ = ["event_photos", "read_upload"]


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
            report = json.loads(raw, parse_constant=reject_constant)
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
