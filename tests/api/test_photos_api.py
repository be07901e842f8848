"""Event photos: multipart POST /events, POST /events/<uuid>/photos, GET …/photos/<id>,
GET /media/photo/<id>, and geodata.photos.photo_in_scope."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import uuid
import zlib

import pytest
from PIL import Image, PngImagePlugin
from sqlalchemy import text

from geodata.accounts import create_account
from geodata.photos import photo_in_scope
from tests.conftest import TEST_PASSWORD, signed_in

GPS_IFD = 0x8825


def image_bytes(fmt="JPEG", size=(64, 48), color=(200, 30, 30), *, gps=True, orientation=6,
                noise=False) -> bytes:  # fmt: skip
    """An image in ``fmt`` carrying EXIF (camera make, orientation, a GPS position)."""
    img = Image.new("RGB", size, color)
    if noise:
        img = Image.frombytes("RGB", size, bytes(hashlib.sha256(bytes([i % 251, *color]))
                              .digest()[i % 32] for i in range(size[0] * size[1] * 3)))  # fmt: skip
    exif = Image.Exif()
    exif[0x010F] = "GridCam"
    exif[0x0112] = orientation
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (25.0, 36.0, 12.5), 3: "E", 4: (100.0, 13.0, 5.0)}
    buf = io.BytesIO()
    extra = {}
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", "shot at home, 25.6N 100.2E")
        extra["pnginfo"] = info
    img.save(buf, fmt, exif=exif, **extra)
    return buf.getvalue()


def png_header_only(w: int, h: int) -> bytes:
    """A tiny PNG claiming ``w``×``h`` pixels (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))  # fmt: skip


def report(worker, **over) -> dict:
    body = {"uuid": str(uuid.uuid4()), "category": "environment", "title": "路灯损坏 💡",
            "lon": worker.lon, "lat": worker.lat}  # fmt: skip
    body.update(over)
    return body


def files(*items):
    """Multipart ``photos`` parts from (bytes, filename[, content type]) tuples."""
    return [(io.BytesIO(b), *rest) for b, *rest in items]


def post_event_mp(client, worker, body, photos, **extra):
    data = {"report": json.dumps(body, ensure_ascii=False), "photos": files(*photos), **extra}
    return client.post("/api/v1/events", data=data, headers=worker.auth,
                       content_type="multipart/form-data")  # fmt: skip


def post_photos(client, worker, ev_uuid, photos):
    return client.post(f"/api/v1/events/{ev_uuid}/photos", data={"photos": files(*photos)},
                       headers=worker.auth, content_type="multipart/form-data")  # fmt: skip


@pytest.fixture()
def event(client, worker) -> str:
    body = report(worker)
    resp = client.post("/api/v1/events", json=body, headers=worker.auth)
    assert resp.status_code == 201, resp.get_json()
    return body["uuid"]


def test_multipart_event_with_photos_is_stored_without_metadata(client, worker):
    jpeg, png = image_bytes("JPEG"), image_bytes("PNG", color=(10, 200, 10), orientation=1)
    with Image.open(io.BytesIO(jpeg)) as original:  # the upload does carry GPS
        assert original.getexif().get_ifd(GPS_IFD)
    body = report(worker)
    resp = post_event_mp(client, worker, body, [(jpeg, "a.jpg", "image/jpeg"), (png, "b.png")])
    assert resp.status_code == 201, resp.get_json()
    ev = resp.get_json()
    assert ev["uuid"] == body["uuid"] and ev["title"] == "路灯损坏 💡"
    assert [p["content_type"] for p in ev["photos"]] == ["image/jpeg", "image/png"]
    # EXIF orientation 6 was applied: 64×48 became upright 48×64
    assert (ev["photos"][0]["width"], ev["photos"][0]["height"]) == (48, 64)

    for photo in ev["photos"]:
        got = client.get(photo["url"], headers=worker.auth)
        assert got.status_code == 200
        data = got.get_data()
        assert hashlib.sha256(data).hexdigest() == photo["sha256"] == got.headers["ETag"].strip('"')
        assert got.headers["Content-Type"] == photo["content_type"]
        assert got.headers["X-Content-Type-Options"] == "nosniff"
        assert got.headers["Cache-Control"].startswith("private")
        assert len(data) == photo["n_bytes"]
        with Image.open(io.BytesIO(data)) as served:
            exif = served.getexif()
            assert len(exif) == 0 and GPS_IFD not in exif and not exif.get_ifd(GPS_IFD)
            assert "exif" not in served.info and "Comment" not in served.info
            assert served.size == (photo["width"], photo["height"])
        again = client.get(
            photo["url"], headers={**worker.auth, "If-None-Match": got.headers["ETag"]}
        )
        assert again.status_code == 304

    shown = client.get(f"/api/v1/events/{body['uuid']}", headers=worker.auth).get_json()
    assert shown["photos"] == ev["photos"]

    # a resend of the whole multipart request is a replay: 200, still two photos
    replay = post_event_mp(client, worker, body, [(jpeg, "a.jpg"), (png, "b.png")])
    assert replay.status_code == 200 and replay.get_json()["photos"] == ev["photos"]


