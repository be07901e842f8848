"""Duplicate suggestion (issue 6 §3): open events of the same category near in space and time.

When an event is opened in the dashboard (or reported), :func:`find_duplicates` lists the other
open events of its category within ``radius_m`` metres (geodesic, on the GiST index through a
degree-box prefilter: a metre is at most 1/110,574 degree of latitude and 1/(110,574 cos φ)
of longitude, φ taken one degree poleward for margin) reported within ``window_h`` hours of
it, nearest first. A dispatcher merges a duplicate into its original with the workflow's
``merge`` action (:func:`geodata.workflow.perform`): the duplicate closes with a link to the
original and its reporter follows the original.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.cells import check_scope_path
from geodata.stats import OPEN_STATUSES

__all__ = ["find_duplicates"]

_SQL = text(
    """
    WITH me AS (
        SELECT e.id, e.category, e.location, e.reported_at
        FROM event AS e JOIN grid_cell AS c ON c.id = e.cell_id
        WHERE e.id = :id AND c.path <@ CAST(:scope AS ltree)
    )
    SELECT o.id, o.uuid::text AS uuid, o.title, o.category, o.status, o.reported_at,
           o.merged_into_id, c.code AS cell_code, c.name AS cell_name,
           ST_X(o.location) AS lon, ST_Y(o.location) AS lat,
           ST_Distance(o.location::geography, me.location::geography) AS distance_m,
           abs(extract(epoch FROM o.reported_at - me.reported_at)) / 3600.0 AS hours_apart
    FROM me
    JOIN event AS o ON o.category = me.category AND o.id <> me.id
         AND o.status = ANY(:open) AND o.merged_into_id IS NULL
         AND o.location && ST_Expand(me.location,
             :radius / (110574.0 * cos(radians(least(abs(ST_Y(me.location)) + 1, 89)))))
         AND o.reported_at BETWEEN me.reported_at - make_interval(secs => :win)
                               AND me.reported_at + make_interval(secs => :win)
         AND ST_DWithin(o.location::geography, me.location::geography, :radius)
    JOIN grid_cell AS c ON c.id = o.cell_id AND c.path <@ CAST(:scope AS ltree)
    ORDER BY distance_m, o.id
    LIMIT :limit
    """
)


def find_duplicates(
    conn: Connection,
    event_id: int,
    *,
    scope_path: str,
    radius_m: float,
    window_h: float,
    limit: int = 20,
) -> list[dict[str, Any]]:
    """Possible duplicates of event ``event_id`` in the scope (empty when the event is unknown
    or outside it): open, same category, not merged, within ``radius_m`` metres (geodesic) and
    ``window_h`` hours. Each: id, uuid, title, category, status, reported_at, cell code/name,
    lon/lat (WGS-84), ``distance_m``, ``hours_apart``; nearest first."""
    check_scope_path(scope_path)
    if not (radius_m > 0 and window_h > 0):
        raise ValueError("radius_m and window_h must be positive")
    rows = conn.execute(
        _SQL,
        {"id": event_id, "scope": scope_path, "open": list(OPEN_STATUSES),
         "win": window_h * 3600.0, "radius": radius_m, "limit": limit},
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]
