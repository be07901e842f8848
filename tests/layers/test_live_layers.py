"""layers.events / layers.workers: pure builders of the live layers (clustered GeoJSON, JS
functions by reference into dashboard/assets/live.js, hideouts, track collections)."""

from __future__ import annotations

import re

from dashboard import ASSETS_DIR
from geodata.models import EVENT_CATEGORIES
from layers.events import CATEGORY_COLORS, event_hideout, events_layer
from layers.workers import (
    MAX_TRACK_STAMPS,
    WORKER_COLORS,
    track_collection,
    track_layer,
    worker_hideout,
    workers_layer,
)

LIVE_JS = (ASSETS_DIR / "live.js").read_text()


def _hideout():
    return event_hideout(category_names={"dispute": "矛盾纠纷"}, status_names={}, texts={})


def test_events_layer_is_clustered_with_js_functions():
    layer = events_layer(None, _hideout(), id="ev")
    assert layer.cluster is True and layer.zoomToBoundsOnClick is True
    assert layer.superClusterOptions["radius"] > 0
    assert layer.data == {"type": "FeatureCollection", "features": []}
    for prop in ("pointToLayer", "onEachFeature", "clusterToLayer"):
        name = getattr(layer, prop)["variable"]
        assert name.startswith("gridcmdLive.")
        assert re.search(rf"\b{name.split('.')[1]}: {name.split('.')[1]}\b", LIVE_JS), name
    assert layer.hideout["kind"] == "events" and layer.hideout["heat"] is False


def test_every_category_has_a_colour():
    assert set(CATEGORY_COLORS) == set(EVENT_CATEGORIES)
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in CATEGORY_COLORS.values())


def test_heat_flag_in_hideout():
    h = event_hideout(category_names={}, status_names={}, texts={}, heat=True)
    assert h["heat"] is True


def test_workers_layer():
    h = worker_hideout(status_names={"on_duty": "在岗"}, texts={"grid": "网格"})
    layer = workers_layer({"type": "FeatureCollection", "features": []}, h, id="wk")
    assert layer.cluster is True and layer.hideout["kind"] == "workers"
    assert set(WORKER_COLORS) == {"on_duty", "off_duty", "stale"}
    assert layer.pointToLayer == {"variable": "gridcmdLive.workerMarker"}


def _track(n: int) -> dict:
    coords = [[100 + i * 1e-3, 25.0] for i in range(n)]
    times = [f"2026-11-27T08:{i // 60:02d}:{i % 60:02d}+00:00" for i in range(n)]
    geom = (
        {"type": "LineString", "coordinates": coords}
        if n >= 2
        else {"type": "Point", "coordinates": coords[0]}
    )
    return {"type": "Feature", "geometry": geom, "properties": {"times": times}}


def test_track_collection_samples_fixes_and_keeps_ends():
    fc = track_collection(_track(500))
    line = [f for f in fc["features"] if f["properties"]["role"] == "line"]
    fixes = [f for f in fc["features"] if f["properties"]["role"] == "fix"]
    assert len(line) == 1 and len(line[0]["geometry"]["coordinates"]) == 500
    assert 2 <= len(fixes) <= MAX_TRACK_STAMPS + 1
    assert fixes[0]["properties"]["first"] and fixes[0]["properties"]["time"].endswith(":00+00:00")
    assert fixes[-1]["properties"]["last"]
    assert fixes[-1]["properties"]["time"] == "2026-11-27T08:08:19+00:00"


def test_track_collection_edge_cases():
    assert track_collection(None)["features"] == []
    assert track_collection({"geometry": None, "properties": {"times": []}})["features"] == []
    one = track_collection(_track(1))
    assert [f["properties"]["role"] for f in one["features"]] == ["fix"]
    layer = track_layer(one, id="tr")
    assert layer.data == one and not getattr(layer, "cluster", None)


def test_live_js_escapes_text():
    # every tooltip builder routes user text through escapeHtml
    for fn in ("eventTooltip", "workerTooltip"):
        body = LIVE_JS.split(f"function {fn}(")[1].split("\n  }\n")[0]
        assert "escapeHtml(p.title)" in body or "escapeHtml(p.name)" in body
