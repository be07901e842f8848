"""The rules of the case workflow (:mod:`geodata.workflow`): the transition table, who is
acting (:class:`Actor`), what they may see and do, and the error type.

Split from :mod:`geodata.workflow` (which applies the actions) to keep both modules short; see
that module's docstring for the state diagram and the permission summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.accounts import Caller, has_permission
from gridcmd.vocab import OPEN_STATUSES

__all__ = [
    "ACTIONS",
    "EVENT_SQL",
    "NO_DEPARTMENT",
    "NO_EVENT",
    "NO_WORKER",
    "TRANSITIONS",
    "Actor",
    "Transition",
    "WorkflowError",
    "allowed_actions",
    "authorize",
    "in_scope",
    "load_event",
    "visible",
]


@dataclass(frozen=True)
class Transition:
    """A workflow action: the statuses it starts from, the status it leads to (``None``: the
    status stays), who may do it (``dispatch``/``assignee``/``verify``/``escalate``/
    ``supervise``) and whether a note (reason) is required."""

    sources: frozenset[str]
    target: str | None
    who: str
    note_required: bool = False


_OPEN = frozenset(OPEN_STATUSES)
TRANSITIONS: dict[str, Transition] = {
    "accept": Transition(frozenset({"reported"}), "accepted", "dispatch"),
    "reject": Transition(
        frozenset({"reported", "accepted", "returned", "escalated"}), "rejected", "dispatch", True
    ),
    "dispatch": Transition(
        frozenset({"reported", "accepted", "returned", "escalated"}), "dispatched", "dispatch"
    ),
    "reassign": Transition(frozenset({"dispatched", "in_progress"}), "dispatched", "dispatch"),
    "acknowledge": Transition(frozenset({"dispatched"}), None, "assignee"),
    "start": Transition(frozenset({"dispatched"}), "in_progress", "assignee"),
    "decline": Transition(frozenset({"dispatched", "in_progress"}), "returned", "assignee", True),
    "resolve": Transition(frozenset({"dispatched", "in_progress"}), "resolved", "assignee", True),
    "verify": Transition(frozenset({"resolved"}), "verified", "verify"),
    "reopen": Transition(frozenset({"resolved"}), "in_progress", "verify", True),
    "close": Transition(frozenset({"verified"}), "closed", "dispatch"),
    "escalate": Transition(_OPEN, "escalated", "escalate"),
    "supervise": Transition(_OPEN, None, "supervise"),
    "merge": Transition(_OPEN, "closed", "dispatch"),
}
ACTIONS = tuple(TRANSITIONS)


#: The one answer for an event, worker or department that does not exist *or* lies outside
#: the caller's reach: the same status, code and text for both, and no id echoed, so a refusal
#: tells the caller nothing about records it may not see (their existence, their internal ids).
NO_EVENT = "no such event in your area"
NO_WORKER = "no such active worker in your area"
NO_DEPARTMENT = "no such active department serving this event"


class WorkflowError(Exception):
    """A refused action: ``status`` (HTTP), ``error`` (short code), ``detail`` (for people)."""

    def __init__(self, status: int, error: str, detail: str, field: str | None = None):
        super().__init__(detail)
        self.status, self.error, self.detail, self.field = status, error, detail, field


@dataclass(frozen=True)
class Actor:
    """Who performs an action: a dashboard account, a grid worker (phone) or the system."""

    type: str
    id: int | None
    role: str | None = None
    scope_path: str | None = None
    department_id: int | None = None
    caller: Caller | None = None

    @classmethod
    def from_caller(cls, caller: Caller) -> Actor:
        return cls(
            "account",
            caller.account_id,
            caller.role,
            caller.scope_path,
            getattr(caller, "department_id", None),
            caller,
        )

    @classmethod
    def worker(cls, worker_id: int) -> Actor:
        return cls("worker", worker_id, "grid_worker")

    @classmethod
    def system(cls) -> Actor:
        return cls("system", None, "system")

    def can(self, permission: str) -> bool:
        if self.type == "system":
            return permission in ("escalate", "supervise")
        return self.type == "account" and has_permission(self.caller, permission)


EVENT_SQL = """
    SELECT e.id, e.uuid::text AS uuid, e.status, e.version, e.category, e.severity,
           e.priority, e.owner_level, e.assignee_id, e.department_id, e.reporter_id,
           e.due_at, e.supervised_at, e.merged_into_id, e.cell_id, c.path::text AS path,
           ST_X(e.location) AS lon, ST_Y(e.location) AS lat
    FROM event AS e JOIN grid_cell AS c ON c.id = e.cell_id
