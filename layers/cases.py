"""Case panel map pieces and formatting: pure, no database, no request.

* :func:`candidate_collection`: the opened event and its ranked candidate workers as GeoJSON
  (the map highlights them with rank labels; ``window.gridcmdCases.marker`` in
  dashboard/assets/cases.js draws them and escapes every text);
* :func:`candidates_layer`: the (initially empty) dl.GeoJSON that shows it;
* :func:`format_distance`, :func:`format_age`: compact distance (metres) and age (seconds).

Coordinates are WGS-84 lon/lat (EPSG:4326).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dash_leaflet as dl

__all__ = [
    "PRIORITY_COLORS",
    "candidate_collection",
    "candidates_layer",
    "cases_js",
    "empty_collection",
    "format_age",
    "format_distance",
]

#: Deadline tier → colour (badges in the panel, the ring around the opened event).
PRIORITY_COLORS: dict[str, str] = {"red": "#e03131", "yellow": "#f08c00", "blue": "#1971c2"}


def cases_js(name: str) -> dict[str, str]:
    """A reference to ``window.gridcmdCases.<name>`` (dashboard/assets/cases.js)."""
    return {"variable": f"gridcmdCases.{name}"}


def empty_collection() -> dict[str, Any]:
    """An empty FeatureCollection."""
    return {"type": "FeatureCollection", "features": []}


def _point(lon: float, lat: float, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
        "properties": props,
    }


def candidate_collection(
    event: Mapping[str, Any] | None, candidates: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The opened ``event`` (``role: event``, with its priority colour) and the
    ``candidates`` that have a position (``role: worker``: rank, name, stale) as a
    FeatureCollection; empty without an event."""
    if not event or event.get("lon") is None:
        return empty_collection()
    features = [
        _point(
            event["lon"],
            event["lat"],
            {
                "role": "event",
                "id": event["id"],
                "color": PRIORITY_COLORS.get(event.get("priority") or "", "#495057"),
            },
        )  # fmt: skip
    ]
    for c in candidates:
        if c.get("lon") is None or c.get("lat") is None:
            continue
        features.append(
            _point(
                c["lon"],
                c["lat"],
                {
                    "role": "worker",
                    "id": c["worker_id"],
                    "rank": c["rank"],
                    "name": c["name"],
                    "stale": bool(c.get("stale")),
                    "responsible": bool(c.get("responsible")),
                },
            )  # fmt: skip
        )
    return {"type": "FeatureCollection", "features": features}


def candidates_layer(*, id: str | dict) -> dl.GeoJSON:
    """The layer of :func:`candidate_collection` (empty until a case panel opens)."""
    return dl.GeoJSON(
        id=id,
        data=empty_collection(),
        pointToLayer=cases_js("marker"),
        bubblingMouseEvents=False,
    )


def format_distance(metres: float | None) -> str:
    """``850 m`` below a kilometre, else ``2.3 km`` (``12 km`` from 10 km); ``—`` unknown."""
    if metres is None:
        return "—"
    if metres < 1000:
        return f"{round(metres)} m"
    km = metres / 1000
    return f"{km:.1f} km" if km < 10 else f"{round(km)} km"


def format_age(seconds: float | None) -> str:
    """A fix age: ``45 s``, ``12 min``, ``3 h``, ``2 d``; ``—`` when there never was a fix."""
    if seconds is None:
        return "—"
    s = max(0, int(seconds))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{round(s / 60)} min"
    if s < 172_800:
        return f"{round(s / 3600)} h"
    return f"{round(s / 86_400)} d"
