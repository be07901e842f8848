"""Department units plugged into the grid: suggestions, queues, the map layer.

A *department* (table ``department``, migration 0007) is a police station (派出所), court
(人民法院), procuratorate (人民检察院), judicial office or bureau (司法所/司法局) or petition
office (信访局) with a location, a service area and the event categories it takes. An event
can be dispatched to one (``event.department_id``; the transition itself is
``geodata.workflow``'s); department staff sign in with the ``department`` role
(``account.department_id``) and work their unit's queue.

**Visibility.** A caller with scope ``S`` sees the departments whose jurisdiction cell lies in
``S``'s subtree *or is an ancestor of* ``S`` (a township commander sees the county court that
serves the township). Departments of neighbouring jurisdictions stay invisible even where
their service areas touch the scope, so nothing of another county reaches the caller.

**Suggestions** (:func:`suggest_departments`), for an event of the scope:

* *responsible* departments first: active, visible, taking the event's category, and whose
  service area covers the event's location (``ST_Covers``); ranked by kind suitability
  (:data:`KIND_PREFERENCE`, via :func:`kind_rank`), then geodesic distance, then id;
* then, while fewer than ``limit``, the nearest other active visible departments taking the
  category (``responsible=False``), by geodesic distance then id. They are fetched with KNN
  (``location <-> point`` on the GiST index ``ix_department_location``) in planar-degree order;
  the fetch widens until no unfetched department could be nearer in metres (the lower bound
  of :func:`geodata.knn.lower_bound_m`), so the list equals a brute-force ranking.

Distances are geodesic metres on the WGS-84 spheroid (``geography``), from the department's
location to the event. Coordinates are WGS-84 lon/lat degrees (EPSG:4326).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.cells import check_scope_path
from geodata.knn import lower_bound_m
from gridcmd.vocab import OPEN_STATUSES

__all__ = [
    "KIND_PREFERENCE",
    "department_by_id",
    "department_for_code",
    "department_queue",
    "kind_rank",
    "list_departments",
    "suggest_departments",
]

#: Kind suitability per (category, difficulty): the kinds in order of preference; a kind not
#: listed ranks after the listed ones (and categories not listed rank every kind equal, so
#: only distance orders them). ``difficulty`` None is the default of the category.
KIND_PREFERENCE: dict[tuple[str, str | None], tuple[str, ...]] = {
    # A difficult dispute goes to the judicial office (人民调解), then petition, then court.
    ("dispute", "difficult"): ("judicial", "petition", "court"),
    ("dispute", None): ("judicial", "police", "petition", "court"),
    ("public_security", None): ("police", "procuratorate"),
    ("social_risk", None): ("police", "petition", "procuratorate"),
    ("livelihood", None): ("petition", "judicial"),
    ("environment", None): ("petition",),
}

#: First KNN fetch for the non-responsible fill: this many times ``limit`` (at least KNN_MIN).
KNN_FACTOR = 4
KNN_MIN = 20

#: A department is visible to scope ``:scope`` when its cell is in the scope's subtree or an
#: ancestor of the scope (see the module docstring).
_VISIBLE = "(dc.path <@ CAST(:scope AS ltree) OR dc.path @> CAST(:scope AS ltree))"
_POINT = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"

_EVENT = text(
    """
    SELECT e.category, e.difficulty, ST_X(e.location) AS lon, ST_Y(e.location) AS lat
    FROM event AS e JOIN grid_cell AS c ON c.id = e.cell_id
    WHERE e.id = :event_id AND c.path <@ CAST(:scope AS ltree)
    """
)

_COLUMNS = f"""
    d.id, d.code, d.name, d.kind, d.phone, d.synthetic,
    dc.code AS cell_code, dc.name AS cell_name,
    ST_X(d.location) AS lon, ST_Y(d.location) AS lat,
    ST_Distance(d.location::geography, {_POINT}::geography) AS distance_m,
    (SELECT count(*) FROM event AS o
      WHERE o.department_id = d.id AND o.status = ANY(:open)) AS open_cases
