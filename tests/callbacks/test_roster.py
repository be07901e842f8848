"""callbacks.roster called directly, as Callers of different roles and scopes
(``web.CALLER_OVERRIDE``), on the fixture database inside a rolled-back transaction: a
supervisor or another township's commander changes nothing and gets a message; outputs never
carry an unmasked phone number; bad input → messages, never exceptions."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from dash import no_update
from sqlalchemy import text

from callbacks import roster as roster_callbacks
from callbacks.guard import DB_UNAVAILABLE
from dashboard import ids
from dashboard.roster import WRITE_CONTROLS
from geodata import roster
from geodata.accounts import Caller
from geodata.db import make_engine
from geodata.demo.roster import backfill_demo_roster
from gridcmd import web
from gridcmd.i18n import t
from tests.callbacks.fakes import FakeApp, TxEngine, caller_override, set_triggered
from tests.conftest import FIXTURE_NOW, engine_on

PREF = "532900"
UNMASKED = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")




@pytest.fixture()
def world(conn, settings):
    backfill_demo_roster(conn, since=FIXTURE_NOW - dt.timedelta(days=365))
    towns = (
        conn.execute(
            text(
                "SELECT t.path::text FROM grid_cell AS t WHERE t.level = 3 AND EXISTS ("
                " SELECT 1 FROM grid_cell g JOIN grid_worker w ON w.cell_id = g.id"
                " WHERE g.path <@ t.path) ORDER BY t.code LIMIT 2"
            )
        )
        .scalars()
        .all()
    )
    app = FakeApp()
    roster_callbacks.register(app, TxEngine(conn), settings)
    return {"conn": conn, "fn": app.functions, "town": towns[0], "other": towns[1]}


@pytest.fixture()
def as_caller():
    """``as_caller(role, scope, account_id=0)``: act as that caller (undone after the test)."""
    with caller_override() as use:
        yield lambda role, scope, account_id=0: use(
            Caller(account_id, f"cb_{role}", f"cb_{role}", role, scope)
        )


def _trigger(component_id: str, prop: str = "n_clicks") -> None:
    set_triggered(f"{component_id}.{prop}")


def _action(fn, search=None, picked=None, refresh=0, **form):
    """``roster_action`` called as Dash calls it: the form's fields as one dict."""
    return fn["roster_action"](
        clicks=[1] * len(roster_callbacks.ACTIONS), search=search, picked=picked,
        form={k: form.get(k) for k in roster_callbacks.FORM_FIELDS}, refresh=refresh,
    )  # fmt: skip


def _act(fn, button: str, **form):
    _trigger(button)
    return _action(fn, **form)


def _worker(conn, path: str) -> str:
    return conn.execute(
        text(
            "SELECT w.employee_no FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id "
            "WHERE c.path <@ CAST(:p AS ltree) AND w.active ORDER BY w.employee_no LIMIT 1"
        ),
        {"p": path},
    ).scalar_one()


def _grid(conn, path: str, level: int = 5) -> str:
    return conn.execute(
        text(
            "SELECT code FROM grid_cell WHERE level = :l AND path <@ CAST(:p AS ltree) "
            "ORDER BY code DESC LIMIT 1"
        ),
        {"l": level, "p": path},
    ).scalar_one()


def _snapshot(conn) -> tuple:
    """Everything a roster write may change."""
    return tuple(
        conn.execute(text(q)).scalar()
        for q in (
            "SELECT md5(string_agg(concat_ws('|', employee_no, name, phone, cell_id, "
            "duty_status, active), ',' ORDER BY id)) FROM grid_worker",
            "SELECT md5(string_agg(concat_ws('|', worker_id, cell_id, started_at, ended_at), "
            "',' ORDER BY id)) FROM worker_assignment",
            "SELECT count(*) FROM worker_training",
            "SELECT count(*) FROM security_log WHERE kind = 'roster_change'",
        )
    )


