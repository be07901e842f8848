"""Bulk selection and actions on events: a shape drawn on the map selects the
open events inside it; a dispatcher assigns or escalates them together.

* :func:`selection_shape` turns the drawing (a GeoJSON FeatureCollection of the map's draw
  control: rectangles and polygons) into one validated geometry (their union) — pure, no
  database;
* :func:`events_in_shape` lists the scope's events intersecting the shape (``ST_Intersects``
  on the GiST index of ``event.location``), :func:`workers_in_shape` the active workers of the
  cells the shape touches, :func:`selection` both (the bulk panel's one call);
* :func:`bulk_perform` applies one workflow action (:func:`geodata.workflow.perform`) to each
  event in its **own savepoint**, so one refused event (403/404/409...) keeps the others'
  changes. The caller commits.

All coordinates are WGS-84 (EPSG:4326) longitude/latitude degrees.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

from shapely.geometry import mapping, shape
from shapely.ops import unary_union
from shapely.validation import explain_validity
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.cells import check_scope_path
from geodata.dispatch import recommend_workers
from geodata.workflow import NO_EVENT, TRANSITIONS, Actor, WorkflowError, load_event, perform
from gridcmd.vocab import OPEN_STATUSES

__all__ = [
    "BULK_ACTIONS",
    "MAX_BULK",
    "MAX_SPAN_DEG",
    "MAX_VERTICES",
    "bulk_perform",
    "events_in_shape",
    "selection",
    "selection_shape",
    "validate_shape",
    "workers_in_shape",
]

#: Widest extent of a selection shape, degrees of longitude or latitude (Dali is ~2.2° wide).
MAX_SPAN_DEG = 3.0
#: Most vertices of a selection shape.
MAX_VERTICES = 2_000
#: Most events one bulk action may touch.
MAX_BULK = 500
#: Actions :func:`bulk_perform` accepts: workflow actions, plus ``assign`` (``dispatch`` for a
#: case not yet dispatched, ``reassign`` for one dispatched or in progress).
BULK_ACTIONS = ("assign", "dispatch", "reassign", "escalate", "supervise")


def _vertices(geom: Any) -> int:
    polys = getattr(geom, "geoms", [geom])
    return sum(len(p.exterior.coords) + sum(len(r.coords) for r in p.interiors) for p in polys)


def validate_shape(geometry: Any) -> Any:
    """A GeoJSON geometry (dict or JSON text) → a valid shapely (Multi)Polygon, or ValueError
    with a message saying what is wrong: not a Polygon/MultiPolygon, invalid (e.g. a
    self-intersecting ring), outside longitude −180…180 / latitude −90…90, wider or taller
    than :data:`MAX_SPAN_DEG` degrees, more than :data:`MAX_VERTICES` vertices, empty."""
    if isinstance(geometry, str):
        if len(geometry) > 1_000_000:
            raise ValueError("the shape is too large")
        try:
            geometry = json.loads(geometry)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the shape is not valid JSON ({exc.msg})") from None
    if not isinstance(geometry, Mapping):
        raise ValueError("the shape must be a GeoJSON geometry object")
    kind = geometry.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise ValueError(f"the shape must be a Polygon or MultiPolygon, not {kind!r}")
    try:
        geom = shape(geometry)
    except (TypeError, ValueError, AttributeError, IndexError, KeyError) as exc:
        raise ValueError(f"the shape's coordinates are malformed ({exc})") from None
    if geom.is_empty:
        raise ValueError("the shape is empty")
    if _vertices(geom) > MAX_VERTICES:
        raise ValueError(f"the shape has more than {MAX_VERTICES} vertices")
    x0, y0, x1, y1 = geom.bounds
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise ValueError("the shape lies outside longitude -180..180 / latitude -90..90")
    if x1 - x0 > MAX_SPAN_DEG or y1 - y0 > MAX_SPAN_DEG:
        raise ValueError(f"the shape is too large (more than {MAX_SPAN_DEG:g}° across)")
    if not geom.is_valid:
        raise ValueError(f"the shape is not valid: {explain_validity(geom)}")
    if geom.area <= 0:
        raise ValueError("the shape has no area")
    return geom


def selection_shape(drawing: Any) -> dict[str, Any] | None:
    """The draw control's ``geojson`` (a FeatureCollection of Polygon features) → the union
    of its shapes as a GeoJSON geometry; None when nothing is drawn. Each shape is checked by
    :func:`validate_shape` (ValueError); non-polygon features are refused too."""
    if drawing is None:
        return None
    if not isinstance(drawing, Mapping) or not isinstance(drawing.get("features"), list):
        raise ValueError("the drawing must be a GeoJSON FeatureCollection")
    feats = drawing["features"]
    if len(feats) > 50:
        raise ValueError("too many shapes drawn (at most 50)")
    shapes = []
    for f in feats:
        geom = f.get("geometry") if isinstance(f, Mapping) else None
        shapes.append(validate_shape(geom))
    if not shapes:
        return None
    union = shapes[0] if len(shapes) == 1 else unary_union(shapes)
    out = mapping(validate_shape(mapping(union)))
    return json.loads(json.dumps(out))  # tuples → lists (plain JSON)


_SHAPE = "ST_SetSRID(ST_GeomFromGeoJSON(:shape), 4326)"

_EVENTS_IN_SHAPE = f"""
    SELECT e.id, e.uuid::text AS uuid, e.title, e.category, e.status, e.priority, e.severity,
           e.version, e.due_at, e.supervised_at, e.owner_level, e.assignee_id,
           w.name AS assignee_name, c.code AS cell_code, c.name AS cell_name,
           (e.status = ANY(:open) AND e.due_at < :now) AS overdue,
           ST_X(e.location) AS lon, ST_Y(e.location) AS lat, e.synthetic
    FROM event AS e
    JOIN grid_cell AS c ON c.id = e.cell_id
    LEFT JOIN grid_worker AS w ON w.id = e.assignee_id
    WHERE ST_Intersects(e.location, {_SHAPE}) AND c.path <@ CAST(:scope AS ltree)
