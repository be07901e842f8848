"""Changing the roster: add, edit, (de)activate and move workers. Each change keeps the
assignment history (``worker_assignment``: the open row is the worker's current cell), runs in
a savepoint and writes one ``roster_change`` security-log row.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from geodata.accounts import Caller
from geodata.roster.checks import (
    NOT_IN_SCOPE,
    NotInScope,
    NumberUnavailable,
    RosterError,
    account_ref,
    clean_employee_no,
    clean_name,
    clean_note,
    clean_phone,
    log_roster,
    require_roster,
    worker_in_scope,
)
from geodata.stats import NOW_SQL, check_code
from gridcmd.vocab import DUTY_STATUSES

__all__ = [
    "add_worker",
    "deactivate_worker",
    "edit_worker",
    "move_worker",
    "reactivate_worker",
]

#: Workers may be assigned to grids (L5) and micro-grids (L6) only.
ASSIGNABLE_LEVELS = (5, 6)


def _cell(conn: Connection, scope: str, code: Any):
    """An assignable cell (L5/L6) inside ``scope``; NotInScope / RosterError otherwise."""
    try:
        code = check_code(str(code or "").strip())
    except ValueError:
        raise RosterError("Invalid cell code.") from None
    row = conn.execute(
        text(
            "SELECT id, code, name, level FROM grid_cell "
            "WHERE code = :code AND path <@ CAST(:scope AS ltree)"
        ),
        {"code": code, "scope": scope},
    ).one_or_none()
    if row is None:
        raise NotInScope(NOT_IN_SCOPE)
    if row.level not in ASSIGNABLE_LEVELS:
        raise RosterError("Workers are assigned to grids or micro-grids (levels 5 and 6).")
    return row


def _open_assignment(conn: Connection, worker_id: int, cell_id: int, by: int | None,
                     note: str, now: dt.datetime | None) -> None:  # fmt: skip
    conn.execute(
        text(
            "INSERT INTO worker_assignment (worker_id, cell_id, started_at, changed_by, note) "
            f"VALUES (:w, :c, {NOW_SQL}, :by, :note)"
        ),
        {"w": worker_id, "c": cell_id, "by": by, "note": note, "now": now},
    )


def _close_assignment(conn: Connection, worker_id: int, now: dt.datetime | None) -> None:
    conn.execute(
        text(
            f"UPDATE worker_assignment SET ended_at = greatest(started_at, {NOW_SQL}) "
            "WHERE worker_id = :w AND ended_at IS NULL"
        ),
        {"w": worker_id, "now": now},
    )


def add_worker(
    conn: Connection,
    caller: Caller,
    employee_no: str,
    name: str,
    phone: str,
    cell_code: str,
    *,
    duty_status: str = "off_duty",
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Add an active worker assigned to ``cell_code`` (a grid or micro-grid in scope) and open
    their assignment. RosterError on invalid input or a number used in the scope;
    :class:`NumberUnavailable` for a number the database refuses otherwise; NotInScope for an
    unknown or out-of-scope cell; PermissionError without ``roster``.

    Why the answer to a taken number is safe: employee numbers are unique prefecture-wide (the
    phone tokens key on them), so an add whose number is taken anywhere must fail. Inside the
    scope the answer names the number as in use — the caller can list that worker anyway.
    Outside it, the answer is :data:`~geodata.roster.checks.NOT_SAVED` and nothing else: the
    panel's words for any write the database refused (a constraint, a concurrent change), with
    no number, name, cell or county. It does not confirm a record out of scope; what remains —
    "this number cannot be added" — is inherent to a prefecture-wide unique number, costs a
    roster-permission account one audited write per guess, and each refusal is a ``denied`` row
    for auditors (callbacks.roster). Numbers that never collide across counties would need
    per-county numbering, a data change this function does not make."""
    scope = require_roster(caller)
    employee_no = clean_employee_no(employee_no)
    name = clean_name(name)
    phone = clean_phone(phone)
    if duty_status not in DUTY_STATUSES:
        raise RosterError("Invalid duty status.")
    with conn.begin_nested():
        cell = _cell(conn, scope, cell_code)
        if worker_in_scope(conn, scope, employee_no) is not None:  # visible to the caller anyway
            raise RosterError("Employee number already in use.", employee_no)
        try:
            worker_id = conn.execute(
                text(
                    "INSERT INTO grid_worker (employee_no, name, phone, cell_id, duty_status, "
                    "active, synthetic) VALUES (:no, :name, :phone, :cell, :duty, true, false) "
                    "RETURNING id"
                ),
                {"no": employee_no, "name": name, "phone": phone, "cell": cell.id,
                 "duty": duty_status},
            ).scalar_one()  # fmt: skip
        except IntegrityError:  # taken outside the scope (or by a concurrent add)
            raise NumberUnavailable() from None
        by = account_ref(conn, caller)
        _open_assignment(conn, worker_id, cell.id, by, "added", now)
        log_roster(conn, caller, "roster_change", employee_no, f"add cell={cell.code}")
    return {"employee_no": employee_no, "name": name, "cell_code": cell.code}