def _denied(conn) -> int:
    return conn.execute(text("SELECT count(*) FROM security_log WHERE kind = 'denied'")).scalar()


def test_registered_callbacks(world):
    assert set(world["fn"]) == {
        "toggle_roster",
        "roster_permissions",
        "list_roster",
        "show_worker",
        "roster_action",
    }


def test_toggle(world):
    _trigger(ids.ROSTER_OPEN)
    assert world["fn"]["toggle_roster"](1, 0) is False
    _trigger(ids.ROSTER_CLOSE)
    assert world["fn"]["toggle_roster"](1, 1) is True


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("admin", True), ("commander", True), ("supervisor", False), ("dispatcher", False)],
)
def test_forms_enabled_only_with_the_roster_permission(world, as_caller, role, allowed):
    as_caller(role, world["town"])
    out = world["fn"]["roster_permissions"]("?lang=en")
    assert list(out[:-1]) == [not allowed] * len(WRITE_CONTROLS)
    assert bool(out[-1]) is not allowed


def test_list_is_scoped_and_masked(world, as_caller):
    as_caller("commander", world["town"])
    _trigger(ids.ROSTER_PANEL, "hidden")  # the panel opened (not left over from another test)
    fn, conn = world["fn"], world["conn"]
    assert fn["list_roster"](True, None, "active", ["cell"], "", 0) == (no_update,) * 4
    options, count, summary, outside = fn["list_roster"](False, None, "all", [], "", 0)
    expected = conn.execute(
        text(
            "SELECT count(*) FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id "
            "WHERE c.path <@ CAST(:p AS ltree)"
        ),
        {"p": world["town"]},
    ).scalar()
    assert len(options) == min(expected, roster_callbacks.LIST_LIMIT)
    assert f"{expected:,}" in repr(count)
    other_workers = set(
        conn.execute(
            text(
                "SELECT w.employee_no FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id "
                "WHERE c.path <@ CAST(:p AS ltree)"
            ),
            {"p": world["other"]},
        ).scalars()
    )
    assert not other_workers & {o["value"] for o in options}
    blob = repr((options, count, summary, outside))
    assert not UNMASKED.search(blob) and "****" in blob
    # ?cell= of another township: refused like an unknown cell
    other_code = world["other"].rsplit(".", 1)[-1]
    out = fn["list_roster"](False, None, "active", ["cell"], f"?cell={other_code}&lang=en", 0)
    assert out[0] == [] and t(roster_callbacks.UNKNOWN_CELL, "en") in repr(out[1])
    assert not (other_workers & set(re.findall(r"WG\d{6}-\d{5}", repr(out))))


def test_admin_adds_moves_edits_and_trains(world, as_caller):
    fn, conn, town = world["fn"], world["conn"], world["town"]
    as_caller("admin", PREF)
    msg, refresh = _act(
        fn, ids.ROSTER_ADD, search="?lang=en", add_no="CB-0001", add_name="王五",
        add_phone="13912345678", add_cell=_grid(conn, town), refresh=3,
    )  # fmt: skip
    assert refresh == 4 and "Worker added" in repr(msg) and not UNMASKED.search(repr(msg))
    new_cell = _grid(conn, town, 6)
    msg, refresh = _act(
        fn, ids.ROSTER_MOVE, picked=["CB-0001"], move_cell=new_cell, move_note="调整"
    )
    assert refresh == 1 and new_cell in repr(msg)
    msg, _ = _act(fn, ids.ROSTER_EDIT, picked=["CB-0001"], edit_duty="on_duty", edit_phone="")
    assert t("Worker updated:", "zh") in repr(msg)
    msg, _ = _act(
        fn, ids.ROSTER_TRAIN, picked=["CB-0001"], train_date="2026-10-01",
        train_title="测试培训", train_hours="2",
    )  # fmt: skip
    assert "1" in repr(msg) and "error" not in repr(msg)
    detail, name, duty = fn["show_worker"](["CB-0001"], 1, "?lang=en")
    blob = repr(detail)
    assert new_cell in blob and "测试培训" in blob and name == "王五" and duty == "on_duty"
    assert not UNMASKED.search(blob)
    msg, _ = _act(fn, ids.ROSTER_DEACTIVATE, picked=["CB-0001"])
    assert t("Worker deactivated:", "zh") in repr(msg)
    row = conn.execute(
        text("SELECT active, phone FROM grid_worker WHERE employee_no = 'CB-0001'")
    ).one()
    assert tuple(row) == (False, "13912345678")
    n_changes = conn.execute(
        text("SELECT count(*) FROM security_log WHERE kind = 'roster_change'")
    ).scalar()
    assert n_changes >= 5


