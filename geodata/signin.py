"""Password checks with one failure counter: sign-in and the password-change form.

Every place that checks an account's password against what a client typed counts a wrong one
in the same ``account.failed_logins`` column and honours the same ``locked_until``:
:data:`geodata.accounts.LOCKOUT_AFTER` consecutive failures lock the account for
:data:`geodata.accounts.LOCKOUT_FOR`, whichever form they came from. Otherwise a stolen
session cookie could guess the password on the change form without ever being locked out.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from geodata.accounts import (
    LOCKOUT_AFTER,
    LOCKOUT_FOR,
    AuthFailure,
    Caller,
    load_caller,
    verify_password,
)
from geodata.security_log import log_security

__all__ = ["authenticate", "check_current_password"]


def _record_failure(
    conn, row, *, username: str, ip: str | None, now: dt.datetime, what: str
) -> bool:
    """Count one wrong password of the locked-for-update account ``row`` (``id``,
    ``failed_logins``); log it as ``login_failed`` (``what``) and, at the limit, lock the
    account and log ``lockout``. Returns whether this failure locked it."""
    failures = row.failed_logins + 1
    locked = failures >= LOCKOUT_AFTER
    conn.execute(
        text("UPDATE account SET failed_logins = :f, locked_until = :l WHERE id = :id"),
        {"f": 0 if locked else failures, "l": now + LOCKOUT_FOR if locked else None,
         "id": row.id},
    )  # fmt: skip
    log_security(
        conn, "login_failed", account_id=row.id, username=username, ip=ip,
        detail=f"{what} ({failures} in a row)",
    )  # fmt: skip
    if locked:
        log_security(
            conn, "lockout", account_id=row.id, username=username, ip=ip,
            detail=f"{LOCKOUT_AFTER} failures: locked until {(now + LOCKOUT_FOR).isoformat()}",
        )  # fmt: skip
    return locked


def _clear_failures(conn, account_id: int) -> None:
    conn.execute(
        text("UPDATE account SET failed_logins = 0, locked_until = NULL WHERE id = :id"),
        {"id": account_id},
    )


def authenticate(
    conn, username: str, password: str, *, ip: str | None, now: dt.datetime
) -> Caller | AuthFailure:
    """Check a username and password: the :class:`Caller`, or why not (:class:`AuthFailure`).

    Every outcome is written to the security log. :data:`LOCKOUT_AFTER` consecutive failures
    lock the account for :data:`LOCKOUT_FOR` (a locked account is refused even with the right
    password). Unknown usernames cost one hash verification like known ones. The caller
    commits ``conn``."""
    username = (username or "").strip()[:64]
    row = conn.execute(
        text(
            """
            SELECT id, password_hash, active, failed_logins, locked_until FROM account
            WHERE lower(username) = lower(:u) FOR UPDATE
            """
        ),
        {"u": username},
    ).first()
    ok = verify_password(row.password_hash if row else None, password or "")
    if row is None:
        log_security(conn, "login_failed", username=username, ip=ip, detail="unknown user")
        return AuthFailure.BAD_CREDENTIALS
    if row.locked_until is not None and row.locked_until > now:
        log_security(
            conn, "login_failed", account_id=row.id, username=username, ip=ip, detail="locked"
        )
        return AuthFailure.LOCKED
    if not ok:
        _record_failure(conn, row, username=username, ip=ip, now=now, what="wrong password")
        return AuthFailure.BAD_CREDENTIALS
    if not row.active:
        log_security(
            conn, "login_failed", account_id=row.id, username=username, ip=ip, detail="disabled"
        )
        return AuthFailure.DISABLED
    _clear_failures(conn, row.id)
    caller = load_caller(conn, row.id)
    assert caller is not None
    return caller


def check_current_password(
    conn, account_id: int, password: str, *, ip: str | None, now: dt.datetime
) -> AuthFailure | None:
    """Re-check the signed-in account's own password (the password-change form): ``None``
    when right, else :attr:`AuthFailure.BAD_CREDENTIALS` or :attr:`AuthFailure.LOCKED`.

    The same counter and lock as :func:`authenticate`: a wrong password counts towards
    :data:`LOCKOUT_AFTER` (sign-in failures and these add up), and while the account is
    locked the answer is ``LOCKED`` even for the right password, so a session cannot keep
    guessing. ``LOCKED`` is also returned by the failure that sets the lock. Logged as
    ``login_failed`` / ``lockout``; the caller commits ``conn``."""
    row = conn.execute(
        text(
            """
            SELECT id, username, password_hash, failed_logins, locked_until FROM account
            WHERE id = :id FOR UPDATE
            """
        ),
        {"id": account_id},
    ).first()
    ok = verify_password(row.password_hash if row else None, password or "")
    if row is None:
        return AuthFailure.BAD_CREDENTIALS
    if row.locked_until is not None and row.locked_until > now:
        log_security(conn, "login_failed", account_id=row.id, username=row.username, ip=ip,
                     detail="locked (password change)")  # fmt: skip
        return AuthFailure.LOCKED
    if not ok:
        locked = _record_failure(
            conn, row, username=row.username, ip=ip, now=now,
            what="wrong current password on password change",
        )  # fmt: skip
        return AuthFailure.LOCKED if locked else AuthFailure.BAD_CREDENTIALS
    _clear_failures(conn, row.id)
    return None
