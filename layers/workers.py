"""The grid-workers layer (clustered circle markers coloured on duty / off duty / stale) and
a worker's track (a line with time-stamped fixes), drawn by ``window.gridcmdLive``
(dashboard/assets/live.js) with escaped tooltips. Pure builders, no database.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash_leaflet as dl

from layers.events import SUPERCLUSTER, empty_collection, live_js

__all__ = ["MAX_TRACK_STAMPS", "WORKER_COLORS", "track_collection", "track_layer",
           "worker_hideout", "workers_layer"]  # fmt: skip

#: Marker fill per worker status (geodata.live.worker_status).
WORKER_COLORS: dict[str, str] = {"on_duty": "#2f9e44", "off_duty": "#868e96", "stale": "#f59f00"}
#: At most this many time-stamped fix markers along a drawn track (evenly sampled, ends kept).
MAX_TRACK_STAMPS = 60


def worker_hideout(*, status_names: Mapping[str, str], texts: Mapping[str, str]) -> dict:
    """The workers layer's ``hideout``: colours, translated status names and tooltip texts
    (``grid``, ``last_fix``, ``seconds_ago``, ``never``)."""
    return {
        "kind": "workers",
        "colors": WORKER_COLORS,
        "statusNames": dict(status_names),
        "texts": dict(texts),
    }


def workers_layer(
    data: Mapping[str, Any] | None, hideout: Mapping[str, Any], *, id: str | dict
) -> dl.GeoJSON:
    """Clustered worker points (``geodata.live.workers_geojson`` output)."""
    return dl.GeoJSON(
        id=id,
        data=dict(data) if data is not None else empty_collection(),
        cluster=True,
        zoomToBoundsOnClick=True,
        superClusterOptions=SUPERCLUSTER,
        clusterToLayer=live_js("clusterMarker"),
        hideout=dict(hideout),
        pointToLayer=live_js("workerMarker"),
        onEachFeature=live_js("bindWorker"),
        bubblingMouseEvents=False,
    )


def track_collection(track: Mapping[str, Any] | None) -> dict[str, Any]:
    """A FeatureCollection for the track layer from ``geodata.live.worker_track`` output: the
    line (role "line") and up to :data:`MAX_TRACK_STAMPS` fixes (role "fix", with ``time``;
    first and last always kept). None or no fixes → empty."""
    if not track or not track.get("geometry"):
        return empty_collection()
    geom = track["geometry"]
    times = list(track["properties"].get("times") or [])
    coords = geom["coordinates"] if geom["type"] == "LineString" else [geom["coordinates"]]
    features: list[dict[str, Any]] = []
    if geom["type"] == "LineString":
        features.append({"type": "Feature", "geometry": geom, "properties": {"role": "line"}})
    n = len(coords)
    step = max(1, -(-n // MAX_TRACK_STAMPS))
    picks = sorted(set(range(0, n, step)) | {n - 1})
    for i in picks:
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": coords[i]},
                "properties": {
                    "role": "fix",
                    "time": times[i] if i < len(times) else None,
                    "first": i == 0,
                    "last": i == n - 1,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def track_layer(data: Mapping[str, Any] | None, *, id: str | dict) -> dl.GeoJSON:
    """The selected worker's track (not clustered): line styled by ``gridcmdLive.trackStyle``,
    fixes as small circles with their time as tooltip."""
    return dl.GeoJSON(
        id=id,
        data=dict(data) if data is not None else empty_collection(),
        style=live_js("trackStyle"),
        pointToLayer=live_js("trackFix"),
        onEachFeature=live_js("bindTrackFix"),
        bubblingMouseEvents=False,
    )
