"""The topology report of a grid import: how the file's cells tile their parents. Pure.

Findings, each a polygon with its area (m², on the WGS-84 ellipsoid: ``pyproj.Geod.
geometry_area_perimeter`` of the part with its edges densified to 0.001°, so that they run
straight in lon/lat as stored) and a location (a point on its surface, lon/lat):

* ``overlap`` — the part two cells of the file share (siblings, or cells of different parents);
* ``gap`` — a part of a parent that none of its cells in the file covers;
* ``outside_parent`` — a part of a cell that lies outside its parent.

A finding is also a **sliver** when it is thin: Polsby-Popper compactness 4πA/P² below
:data:`SLIVER_COMPACTNESS` (a 1 × 30 strip), the typical digitising mismatch along a shared
edge. Parts smaller than :data:`MIN_AREA_M2` are coordinate noise and only counted.

Per parent a summary in the terms of ``gridcmd check`` (:mod:`geodata.checks`): the share of
the children's area outside the parent, overlapping, and how far their area sum is from the
parent's; ``fails_check`` says whether ``gridcmd check`` would fail on it after the import.
Findings are warnings: the import goes ahead (``--strict`` refuses when a parent fails).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import shapely
from pyproj import Geod

from geodata.checks import COVER_TOL, OUTSIDE_TOL, OVERLAP_TOL

__all__ = [
    "MIN_AREA_M2",
    "SLIVER_COMPACTNESS",
    "Finding",
    "ParentSummary",
    "TopologyReport",
    "findings_of",
    "topology_report",
]

#: Parts smaller than this (m²) are ignored as coordinate noise.
MIN_AREA_M2 = 1.0
#: A part less compact than this (4πA/P²) is a sliver.
SLIVER_COMPACTNESS = 0.1
_GEOD = Geod(ellps="WGS84")
#: Longest edge (degrees, ~100 m) when measuring: a geodesic that short is straight in lon/lat.
_DENSIFY_DEG = 0.001


@dataclass(frozen=True)
class Finding:
    """One gap, overlap or part outside the parent: ``codes`` are the cells involved (for a
    gap, none: ``parent`` is the cell with the hole), ``area_m2`` its ellipsoidal area,
    ``lon``/``lat`` a point on it, ``geom`` the polygon (EPSG:4326)."""

    kind: str
    codes: tuple[str, ...]
    parent: str | None
    area_m2: float
    lon: float
    lat: float
    sliver: bool
    geom: object = field(repr=False, compare=False)

    def describe(self) -> str:
        """One line: kind, cells, area, location."""
        who = " / ".join(self.codes) if self.codes else f"in {self.parent}"
        kind = self.kind + (" (sliver)" if self.sliver else "")
        return f"{kind:<24} {who:<40} {self.area_m2:>14,.1f} m²  at {self.lon:.6f}, {self.lat:.6f}"


@dataclass(frozen=True)
class ParentSummary:
    """A parent's children in the terms of ``gridcmd check`` (shares, 0–1)."""

    parent: str
    children: int
    outside: float
    overlap: float
    cover: float

    @property
    def fails_check(self) -> bool:
        return self.outside > OUTSIDE_TOL or self.overlap > OVERLAP_TOL or self.cover > COVER_TOL


@dataclass
class TopologyReport:
    """Findings, per-parent summaries and the number of noise parts ignored."""

    findings: list[Finding]
    parents: list[ParentSummary]
    ignored: int = 0

    @property
    def failing(self) -> list[ParentSummary]:
        return [p for p in self.parents if p.fails_check]

    def geojson(self) -> dict:
        """The findings as a GeoJSON FeatureCollection (EPSG:4326, 7 decimals): properties
        ``kind``, ``codes``, ``parent``, ``area_m2``, ``lon``, ``lat``, ``sliver``."""
        feats = []
        for f in self.findings:
            geom = shapely.set_precision(f.geom, 1e-7)
            feats.append(
                {
                    "type": "Feature",
                    "geometry": json.loads(shapely.to_geojson(geom)),
                    "properties": {
                        "kind": f.kind,
                        "codes": list(f.codes),
                        "parent": f.parent,
                        "area_m2": round(f.area_m2, 2),
                        "lon": round(f.lon, 7),
                        "lat": round(f.lat, 7),
                        "sliver": f.sliver,
                    },
                }
            )
        return {"type": "FeatureCollection", "features": feats}


