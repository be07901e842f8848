"""Roster backfill for the demo: an initial open assignment for every worker without one, and
synthetic training sessions (titles end in "（模拟）").

At full scale the prefecture gets 117 sessions (the figure the source reports), spread over
the 12 counties (10 in the first nine by code, 9 in the last three), and every worker of a
county attends one of its sessions (round-robin by employee number, so every session has
attendees whenever a county has at least as many workers as sessions) and about a third a
second one: 100 % of active workers trained, as the source reports. Idempotent: run again,
it adds nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

__all__ = ["SYNTHETIC_MARK", "TOTAL_SESSIONS", "RosterBackfill", "backfill_demo_roster"]

SYNTHETIC_MARK = "（模拟）"
TOTAL_SESSIONS = 117
TOPICS = (
    "政策法规",
    "矛盾纠纷排查化解",
    "信息采集与系统操作",
    "安全生产与应急处置",
    "民族团结进步创建",
    "平安建设与治安防范",
    "禁毒防艾宣传",
    "消防安全",
    "群众工作方法",
    "心理疏导与特殊人群关爱",
)
HOURS = (2.0, 4.0, 3.0, 8.0)


@dataclass(frozen=True)
class RosterBackfill:
    assignments: int
    sessions: int
    attendances: int


def backfill_demo_roster(
    conn: Connection, *, since: dt.datetime | None = None, today: dt.date | None = None
) -> RosterBackfill:
    """Open an assignment (started at ``since``, default one year before now) for every
    worker without an open one, and, when no synthetic training exists yet, the demo's
    training sessions (dated over the year before ``today``). Returns what was added."""
    now = dt.datetime.now(dt.UTC)
    since = since or now - dt.timedelta(days=365)
    today = today or now.date()
    assignments = conn.execute(
        text(
            """
            INSERT INTO worker_assignment (worker_id, cell_id, started_at, note)
            SELECT w.id, w.cell_id, :since, 'initial assignment (demo backfill)'
            FROM grid_worker AS w
            WHERE w.active AND NOT EXISTS (
                SELECT 1 FROM worker_assignment AS a
                WHERE a.worker_id = w.id AND a.ended_at IS NULL)
            """
        ),
        {"since": since},
    ).rowcount
    if conn.execute(
        text("SELECT 1 FROM worker_training WHERE title LIKE :m LIMIT 1"),
        {"m": "%" + SYNTHETIC_MARK},
    ).first():
        return RosterBackfill(assignments, 0, 0)
    counties = conn.execute(
        text("SELECT code, name, path::text AS path FROM grid_cell WHERE level = 2 ORDER BY code")
    ).all()
    if not counties:
        return RosterBackfill(assignments, 0, 0)
    base, extra = divmod(TOTAL_SESSIONS, len(counties))
    s_county, s_k, s_day, s_title, s_hours = [], [], [], [], []
    for j, county in enumerate(counties):
        n = base + (1 if j < extra else 0)
        for k in range(n):
            s_county.append(county.path)
            s_k.append(k)
            s_day.append(today - dt.timedelta(days=int(360 * (n - k) / n) - j % 7))
            s_title.append(f"{county.name}网格员{TOPICS[k % len(TOPICS)]}培训{SYNTHETIC_MARK}")
            s_hours.append(HOURS[(k + j) % len(HOURS)])
    attendances = conn.execute(
        text(
            """
            WITH s AS (
                SELECT * FROM unnest(CAST(:county AS text[]), CAST(:k AS int[]),
                                     CAST(:day AS date[]), CAST(:title AS text[]),
                                     CAST(:hours AS float8[]))
                         AS s(county, k, day, title, hours)
            ),
            n AS (SELECT county, count(*) AS n FROM s GROUP BY county),
            w AS (
                SELECT w.id, n.county, n.n,
                       row_number() OVER (PARTITION BY n.county ORDER BY w.employee_no) - 1 AS r
                FROM grid_worker AS w JOIN grid_cell AS c ON c.id = w.cell_id
                JOIN n ON c.path <@ CAST(n.county AS ltree)
                WHERE w.active
            ),
            pick AS (
                SELECT id, county, r % n AS k FROM w
                UNION
                SELECT id, county, (r * 7 + 3) % n FROM w WHERE r % 3 = 0
            )
            INSERT INTO worker_training (worker_id, held_on, title, hours)
            SELECT pick.id, s.day, s.title, s.hours
            FROM pick JOIN s ON s.county = pick.county AND s.k = pick.k
            """
        ),
        {"county": s_county, "k": s_k, "day": s_day, "title": s_title, "hours": s_hours},
    ).rowcount
    conn.execute(text("ANALYZE worker_assignment, worker_training"))  # fresh plans at once
    return RosterBackfill(assignments, len(s_title), attendances)
