"""The grid-worker roster (布网、划格、定人、明责): list, add, edit, (de)activate and move workers
between cells with the assignment history kept, and record their training.

Every function takes the caller's scope (an ltree path) and checks that the target worker's
cell and the target cell lie in it (``path <@ scope``). A worker or cell that is unknown or
outside the scope is the same answer: ``None`` for reads, :class:`NotInScope` (a LookupError)
for writes, so a caller cannot probe another area. Writes also re-check the caller's
``roster`` permission (PermissionError) — the callbacks check it too; this is the second line.

Phone numbers never leave this module unmasked (``138****1234``). Every change writes one
``roster_change`` row to the append-only security log (who, what, which worker; never a phone
number). Writes run in a savepoint of the caller's transaction, so a failure half-way leaves
nothing behind; the caller commits.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from geodata.accounts import Caller, has_permission
from geodata.cells import check_scope_path
from geodata.safe_text import strip_bidi
from geodata.stats import check_code, custom_plans
from gridcmd.vocab import DUTY_STATUSES, TZ

__all__ = [
    "NotInScope",
    "NumberUnavailable",
    "RosterError",
    "add_worker",
    "assignment_history",
    "deactivate_worker",
    "edit_worker",
    "list_workers",
    "log_roster",
    "mask_phone",
    "move_worker",
    "reactivate_worker",
    "record_training",
    "training_summary",
    "worker_trainings",
]

#: Workers may be assigned to grids (L5) and micro-grids (L6) only.
ASSIGNABLE_LEVELS = (5, 6)
MAX_TRAINEES = 500

_EMPLOYEE_NO = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{2,31}")
# Mainland mobile (11 digits from 13x–19x) or a landline with its area code (0872-1234567).
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NOW = "coalesce(CAST(:now AS timestamptz), now())"

NOT_IN_SCOPE = "Unknown worker or cell, or outside your jurisdiction."
NO_PERMISSION = "You may not manage grid workers."
#: The panel's words for any write the database refused (callbacks.roster.FAILED).
NOT_SAVED = "The change failed; nothing was saved."


class RosterError(ValueError):
    """Invalid input for a roster change; ``msgid`` is the English message (a msgid of the
    UI catalogs) and ``args[0]`` the same text with details."""

    def __init__(self, msgid: str, detail: str = "") -> None:
        super().__init__(f"{msgid} {detail}".strip())
        self.msgid = msgid


class NumberUnavailable(RosterError):
    """An added worker's employee number cannot be used, and the caller may not be told why
    (it belongs to a worker outside the scope): :data:`NOT_SAVED`, no detail. See
    :func:`add_worker`."""

    def __init__(self) -> None:
        super().__init__(NOT_SAVED)


class NotInScope(LookupError):
    """The worker or cell is unknown or outside the caller's scope (indistinguishable)."""

    msgid = NOT_IN_SCOPE


def mask_phone(phone: str | None) -> str:
    """``138****1234``: the first three and last four digits of a phone number, the rest
    starred; short or empty numbers are starred entirely."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) < 8:
        return "****" if digits else ""
    return f"{digits[:3]}****{digits[-4:]}"


def _clean_phone(phone: Any) -> str:
    value = re.sub(r"[\s()]", "", str(phone or ""))
    if value.startswith("+86"):
        value = value[3:]
    if not (_MOBILE.fullmatch(value) or _LANDLINE.fullmatch(value)):
        raise RosterError(
            "Invalid phone number: 11-digit mobile (1xxxxxxxxxx) or landline (0872-1234567)."
        )
    return value


def _clean_name(name: Any) -> str:
    value = strip_bidi(str(name or "")).strip()
    if not 1 <= len(value) <= 40 or _CONTROL.search(value):
        raise RosterError("Name must be 1 to 40 characters.")
    return value


def _clean_employee_no(employee_no: Any) -> str:
    value = str(employee_no or "").strip()
    if not _EMPLOYEE_NO.fullmatch(value):
        raise RosterError("Employee number: 3 to 32 letters, digits or hyphens.")
    return value


def _clean_note(note: Any, limit: int = 200) -> str:
    value = _CONTROL.sub(" ", strip_bidi(str(note or ""))).strip()
    if len(value) > limit:
        raise RosterError("Note too long.", f"(max {limit})")
    return value


def _require(caller: Caller) -> str:
    if not has_permission(caller, "roster"):
        raise PermissionError(NO_PERMISSION)
    return check_scope_path(caller.scope_path)


def _account_ref(conn: Connection, caller: Caller) -> int | None:
    """The caller's account id when the account exists (FK columns), else None."""
    return conn.execute(
        text("SELECT id FROM account WHERE id = :id"), {"id": caller.account_id}
    ).scalar()


