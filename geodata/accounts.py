"""Accounts, roles and what each role may do; the :class:`Caller` every scoped query takes.

The caller's scope is the ltree path of the account's jurisdiction cell; every query that
returns field data filters by ``path <@ scope`` (see ``docs/security.md``). Sign-in is
:mod:`geodata.signin`, sessions :mod:`geodata.sessions`, the TOTP second factor
:mod:`geodata.second_factor`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import text

from geodata.security_log import log_security
from gridcmd.vocab import PERMISSIONS, ROLES

__all__ = [
    "LOCKOUT_AFTER",
    "LOCKOUT_FOR",
    "AccountError",
    "AuthFailure",
    "Caller",
    "change_password",
    "account_id_for",
    "check_password_policy",
    "check_role",
    "create_account",
    "disable",
    "has_permission",
    "hash_password",
    "caller_from_row",
    "list_accounts",
    "load_caller",
    "reset_password",
    "revoke_all",
    "set_password_hash_parameters",
    "set_role",
    "verify_password",
]


@dataclass(frozen=True)
class Caller:
    """Who is asking, as the server knows it (from the session; never from the browser)."""

    account_id: int
    username: str
    display_name: str
    role: str
    #: ltree path of the jurisdiction cell, e.g. '532900.532901'.
    scope_path: str
    can_unmask: bool = False
    worker_id: int | None = None
    session_id: int | None = None
    #: The account must choose a new password before anything else (set by the session check).
    must_change_password: bool = False
    #: A second factor is required (role policy or enrolled) and not yet given in this session.
    needs_second_factor: bool = False
    #: The department unit of a ``department`` account (None for every other role).
    department_id: int | None = None

    @property
    def scope_code(self) -> str:
        """The code of the jurisdiction cell (the last label of the path)."""
        return self.scope_path.rsplit(".", 1)[-1]


def has_permission(caller: Caller | None, permission: str) -> bool:
    """Whether ``caller`` may do ``permission`` (``unmask`` also needs ``can_unmask``)."""
    if caller is None:
        return False
    allowed = permission in PERMISSIONS.get(caller.role, frozenset())
    if permission == "unmask":
        return allowed and caller.can_unmask
    return allowed


# ----------------------------------------------------------------------------- passwords

#: Consecutive failed logins that lock an account, and for how long.
LOCKOUT_AFTER = 5
LOCKOUT_FOR = dt.timedelta(minutes=15)
PASSWORD_MIN_LENGTH = 10

#: The argon2id parameters of every password hash made in production: RFC 9106's "low
#: memory" profile (the library's defaults), ~0.15 s per hash. Pinned by
#: tests/geodata/test_password_hashing.py, so a cheaper setting cannot slip in here.
PASSWORD_HASH_PARAMETERS = {"time_cost": 3, "memory_cost": 65536, "parallelism": 4}  # KiB

_HASHER = PasswordHasher(**PASSWORD_HASH_PARAMETERS)
#: Verified against for unknown usernames, so they cost about as much time as a known one.
_DUMMY_HASH = _HASHER.hash("gridcmd-dummy-password-not-used")


def set_password_hash_parameters(**params: int) -> None:
    """Hash new passwords with these argon2id parameters (``time_cost``, ``memory_cost`` in
    KiB, ``parallelism``) in this process; no arguments: back to
    :data:`PASSWORD_HASH_PARAMETERS`.

    For the test suite only (tests/conftest.py lowers the cost so that hundreds of test
    accounts do not each spend 64 MiB and ~0.15 s). Nothing in the application calls it;
    hashes made either way verify either way, since a hash carries its own parameters."""
    global _HASHER, _DUMMY_HASH
    _HASHER = PasswordHasher(**(params or PASSWORD_HASH_PARAMETERS))
    _DUMMY_HASH = _HASHER.hash("gridcmd-dummy-password-not-used")


class AccountError(ValueError):
    """A refused account operation (unknown user, bad role or cell, weak password ...);
    ``msgid`` is the translatable text (gridcmd.i18n), ``str(exc)`` the English one."""

    def __init__(self, msgid: str, **fmt: object) -> None:
        self.msgid = msgid
        self.fmt = fmt
        super().__init__(msgid.format(**fmt) if fmt else msgid)


class AuthFailure(StrEnum):
    """Why :func:`authenticate` refused (for the security log; the login page shows one
    generic message for all of them, so a username's existence does not leak)."""

    BAD_CREDENTIALS = "bad_credentials"
    LOCKED = "locked"
    DISABLED = "disabled"


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string) of ``password``."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (``None`` never matches, but costs the
    same time)."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def check_password_policy(password: str, username: str = "") -> list[str]:
    """The policy's objections to ``password`` as msgids (empty list = acceptable): at least
    10 characters, 3 of 4 classes (lower, upper, digit, other), not the username."""
    problems: list[str] = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append("The password must have at least 10 characters.")
    classes = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if classes < 3:
        problems.append(
            "The password must mix at least 3 of: lower-case, upper-case, digits, symbols."
        )
    if username and username.strip().lower() in password.lower():
        problems.append("The password must not contain the username.")
    return problems