@pytest.mark.parametrize("button", list(roster_callbacks.ACTIONS))
def test_supervisor_changes_nothing(world, as_caller, button):
    fn, conn, town = world["fn"], world["conn"], world["town"]
    as_caller("supervisor", PREF)
    before, denied = _snapshot(conn), _denied(conn)
    msg, refresh = _act(
        fn, button, search="?lang=en", picked=[_worker(conn, town)], add_no="CB-0002",
        add_name="x", add_phone="13912345678", add_cell=_grid(conn, town),
        edit_name="改名", edit_duty="on_leave", move_cell=_grid(conn, town, 6),
        train_date="2026-10-01", train_title="t", train_hours=1,
    )  # fmt: skip
    assert refresh is no_update
    assert t(roster.NO_PERMISSION, "en") in repr(msg)
    assert _snapshot(conn) == before and _denied(conn) == denied + 1


def test_other_township_commander_changes_nothing(world, as_caller):
    fn, conn, town, other = world["fn"], world["conn"], world["town"], world["other"]
    as_caller("commander", other)
    theirs = _worker(conn, town)
    mine = _worker(conn, other)
    before, denied = _snapshot(conn), _denied(conn)
    attempts = [
        (ids.ROSTER_MOVE, {"picked": [theirs], "move_cell": _grid(conn, other)}),
        (ids.ROSTER_MOVE, {"picked": [mine], "move_cell": _grid(conn, town)}),
        (ids.ROSTER_EDIT, {"picked": [theirs], "edit_name": "改名"}),
        (ids.ROSTER_DEACTIVATE, {"picked": [theirs]}),
        (ids.ROSTER_REACTIVATE, {"picked": [theirs]}),
        (ids.ROSTER_TRAIN, {"picked": [mine, theirs], "train_date": "2026-10-01",
                            "train_title": "t", "train_hours": 1}),
        (ids.ROSTER_ADD, {"add_no": "CB-0003", "add_name": "x", "add_phone": "13912345678",
                          "add_cell": _grid(conn, town)}),
    ]  # fmt: skip
    for button, form in attempts:
        msg, refresh = _act(fn, button, search="?lang=en", **form)
        assert refresh is no_update
        assert t(roster.NOT_IN_SCOPE, "en") in repr(msg), (button, msg)
    assert _snapshot(conn) == before
    assert _denied(conn) == denied + len(attempts)
    # reading the other township's worker: the same answer as an unknown one
    detail, _, _ = fn["show_worker"]([theirs], 0, "?lang=en")
    unknown, _, _ = fn["show_worker"](["WG000000-99999"], 0, "?lang=en")
    assert repr(detail) == repr(unknown)


