"""Spatial attribution: which six-level chain of cells contains a point.

Used by event ingest and check-ins. A point is attributed to the L6 micro-grid that contains it
(GiST partial index on L6); its ancestors come from the materialised path (the path's labels are
the ancestors' codes), so one indexed lookup gives the whole chain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

#: Loose bounds of China (WGS-84); anything outside is not a plausible field position.
CHINA_BOUNDS = (73.0, 3.0, 136.0, 54.0)


class CoordinateError(ValueError):
    """Coordinates that are not a usable WGS-84 position (says which and why)."""


@dataclass(frozen=True)
class CellRef:
    id: int
    code: str
    level: int
    name: str


@dataclass(frozen=True)
class Attribution:
    """The chain from the prefecture (L1) down to the micro-grid (L6) containing the point."""

    lon: float
    lat: float
    chain: tuple[CellRef, ...]

    @property
    def cell(self) -> CellRef:
        """The deepest cell (normally L6)."""
        return self.chain[-1]

    def at(self, level: int) -> CellRef | None:
        return next((c for c in self.chain if c.level == level), None)


def validate_lonlat(lon: float, lat: float) -> tuple[float, float]:
    """Check a WGS-84 lon/lat pair; raise :class:`CoordinateError` naming the problem."""
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        raise CoordinateError("lon and lat must be numbers") from None
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise CoordinateError("lon and lat must be finite numbers")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        if -90 <= lon <= 90 and -180 <= lat <= 180:
            raise CoordinateError(f"lat {lat} is out of range: are lon and lat swapped?")
        raise CoordinateError(f"({lon}, {lat}) is outside the valid lon/lat range")
    return lon, lat


_POINT_SQL = text(
    """
    WITH hit AS (
        SELECT c.path
        FROM grid_cell c
        WHERE c.level = 6
          AND ST_Intersects(c.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
        ORDER BY c.code
        LIMIT 1
    )
    SELECT a.id, a.code, a.level, a.name
    FROM hit
    JOIN grid_cell a ON a.code = ANY (string_to_array(ltree2text(hit.path), '.'))
    ORDER BY a.level
    """
)

_BATCH_SQL = text(
    """
    SELECT p.i, h.code
    FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[]))
         WITH ORDINALITY AS p(lon, lat, i)
    LEFT JOIN LATERAL (
        SELECT c.code
        FROM grid_cell c
        WHERE c.level = 6
          AND ST_Intersects(c.geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326))
        ORDER BY c.code
        LIMIT 1
    ) h ON true
    ORDER BY p.i
    """
)


def attribute_point(conn: Connection, lon: float, lat: float) -> Attribution | None:
    """The six-level chain containing (lon, lat), or None when outside the prefecture.

    A point exactly on a shared boundary goes to the cell with the smaller code (deterministic).
    Raises :class:`CoordinateError` for unusable coordinates.
    """
    lon, lat = validate_lonlat(lon, lat)
    rows = conn.execute(_POINT_SQL, {"lon": lon, "lat": lat}).all()
    if not rows:
        return None
    return Attribution(lon, lat, tuple(CellRef(r.id, r.code, r.level, r.name) for r in rows))


def attribute_points(conn: Connection, lons, lats) -> list[str | None]:
    """L6 code for each point (None where outside), in one round trip; ancestors are the
    code's path. Raises :class:`CoordinateError` naming the first bad point."""
    lons, lats = list(lons), list(lats)
    if len(lons) != len(lats):
        raise CoordinateError("lons and lats differ in length")
    for i, (x, y) in enumerate(zip(lons, lats, strict=True)):
        try:
            validate_lonlat(x, y)
        except CoordinateError as exc:
            raise CoordinateError(f"point {i}: {exc}") from None
    rows = conn.execute(_BATCH_SQL, {"lons": lons, "lats": lats}).all()
    return [r.code for r in rows]