def _require_policy(password: str, username: str) -> None:
    problems = check_password_policy(password, username)
    if problems:
        raise AccountError(problems[0])


def _cell_id(conn, code: str) -> int:
    cell = conn.execute(text("SELECT id FROM grid_cell WHERE code = :c"), {"c": code}).scalar()
    if cell is None:
        raise AccountError("No cell with code {code}.", code=code)
    return cell


def _check_department(conn, role: str, department_id: int | None) -> int | None:
    """A ``department`` account needs an existing department (returns the id of its
    jurisdiction cell); no other role may have one (the database's ``ck_account_department``
    says the same; this says it clearly)."""
    if role != "department":
        if department_id is not None:
            raise AccountError("Only a department account belongs to a department.")
        return None
    if department_id is None:
        raise AccountError("A department account needs the department it belongs to.")
    cell = conn.execute(
        text("SELECT cell_id FROM department WHERE id = :id"), {"id": department_id}
    ).scalar()
    if cell is None:
        raise AccountError("No department with id {id}.", id=department_id)
    return cell


def check_role(role: str) -> None:
    """AccountError unless ``role`` is one of :data:`gridcmd.vocab.ROLES`."""
    if role not in ROLES:
        raise AccountError(
            "Unknown role {role}; one of: {roles}.", role=role, roles=", ".join(ROLES)
        )


# ----------------------------------------------------------------------------- accounts


def create_account(
    conn,
    username: str,
    display_name: str,
    role: str,
    jurisdiction_code: str,
    password: str,
    *,
    can_unmask: bool = False,
    worker_id: int | None = None,
    must_change_password: bool = False,
    synthetic: bool = False,
    department_id: int | None = None,
) -> int:
    """Create an account whose jurisdiction is the cell ``jurisdiction_code``; returns its id.

    Raises :class:`AccountError` for a taken username, an unknown role or cell, a weak
    password, a ``grid_worker`` account without ``worker_id``, or a ``department`` account
    without an existing ``department_id`` or whose jurisdiction is not the department's cell
    (and ``department_id`` for any other role)."""
    username = username.strip()
    if not username or len(username) > 64 or any(c.isspace() for c in username):
        raise AccountError("The username must be 1 to 64 characters without spaces.")
    check_role(role)
    if role == "grid_worker" and worker_id is None:
        raise AccountError("A grid_worker account needs the worker it belongs to.")
    department_cell = _check_department(conn, role, department_id)
    _require_policy(password, username)
    cell_id = _cell_id(conn, jurisdiction_code)
    if department_cell is not None and cell_id != department_cell:
        raise AccountError("A department account's jurisdiction is its department's cell.")
    if conn.execute(
        text("SELECT 1 FROM account WHERE lower(username) = lower(:u)"), {"u": username}
    ).first():
        raise AccountError("The username {username} is taken.", username=username)
    return conn.execute(
        text(
            """
            INSERT INTO account (username, display_name, role, jurisdiction_cell_id,
                                 password_hash, active, must_change_password,
                                 password_changed_at, can_unmask, worker_id, synthetic,
                                 department_id)
            VALUES (:u, :d, :r, :c, :h, true, :m, now(), :un, :w, :s, :dep)
            RETURNING id
            """
        ),
        {
            "u": username, "d": display_name or username, "r": role, "c": cell_id,
            "h": hash_password(password), "m": must_change_password, "un": can_unmask,
            "w": worker_id, "s": synthetic, "dep": department_id,
        },
    ).scalar_one()  # fmt: skip


_CALLER_SQL = """
    SELECT a.id, a.username, a.display_name, a.role, ltree2text(c.path) AS scope_path,
           a.can_unmask, a.worker_id, a.must_change_password, a.department_id
    FROM account a JOIN grid_cell c ON c.id = a.jurisdiction_cell_id
"""


def caller_from_row(
    row: Any, *, session_id: int | None = None, needs_second_factor: bool = False
) -> Caller:
    """The :class:`Caller` of an account row with the columns ``id, username, display_name,
    role, scope_path`` (the jurisdiction cell's path as text), ``can_unmask, worker_id,
    must_change_password, department_id``; the session's id and second-factor state come
    from the session check (:func:`geodata.sessions.session_caller`)."""
    return Caller(
        account_id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        scope_path=row.scope_path,
        can_unmask=row.can_unmask,
        worker_id=row.worker_id,
        session_id=session_id,
        must_change_password=row.must_change_password,
        needs_second_factor=needs_second_factor,
        department_id=row.department_id,
    )


def load_caller(conn, account_id: int) -> Caller | None:
    """The :class:`Caller` of an active account, or ``None``."""
    row = conn.execute(
        text(_CALLER_SQL + " WHERE a.id = :id AND a.active"), {"id": account_id}
    ).first()
    return caller_from_row(row) if row else None


def account_id_for(conn, username: str) -> int | None:
    """The id of the account ``username`` (case-insensitive), or ``None``."""
    return conn.execute(
        text("SELECT id FROM account WHERE lower(username) = lower(:u)"), {"u": username.strip()}
    ).scalar()