"""

_RESPONSIBLE = text(
    f"""
    SELECT {_COLUMNS}
    FROM department AS d JOIN grid_cell AS dc ON dc.id = d.cell_id
    WHERE d.active AND CAST(:category AS varchar) = ANY(d.categories)
      AND ST_Covers(d.service_area, {_POINT}) AND {_VISIBLE}
    """
)

# The k nearest non-responsible departments (ordered GiST scan: the point is an expression of
# parameters, so the planner can use it as the index's ORDER BY operand).
_NEAREST = text(
    f"""
    WITH knn AS (
        SELECT d.id, d.location <-> {_POINT} AS deg
        FROM department AS d JOIN grid_cell AS dc ON dc.id = d.cell_id
        WHERE d.active AND CAST(:category AS varchar) = ANY(d.categories)
          AND NOT ST_Covers(d.service_area, {_POINT}) AND {_VISIBLE}
        ORDER BY d.location <-> {_POINT}
        LIMIT :k
    )
    SELECT {_COLUMNS}, (SELECT count(*) FROM knn) AS n_knn, (SELECT max(deg) FROM knn) AS max_deg
    FROM knn JOIN department AS d ON d.id = knn.id JOIN grid_cell AS dc ON dc.id = d.cell_id
    """
)


def kind_rank(category: str, difficulty: str | None, kind: str) -> int:
    """Suitability of a department ``kind`` for an event (smaller is better): its index in
    :data:`KIND_PREFERENCE` for ``(category, difficulty)`` (else ``(category, None)``), or
    the length of that list when the kind is not listed."""
    pref = KIND_PREFERENCE.get((category, difficulty)) or KIND_PREFERENCE.get((category, None))
    pref = pref or ()
    return pref.index(kind) if kind in pref else len(pref)


def _entry(r: Any, *, responsible: bool, rank_of_kind: int | None) -> dict[str, Any]:
    return {
        "id": r.id,
        "code": r.code,
        "name": r.name,
        "kind": r.kind,
        "phone": r.phone,
        "synthetic": r.synthetic,
        "cell_code": r.cell_code,
        "cell_name": r.cell_name,
        "distance_m": float(r.distance_m),
        "responsible": responsible,
        "kind_rank": rank_of_kind,
        "open_cases": int(r.open_cases),
        "lon": r.lon,
        "lat": r.lat,
    }


def suggest_departments(
    conn: Connection, event_id: int, scope_path: str, *, limit: int = 5
) -> list[dict[str, Any]]:
    """The departments to dispatch an event of the scope to, best first (``LookupError`` when
    the event does not exist or lies outside ``scope_path``; ``ValueError`` for a malformed
    scope or ``limit < 1``). See the module docstring for who is suggested and in what order.

    Each entry: ``id``, ``code``, ``name``, ``kind``, ``phone``, ``synthetic``, ``cell_code``,
    ``cell_name`` (the department's jurisdiction cell), ``distance_m`` (geodesic metres from
    the department to the event), ``responsible`` (bool), ``kind_rank`` (:func:`kind_rank`
    for responsible entries, None for the others), ``open_cases`` (events dispatched to it and
    still open), ``lon``/``lat`` (WGS-84) and ``rank`` (1-based)."""
    check_scope_path(scope_path)
    if limit < 1:
        raise ValueError("limit must be at least 1")
    ev = conn.execute(_EVENT, {"event_id": event_id, "scope": scope_path}).one_or_none()
    if ev is None:
        raise LookupError(f"no event {event_id} in scope {scope_path}")
    params = {"lon": ev.lon, "lat": ev.lat, "category": ev.category, "scope": scope_path,
              "open": list(OPEN_STATUSES)}  # fmt: skip
    responsible = [
        _entry(r, responsible=True, rank_of_kind=kind_rank(ev.category, ev.difficulty, r.kind))
        for r in conn.execute(_RESPONSIBLE, params)
    ]
    responsible.sort(key=lambda d: (d["kind_rank"], d["distance_m"], d["id"]))
    out = responsible[:limit]
    need = limit - len(out)
    if need > 0:
        out += _nearest_others(conn, params, ev.lat, need)
    for i, d in enumerate(out, 1):
        d["rank"] = i
    return out


def _nearest_others(
    conn: Connection, params: dict[str, Any], lat: float, need: int
) -> list[dict[str, Any]]:
    """The ``need`` geodesically nearest non-responsible departments (exact: widens the KNN
    fetch until every unfetched one is provably farther than the last kept)."""
    k = max(KNN_MIN, KNN_FACTOR * need)
    while True:
        rows = conn.execute(_NEAREST, {**params, "k": k}).all()
        ranked = sorted(
            (_entry(r, responsible=False, rank_of_kind=None) for r in rows),
            key=lambda d: (d["distance_m"], d["id"]),
        )[:need]
        if not rows or rows[0].n_knn < k:  # every eligible department was fetched
            return ranked
        # Unfetched departments are at least max_deg planar degrees away, i.e. at least the
        # bound in metres: the list is final once its last entry is nearer than that.
        if len(ranked) == need and ranked[-1]["distance_m"] < lower_bound_m(lat, rows[0].max_deg):
            return ranked
        k *= 4


# ----------------------------------------------------------------------------- one, many

_BY_ID = text(
    f"""
    SELECT d.id, d.code, d.name, d.kind, d.categories, d.phone, d.active, d.synthetic,
           dc.id AS cell_id, dc.code AS cell_code, dc.name AS cell_name, dc.level AS cell_level,
           ST_X(d.location) AS lon, ST_Y(d.location) AS lat
    FROM department AS d JOIN grid_cell AS dc ON dc.id = d.cell_id
    WHERE d.id = :id AND {_VISIBLE}
    """
)


def department_by_id(
    conn: Connection, scope_path: str, department_id: int
) -> dict[str, Any] | None:
    """One department visible to ``scope_path`` (``id, code, name, kind, categories, phone,
    active, synthetic, cell_id, cell_code, cell_name, cell_level, lon, lat``), or None when
    the id is unknown *or* not visible (indistinguishable on purpose)."""
    check_scope_path(scope_path)
    if isinstance(department_id, bool) or not isinstance(department_id, int):
        raise ValueError(f"department id must be an integer, not {department_id!r}")
    if not 0 < department_id < 2**63:
        return None
    row = conn.execute(_BY_ID, {"id": department_id, "scope": scope_path}).mappings().first()
    if row is None:
        return None
    out = dict(row)
    out["categories"] = list(out["categories"])
    return out


def department_for_code(conn: Connection, code: str) -> dict[str, Any] | None:
    """The department with ``code`` (administration: not scoped): ``{id, code, name, kind,
    active, cell_code}``, or None."""
    row = conn.execute(
        text(
            "SELECT d.id, d.code, d.name, d.kind, d.active, c.code AS cell_code "
            "FROM department AS d JOIN grid_cell AS c ON c.id = d.cell_id WHERE d.code = :code"
        ),
        {"code": code},
    ).mappings().first()  # fmt: skip
    return dict(row) if row else None


_LIST = text(
    f"""
    SELECT d.id, d.code, d.name, d.kind, d.categories, d.phone, d.active, d.synthetic,
           dc.code AS cell_code, dc.name AS cell_name,
           ST_X(d.location) AS lon, ST_Y(d.location) AS lat
    FROM department AS d JOIN grid_cell AS dc ON dc.id = d.cell_id
    WHERE {_VISIBLE} AND (d.active OR :inactive)
      AND (CAST(:minx AS double precision) IS NULL
           OR d.location && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))
    ORDER BY d.id
    LIMIT :limit
    """
)


def list_departments(
    conn: Connection,
    scope_path: str,
    *,
    bbox: Sequence[float] | None = None,
    include_inactive: bool = False,
    limit: int = 5000,
) -> list[dict[str, Any]]:
    """Departments visible to ``scope_path`` (its subtree and its ancestors; see the module
    docstring), active only unless ``include_inactive``, located inside ``bbox`` (``minx,
    miny, maxx, maxy`` lon/lat degrees; None: all), by id, at most ``limit``. Rows: ``{id,
    code, name, kind, categories, phone, active, synthetic, cell_code, cell_name, lon, lat}``."""
    check_scope_path(scope_path)
    minx, miny, maxx, maxy = bbox if bbox is not None else (None,) * 4
    rows = conn.execute(
        _LIST,
        {"scope": scope_path, "inactive": include_inactive, "limit": int(limit),
         "minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy},
    ).mappings()  # fmt: skip
    return [{**r, "categories": list(r["categories"])} for r in rows]


# ----------------------------------------------------------------------------- queue

_QUEUE = text(
    """
    SELECT e.id, e.title, e.category, e.difficulty, e.severity, e.status, e.priority,
           e.reported_at, e.dispatched_at, e.acknowledged_at, e.due_at, e.supervised_at,
           e.resolved_at, e.closed_at, c.code AS cell_code, c.name AS cell_name,
           ST_X(e.location) AS lon, ST_Y(e.location) AS lat,
           e.status = ANY(:open) AS open,
           coalesce(e.status = ANY(:open) AND e.due_at < :now, false) AS overdue
    FROM event AS e JOIN grid_cell AS c ON c.id = e.cell_id
    WHERE e.department_id = :dept
      AND (:closed OR e.status = ANY(:open))
      AND (CAST(:scope AS ltree) IS NULL OR c.path <@ CAST(:scope AS ltree))
    ORDER BY open DESC, overdue DESC, e.due_at ASC NULLS LAST, e.reported_at, e.id
    LIMIT :limit
    """
)


def department_queue(
    conn: Connection,
    department_id: int,
    *,
    now: dt.datetime,
    include_closed: bool = False,
    limit: int = 500,
    scope_path: str | None = None,
) -> list[dict[str, Any]]:
    """The events dispatched to a department (``event.department_id``): open ones first,
    overdue (open and ``due_at < now``) before the others, then by ``due_at`` (none last),
    ``reported_at`` and id; finished ones only with ``include_closed``. At most ``limit``.

    ``scope_path`` (recommended for every caller but the department's own staff, whose unit
    comes from their session) keeps only events whose cell lies in that subtree.

    Rows: ``id, title, category, difficulty, severity, status, priority, reported_at,
    dispatched_at, acknowledged_at, due_at, supervised_at, resolved_at, closed_at, cell_code,
    cell_name, lon, lat, open, overdue``. Titles are user text: escape them when rendering."""
    if scope_path is not None:
        check_scope_path(scope_path)
    if isinstance(department_id, bool) or not isinstance(department_id, int):
        raise ValueError(f"department id must be an integer, not {department_id!r}")
    rows = conn.execute(
        _QUEUE,
        {"dept": department_id, "now": now, "closed": include_closed, "limit": int(limit),
         "scope": scope_path, "open": list(OPEN_STATUSES)},
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]
