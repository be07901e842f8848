"""layers.departments (rows → GeoJSON, the overlay) and dashboard.departments (the overlay
of the layers control, translated kind labels): pure builders, no database."""

from __future__ import annotations

import json

import dash_leaflet as dl

from dashboard import ids
from dashboard.departments import department_overlay_for, kind_label
from gridcmd.vocab import DEPARTMENT_KIND_MSGIDS, DEPARTMENT_KINDS
from layers.cameras import COORD_DIGITS
from layers.departments import (
    department_layer,
    department_overlay,
    departments_geojson,
    departments_geojson_text,
    departments_hideout,
    js,
)
from tests.dash_tree import walk

ROWS = [
    {"id": 3, "code": "POL-1", "name": "<img src=x onerror=alert(1)>派出所（模拟）",
     "kind": "police", "lon": 100.123456789, "lat": 25.6, "phone": "0872-1234567",
     "categories": ["dispute"], "synthetic": True},
    {"id": 4, "code": "CRT-1", "name": "大理市人民法院（模拟）", "kind": "court", "lon": 100.2,
     "lat": 25.987654321},
]  # fmt: skip


def test_geojson_points_carry_id_name_kind_only():
    fc = departments_geojson(ROWS)
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 2
    f = fc["features"][0]
    assert f["geometry"] == {"type": "Point",
                             "coordinates": [round(100.123456789, COORD_DIGITS), 25.6]}  # fmt: skip
    assert f["properties"] == {"id": 3, "name": ROWS[0]["name"], "kind": "police"}
    body = departments_geojson_text(ROWS)
    assert "0872" not in body and "categories" not in body and "POL-1" not in body
    assert "人民法院" in body  # UTF-8 kept, not \\u-escaped
    assert json.loads(body) == fc
    assert departments_geojson([]) == {"type": "FeatureCollection", "features": []}


def test_layer_and_overlay():
    hideout = departments_hideout({"police": "派出所"})
    assert hideout == {"kinds": {"police": "派出所", "court": "court",
                                 "procuratorate": "procuratorate", "judicial": "judicial",
                                 "petition": "petition"}}  # fmt: skip
    layer = department_layer("/geo/departments.geojson", id="x", hideout=hideout)
    assert isinstance(layer, dl.GeoJSON)
    assert layer.url == "/geo/departments.geojson" and layer.hideout == hideout
    assert (
        layer.pointToLayer == js("pointToLayer") == {"variable": "gridcmdDepartments.pointToLayer"}
    )
    overlay = department_overlay(layer, name="部门")
    assert isinstance(overlay, dl.Overlay) and overlay.checked is False and overlay.name == "部门"


def test_dashboard_overlay_is_off_and_translated():
    zh = department_overlay_for("zh")
    en = department_overlay_for("en")
    assert zh.name == "部门" and en.name == "Departments" and not zh.checked
    layer = zh.children
    assert layer.id == ids.DEPARTMENT_LAYER and layer.url == "/geo/departments.geojson"
    assert layer.hideout["kinds"]["police"] == "派出所"
    assert en.children.hideout["kinds"]["petition"] == "Petition office"
    assert set(DEPARTMENT_KIND_MSGIDS) == set(DEPARTMENT_KINDS)
    assert kind_label("court", "zh") == "人民法院" and kind_label("nope", "zh") == "nope"


def test_the_page_has_the_overlay():
    from dashboard.layout import page

    tree = page(lang="zh", root=None)
    found = [c for c in walk(tree) if getattr(c, "id", None) == ids.DEPARTMENT_LAYER]
    assert len(found) == 1


def test_the_js_escapes_names():
    from dashboard import ASSETS_DIR

    src = (ASSETS_DIR / "departments.js").read_text(encoding="utf-8")
    assert "window.gridcmdDepartments" in src and "pointToLayer" in src
    assert "escapeHtml(p.name)" in src and "escapeHtml(label)" in src