"""  # noqa: S608 - constant SQL; every value is bound


def events_in_shape(
    conn: Connection,
    geometry_geojson: Any,
    *,
    scope_path: str,
    open_only: bool = True,
    limit: int = 500,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Events of the scope whose location intersects the shape (a GeoJSON Polygon or
    MultiPolygon, lon/lat; validated by :func:`validate_shape`), oldest due first, at most
    ``limit``. ``open_only``: only cases still open (``OPEN_STATUSES``). Each row: id, uuid,
    title, category, status, priority, severity, version, due_at, supervised_at,
    owner_level, assignee, cell code/name, ``overdue`` (at ``now``; default the database
    clock), lon/lat, synthetic."""
    scope = check_scope_path(scope_path)
    geom = validate_shape(geometry_geojson)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 5000:
        raise ValueError("limit must be between 1 and 5000")
    sql = _EVENTS_IN_SHAPE + (" AND e.status = ANY(:open)" if open_only else "")
    sql += " ORDER BY e.due_at NULLS LAST, e.id LIMIT :limit"
    rows = conn.execute(
        text(sql),
        {"shape": json.dumps(mapping(geom)), "scope": scope, "open": list(OPEN_STATUSES),
         "now": now or conn.execute(text("SELECT now()")).scalar_one(), "limit": limit},
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def workers_in_shape(
    conn: Connection, geometry_geojson: Any, *, scope_path: str, limit: int = 200
) -> list[dict[str, Any]]:
    """Active workers of the scope assigned to a cell the shape touches (the people of the
    selected area), on duty first, then by name: ``id``, ``employee_no``, ``name``,
    ``duty_status``, ``cell_code``, ``cell_name``. No phone numbers."""
    scope = check_scope_path(scope_path)
    geom = validate_shape(geometry_geojson)
    rows = conn.execute(
        text(
            f"""
            SELECT w.id, w.employee_no, w.name, w.duty_status, c.code AS cell_code,
                   c.name AS cell_name
            FROM grid_worker AS w JOIN grid_cell AS c ON c.id = w.cell_id
            WHERE w.active AND c.path <@ CAST(:scope AS ltree)
              AND ST_Intersects(c.geom, {_SHAPE})
            ORDER BY (w.duty_status = 'on_duty') DESC, w.name, w.id LIMIT :limit
            """  # noqa: S608 - constant SQL; every value is bound
        ),
        {"shape": json.dumps(mapping(geom)), "scope": scope, "limit": limit},
    ).mappings()
    return [dict(r) for r in rows]


def selection(
    conn: Connection,
    geometry_geojson: Any,
    *,
    scope_path: str,
    limit: int = MAX_BULK,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The bulk panel's data for a shape: ``events`` (open, :func:`events_in_shape`),
    ``by_category`` (category → count), ``workers`` (:func:`workers_in_shape`) and
    ``truncated`` (more than ``limit`` events)."""  # fmt: skip
    events = events_in_shape(conn, geometry_geojson, scope_path=scope_path, limit=limit + 1,
                             now=now)  # fmt: skip
    truncated = len(events) > limit
    events = events[:limit]
    by_category: dict[str, int] = {}
    for e in events:
        by_category[e["category"]] = by_category.get(e["category"], 0) + 1
    workers = workers_in_shape(conn, geometry_geojson, scope_path=scope_path)
    return {"events": events, "by_category": by_category, "workers": workers,
            "truncated": truncated}  # fmt: skip


def _ids(event_ids: Iterable[Any]) -> list[int]:
    out: list[int] = []
    seen: set[int] = set()
    for i in event_ids:
        if isinstance(i, bool) or not isinstance(i, int) or not 1 <= i < 2**63:
            raise ValueError(f"event ids must be positive integers, not {i!r}")
        if i not in seen:
            seen.add(i)
            out.append(i)
    if len(out) > MAX_BULK:
        raise ValueError(f"at most {MAX_BULK} events at once")
    return out


def _failure(event_id: int, exc: WorkflowError) -> dict[str, Any]:
    return {"id": event_id, "ok": False, "code": exc.status, "error": exc.error,
            "detail": exc.detail}  # fmt: skip


def bulk_perform(
    conn: Connection,
    event_ids: Iterable[int],
    action: str,
    actor: Actor,
    *,
    recommend: bool = False,
    stale_after_s: float = 900,
    **params: Any,
) -> list[dict[str, Any]]:
    """Apply ``action`` to every event of ``event_ids`` (duplicates once, at most
    :data:`MAX_BULK`) as ``actor``, each in its own SAVEPOINT: a refused event rolls back
    only itself. ``params`` go to :func:`geodata.workflow.perform` (``note``, ``worker_id``,
    ``priority``, ``now``...). ``action`` ``assign`` is ``dispatch`` or ``reassign`` by the
    event's status; ``recommend=True`` (assign/dispatch/reassign) assigns each event to its
    first recommended worker (:func:`geodata.dispatch.recommend_workers`, rank 1) instead of
    ``worker_id``.

    Returns one dict per event, in order: ``{"id", "ok": True, "action", "status",
    "version", "assignee_id"}`` or ``{"id", "ok": False, "code" (HTTP status), "error",
    "detail"}``. ValueError for an unknown action or bad ids; the caller commits."""
    if action not in BULK_ACTIONS:
        raise ValueError(f"unknown bulk action {action!r}")
    if recommend and action not in ("assign", "dispatch", "reassign"):
        raise ValueError("recommend applies to assigning only")
    ids_ = _ids(event_ids)
    results: list[dict[str, Any]] = []
    for event_id in ids_:
        try:
            with conn.begin_nested():
                row = load_event(conn, event_id, actor)
                act = action
                if action == "assign":
                    reassign = row.status in TRANSITIONS["reassign"].sources
                    act = "reassign" if reassign else "dispatch"
                kw = dict(params)
                if recommend:
                    kw["worker_id"] = _recommended(conn, event_id, actor, stale_after_s)
                    kw.pop("department_id", None)
                st = perform(conn, event_id, act, actor, **kw)
        except WorkflowError as exc:
            results.append(_failure(event_id, exc))
            continue
        results.append({"id": event_id, "ok": True, "action": act, "status": st["status"],
                        "version": st["version"], "assignee_id": st["assignee_id"]})  # fmt: skip
    return results


def _recommended(conn: Connection, event_id: int, actor: Actor, stale_after_s: float) -> int:
    if actor.scope_path is None:
        raise WorkflowError(403, "forbidden", "recommendations need an account's jurisdiction")
    try:
        ranked = recommend_workers(conn, event_id, scope_path=actor.scope_path, limit=1,
                                   stale_after_s=stale_after_s)  # fmt: skip
    except LookupError:
        raise WorkflowError(404, "not_found", NO_EVENT) from None
    if not ranked:
        raise WorkflowError(422, "invalid", "no worker to recommend for this event", "worker_id")
    return int(ranked[0]["worker_id"])
