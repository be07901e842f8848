"""The case workflow: a server-enforced state machine over ``event.status``.

One pipeline for the phone (``/api/v1/events/<uuid>/<action>``) and the PC (the dashboard's
event panel): :func:`perform` checks who is asking, whether the action is legal from the current
status, applies it with **optimistic locking** on ``event.version`` and appends the history row
(``event_action``: actor, time, from/to status, note; hash-chained by migration 0006) in the
same transaction. The caller commits.

States and actions (``TRANSITIONS``)::

    reported ──accept──► accepted ──dispatch──► dispatched ──start──► in_progress
       │  └──────────dispatch (accept + dispatch)───┘ │  ▲                │
       │                                            resolve   reassign   resolve
       ▼                                              ▼                  ▼
    rejected (注销) ◄──reject── accepted/returned/escalated       resolved ──verify──► verified
                                                        ▲  └─reopen─► in_progress       │
    dispatched/in_progress ──decline──► returned (退回)  │                            close
    any open state ──escalate──► escalated (owner one level up)                         ▼
    any open state ──merge──► closed (a duplicate, linked to its original)            closed

``supervise`` (督办) and ``acknowledge`` (the assignee's 接单 on the phone) leave the status as
it is and still write history.

Who may act (account actors also need the event inside their jurisdiction):

* ``dispatch`` actions (accept, reject, dispatch, reassign, close, merge): the ``dispatch``
  permission, and the case must not have been escalated above the account's level
  (``nlevel(scope) <= event.owner_level``: a township dispatcher cannot act on a case escalated
  to the county, the county can act on its townships' cases).
* assignee actions (acknowledge, start, decline, resolve): the assigned worker (phone), staff of
  the assigned department (role ``department``), or a dispatcher recording it on their behalf
  (remote dispatch for areas without signal).
* verify / reopen: ``dispatch`` or ``supervise``, and never the actor who resolved the case.
* escalate: ``dispatch`` or ``supervise`` (and the supervision job); supervise: ``supervise``.

Errors are :class:`WorkflowError` with an HTTP status: 404 unknown or outside the scope (the two
are indistinguishable: one text, :data:`NO_EVENT`, no id echoed; likewise :data:`NO_WORKER`,
:data:`NO_DEPARTMENT` and a ``merge_into`` event), 403 not allowed, 409 illegal transition or
a stale ``version`` (someone else changed the case first: never a lost update), 422 bad
parameters.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.safe_text import clean_text
from geodata.workflow_rules import (
    ACTIONS,
    EVENT_SQL,
    NO_DEPARTMENT,
    NO_EVENT,
    NO_WORKER,
    TRANSITIONS,
    Actor,
    Transition,
    WorkflowError,
    allowed_actions,
    authorize,
    in_scope,
    load_event,
    visible,
)

__all__ = [
    "ACTIONS",
    "DEFAULT_HOURS",
    "NO_DEPARTMENT",
    "NO_EVENT",
    "NO_WORKER",
    "TRANSITIONS",
    "Actor",
    "Transition",
    "WorkflowError",
    "allowed_actions",
    "deadline_hours",
    "event_id_for_uuid",
    "load_event",
    "perform",
    "priority_for_severity",
    "replayed_state",
    "state",
]

#: Fallback hours to resolve when ``deadline_policy`` has no row for the category.
DEFAULT_HOURS = {"red": 2.0, "yellow": 24.0, "blue": 72.0}
#: Notes longer than this are refused (422).
MAX_NOTE = 2000


#: Timestamp column set when an action happens.
_STAMP = {
    "accept": "accepted_at",
    "dispatch": "dispatched_at",
    "reassign": "dispatched_at",
    "acknowledge": "acknowledged_at",
    "start": "started_at",
    "resolve": "resolved_at",
    "verify": "verified_at",
    "close": "closed_at",
    "merge": "closed_at",
    "reject": "rejected_at",
    "escalate": "escalated_at",
    "supervise": "supervised_at",
}


def priority_for_severity(severity: str) -> str:
    """The default deadline tier of a severity (critical → red, high → yellow, else blue)."""
    return {"critical": "red", "high": "yellow"}.get(severity, "blue")


def deadline_hours(conn: Connection, category: str, priority: str) -> float:
    """Hours to resolve an event of ``category`` in tier ``priority`` (``deadline_policy``)."""
    hours = conn.execute(
        text("SELECT resolve_hours FROM deadline_policy WHERE category = :c AND priority = :p"),
        {"c": category, "p": priority},
    ).scalar()
    return float(hours) if hours is not None else DEFAULT_HOURS[priority]


def _check_worker(conn: Connection, worker_id: int, actor: Actor) -> Any:
    w = conn.execute(
        text(
            "SELECT w.id, w.name, w.employee_no, c.path::text AS path FROM grid_worker AS w "
            "JOIN grid_cell AS c ON c.id = w.cell_id WHERE w.id = :w AND w.active"
        ),
        {"w": worker_id},
    ).one_or_none()
    if w is None or not in_scope(w.path, actor.scope_path):
        raise WorkflowError(422, "invalid", NO_WORKER, "worker_id")
    return w


def _check_department(conn: Connection, department_id: int, row: Any, actor: Actor) -> Any:
    d = conn.execute(
        text(
            """
            SELECT d.id, d.name, d.code, c.path::text AS path,
                   ST_Covers(d.service_area, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) AS serves
            FROM department AS d JOIN grid_cell AS c ON c.id = d.cell_id
            WHERE d.id = :d AND d.active
            """
        ),
        {"d": department_id, "lon": row.lon, "lat": row.lat},
    ).one_or_none()
    # Visible to the actor (its unit is inside the jurisdiction or above it, like the county
    # court for a township: geodata.departments' rule), and serving the place or local.
    visible = d is not None and (
        in_scope(d.path, actor.scope_path) or in_scope(actor.scope_path or "", d.path)
    )
    if d is None or not visible or not (d.serves or in_scope(d.path, actor.scope_path)):
        raise WorkflowError(422, "invalid", NO_DEPARTMENT, "department_id")
    return d


def _as_int(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise WorkflowError(422, "invalid", f"{field} must be a positive integer", field)
    return value


def perform(
    conn: Connection,
    event_id: int,
    action: str,
    actor: Actor,
    *,
    version: int | None = None,
    note: str = "",
    worker_id: int | None = None,
    department_id: int | None = None,
    priority: str | None = None,
    merge_into: int | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Apply ``action`` to event ``event_id`` as ``actor`` and return the event's new state
    (``id``, ``uuid``, ``status``, ``version``, ``assignee_id``, ``department_id``,
    ``priority``, ``due_at``, ``owner_level``, ``supervised_at``, ``merged_into_id``).

    ``version``: the version the actor saw (409 if it changed since; ``None`` uses the current
    one — still no lost update, a concurrent change between read and write is a 409 too).
    ``dispatch``/``reassign`` need ``worker_id`` and/or ``department_id`` (``priority``
    optional, default from severity; ``due_at`` = now + the category's hours for it);
    ``merge`` needs ``merge_into`` (the original). ``now`` defaults to the database clock."""
    if action not in TRANSITIONS:
        raise WorkflowError(422, "invalid", f"unknown action {action!r}", "action")
    tr = TRANSITIONS[action]
    note = clean_text(note or "").strip()  # no control or bidi characters in the history
    if len(note) > MAX_NOTE:
        raise WorkflowError(422, "invalid", f"note longer than {MAX_NOTE} characters", "note")
    if tr.note_required and not note:
        raise WorkflowError(422, "invalid", f"{action} needs a note (the reason)", "note")
    version = _as_int(version, "version")
    worker_id = _as_int(worker_id, "worker_id")
    department_id = _as_int(department_id, "department_id")
    if priority is not None and priority not in DEFAULT_HOURS:
        raise WorkflowError(422, "invalid", "priority must be red, yellow or blue", "priority")

    row = load_event(conn, event_id, actor)
    if version is not None and version != row.version:
        raise _stale(row)
    if row.status not in tr.sources:
        raise WorkflowError(
            409, "conflict", f"cannot {action} an event that is {row.status}", "status"
        )
    authorize(conn, action, row, actor)
    now = now or conn.execute(text("SELECT now()")).scalar_one()

    sets: dict[str, Any] = {}
    notes: list[str] = []
    extra_history: list[tuple[str, str, str]] = []
    if tr.target is not None:
        sets["status"] = tr.target
    if action in _STAMP:
        sets[_STAMP[action]] = now

    if action in ("dispatch", "reassign"):
        if worker_id is None and department_id is None:
            raise WorkflowError(
                422, "invalid", f"{action} needs a worker or a department", "worker_id"
            )
        if action == "reassign" and (worker_id, department_id) == (
            row.assignee_id,
            row.department_id,
        ):
            raise WorkflowError(409, "conflict", "the event is already assigned so", "worker_id")
        w = _check_worker(conn, worker_id, actor) if worker_id is not None else None
        d = _check_department(conn, department_id, row, actor) if department_id else None
        sets.update(assignee_id=worker_id, department_id=department_id, acknowledged_at=None)
        to = ", ".join(
            x for x in (w and f"worker {w.id} {w.name}", d and f"department {d.id} {d.name}") if x
        )
        if action == "dispatch":
            prio = priority or row.priority or priority_for_severity(row.severity)
            due = now + dt.timedelta(hours=deadline_hours(conn, row.category, prio))
            sets.update(priority=prio, due_at=due)
            notes.append(f"to {to}; priority {prio}; due {due.astimezone(dt.UTC):%Y-%m-%dT%H:%MZ}")
            if row.status == "reported":  # accept + dispatch in one step: two history rows
                sets["accepted_at"] = now
                extra_history.append(("reported", "accepted", "accept: (with dispatch)"))
        else:
            before = ", ".join(
                x
                for x in (
                    row.assignee_id and f"worker {row.assignee_id}",
                    row.department_id and f"department {row.department_id}",
                )
                if x
            )
            notes.append(f"from {before or '-'} to {to}")
            if priority is not None and priority != row.priority:  # a new tier: a new deadline
                due = now + dt.timedelta(hours=deadline_hours(conn, row.category, priority))
                sets.update(priority=priority, due_at=due)
                notes.append(f"priority {priority}; due {due.astimezone(dt.UTC):%Y-%m-%dT%H:%MZ}")
    elif action == "decline":
        sets.update(assignee_id=None, department_id=None, acknowledged_at=None)
    elif action == "reopen":
        sets["resolved_at"] = None
    elif action == "escalate":
        if row.owner_level <= 1:
            raise WorkflowError(409, "conflict", "the case is already at the prefecture level")
        sets["owner_level"] = row.owner_level - 1
        notes.append(f"owner level {row.owner_level} → {row.owner_level - 1}")
    elif action == "supervise":
        if row.supervised_at is not None:
            raise WorkflowError(409, "conflict", "the case is already under supervision")
        sets.update(supervision_reason="manual", supervised_by=actor.id)
    elif action == "merge":
        original = _merge_target(conn, row, merge_into, actor)
        sets["merged_into_id"] = original.id
        notes.append(f"into event {original.id}")

    _update(conn, row, sets)
    for frm, to_status, text_ in extra_history:
        _history(conn, row.id, actor, now, frm, to_status, text_)
    body = f"{action}: " + "; ".join(notes) if notes else f"{action}:"
    if note:
        body += f" | {note}"
    _history(conn, row.id, actor, now, _from(row, extra_history), tr.target or row.status, body)
    if action == "merge":
        _absorb(conn, original, row, actor, now)
    return state(conn, row.id)