def log_roster(
    conn: Connection,
    caller: Caller,
    kind: str,
    target: str,
    detail: str = "",
    ip: str | None = None,
) -> None:
    """One security-log row (``kind`` 'roster_change' or 'denied') for ``caller``; ``target``
    is the worker's employee number (or a short description). No personal data."""
    account_id = _account_ref(conn, caller)
    try:
        from geodata.security_log import log_security
    except ImportError:  # the auth work provides it; same row either way
        conn.execute(
            text(
                "INSERT INTO security_log (kind, account_id, username, ip, target, detail) "
                "VALUES (:kind, :account_id, :username, :ip, :target, :detail)"
            ),
            {"kind": kind, "account_id": account_id, "username": caller.username, "ip": ip,
             "target": target[:200], "detail": detail[:1000]},
        )  # fmt: skip
        return
    log_security(
        conn, kind, account_id=account_id, username=caller.username, ip=ip,
        target=target[:200], detail=detail[:1000],
    )  # fmt: skip


def _worker(conn: Connection, scope: str, employee_no: Any, *, lock: bool = False):
    """The worker row (with its cell's code and path) inside ``scope``, or None."""
    if not isinstance(employee_no, str) or not _EMPLOYEE_NO.fullmatch(employee_no.strip()):
        return None
    return conn.execute(
        text(
            "SELECT w.id, w.employee_no, w.name, w.cell_id, w.duty_status, w.active, "
            "       c.code AS cell_code, c.level AS cell_level "
            "FROM grid_worker AS w JOIN grid_cell AS c ON c.id = w.cell_id "
            "WHERE w.employee_no = :no AND c.path <@ CAST(:scope AS ltree)"
            + (" FOR UPDATE OF w" if lock else "")
        ),
        {"no": employee_no.strip(), "scope": scope},
    ).one_or_none()


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