def topology_report(
    codes: list[str],
    parent_codes: list[str | None],
    geoms: list,
    parents: dict[str, object],
) -> TopologyReport:
    """The report for the file's cells (``codes``, ``parent_codes``, EPSG:4326 ``geoms``,
    aligned) under ``parents`` (code → geometry of every parent they name)."""
    arr = np.array(geoms, dtype=object)
    findings: list[Finding] = []
    ignored = [0]

    def add(kind: str, who: tuple[str, ...], parent: str | None, geom) -> None:
        found, noise = findings_of(kind, who, parent, geom)
        findings.extend(found)
        ignored[0] += noise

    # Overlaps: every pair whose interiors meet, once. Prepared predicates first (overlaps,
    # or one containing the other): neighbours that only share an edge, most of a tiling,
    # cost no intersection.
    tree = shapely.STRtree(arr)
    pairs: set[tuple[int, int]] = set()
    for predicate in ("overlaps", "contains"):
        left, right = tree.query(arr, predicate=predicate)
        pairs |= {(min(i, j), max(i, j)) for i, j in zip(left, right, strict=True) if i != j}
    for i, j in sorted(pairs):
        inter = _polygonal(shapely.intersection(arr[i], arr[j]))
        if inter.is_empty:
            continue
        same = parent_codes[i] if parent_codes[i] == parent_codes[j] else None
        add("overlap", (codes[i], codes[j]), same, inter)
    summaries: list[ParentSummary] = []
    by_parent: dict[str, list[int]] = defaultdict(list)
    for k, p in enumerate(parent_codes):
        if p is not None:
            by_parent[p].append(k)
    for parent in sorted(by_parent):
        pgeom = parents[parent]
        kids = by_parent[parent]
        outside_area = 0.0
        shapely.prepare(pgeom)
        for k in kids:
            if shapely.covers(pgeom, arr[k]):
                continue
            out = _polygonal(shapely.difference(arr[k], pgeom))
            if not out.is_empty:
                outside_area += shapely.area(out)
                add("outside_parent", (codes[k],), parent, out)
        union = shapely.union_all(arr[kids])
        gap = _polygonal(shapely.difference(pgeom, union))
        if not gap.is_empty:
            add("gap", (), parent, gap)
        union_area = shapely.area(union)
        sum_area = float(np.sum(shapely.area(arr[kids])))
        parent_area = shapely.area(pgeom)
        summaries.append(
            ParentSummary(
                parent,
                len(kids),
                outside=outside_area / union_area if union_area else 0.0,
                overlap=(sum_area - union_area) / union_area if union_area else 0.0,
                cover=abs(sum_area - parent_area) / parent_area if parent_area else 0.0,
            )
        )
    findings.sort(key=lambda f: (f.kind, -f.area_m2, f.codes, f.parent or ""))
    return TopologyReport(findings, summaries, ignored[0])


def findings_of(kind: str, codes: tuple[str, ...], parent: str | None, geom
                ) -> tuple[list[Finding], int]:  # fmt: skip
    """One finding per polygonal part of ``geom`` (EPSG:4326) of at least
    :data:`MIN_AREA_M2`, and the number of smaller parts ignored."""
    out: list[Finding] = []
    ignored = 0
    for part in shapely.get_parts(_polygonal(geom)):
        # A planar estimate first: Geod's area of a near-degenerate strip (a 1e-14° wide
        # seam between two reprojected edges) can come out at 10⁵ m² instead of ~0.
        if part.is_empty or _approx_area_m2(part) < MIN_AREA_M2:
            ignored += 1
            continue
        # Edges are straight in lon/lat (as PostGIS geometry draws them), not geodesics:
        # densified first, a long edge of a thin part would otherwise bulge by metres.
        area, perim = _GEOD.geometry_area_perimeter(shapely.segmentize(part, _DENSIFY_DEG))
        area = abs(area)
        if area < MIN_AREA_M2:
            ignored += 1
            continue
        compact = 4 * math.pi * area / perim**2 if perim > 0 else 0.0
        pt = shapely.point_on_surface(part)
        out.append(
            Finding(kind, codes, parent, area, pt.x, pt.y, compact < SLIVER_COMPACTNESS, part)
        )
    return out, ignored


def _approx_area_m2(g) -> float:
    """Planar area in m² at the polygon's latitude (a spherical estimate, ±0.5 %)."""
    lat = math.radians(shapely.point_on_surface(g).y)
    return shapely.area(g) * (math.pi * 6_371_008.8 / 180) ** 2 * math.cos(lat)


def _polygonal(g):
    """The polygonal parts of ``g`` (an empty geometry when there are none)."""
    if g is None or g.is_empty:
        return shapely.MultiPolygon()
    parts = [p for p in shapely.get_parts(g) if p.geom_type == "Polygon" and not p.is_empty]
    nested = [
        q
        for p in shapely.get_parts(g)
        if p.geom_type == "MultiPolygon"
        for q in shapely.get_parts(p)
    ]
    parts += nested
    return shapely.MultiPolygon(parts) if parts else shapely.MultiPolygon()
