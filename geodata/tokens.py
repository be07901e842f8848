"""API tokens (bearer) for the mobile app and for gateways.

Two kinds (``api_token.kind``): a ``worker`` token belongs to one grid worker (their phone); a
``gateway`` token belongs to a relay (e.g. a vendor's fleet server) that sends GPS fixes for the
workers of one subtree of the grid (``scope_cell_id``) and may do nothing else.

Only the sha256 hex digest of a token is stored, so a database dump does not leak usable
tokens; the plaintext is shown once, at creation.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
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


def create_gateway_token(conn: Connection, scope_cell_id: int, label: str = "") -> tuple[int, str]:
    """Create a gateway token allowed to send fixes for the workers of the subtree of
    ``scope_cell_id``; return ``(token id, plaintext)``. The caller commits."""
    token = secrets.token_urlsafe(32)
    token_id = conn.execute(
        text(
            "INSERT INTO api_token (kind, scope_cell_id, token_hash, label) "
            "VALUES ('gateway', :c, :h, :l) RETURNING id"
        ),
        {"c": scope_cell_id, "h": hash_token(token), "l": label},
    ).scalar_one()
    return token_id, token


def cell_id_for_code(conn: Connection, code: str) -> int | None:
    """The ``grid_cell.id`` of a cell code (any level), or None."""
    return conn.execute(
        text("SELECT id FROM grid_cell WHERE code = :c"), {"c": code}
    ).scalar_one_or_none()


@dataclass(frozen=True)
class Caller:
    """Who is asking: ``kind`` 'worker' (with ``worker``: id, employee_no, name, cell_id) or
    'gateway' (with ``scope_cell_id`` and ``scope_path``, the ltree path of its subtree)."""

    kind: str
    token_id: int
    worker: Any | None = None
    scope_cell_id: int | None = None
    scope_path: str | None = None

    @property
    def is_gateway(self) -> bool:
        return self.kind == "gateway"


#: ``api_token.last_used_at`` is refreshed at most this often (seconds): a busy phone or
#: gateway then costs a read per request, not a row update and a WAL flush on every request.
LAST_USED_RESOLUTION_S = 60


#: The caller behind a live token hash (module level: parsed once, not per request).
_CALLER_SQL = text(
    """
    SELECT t.id AS token_id, t.kind, t.scope_cell_id, ltree2text(c.path) AS scope_path,
           (t.last_used_at IS NULL
            OR t.last_used_at < now() - make_interval(secs => :res)) AS stale,
           w.id, w.employee_no, w.name, w.cell_id
    FROM api_token t
    LEFT JOIN grid_worker w ON w.id = t.worker_id AND t.kind = 'worker'
    LEFT JOIN grid_cell c ON c.id = t.scope_cell_id AND t.kind = 'gateway'
    WHERE t.token_hash = :h AND t.revoked_at IS NULL
      AND ((t.kind = 'worker' AND w.active) OR (t.kind = 'gateway' AND c.id IS NOT NULL))
    """
)
_TOUCH_SQL = text(
    "UPDATE api_token SET last_used_at = now() WHERE id = :i AND (last_used_at IS NULL"
    " OR last_used_at < now() - make_interval(secs => :res))"
)


def token_for_request(conn: Connection, token: str) -> Caller | None:
    """The caller behind a live token, or None (unknown, revoked, inactive worker, or a gateway
    whose scope cell is gone). Marks the token as used (to :data:`LAST_USED_RESOLUTION_S`)."""
    if not token or len(token) > 256:
        return None
    row = conn.execute(
        _CALLER_SQL, {"h": hash_token(token), "res": LAST_USED_RESOLUTION_S}
    ).one_or_none()
    if row is None:
        return None
    if row.stale:
        conn.execute(_TOUCH_SQL, {"i": row.token_id, "res": LAST_USED_RESOLUTION_S})
    if row.kind == "gateway":
        return Caller("gateway", row.token_id, None, row.scope_cell_id, row.scope_path)
    return Caller("worker", row.token_id, row)


def create_demo_tokens(
    conn: Connection, *, n_workers: int = 200, scope_code: str = "532900", label: str = "demo"
) -> dict[str, Any]:
    """Synthetic demo tokens: one gateway token scoped to ``scope_code`` and worker tokens for
    the first ``n_workers`` on-duty workers (by id), in two statements. Returns the plaintexts
    as a JSON-ready dict (``{synthetic, gateway: {...}, workers: [...]}``); the caller commits
    and keeps the file private."""
    scope_id = cell_id_for_code(conn, scope_code)
    if scope_id is None:
        raise ValueError(f"no cell with code {scope_code!r}")
    gw_id, gw_token = create_gateway_token(conn, scope_id, f"{label} gateway")
    workers = conn.execute(
        text(
            "SELECT id, employee_no FROM grid_worker WHERE active AND duty_status = 'on_duty' "
            "ORDER BY id LIMIT :n"
        ),
        {"n": n_workers},
    ).all()
    tokens = [secrets.token_urlsafe(32) for _ in workers]
    ids = conn.execute(
        text(
            """
            INSERT INTO api_token (kind, worker_id, token_hash, label)
            SELECT 'worker', w, h, :l
            FROM unnest(CAST(:ws AS bigint[]), CAST(:hs AS text[])) AS u(w, h)
            RETURNING id, worker_id
            """
        ),
        {"ws": [w.id for w in workers], "hs": [hash_token(t) for t in tokens], "l": label},
    ).all()
    id_of = {r.worker_id: r.id for r in ids}
    return {
        "synthetic": True,
        "note": "Synthetic demo tokens (gridcmd seed demo); for the simulator and API tests. "
        "Keep private; revoke with `gridcmd token revoke ID`.",
        "gateway": {"token_id": gw_id, "token": gw_token, "scope": scope_code},
        "workers": [
            {"id": w.id, "employee_no": w.employee_no, "token_id": id_of[w.id], "token": t}
            for w, t in zip(workers, tokens, strict=True)
        ],
    }


def revoke_token(conn: Connection, token_id: int) -> bool:
    """Revoke a token by id; False when unknown or already revoked. The caller commits."""
    res = conn.execute(
        text("UPDATE api_token SET revoked_at = now() WHERE id = :i AND revoked_at IS NULL"),
        {"i": token_id},
    )
    return res.rowcount == 1