def _require_account(conn, username: str) -> int:
    account_id = account_id_for(conn, username)
    if account_id is None:
        raise AccountError("No account named {username}.", username=username)
    return account_id


def revoke_all(
    conn, account_id: int, *, now: dt.datetime, except_session: int | None = None
) -> int:
    """End every live session of ``account_id`` (but ``except_session``); returns how many.

    Here rather than in :mod:`geodata.sessions` because changing an account (password, role,
    disabling it) must end its sessions, and sessions are built on accounts, not the reverse."""
    return conn.execute(
        text(
            """
            UPDATE auth_session SET revoked_at = :now
            WHERE account_id = :a AND revoked_at IS NULL
              AND (CAST(:keep AS bigint) IS NULL OR id <> :keep)
            """
        ),
        {"now": now, "a": account_id, "keep": except_session},
    ).rowcount


def change_password(
    conn, account_id: int, new_password: str, *, now: dt.datetime, must_change: bool = False
) -> None:
    """Set a new password (policy checked); ``must_change`` forces a change at next login."""
    username = conn.execute(
        text("SELECT username FROM account WHERE id = :id"), {"id": account_id}
    ).scalar_one()
    _require_policy(new_password, username)
    conn.execute(
        text(
            """
            UPDATE account SET password_hash = :h, must_change_password = :m,
                   password_changed_at = :now, failed_logins = 0, locked_until = NULL
            WHERE id = :id
            """
        ),
        {"h": hash_password(new_password), "m": must_change, "now": now, "id": account_id},
    )


def reset_password(conn, username: str, *, now: dt.datetime) -> str:
    """Give ``username`` a random one-time password (returned) that must be changed at the
    next login; every session of the account is revoked."""
    account_id = _require_account(conn, username)
    # 16 url-safe characters + a fixed tail: always satisfies the policy's classes.
    temporary = secrets.token_urlsafe(12) + "-Aa1"
    change_password(conn, account_id, temporary, now=now, must_change=True)
    revoke_all(conn, account_id, now=now)
    log_security(conn, "account_change", account_id=account_id, username=username,
                 detail="password reset")  # fmt: skip
    return temporary


def disable(conn, username: str, *, now: dt.datetime) -> None:
    """Deactivate ``username`` and end all its sessions."""
    account_id = _require_account(conn, username)
    conn.execute(text("UPDATE account SET active = false WHERE id = :id"), {"id": account_id})
    revoke_all(conn, account_id, now=now)
    log_security(conn, "account_change", account_id=account_id, username=username,
                 detail="disabled")  # fmt: skip


def set_role(
    conn,
    username: str,
    role: str,
    *,
    jurisdiction_code: str | None = None,
    now: dt.datetime,
    department_id: int | None = None,
) -> None:
    """Change the role (and optionally the jurisdiction) of ``username``; its sessions end so
    the new scope applies at once. The ``department`` role needs ``department_id``; any other
    role clears the account's department."""
    check_role(role)
    department_cell = _check_department(conn, role, department_id)
    account_id = _require_account(conn, username)
    params = {"r": role, "id": account_id, "dep": department_id}
    sql = "UPDATE account SET role = :r, department_id = :dep"
    if jurisdiction_code is not None:
        params["c"] = _cell_id(conn, jurisdiction_code)
        sql += ", jurisdiction_cell_id = :c"
    if department_cell is not None:  # a department account's scope is its unit's cell
        if jurisdiction_code is not None and params["c"] != department_cell:
            raise AccountError("A department account's jurisdiction is its department's cell.")
        params["c"] = department_cell
        sql += "" if jurisdiction_code is not None else ", jurisdiction_cell_id = :c"
    conn.execute(text(sql + " WHERE id = :id"), params)
    revoke_all(conn, account_id, now=now)
    where = f" cell {jurisdiction_code}" if jurisdiction_code else ""
    log_security(conn, "account_change", account_id=account_id, username=username,
                 detail=f"role {role}{where}")  # fmt: skip


def list_accounts(conn, *, within: str | None = None) -> list[Any]:
    """Every account, for administration (``gridcmd user list``), ordered by jurisdiction path,
    role and username. Rows: ``username, display_name, role, code`` (of the jurisdiction cell),
    ``active, synthetic, must_change_password``, ``totp`` (a second factor is enrolled) and
    ``locked`` (locked out at the database's ``now()``). ``within``: only the accounts whose
    jurisdiction lies in the subtree of the cell with this code (none for an unknown code)."""
    return list(
        conn.execute(
            text(
                """
                SELECT a.username, a.display_name, a.role, c.code, a.active, a.synthetic,
                       a.must_change_password, a.totp_secret IS NOT NULL AS totp,
                       a.locked_until > now() AS locked
                FROM account a JOIN grid_cell c ON c.id = a.jurisdiction_cell_id
                WHERE CAST(:cell AS text) IS NULL
                   OR c.path <@ (SELECT path FROM grid_cell WHERE code = :cell)
                ORDER BY c.path, a.role, a.username
                """
            ),
            {"cell": within},
        ).all()
    )
