"""layers.live: pure builders of the live layers."""

from __future__ import annotations

import dash_leaflet as dl

from layers import live


def test_clustered_layers_reference_the_js_namespace():
    ev = live.events_layer(
        live.event_hideout(category_names={"dispute": "矛盾纠纷"}, status_names={}, texts={}),
        id="e",
    )
    wk = live.workers_layer(live.worker_hideout(status_names={}, texts={}), id="w")
    for layer, marker in ((ev, "eventMarker"), (wk, "workerMarker")):
        assert isinstance(layer, dl.GeoJSON) and layer.cluster is True
        assert layer.pointToLayer == {"variable": f"gridcmdLive.{marker}"}
        assert layer.clusterToLayer == {"variable": "gridcmdLive.clusterMarker"}
        assert layer.data == live.empty_collection()
    assert ev.hideout["kind"] == "events" and ev.hideout["colors"]["dispute"].startswith("#")
    assert set(wk.hideout["colors"]) == {"on_duty", "off_duty", "stale"}


def test_track_feature_collection():
    assert live.track_feature_collection(None) == live.empty_collection()
    assert live.track_feature_collection({"coords": [], "times": []})["features"] == []
    one = live.track_feature_collection({"coords": [[100.1, 25.6]], "times": ["t0"]})
    assert [f["properties"]["role"] for f in one["features"]] == ["end"]
    three = live.track_feature_collection(
        {"coords": [[100.1, 25.6], [100.2, 25.6], [100.3, 25.7]], "times": ["a", "b", "c"]}
    )
    line, start, end, stamp = three["features"]
    assert stamp["properties"] == {"role": "stamp", "time": "b"}
    assert line["geometry"]["type"] == "LineString" and len(line["geometry"]["coordinates"]) == 3
    assert (start["properties"]["time"], end["properties"]["time"]) == ("a", "c")
    assert start["properties"]["first"] and not end["properties"]["first"]


def test_long_track_gets_a_bounded_number_of_stamps():
    n = 1000
    fc = live.track_feature_collection(
        {"coords": [[100 + k * 1e-4, 25.6] for k in range(n)], "times": [str(k) for k in range(n)]}
    )
    stamps = [f for f in fc["features"] if f["properties"]["role"] == "stamp"]
    assert 1 <= len(stamps) <= live.TRACK_STAMPS + 1
    times = [int(f["properties"]["time"]) for f in stamps]
    assert times == sorted(times) and times[0] > 0 and times[-1] < n - 1