def edit_worker(
    conn: Connection,
    caller: Caller,
    employee_no: str,
    *,
    name: str | None = None,
    phone: str | None = None,
    duty_status: str | None = None,
) -> list[str]:
    """Change a worker's name, phone and/or duty status (None/'' leaves a field as it is);
    returns the names of the changed fields. Same errors as :func:`add_worker`."""
    scope = require_roster(caller)
    changes: dict[str, Any] = {}
    if name not in (None, ""):
        changes["name"] = clean_name(name)
    if phone not in (None, ""):
        changes["phone"] = clean_phone(phone)
    if duty_status not in (None, ""):
        if duty_status not in DUTY_STATUSES:
            raise RosterError("Invalid duty status.")
        changes["duty_status"] = duty_status
    if not changes:
        raise RosterError("Nothing to change.")
    with conn.begin_nested():
        w = worker_in_scope(conn, scope, employee_no, lock=True)
        if w is None:
            raise NotInScope(NOT_IN_SCOPE)
        sets = ", ".join(f"{k} = :{k}" for k in changes)  # keys from the fixed set above
        conn.execute(text(f"UPDATE grid_worker SET {sets} WHERE id = :id"), {**changes, "id": w.id})
        log_roster(conn, caller, "roster_change", w.employee_no,
                   "edit " + ",".join(sorted(changes)))  # fmt: skip
    return sorted(changes)


def _set_active(conn: Connection, caller: Caller, employee_no: str, active: bool, note: str,
                now: dt.datetime | None) -> None:  # fmt: skip
    scope = require_roster(caller)
    note = clean_note(note)
    with conn.begin_nested():
        w = worker_in_scope(conn, scope, employee_no, lock=True)
        if w is None:
            raise NotInScope(NOT_IN_SCOPE)
        if w.active == active:
            raise RosterError("The worker is already active." if active
                              else "The worker is already inactive.")  # fmt: skip
        by = account_ref(conn, caller)
        if active:
            conn.execute(text("UPDATE grid_worker SET active = true WHERE id = :id"), {"id": w.id})
            _open_assignment(conn, w.id, w.cell_id, by, note or "reactivated", now)
        else:
            conn.execute(
                text("UPDATE grid_worker SET active = false, duty_status = 'off_duty' "
                     "WHERE id = :id"), {"id": w.id},
            )  # fmt: skip
            _close_assignment(conn, w.id, now)
        what = ("reactivate" if active else "deactivate") + (f" note={note}" if note else "")
        log_roster(conn, caller, "roster_change", w.employee_no, what)


def deactivate_worker(conn: Connection, caller: Caller, employee_no: str, *, note: str = "",
                      now: dt.datetime | None = None) -> None:  # fmt: skip
    """Deactivate a worker: off duty, their open assignment closed (history kept)."""
    _set_active(conn, caller, employee_no, False, note, now)


def reactivate_worker(conn: Connection, caller: Caller, employee_no: str, *, note: str = "",
                      now: dt.datetime | None = None) -> None:  # fmt: skip
    """Reactivate a worker in their last cell (a new open assignment)."""
    _set_active(conn, caller, employee_no, True, note, now)


def move_worker(
    conn: Connection,
    caller: Caller,
    employee_no: str,
    new_cell_code: str,
    note: str = "",
    *,
    now: dt.datetime | None = None,
) -> dict[str, str]:
    """Move an active worker to another grid/micro-grid: close the open assignment, open a
    new one and update ``grid_worker.cell_id``, atomically. Both cells must be in scope."""
    scope = require_roster(caller)
    note = clean_note(note)
    with conn.begin_nested():
        w = worker_in_scope(conn, scope, employee_no, lock=True)
        if w is None:
            raise NotInScope(NOT_IN_SCOPE)
        if not w.active:
            raise RosterError("Reactivate the worker before moving them.")
        cell = _cell(conn, scope, new_cell_code)
        if cell.id == w.cell_id:
            raise RosterError("The worker is already assigned to this cell.")
        _close_assignment(conn, w.id, now)
        _open_assignment(conn, w.id, cell.id, account_ref(conn, caller), note, now)
        conn.execute(
            text("UPDATE grid_worker SET cell_id = :c WHERE id = :id"), {"c": cell.id, "id": w.id}
        )
        log_roster(conn, caller, "roster_change", w.employee_no,
                   f"move {w.cell_code}->{cell.code}")  # fmt: skip
    return {"from": w.cell_code, "to": cell.code}
