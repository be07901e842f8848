"""The TOTP second factor (RFC 6238, 6 digits, 30 s): per-role policy, enrolment and the check.

A role's policy (``role_policy.totp_required``) makes every account of the role pass a second
step after the password; an account with an enrolled secret must pass it whatever its role's
policy (:func:`geodata.sessions.session_caller` decides who still needs it). The dashboard's
pages for it are in ``api/second_factor.py``; see ``docs/security.md``.
"""

from __future__ import annotations

import datetime as dt

import pyotp
from sqlalchemy import text

from geodata.accounts import check_role
from geodata.security_log import log_security

__all__ = ["enrol_totp", "set_totp_required", "totp_status", "verify_totp"]


def set_totp_required(conn, role: str, required: bool) -> None:
    """Require (or not) a TOTP second factor for every account of ``role`` (role_policy)."""
    check_role(role)
    conn.execute(
        text(
            """
            INSERT INTO role_policy (role, totp_required, updated_at) VALUES (:r, :q, now())
            ON CONFLICT (role) DO UPDATE SET totp_required = :q, updated_at = now()
            """
        ),
        {"r": role, "q": required},
    )
    log_security(conn, "account_change", detail=f"totp {'required' if required else 'optional'} "
                 f"for role {role}")  # fmt: skip


def totp_status(conn, account_id: int) -> tuple[bool, bool]:
    """(enrolled, required by the role policy) for an account."""
    row = conn.execute(
        text(
            """
            SELECT a.totp_secret IS NOT NULL AS enrolled,
                   coalesce(p.totp_required, false) AS required
            FROM account a LEFT JOIN role_policy p ON p.role = a.role WHERE a.id = :id
            """
        ),
        {"id": account_id},
    ).one()
    return row.enrolled, row.required


def verify_totp(conn, account_id: int, code: str, *, now: dt.datetime) -> bool:
    """Whether ``code`` is the account's current TOTP code (±30 s of clock drift)."""
    secret = conn.execute(
        text("SELECT totp_secret FROM account WHERE id = :id"), {"id": account_id}
    ).scalar()
    code = (code or "").strip().replace(" ", "")
    if not secret or not code.isdigit() or len(code) != 6:
        return False
    return pyotp.TOTP(secret).verify(code, for_time=now, valid_window=1)


def enrol_totp(conn, account_id: int, secret: str, code: str, *, now: dt.datetime) -> bool:
    """Store ``secret`` as the account's second factor if ``code`` proves the authenticator
    holds it; returns whether it was stored."""
    code = (code or "").strip().replace(" ", "")
    try:
        ok = (
            code.isdigit()
            and len(code) == 6
            and pyotp.TOTP(secret).verify(code, for_time=now, valid_window=1)
        )
    except Exception:  # noqa: BLE001 (a malformed secret from the form)
        ok = False
    if ok:
        conn.execute(
            text("UPDATE account SET totp_secret = :s WHERE id = :id"),
            {"s": secret, "id": account_id},
        )
    return bool(ok)