def test_adding_another_areas_employee_number_does_not_confirm_it(world, as_caller,
                                                                   monkeypatch):  # fmt: skip
    # The attack: "工号已被使用 WG…" (employee number already in use) for a number that only
    # exists in another area was an existence oracle. Now the answer is word for word the one
    # for any write the database refused, and the refusal is logged for auditors.
    fn, conn, town, other = world["fn"], world["conn"], world["town"], world["other"]
    as_caller("commander", other)
    theirs = _worker(conn, town)
    form = {"add_no": theirs, "add_name": "x", "add_phone": "13912345678",
            "add_cell": _grid(conn, other)}  # fmt: skip
    before, denied = _snapshot(conn), _denied(conn)
    answers = {lang: _act(fn, ids.ROSTER_ADD, search=f"?lang={lang}", **form)
               for lang in ("zh", "en")}  # fmt: skip
    assert _snapshot(conn) == before and _denied(conn) == denied + 2
    for lang, (msg, refresh) in answers.items():
        assert refresh is no_update
        assert theirs not in repr(msg)
        assert t("Employee number already in use.", lang) not in repr(msg)
    # ... the same answer as another constraint failing on an unused number
    from sqlalchemy.exc import IntegrityError

    def refused(*_a, **_k):
        raise IntegrityError("INSERT", {}, Exception("some other constraint"))

    monkeypatch.setattr(roster, "add_worker", refused)
    for lang, answer in answers.items():
        other_failure = _act(fn, ids.ROSTER_ADD, search=f"?lang={lang}",
                             **form | {"add_no": "CB-0099"})  # fmt: skip
        assert repr(other_failure) == repr(answer)
    monkeypatch.undo()
    # Inside the caller's own area the number is still named as in use.
    mine = _worker(conn, other)
    msg, _ = _act(fn, ids.ROSTER_ADD, search="?lang=en", **form | {"add_no": mine})
    assert "Employee number already in use." in repr(msg) and mine in repr(msg)


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"add_no": "CB-0004", "add_name": "x", "add_phone": "123", "add_cell": "T"},
         "Invalid phone number"),
        ({"add_no": None, "add_name": None, "add_phone": None, "add_cell": None},
         "Employee number"),
        ({"add_no": "CB-0004", "add_name": "x", "add_phone": "13912345678",
          "add_cell": "<img src=x onerror=alert(1)>"}, "Invalid cell code."),
    ],
)  # fmt: skip
def test_validation_messages(world, as_caller, form, expected):
    fn, conn = world["fn"], world["conn"]
    as_caller("admin", PREF)
    if form["add_cell"] == "T":
        form["add_cell"] = _grid(conn, world["town"])
    before = _snapshot(conn)
    msg, refresh = _act(fn, ids.ROSTER_ADD, search="?lang=en", **form)
    assert refresh is no_update and expected in repr(msg)
    zh, _ = _act(fn, ids.ROSTER_ADD, search="", **form)
    assert "gc-roster-msg-error" in repr(zh)
    assert _snapshot(conn) == before


def test_actions_on_a_selection_need_exactly_one(world, as_caller):
    fn = world["fn"]
    as_caller("admin", PREF)
    for picked in ([], None, ["a", "b"]):
        msg, refresh = _act(fn, ids.ROSTER_MOVE, search="?lang=en", picked=picked,
                            move_cell="x")  # fmt: skip
        assert refresh is no_update and "Select exactly one worker." in repr(msg)
    msg, _ = _act(fn, ids.ROSTER_MOVE, search="?lang=en", picked=[{"x": 1}], move_cell="x")
    assert "Select exactly one worker." in repr(msg)


def test_no_logged_in_caller(world):
    token = web.CALLER_OVERRIDE.set(None)
    try:
        msg, refresh = _act(world["fn"], ids.ROSTER_ADD, search="?lang=en", add_no="CB-9")
        out = world["fn"]["roster_permissions"]("")
    finally:
        web.CALLER_OVERRIDE.reset(token)
    assert refresh is no_update and t(roster.NO_PERMISSION, "en") in repr(msg)
    assert all(out[:-1])


