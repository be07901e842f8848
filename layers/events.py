"""The events layer: clustered circle markers coloured by category, outlined by status.

Pure builders (GeoJSON dicts and labels in, dash-leaflet components out). Markers, tooltips
and the heat style are drawn by ``window.gridcmdLive`` (dashboard/assets/live.js), which
escapes every text it places into HTML; the colours and translated labels travel in the
layer's ``hideout``.

Heatmap: no Leaflet heat plugin ships offline with dash-leaflet, so "heat" mode is an
alternative *style* (large translucent circles whose overlaps read as density, clustering
relaxed), not a kernel-density raster.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash_leaflet as dl

__all__ = [
    "CATEGORY_COLORS",
    "CLOSED_STATUSES",
    "SUPERCLUSTER",
    "event_hideout",
    "events_layer",
    "live_js",
]

#: Marker fill per event category (colour-blind-friendly-ish, distinct on a light map).
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
#: Statuses drawn faded (the event's workflow is over).
CLOSED_STATUSES = ("resolved", "verified", "closed", "rejected")
#: supercluster options: cluster radius in px, no clustering past zoom 16.
SUPERCLUSTER: dict[str, Any] = {"radius": 50, "maxZoom": 16}


def live_js(name: str) -> dict[str, str]:
    """A reference to ``window.gridcmdLive.<name>`` (dashboard/assets/live.js)."""
    return {"variable": f"gridcmdLive.{name}"}


def event_hideout(
    *,
    category_names: Mapping[str, str],
    status_names: Mapping[str, str],
    texts: Mapping[str, str],
    heat: bool = False,
) -> dict[str, Any]:
    """The events layer's ``hideout``: colours, closed statuses, translated category and
    status names, tooltip texts (``overdue``) and the heat flag."""
    return {
        "kind": "events",
        "colors": CATEGORY_COLORS,
        "closed": list(CLOSED_STATUSES),
        "categoryNames": dict(category_names),
        "statusNames": dict(status_names),
        "texts": dict(texts),
        "heat": bool(heat),
    }


def empty_collection() -> dict[str, Any]:
    """An empty FeatureCollection (the layer's data before the first load)."""
    return {"type": "FeatureCollection", "features": []}


def events_layer(
    data: Mapping[str, Any] | None, hideout: Mapping[str, Any], *, id: str | dict
) -> dl.GeoJSON:
    """Clustered event points (``geodata.live.events_geojson`` output) with escaped
    tooltips; a click sets ``clickData`` (the details panel)."""
    return dl.GeoJSON(
        id=id,
        data=dict(data) if data is not None else empty_collection(),
        cluster=True,
        zoomToBoundsOnClick=True,
        superClusterOptions=SUPERCLUSTER,
        clusterToLayer=live_js("clusterMarker"),
        hideout=dict(hideout),
        pointToLayer=live_js("eventMarker"),
        onEachFeature=live_js("bindEvent"),
        bubblingMouseEvents=False,
    )
