"""GET /geo/cameras.geojson: content, scope from the server side, bbox, ETag/304 and gzip."""

from __future__ import annotations

import gzip

import pytest
from sqlalchemy import text

from api.cameras import cameras_blueprint
from geodata.cells import PREFECTURE_PATH
from tests.api.scoped import features, scoped_clients
from tests.camera_rows import committed_cameras


@pytest.fixture(scope="module")
def cams(engine):
    """Three cameras in three counties (inserted for this module, deleted after)."""
    with engine.connect() as conn:
        sites = conn.execute(
            text(
                """
                SELECT DISTINCT ON (subpath(path, 1, 1)) ltree2text(subpath(path, 0, 2)) AS county,
                       ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat
                FROM grid_cell WHERE level = 6 ORDER BY subpath(path, 1, 1), code LIMIT 3
                """
            )
        ).all()
    body = "code,name,lon,lat,stream_url\n" + "".join(
        f'APICAM{i},"<i>cam</i> {i}",{s.lon},{s.lat},http://h.example/{i}.m3u8\n'
        for i, s in enumerate(sites)
    )
    with committed_cameras(engine, body, "APICAM"):
        yield [s.county for s in sites]


@pytest.fixture(scope="module")
def client_for(engine):
    """Factory: scope path → a test client of the cameras blueprint alone, in that scope."""
    return scoped_clients(engine, cameras_blueprint)


def test_all_cameras_of_the_scope_with_id_name_kind_only(client_for, cams):
    resp = client_for().get("/geo/cameras.geojson")
    assert resp.status_code == 200 and resp.mimetype == "application/geo+json"
    mine = [f for f in features(resp) if f["properties"]["name"].startswith("<i>cam</i>")]
    assert len(mine) == 3
    assert set(mine[0]["properties"]) == {"id", "name", "kind"}
    assert mine[0]["properties"]["kind"] == "hls"
    assert b"h.example" not in resp.data  # no stream URL on the map


def test_scope_comes_from_the_server(client_for, cams):
    resp = client_for(cams[1]).get("/geo/cameras.geojson")
    names = [f["properties"]["name"] for f in features(resp)]
    assert names == ["<i>cam</i> 1"]
    # a browser-sent "scope" parameter is ignored
    resp = client_for(cams[1]).get(f"/geo/cameras.geojson?scope={PREFECTURE_PATH}")
    assert [f["properties"]["name"] for f in features(resp)] == ["<i>cam</i> 1"]


def test_bbox_filters_and_bad_bbox_is_400(client_for, cams):
    client = client_for()
    everything = features(client.get("/geo/cameras.geojson"))
    one = next(f for f in everything if f["properties"]["name"] == "<i>cam</i> 2")
    x, y = one["geometry"]["coordinates"]
    resp = client.get(f"/geo/cameras.geojson?bbox={x - 1e-4},{y - 1e-4},{x + 1e-4},{y + 1e-4}")
    assert [f["properties"]["id"] for f in features(resp)] == [one["properties"]["id"]]
    for bad in ("1,2,3", "a,b,c,d", "101,25,100,26", "25,100,26,101", "nan,1,2,3"):
        resp = client.get(f"/geo/cameras.geojson?bbox={bad}")
        assert resp.status_code == 400, bad
        assert resp.get_json()["field"] == "bbox"


def test_etag_304_and_gzip(client_for, cams):
    client = client_for()
    plain = client.get("/geo/cameras.geojson")
    zipped = client.get("/geo/cameras.geojson", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip" and "Content-Encoding" not in plain.headers
    assert gzip.decompress(zipped.data) == plain.data
    etag = plain.headers["ETag"]
    assert etag.startswith('W/"') and zipped.headers["ETag"] == etag
    again = client.get("/geo/cameras.geojson", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    other = client_for(cams[0]).get("/geo/cameras.geojson", headers={"If-None-Match": etag})
    assert other.status_code == 200  # another scope, another body, another tag
