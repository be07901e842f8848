"""GET /geo/departments.geojson (api/departments.py): the scope's units with id/name/kind
only, bbox, 400 on a bad bbox, ETag."""

from __future__ import annotations

import pytest

from api.departments import departments_blueprint
from tests.api.scoped import features, scoped_clients


@pytest.fixture(scope="module")
def client_for(engine):
    """Factory: scope path → a test client of the departments blueprint alone, in that scope."""
    return scoped_clients(engine, departments_blueprint)


def test_scope_and_shape(client_for):
    resp = client_for().get("/geo/departments.geojson", headers={"Accept-Encoding": "gzip"})
    assert resp.status_code == 200 and resp.mimetype == "application/geo+json"
    feats = features(resp)
    assert len(feats) == 72
    assert set(feats[0]["properties"]) == {"id", "name", "kind"}
    county = features(client_for("532900.532901").get("/geo/departments.geojson"))
    assert county and all("（模拟）" in f["properties"]["name"] for f in county)
    assert {f["id"] for f in county} < {f["id"] for f in feats}
    assert features(client_for("0").get("/geo/departments.geojson")) == []


def test_bbox_and_etag(client_for):
    client = client_for()
    x, y = features(client.get("/geo/departments.geojson"))[0]["geometry"]["coordinates"]
    bbox = f"{x - 1e-4},{y - 1e-4},{x + 1e-4},{y + 1e-4}"
    assert len(features(client.get(f"/geo/departments.geojson?bbox={bbox}"))) == 1
    bad = client.get("/geo/departments.geojson?bbox=1,2,3")
    assert bad.status_code == 400 and bad.get_json()["field"] == "bbox"
    first = client.get("/geo/departments.geojson")
    again = client.get("/geo/departments.geojson", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
