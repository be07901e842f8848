"""geodata.roster / geodata.coverage / geodata.demo.roster on the fixture database, every test
in a rolled-back transaction (``rconn``: the fixture plus the demo roster backfill). Numbers
are cross-checked with independent SQL or Python (shapely) computations."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import shapely
from shapely import wkb
from sqlalchemy import text

from geodata import roster
from geodata.accounts import Caller
from geodata.coverage import coverage_summary, workers_outside
from geodata.demo.roster import SYNTHETIC_MARK, backfill_demo_roster
from geodata.metrics import metric_values
from tests.conftest import FIXTURE_NOW

NOW = FIXTURE_NOW
PREF = "532900"
WORLD = (-180.0, -90.0, 180.0, 90.0)
UNMASKED = re.compile(r"1[3-9]\d{9}")


@pytest.fixture()
def rconn(conn):
    backfill_demo_roster(conn, since=NOW - dt.timedelta(days=365), today=NOW.date())
    return conn


def _two_townships(conn) -> tuple[str, str]:
    rows = conn.execute(
        text(
            "SELECT t.path::text FROM grid_cell AS t WHERE t.level = 3 AND EXISTS ("
            " SELECT 1 FROM grid_cell g JOIN grid_worker w ON w.cell_id = g.id"
            " WHERE g.path <@ t.path) ORDER BY t.code LIMIT 2"
        )
    ).scalars()
    a, b = list(rows)
    return a, b


def _account(conn, role: str, scope_path: str) -> Caller:
    code = scope_path.rsplit(".", 1)[-1]
    acc = conn.execute(
        text(
            "INSERT INTO account (username, display_name, role, jurisdiction_cell_id, active) "
            "SELECT :u, :d, :r, id, true FROM grid_cell WHERE code = :c RETURNING id"
        ),
        {"u": f"t_{role}_{code}", "d": f"t_{role}_{code}", "r": role, "c": code},
    ).scalar_one()
    return Caller(acc, f"t_{role}_{code}", f"t_{role}_{code}", role, scope_path)


def _grid(conn, path: str, level: int = 5, skip: int = 0) -> str:
    return conn.execute(
        text(
            "SELECT code FROM grid_cell WHERE level = :l AND path <@ CAST(:p AS ltree) "
            "ORDER BY code OFFSET :s LIMIT 1"
        ),
        {"l": level, "p": path, "s": skip},
    ).scalar_one()


def _worker_in(conn, path: str) -> str:
    return conn.execute(
        text(
            "SELECT w.employee_no FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id "
            "WHERE c.path <@ CAST(:p AS ltree) AND w.active ORDER BY w.employee_no LIMIT 1"
        ),
        {"p": path},
    ).scalar_one()


def _log(conn, target: str) -> list:
    return conn.execute(
        text("SELECT kind, username, target, detail FROM security_log WHERE target = :t"),
        {"t": target},
    ).all()


def _history(conn, employee_no: str) -> list:
    return conn.execute(
        text(
            "SELECT c.code, a.ended_at IS NULL AS open FROM worker_assignment a "
            "JOIN grid_worker w ON w.id = a.worker_id JOIN grid_cell c ON c.id = a.cell_id "
            "WHERE w.employee_no = :n ORDER BY a.started_at, a.id"
        ),
        {"n": employee_no},
    ).all()


# ----------------------------------------------------------------------------- backfill


def test_backfill_opens_one_assignment_per_worker_and_is_idempotent(rconn):
    n_open, n_workers = rconn.execute(
        text(
            "SELECT (SELECT count(*) FROM worker_assignment WHERE ended_at IS NULL), "
            "(SELECT count(*) FROM grid_worker WHERE active)"
        )
    ).one()
    assert n_open == n_workers > 0
    again = backfill_demo_roster(rconn, since=NOW - dt.timedelta(days=365), today=NOW.date())
    assert (again.assignments, again.sessions, again.attendances) == (0, 0, 0)


def test_training_summary_matches_independent_counts(rconn):
    s = roster.training_summary(rconn, PREF)
    sessions, trained, hours = rconn.execute(
        text(
            "SELECT count(DISTINCT (held_on, title)), count(DISTINCT worker_id), sum(hours) "
            "FROM worker_training"
        )
    ).one()
    assert s["sessions"] == sessions <= 117
    assert s["workers_trained"] == trained
    assert s["hours"] == pytest.approx(hours)
    assert s["coverage"] == 1.0  # every active worker attended a session, as the source says
    assert rconn.execute(
        text("SELECT bool_and(title LIKE :m) FROM worker_training"), {"m": "%" + SYNTHETIC_MARK}
    ).scalar()


def test_training_summary_is_scoped(rconn):
    town, _ = _two_townships(rconn)
    s = roster.training_summary(rconn, town)
    expected = rconn.execute(
        text(
            "SELECT count(DISTINCT (t.held_on, t.title)) FROM worker_training t "
            "JOIN grid_worker w ON w.id = t.worker_id JOIN grid_cell c ON c.id = w.cell_id "
            "WHERE c.path <@ CAST(:p AS ltree)"
        ),
        {"p": town},
    ).scalar()
    assert s["sessions"] == expected
    assert s["active_workers"] < roster.training_summary(rconn, PREF)["active_workers"]


# ----------------------------------------------------------------------------- list


def test_list_is_scoped_and_masks_phones(rconn):
    town, other = _two_townships(rconn)
    listed = roster.list_workers(rconn, town, limit=500, now=NOW)
    expected = rconn.execute(
        text(
            "SELECT count(*) FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id "
            "WHERE c.path <@ CAST(:p AS ltree) AND w.active"
        ),
        {"p": town},
    ).scalar()
    active = roster.list_workers(rconn, town, active=True, limit=500, now=NOW)
    assert active["total"] == expected == len(active["rows"])
    assert listed["total"] >= expected
    for r in listed["rows"]:
        assert re.fullmatch(r"\d{3}\*{4}\d{4}", r["phone"])
        assert r["trainings"] >= 1
    assert not UNMASKED.search(repr(listed))
    other_code = other.rsplit(".", 1)[-1]
    assert roster.list_workers(rconn, town, cell_code=other_code) is None
    assert roster.list_workers(rconn, town, cell_code="999999999") is None
    one = listed["rows"][0]
    found = roster.list_workers(rconn, town, query=one["employee_no"])
    assert [r["employee_no"] for r in found["rows"]] == [one["employee_no"]]
    page2 = roster.list_workers(rconn, town, limit=1, offset=1)
    assert page2["total"] == listed["total"] and page2["rows"][0] == listed["rows"][1]


def test_mask_phone():
    assert roster.mask_phone("13812341234") == "138****1234"
    assert roster.mask_phone("0872-2123456") == "087****3456"
    assert roster.mask_phone("123") == "****"
    assert roster.mask_phone(None) == ""


# ----------------------------------------------------------------------------- writes


def test_add_worker_creates_worker_assignment_and_log(rconn):
    town, _ = _two_townships(rconn)
    boss = _account(rconn, "commander", town)
    cell = _grid(rconn, town, 6)
    r = roster.add_worker(rconn, boss, "T-0001", " 测试员 ", "138 0000 1234", cell, now=NOW)
    assert r == {"employee_no": "T-0001", "name": "测试员", "cell_code": cell}
    row = rconn.execute(
        text("SELECT phone, active, synthetic FROM grid_worker WHERE employee_no = 'T-0001'")
    ).one()
    assert tuple(row) == ("13800001234", True, False)
    assert _history(rconn, "T-0001") == [(cell, True)]
    logs = _log(rconn, "T-0001")
    assert [(k, u) for k, u, _, _ in logs] == [("roster_change", boss.username)]
    assert "1234" not in logs[0].detail and cell in logs[0].detail
    changed_by = rconn.execute(
        text(
            "SELECT a.changed_by FROM worker_assignment a JOIN grid_worker w "
            "ON w.id = a.worker_id WHERE w.employee_no = 'T-0001'"
        )
    ).scalar()
    assert changed_by == boss.account_id


@pytest.mark.parametrize(
    ("kw", "msgid"),
    [
        ({"phone": "12345"}, "Invalid phone number"),
        ({"employee_no": "x"}, "Employee number"),
        ({"name": ""}, "Name must be"),
        ({"name": "a\x00b"}, "Name must be"),
        ({"cell": "L4"}, "Workers are assigned to grids"),
        ({"cell": "bad code!"}, "Invalid cell code."),
    ],
)
def test_add_worker_validation(rconn, kw, msgid):
    town, _ = _two_townships(rconn)
    admin = _account(rconn, "admin", PREF)
    cell = kw.pop("cell", _grid(rconn, town))
    if cell == "L4":
        cell = _grid(rconn, town, 4)
    args = {"employee_no": "T-0002", "name": "张三", "phone": "13900001111"} | kw
    with pytest.raises(roster.RosterError, match=re.escape(msgid)):
        roster.add_worker(rconn, admin, args["employee_no"], args["name"], args["phone"], cell)
    assert not rconn.execute(text("SELECT 1 FROM grid_worker WHERE employee_no='T-0002'")).first()


def test_roster_text_loses_bidi_controls(rconn):
    # The attack: a name or note with U+202E displays reversed ("…exe.png" for "…gnp.exe").
    town, _ = _two_townships(rconn)
    boss = _account(rconn, "commander", town)
    r = roster.add_worker(rconn, boss, "T-0101", "张\u202e三\u200f", "13900001111",
                          _grid(rconn, town), now=NOW)  # fmt: skip
    assert r["name"] == "张三"
    roster.move_worker(rconn, boss, "T-0101", _grid(rconn, town, 6), "调\u2066整\u2069", now=NOW)
    stored = rconn.execute(
        text("SELECT w.name || string_agg(coalesce(a.note, ''), '') FROM grid_worker w"
             " JOIN worker_assignment a ON a.worker_id = w.id WHERE w.employee_no = 'T-0101'"
             " GROUP BY w.name")
    ).scalar_one()  # fmt: skip
    assert "调整" in stored and not set(stored) & set("\u202e\u200f\u2066\u2069")


def test_add_worker_refuses_used_number_other_scope_and_no_permission(rconn):
    town, other = _two_townships(rconn)
    boss = _account(rconn, "commander", town)
    used = _worker_in(rconn, town)
    with pytest.raises(roster.RosterError, match="already in use"):
        roster.add_worker(rconn, boss, used, "张三", "13900001111", _grid(rconn, town))
    with pytest.raises(roster.NotInScope):
        roster.add_worker(rconn, boss, "T-0003", "张三", "13900001111", _grid(rconn, other))
    with pytest.raises(roster.NotInScope):
        roster.add_worker(rconn, boss, "T-0003", "张三", "13900001111", "532999999999")
    sup = _account(rconn, "supervisor", PREF)
    with pytest.raises(PermissionError):
        roster.add_worker(rconn, sup, "T-0003", "张三", "13900001111", _grid(rconn, town))
    assert not rconn.execute(text("SELECT 1 FROM grid_worker WHERE employee_no='T-0003'")).first()


def test_a_number_taken_outside_the_scope_is_not_confirmed(rconn):
    # The attack: a township commander adds a worker with another county's employee number
    # and learnt from "Employee number already in use. WG…" that the number exists there.
    town, other = _two_townships(rconn)
    boss = _account(rconn, "commander", other)
    theirs = _worker_in(rconn, town)
    with pytest.raises(roster.NumberUnavailable) as exc:
        roster.add_worker(rconn, boss, theirs, "张三", "13900001111", _grid(rconn, other))
    assert exc.value.msgid == roster.NOT_SAVED == str(exc.value)  # no number, no detail
    assert "in use" not in str(exc.value) and theirs not in str(exc.value)
    # nothing changed, and the caller's transaction is still usable (a savepoint took it)
    n = rconn.execute(
        text("SELECT count(*) FROM grid_worker WHERE employee_no = :n"), {"n": theirs}
    ).scalar()
    assert n == 1
    # inside the caller's own scope the number may still be named as in use
    mine = _worker_in(rconn, other)
    with pytest.raises(roster.RosterError, match="already in use") as exc:
        roster.add_worker(rconn, boss, mine, "张三", "13900001111", _grid(rconn, other))
    assert not isinstance(exc.value, roster.NumberUnavailable)


def test_move_worker_keeps_history(rconn):
    town, _ = _two_townships(rconn)
    boss = _account(rconn, "commander", town)
    no = _worker_in(rconn, town)
    before = _history(rconn, no)
    old = before[-1][0]
    target = next(_grid(rconn, town, 6, i) for i in range(3) if _grid(rconn, town, 6, i) != old)
    r = roster.move_worker(rconn, boss, no, target, "调整网格", now=NOW)
    assert r == {"from": old, "to": target}
    after = _history(rconn, no)
    assert after == [(old, False), (target, True)]
    assert (
        rconn.execute(
            text(
                "SELECT c.code FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id "
                "WHERE w.employee_no = :n"
            ),
            {"n": no},
        ).scalar()
        == target
    )
    hist = roster.assignment_history(rconn, town, no)
    assert [h["cell_code"] for h in hist] == [target, old]
    assert hist[0]["changed_by"] == boss.username and hist[0]["note"] == "调整网格"
    assert hist[1]["ended_at"] == hist[0]["started_at"] == NOW
    assert [r.detail for r in _log(rconn, no)] == [f"move {old}->{target}"]
    with pytest.raises(roster.RosterError, match="already assigned"):
        roster.move_worker(rconn, boss, no, target, now=NOW)


def test_move_refuses_out_of_scope_cell_or_worker_and_changes_nothing(rconn):
    town, other = _two_townships(rconn)
    boss = _account(rconn, "commander", town)
    mine, theirs = _worker_in(rconn, town), _worker_in(rconn, other)
    mine_before, theirs_before = _history(rconn, mine), _history(rconn, theirs)
    with pytest.raises(roster.NotInScope):
        roster.move_worker(rconn, boss, mine, _grid(rconn, other), now=NOW)
    with pytest.raises(roster.NotInScope):
        roster.move_worker(rconn, boss, theirs, _grid(rconn, town), now=NOW)
    with pytest.raises(roster.NotInScope):
        roster.move_worker(rconn, boss, "WG000000-99999", _grid(rconn, town), now=NOW)
    assert _history(rconn, mine) == mine_before and _history(rconn, theirs) == theirs_before
    assert roster.assignment_history(rconn, town, theirs) is None
    assert roster.assignment_history(rconn, town, "WG000000-99999") is None
    assert roster.worker_trainings(rconn, town, theirs) is None
    with pytest.raises(roster.NotInScope):
        roster.edit_worker(rconn, boss, theirs, name="改名")
    with pytest.raises(roster.NotInScope):
        roster.deactivate_worker(rconn, boss, theirs, now=NOW)


def test_past_cell_outside_the_scope_is_not_shown(rconn):
    town, other = _two_townships(rconn)
    admin = _account(rconn, "admin", PREF)
    no = _worker_in(rconn, other)
    roster.move_worker(rconn, admin, no, _grid(rconn, town), now=NOW)
    hist = roster.assignment_history(rconn, town, no)
    assert hist[0]["cell_code"] is not None
    assert hist[1]["cell_code"] is None and hist[1]["cell_name"] is None


def test_deactivate_and_reactivate(rconn):
    town, _ = _two_townships(rconn)
    boss = _account(rconn, "commander", town)
    no = _worker_in(rconn, town)
    roster.deactivate_worker(rconn, boss, no, note="离职", now=NOW)
    assert rconn.execute(
        text("SELECT active, duty_status FROM grid_worker WHERE employee_no = :n"), {"n": no}
    ).one() == (False, "off_duty")
    assert [o for _, o in _history(rconn, no)] == [False]
    with pytest.raises(roster.RosterError, match="already inactive"):
        roster.deactivate_worker(rconn, boss, no, now=NOW)
    with pytest.raises(roster.RosterError, match="Reactivate"):
        roster.move_worker(rconn, boss, no, _grid(rconn, town, 6), now=NOW)
    roster.reactivate_worker(rconn, boss, no, now=NOW + dt.timedelta(days=1))
    assert [o for _, o in _history(rconn, no)] == [False, True]
    assert [r.detail for r in _log(rconn, no)] == ["deactivate note=离职", "reactivate"]


def test_edit_worker(rconn):
    town, _ = _two_townships(rconn)
    boss = _account(rconn, "commander", town)
    no = _worker_in(rconn, town)
    changed = roster.edit_worker(
        rconn, boss, no, name="李四", phone="13711112222", duty_status="on_leave"
    )
    assert changed == ["duty_status", "name", "phone"]
    assert tuple(
        rconn.execute(
            text("SELECT name, phone, duty_status FROM grid_worker WHERE employee_no = :n"),
            {"n": no},
        ).one()
    ) == ("李四", "13711112222", "on_leave")
    with pytest.raises(roster.RosterError, match="Invalid duty"):
        roster.edit_worker(rconn, boss, no, duty_status="asleep")
    with pytest.raises(roster.RosterError, match="Nothing to change"):
        roster.edit_worker(rconn, boss, no)
    logs = _log(rconn, no)
    assert [r.detail for r in logs] == ["edit duty_status,name,phone"]
    assert "13711112222" not in repr(logs)


def test_record_training(rconn):
    town, other = _two_townships(rconn)
    boss = _account(rconn, "commander", town)
    nos = [r["employee_no"] for r in roster.list_workers(rconn, town, limit=3)["rows"]]
    before = roster.training_summary(rconn, town)
    n = roster.record_training(rconn, boss, nos, "2026-10-20", "消防演练", 2, today=NOW.date())
    assert n == len(nos)
    after = roster.training_summary(rconn, town)
    assert after["sessions"] == before["sessions"] + 1
    assert after["attendances"] == before["attendances"] + len(nos)
    assert roster.record_training(rconn, boss, nos, "2026-10-20", "消防演练", 2,
                                  today=NOW.date()) == 0  # fmt: skip
    with pytest.raises(roster.NotInScope):
        roster.record_training(rconn, boss, [*nos, _worker_in(rconn, other)], "2026-10-21",
                               "越界", 2, today=NOW.date())  # fmt: skip
    assert roster.training_summary(rconn, town)["attendances"] == after["attendances"]
    for bad, msg in [
        ({"held_on": "2027-01-01"}, "future"),
        ({"held_on": "yesterday"}, "Invalid date"),
        ({"hours": 30}, "Hours"),
        ({"hours": "x"}, "Hours"),
        ({"title": "  "}, "Title"),
    ]:
        args = {"held_on": "2026-10-22", "title": "培训", "hours": 2} | bad
        with pytest.raises(roster.RosterError, match=msg):
            roster.record_training(rconn, boss, nos, args["held_on"], args["title"],
                                   args["hours"], today=NOW.date())  # fmt: skip
    with pytest.raises(roster.RosterError, match="at least one"):
        roster.record_training(rconn, boss, [], "2026-10-22", "培训", 2, today=NOW.date())
    rows = rconn.execute(
        text("SELECT kind, target, detail FROM security_log WHERE target = 'training 2026-10-20'")
    ).all()
    assert len(rows) == 2 and all(r.kind == "roster_change" for r in rows)
    assert nos[0] in rows[0].detail


# ----------------------------------------------------------------------------- coverage


def _expected_staffing(conn, path: str, level: int) -> dict[str, float]:
    """Independent: workers per grid (own + micro-grids) / per micro-grid (own + grid's)."""
    cells = conn.execute(
        text("SELECT id, code, level, parent_id, path::text FROM grid_cell WHERE level >= 5")
    ).all()
    workers = conn.execute(text("SELECT cell_id FROM grid_worker WHERE active")).scalars()
    per_cell: dict[int, int] = {}
    for c in workers:
        per_cell[c] = per_cell.get(c, 0) + 1
    children: dict[int, list[int]] = {}
    for c in cells:
        if c.level == 6:
            children.setdefault(c.parent_id, []).append(c.id)
    out = {}
    for c in cells:
        if c.level != level or not (c.path == path or c.path.startswith(path + ".")):
            continue
        if level == 5:
            n = per_cell.get(c.id, 0) + sum(per_cell.get(m, 0) for m in children.get(c.id, []))
        else:
            n = per_cell.get(c.id, 0) + per_cell.get(c.parent_id, 0)
        out[c.code] = float(n)
    return out


def test_staffing_and_uncovered_metrics_match_an_independent_count(rconn):
    town, _ = _two_townships(rconn)
    admin = _account(rconn, "admin", PREF)
    for level in (5, 6):
        got = metric_values(rconn, scope_path=town, level=level, bbox=WORLD, metric="staffing")
        assert got == _expected_staffing(rconn, town, level)
    # Leave one grid without anyone: deactivate all its workers.
    grid = _grid(rconn, town)
    nos = (
        rconn.execute(
            text(
                "SELECT w.employee_no FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id "
                "WHERE c.code = :g OR c.parent_id = (SELECT id FROM grid_cell WHERE code = :g)"
            ),
            {"g": grid},
        )
        .scalars()
        .all()
    )
    before = metric_values(rconn, scope_path=PREF, level=2, bbox=WORLD, metric="uncovered")
    for no in nos:
        roster.deactivate_worker(rconn, admin, no, now=NOW)
    got5 = metric_values(rconn, scope_path=town, level=5, bbox=WORLD, metric="staffing")
    assert got5 == _expected_staffing(rconn, town, 5) and got5[grid] == 0
    unc5 = metric_values(rconn, scope_path=town, level=5, bbox=WORLD, metric="uncovered")
    assert {k for k, v in unc5.items() if v} == {k for k, v in got5.items() if v == 0}
    after = metric_values(rconn, scope_path=PREF, level=2, bbox=WORLD, metric="uncovered")
    assert sum(after.values()) == sum(before.values()) + 1
    county = town.split(".")[1]
    assert after[county] == before[county] + 1
    for level in (3, 4):
        vals = metric_values(rconn, scope_path=town, level=level, bbox=WORLD, metric="uncovered")
        assert sum(vals.values()) == sum(unc5.values())
    unc6 = metric_values(rconn, scope_path=town, level=6, bbox=WORLD, metric="uncovered")
    parents = dict(
        rconn.execute(
            text(
                "SELECT c.code, p.code FROM grid_cell c JOIN grid_cell p ON p.id = c.parent_id "
                "WHERE c.level = 6 AND c.path <@ CAST(:p AS ltree)"
            ),
            {"p": town},
        ).all()
    )
    assert unc6 == {m: unc5[p] for m, p in parents.items()} and 1.0 in unc6.values()
    summary = coverage_summary(rconn, town)
    assert summary["grids"] == len(got5)
    assert summary["uncovered"] == sum(1 for v in got5.values() if v == 0)
    assert summary["several"] == sum(1 for v in got5.values() if v >= 2)
    assert metric_values(rconn, scope_path=town, level=3, bbox=WORLD, metric="staffing") == {}


def test_workers_outside_match_shapely(rconn):
    town, _ = _two_townships(rconn)
    # Fixes for two workers over the last days: one mostly outside, one mostly inside.
    w = rconn.execute(
        text(
            "SELECT w.id, w.employee_no, ST_AsBinary(c.geom) AS g, "
            "ST_X(ST_PointOnSurface(c.geom)) AS x, ST_Y(ST_PointOnSurface(c.geom)) AS y, "
            "ST_XMax(c.geom) AS xmax FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id "
            "WHERE c.path <@ CAST(:p AS ltree) AND w.active ORDER BY w.employee_no LIMIT 2"
        ),
        {"p": town},
    ).all()
    for k, (n_out, n_in) in enumerate(((30, 1), (1, 3))):
        pts = [(w[k].xmax + 0.05, w[k].y)] * n_out + [(w[k].x, w[k].y)] * n_in
        for i, (x, y) in enumerate(pts):
            rconn.execute(
                text(
                    "INSERT INTO worker_position (worker_id, fix_time, geom, source) VALUES "
                    "(:w, :t, ST_SetSRID(ST_MakePoint(:x, :y), 4326), 'manual')"
                ),
                {"w": w[k].id, "t": NOW - dt.timedelta(days=2, minutes=i), "x": x, "y": y},
            )
    got = workers_outside(rconn, town, now=NOW)
    # Independent: every fix of the window tested with shapely against the worker's cell.
    rows = rconn.execute(
        text(
            "SELECT w.employee_no, w.name, ST_AsBinary(c.geom) AS g, ST_X(p.geom) AS x, "
            "ST_Y(p.geom) AS y FROM worker_position p JOIN grid_worker w ON w.id = p.worker_id "
            "JOIN grid_cell c ON c.id = w.cell_id WHERE w.active "
            "AND c.path <@ CAST(:p AS ltree) AND p.fix_time > :a AND p.fix_time <= :b"
        ),
        {"p": town, "a": NOW - dt.timedelta(days=7), "b": NOW},
    ).all()
    tally: dict[str, list[int]] = {}
    geoms: dict[str, object] = {}
    for r in rows:
        g = geoms.setdefault(r.employee_no, wkb.loads(bytes(r.g)))
        t = tally.setdefault(r.employee_no, [0, 0])
        t[0] += 1
        t[1] += 0 if shapely.covers(g, shapely.Point(r.x, r.y)) else 1
    expected = {no: (n, o) for no, (n, o) in tally.items() if o > n * 0.5}
    assert {r["employee_no"]: (r["fixes"], r["outside"]) for r in got["rows"]} == expected
    assert got["total"] == len(expected)
    assert w[0].employee_no in expected and w[1].employee_no not in expected
    assert workers_outside(rconn, town, cell_code="999999999") is None