def list_workers(
    conn: Connection,
    scope_path: str,
    *,
    cell_code: str | None = None,
    query: str | None = None,
    active: bool | None = None,
    limit: int = 50,
    offset: int = 0,
    now: dt.datetime | None = None,
) -> dict[str, Any] | None:
    """``{"total": n, "rows": [...]}``: the workers of the scope (of the subtree of
    ``cell_code`` when given), filtered by ``query`` (part of the name or employee number)
    and ``active``, ordered by employee number. Each row: ``employee_no, name, phone``
    (masked), ``cell_code, cell_name, cell_level, duty_status, active, fix_age_s`` (seconds
    since the last fix, None without one) and ``trainings`` (sessions attended). None when
    ``cell_code`` is unknown or outside the scope."""
    scope = check_scope_path(scope_path)
    if not (isinstance(limit, int) and 1 <= limit <= 500 and isinstance(offset, int)
            and offset >= 0):  # fmt: skip
        raise ValueError("limit must be 1–500 and offset >= 0")
    under = None
    if cell_code:
        under = conn.execute(
            text("SELECT path::text FROM grid_cell WHERE code = :c AND path <@ CAST(:s AS ltree)"),
            {"c": check_code(cell_code), "s": scope},
        ).scalar()
        if under is None:
            return None
    q = (query or "").strip()
    if len(q) > 50:
        raise ValueError("query too long")
    pattern = "%" + q.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
    custom_plans(conn)
    rows = conn.execute(
        text(
            f"""
            SELECT w.employee_no, w.name, w.phone, c.code AS cell_code, c.name AS cell_name,
                   c.level AS cell_level, w.duty_status, w.active,
                   extract(epoch FROM {_NOW} - w.last_fix_at) AS fix_age_s,
                   (SELECT count(*) FROM worker_training AS t WHERE t.worker_id = w.id)
                       AS trainings,
                   count(*) OVER () AS total
            FROM grid_worker AS w JOIN grid_cell AS c ON c.id = w.cell_id
            WHERE c.path <@ CAST(:scope AS ltree)
              AND (CAST(:under AS text) IS NULL OR c.path <@ CAST(:under AS ltree))
              AND (CAST(:active AS boolean) IS NULL OR w.active = :active)
              AND (:q = '' OR w.name LIKE :pat OR w.employee_no ILIKE :pat)
            ORDER BY w.employee_no
            LIMIT :limit OFFSET :offset
            """
        ),
        {"scope": scope, "under": under, "active": active, "q": q, "pat": pattern,
         "limit": limit, "offset": offset, "now": now},
    ).mappings().all()  # fmt: skip
    out = []
    for r in rows:
        d = dict(r)
        d["phone"] = mask_phone(d["phone"])
        d["fix_age_s"] = None if d["fix_age_s"] is None else float(d["fix_age_s"])
        out.append(d)
    total = int(rows[0]["total"]) if rows else 0
    if not rows and offset:
        total = list_workers(conn, scope, cell_code=cell_code, query=query, active=active,
                             limit=1, now=now)["total"]  # fmt: skip
    for d in out:
        d.pop("total")
    return {"total": total, "rows": out}


def _open_assignment(conn: Connection, worker_id: int, cell_id: int, by: int | None,
                     note: str, now: dt.datetime | None) -> None:  # fmt: skip
    conn.execute(
        text(
            "INSERT INTO worker_assignment (worker_id, cell_id, started_at, changed_by, note) "
            f"VALUES (:w, :c, {_NOW}, :by, :note)"
        ),
        {"w": worker_id, "c": cell_id, "by": by, "note": note, "now": now},
    )


