"""geodata.fieldwork / overview / photos without HTTP: check-in verdicts, patrol lengths,
idempotency, and the photo cleaning (no metadata survives)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import uuid

import pytest
from PIL import Image, PngImagePlugin
from sqlalchemy import text

from geodata.fieldwork import record_checkin, record_patrol, worker_grid
from geodata.ingest import IngestError, haversine_m
from geodata.overview import my_overview, my_tasks
from geodata.photos import PhotoError, prepare_photo, store_photo
from geodata.visits import record_visit

NOW = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture()
def worker(conn):
    """(id, lon, lat inside the assigned cell) of the first worker."""
    return conn.execute(
        text(
            "SELECT w.id, ST_X(ST_PointOnSurface(c.geom)) AS lon, "
            "ST_Y(ST_PointOnSurface(c.geom)) AS lat FROM grid_worker w "
            "JOIN grid_cell c ON c.id = w.cell_id ORDER BY w.id LIMIT 1"
        )
    ).one()


def checkin_body(worker, **over):
    body = {"uuid": str(uuid.uuid4()), "kind": "in", "at": NOW.isoformat(), "lon": worker.lon,
            "lat": worker.lat, "crs": "wgs84", "accuracy": None}  # fmt: skip
    return {**body, **over}


def test_checkin_inside_replay_and_conflict(conn, worker):
    body = checkin_body(worker)
    first = record_checkin(conn, body, worker_id=worker.id, tolerance_m=50, now=NOW)
    assert first.created and first.record["inside"] and first.record["distance_m"] == 0
    again = record_checkin(conn, body, worker_id=worker.id, tolerance_m=50, now=NOW)
    assert not again.created and again.record == first.record
    with pytest.raises(IngestError) as err:
        record_checkin(conn, {**body, "kind": "out"}, worker_id=worker.id, tolerance_m=50, now=NOW)
    assert err.value.status == 409


def test_checkin_far_away_is_outside_with_distance(conn, worker):
    # 0.05° further north: several kilometres from a village-sized cell
    body = checkin_body(worker, lat=worker.lat + 0.05)
    res = record_checkin(conn, body, worker_id=worker.id, tolerance_m=200, now=NOW)
    assert res.record["inside"] is False and res.record["distance_m"] > 200
    assert res.record["distance_m"] < haversine_m(worker.lon, worker.lat, worker.lon,
                                                  worker.lat + 0.05) + 1  # fmt: skip


def test_checkin_future_is_422(conn, worker):
    body = checkin_body(worker, at=(NOW + dt.timedelta(minutes=3)).isoformat())
    with pytest.raises(IngestError) as err:
        record_checkin(conn, body, worker_id=worker.id, tolerance_m=50, now=NOW)
    assert (err.value.status, err.value.field) == (422, "at")


def test_patrol_length_and_validation(conn, worker):
    pts = [
        [worker.lon, worker.lat],
        [worker.lon + 0.001, worker.lat],
        [worker.lon + 0.001, worker.lat + 0.001],
    ]
    body = {"uuid": str(uuid.uuid4()), "started_at": (NOW - dt.timedelta(hours=1)).isoformat(),
            "ended_at": NOW.isoformat(), "points": pts, "crs": "wgs84", "note": ""}  # fmt: skip
    res = record_patrol(conn, body, worker_id=worker.id, now=NOW)
    expected = haversine_m(*pts[0], *pts[1]) + haversine_m(*pts[1], *pts[2])
    assert res.record["length_m"] == pytest.approx(expected, rel=0.01)
    bad = {**body, "uuid": str(uuid.uuid4()), "ended_at": (NOW - dt.timedelta(hours=2)).isoformat()}
    with pytest.raises(IngestError, match="before"):
        record_patrol(conn, bad, worker_id=worker.id, now=NOW)


def test_visit_needs_a_place_and_overview_counts_it(conn, worker):
    grid = worker_grid(conn, worker.id)
    body = {"uuid": str(uuid.uuid4()), "visited_at": NOW.isoformat(), "household": "1号",
            "note": "", "cell_code": None, "lon": None, "lat": None, "crs": "wgs84"}  # fmt: skip
    with pytest.raises(IngestError) as err:
        record_visit(conn, body, worker_id=worker.id, tolerance_m=100, now=NOW)
    assert err.value.status == 400
    before = my_overview(conn, worker.id, now=NOW)["mine"]["visits_month"]
    res = record_visit(conn, {**body, "cell_code": grid.grid_code}, worker_id=worker.id,
                       tolerance_m=100, now=NOW)  # fmt: skip
    assert res.created and res.record["cell"] == grid.grid_code
    assert my_overview(conn, worker.id, now=NOW)["mine"]["visits_month"] == before + 1


def test_tasks_limits(conn, worker):
    with pytest.raises(ValueError):
        my_tasks(conn, worker.id, limit=0)
    items, more = my_tasks(conn, worker.id, limit=200, include_reported=True, now=NOW)
    assert isinstance(items, list) and more in (True, False)


# ----------------------------------------------------------------------------- photos


def _with_metadata(fmt: str, mode: str = "RGB") -> bytes:
    img = Image.new(mode, (40, 30), 120)
    exif = Image.Exif()
    exif[0x0112] = 8  # rotate 90° counter-clockwise when shown
    exif[0x8825] = {1: "N", 2: (25.0, 1.0, 2.0)}
    buf = io.BytesIO()
    extra = {"exif": exif}
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("GPS", "25.6,100.2")
        extra["pnginfo"] = info
    img.save(buf, fmt, **extra)
    return buf.getvalue()


@pytest.mark.parametrize("fmt,mode", [("JPEG", "RGB"), ("JPEG", "CMYK"), ("PNG", "RGB"),
                                      ("WEBP", "RGB")])  # fmt: skip
def test_prepare_photo_strips_metadata_and_rotates(fmt, mode):
    photo = prepare_photo(_with_metadata(fmt, mode), max_bytes=1_000_000)
    assert (photo.width, photo.height) == (30, 40)
    assert photo.sha256 == hashlib.sha256(photo.data).hexdigest()
    with Image.open(io.BytesIO(photo.data)) as img:
        assert img.format == fmt and len(img.getexif()) == 0
        assert "GPS" not in img.info and "exif" not in img.info
    # deterministic: the same upload gives the same stored bytes (idempotent resends)
    assert prepare_photo(_with_metadata(fmt, mode), max_bytes=1_000_000).sha256 == photo.sha256


def test_prepare_photo_refusals():
    with pytest.raises(PhotoError) as err:
        prepare_photo(b"GIF89a" + b"\x00" * 40, max_bytes=1000)
    assert err.value.status == 415
    with pytest.raises(PhotoError) as err:
        prepare_photo(_with_metadata("PNG"), max_bytes=10)
    assert err.value.status == 413


def test_store_photo_is_atomic_and_content_addressed(tmp_path):
    photo = prepare_photo(_with_metadata("PNG"), max_bytes=1_000_000)
    path = store_photo(photo, tmp_path)
    assert path == tmp_path / photo.sha256[:2] / f"{photo.sha256}.png"
    assert path.read_bytes() == photo.data
    assert store_photo(photo, tmp_path) == path  # a second write is a no-op
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_multi_picture_jpeg_is_a_jpeg():
    """Phones write MPO (a JPEG with extra frames): accepted, first frame, stored as JPEG."""
    buf = io.BytesIO()
    first, second = Image.new("RGB", (32, 24), (250, 0, 0)), Image.new("RGB", (8, 6), 0)
    first.save(buf, "MPO", save_all=True, append_images=[second])
    with Image.open(io.BytesIO(buf.getvalue())) as check:
        assert check.format == "MPO" and check.n_frames == 2
    photo = prepare_photo(buf.getvalue(), max_bytes=1_000_000)
    assert (photo.content_type, photo.width, photo.height) == ("image/jpeg", 32, 24)
    with Image.open(io.BytesIO(photo.data)) as img:
        assert img.format == "JPEG" and getattr(img, "n_frames", 1) == 1
