"""Demo accounts (synthetic): one per level and role, all with the same DEMO-ONLY password.

Created by ``gridcmd seed demo`` after the grid is seeded; documented in the README's demo
section. Never use these in a real deployment (``gridcmd user disable`` them, or do not seed
the demo).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from geodata.accounts import account_id_for, create_account

__all__ = ["DEMO_PASSWORD", "DemoAccount", "seed_demo_accounts"]

#: DEMO ONLY. Printed by the seed command and written in the README.
DEMO_PASSWORD = "Dali-Demo-2026!"  # noqa: S105 (documented demo password)


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    cell_code: str
    display_name: str


#: (username, role, where, display name); where: a code, or 'township'/'village'/'grid'/'worker'
#: (the first such cell under 532901 大理市, or the first active worker's cell there) or
#: 'police' (the cell of the first township police station there, whose staff the account is).
_PLAN: tuple[tuple[str, str, str, str], ...] = (
    ("admin", "admin", "532900", "系统管理员（模拟）"),
    ("commander", "commander", "532900", "州级指挥长（模拟）"),
    ("dispatcher", "dispatcher", "532900", "州级调度员（模拟）"),
    ("supervisor", "supervisor", "532900", "州级督办员（模拟）"),
    ("auditor", "auditor", "532900", "州级审计员（模拟）"),
    ("dali.commander", "commander", "532901", "大理市指挥长（模拟）"),
    ("dali.dispatcher", "dispatcher", "532901", "大理市调度员（模拟）"),
    ("dali.supervisor", "supervisor", "532901", "大理市督办员（模拟）"),
    ("dali.auditor", "auditor", "532901", "大理市审计员（模拟）"),
    ("township.commander", "commander", "township", "乡镇指挥员（模拟）"),
    ("village.commander", "commander", "village", "村（社区）指挥员（模拟）"),
    ("grid.commander", "commander", "grid", "网格长（模拟）"),
    ("worker", "grid_worker", "worker", "网格员（模拟）"),
    # 'police': the police station of the first township of 532901 (geodata/demo/departments.py)
    ("police.dali", "department", "police", "派出所民警（模拟）"),
)


def _first(conn, level: int) -> str | None:
    return conn.execute(
        text(
            "SELECT code FROM grid_cell WHERE level = :l AND path <@ '532900.532901'"
            " ORDER BY code LIMIT 1"
        ),
        {"l": level},
    ).scalar()


def seed_demo_accounts(conn) -> list[DemoAccount]:
    """Create the demo accounts that do not exist yet (password :data:`DEMO_PASSWORD`,
    synthetic, no forced password change; commanders and the admin may unmask). Returns every
    demo account of the plan."""
    worker = conn.execute(
        text(
            """
            SELECT w.id, c.code FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id
            WHERE w.active AND c.path <@ '532900.532901' ORDER BY w.id LIMIT 1
            """
        )
    ).first()
    police = conn.execute(
        text(
            """
            SELECT d.id, c.code FROM department d JOIN grid_cell c ON c.id = d.cell_id
            WHERE d.kind = 'police' AND d.active AND c.path <@ '532900.532901'
            ORDER BY c.code, d.id LIMIT 1
            """
        )
    ).first()
    where = {"township": _first(conn, 3), "village": _first(conn, 4), "grid": _first(conn, 5),
             "worker": worker.code if worker else None,
             "police": police.code if police else None}  # fmt: skip
    made: list[DemoAccount] = []
    for username, role, place, display in _PLAN:
        code = where.get(place, place)
        if code is None:
            continue  # no such cell / worker in this (tiny) demo
        if account_id_for(conn, username) is None:
            create_account(
                conn, username, display, role, code, DEMO_PASSWORD,
                can_unmask=role in ("admin", "commander"),
                worker_id=worker.id if role == "grid_worker" else None,
                department_id=police.id if role == "department" else None,
                must_change_password=False, synthetic=True,
            )  # fmt: skip
        made.append(DemoAccount(username, role, code, display))
    return made