def test_database_down_gives_messages(settings, as_caller):
    eng = make_engine("postgresql://postgres@127.0.0.1:1/nowhere")
    app = FakeApp()
    roster_callbacks.register(app, eng, settings)
    as_caller("admin", PREF)
    try:
        out = app.functions["list_roster"](False, None, "active", [], "?lang=en", 0)
        assert t(DB_UNAVAILABLE, "en") in repr(out[1])
        _trigger(ids.ROSTER_ADD)
        msg, refresh = _action(
            app.functions, search="?lang=en", add_no="CB-0005", add_name="x",
            add_phone="13912345678", add_cell="532901001001",
        )  # fmt: skip
        assert refresh is no_update and "error" in repr(msg)
    finally:
        eng.dispose()


def test_search_refreshes_the_list_only(world, as_caller):
    as_caller("admin", PREF)
    _trigger(ids.ROSTER_QUERY, "value")
    options, count, summary, outside = world["fn"]["list_roster"](False, "WG", "all", [], "", 0)
    assert options and summary is no_update and outside is no_update


def test_staffing_legend_is_zero_one_several():
    from layers.metrics import legend_items, metric_hideout

    h = metric_hideout({"a": 0, "b": 1, "c": 3}, "staffing", "en")
    assert h["breaks"] == [1.0, 2.0] and h["fmt"] == "int" and len(h["colors"]) == 3
    assert [label for label, _ in legend_items(h, "en")] == ["0", "1", "≥ 2", "No value"]
    u = metric_hideout({"a": 0, "b": 4}, "uncovered", "zh")
    assert u["label"] == "无网格员的网格" and u["breaks"][0] == 1.0


@pytest.mark.parametrize("junk", [{"a": 1}, [1, 2], 12, None, "x" * 5000])
def test_crafted_values_are_messages_not_exceptions(world, as_caller, junk):
    fn, conn = world["fn"], world["conn"]
    as_caller("admin", PREF)
    before = _snapshot(conn)
    for button in roster_callbacks.ACTIONS:
        msg, refresh = _act(
            fn, button, search=junk, picked=junk, add_no=junk, add_name=junk, add_phone=junk,
            add_cell=junk, edit_name=junk, edit_phone=junk, edit_duty=junk, move_cell=junk,
            move_note=junk, train_date=junk, train_title=junk, train_hours=junk,
        )  # fmt: skip
        assert refresh is no_update and "gc-roster-msg-error" in repr(msg), (button, msg)
    _trigger(ids.ROSTER_QUERY, "value")
    out = fn["list_roster"](False, junk, junk, junk, junk, junk)
    assert len(out) == 4
    detail, _, _ = fn["show_worker"](junk, junk, junk)
    assert isinstance(detail, list)
    assert fn["roster_permissions"](junk)[-1] == []
    assert _snapshot(conn) == before


# ----------------------------------------------------------------------------- over HTTP


@pytest.fixture(scope="module")
def http_world(seeded_database, tmp_path_factory):
    """A database of its own (writes over HTTP commit), the app, and signed-in clients."""
    url = seeded_database("gridcmd_roster")
    with engine_on(url) as eng:
        yield _http_world(url, eng, tmp_path_factory)


def _http_world(url: str, eng, tmp_path_factory) -> dict:
    from app import create_app
    from geodata.accounts import create_account
    from geodata.sessions import create_session
    from gridcmd.settings import Settings

    with eng.begin() as conn:
        backfill_demo_roster(conn, since=FIXTURE_NOW - dt.timedelta(days=365))
        town, other = (
            conn.execute(
                text(
                    "SELECT t.code FROM grid_cell AS t WHERE t.level = 3 AND EXISTS ("
                    " SELECT 1 FROM grid_cell g JOIN grid_worker w ON w.cell_id = g.id"
                    " WHERE g.path <@ t.path) ORDER BY t.code LIMIT 2"
                )
            )
            .scalars()
            .all()
        )
        who = {"sup": ("supervisor", PREF), "boss": ("commander", town),
               "other": ("commander", other)}  # fmt: skip
        tokens = {}
        for name, (role, code) in who.items():
            acc = create_account(conn, f"roster_{name}", name, role, code, "Roster-Test-2026!")
            tokens[name] = create_session(
                conn, acc, ip="127.0.0.1", ua="pytest", now=dt.datetime.now(dt.UTC)
            )
        paths = dict(
            conn.execute(
                text("SELECT code, path::text FROM grid_cell WHERE code IN (:a, :b)"),
                {"a": town, "b": other},
            ).all()
        )
    settings = Settings(
        DATABASE_URL=url, secret_key="test-secret", basemap_url=None,
        var_dir=tmp_path_factory.mktemp("roster_var"), live_on_start=False,
    )  # fmt: skip
    server = create_app(settings, engine=eng).server
    return {"eng": eng, "server": server, "tokens": tokens, "town": paths[town],
            "other": paths[other]}  # fmt: skip