def _from(row: Any, extra: list[tuple[str, str, str]]) -> str:
    return extra[-1][1] if extra else row.status


def _stale(row: Any) -> WorkflowError:
    return WorkflowError(
        409,
        "conflict",
        f"the event was changed by someone else (now version {row.version}, "
        f"status {row.status}); reload it and try again",
        "version",
    )


def _update(conn: Connection, row: Any, sets: dict[str, Any]) -> None:
    cols = ", ".join(f"{k} = :s_{k}" for k in sets)
    params = {f"s_{k}": v for k, v in sets.items()}
    done = conn.execute(
        text(
            f"UPDATE event SET {cols}, version = version + 1 "  # noqa: S608 - keys are ours
            "WHERE id = :id AND version = :v RETURNING id"
        ),
        {**params, "id": row.id, "v": row.version},
    ).first()
    if done is None:  # a concurrent writer got there first (blocked on its row lock, then lost)
        fresh = conn.execute(text(EVENT_SQL + " WHERE e.id = :id"), {"id": row.id}).one()
        raise _stale(fresh)


def _history(
    conn: Connection, event_id: int, actor: Actor, at: dt.datetime, frm: str | None, to: str,
    note: str,
) -> None:  # fmt: skip
    conn.execute(
        text(
            "INSERT INTO event_action (event_id, actor_type, actor_id, at, from_status, "
            "to_status, note) VALUES (:e, :t, :a, :at, :f, :to, :n)"
        ),
        {"e": event_id, "t": actor.type, "a": actor.id, "at": at, "f": frm, "to": to, "n": note},
    )


