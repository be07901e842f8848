"""Server-side login sessions: the cookie carries a random token, the database its sha256.

A session ends when revoked (logout, password change, disable), after ``idle`` without a
request, or ``absolute`` after login, whichever comes first. ``last_seen_at`` is written at
most once a minute per session (not on every request). Ending every session of an account
(password reset, role change, disabling) is :func:`geodata.accounts.revoke_all`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import text

from geodata.accounts import Caller, caller_from_row
from geodata.security_log import log_security

__all__ = [
    "DEFAULT_ABSOLUTE",
    "DEFAULT_IDLE",
    "create_session",
    "mark_second_factor",
    "revoke_session",
    "session_caller",
    "token_hash",
]

DEFAULT_IDLE = dt.timedelta(minutes=30)
DEFAULT_ABSOLUTE = dt.timedelta(hours=12)
#: ``last_seen_at`` is refreshed when older than this (one write a minute, not per request).
TOUCH_EVERY = dt.timedelta(seconds=60)


def token_hash(token: str) -> str:
    """Hex sha256 of a session token (what the table stores)."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(
    conn,
    account_id: int,
    *,
    ip: str | None,
    ua: str | None,
    now: dt.datetime,
    absolute: dt.timedelta = DEFAULT_ABSOLUTE,
) -> str:
    """Start a session for ``account_id``; returns the token for the cookie (shown once). The
    second factor, if the account needs one, is still to pass (:func:`mark_second_factor`)."""
    token = secrets.token_urlsafe(32)
    conn.execute(
        text(
            """
            INSERT INTO auth_session (token_hash, account_id, created_at, last_seen_at,
                                      expires_at, second_factor_ok, ip, user_agent)
            VALUES (:h, :a, :now, :now, :exp, false, :ip, :ua)
            """
        ),
        {"h": token_hash(token), "a": account_id, "now": now, "exp": now + absolute,
         "ip": ip, "ua": (ua or "")[:300]},
    )  # fmt: skip
    return token


def session_caller(
    conn,
    token: str | None,
    *,
    now: dt.datetime,
    idle: dt.timedelta = DEFAULT_IDLE,
    absolute: dt.timedelta = DEFAULT_ABSOLUTE,
) -> Caller | None:
    """The :class:`Caller` of a live session ``token``, else ``None``.

    A session past its idle or absolute limit is revoked (and logged once as
    ``session_expired``). ``needs_second_factor`` is set when the account has a TOTP secret or
    its role policy requires one and this session has not passed the second step."""
    if not token or len(token) > 200:
        return None
    row = conn.execute(
        text(
            """
            SELECT s.id AS session_id, s.created_at, s.last_seen_at, s.expires_at,
                   s.second_factor_ok, s.revoked_at,
                   a.id, a.username, a.display_name, a.role, ltree2text(c.path) AS scope_path,
                   a.can_unmask, a.worker_id, a.must_change_password, a.active, a.department_id,
                   (a.totp_secret IS NOT NULL OR coalesce(p.totp_required, false)) AS totp_needed
            FROM auth_session s
            JOIN account a ON a.id = s.account_id
            JOIN grid_cell c ON c.id = a.jurisdiction_cell_id
            LEFT JOIN role_policy p ON p.role = a.role
            WHERE s.token_hash = :h
            """
        ),
        {"h": token_hash(token)},
    ).first()
    if row is None or row.revoked_at is not None or not row.active:
        return None
    expired = (
        now >= row.expires_at or now >= row.created_at + absolute or now >= row.last_seen_at + idle
    )
    if expired:
        conn.execute(
            text("UPDATE auth_session SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL"),
            {"now": now, "id": row.session_id},
        )
        log_security(conn, "session_expired", account_id=row.id, username=row.username,
                     detail=f"session {row.session_id}")  # fmt: skip
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        conn.execute(
            text("UPDATE auth_session SET last_seen_at = :now WHERE id = :id"),
            {"now": now, "id": row.session_id},
        )
    return caller_from_row(
        row,
        session_id=row.session_id,
        needs_second_factor=bool(row.totp_needed and not row.second_factor_ok),
    )


def mark_second_factor(conn, session_id: int) -> None:
    """Record that this session passed the second factor."""
    conn.execute(
        text("UPDATE auth_session SET second_factor_ok = true WHERE id = :id"), {"id": session_id}
    )


def revoke_session(conn, token: str | None, *, now: dt.datetime) -> int | None:
    """End the session of ``token``; returns its account id (``None`` if none was live)."""
    if not token:
        return None
    return conn.execute(
        text(
            """
            UPDATE auth_session SET revoked_at = :now
            WHERE token_hash = :h AND revoked_at IS NULL RETURNING account_id
            """
        ),
        {"now": now, "h": token_hash(token)},
    ).scalar()
