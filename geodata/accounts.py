"""Accounts, roles and what each role may do; the :class:`Caller` every scoped query takes.

The caller's scope is the ltree path of the account's jurisdiction cell; every query that
returns field data filters by ``path <@ scope`` (see ``docs/security.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PERMISSIONS", "Caller", "has_permission"]

#: What each role may do. ``view``: the map, panels, live layers and tables of the scope;
#: ``dispatch``: assign/reassign events; ``supervise``: 督办 (flag, chase overdue cases);
#: ``audit``: read the security and audit logs; ``roster``: manage grid workers of the scope;
#: ``unmask``: ask to see one resident's full ID/phone (also needs ``Caller.can_unmask``);
#: ``export``: download tables; ``admin``: manage accounts and role policies.
#: ``grid_worker`` accounts use the mobile API only (no dashboard).
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {"view", "dispatch", "supervise", "audit", "roster", "unmask", "export", "admin"}
    ),
    "commander": frozenset({"view", "dispatch", "supervise", "roster", "unmask", "export"}),
    "dispatcher": frozenset({"view", "dispatch", "export"}),
    "supervisor": frozenset({"view", "supervise", "export"}),
    "auditor": frozenset({"view", "audit", "export"}),
    "grid_worker": frozenset(),
}


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
