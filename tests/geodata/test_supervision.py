"""Deadlines → supervision (督办) → escalation with a controllable clock (geodata.supervision),
and duplicate suggestion (geodata.duplicates)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from pyproj import Geod
from sqlalchemy import text

from geodata.duplicates import find_duplicates
from geodata.supervision import run_supervision, supervision_queue
from geodata.workflow import Actor, WorkflowError, perform
from gridcmd.vocab import OPEN_STATUSES
from tests.geodata.test_workflow import NOW, world  # noqa: F401 - fixture

HOUR = dt.timedelta(hours=1)
GEOD = Geod(ellps="WGS84")


def _job(conn, now, after=4 * HOUR):
    return run_supervision(conn, now=now, escalate_after=after)


def _clear_backlog(conn):
    """The fixture has old overdue cases of its own: put them out of the way (rolled back)."""
    conn.execute(text("UPDATE event SET due_at = NULL WHERE id <> 0 AND due_at < :n"),
                 {"n": NOW + 1000 * HOUR})  # fmt: skip


def test_overdue_case_is_supervised_then_escalated_up_to_the_prefecture(conn, world):  # noqa: F811
    _clear_backlog(conn)
    ev = world["event"]
    s = perform(conn, ev, "dispatch", world["township"], worker_id=world["worker"], priority="red",
                now=NOW)  # fmt: skip
    due = s["due_at"]
    assert due == NOW + 2 * HOUR
    # before the deadline nothing happens
    r = _job(conn, due - dt.timedelta(seconds=1))
    assert r.ran and ev not in r.supervised and ev not in r.escalated
    # just past the deadline: supervised (once), with a system history row
    r = _job(conn, due + dt.timedelta(seconds=1))
    assert ev in r.supervised
    assert ev not in _job(conn, due + 2 * HOUR).supervised
    row = conn.execute(text("SELECT status, supervised_at, supervision_reason, owner_level "
                            "FROM event WHERE id = :i"), {"i": ev}).one()  # fmt: skip
    assert (row.status, row.supervision_reason, row.owner_level) == ("dispatched", "overdue", 3)
    county = world["county"].scope_path
    queue = supervision_queue(conn, county, now=due + 2 * HOUR)
    assert ev in [q["id"] for q in queue]
    assert next(q for q in queue if q["id"] == ev)["overdue"] is True
    # supervised for the configured time → escalated to the county (level 2)
    sup_at = row.supervised_at
    assert ev not in _job(conn, sup_at + 4 * HOUR - dt.timedelta(seconds=1)).escalated
    assert ev in _job(conn, sup_at + 4 * HOUR).escalated
    row = conn.execute(text("SELECT status, owner_level FROM event WHERE id = :i"),
                       {"i": ev}).one()  # fmt: skip
    assert (row.status, row.owner_level) == ("escalated", 2)
    assert ev in [q["id"] for q in supervision_queue(conn, county, now=NOW, kind="escalated")]
    township = world["township"].scope_path
    assert ev not in [q["id"] for q in supervision_queue(conn, township, now=NOW,
                                                         kind="escalated")]  # fmt: skip
    # the township dispatcher can no longer dispatch it
    with pytest.raises(WorkflowError):
        perform(conn, ev, "dispatch", world["township"], worker_id=world["worker"], now=NOW)
    # another period: the prefecture; then it stops
    assert ev in _job(conn, sup_at + 8 * HOUR).escalated
    assert ev not in _job(conn, sup_at + 20 * HOUR).escalated
    lvl = conn.execute(text("SELECT owner_level FROM event WHERE id = :i"), {"i": ev}).scalar()
    assert lvl == 1
    hist = conn.execute(text("SELECT actor_type, from_status, to_status, note FROM event_action "
                             "WHERE event_id = :i ORDER BY id"), {"i": ev}).all()  # fmt: skip
    system = [h for h in hist if h.actor_type == "system"]
    assert [h.to_status for h in system] == ["dispatched", "escalated", "escalated"]
    assert system[0].note.startswith("supervise: overdue since")
    assert system[1].from_status == "dispatched" and "owner level 3 → 2" in system[1].note


def test_resolved_cases_are_left_alone(conn, world):  # noqa: F811
    _clear_backlog(conn)
    ev = world["event"]
    perform(conn, ev, "dispatch", world["county"], worker_id=world["worker"], priority="red",
            now=NOW)  # fmt: skip
    perform(conn, ev, "resolve", Actor.worker(world["worker"]), note="done", now=NOW)
    r = _job(conn, NOW + 100 * HOUR)
    assert ev not in r.supervised and ev not in r.escalated


def test_manual_flag_then_escalation(conn, world):  # noqa: F811
    _clear_backlog(conn)
    ev = world["event"]
    perform(conn, ev, "supervise", world["supervisor"], note="群众多次反映", now=NOW)
    sup = conn.execute(text("SELECT supervision_reason, supervised_by FROM event WHERE id = :i"),
                       {"i": ev}).one()  # fmt: skip
    assert sup.supervision_reason == "manual" and sup.supervised_by == world["supervisor"].id
    assert ev in _job(conn, NOW + 4 * HOUR).escalated


def test_only_one_job_runs_at_a_time(engine, conn):
    """A second process finds the job lock taken and skips (no double history rows)."""
    run_supervision(conn, now=NOW, escalate_after=4 * HOUR)  # holds the lock in conn's tx
    with engine.connect() as other, other.begin():
        r = run_supervision(other, now=NOW, escalate_after=4 * HOUR)
    assert r.ran is False


def test_fixture_backlog_matches_a_python_reference(conn):
    """Everything overdue and open is supervised by one run; nothing else is."""
    now = conn.execute(text("SELECT max(due_at) FROM event")).scalar() or NOW
    rows = conn.execute(text("SELECT id, status, due_at, supervised_at FROM event")).all()
    expected = {
        r.id for r in rows
        if r.status in OPEN_STATUSES and r.due_at is not None and r.due_at < now
        and r.supervised_at is None
    }  # fmt: skip
    got = set(run_supervision(conn, now=now, escalate_after=10_000 * HOUR).supervised)
    assert got == expected and expected


# ----------------------------------------------------------------------------- duplicates


def _add_event(conn, base, *, category="dispute", metres=0.0, hours=0.0, status="reported"):
    lon, lat, _ = GEOD.fwd(base.lon, base.lat, 90, metres) if metres else (base.lon, base.lat, 0)
    return conn.execute(
        text(
            """
            INSERT INTO event (uuid, category, severity, title, description, location, cell_id,
                status, reported_at, version, synthetic)
            VALUES (:u, :c, 'low', 'dup?', '', ST_SetSRID(ST_MakePoint(:x, :y), 4326), :cell,
                    :s, :t, 1, true) RETURNING id
            """
        ),
        {"u": uuid.uuid4(), "c": category, "x": lon, "y": lat, "cell": base.cell_id,
         "s": status, "t": base.reported_at + dt.timedelta(hours=hours)},
    ).scalar_one()  # fmt: skip


def test_duplicates_same_category_near_in_space_and_time(conn, world):  # noqa: F811
    ev = world["event"]
    base = conn.execute(text("SELECT ST_X(location) lon, ST_Y(location) lat, cell_id, "
                             "reported_at FROM event WHERE id = :i"), {"i": ev}).one()  # fmt: skip
    near = _add_event(conn, base, metres=150, hours=-5)
    edge_in = _add_event(conn, base, metres=295, hours=70)
    too_far = _add_event(conn, base, metres=320)
    too_late = _add_event(conn, base, metres=10, hours=80)
    other_cat = _add_event(conn, base, category="environment", metres=10)
    closed = _add_event(conn, base, metres=10, status="closed")
    got = find_duplicates(conn, ev, scope_path=world["county"].scope_path, radius_m=300,
                          window_h=72)  # fmt: skip
    ids_ = [d["id"] for d in got]
    # other open disputes of the fixture may be near too; ours must be in and in order
    assert near in ids_ and edge_in in ids_ and ids_.index(near) < ids_.index(edge_in)
    for bad in (too_far, too_late, other_cat, closed, ev):
        assert bad not in ids_
    d = next(x for x in got if x["id"] == near)
    assert d["distance_m"] == pytest.approx(150, abs=1) and d["hours_apart"] == pytest.approx(5)
    # out of scope: nothing
    assert find_duplicates(conn, ev, scope_path=world["elsewhere"].scope_path, radius_m=300,
                           window_h=72) == []  # fmt: skip
    # merged duplicates are no longer suggested
    perform(conn, near, "merge", world["county"], merge_into=ev, now=NOW)
    again = find_duplicates(conn, ev, scope_path=world["county"].scope_path, radius_m=300,
                            window_h=72)  # fmt: skip
    assert near not in [d["id"] for d in again]
