"""The dashboard's case view: one event with everything its panel shows.

:func:`case_view` reads, for one event the actor may see (:func:`geodata.workflow.load_event`,
else ``WorkflowError`` 404), its workflow fields, the actions the actor may take now
(:func:`geodata.workflow.allowed_actions`), the last history entries, and — only when they
are useful to this actor — the ranked candidate workers (:func:`geodata.dispatch.
recommend_workers`) and suggested departments (:func:`geodata.departments.
suggest_departments`) when a dispatch or reassign is allowed, and the possible duplicates
(:func:`geodata.duplicates.find_duplicates`) of an open event. Read only; the changes go
through :func:`geodata.workflow.perform`.

Timestamps are ISO 8601 strings (UTC offset included); distances geodesic metres;
coordinates WGS-84 lon/lat (EPSG:4326).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.departments import suggest_departments
from geodata.dispatch import recommend_workers
from geodata.duplicates import find_duplicates
from geodata.workflow import Actor, allowed_actions, load_event, priority_for_severity
from gridcmd.vocab import OPEN_STATUSES

__all__ = ["HISTORY_LIMIT", "case_view"]

#: History entries returned (the latest ones).
HISTORY_LIMIT = 12

_DETAIL = text(
    """
    SELECT e.title, e.subcategory, e.severity, e.reported_at, e.due_at, e.supervised_at,
           e.supervision_reason, e.escalated_at, e.acknowledged_at, e.updated_at,
           e.synthetic, c.code AS cell_code, c.name AS cell_name,
           aw.name AS assignee, aw.employee_no AS assignee_no, d.name AS department,
           now() AS now
    FROM event AS e JOIN grid_cell AS c ON c.id = e.cell_id
    LEFT JOIN grid_worker AS aw ON aw.id = e.assignee_id
    LEFT JOIN department AS d ON d.id = e.department_id
    WHERE e.id = :id
    """
)

_HISTORY = text(
    """
    SELECT at, actor_type, from_status, to_status, note FROM (
        SELECT id, at, actor_type, from_status, to_status, note FROM event_action
        WHERE event_id = :id ORDER BY at DESC, id DESC LIMIT :n
    ) AS h ORDER BY at, id
    """
)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def case_view(
    conn: Connection,
    event_id: int,
    actor: Actor,
    *,
    stale_after_s: float = 900,
    radius_m: float = 300.0,
    window_h: float = 72.0,
    candidates: int = 8,
    departments: int = 5,
) -> dict[str, Any]:
    """The case panel's data for ``event_id`` as seen by ``actor`` (an account).

    ``WorkflowError`` 404 when the event is unknown or invisible to the actor. Returns
    ``event`` (id, uuid, title, category, status, version, priority — the dispatch tier,
    ``default_priority`` when none is set yet —, severity, owner_level, due_at, now (the
    database clock, for the countdown), overdue, supervised, assignee, department, cell),
    ``actions`` (the allowed action names, in :data:`geodata.workflow.TRANSITIONS` order),
    ``assign`` (``"dispatch"``, ``"reassign"`` or None: what a candidate's button does),
    ``candidates``, ``departments``, ``duplicates`` (lists, empty when not applicable) and
    ``history`` (the latest :data:`HISTORY_LIMIT` entries, oldest first)."""
    row = load_event(conn, event_id, actor)
    actions = allowed_actions(conn, row, actor)
    d = conn.execute(_DETAIL, {"id": row.id}).one()
    assign = "reassign" if "reassign" in actions else "dispatch" if "dispatch" in actions else None
    scope = actor.scope_path
    workers: list[dict[str, Any]] = []
    units: list[dict[str, Any]] = []
    if assign is not None and scope:
        try:
            workers = recommend_workers(
                conn, row.id, scope_path=scope, limit=candidates, stale_after_s=stale_after_s,
                now=d.now,
            )  # fmt: skip
            units = suggest_departments(conn, row.id, scope, limit=departments)
        except LookupError:  # visible through the department, not the jurisdiction
            workers, units = [], []
    dups: list[dict[str, Any]] = []
    if row.status in OPEN_STATUSES and row.merged_into_id is None and scope:
        dups = find_duplicates(conn, row.id, scope_path=scope, radius_m=radius_m, window_h=window_h)
    history = [
        {"at": _iso(h.at), "actor": h.actor_type, "from": h.from_status, "to": h.to_status,
         "note": h.note}
        for h in conn.execute(_HISTORY, {"id": row.id, "n": HISTORY_LIMIT})
    ]  # fmt: skip
    event = {
        "id": row.id,
        "uuid": row.uuid,
        "title": d.title,
        "category": row.category,
        "subcategory": d.subcategory,
        "status": row.status,
        "version": row.version,
        "priority": row.priority,
        "default_priority": row.priority or priority_for_severity(row.severity),
        "severity": row.severity,
        "owner_level": row.owner_level,
        "due_at": _iso(row.due_at),
        "now": _iso(d.now),
        "overdue": bool(
            row.due_at is not None and row.status in OPEN_STATUSES and row.due_at < d.now
        ),
        "supervised": row.supervised_at is not None,
        "supervised_at": _iso(row.supervised_at),
        "merged_into_id": row.merged_into_id,
        "assignee_id": row.assignee_id,
        "assignee": d.assignee,
        "assignee_no": d.assignee_no,
        "department_id": row.department_id,
        "department": d.department,
        "cell_code": d.cell_code,
        "cell_name": d.cell_name,
        "lon": row.lon,
        "lat": row.lat,
        "synthetic": d.synthetic,
    }
    return {
        "event": event,
        "actions": actions,
        "assign": assign,
        "candidates": workers,
        "departments": units,
        "duplicates": dups,
        "history": history,
    }