def _merge_target(conn: Connection, dup: Any, merge_into: int | None, actor: Actor) -> Any:
    merge_into = _as_int(merge_into, "merge_into")
    if merge_into is None:
        raise WorkflowError(
            422, "invalid", "merge needs the original event (merge_into)", "merge_into"
        )
    if merge_into == dup.id:
        raise WorkflowError(422, "invalid", "an event cannot be merged into itself", "merge_into")
    original = conn.execute(text(EVENT_SQL + " WHERE e.id = :id"), {"id": merge_into}).one_or_none()
    if original is None or not visible(conn, original, actor):
        raise WorkflowError(422, "invalid", NO_EVENT, "merge_into")
    if original.merged_into_id is not None or original.status in ("closed", "rejected"):
        raise WorkflowError(
            409, "conflict", f"event {merge_into} is {original.status}; merge into an open case",
            "merge_into",
        )  # fmt: skip
    return original


def _absorb(conn: Connection, original: Any, dup: Any, actor: Actor, now: dt.datetime) -> None:
    """The original's side of a merge: a history row, and the duplicate's reporter (and its
    followers) now follow the original."""
    conn.execute(
        text(
            """
            INSERT INTO event_follower (event_id, worker_id, since, via_event_id)
            SELECT :orig, w, :now, :dup FROM (
                SELECT reporter_id AS w FROM event WHERE id = :dup AND reporter_id IS NOT NULL
                UNION SELECT worker_id FROM event_follower WHERE event_id = :dup
            ) AS f
            WHERE w IS DISTINCT FROM (SELECT reporter_id FROM event WHERE id = :orig)
            ON CONFLICT DO NOTHING
            """
        ),
        {"orig": original.id, "dup": dup.id, "now": now},
    )
    _history(
        conn, original.id, actor, now, original.status, original.status,
        f"merge: absorbed duplicate event {dup.id}",
    )  # fmt: skip


