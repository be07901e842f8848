"""Training of grid workers: sessions recorded for workers of the scope, a worker's sessions
and the scope's training summary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.accounts import Caller
from geodata.cells import check_scope_path
from geodata.roster.checks import (
    NOT_IN_SCOPE,
    NotInScope,
    RosterError,
    account_ref,
    clean_note,
    log_roster,
    require_roster,
    worker_in_scope,
)
from geodata.stats import custom_plans
from gridcmd.vocab import TZ

__all__ = ["record_training", "training_summary", "worker_trainings"]

#: Largest number of workers recorded for one session at once.
MAX_TRAINEES = 500


def worker_trainings(
    conn: Connection, scope_path: str, employee_no: str
) -> list[dict[str, Any]] | None:
    """The training sessions a worker attended (``held_on, title, hours``), newest first;
    None when the worker is unknown or outside the scope."""
    w = worker_in_scope(conn, check_scope_path(scope_path), employee_no)
    if w is None:
        return None
    rows = conn.execute(
        text("SELECT held_on, title, hours FROM worker_training WHERE worker_id = :w "
             "ORDER BY held_on DESC, id DESC"), {"w": w.id},
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def record_training(
    conn: Connection,
    caller: Caller,
    employee_nos: Iterable[str],
    held_on: dt.date | str,
    title: str,
    hours: float | str,
    *,
    today: dt.date | None = None,
) -> int:
    """Record one training session (``held_on``, ``title``, ``hours``) attended by the
    workers ``employee_nos`` (all in scope, else NotInScope and nothing recorded); returns
    the number of workers recorded. A worker already recorded for the same session counts
    once."""
    scope = require_roster(caller)
    nos = sorted({str(n).strip() for n in employee_nos or () if str(n).strip()})
    if not nos:
        raise RosterError("Select at least one worker.")
    if len(nos) > MAX_TRAINEES:
        raise RosterError("Too many workers for one session.", f"(max {MAX_TRAINEES})")
    try:
        day = held_on if isinstance(held_on, dt.date) else dt.date.fromisoformat(str(held_on))
    except ValueError:
        raise RosterError("Invalid date (YYYY-MM-DD).") from None
    today = today or dt.datetime.now(TZ).date()  # the dashboard's calendar
    if not dt.date(2000, 1, 1) <= day <= today:
        raise RosterError("The training date must not be in the future.")
    title = clean_note(title, 120)
    if not title:
        raise RosterError("Title must be 1 to 120 characters.")
    try:
        h = float(hours)
    except (TypeError, ValueError):
        raise RosterError("Hours must be a number from 0.5 to 24.") from None
    if not 0.5 <= h <= 24:
        raise RosterError("Hours must be a number from 0.5 to 24.")
    with conn.begin_nested():
        found = (
            conn.execute(
                text(
                    "SELECT w.id FROM grid_worker AS w JOIN grid_cell AS c ON c.id = w.cell_id "
                    "WHERE w.employee_no = ANY(:nos) AND c.path <@ CAST(:scope AS ltree)"
                ),
                {"nos": nos, "scope": scope},
            )
            .scalars()
            .all()
        )
        if len(found) != len(nos):
            raise NotInScope(NOT_IN_SCOPE)
        n = conn.execute(
            text(
                """
                INSERT INTO worker_training (worker_id, held_on, title, hours, recorded_by)
                SELECT w, :day, :title, :hours, :by FROM unnest(CAST(:ids AS bigint[])) AS w
                WHERE NOT EXISTS (SELECT 1 FROM worker_training AS t
                                  WHERE t.worker_id = w AND t.held_on = :day AND t.title = :title)
                """
            ),
            {"day": day, "title": title, "hours": h, "by": account_ref(conn, caller),
             "ids": list(found)},
        ).rowcount  # fmt: skip
        shown = ",".join(nos[:20]) + (f",… ({len(nos)})" if len(nos) > 20 else "")
        log_roster(conn, caller, "roster_change", f"training {day.isoformat()}",
                   f"training title={title} hours={h:g} workers={shown}")  # fmt: skip
    return n


def training_summary(conn: Connection, scope_path: str) -> dict[str, Any]:
    """Training in the scope: ``sessions`` (distinct date + title attended by a worker of the
    scope), ``attendances``, ``hours`` (person-hours), ``workers_trained``, ``active_workers``,
    ``active_trained`` and ``coverage`` (share of active workers with at least one training,
    0–1; None without active workers)."""
    scope = check_scope_path(scope_path)
    custom_plans(conn)
    r = (
        conn.execute(
            text(
                """
            WITH w AS (
                SELECT w.id, w.active FROM grid_worker AS w JOIN grid_cell AS c
                ON c.id = w.cell_id WHERE c.path <@ CAST(:scope AS ltree)
            ),
            t AS (SELECT t.* FROM worker_training AS t JOIN w ON w.id = t.worker_id)
            SELECT (SELECT count(*) FROM (SELECT DISTINCT held_on, title FROM t) AS s)
                       AS sessions,
                   (SELECT count(*) FROM t) AS attendances,
                   (SELECT coalesce(sum(hours), 0) FROM t) AS hours,
                   (SELECT count(DISTINCT worker_id) FROM t) AS workers_trained,
                   (SELECT count(*) FROM w WHERE active) AS active_workers,
                   (SELECT count(*) FROM w WHERE active AND EXISTS (
                        SELECT 1 FROM worker_training AS x WHERE x.worker_id = w.id))
                       AS active_trained
            """
            ),
            {"scope": scope},
        )
        .mappings()
        .one()
    )
    out = {k: (float(v) if k == "hours" else int(v)) for k, v in r.items()}
    out["coverage"] = (
        out["active_trained"] / out["active_workers"] if out["active_workers"] else None
    )
    return out
