"""Deadlines and supervision (督办): the periodic job and the supervisor's queue.

:func:`run_supervision` is what ``gridcmd supervise`` runs every ``supervise_every_s`` seconds,
with no browser open (several app hosts may run it: a transaction-level advisory lock lets one
run at a time, the others skip). Two set-based statements, each writing one history row per
case it touches (actor ``system``):

1. **overdue → supervised**: every open case whose ``due_at`` has passed and that is not under
   supervision yet gets ``supervised_at = now``, ``supervision_reason = 'overdue'``;
2. **supervised too long → escalated**: every open case under supervision since more than
   ``escalate_after`` (counted from the supervision, or from its last escalation) whose owner is
   below the prefecture moves one level up (``owner_level - 1``, status ``escalated``): the
   parent level's commander now owns it (it shows in their queue, and the level below can no
   longer dispatch it). It escalates again after another ``escalate_after``, up to the
   prefecture.

``now`` is a parameter everywhere so tests drive a controllable clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.cells import check_scope_path
from gridcmd.vocab import OPEN_STATUSES

__all__ = ["SupervisionReport", "run_supervision", "supervision_queue"]

#: Advisory lock key of the job (class 7411 = Grid Command; 4/6 are the live log and audit chain).
_JOB_LOCK = (7411, 7)


@dataclass(frozen=True)
class SupervisionReport:
    """What one run did: ``ran`` False when another process held the job lock."""

    ran: bool
    supervised: list[int]
    escalated: list[int]


_SUPERVISE = text(
    """
    WITH due AS (
        SELECT id, status FROM event
        WHERE status = ANY(:open) AND due_at < :now AND supervised_at IS NULL
        ORDER BY id FOR UPDATE
    ), upd AS (
        UPDATE event AS e SET supervised_at = :now, supervision_reason = 'overdue',
               version = e.version + 1
        FROM due WHERE e.id = due.id
        RETURNING e.id, due.status, e.due_at
    ), hist AS (
        INSERT INTO event_action (event_id, actor_type, actor_id, at, from_status, to_status, note)
        SELECT id, 'system', NULL, :now, status, status,
               'supervise: overdue since ' || to_char(due_at AT TIME ZONE 'UTC',
                                                      'YYYY-MM-DD"T"HH24:MI"Z"')
        FROM upd ORDER BY id
    )
    SELECT id FROM upd ORDER BY id
    """
)

_ESCALATE = text(
    """
    WITH late AS (
        SELECT id, status, owner_level FROM event
        WHERE status = ANY(:open) AND supervised_at IS NOT NULL AND owner_level > 1
          AND greatest(supervised_at, escalated_at) <= :cutoff
        ORDER BY id FOR UPDATE
    ), upd AS (
        UPDATE event AS e SET status = 'escalated', owner_level = late.owner_level - 1,
               escalated_at = :now, version = e.version + 1
        FROM late WHERE e.id = late.id
        RETURNING e.id, late.status AS old_status, late.owner_level AS old_level
    ), hist AS (
        INSERT INTO event_action (event_id, actor_type, actor_id, at, from_status, to_status, note)
        SELECT id, 'system', NULL, :now, old_status, 'escalated',
               'escalate: supervised and unresolved for ' || :hours || ' h; owner level '
               || old_level || ' → ' || (old_level - 1)
        FROM upd ORDER BY id
    )
    SELECT id FROM upd ORDER BY id
    """
)


def run_supervision(
    conn: Connection, *, now: dt.datetime, escalate_after: dt.timedelta
) -> SupervisionReport:
    """Put overdue cases under supervision and escalate the ones supervised too long (see the
    module docstring). The caller commits; the lock is held until then."""
    if escalate_after <= dt.timedelta(0):
        raise ValueError("escalate_after must be positive")
    got = conn.execute(text("SELECT pg_try_advisory_xact_lock(:a, :b)"),
                       {"a": _JOB_LOCK[0], "b": _JOB_LOCK[1]}).scalar_one()  # fmt: skip
    if not got:
        return SupervisionReport(False, [], [])
    open_ = list(OPEN_STATUSES)
    supervised = list(conn.execute(_SUPERVISE, {"open": open_, "now": now}).scalars())
    hours = f"{escalate_after.total_seconds() / 3600:g}"
    escalated = list(
        conn.execute(
            _ESCALATE,
            {"open": open_, "now": now, "cutoff": now - escalate_after, "hours": hours},
        ).scalars()
    )
    return SupervisionReport(True, supervised, escalated)


_QUEUE = """
    SELECT e.id, e.uuid::text AS uuid, e.title, e.category, e.status, e.priority,
           e.severity, e.reported_at, e.due_at, e.supervised_at, e.supervision_reason,
           e.escalated_at, e.owner_level, e.version, e.assignee_id, w.name AS assignee_name,
           e.department_id, d.name AS department_name, c.code AS cell_code, c.name AS cell_name,
           (e.due_at IS NOT NULL AND e.due_at < :now) AS overdue,
           ST_X(e.location) AS lon, ST_Y(e.location) AS lat, e.synthetic
    FROM event AS e
    JOIN grid_cell AS c ON c.id = e.cell_id
    LEFT JOIN grid_worker AS w ON w.id = e.assignee_id
    LEFT JOIN department AS d ON d.id = e.department_id
    WHERE c.path <@ CAST(:scope AS ltree) AND e.status = ANY(:open)
"""


def supervision_queue(
    conn: Connection,
    scope_path: str,
    *,
    now: dt.datetime,
    kind: str = "supervised",
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Open cases of the scope for the supervisor's and commander's queues, most urgent first.

    ``kind``: ``'supervised'`` (under 督办: overdue or flagged), ``'overdue'`` (past due, whether
    supervised yet or not), ``'escalated'`` (escalated to the scope's own level: the cases this
    commander now owns). Each row: the event's id/uuid/title/category/status/priority, times,
    ``overdue``, assignee or department name, its cell, lon/lat (WGS-84)."""
    check_scope_path(scope_path)
    where = {
        "supervised": " AND e.supervised_at IS NOT NULL",
        "overdue": " AND e.due_at < :now",
        "escalated": " AND e.status = 'escalated'"
        " AND e.owner_level = nlevel(CAST(:scope AS ltree))",
    }
    if kind not in where:
        raise ValueError(f"unknown queue {kind!r}")
    sql = _QUEUE + where[kind] + " ORDER BY e.due_at NULLS LAST, e.id LIMIT :limit"
    rows = conn.execute(
        text(sql),
        {"scope": scope_path, "open": list(OPEN_STATUSES), "now": now, "limit": limit},
    ).mappings()
    return [dict(r) for r in rows]
