"""Event photos: content checks, metadata stripping, content-addressed storage, scope checks.

An upload is identified by *content* (Pillow), never by its file name or declared type: only
JPEG, PNG and WebP are accepted. Every accepted image is decoded fully (a truncated file or a
decompression bomb is refused), turned upright by its EXIF orientation, and re-encoded without
any EXIF/XMP/text metadata (the ICC colour profile is kept), so no GPS position or device
serial ever reaches storage or another user. The stored bytes are content-addressed:
``<photo_dir>/<sha[:2]>/<sha>.<ext>`` with ``sha`` the sha256 of the stored bytes, written
atomically (temporary file + ``os.replace``). A photo row (``event_photo``) is unique per
(event, sha256), so a resend is a no-op.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import uuid as uuid_mod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.cells import check_scope_path
from geodata.ingest import IngestError

__all__ = [
    "MAX_PIXELS",
    "MAX_PHOTOS_PER_EVENT",
    "MAX_PHOTOS_PER_REQUEST",
    "PhotoError",
    "StoredPhoto",
    "add_photos",
    "photo_for_worker",
    "photo_in_scope",
    "photos_for_event",
    "prepare_photo",
    "store_photo",
]

#: Largest accepted image, pixels (a 50 MP phone sensor fits; bombs do not).
MAX_PIXELS = 60_000_000
MAX_PHOTOS_PER_REQUEST = 6
MAX_PHOTOS_PER_EVENT = 12
#: Pillow format → (content type, file extension).
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
JPEG_QUALITY = 90

# Pillow raises DecompressionBombError above twice this; we refuse anything above it ourselves.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class PhotoError(IngestError):
    """A refused upload (415 not an accepted image type, 413 too large, 422 unusable)."""


@dataclass(frozen=True)
class StoredPhoto:
    """A cleaned image ready to store: its bytes, sha256 hex, type and size."""

    data: bytes
    sha256: str
    content_type: str
    ext: str
    width: int
    height: int

    @property
    def storage_key(self) -> str:
        return f"{self.sha256[:2]}/{self.sha256}.{self.ext}"


def prepare_photo(raw: bytes, *, max_bytes: int, field: str = "photos") -> StoredPhoto:
    """Check an upload by content and re-encode it without metadata.

    Raises :class:`PhotoError`: 413 over ``max_bytes``; 415 not JPEG/PNG/WebP (by content);
    422 empty, truncated or corrupt, or over :data:`MAX_PIXELS` (decompression bomb).
    """
    if len(raw) > max_bytes:
        raise PhotoError(413, "too_large", f"a photo is {len(raw):,} bytes; the limit is "
                         f"{max_bytes:,}", field)  # fmt: skip
    if not raw:
        raise PhotoError(422, "invalid_image", "a photo part is empty", field)
    try:
        img = Image.open(io.BytesIO(raw), formats=list(FORMATS))
    except UnidentifiedImageError:
        raise PhotoError(415, "unsupported_media_type", "a photo is not a JPEG, PNG or WebP "
                         "image (checked by content, not by name or declared type)",
                         field) from None  # fmt: skip
    except Image.DecompressionBombError:
        raise PhotoError(422, "invalid_image", f"a photo has more than {MAX_PIXELS:,} pixels",
                         field) from None  # fmt: skip
    except (OSError, ValueError, SyntaxError) as exc:
        raise PhotoError(422, "invalid_image", f"a photo cannot be read: {exc}", field) from None
    with img:
        # Phones write multi-picture JPEGs (MPO: the photo plus a preview or depth map);
        # they are JPEGs, and the first frame is the photo.
        fmt = "JPEG" if img.format == "MPO" else img.format
        if fmt not in FORMATS:  # pragma: no cover - Image.open was limited to FORMATS
            raise PhotoError(415, "unsupported_media_type", f"{fmt} is not accepted", field)
        w, h = img.size
        if w <= 0 or h <= 0 or w * h > MAX_PIXELS:
            raise PhotoError(422, "invalid_image", f"a photo has {w}×{h} pixels; the limit is "
                             f"{MAX_PIXELS:,}", field)  # fmt: skip
        try:
            img.load()  # decode everything now: truncated or corrupt data fails here
            icc = img.info.get("icc_profile")
            upright = ImageOps.exif_transpose(img)
        except Image.DecompressionBombError:
            raise PhotoError(422, "invalid_image", f"a photo has more than {MAX_PIXELS:,} "
                             "pixels", field) from None  # fmt: skip
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise PhotoError(422, "invalid_image", f"a photo is truncated or corrupt: {exc}",
                             field) from None  # fmt: skip
        data = _encode(upright, fmt, icc)
    content_type, ext = FORMATS[fmt]
    with Image.open(io.BytesIO(data)) as check:
        width, height = check.size
    return StoredPhoto(data, hashlib.sha256(data).hexdigest(), content_type, ext, width, height)


def _encode(img: Image.Image, fmt: str, icc: bytes | None) -> bytes:
    """Re-encode ``img`` as ``fmt`` with no metadata but the ICC profile."""
    # Pillow's encoders only write EXIF/XMP passed explicitly; a fresh ``info`` makes sure no
    # metadata is carried over (exif_transpose keeps the rest of the EXIF, GPS included).
    img.info = {}
    opts: dict[str, Any] = {}
    if icc:
        opts["icc_profile"] = icc
    out = io.BytesIO()
    if fmt == "JPEG":
        if img.mode not in ("L", "RGB"):
            img = img.convert("RGB")
        img.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, **opts)
    elif fmt == "PNG":
        if img.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
            img = img.convert("RGBA")
        img.save(out, "PNG", optimize=False, **opts)
    else:
        if img.mode not in ("RGB", "RGBA"):
            img = img.convert("RGBA" if "A" in img.getbands() or img.mode == "P" else "RGB")
        img.save(out, "WEBP", quality=JPEG_QUALITY, method=4, **opts)
    return out.getvalue()


def store_photo(photo: StoredPhoto, photo_dir: Path) -> Path:
    """Write the cleaned bytes at ``photo_dir/<storage_key>`` atomically (no-op when the
    content is already stored); returns the path."""
    target = Path(photo_dir) / photo.storage_key
    if target.exists() and target.stat().st_size == len(photo.data):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=f".{photo.ext}")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(photo.data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


_PHOTO_COLS = """
    p.id, p.sha256, p.content_type, p.n_bytes, p.width, p.height, p.storage_key,
    p.uploaded_at, e.uuid AS event_uuid
