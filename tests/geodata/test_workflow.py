"""The case workflow state machine (geodata.workflow): every legal and illegal transition,
who may act, optimistic locking (also across two real concurrent transactions), deadlines,
merge of duplicates."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from sqlalchemy import text

from geodata.accounts import Caller
from geodata.workflow import TRANSITIONS, Actor, WorkflowError, perform
from gridcmd.vocab import EVENT_STATUSES
from tests.conftest import engine_on

NOW = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)


def _path(conn, code: str) -> str:
    return conn.execute(
        text("SELECT path::text FROM grid_cell WHERE code = :c"), {"c": code}
    ).scalar_one()


def _caller(conn, account_id: int, role: str, code: str, **kw) -> Caller:
    return Caller(account_id, f"u{account_id}", "Test", role, _path(conn, code), **kw)


@pytest.fixture()
def world(conn, accounts):
    """A fresh reported event in county 532901, actors around it, and a worker in scope."""
    cell = conn.execute(
        text(
            "SELECT c.id, c.path::text AS path FROM grid_cell c WHERE c.level = 6 "
            "AND c.path <@ (SELECT path FROM grid_cell WHERE code = '532901') "
            "ORDER BY c.code LIMIT 1"
        )
    ).one()
    township = cell.path.split(".")[2]
    worker, other = (
        conn.execute(
            text(
                "SELECT w.id FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id "
                "WHERE w.active AND c.path <@ (SELECT path FROM grid_cell WHERE code = '532901') "
                "ORDER BY w.id LIMIT 2"
            )
        )
        .scalars()
        .all()
    )
    event_id = conn.execute(
        text(
            """
            INSERT INTO event (uuid, category, severity, title, description, location, cell_id,
                status, reported_at, version, synthetic, reporter_id)
            SELECT :u, 'dispute', 'high', 'test', '', ST_PointOnSurface(geom), id, 'reported',
                   :now, 1, true, :rep
            FROM grid_cell WHERE id = :cell RETURNING id
            """
        ),
        {"u": uuid.uuid4(), "now": NOW, "cell": cell.id, "rep": other},
    ).scalar_one()
    a = accounts
    return {
        "event": event_id,
        "worker": worker,
        "other_worker": other,
        "county": Actor.from_caller(_caller(conn, a["t_county"], "commander", "532901")),
        "county2": Actor.from_caller(_caller(conn, a["t_commander"], "commander", "532901")),
        "township": Actor.from_caller(_caller(conn, a["t_dispatcher"], "dispatcher", township)),
        "supervisor": Actor.from_caller(_caller(conn, a["t_supervisor"], "supervisor", "532901")),
        "auditor": Actor.from_caller(_caller(conn, a["t_auditor"], "auditor", "532900")),
        "elsewhere": Actor.from_caller(_caller(conn, a["t_admin"], "admin", "532922")),
        "prefecture": Actor.from_caller(_caller(conn, a["t_admin"], "admin", "532900")),
    }


def _status(conn, event_id: int) -> tuple[str, int]:
    r = conn.execute(text("SELECT status, version FROM event WHERE id = :i"), {"i": event_id}).one()
    return r.status, r.version


def _history(conn, event_id: int) -> list[tuple]:
    return [
        tuple(r)
        for r in conn.execute(
            text(
                "SELECT from_status, to_status, actor_type, actor_id, note FROM event_action "
                "WHERE event_id = :i ORDER BY id"
            ),
            {"i": event_id},
        )
    ]


def test_full_lifecycle_phone_and_pc(conn, world):
    ev, w = world["event"], world["worker"]
    worker = Actor.worker(w)
    s = perform(conn, ev, "accept", world["township"], version=1, now=NOW)
    assert (s["status"], s["version"]) == ("accepted", 2)
    s = perform(conn, ev, "dispatch", world["township"], version=2, worker_id=w, now=NOW)
    assert s["status"] == "dispatched" and s["assignee_id"] == w
    # severity high → yellow tier; disputes resolve within 24 h in the default policy
    assert s["priority"] == "yellow" and s["due_at"] == NOW + dt.timedelta(hours=24)
    s = perform(conn, ev, "acknowledge", worker, now=NOW)
    assert s["status"] == "dispatched" and s["acknowledged_at"] == NOW
    perform(conn, ev, "start", worker, now=NOW)
    perform(conn, ev, "resolve", worker, note="调解完毕", now=NOW)
    s = perform(conn, ev, "verify", world["supervisor"], now=NOW)
    assert s["status"] == "verified"
    s = perform(conn, ev, "close", world["county"], now=NOW)
    assert (s["status"], s["version"]) == ("closed", 8)
    hist = _history(conn, ev)
    assert [(h[0], h[1]) for h in hist] == [
        ("reported", "accepted"),
        ("accepted", "dispatched"),
        ("dispatched", "dispatched"),
        ("dispatched", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "verified"),
        ("verified", "closed"),
    ]
    assert hist[4][2:4] == ("worker", w) and hist[4][4].endswith("| 调解完毕")
    assert hist[5][2:4] == ("account", world["supervisor"].id)
    assert hist[1][4].startswith("dispatch: to worker")


def test_dispatch_from_reported_writes_accept_and_dispatch(conn, world):
    ev = world["event"]
    s = perform(conn, ev, "dispatch", world["county"], worker_id=world["worker"], priority="red",
                now=NOW)  # fmt: skip
    assert s["status"] == "dispatched" and s["version"] == 2
    assert s["due_at"] == NOW + dt.timedelta(hours=2)
    assert [(h[0], h[1]) for h in _history(conn, ev)] == [
        ("reported", "accepted"),
        ("accepted", "dispatched"),
    ]


def _params(action: str, world, conn) -> dict:
    kw: dict = {"note": "reason"}
    if action in ("dispatch", "reassign"):
        # a worker other than the current assignee, so reassign changes something
        kw["worker_id"] = world["other_worker"]
    if action == "merge":
        kw["merge_into"] = _another_open_event(conn, world["event"])
    return kw


def _another_open_event(conn, not_id: int) -> int:
    return conn.execute(
        text(
            "SELECT e.id FROM event e JOIN grid_cell c ON c.id = e.cell_id WHERE e.id <> :i "
            "AND e.status IN ('reported', 'accepted', 'dispatched', 'in_progress') "
            "AND e.merged_into_id IS NULL AND c.path <@ "
            "(SELECT path FROM grid_cell WHERE code = '532901') ORDER BY e.id LIMIT 1"
        ),
        {"i": not_id},
    ).scalar_one()


@pytest.mark.parametrize("status", EVENT_STATUSES)
def test_every_transition_from_every_status(conn, world, status):
    """Legal actions succeed and lead where the table says; every other one is a 409 that
    changes nothing (no status change, no history row)."""
    ev = world["event"]
    actor = world["prefecture"]  # admin: dispatch + supervise, acts for assignees too
    for action, tr in TRANSITIONS.items():
        sp = conn.begin_nested()
        conn.execute(
            text("UPDATE event SET status = :s, assignee_id = :w WHERE id = :i"),
            {"s": status, "w": world["worker"], "i": ev},
        )
        before, version = _status(conn, ev)
        n_hist = len(_history(conn, ev))
        if status in tr.sources:
            s = perform(conn, ev, action, actor, version=version, now=NOW,
                        **_params(action, world, conn))  # fmt: skip
            assert s["status"] == (tr.target or status), (status, action)
            assert s["version"] == version + 1
            assert len(_history(conn, ev)) >= n_hist + 1
        else:
            with pytest.raises(WorkflowError) as exc:
                perform(conn, ev, action, actor, version=version, now=NOW,
                        **_params(action, world, conn))  # fmt: skip
            assert exc.value.status == 409, (status, action, exc.value.detail)
            assert _status(conn, ev) == (before, version)
            assert len(_history(conn, ev)) == n_hist
        sp.rollback()


def test_stale_version_is_a_conflict(conn, world):
    ev = world["event"]
    perform(conn, ev, "accept", world["county"], version=1, now=NOW)
    with pytest.raises(WorkflowError) as exc:
        perform(conn, ev, "reject", world["county2"], version=1, note="dup", now=NOW)
    assert exc.value.status == 409 and "changed by someone else" in exc.value.detail
    assert _status(conn, ev) == ("accepted", 2)


def test_verification_by_the_resolver_is_refused(conn, world):
    ev = world["event"]
    perform(conn, ev, "dispatch", world["county"], worker_id=world["worker"], now=NOW)
    perform(conn, ev, "resolve", world["county"], note="on behalf of the worker", now=NOW)
    with pytest.raises(WorkflowError) as exc:
        perform(conn, ev, "verify", world["county"], now=NOW)
    assert exc.value.status == 403 and "other than its resolver" in exc.value.detail
    assert perform(conn, ev, "verify", world["county2"], now=NOW)["status"] == "verified"


def test_who_may_act(conn, world):
    ev = world["event"]

    def refused(action, actor, status, **kw):
        with pytest.raises(WorkflowError) as exc:
            perform(conn, ev, action, actor, now=NOW, **kw)
        assert exc.value.status == status, (action, exc.value.detail)

    refused("accept", world["supervisor"], 403)  # no dispatch permission
    refused("accept", world["auditor"], 403)
    refused("accept", world["elsewhere"], 404)  # another county: as if unknown
    refused("accept", Actor.worker(world["worker"]), 404)  # not the worker's case
    refused("supervise", world["township"], 403)  # dispatcher cannot 督办
    perform(conn, ev, "supervise", world["supervisor"], now=NOW)
    refused("supervise", world["supervisor"], 409)  # already
    perform(conn, ev, "dispatch", world["township"], worker_id=world["worker"], now=NOW)
    refused("start", Actor.worker(world["other_worker"]), 403)  # the reporter sees, not acts
    refused("reassign", world["township"], 422, worker_id=10**12)  # unknown worker
    perform(conn, ev, "escalate", world["supervisor"], now=NOW)
    # escalated to the county: the township can no longer dispatch it, the county can
    refused("dispatch", world["township"], 403, worker_id=world["worker"])
    s = perform(conn, ev, "dispatch", world["county"], worker_id=world["worker"], now=NOW)
    assert s["status"] == "dispatched" and s["owner_level"] == 2


def test_notes_and_parameters_are_checked(conn, world):
    ev = world["event"]
    for kw, field in (
        ({}, "note"),  # reject needs a reason
        ({"note": "x" * 3000}, "note"),
        ({"note": "ok", "version": "2"}, "version"),
    ):
        with pytest.raises(WorkflowError) as exc:
            perform(conn, ev, "reject", world["county"], now=NOW, **kw)
        assert exc.value.status == 422 and exc.value.field == field
    with pytest.raises(WorkflowError) as exc:
        perform(conn, ev, "dispatch", world["county"], now=NOW)
    assert exc.value.status == 422
    with pytest.raises(WorkflowError) as exc:
        perform(conn, ev, "teleport", world["county"], now=NOW)
    assert exc.value.status == 422
    with pytest.raises(WorkflowError) as exc:
        perform(conn, ev, "dispatch", world["county"], worker_id=world["worker"],
                priority="purple", now=NOW)  # fmt: skip
    assert exc.value.field == "priority"


def test_escalation_stops_at_the_prefecture(conn, world):
    ev = world["event"]
    assert perform(conn, ev, "escalate", world["county"], now=NOW)["owner_level"] == 2
    assert perform(conn, ev, "escalate", world["county"], now=NOW)["owner_level"] == 1
    with pytest.raises(WorkflowError) as exc:
        perform(conn, ev, "escalate", world["prefecture"], now=NOW)
    assert exc.value.status == 409


def test_decline_returns_to_the_dispatcher(conn, world):
    ev, w = world["event"], world["worker"]
    perform(conn, ev, "dispatch", world["county"], worker_id=w, now=NOW)
    with pytest.raises(WorkflowError):
        perform(conn, ev, "decline", Actor.worker(w), now=NOW)  # a reason is required
    s = perform(conn, ev, "decline", Actor.worker(w), note="不在辖区", now=NOW)
    assert s["status"] == "returned" and s["assignee_id"] is None
    s = perform(conn, ev, "dispatch", world["county"], worker_id=world["other_worker"], now=NOW)
    assert s["status"] == "dispatched"


def test_merge_closes_the_duplicate_and_its_reporter_follows(conn, world):
    ev = world["event"]
    original = _another_open_event(conn, ev)
    s = perform(conn, ev, "merge", world["county"], merge_into=original, now=NOW)
    assert s["status"] == "closed" and s["merged_into_id"] == original
    follower = conn.execute(
        text("SELECT worker_id, via_event_id FROM event_follower WHERE event_id = :o"),
        {"o": original},
    ).all()
    orig_reporter = conn.execute(
        text("SELECT reporter_id FROM event WHERE id = :o"), {"o": original}
    ).scalar()
    if orig_reporter != world["other_worker"]:
        assert (world["other_worker"], ev) in [tuple(f) for f in follower]
    assert _history(conn, original)[-1][4] == f"merge: absorbed duplicate event {ev}"
    # the reporter of the duplicate can now see the original from the phone
    from geodata.workflow import load_event

    assert load_event(conn, original, Actor.worker(world["other_worker"])).id == original
    with pytest.raises(WorkflowError) as exc:  # into itself / into a closed case
        perform(conn, original, "merge", world["county"], merge_into=original, now=NOW)
    assert exc.value.status == 422
    with pytest.raises(WorkflowError) as exc:
        perform(conn, original, "merge", world["county"], merge_into=ev, now=NOW)
    assert exc.value.status == 409


# ----------------------------------------------------------------------------- concurrency


@pytest.fixture(scope="module")
def wf_engine(seeded_database):
    """Its own small database: the concurrency test commits."""
    with engine_on(seeded_database("gridcmd_wf", scale=0.005)) as eng:
        yield eng


def test_two_dispatchers_at_once_exactly_one_wins(wf_engine):
    from tests.conftest import ensure_accounts

    ids_ = ensure_accounts(
        wf_engine, {"c1": ("commander", "532900"), "c2": ("dispatcher", "532900")}
    )
    with wf_engine.begin() as c:
        ev = c.execute(
            text(
                "INSERT INTO event (uuid, category, severity, title, description, location, "
                "cell_id, status, reported_at, version, synthetic) SELECT :u, 'dispute', "
                "'medium', 'race', '', ST_PointOnSurface(geom), id, 'accepted', now(), 1, true "
                "FROM grid_cell WHERE level = 6 ORDER BY id LIMIT 1 RETURNING id"
            ),
            {"u": uuid.uuid4()},
        ).scalar_one()
        version = 1
        workers = (
            c.execute(text("SELECT id FROM grid_worker WHERE active ORDER BY id LIMIT 2"))
            .scalars()
            .all()
        )
        actors = [
            Actor.from_caller(_caller(c, ids_["c1"], "commander", "532900")),
            Actor.from_caller(_caller(c, ids_["c2"], "dispatcher", "532900")),
        ]
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def go(i: int) -> None:
        with wf_engine.connect() as c, c.begin():
            barrier.wait()
            try:
                results[i] = perform(c, ev, "dispatch", actors[i], version=version,
                                     worker_id=workers[i], note=f"by {i}")  # fmt: skip
            except WorkflowError as exc:
                results[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    wins = [r for r in results if isinstance(r, dict)]
    losses = [r for r in results if isinstance(r, WorkflowError)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert losses[0].status == 409
    with wf_engine.connect() as c:
        row = c.execute(text("SELECT status, version, assignee_id FROM event WHERE id = :i"),
                        {"i": ev}).one()  # fmt: skip
        n = c.execute(text("SELECT count(*) FROM event_action WHERE event_id = :i "
                           "AND to_status = 'dispatched'"), {"i": ev}).scalar_one()  # fmt: skip
    assert row.status == "dispatched" and row.version == version + 1
    assert row.assignee_id == wins[0]["assignee_id"]
    assert n == 1  # the loser left no history


def test_only_the_owning_level_or_above_escalates(conn, world):
    ev = world["event"]
    perform(conn, ev, "escalate", world["township"], now=NOW)  # township owns it: ok → county
    with pytest.raises(WorkflowError) as exc:
        perform(conn, ev, "escalate", world["township"], now=NOW)
    assert exc.value.status == 403
    assert perform(conn, ev, "escalate", world["county"], now=NOW)["owner_level"] == 1


def test_reassign_with_a_new_tier_gets_a_new_deadline(conn, world):
    ev = world["event"]
    s = perform(conn, ev, "dispatch", world["county"], worker_id=world["worker"], now=NOW)
    assert s["priority"] == "yellow"
    later = NOW + dt.timedelta(hours=1)
    s = perform(conn, ev, "reassign", world["county"], worker_id=world["other_worker"],
                priority="red", now=later)  # fmt: skip
    assert s["priority"] == "red" and s["due_at"] == later + dt.timedelta(hours=2)
    s = perform(conn, ev, "reassign", world["county"], worker_id=world["worker"], now=later)
    assert s["due_at"] == later + dt.timedelta(hours=2)  # same tier: the deadline stands


def test_departments_of_another_county_cannot_be_dispatched_to(conn, world):
    ev = world["event"]
    mine, theirs = (
        conn.execute(
            text(
                "SELECT d.id FROM department d JOIN grid_cell c ON c.id = d.cell_id "
                "WHERE c.path ~ :q AND d.kind = 'court' ORDER BY d.id LIMIT 1"
            ),
            {"q": q},
        ).scalar_one()
        for q in ("532900.532901", "532900.532922")
    )
    with pytest.raises(WorkflowError) as exc:
        perform(conn, ev, "dispatch", world["county"], department_id=theirs, now=NOW)
    assert exc.value.status == 422 and exc.value.field == "department_id"
    # the county court is visible from a township of that county
    s = perform(conn, ev, "dispatch", world["township"], department_id=mine, now=NOW)
    assert s["department_id"] == mine and s["assignee_id"] is None


# ----------------------------------------------------------------------------- refusals


def _refusal(conn, *args, **kw) -> tuple:
    """(status, error, detail, field) of the WorkflowError ``perform(*args, **kw)`` raises."""
    with pytest.raises(WorkflowError) as exc, conn.begin_nested():
        perform(conn, *args, now=NOW, **kw)
    e = exc.value
    return e.status, e.error, e.detail, e.field


def _in_county(conn, sql: str, county: str) -> int:
    return conn.execute(
        text(sql + " AND c.path <@ (SELECT path FROM grid_cell WHERE code = :k)"
             " ORDER BY 1 LIMIT 1"),
        {"k": county},
    ).scalar_one()


def test_out_of_scope_and_unknown_records_get_one_answer(conn, world):
    # The attack: the old answers were "no event 737 in your area" for another county's event
    # and for an unknown id alike only by luck of wording, and they echoed internal ids; the
    # refusals for workers, departments and merge targets echoed them too. Now each kind of
    # record has one answer whether it does not exist or lies outside the caller's reach.
    ev, county = world["event"], world["county"]
    unknown = 10**12
    far_event = conn.execute(  # an open event in another county
        text(
            """
            INSERT INTO event (uuid, category, severity, title, description, location, cell_id,
                status, reported_at, version, synthetic)
            SELECT :u, 'dispute', 'high', 'far', '', ST_PointOnSurface(geom), id, 'reported',
                   :now, 1, true
            FROM grid_cell WHERE level = 6 AND code LIKE '532922%' ORDER BY code LIMIT 1
            RETURNING id
            """
        ),
        {"u": uuid.uuid4(), "now": NOW},
    ).scalar_one()
    far_worker = _in_county(
        conn, "SELECT w.id FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id "
        "WHERE w.active", "532922",
    )  # fmt: skip
    idle_worker = conn.execute(
        text("UPDATE grid_worker SET active = false WHERE id = :w RETURNING id"),
        {"w": world["other_worker"]},
    ).scalar_one()
    far_dept = _in_county(
        conn, "SELECT d.id FROM department d JOIN grid_cell c ON c.id = d.cell_id "
        "WHERE d.active AND d.kind <> 'court'", "532922",
    )  # fmt: skip

    events = {_refusal(conn, i, "accept", county) for i in (unknown, far_event)}
    workers = {_refusal(conn, ev, "dispatch", county, worker_id=w)
               for w in (unknown, far_worker, idle_worker)}  # fmt: skip
    merges = {_refusal(conn, ev, "merge", county, merge_into=i) for i in (unknown, far_event)}
    depts = {_refusal(conn, ev, "dispatch", county, department_id=d) for d in (unknown, far_dept)}
    assert events == {(404, "not_found", "no such event in your area", None)}
    assert workers == {(422, "invalid", "no such active worker in your area", "worker_id")}
    assert merges == {(422, "invalid", "no such event in your area", "merge_into")}
    assert depts == {
        (422, "invalid", "no such active department serving this event", "department_id")
    }
    for answer in events | workers | merges | depts:
        assert not any(ch.isdigit() for ch in answer[2])  # no id echoed


def test_dashboard_notes_lose_bidi_controls(conn, world):
    # The case panel and bulk actions pass notes straight to perform: cleaned there.
    ev = world["event"]
    perform(conn, ev, "accept", world["county"], note="受理\u202e付款.exe\u200f\x00", now=NOW)
    assert _history(conn, ev)[-1][4].endswith("| 受理付款.exe")