def _post_action(world, who: str, button: str, values: dict[str, Any]):
    from api.auth import SESSION_COOKIE

    dash_app = world["server"].extensions["gridcmd.dash"]
    key, entry = next(
        (k, e)
        for k, e in dash_app.callback_map.items()
        if e.get("callback") is not None
        and getattr(e["callback"], "__wrapped__", e["callback"]).__name__ == "roster_action"
    )
    outputs = [
        {"id": s.rsplit(".", 1)[0], "property": s.rsplit(".", 1)[1]}
        for s in key.strip(".").split("...")
    ]
    values = {f"{button}.n_clicks": 1, **values}

    def item(d):
        return {**d, "value": values.get(f"{d['id']}.{d['property']}")}

    client = world["server"].test_client()
    client.set_cookie(SESSION_COOKIE, world["tokens"][who])
    return client.post(
        "/_dash-update-component",
        json={
            "output": key,
            "outputs": outputs,
            "inputs": [item(d) for d in entry["inputs"]],
            "state": [item(d) for d in entry.get("state", [])],
            "changedPropIds": [f"{button}.n_clicks"],
        },
    )


def test_crafted_posts_change_nothing(http_world):
    w = http_world
    with w["eng"].connect() as conn:
        theirs = _worker(conn, w["town"])
        target = _grid(conn, w["other"])
        before = _snapshot(conn)
    add = {
        "gc-roster-add-no.value": "HTTP-0001", "gc-roster-add-name.value": "x",
        "gc-roster-add-phone.value": "13912345678", "gc-roster-add-cell.value": target,
        "gc-url.search": "?lang=en",
    }  # fmt: skip
    move = {"gc-roster-pick.value": [theirs], "gc-roster-move-cell.value": target,
            "gc-url.search": "?lang=en"}  # fmt: skip
    for who, button, values, msg in [
        ("sup", ids.ROSTER_ADD, add, roster.NO_PERMISSION),
        ("sup", ids.ROSTER_MOVE, move, roster.NO_PERMISSION),
        ("other", ids.ROSTER_MOVE, move, roster.NOT_IN_SCOPE),
        ("boss", ids.ROSTER_MOVE, move, roster.NOT_IN_SCOPE),  # target cell out of scope
        ("boss", ids.ROSTER_ADD, add, roster.NOT_IN_SCOPE),
    ]:
        resp = _post_action(w, who, button, values)
        assert resp.status_code == 200, (who, button, resp.get_data()[:300])
        body = resp.get_data(as_text=True)
        assert msg in body and not UNMASKED.search(body), (who, button, body[:300])
    with w["eng"].connect() as conn:
        assert _snapshot(conn) == before
        assert _denied(conn) >= 5
    # the town's commander can move a worker inside the town (the request path works)
    with w["eng"].connect() as conn:
        inside = _grid(conn, w["town"], 6)
    ok = _post_action(w, "boss", ids.ROSTER_MOVE, {**move, "gc-roster-move-cell.value": inside})
    assert "Worker moved:" in ok.get_data(as_text=True)
