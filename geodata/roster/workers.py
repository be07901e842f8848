"""Reading the roster: the workers of a scope (paged, searched, phones masked) and a worker's
assignment history.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.cells import check_scope_path
from geodata.roster.checks import mask_phone, worker_in_scope
from geodata.stats import NOW_SQL, check_code, custom_plans

__all__ = ["assignment_history", "list_workers"]


def list_workers(
    conn: Connection,
    scope_path: str,
    *,
    cell_code: str | None = None,
    query: str | None = None,
    active: bool | None = None,
    limit: int = 50,
    offset: int = 0,
    now: dt.datetime | None = None,
) -> dict[str, Any] | None:
    """``{"total": n, "rows": [...]}``: the workers of the scope (of the subtree of
    ``cell_code`` when given), filtered by ``query`` (part of the name or employee number)
    and ``active``, ordered by employee number. Each row: ``employee_no, name, phone``
    (masked), ``cell_code, cell_name, cell_level, duty_status, active, fix_age_s`` (seconds
    since the last fix, None without one) and ``trainings`` (sessions attended). None when
    ``cell_code`` is unknown or outside the scope."""
    scope = check_scope_path(scope_path)
    if not (isinstance(limit, int) and 1 <= limit <= 500 and isinstance(offset, int)
            and offset >= 0):  # fmt: skip
        raise ValueError("limit must be 1–500 and offset >= 0")
    under = None
    if cell_code:
        under = conn.execute(
            text("SELECT path::text FROM grid_cell WHERE code = :c AND path <@ CAST(:s AS ltree)"),
            {"c": check_code(cell_code), "s": scope},
        ).scalar()
        if under is None:
            return None
    q = (query or "").strip()
    if len(q) > 50:
        raise ValueError("query too long")
    pattern = "%" + q.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
    custom_plans(conn)
    rows = conn.execute(
        text(
            f"""
            SELECT w.employee_no, w.name, w.phone, c.code AS cell_code, c.name AS cell_name,
                   c.level AS cell_level, w.duty_status, w.active,
                   extract(epoch FROM {NOW_SQL} - w.last_fix_at) AS fix_age_s,
                   (SELECT count(*) FROM worker_training AS t WHERE t.worker_id = w.id)
                       AS trainings,
                   count(*) OVER () AS total
            FROM grid_worker AS w JOIN grid_cell AS c ON c.id = w.cell_id
            WHERE c.path <@ CAST(:scope AS ltree)
              AND (CAST(:under AS text) IS NULL OR c.path <@ CAST(:under AS ltree))
              AND (CAST(:active AS boolean) IS NULL OR w.active = :active)
              AND (:q = '' OR w.name LIKE :pat OR w.employee_no ILIKE :pat)
            ORDER BY w.employee_no
            LIMIT :limit OFFSET :offset
            """
        ),
        {"scope": scope, "under": under, "active": active, "q": q, "pat": pattern,
         "limit": limit, "offset": offset, "now": now},
    ).mappings().all()  # fmt: skip
    out = []
    for r in rows:
        d = dict(r)
        d["phone"] = mask_phone(d["phone"])
        d["fix_age_s"] = None if d["fix_age_s"] is None else float(d["fix_age_s"])
        out.append(d)
    total = int(rows[0]["total"]) if rows else 0
    if not rows and offset:
        total = list_workers(conn, scope, cell_code=cell_code, query=query, active=active,
                             limit=1, now=now)["total"]  # fmt: skip
    for d in out:
        d.pop("total")
    return {"total": total, "rows": out}


def assignment_history(
    conn: Connection, scope_path: str, employee_no: str
) -> list[dict[str, Any]] | None:
    """The worker's assignments, newest first: ``cell_code, cell_name, cell_level,
    started_at, ended_at, changed_by`` (username), ``note``. A past cell outside the scope
    shows no code or name. None when the worker is unknown or outside the scope."""
    scope = check_scope_path(scope_path)
    w = worker_in_scope(conn, scope, employee_no)
    if w is None:
        return None
    rows = conn.execute(
        text(
            """
            SELECT CASE WHEN c.path <@ CAST(:scope AS ltree) THEN c.code END AS cell_code,
                   CASE WHEN c.path <@ CAST(:scope AS ltree) THEN c.name END AS cell_name,
                   c.level AS cell_level, a.started_at, a.ended_at,
                   acc.username AS changed_by, a.note
            FROM worker_assignment AS a
            JOIN grid_cell AS c ON c.id = a.cell_id
            LEFT JOIN account AS acc ON acc.id = a.changed_by
            WHERE a.worker_id = :w
            ORDER BY a.started_at DESC, a.id DESC
            """
        ),
        {"scope": scope, "w": w.id},
    ).mappings()
    return [dict(r) for r in rows]
