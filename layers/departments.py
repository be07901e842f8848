"""Departments on the map: rows → a GeoJSON payload, and the overlay that draws it.

Pure builders (no database, no request, no translations: callers pass the kind labels in).
Features have the cameras' shape (:func:`layers.cameras.cameras_geojson`): a Point with
properties ``id``, ``name`` and ``kind`` only. Names are plain data here; the JS that renders
them (``dashboard/assets/departments.js``, namespace ``window.gridcmdDepartments``) escapes
them and draws one marker per kind (colour and glyph by kind, ``gc-dept-<kind>`` classes).
A jurisdiction holds tens to a few hundred units, so the layer is not clustered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import dash_leaflet as dl

from gridcmd.vocab import DEPARTMENT_KINDS
from layers.cameras import cameras_geojson

__all__ = [
    "department_layer",
    "department_overlay",
    "departments_geojson",
    "departments_geojson_text",
    "departments_hideout",
    "js",
]


def js(name: str) -> dict[str, str]:
    """A reference to ``window.gridcmdDepartments.<name>`` (dashboard/assets/departments.js)."""
    return {"variable": f"gridcmdDepartments.{name}"}


def departments_geojson(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of department rows (``{id, name, kind, lon, lat, ...}``,
    lon/lat WGS-84 degrees): one Point per department with properties ``id, name, kind``
    only (no phone, no categories)."""
    return cameras_geojson(rows)


def departments_geojson_text(rows: Iterable[Mapping[str, Any]]) -> str:
    """:func:`departments_geojson` serialised compactly (UTF-8 text, non-ASCII kept)."""
    return json.dumps(departments_geojson(rows), ensure_ascii=False, separators=(",", ":"))


def departments_hideout(kind_labels: Mapping[str, str]) -> dict[str, Any]:
    """The layer's ``hideout``: ``{"kinds": {kind: label}}`` for every department kind (the
    tooltip shows "name · label"; an unknown kind falls back to its key)."""
    return {"kinds": {k: str(kind_labels.get(k, k)) for k in DEPARTMENT_KINDS}}


def department_layer(url: str | None, *, id: str | dict, hideout: Mapping[str, Any]) -> dl.GeoJSON:
    """The departments fetched from ``url`` (``GET /geo/departments.geojson``), each a marker
    coloured by kind (``gridcmdDepartments.pointToLayer``) with an escaped tooltip."""
    return dl.GeoJSON(
        id=id,
        url=url,
        hideout=dict(hideout),
        pointToLayer=js("pointToLayer"),
        bubblingMouseEvents=False,
    )


def department_overlay(layer: Any, *, name: str, checked: bool = False) -> dl.Overlay:
    """``layer`` as an overlay of the layers control, off by default."""
    return dl.Overlay(layer, name=name, checked=checked)
