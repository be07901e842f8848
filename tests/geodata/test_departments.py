"""geodata.departments and the demo departments: suggestions checked against a brute force
over the fixture's departments, scope refusals, the queue's order, the map list's scope;
department accounts (``Caller.department_id``)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from geodata.accounts import AccountError, create_account, has_permission, load_caller
from geodata.demo.departments import DEMO_PLAN, seed_demo_departments
from geodata.departments import (
    department_by_id,
    department_for_code,
    department_queue,
    kind_rank,
    list_departments,
    suggest_departments,
)
from gridcmd.vocab import OPEN_STATUSES
from tests.conftest import FIXTURE_NOW, TEST_PASSWORD

PREFECTURE = "532900"
COUNTY_A, COUNTY_B = "532900.532901", "532900.532922"


def _path(conn, code: str) -> str:
    return conn.execute(
        text("SELECT ltree2text(path) FROM grid_cell WHERE code = :c"), {"c": code}
    ).scalar_one()


def _brute_force(conn, event_id: int, scope: str, limit: int) -> list[int]:
    """The suggestion order computed in Python from every department (geodesic distances by
    PostGIS, everything else here)."""
    ev = conn.execute(
        text("SELECT category, difficulty, location FROM event WHERE id = :id"), {"id": event_id}
    ).one()
    rows = conn.execute(
        text(
            """
            SELECT d.id, d.kind, d.active, d.categories, ltree2text(c.path) AS path,
                   ST_Covers(d.service_area, e.location) AS covers,
                   ST_Distance(d.location::geography, e.location::geography) AS m
            FROM department d JOIN grid_cell c ON c.id = d.cell_id, event e WHERE e.id = :id
            """
        ),
        {"id": event_id},
    ).all()

    def visible(path: str) -> bool:
        return (path + ".").startswith(scope + ".") or (scope + ".").startswith(path + ".")

    ok = [r for r in rows if r.active and ev.category in r.categories and visible(r.path)]
    resp = sorted(
        (r for r in ok if r.covers),
        key=lambda r: (kind_rank(ev.category, ev.difficulty, r.kind), r.m, r.id),
    )
    others = sorted((r for r in ok if not r.covers), key=lambda r: (r.m, r.id))
    return [r.id for r in (resp + others)[:limit]]


# ----------------------------------------------------------------------------- demo seed


def test_demo_seed_creates_departments_per_county_and_township(conn):
    counts = dict(conn.execute(text("SELECT kind, count(*) FROM department GROUP BY kind")).all())
    counties = conn.execute(text("SELECT count(*) FROM grid_cell WHERE level = 2")).scalar()
    townships = conn.execute(text("SELECT count(*) FROM grid_cell WHERE level = 3")).scalar()
    assert counts == {
        "police": townships,
        "judicial": townships + counties,
        "court": counties,
        "procuratorate": counties,
        "petition": counties,
    }
    bad = conn.execute(
        text(
            """
            SELECT count(*) FROM department d JOIN grid_cell c ON c.id = d.cell_id
            WHERE NOT d.synthetic OR NOT d.active OR d.name NOT LIKE '%（模拟）'
               OR NOT ST_Covers(c.geom, d.location) OR NOT ST_Equals(d.service_area, c.geom)
               OR c.level <> CASE WHEN d.kind IN ('police') OR d.code LIKE 'JUD-%' THEN 3 ELSE 2 END
            """
        )
    ).scalar()
    assert bad == 0
    plan = {(k, p): set(c) for _lv, k, p, _u, _s, c in DEMO_PLAN}
    for code, kind, cats in conn.execute(text("SELECT code, kind, categories FROM department")):
        assert set(cats) == plan[(kind, code.split("-")[0])]
    # one spot per unit: police station and judicial office of a township do not overlap
    dup = conn.execute(
        text("SELECT count(*) - count(DISTINCT ST_AsBinary(location)) FROM department")
    ).scalar()
    assert dup == 0
    assert seed_demo_departments(conn) == 0  # idempotent


def test_seed_report_counts_departments(engine):
    from geodata.demo.load import table_counts

    with engine.connect() as c:
        assert table_counts(c)["department"] == 72  # 12 counties × 4 + 12 townships × 2


# ----------------------------------------------------------------------------- suggestions


def test_suggestions_match_a_brute_force(conn):
    events = conn.execute(text("SELECT id FROM event ORDER BY id")).scalars().all()
    assert len(events) > 20
    for event_id in events:
        for scope, limit in ((PREFECTURE, 5), (PREFECTURE, 9)):
            got = suggest_departments(conn, event_id, scope, limit=limit)
            assert [d["id"] for d in got] == _brute_force(conn, event_id, scope, limit)
            assert [d["rank"] for d in got] == list(range(1, len(got) + 1))
    # a county scope: the county's own units (and none of its neighbours')
    in_a = conn.execute(
        text(
            "SELECT e.id FROM event e JOIN grid_cell c ON c.id = e.cell_id "
            "WHERE c.path <@ CAST(:a AS ltree) ORDER BY e.id"
        ),
        {"a": COUNTY_A},
    ).scalars().all()  # fmt: skip
    for event_id in in_a:
        got = suggest_departments(conn, event_id, COUNTY_A, limit=8)
        assert [d["id"] for d in got] == _brute_force(conn, event_id, COUNTY_A, 8)
        assert all(d["cell_code"].startswith("532901") for d in got)


def test_entry_shape_and_responsibility(conn):
    event_id = conn.execute(
        text("SELECT id FROM event WHERE category = 'public_security' ORDER BY id LIMIT 1")
    ).scalar_one()
    got = suggest_departments(conn, event_id, PREFECTURE, limit=6)
    first = got[0]
    assert set(first) >= {"id", "code", "name", "kind", "distance_m", "responsible",
                          "open_cases", "lon", "lat", "rank", "kind_rank"}  # fmt: skip
    assert first["responsible"] and first["kind"] == "police" and first["kind_rank"] == 0
    assert [d["responsible"] for d in got] == sorted((d["responsible"] for d in got), reverse=True)
    assert all(not d["responsible"] and d["kind_rank"] is None for d in got if d["rank"] > 2)
    assert all("public_security" in department_by_id(conn, PREFECTURE, d["id"])["categories"]
               for d in got)  # fmt: skip
    dists = [d["distance_m"] for d in got if not d["responsible"]]
    assert dists == sorted(dists)


def test_difficult_dispute_goes_to_judicial_then_petition_then_court(conn):
    event_id = conn.execute(
        text("SELECT id FROM event WHERE category = 'dispute' ORDER BY id LIMIT 1")
    ).scalar_one()
    conn.execute(text("UPDATE event SET difficulty = 'difficult' WHERE id = :id"), {"id": event_id})
    got = suggest_departments(conn, event_id, PREFECTURE, limit=5)
    assert [d["kind"] for d in got] == ["judicial", "judicial", "petition", "court", "police"]
    assert all(d["responsible"] for d in got)
    assert got[0]["distance_m"] <= got[1]["distance_m"]
    conn.execute(text("UPDATE event SET difficulty = 'simple' WHERE id = :id"), {"id": event_id})
    kinds = [d["kind"] for d in suggest_departments(conn, event_id, PREFECTURE, limit=5)]
    assert kinds == ["judicial", "judicial", "police", "petition", "court"]


def test_kind_rank_table():
    assert kind_rank("dispute", "difficult", "judicial") == 0
    assert kind_rank("dispute", "difficult", "court") == 2
    assert kind_rank("dispute", "difficult", "police") == 3
    assert kind_rank("dispute", None, "police") == 1
    assert kind_rank("public_security", None, "police") == 0
    assert kind_rank("social_risk", "whatever", "police") == 0
    assert kind_rank("forest_fire", None, "police") == 0  # no table: all kinds equal


def test_open_cases_and_inactive_departments(conn):
    event_id = conn.execute(
        text("SELECT id FROM event WHERE category = 'public_security' ORDER BY id LIMIT 1")
    ).scalar_one()
    top = suggest_departments(conn, event_id, PREFECTURE, limit=3)[0]
    conn.execute(
        text(
            "UPDATE event SET department_id = :d WHERE id IN (SELECT id FROM event "
            "WHERE status = ANY(:open) ORDER BY id LIMIT 3)"
        ),
        {"d": top["id"], "open": list(OPEN_STATUSES)},
    )
    again = suggest_departments(conn, event_id, PREFECTURE, limit=3)[0]
    assert again["id"] == top["id"] and again["open_cases"] == top["open_cases"] + 3
    conn.execute(text("UPDATE department SET active = false WHERE id = :d"), {"d": top["id"]})
    ids = [d["id"] for d in suggest_departments(conn, event_id, PREFECTURE, limit=10)]
    assert top["id"] not in ids


def test_scope_refusals(conn):
    b_event = conn.execute(
        text(
            "SELECT e.id FROM event e JOIN grid_cell c ON c.id = e.cell_id "
            "WHERE c.path <@ CAST(:b AS ltree) ORDER BY e.id LIMIT 1"
        ),
        {"b": COUNTY_B},
    ).scalar_one()
    with pytest.raises(LookupError):
        suggest_departments(conn, b_event, COUNTY_A)
    with pytest.raises(LookupError):
        suggest_departments(conn, 2**62, PREFECTURE)
    with pytest.raises(ValueError):
        suggest_departments(conn, b_event, "532900;DROP")
    with pytest.raises(ValueError):
        suggest_departments(conn, b_event, PREFECTURE, limit=0)
    assert suggest_departments(conn, b_event, COUNTY_B)  # in its own scope it works


def test_knn_widening_is_exact(conn, monkeypatch):
    """A first KNN fetch of one row still gives the brute-force order (the fetch widens)."""
    import geodata.departments as departments

    monkeypatch.setattr(departments, "KNN_MIN", 1)
    monkeypatch.setattr(departments, "KNN_FACTOR", 1)
    events = conn.execute(text("SELECT id FROM event ORDER BY id LIMIT 15")).scalars().all()
    for event_id in events:
        got = suggest_departments(conn, event_id, PREFECTURE, limit=12)
        assert [d["id"] for d in got] == _brute_force(conn, event_id, PREFECTURE, 12)


# ----------------------------------------------------------------------------- list, by id


def test_list_departments_scope(conn):
    a = list_departments(conn, COUNTY_A)
    assert a and all(r["cell_code"].startswith("532901") for r in a)
    assert {r["kind"] for r in a} == {"police", "judicial", "court", "procuratorate", "petition"}
    assert set(a[0]) >= {"id", "code", "name", "kind", "lon", "lat", "categories"}
    township = conn.execute(
        text("SELECT code FROM grid_cell WHERE level = 3 AND code LIKE '532901%' LIMIT 1")
    ).scalar_one()
    t = list_departments(conn, _path(conn, township))
    # the township's own units plus the county's (an ancestor jurisdiction), nobody else's
    assert {r["cell_code"] for r in t} == {township, "532901"}
    assert len(list_departments(conn, PREFECTURE)) == 72
    assert list_departments(conn, "0") == []
    x0, y0, x1, y1 = a[0]["lon"] - 1e-4, a[0]["lat"] - 1e-4, a[0]["lon"] + 1e-4, a[0]["lat"] + 1e-4
    assert [r["id"] for r in list_departments(conn, COUNTY_A, bbox=(x0, y0, x1, y1))] == [
        a[0]["id"]
    ]
    conn.execute(text("UPDATE department SET active = false WHERE id = :d"), {"d": a[0]["id"]})
    assert a[0]["id"] not in {r["id"] for r in list_departments(conn, COUNTY_A)}
    assert a[0]["id"] in {r["id"] for r in list_departments(conn, COUNTY_A, include_inactive=True)}


def test_department_by_id_and_code(conn):
    b = list_departments(conn, COUNTY_B)[0]
    assert department_by_id(conn, COUNTY_A, b["id"]) is None
    assert department_by_id(conn, COUNTY_B, b["id"])["code"] == b["code"]
    assert department_by_id(conn, PREFECTURE, 2**63 + 5) is None
    with pytest.raises(ValueError):
        department_by_id(conn, PREFECTURE, "1")  # type: ignore[arg-type]
    assert department_for_code(conn, b["code"])["id"] == b["id"]
    assert department_for_code(conn, "NOPE") is None


# ----------------------------------------------------------------------------- queue


def test_queue_order_open_overdue_due(conn):
    dept = list_departments(conn, COUNTY_A)[0]["id"]
    ids = conn.execute(text("SELECT id FROM event ORDER BY id LIMIT 6")).scalars().all()
    now = FIXTURE_NOW
    h = dt.timedelta(hours=1)
    plan = [  # (status, due_at)
        ("dispatched", now + 5 * h),  # open, due later
        ("in_progress", now - 2 * h),  # overdue
        ("closed", now - 9 * h),  # finished
        ("dispatched", None),  # open, no deadline
        ("returned", now - 1 * h),  # overdue, due later than the other
        ("accepted", now + 1 * h),  # open, due sooner
    ]
    for event_id, (status, due) in zip(ids, plan, strict=True):
        conn.execute(
            text("UPDATE event SET department_id = :d, status = :s, due_at = :due WHERE id = :id"),
            {"d": dept, "s": status, "due": due, "id": event_id},
        )
    q = department_queue(conn, dept, now=now)
    assert [r["id"] for r in q] == [ids[1], ids[4], ids[5], ids[0], ids[3]]
    assert [r["overdue"] for r in q] == [True, True, False, False, False]
    assert set(q[0]) >= {"id", "title", "category", "status", "priority", "reported_at",
                         "due_at", "overdue", "supervised_at"}  # fmt: skip
    full = department_queue(conn, dept, now=now, include_closed=True)
    assert [r["id"] for r in full][-1] == ids[2] and not full[-1]["open"]
    assert len(department_queue(conn, dept, now=now, limit=2)) == 2
    assert department_queue(conn, dept, now=now, scope_path="0") == []


# ----------------------------------------------------------------------------- accounts


def test_department_account_and_caller(conn):
    dep = department_for_code(conn, list_departments(conn, COUNTY_A)[0]["code"])
    account = create_account(conn, "t_dept_unit", "民警", "department", dep["cell_code"],
                             TEST_PASSWORD, department_id=dep["id"])  # fmt: skip
    caller = load_caller(conn, account)
    assert caller.department_id == dep["id"] and caller.role == "department"
    assert caller.scope_path.endswith(dep["cell_code"])
    assert has_permission(caller, "view") and has_permission(caller, "handle")
    assert not has_permission(caller, "dispatch") and not has_permission(caller, "roster")
    other = load_caller(
        conn,
        create_account(conn, "t_dept_other", "x", "auditor", "532901", TEST_PASSWORD),
    )
    assert other.department_id is None


def test_session_caller_carries_the_department(conn):
    from geodata.sessions import create_session, session_caller

    dep = department_for_code(conn, list_departments(conn, COUNTY_B)[0]["code"])
    account = create_account(conn, "t_dept_sess", "x", "department", dep["cell_code"],
                             TEST_PASSWORD, department_id=dep["id"])  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    token = create_session(conn, account, ip=None, ua="pytest", now=now)
    assert session_caller(conn, token, now=now).department_id == dep["id"]


@pytest.mark.parametrize(
    ("role", "cell", "with_dept", "message"),
    [
        ("department", None, False, "needs the department"),
        ("commander", "532901", True, "Only a department account"),
        ("department", "532900", True, "jurisdiction is its department's cell"),
    ],
)
def test_department_account_refusals(conn, role, cell, with_dept, message):
    dep = department_for_code(conn, list_departments(conn, COUNTY_A)[0]["code"])
    with pytest.raises(AccountError, match=message):
        create_account(conn, "t_dept_bad", "x", role, cell or dep["cell_code"], TEST_PASSWORD,
                       department_id=dep["id"] if with_dept else None)  # fmt: skip
    with pytest.raises(AccountError, match="No department"):
        create_account(conn, "t_dept_bad", "x", "department", "532901", TEST_PASSWORD,
                       department_id=2**40)  # fmt: skip


def test_set_role_to_and_from_department(conn):
    from geodata.accounts import set_role

    dep = department_for_code(conn, list_departments(conn, COUNTY_A)[0]["code"])
    account = create_account(conn, "t_dept_role", "x", "dispatcher", "532901", TEST_PASSWORD)
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(AccountError, match="needs the department"):
        set_role(conn, "t_dept_role", "department", now=now)
    set_role(conn, "t_dept_role", "department", now=now, department_id=dep["id"])
    caller = load_caller(conn, account)
    assert caller.department_id == dep["id"] and caller.scope_path.endswith(dep["cell_code"])
    set_role(conn, "t_dept_role", "auditor", now=now)
    assert load_caller(conn, account).department_id is None


def test_demo_department_account(conn):
    from geodata.demo.accounts import seed_demo_accounts

    made = {a.username: a for a in seed_demo_accounts(conn)}
    police = made["police.dali"]
    assert police.role == "department"
    row = conn.execute(
        text(
            "SELECT a.id, d.kind, d.cell_id = a.jurisdiction_cell_id AS same FROM account a "
            "JOIN department d ON d.id = a.department_id WHERE a.username = 'police.dali'"
        )
    ).one()
    assert row.kind == "police" and row.same
    assert load_caller(conn, row.id).department_id is not None