def test_photo_file_is_content_addressed(client, api_engine, worker, event):
    resp = post_photos(client, worker, event, [(image_bytes("WEBP", orientation=1), "x.webp")])
    assert resp.status_code == 201, resp.get_json()
    photo = resp.get_json()["photos"][0]
    with api_engine.connect() as conn:
        key, uploaded_by = conn.execute(
            text("SELECT storage_key, uploaded_by FROM event_photo WHERE id = :i"),
            {"i": photo["id"]},
        ).one()
    assert key == f"{photo['sha256'][:2]}/{photo['sha256']}.webp" and uploaded_by == worker.id


def test_add_photos_later_is_idempotent_per_image(client, api_engine, worker, event):
    jpeg = image_bytes(color=(1, 2, 3))
    first = post_photos(client, worker, event, [(jpeg, "p.jpg")])
    assert first.status_code == 201 and first.get_json()["created"] == 1
    again = post_photos(client, worker, event, [(jpeg, "renamed.jpg")])
    assert again.status_code == 200 and again.get_json()["created"] == 0
    assert again.get_json()["photos"] == first.get_json()["photos"]
    more = post_photos(
        client, worker, event, [(jpeg, "p.jpg"), (image_bytes(color=(9, 9, 9)), "q")]
    )
    assert more.status_code == 201 and more.get_json()["created"] == 1
    with api_engine.connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM event_photo p JOIN event e ON e.id = p.event_id "
                 "WHERE e.uuid = :u"), {"u": event},
        ).scalar_one()  # fmt: skip
    assert n == 2


def test_other_worker_cannot_fetch_or_add(client, workers, event):
    a, b = workers
    photo = post_photos(client, a, event, [(image_bytes(), "p.jpg")]).get_json()["photos"][0]
    assert client.get(photo["url"], headers=b.auth).status_code == 404
    assert client.get(f"/api/v1/events/{event}", headers=b.auth).status_code == 404
    assert post_photos(client, b, event, [(image_bytes(), "p.jpg")]).status_code == 404
    # unknown photo id / another event's photo id
    assert client.get(f"/api/v1/events/{event}/photos/999999999", headers=a.auth).status_code == 404
    assert client.get(f"/api/v1/events/{uuid.uuid4()}/photos/{photo['id']}",
                      headers=a.auth).status_code == 404  # fmt: skip


def truncated_jpeg() -> bytes:
    data = image_bytes(size=(160, 120), noise=True, gps=False)
    return data[: len(data) * 2 // 3]


@pytest.mark.parametrize(
    "payload,status,error",
    [
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF", 415, "unsupported_media_type"),
        (b"", 422, "invalid_image"),
        ("truncated", 422, "invalid_image"),
        ("gif", 415, "unsupported_media_type"),
        (png_header_only(20_000, 20_000), 422, "invalid_image"),  # over 2× the pixel limit
        (png_header_only(9_000, 9_000), 422, "invalid_image"),  # over the limit
    ],
    ids=["pdf-as-jpg", "empty", "truncated", "gif", "bomb-400mp", "bomb-81mp"],
)
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_bad_images_are_refused(client, api_engine, worker, event, payload, status, error):
    if payload == "truncated":
        payload = truncated_jpeg()
    elif payload == "gif":
        buf = io.BytesIO()
        Image.new("RGB", (8, 8)).save(buf, "GIF")
        payload = buf.getvalue()
    resp = post_photos(client, worker, event, [(payload, "photo.jpg", "image/jpeg")])
    assert resp.status_code == status, resp.get_json()
    body = resp.get_json()
    assert body["error"] == error and body["field"] == "photos.0" and body["detail"]


def test_bad_event_or_photo_creates_nothing(client, api_engine, worker):
    body = report(worker)
    resp = post_event_mp(client, worker, body, [(image_bytes(), "a.jpg"), (b"%PDF-1.4", "b.jpg")])
    assert resp.status_code == 415
    bad = post_event_mp(client, worker, {**body, "category": "aliens"}, [(image_bytes(), "a")])
    assert bad.status_code == 400 and bad.get_json()["field"] == "category"
    with api_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM event WHERE uuid = :u"),
                            {"u": body["uuid"]}).scalar_one() == 0  # fmt: skip


@pytest.mark.parametrize(
    "data,status,field",
    [
        ({"photos": []}, 400, "report"),
        ({"report": "{not json"}, 400, "report"),
        ({"report": '{"lon": NaN}'}, 400, "report"),
        ({"report": "{}", "extra": "x"}, 400, "extra"),
    ],
)
def test_multipart_event_form_errors(client, worker, data, status, field):
    resp = client.post("/api/v1/events", data=data, headers=worker.auth,
                       content_type="multipart/form-data")  # fmt: skip
    assert resp.status_code == status, resp.get_json()
    assert resp.get_json()["field"] == field


