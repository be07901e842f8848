"""The append-only security log (logins, failures, lockouts, denials, exports, unmasking).

Rows are never updated or deleted (a trigger refuses it). Callers pass values that are already
masked where personal data is involved; passwords, tokens and secrets are never logged.
"""

from __future__ import annotations

from sqlalchemy import text

from gridcmd.vocab import SECURITY_KINDS

__all__ = [
    "log_denied_throttled",
    "log_security",
    "recent_failures_from",
    "recent_security_log",
    "second_factor_failures",
]

#: Longest stored text of a field (a hostile client cannot fill the log with megabytes).
_MAX = 500


def _cut(value: str | None) -> str | None:
    return None if value is None else str(value)[:_MAX]


def log_security(
    conn,
    kind: str,
    *,
    account_id: int | None = None,
    username: str | None = None,
    ip: str | None = None,
    target: str | None = None,
    detail: str = "",
) -> None:
    """Append one entry (``kind`` one of :data:`gridcmd.vocab.SECURITY_KINDS`) in the
    transaction of ``conn`` (it is kept only if that commits)."""
    if kind not in SECURITY_KINDS:
        raise ValueError(f"unknown security log kind {kind!r}")
    conn.execute(
        text(
            """
            INSERT INTO security_log (kind, account_id, username, ip, target, detail)
            VALUES (:k, :a, :u, :ip, :t, :d)
            """
        ),
        {"k": kind, "a": account_id, "u": _cut(username), "ip": _cut(ip), "t": _cut(target),
         "d": _cut(detail) or ""},
    )  # fmt: skip


def log_denied_throttled(
    conn,
    *,
    account_id: int | None,
    username: str | None,
    ip: str | None,
    target: str,
    detail: str,
) -> bool:
    """Log a ``denied`` entry unless the same one was logged in the last minute (keeps a
    scanner from flooding the log). Returns whether a row was written.

    "The same" is the whole key (ip, target, account id, username, detail): an anonymous 401
    on a path must not hide a signed-in account's CSRF refusal of that path from the same
    address (behind a proxy without trusted forwarding every user shares one address), nor
    one account's refusals another's, nor one reason another. ``detail`` should therefore be
    the reason's kind (``"403 csrf"``), not free text that varies per request."""
    written = conn.execute(
        text(
            """
            INSERT INTO security_log (kind, account_id, username, ip, target, detail)
            SELECT 'denied', :a, :u, :ip, :t, :d
            WHERE NOT EXISTS (
                SELECT 1 FROM security_log
                WHERE kind = 'denied' AND at > clock_timestamp() - interval '1 minute'
                  AND ip IS NOT DISTINCT FROM :ip AND target = :t
                  AND account_id IS NOT DISTINCT FROM CAST(:a AS bigint)
                  AND username IS NOT DISTINCT FROM CAST(:u AS text)
                  AND detail = :d)
            """
        ),
        {"a": account_id, "u": _cut(username), "ip": _cut(ip), "t": _cut(target),
         "d": _cut(detail) or ""},
    ).rowcount  # fmt: skip
    return bool(written)


def recent_security_log(conn, *, limit: int = 100, kind: str | None = None) -> list[dict]:
    """The newest entries (optionally of one ``kind``), newest first."""
    rows = conn.execute(
        text(
            """
            SELECT id, at, kind, account_id, username, ip, target, detail FROM security_log
            WHERE (CAST(:k AS text) IS NULL OR kind = :k) ORDER BY id DESC LIMIT :n
            """
        ),
        {"k": kind, "n": limit},
    )
    return [dict(r._mapping) for r in rows]


def recent_failures_from(conn, ip: str | None, *, minutes: int = 15) -> int:
    """Failed sign-ins logged from ``ip`` in the last ``minutes`` (any account)."""
    if not ip:
        return 0
    return conn.execute(
        text(
            """
            SELECT count(*) FROM security_log
            WHERE kind = 'login_failed' AND ip = :ip
              AND at > clock_timestamp() - make_interval(mins => :m)
            """
        ),
        {"ip": ip, "m": minutes},
    ).scalar_one()


def second_factor_failures(conn, target: str) -> int:
    """Wrong second-factor codes logged for ``target`` (``"session <id>"``: one half-signed-in
    session), all time."""
    return conn.execute(
        text(
            """
            SELECT count(*) FROM security_log
            WHERE kind = 'second_factor' AND target = :t AND detail = 'failed'
            """
        ),
        {"t": target},
    ).scalar_one()


def security_log_in_scope(
    conn, scope_path: str, *, kind: str | None = None, limit: int = 100
) -> list[dict]:
    """Newest security-log entries an auditor of ``scope_path`` may read: those of accounts
    whose jurisdiction lies in the subtree, and — for a prefecture-level auditor only —
    entries without an account (anonymous sign-in failures and denials). Newest first."""
    from geodata.cells import check_scope_path

    scope = check_scope_path(scope_path)
    if kind is not None and kind not in SECURITY_KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise ValueError("limit must be an integer from 1 to 1,000")
    rows = conn.execute(
        text(
            """
            SELECT l.id, l.at, l.kind, l.username, l.ip, l.target, l.detail
            FROM security_log l
            LEFT JOIN account a ON a.id = l.account_id
            LEFT JOIN grid_cell c ON c.id = a.jurisdiction_cell_id
            WHERE (CAST(:k AS text) IS NULL OR l.kind = :k)
              AND (c.path <@ CAST(:s AS ltree)
                   OR (l.account_id IS NULL AND nlevel(CAST(:s AS ltree)) = 1))
            ORDER BY l.id DESC
            LIMIT :n
            """
        ),
        {"k": kind, "s": scope, "n": limit},
    )
    return [dict(r._mapping) for r in rows]
