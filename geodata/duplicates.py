"""Duplicate suggestion: open events of the same category near in space and time.

One definition, two callers: :func:`find_duplicates` serves the dashboard's case panel (an
event opened by a commander, in the account's jurisdiction) and the answer to
``POST /api/v1/events`` (the report a grid worker just sent, in the worker's county; shaped for
the phone by :func:`phone_duplicate`). It lists the other open events (status in
:data:`geodata.stats.OPEN_STATUSES`, not merged) of the event's category within ``radius_m``
metres (geodesic, on the GiST index through a degree-box prefilter: a metre is at most
1/110,574 degree of latitude and 1/(110,574 cos φ) of longitude, φ taken one degree poleward
for margin) reported within ``window_h`` hours of it, nearest first. Both callers take the
radius and window from the settings ``GRIDCMD_DUPLICATE_RADIUS_M`` / ``_WINDOW_H``.

A dispatcher merges a duplicate into its original with the workflow's ``merge`` action
(:func:`geodata.workflow.perform`): the duplicate closes with a link to the original and its
reporter follows the original.
"""

from __future__ import annotations

import uuid as uuid_mod
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.cells import check_scope_path
from gridcmd.vocab import OPEN_STATUSES

__all__ = ["PHONE_FIELDS", "WORKER_SCOPE_LEVEL", "find_duplicates", "phone_duplicate"]

#: A grid worker's duplicates are looked up in this level's ancestor of their assigned cell
#: (2: the county, the jurisdiction of the dispatchers who would merge them): derived from the
#: token, never from the reported point.
WORKER_SCOPE_LEVEL = 2
#: What the phone receives of another event: no title, description or person (free text may
#: carry personal data, and a worker may read other people's reports only in their grid).
PHONE_FIELDS = ("id", "uuid", "category", "subcategory", "status", "distance_m",
                "reported_at", "own")  # fmt: skip

# ``{key}`` picks the reference event (by id or by uuid, both unique indexes) and ``{scope}``
# is the ltree the reference and the suggestions must lie under: an account's scope path, or
# the county of a worker (an InitPlan, evaluated once).
_TEMPLATE = """
    WITH me AS (
        SELECT e.id, e.category, e.location, e.reported_at
        FROM event AS e JOIN grid_cell AS c ON c.id = e.cell_id
        WHERE {key} AND c.path <@ {scope}
    )
    SELECT o.id, o.uuid::text AS uuid, o.title, o.category, o.subcategory, o.status,
           o.reported_at, o.merged_into_id, c.code AS cell_code, c.name AS cell_name,
           ST_X(o.location) AS lon, ST_Y(o.location) AS lat,
           ST_Distance(o.location::geography, me.location::geography) AS distance_m,
           abs(extract(epoch FROM o.reported_at - me.reported_at)) / 3600.0 AS hours_apart,
           (o.reporter_id = CAST(:worker AS bigint)) IS TRUE AS own
    FROM me
    JOIN event AS o ON o.category = me.category AND o.id <> me.id
         AND o.status = ANY(:open) AND o.merged_into_id IS NULL
         AND o.location && ST_Expand(me.location,
             :radius / (110574.0 * cos(radians(least(abs(ST_Y(me.location)) + 1, 89)))))
         AND o.reported_at BETWEEN me.reported_at - make_interval(secs => :win)
                               AND me.reported_at + make_interval(secs => :win)
         AND ST_DWithin(o.location::geography, me.location::geography, :radius)
    JOIN grid_cell AS c ON c.id = o.cell_id AND c.path <@ {scope}
    ORDER BY distance_m, o.id
    LIMIT :limit
"""
_ACCOUNT_SCOPE = "CAST(:scope AS ltree)"
_WORKER_SCOPE = (
    "(SELECT subpath(wc.path, 0, LEAST(nlevel(wc.path), :level)) FROM grid_worker AS w"
    " JOIN grid_cell AS wc ON wc.id = w.cell_id WHERE w.id = CAST(:worker AS bigint))"
)
_SQL = {
    (by, who): text(_TEMPLATE.format(
        key="e.id = CAST(:event AS bigint)" if by == "id" else "e.uuid = CAST(:event AS uuid)",
        scope=_ACCOUNT_SCOPE if who == "account" else _WORKER_SCOPE,
    ))
    for by in ("id", "uuid") for who in ("account", "worker")
}  # fmt: skip


def find_duplicates(
    conn: Connection,
    event: int | uuid_mod.UUID,
    *,
    scope_path: str | None = None,
    worker_id: int | None = None,
    radius_m: float,
    window_h: float,
    limit: int = 20,
) -> list[dict[str, Any]]:
    """Possible duplicates of ``event`` (its id, or its uuid) in a scope — empty when the event
    is unknown or outside it: open, same category, not merged, within ``radius_m`` metres
    (geodesic) and ``window_h`` hours, the event itself excluded; nearest first, at most
    ``limit``. One query.

    The scope is either ``scope_path`` (an account's jurisdiction, the case panel) or, with
    ``worker_id`` alone, that worker's county (:data:`WORKER_SCOPE_LEVEL`, the phone's
    report); ``worker_id`` also sets ``own``. Each row: id, uuid, title, category,
    subcategory, status, reported_at, merged_into_id, cell code/name, lon/lat (WGS-84),
    ``distance_m``, ``hours_apart``, ``own`` (reported by ``worker_id``). What may reach the
    phone is :func:`phone_duplicate` of a row."""
    if scope_path is not None:
        check_scope_path(scope_path)
    elif worker_id is None:
        raise ValueError("scope_path or worker_id is required")
    if not (radius_m > 0 and window_h > 0):
        raise ValueError("radius_m and window_h must be positive")
    by = "uuid" if isinstance(event, uuid_mod.UUID) else "id"
    sql = _SQL[by, "account" if scope_path is not None else "worker"]
    rows = conn.execute(
        sql,
        {"event": event, "scope": scope_path, "worker": worker_id, "level": WORKER_SCOPE_LEVEL,
         "open": list(OPEN_STATUSES), "win": window_h * 3600.0, "radius": radius_m,
         "limit": limit},
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def phone_duplicate(row: dict[str, Any]) -> dict[str, Any]:
    """A :func:`find_duplicates` row as the reporting phone sees it: only
    :data:`PHONE_FIELDS` (``subcategory`` only of the caller's own reports, else None), the
    distance rounded to whole metres, the time as ISO 8601."""
    out = {k: row[k] for k in PHONE_FIELDS}
    if not row["own"]:  # free text (≤ 64 characters): only of the caller's own reports
        out["subcategory"] = None
    out["distance_m"] = round(row["distance_m"])
    out["reported_at"] = row["reported_at"].isoformat()
    return out