def test_photo_count_limits(client, worker, event):
    colors = [(i * 19, 255 - i * 17, i * 53 % 256) for i in range(13)]  # distinct after JPEG
    imgs = [(image_bytes(color=c, orientation=1), f"{i}.jpg") for i, c in enumerate(colors)]
    too_many = post_photos(client, worker, event, imgs[:7])
    assert too_many.status_code == 422 and too_many.get_json()["error"] == "too_many_photos"
    assert post_photos(client, worker, event, imgs[:6]).status_code == 201
    assert post_photos(client, worker, event, imgs[6:12]).status_code == 201
    over = post_photos(client, worker, event, imgs[12:])
    assert over.status_code == 422 and "12" in over.get_json()["detail"]
    # a resend of already attached photos is still fine at the limit
    assert post_photos(client, worker, event, imgs[:2]).status_code == 200


def test_photos_route_needs_parts_and_multipart(client, worker, event):
    url = f"/api/v1/events/{event}/photos"
    assert client.post(url, json={"photos": []}, headers=worker.auth).status_code == 415
    empty = client.post(url, data={}, headers=worker.auth, content_type="multipart/form-data")
    assert empty.status_code == 400 and empty.get_json()["field"] == "photos"
    assert post_photos(client, worker, "not-a-uuid", [(image_bytes(), "a")]).status_code == 404
    assert post_photos(client, worker, uuid.uuid4(), [(image_bytes(), "a")]).status_code == 404


def test_too_large_photo_is_413(small_photo_app, worker, event):
    client = small_photo_app.test_client()
    big = image_bytes("PNG", size=(120, 120), noise=True, gps=False)
    assert len(big) > 10_000
    resp = post_photos(client, worker, event, [(big, "big.png")])
    assert resp.status_code == 413, resp.get_json()
    assert "10,000" in resp.get_json()["detail"] and resp.get_json()["field"] == "photos.0"
    small = image_bytes(size=(16, 16))
    assert len(small) < 10_000
    assert post_photos(client, worker, event, [(small, "s.jpg")]).status_code == 201


def test_photo_in_scope_and_media_route(
    client, api_app, api_engine, api_accounts, worker, event
):  # fmt: skip
    photo = post_photos(client, worker, event, [(image_bytes(), "p.jpg")]).get_json()["photos"][0]
    with api_engine.connect() as conn:
        path = conn.execute(
            text("SELECT ltree2text(c.path) FROM event e JOIN grid_cell c ON c.id = e.cell_id "
                 "WHERE e.uuid = :u"), {"u": event},
        ).scalar_one()  # fmt: skip
        other_county = conn.execute(
            text("SELECT ltree2text(path) FROM grid_cell WHERE level = 2 "
                 "AND NOT (CAST(:p AS ltree) <@ path) ORDER BY code LIMIT 1"), {"p": path},
        ).scalar_one()  # fmt: skip
        county = ".".join(path.split(".")[:2])
        assert photo_in_scope(conn, photo["id"], county).sha256 == photo["sha256"]
        assert photo_in_scope(conn, photo["id"], path).id == photo["id"]
        assert photo_in_scope(conn, photo["id"], other_county) is None
        assert photo_in_scope(conn, 999_999_999, county) is None
        with pytest.raises(ValueError):
            photo_in_scope(conn, photo["id"], "532900; DROP TABLE event")
    # the dashboard route: a session is required; its scope decides
    assert client.get(f"/media/photo/{photo['id']}").status_code == 401
    web = signed_in(api_app, api_engine, "t_commander")  # prefecture
    got = web.get(f"/media/photo/{photo['id']}")
    assert got.status_code == 200 and hashlib.sha256(got.get_data()).hexdigest() == photo["sha256"]
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert web.get("/media/photo/999999999").status_code == 404
    with api_engine.begin() as conn:
        outsider = f"t_other_{uuid.uuid4().hex[:8]}"
        create_account(conn, outsider, "Other county", "commander",
                       other_county.rsplit(".", 1)[-1], TEST_PASSWORD)  # fmt: skip
    outside = signed_in(api_app, api_engine, outsider).get(f"/media/photo/{photo['id']}")
    assert outside.status_code == 404


def test_report_may_be_a_json_file_part(client, worker):
    body = report(worker)
    data = {
        "report": (io.BytesIO(json.dumps(body).encode()), "report.json", "application/json"),
        "photos": files((image_bytes("PNG", orientation=1), "a.png")),
    }
    resp = client.post("/api/v1/events", data=data, headers=worker.auth,
                       content_type="multipart/form-data")  # fmt: skip
    assert resp.status_code == 201, resp.get_json()
    assert len(resp.get_json()["photos"]) == 1
    # without photos the multipart form is just another way to send the JSON body
    body2 = report(worker)
    resp = client.post("/api/v1/events", data={"report": json.dumps(body2)}, headers=worker.auth,
                       content_type="multipart/form-data")  # fmt: skip
    assert resp.status_code == 201 and resp.get_json()["photos"] == []