def _close_assignment(conn: Connection, worker_id: int, now: dt.datetime | None) -> None:
    conn.execute(
        text(
            f"UPDATE worker_assignment SET ended_at = greatest(started_at, {_NOW}) "
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
    Outside it, the answer is :data:`NOT_SAVED` and nothing else: the panel's words for any
    write the database refused (a constraint, a concurrent change), with no number, name, cell
    or county. It does not confirm a record out of scope; what remains — "this number cannot
    be added" — is inherent to a prefecture-wide unique number, costs a roster-permission
    account one audited write per guess, and each refusal is a ``denied`` row for auditors
    (callbacks.roster). Numbers that never collide across counties would need per-county
    numbering, a data change this function does not make."""
    scope = _require(caller)
    employee_no = _clean_employee_no(employee_no)
    name = _clean_name(name)
    phone = _clean_phone(phone)
    if duty_status not in DUTY_STATUSES:
        raise RosterError("Invalid duty status.")
    with conn.begin_nested():
        cell = _cell(conn, scope, cell_code)
        if _worker(conn, scope, employee_no) is not None:  # visible to the caller anyway
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
        by = _account_ref(conn, caller)
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
    scope = _require(caller)
    changes: dict[str, Any] = {}
    if name not in (None, ""):
        changes["name"] = _clean_name(name)
    if phone not in (None, ""):
        changes["phone"] = _clean_phone(phone)
    if duty_status not in (None, ""):
        if duty_status not in DUTY_STATUSES:
            raise RosterError("Invalid duty status.")
        changes["duty_status"] = duty_status
    if not changes:
        raise RosterError("Nothing to change.")
    with conn.begin_nested():
        w = _worker(conn, scope, employee_no, lock=True)
        if w is None:
            raise NotInScope(NOT_IN_SCOPE)
        sets = ", ".join(f"{k} = :{k}" for k in changes)  # keys from the fixed set above
        conn.execute(text(f"UPDATE grid_worker SET {sets} WHERE id = :id"), {**changes, "id": w.id})
        log_roster(conn, caller, "roster_change", w.employee_no,
                   "edit " + ",".join(sorted(changes)))  # fmt: skip
    return sorted(changes)


def _set_active(conn: Connection, caller: Caller, employee_no: str, active: bool, note: str,
                now: dt.datetime | None) -> None:  # fmt: skip
    scope = _require(caller)
    note = _clean_note(note)
    with conn.begin_nested():
        w = _worker(conn, scope, employee_no, lock=True)
        if w is None:
            raise NotInScope(NOT_IN_SCOPE)
        if w.active == active:
            raise RosterError("The worker is already active." if active
                              else "The worker is already inactive.")  # fmt: skip
        by = _account_ref(conn, caller)
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
    scope = _require(caller)
    note = _clean_note(note)
    with conn.begin_nested():
        w = _worker(conn, scope, employee_no, lock=True)
        if w is None:
            raise NotInScope(NOT_IN_SCOPE)
        if not w.active:
            raise RosterError("Reactivate the worker before moving them.")
        cell = _cell(conn, scope, new_cell_code)
        if cell.id == w.cell_id:
            raise RosterError("The worker is already assigned to this cell.")
        _close_assignment(conn, w.id, now)
        _open_assignment(conn, w.id, cell.id, _account_ref(conn, caller), note, now)
        conn.execute(
            text("UPDATE grid_worker SET cell_id = :c WHERE id = :id"), {"c": cell.id, "id": w.id}
        )
        log_roster(conn, caller, "roster_change", w.employee_no,
                   f"move {w.cell_code}->{cell.code}")  # fmt: skip
    return {"from": w.cell_code, "to": cell.code}


def assignment_history(
    conn: Connection, scope_path: str, employee_no: str
) -> list[dict[str, Any]] | None:
    """The worker's assignments, newest first: ``cell_code, cell_name, cell_level,
    started_at, ended_at, changed_by`` (username), ``note``. A past cell outside the scope
    shows no code or name. None when the worker is unknown or outside the scope."""
    scope = check_scope_path(scope_path)
    w = _worker(conn, scope, employee_no)
    if w is None:
        return None
    rows = conn.execute(
        text(
            """
            SELECT CASE WHEN c.path <@ CAST(:scope AS ltree) THEN c.code END AS cell_code,
                   CASE WHEN c.path <@ CAST(:scope AS ltree) THEN c.name END AS cell_name,
                   c.level AS cell_level, a.started_at, a.ended_at,
                   acc.username AS changed_by, a.note
            FROM worker_assignment AS a
            JOIN grid_cell AS c ON c.id = a.cell_id
            LEFT JOIN account AS acc ON acc.id = a.changed_by
            WHERE a.worker_id = :w
            ORDER BY a.started_at DESC, a.id DESC
            """
        ),
        {"scope": scope, "w": w.id},
    ).mappings()
    return [dict(r) for r in rows]


def worker_trainings(
    conn: Connection, scope_path: str, employee_no: str
) -> list[dict[str, Any]] | None:
    """The training sessions a worker attended (``held_on, title, hours``), newest first;
    None when the worker is unknown or outside the scope."""
    w = _worker(conn, check_scope_path(scope_path), employee_no)
    if w is None:
        return None
    rows = conn.execute(
        text("SELECT held_on, title, hours FROM worker_training WHERE worker_id = :w "
             "ORDER BY held_on DESC, id DESC"), {"w": w.id},
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def record_training(
    conn: Connection,
    caller: Caller,
    employee_nos: Iterable[str],
    held_on: dt.date | str,
    title: str,
    hours: float | str,
    *,
    today: dt.date | None = None,
) -> int:
    """Record one training session (``held_on``, ``title``, ``hours``) attended by the
    workers ``employee_nos`` (all in scope, else NotInScope and nothing recorded); returns
    the number of workers recorded. A worker already recorded for the same session counts
    once."""
    scope = _require(caller)
    nos = sorted({str(n).strip() for n in employee_nos or () if str(n).strip()})
    if not nos:
        raise RosterError("Select at least one worker.")
    if len(nos) > MAX_TRAINEES:
        raise RosterError("Too many workers for one session.", f"(max {MAX_TRAINEES})")
    try:
        day = held_on if isinstance(held_on, dt.date) else dt.date.fromisoformat(str(held_on))
    except ValueError:
        raise RosterError("Invalid date (YYYY-MM-DD).") from None
    today = today or dt.datetime.now(TZ).date()  # the dashboard's calendar
    if not dt.date(2000, 1, 1) <= day <= today:
        raise RosterError("The training date must not be in the future.")
    title = _clean_note(title, 120)
    if not title:
        raise RosterError("Title must be 1 to 120 characters.")
    try:
        h = float(hours)
    except (TypeError, ValueError):
        raise RosterError("Hours must be a number from 0.5 to 24.") from None
    if not 0.5 <= h <= 24:
        raise RosterError("Hours must be a number from 0.5 to 24.")
    with conn.begin_nested():
        found = (
            conn.execute(
                text(
                    "SELECT w.id FROM grid_worker AS w JOIN grid_cell AS c ON c.id = w.cell_id "
                    "WHERE w.employee_no = ANY(:nos) AND c.path <@ CAST(:scope AS ltree)"
                ),
                {"nos": nos, "scope": scope},
            )
            .scalars()
            .all()
        )
        if len(found) != len(nos):
            raise NotInScope(NOT_IN_SCOPE)
        n = conn.execute(
            text(
                """
                INSERT INTO worker_training (worker_id, held_on, title, hours, recorded_by)
                SELECT w, :day, :title, :hours, :by FROM unnest(CAST(:ids AS bigint[])) AS w
                WHERE NOT EXISTS (SELECT 1 FROM worker_training AS t
                                  WHERE t.worker_id = w AND t.held_on = :day AND t.title = :title)
                """
            ),
            {"day": day, "title": title, "hours": h, "by": _account_ref(conn, caller),
             "ids": list(found)},
        ).rowcount  # fmt: skip
        shown = ",".join(nos[:20]) + (f",… ({len(nos)})" if len(nos) > 20 else "")
        log_roster(conn, caller, "roster_change", f"training {day.isoformat()}",
                   f"training title={title} hours={h:g} workers={shown}")  # fmt: skip
    return n


def training_summary(conn: Connection, scope_path: str) -> dict[str, Any]:
    """Training in the scope: ``sessions`` (distinct date + title attended by a worker of the
    scope), ``attendances``, ``hours`` (person-hours), ``workers_trained``, ``active_workers``,
    ``active_trained`` and ``coverage`` (share of active workers with at least one training,
    0–1; None without active workers)."""
    scope = check_scope_path(scope_path)
    custom_plans(conn)
    r = (
        conn.execute(
            text(
                """
            WITH w AS (
                SELECT w.id, w.active FROM grid_worker AS w JOIN grid_cell AS c
                ON c.id = w.cell_id WHERE c.path <@ CAST(:scope AS ltree)
            ),
            t AS (SELECT t.* FROM worker_training AS t JOIN w ON w.id = t.worker_id)
            SELECT (SELECT count(*) FROM (SELECT DISTINCT held_on, title FROM t) AS s)
                       AS sessions,
                   (SELECT count(*) FROM t) AS attendances,
                   (SELECT coalesce(sum(hours), 0) FROM t) AS hours,
                   (SELECT count(DISTINCT worker_id) FROM t) AS workers_trained,
                   (SELECT count(*) FROM w WHERE active) AS active_workers,
                   (SELECT count(*) FROM w WHERE active AND EXISTS (
                        SELECT 1 FROM worker_training AS x WHERE x.worker_id = w.id))
                       AS active_trained
            """
            ),
            {"scope": scope},
        )
        .mappings()
        .one()
    )
    out = {k: (float(v) if k == "hours" else int(v)) for k, v in r.items()}
    out["coverage"] = (
        out["active_trained"] / out["active_workers"] if out["active_workers"] else None
    )
    return out