"""


def photo_dict(row: Any, prefix: str = "/api/v1") -> dict[str, Any]:
    """The API representation of a photo row (``url``: where the phone fetches it)."""
    return {
        "id": row.id,
        "sha256": row.sha256,
        "content_type": row.content_type,
        "n_bytes": row.n_bytes,
        "width": row.width,
        "height": row.height,
        "url": f"{prefix}/events/{row.event_uuid}/photos/{row.id}",
    }


def photos_for_event(conn: Connection, event_uuid: uuid_mod.UUID) -> list[Any]:
    """Photo rows of an event (oldest first). The caller has checked the event's scope."""
    return conn.execute(
        text(
            f"SELECT {_PHOTO_COLS} FROM event_photo p JOIN event e ON e.id = p.event_id "
            "WHERE e.uuid = :u ORDER BY p.id"
        ),
        {"u": event_uuid},
    ).all()


def add_photos(
    conn: Connection,
    event_uuid: uuid_mod.UUID,
    photos: list[StoredPhoto],
    *,
    worker_id: int | None,
    photo_dir: Path,
    reporter_only: bool = True,
) -> tuple[list[Any], int]:
    """Attach cleaned photos to an event; the caller commits.

    With ``reporter_only`` the event must have been reported by ``worker_id`` (else 404, as
    for an unknown event). A photo already attached (same sha256) is returned as is. More than
    :data:`MAX_PHOTOS_PER_EVENT` photos on the event → 422. Files are written before the rows
    (content-addressed, so a rolled-back request leaves at most an unreferenced file).
    Returns ``(rows in request order, number newly attached)``.
    """
    ev = conn.execute(
        text("SELECT id, reporter_id FROM event WHERE uuid = :u FOR UPDATE"), {"u": event_uuid}
    ).one_or_none()  # the lock serialises concurrent uploads to one event (the 12 limit)
    if ev is None or (reporter_only and ev.reporter_id != worker_id):
        raise IngestError(404, "not_found", "no such event", "uuid")
    have = {
        r.sha256: r.id
        for r in conn.execute(
            text("SELECT id, sha256 FROM event_photo WHERE event_id = :e"), {"e": ev.id}
        )
    }
    new = list({p.sha256: p for p in photos if p.sha256 not in have}.values())
    if len(have) + len(new) > MAX_PHOTOS_PER_EVENT:
        raise IngestError(422, "too_many_photos",
                          f"an event has at most {MAX_PHOTOS_PER_EVENT} photos ({len(have)} "
                          f"stored, {len(new)} new)", "photos")  # fmt: skip
    for p in new:
        store_photo(p, photo_dir)
        have[p.sha256] = conn.execute(
            text(
                """
                INSERT INTO event_photo (event_id, sha256, content_type, n_bytes, width, height,
                    storage_key, uploaded_by)
                VALUES (:e, :sha, :ct, :n, :w, :h, :key, :by)
                ON CONFLICT (event_id, sha256) DO UPDATE SET sha256 = EXCLUDED.sha256
                RETURNING id
                """
            ),
            {
                "e": ev.id,
                "sha": p.sha256,
                "ct": p.content_type,
                "n": len(p.data),
                "w": p.width,
                "h": p.height,
                "key": p.storage_key,
                "by": worker_id,
            },
        ).scalar_one()
    ids = [have[p.sha256] for p in photos]
    rows = {
        r.id: r
        for r in conn.execute(
            text(
                f"SELECT {_PHOTO_COLS} FROM event_photo p JOIN event e ON e.id = p.event_id "
                "WHERE p.id = ANY(:ids)"
            ),
            {"ids": ids},
        )
    }
    return [rows[i] for i in ids], len(new)


