"""Cameras on the map: rows → a GeoJSON payload, and the clustered overlay that draws it.

Pure builders (no database, no request, no translations: callers pass labels in). Features
carry only ``id``, ``name`` and ``kind`` — never the stream URL, which the player panel
re-reads server side, scoped, from the id. Names are plain data here; the JS that renders
them (``dashboard/assets/cameras.js``, namespace ``window.gridcmdCameras``) escapes them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import dash_leaflet as dl

__all__ = [
    "CLUSTER_OPTIONS",
    "COORD_DIGITS",
    "camera_layer",
    "camera_overlay",
    "cameras_geojson",
    "cameras_geojson_text",
    "js",
]

#: 6 decimals ≈ 0.1 m: more than a camera position needs, fewer bytes than full floats.
COORD_DIGITS = 6
#: supercluster: cluster radius in pixels; no clusters from zoom 16 (street level) on.
CLUSTER_OPTIONS: dict[str, Any] = {"radius": 50, "maxZoom": 15}


def js(name: str) -> dict[str, str]:
    """A reference to ``window.gridcmdCameras.<name>`` (dashboard/assets/cameras.js)."""
    return {"variable": f"gridcmdCameras.{name}"}


def cameras_geojson(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of camera rows (``{id, name, kind, lon, lat, ...}``, lon/lat
    WGS-84 degrees): one Point per camera with properties ``id, name, kind`` only."""
    features = [
        {
            "type": "Feature",
            "id": int(r["id"]),
            "geometry": {
                "type": "Point",
                "coordinates": [
                    round(float(r["lon"]), COORD_DIGITS),
                    round(float(r["lat"]), COORD_DIGITS),
                ],
            },
            "properties": {"id": int(r["id"]), "name": str(r["name"]), "kind": str(r["kind"])},
        }
        for r in rows
    ]
    return {"type": "FeatureCollection", "features": features}


def cameras_geojson_text(rows: Iterable[Mapping[str, Any]]) -> str:
    """:func:`cameras_geojson` serialised compactly (UTF-8 text, non-ASCII kept)."""
    return json.dumps(cameras_geojson(rows), ensure_ascii=False, separators=(",", ":"))


def camera_layer(url: str | None, *, id: str | dict) -> dl.GeoJSON:
    """The cameras fetched from ``url`` (``GET /geo/cameras.geojson``), clustered; each camera
    a camera icon (``gridcmdCameras.pointToLayer``), each cluster a count bubble
    (``gridcmdCameras.clusterToLayer``). A click on a camera sets the layer's ``clickData``
    (the feature) for the player callback; a click on a cluster zooms into it."""
    return dl.GeoJSON(
        id=id,
        url=url,
        cluster=True,
        superClusterOptions=dict(CLUSTER_OPTIONS),
        zoomToBoundsOnClick=True,
        pointToLayer=js("pointToLayer"),
        clusterToLayer=js("clusterToLayer"),
        bubblingMouseEvents=False,
    )


def camera_overlay(layer: Any, *, name: str, checked: bool = False) -> dl.Overlay:
    """``layer`` as an overlay of the layers control, off by default."""
    return dl.Overlay(layer, name=name, checked=checked)
