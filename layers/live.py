"""Live map layers: clustered events and grid workers, a worker's track, and their hideouts.

Pure builders (labels in, dash-leaflet components out). The points themselves never travel
through a Dash callback from the server: ``window.gridcmdLive`` (dashboard/assets/live.js)
fetches the compact snapshot and change feed (``/live/...``), keeps them in memory and hands
the layers their ``data`` from a clientside callback. Markers are DOM ``divIcon`` markers
(bounded by clustering), so they never share — or force redraws of — the grid's canvas.
Every text placed into HTML by live.js is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash_leaflet as dl

from gridcmd.vocab import CLOSED_STATUSES

__all__ = [
    "CATEGORY_COLORS",
    "SUPERCLUSTER",
    "WORKER_COLORS",
    "empty_collection",
    "event_hideout",
    "events_layer",
    "live_js",
    "track_layer",
    "worker_hideout",
    "workers_layer",
]

#: Marker fill per event category (distinct on a light background).
CATEGORY_COLORS: dict[str, str] = {
    "dispute": "#e8590c",
    "social_risk": "#c92a2a",
    "public_security": "#5f3dc4",
    "party_building": "#d6336c",
    "rural_revitalisation": "#2b8a3e",
    "civilised_city": "#1971c2",
    "ethnic_religious": "#9c36b5",
    "epidemic_prevention": "#0c8599",
    "environment": "#5c940d",
    "forest_fire": "#f08c00",
    "livelihood": "#495057",
}
#: Statuses drawn faded (the workflow is over).
#: Worker marker fill per display status (``stale``: on duty, no fix for too long).
WORKER_COLORS: dict[str, str] = {"on_duty": "#2f9e44", "off_duty": "#868e96", "stale": "#f59f00"}
#: supercluster options: cluster radius in px, no clustering past zoom 16.
SUPERCLUSTER: dict[str, Any] = {"radius": 60, "maxZoom": 16}
#: Time stamps drawn along a track between its two labelled ends (at most about this many).
TRACK_STAMPS = 8


def live_js(name: str) -> dict[str, str]:
    """A reference to ``window.gridcmdLive.<name>`` (dashboard/assets/live.js)."""
    return {"variable": f"gridcmdLive.{name}"}


def empty_collection() -> dict[str, Any]:
    """An empty FeatureCollection (a layer's data before the first load)."""
    return {"type": "FeatureCollection", "features": []}


def event_hideout(
    *, category_names: Mapping[str, str], status_names: Mapping[str, str], texts: Mapping[str, str]
) -> dict[str, Any]:
    """The events layer's ``hideout``: colours, closed statuses, translated names and the
    tooltip texts (``overdue``, ``minutes_ago``...)."""
    return {
        "kind": "events",
        "colors": CATEGORY_COLORS,
        "closed": list(CLOSED_STATUSES),
        "categoryNames": dict(category_names),
        "statusNames": dict(status_names),
        "texts": dict(texts),
    }


def worker_hideout(*, status_names: Mapping[str, str], texts: Mapping[str, str]) -> dict[str, Any]:
    """The workers layer's ``hideout``: colours and translated status names and texts."""
    return {
        "kind": "workers",
        "colors": WORKER_COLORS,
        "statusNames": dict(status_names),
        "texts": dict(texts),
    }


def _clustered(id: str | dict, hideout: Mapping[str, Any], marker: str, bind: str) -> dl.GeoJSON:
    return dl.GeoJSON(
        id=id,
        data=empty_collection(),
        cluster=True,
        zoomToBoundsOnClick=True,
        superClusterOptions=SUPERCLUSTER,
        clusterToLayer=live_js("clusterMarker"),
        hideout=dict(hideout),
        pointToLayer=live_js(marker),
        onEachFeature=live_js(bind),
        bubblingMouseEvents=False,
    )


def events_layer(hideout: Mapping[str, Any], *, id: str | dict) -> dl.GeoJSON:
    """Clustered event markers; a click sets ``clickData`` (the details panel)."""
    return _clustered(id, hideout, "eventMarker", "bindEvent")


def workers_layer(hideout: Mapping[str, Any], *, id: str | dict) -> dl.GeoJSON:
    """Clustered worker markers; a click sets ``clickData`` (details and today's track)."""
    return _clustered(id, hideout, "workerMarker", "bindWorker")


def track_feature_collection(track: Mapping[str, Any] | None) -> dict[str, Any]:
    """A ``geodata.live.worker_track`` result → GeoJSON: the line (``role: line``), the
    first/last fixes (``role: end``, labelled with their ISO times) and up to
    :data:`TRACK_STAMPS` fixes evenly between them (``role: stamp``, time on hover); the
    playback slider reaches every fix."""
    if not track or not track.get("coords"):
        return empty_collection()
    coords, times = track["coords"], track["times"]
    features: list[dict[str, Any]] = []
    if len(coords) >= 2:
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": coords},
                "properties": {"role": "line"},
            }
        )
    ends = [0] if len(coords) == 1 else [0, len(coords) - 1]
    for k in ends:
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": coords[k]},
                "properties": {"role": "end", "time": times[k], "first": k == 0},
            }
        )
    inner = len(coords) - 2
    if inner > 0:
        step = max(1, round(inner / TRACK_STAMPS))
        for k in range(1 + step // 2, len(coords) - 1, step):
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": coords[k]},
                    "properties": {"role": "stamp", "time": times[k]},
                }
            )
    return {"type": "FeatureCollection", "features": features}


def track_layer(*, id: str | dict) -> dl.GeoJSON:
    """A worker's track: dashed line, the ends labelled with local times."""
    return dl.GeoJSON(
        id=id,
        data=empty_collection(),
        style=live_js("trackStyle"),
        pointToLayer=live_js("trackEnd"),
        interactive=False,
    )
