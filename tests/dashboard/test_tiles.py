"""dashboard.tiles: the offline MBTiles basemap route, on a tiny MBTiles written here."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import flask
import pytest

from dashboard.tiles import (
    BLUEPRINT_NAME,
    mbtiles_info,
    registered_mbtiles,
    tiles_blueprint,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"tile-3-5-2"
OTHER = b"\x89PNG\r\n\x1a\n" + b"tile-0-0-0"


def make_mbtiles(path: Path, fmt: str | None = "png", tiles=None) -> Path:
    """An MBTiles file (spec 1.3): ``tiles`` maps XYZ (z, x, y) → bytes, stored TMS."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    db.execute(
        "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, "
        "tile_data BLOB)"
    )
    meta = {"name": "test", "minzoom": "0", "maxzoom": "3", "attribution": "© test"}
    if fmt:
        meta["format"] = fmt
    db.executemany("INSERT INTO metadata VALUES (?, ?)", meta.items())
    for (z, x, y), data in (tiles or {}).items():
        db.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, (1 << z) - 1 - y, data))
    db.commit()
    db.close()
    return path


@pytest.fixture
def mbtiles(tmp_path) -> Path:
    return make_mbtiles(tmp_path / "base.mbtiles", tiles={(3, 5, 2): PNG, (0, 0, 0): OTHER})


def _client(path):
    app = flask.Flask(__name__)
    app.register_blueprint(tiles_blueprint(path))
    return app, app.test_client()


def test_serves_a_tile_with_the_tms_row_flipped(mbtiles):
    _, client = _client(mbtiles)
    r = client.get("/tiles/3/5/2.png")
    assert r.status_code == 200
    assert r.data == PNG
    assert r.mimetype == "image/png"
    assert "max-age" in r.headers["Cache-Control"]
    assert r.headers["ETag"]
    # the TMS row 2^3 - 1 - 2 = 5 is *not* the XYZ y
    assert client.get("/tiles/3/5/5.png").status_code == 404
    assert client.get("/tiles/0/0/0.png").data == OTHER


def test_etag_revalidation(mbtiles):
    _, client = _client(mbtiles)
    first = client.get("/tiles/3/5/2.png")
    again = client.get("/tiles/3/5/2.png", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


@pytest.mark.parametrize(
    "url",
    [
        "/tiles/3/5/3.png",  # missing tile
        "/tiles/3/5/2.jpg",  # extension not the file's format
        "/tiles/3/8/2.png",  # x out of range at z3
        "/tiles/3/5/8.png",  # y out of range
        "/tiles/30/0/0.png",  # absurd zoom
        "/tiles/-1/0/0.png",  # not an int route
    ],
)
def test_missing_or_bad_tiles_are_404(mbtiles, url):
    _, client = _client(mbtiles)
    assert client.get(url).status_code == 404


def test_no_file_configured_or_missing_file_is_404(tmp_path):
    for path in (None, tmp_path / "absent.mbtiles"):
        app, client = _client(path)
        assert client.get("/tiles/0/0/0.png").status_code == 404
        assert registered_mbtiles(app) is None
    assert not (tmp_path / "absent.mbtiles").exists()  # read-only: never created


def test_not_an_mbtiles_file_is_404(tmp_path):
    junk = tmp_path / "junk.mbtiles"
    junk.write_bytes(b"not sqlite at all")
    _, client = _client(junk)
    assert client.get("/tiles/0/0/0.png").status_code == 404
    assert mbtiles_info(junk) is None


@pytest.mark.parametrize(
    ("fmt", "ext", "ctype"),
    [
        ("png", "png", "image/png"),
        ("jpg", "jpg", "image/jpeg"),
        ("webp", "webp", "image/webp"),
        (None, "png", "image/png"),
    ],  # fmt: skip
)
def test_content_type_follows_the_format(tmp_path, fmt, ext, ctype):
    path = make_mbtiles(tmp_path / "f.mbtiles", fmt, {(1, 1, 0): b"data"})
    _, client = _client(path)
    r = client.get(f"/tiles/1/1/0.{ext}")
    assert r.status_code == 200 and r.mimetype == ctype
    info = mbtiles_info(path)
    assert info["ext"] == ext and info["content_type"] == ctype


def test_gzipped_vector_tiles_declare_their_encoding(tmp_path):
    path = make_mbtiles(tmp_path / "v.mbtiles", "pbf", {(0, 0, 0): b"\x1f\x8b\x08rest"})
    _, client = _client(path)
    r = client.get("/tiles/0/0/0.pbf")
    assert r.mimetype == "application/x-protobuf" and r.headers["Content-Encoding"] == "gzip"


def test_registered_mbtiles_describes_the_base_layer(mbtiles):
    app, _ = _client(mbtiles)
    assert BLUEPRINT_NAME in app.blueprints
    info = registered_mbtiles(app)
    assert info["url"] == "/tiles/{z}/{x}/{y}.png"
    assert info["maxzoom"] == 3 and info["minzoom"] == 0 and info["attribution"] == "© test"
    assert registered_mbtiles(flask.Flask(__name__)) is None