def state(conn: Connection, event_id: int) -> dict[str, Any]:
    """The workflow fields of an event (no scope check: call after one)."""
    r = conn.execute(
        text(
            """
            SELECT id, uuid::text AS uuid, status, version, assignee_id, department_id, priority,
                   due_at, owner_level, supervised_at, supervision_reason, escalated_at,
                   acknowledged_at, merged_into_id, updated_at
            FROM event WHERE id = :id
            """
        ),
        {"id": event_id},
    ).one()
    return dict(r._mapping)


def event_id_for_uuid(conn: Connection, event_uuid: uuid.UUID) -> int | None:
    """The internal id of the event whose client-made uuid is ``event_uuid``, or None. No
    scope check: :func:`perform` checks the actor's reach on the id."""
    return conn.execute(text("SELECT id FROM event WHERE uuid = :u"), {"u": event_uuid}).scalar()


def replayed_state(
    conn: Connection, event_id: int, action: str, worker_id: int
) -> dict[str, Any] | None:
    """The event's :func:`state` if the last entry of its history is ``action`` by the worker
    ``worker_id`` and the event is still where that left it (a phone resending an action whose
    answer it lost), else None. Recognises the action by the note :func:`perform` writes
    (``"<action>: ..."``)."""
    tr = TRANSITIONS[action]
    last = conn.execute(
        text(
            "SELECT a.actor_type, a.actor_id, a.note, a.to_status, e.status FROM event_action a "
            "JOIN event e ON e.id = a.event_id WHERE a.event_id = :e ORDER BY a.id DESC LIMIT 1"
        ),
        {"e": event_id},
    ).first()
    if (
        last is not None
        and (last.actor_type, last.actor_id) == ("worker", worker_id)
        and last.note.split(":", 1)[0] == action
        and last.status == last.to_status
        and (tr.target is None or last.status == tr.target)
    ):
        return state(conn, event_id)
    return None