"""


def load_event(conn: Connection, event_id: int, actor: Actor) -> Any:
    """The event row if ``actor`` may see it, else :class:`WorkflowError` 404.

    Accounts see their jurisdiction's subtree (department staff also their unit's cases);
    workers the cases assigned to them, reported by them or followed; the system everything."""
    row = conn.execute(text(EVENT_SQL + " WHERE e.id = :id"), {"id": event_id}).one_or_none()
    if row is None or not visible(conn, row, actor):
        raise WorkflowError(404, "not_found", NO_EVENT)
    return row


def in_scope(path: str, scope: str | None) -> bool:
    return scope is not None and (path == scope or path.startswith(scope + "."))


def visible(conn: Connection, row: Any, actor: Actor) -> bool:
    if actor.type == "system":
        return True
    if actor.type == "account":
        if actor.department_id is not None and row.department_id == actor.department_id:
            return True
        return in_scope(row.path, actor.scope_path)
    if actor.id in (row.assignee_id, row.reporter_id):
        return True
    return bool(
        conn.execute(
            text("SELECT 1 FROM event_follower WHERE event_id = :e AND worker_id = :w"),
            {"e": row.id, "w": actor.id},
        ).first()
    )


def _level(path: str | None) -> int:
    return 0 if not path else path.count(".") + 1


def _is_assignee(row: Any, actor: Actor) -> bool:
    if actor.type == "worker":
        return row.assignee_id is not None and row.assignee_id == actor.id
    return (
        actor.type == "account"
        and actor.role == "department"
        and actor.can("handle")
        and row.department_id is not None
        and row.department_id == actor.department_id
    )


def _may_dispatch(row: Any, actor: Actor) -> bool:
    return (
        actor.type == "account"
        and actor.can("dispatch")
        and in_scope(row.path, actor.scope_path)
        and _level(actor.scope_path) <= row.owner_level
    )


def _resolver(conn: Connection, event_id: int) -> tuple[str, int | None] | None:
    r = conn.execute(
        text(
            "SELECT actor_type, actor_id FROM event_action WHERE event_id = :e "
            "AND to_status = 'resolved' ORDER BY id DESC LIMIT 1"
        ),
        {"e": event_id},
    ).first()
    return (r.actor_type, r.actor_id) if r else None


def authorize(conn: Connection, action: str, row: Any, actor: Actor) -> None:
    who = TRANSITIONS[action].who
    if who == "dispatch":
        ok = _may_dispatch(row, actor)
    elif who == "assignee":
        ok = _is_assignee(row, actor) or _may_dispatch(row, actor)
    elif who == "verify":
        ok = actor.type == "account" and (
            _may_dispatch(row, actor)
            or (actor.can("supervise") and in_scope(row.path, actor.scope_path))
        )
        if ok and _resolver(conn, row.id) == (actor.type, actor.id):
            raise WorkflowError(
                403, "forbidden", "the case must be verified by someone other than its resolver"
            )
    elif who == "escalate":  # only the level that owns the case (or one above) moves it up
        ok = actor.type == "system" or (
            (actor.can("dispatch") or actor.can("supervise"))
            and in_scope(row.path, actor.scope_path)
            and _level(actor.scope_path) <= row.owner_level
        )
    else:  # supervise
        ok = actor.type == "system" or (
            actor.can("supervise") and in_scope(row.path, actor.scope_path)
        )
    if not ok:
        raise WorkflowError(403, "forbidden", f"you may not {action} this event")


def allowed_actions(conn: Connection, row: Any, actor: Actor) -> list[str]:
    """The actions ``actor`` may take on the event now (for the UI's buttons)."""
    out = []
    for name, tr in TRANSITIONS.items():
        if row.status not in tr.sources:
            continue
        if name == "supervise" and row.supervised_at is not None:
            continue
        if name == "escalate" and row.owner_level <= 1:
            continue
        if name in ("acknowledge",) and actor.type == "account" and not _is_assignee(row, actor):
            continue
        try:
            authorize(conn, name, row, actor)
        except WorkflowError:
            continue
        out.append(name)
    return out
