"""The viewport payload route and the cell route: content, scope, caching and bad input."""

from __future__ import annotations

import geobuf
import pytest
import shapely
from shapely.geometry import shape

from api.geo import geo_blueprint
from geodata.cells import PREFECTURE_PATH
from tests.api.scoped import scoped_clients, unzipped_body

DALI = "98.8,24.6,101.1,26.7"


@pytest.fixture(scope="module")
def client_for(engine):
    """Factory: scope path → a test client of the geo blueprint alone, in that scope."""
    return scoped_clients(engine, geo_blueprint)


@pytest.fixture(scope="module")
def client(client_for):
    return client_for()


def decode(resp) -> dict:
    return geobuf.decode(unzipped_body(resp))


def test_prefecture_view_draws_the_12_counties(client):
    resp = client.get(f"/geo/grid.pbf?z=8&bbox={DALI}", headers={"Accept-Encoding": "gzip"})
    assert resp.status_code == 200
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.headers["X-Grid-Level"] == "2"
    fc = decode(resp)
    assert len(fc["features"]) == 12 == int(resp.headers["X-Grid-Features"])
    names = {f["properties"]["name"] for f in fc["features"]}
    assert "大理市" in names
    for f in fc["features"]:
        assert shape(f["geometry"]).is_valid


def test_selected_county_draws_its_townships(client, engine):
    from sqlalchemy import text

    with engine.connect() as c:
        sql = "SELECT code FROM grid_cell WHERE level = 3 AND code LIKE '532901%'"
        kids = set(c.execute(text(sql)).scalars())
    resp = client.get(f"/geo/grid.pbf?z=10&bbox={DALI}&sel=532901")
    assert resp.status_code == 200 and resp.headers["X-Grid-Level"] == "3"
    fc = decode(resp)
    roles = [f["properties"]["role"] for f in fc["features"]]
    assert roles[-1] == "selected" and roles.count("selected") == 1
    cells = {f["properties"]["code"] for f in fc["features"] if f["properties"]["role"] == "cell"}
    assert kids <= cells
    assert all(f["properties"]["level"] == 3 for f in fc["features"][:-1])


def test_zoom_follows_level_of_detail_and_viewport(client, engine):
    from sqlalchemy import text

    with engine.connect() as c:
        x, y = c.execute(text(
            "SELECT ST_X(label_point), ST_Y(label_point) FROM grid_cell WHERE level = 4 "
            "ORDER BY code LIMIT 1")).one()  # fmt: skip
    bbox = f"{x - 0.05},{y - 0.03},{x + 0.05},{y + 0.03}"
    resp = client.get(f"/geo/grid.pbf?z=14&bbox={bbox}")
    assert resp.headers["X-Grid-Level"] == "5"
    fc = decode(resp)
    view = shapely.box(x - 0.05, y - 0.03, x + 0.05, y + 0.03)
    assert fc["features"]
    for f in fc["features"]:
        assert shape(f["geometry"]).envelope.intersects(view)  # bbox filter (&&)
    total = client.get(f"/geo/grid.pbf?z=14&bbox={x - 0.2},{y - 0.12},{x + 0.2},{y + 0.12}")
    assert int(total.headers["X-Grid-Features"]) >= len(fc["features"])


def test_selection_one_level_deeper_keeps_context(client, engine):
    """At a grid's natural zoom, selecting a grid draws its micro-grids inside it and the
    natural-level grids around it as context."""
    from sqlalchemy import text

    with engine.connect() as c:
        code, x, y = c.execute(text(
            "SELECT code, ST_X(label_point), ST_Y(label_point) FROM grid_cell WHERE level = 5 "
            "ORDER BY code LIMIT 1")).one()  # fmt: skip
    bbox = f"{x - 0.08},{y - 0.05},{x + 0.08},{y + 0.05}"
    resp = client.get(f"/geo/grid.pbf?z=14&bbox={bbox}&sel={code}")
    assert resp.headers["X-Grid-Level"] == "6"
    feats = decode(resp)["features"]
    by_role: dict[str, list] = {}
    for f in feats:
        by_role.setdefault(f["properties"]["role"], []).append(f["properties"])
    assert all(p["level"] == 6 and p["code"].startswith(code) for p in by_role["cell"])
    assert 2 <= len(by_role["cell"]) <= 4
    assert all(p["level"] == 5 and p["code"] != code for p in by_role.get("context", []))
    assert [p["code"] for p in by_role["selected"]] == [code]


def test_etag_revalidation(client):
    url = f"/geo/grid.pbf?z=8&bbox={DALI}"
    first = client.get(url)
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and not again.data
    assert "max-age" in first.headers["Cache-Control"]


def test_scope_limits_cells_and_selection(client_for):
    county = client_for(f"{PREFECTURE_PATH}.532922")
    fc = decode(county.get(f"/geo/grid.pbf?z=8&bbox={DALI}"))
    assert [f["properties"]["code"] for f in fc["features"]] == ["532922"]
    assert county.get(f"/geo/grid.pbf?z=10&bbox={DALI}&sel=532901").status_code == 404
    assert county.get("/geo/cell/532901.json").status_code == 404
    assert county.get("/geo/cell/532922.json").status_code == 200


def test_cell_json_has_path_and_bbox(client):
    resp = client.get("/geo/cell/532901.json")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["name"] == "大理市" and body["level"] == 2
    assert [p["code"] for p in body["path"]] == ["532900", "532901"]
    minx, miny, maxx, maxy = body["bbox"]
    assert 99.9 < minx < maxx < 100.5 and 25.4 < miny < maxy < 26.1


@pytest.mark.parametrize(
    ("query", "field", "status"),
    [
        ("z=abc&bbox=" + DALI, "z", 400),
        ("z=8&bbox=1,2,3", "bbox", 400),
        ("z=8&bbox=nan,24,101,26", "bbox", 400),
        ("z=8&bbox=101,24,100,26", "bbox", 400),
        ("z=8&bbox=24.6,98.8,26.7,101.1", "bbox", 400),  # swapped lat/lon
        ("z=15&bbox=" + DALI, "bbox", 400),  # absurdly large for the zoom
        ("z=8&bbox=" + DALI + "&sel=abc;drop", "sel", 400),
        ("z=8&bbox=" + DALI + "&sel=999999", "sel", 404),
        ("z=8&bbox=1e400,24,101,26", "bbox", 400),
    ],
)
def test_bad_viewport_requests(client, query, field, status):
    resp = client.get("/geo/grid.pbf?" + query)
    assert resp.status_code == status
    body = resp.get_json()
    assert body["field"] == field and body["detail"]


@pytest.mark.parametrize(("code", "status"), [("999999", 404), ("53x", 400), ("1" * 40, 400)])
def test_bad_cell_codes(client, code, status):
    resp = client.get(f"/geo/cell/{code}.json")
    assert resp.status_code == status and resp.get_json()["detail"]


def test_zoom_is_clamped(client):
    resp = client.get(f"/geo/grid.pbf?z=-5&bbox={DALI}")
    assert resp.status_code == 200 and resp.headers["X-Grid-Level"] == "2"
