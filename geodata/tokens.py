"""Per-worker API tokens for the mobile app (bearer).

Only the sha256 hex digest of a token is stored, so a database dump does not leak usable
tokens; the plaintext is shown once, at creation.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection


def hash_token(token: str) -> str:
    """sha256 hex of the token's UTF-8 bytes (what ``api_token.token_hash`` holds)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def worker_id_for_employee(conn: Connection, employee_no: str) -> int | None:
    """The ``grid_worker.id`` of an employee number, or None."""
    return conn.execute(
        text("SELECT id FROM grid_worker WHERE employee_no = :e"), {"e": employee_no}
    ).scalar_one_or_none()


def create_token(conn: Connection, worker_id: int, label: str = "") -> tuple[int, str]:
    """Create a token for ``worker_id``; return ``(token id, plaintext)``.

    The caller commits. The plaintext is 43 url-safe characters (256 bits of entropy)."""
    token = secrets.token_urlsafe(32)
    token_id = conn.execute(
        text(
            "INSERT INTO api_token (worker_id, token_hash, label) VALUES (:w, :h, :l) RETURNING id"
        ),
        {"w": worker_id, "h": hash_token(token), "l": label},
    ).scalar_one()
    return token_id, token


def worker_for_token(conn: Connection, token: str) -> Any | None:
    """The active worker row (id, employee_no, name, cell_id, token_id) owning a live token,
    or None (unknown, revoked, or inactive worker). Marks the token as used now."""
    if not token or len(token) > 256:
        return None
    return conn.execute(
        text(
            """
            UPDATE api_token t SET last_used_at = now()
            FROM grid_worker w
            WHERE t.token_hash = :h AND t.revoked_at IS NULL
              AND w.id = t.worker_id AND w.active
            RETURNING w.id, w.employee_no, w.name, w.cell_id, t.id AS token_id
            """
        ),
        {"h": hash_token(token)},
    ).one_or_none()


def revoke_token(conn: Connection, token_id: int) -> bool:
    """Revoke a token by id; False when unknown or already revoked. The caller commits."""
    res = conn.execute(
        text("UPDATE api_token SET revoked_at = now() WHERE id = :i AND revoked_at IS NULL"),
        {"i": token_id},
    )
    return res.rowcount == 1