def photo_for_worker(
    conn: Connection, event_uuid: uuid_mod.UUID, photo_id: int, worker_id: int
) -> Any | None:
    """The photo row if it belongs to the event and the worker may see the event (the rule of
    :func:`geodata.ingest.event_for_worker`: reporter, assignee, or inside their L5 grid)."""
    return conn.execute(
        text(
            f"""
            SELECT {_PHOTO_COLS}
            FROM event_photo p JOIN event e ON e.id = p.event_id
            JOIN grid_cell c ON c.id = e.cell_id
            JOIN grid_worker w ON w.id = :w
            JOIN grid_cell wc ON wc.id = w.cell_id
            WHERE p.id = :p AND e.uuid = :u
              AND (e.reporter_id = w.id OR e.assignee_id = w.id
                   OR c.path <@ subpath(wc.path, 0, LEAST(nlevel(wc.path), 5)))
            """
        ),
        {"p": photo_id, "u": event_uuid, "w": worker_id},
    ).one_or_none()


def photo_in_scope(conn: Connection, photo_id: int, scope_path: str) -> Any | None:
    """The photo row if its event's cell lies in the jurisdiction ``scope_path`` (an ltree
    path, e.g. ``'532900'``), else None — unknown and out of scope look the same. ValueError
    on a malformed path."""
    return conn.execute(
        text(
            f"""
            SELECT {_PHOTO_COLS}
            FROM event_photo p JOIN event e ON e.id = p.event_id
            JOIN grid_cell c ON c.id = e.cell_id
            WHERE p.id = :p AND c.path <@ CAST(:scope AS ltree)
            """
        ),
        {"p": photo_id, "scope": check_scope_path(scope_path)},
    ).one_or_none()
