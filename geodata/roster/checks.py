"""What every roster function checks, and how it answers: the caller's ``roster`` permission
and scope, a worker looked up inside the scope, the input rules (names, phone and employee
numbers, notes), the errors and messages the panel shows, the masked phone, and the
security-log row of each change.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.accounts import Caller, has_permission
from geodata.cells import check_scope_path
from geodata.safe_text import strip_bidi
from geodata.security_log import log_security

__all__ = [
    "NOT_IN_SCOPE",
    "NOT_SAVED",
    "NO_PERMISSION",
    "NotInScope",
    "NumberUnavailable",
    "RosterError",
    "account_ref",
    "clean_employee_no",
    "clean_name",
    "clean_note",
    "clean_phone",
    "log_roster",
    "mask_phone",
    "require_roster",
    "worker_in_scope",
]

_EMPLOYEE_NO = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{2,31}")
# Mainland mobile (11 digits from 13x–19x) or a landline with its area code (0872-1234567).
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

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
    :func:`geodata.roster.changes.add_worker`."""

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


def clean_phone(phone: Any) -> str:
    """A mainland mobile or landline number without spaces, brackets or ``+86``; RosterError
    for anything else."""
    value = re.sub(r"[\s()]", "", str(phone or ""))
    if value.startswith("+86"):
        value = value[3:]
    if not (_MOBILE.fullmatch(value) or _LANDLINE.fullmatch(value)):
        raise RosterError(
            "Invalid phone number: 11-digit mobile (1xxxxxxxxxx) or landline (0872-1234567)."
        )
    return value


def clean_name(name: Any) -> str:
    """A worker's name: 1–40 characters, no control or bidi characters; else RosterError."""
    value = strip_bidi(str(name or "")).strip()
    if not 1 <= len(value) <= 40 or _CONTROL.search(value):
        raise RosterError("Name must be 1 to 40 characters.")
    return value


def clean_employee_no(employee_no: Any) -> str:
    """An employee number: 3–32 letters, digits or hyphens; else RosterError."""
    value = str(employee_no or "").strip()
    if not _EMPLOYEE_NO.fullmatch(value):
        raise RosterError("Employee number: 3 to 32 letters, digits or hyphens.")
    return value


def clean_note(note: Any, limit: int = 200) -> str:
    """Free text (a note, a training title): control characters as spaces, bidi controls
    dropped, trimmed; RosterError when longer than ``limit``."""
    value = _CONTROL.sub(" ", strip_bidi(str(note or ""))).strip()
    if len(value) > limit:
        raise RosterError("Note too long.", f"(max {limit})")
    return value


def require_roster(caller: Caller) -> str:
    """The caller's scope path, if the caller has the ``roster`` permission (else
    PermissionError): the second line behind the callbacks' own check."""
    if not has_permission(caller, "roster"):
        raise PermissionError(NO_PERMISSION)
    return check_scope_path(caller.scope_path)


def account_ref(conn: Connection, caller: Caller) -> int | None:
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
    account_id = account_ref(conn, caller)
    log_security(
        conn, kind, account_id=account_id, username=caller.username, ip=ip,
        target=target[:200], detail=detail[:1000],
    )  # fmt: skip


def worker_in_scope(conn: Connection, scope: str, employee_no: Any, *, lock: bool = False) -> Any:
    """The worker ``employee_no`` (row: ``id, employee_no, name, cell_id, duty_status, active,
    cell_code, cell_level``) if their cell lies inside ``scope``, else None (unknown and out
    of scope are the same answer). ``lock``: ``FOR UPDATE`` of the worker row."""
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
