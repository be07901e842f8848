"""callbacks.population: called directly with ``gridcmd.web.CALLER_OVERRIDE`` set to callers of
different roles and scopes. No output holds a raw ID/phone number, except the unmask reply to
a permitted caller (audited)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from dash import no_update
from sqlalchemy import text

from callbacks import population
from dashboard import ids
from geodata.accounts import Caller
from geodata.demo.residents import delete_residents, seed_residents
from geodata.residents import mask_id, mask_phone
from tests.callbacks.fakes import caller_override, set_triggered
from tests.callbacks.test_panel import FakeApp
from tests.conftest import FIXTURE_SCALE, FIXTURE_SEED
from tests.scan import assert_no_personal_data, find_personal_data

PREFECTURE = "532900"
DALI_CITY = "532900.532901"
OTHER = "532900.532922"


@pytest.fixture(scope="module")
def raw(engine):
    """Residents inserted for this module (removed after): their rows with raw values."""
    seed_residents(engine, FIXTURE_SEED, FIXTURE_SCALE)
    with engine.connect() as conn:
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                text(
                    "SELECT r.id, r.name, r.id_number, r.phone, ltree2text(c.path) AS path"
                    " FROM resident r JOIN grid_cell c ON c.id = r.cell_id ORDER BY r.id"
                )
            )
        ]
    yield rows
    delete_residents(engine)


@pytest.fixture(scope="module")
def secrets_(raw) -> list[str]:
    return [r["id_number"] for r in raw] + [r["phone"] for r in raw]


@pytest.fixture()
def cbs(engine, settings):
    app = FakeApp()
    population.register(app, engine, settings)
    return app.functions


def _caller(role: str = "commander", scope: str = PREFECTURE, can_unmask: bool = True):
    return Caller(0, f"t-{role}", "Test", role, scope, can_unmask=can_unmask)


@pytest.fixture()
def as_caller():
    """``as_caller(role="commander", scope=PREFECTURE, can_unmask=True)``: act as that caller
    (undone after the test)."""
    with caller_override() as use:
        yield lambda *args, **kwargs: use(_caller(*args, **kwargs))


def _show_id(resident_id: int) -> str:
    key = json.dumps({"id": resident_id, "type": ids.POP_SHOW}, separators=(",", ":"))
    return key + ".n_clicks"


def _clean(out: Any, secrets_: list[str]) -> None:
    assert_no_personal_data(repr(out), known=secrets_)


def _in(raw, scope):
    return [r for r in raw if r["path"].startswith(scope + ".")]


#: The reason typed beside an ID/phone search (required for it; logged with it).
REASON = "核实 走访 对象"


def _search(cbs, query, store=None, trigger=ids.POP_SEARCH, search=None, reason=REASON):
    set_triggered(f"{trigger}.n_clicks")
    return cbs["search_population"](1, 0, 0, 0, query, reason, store, search)


def test_registered_callbacks(engine, settings):
    app = FakeApp()
    population.register(app, engine, settings)
    assert set(app.functions) == {
        "toggle_population",
        "search_population",
        "unmask_form",
        "household_layer_url",
    }
    # The export is a route (tests/api/test_resident_exports.py) that the button posts to.
    wired = {fn.function_name: [(d.component_id, d.component_property) for d in deps]
             for fn, deps in app.clientside}  # fmt: skip
    assert wired["exportCsv"][:2] == [(ids.POP_STATUS, "children"), (ids.POP_EXPORT, "n_clicks")]
    assert (ids.POP_QUERY, "value") in wired["exportCsv"]
    assert wired["exportStale"] == [(ids.POP_EXPORT, "disabled"), (ids.POP_QUERY, "value")]


def test_toggle(cbs):
    set_triggered(f"{ids.POP_OPEN}.n_clicks")
    assert cbs["toggle_population"](1, 0, True) == (False, no_update)
    assert cbs["toggle_population"](2, 0, False) == (True, [])
    set_triggered(f"{ids.POP_CLOSE}.n_clicks")
    assert cbs["toggle_population"](1, 1, False) == (True, [])


def test_search_gives_masked_rows_with_show_buttons(cbs, raw, secrets_, as_caller):
    as_caller("commander", PREFECTURE)
    r = _in(raw, DALI_CITY)[0]
    for q in (r["id_number"], r["phone"], r["id_number"][-6:], r["name"]):
        out = _search(cbs, q)
        _clean(out, secrets_)
        table, status, store, prev_dis, next_dis, export_dis, form_hidden, shown = out
        assert form_hidden is True and shown == []
        text_ = repr(table)
        assert mask_id(r["id_number"]) in text_ and mask_phone(r["phone"]) in text_
        assert ids.POP_SHOW in text_  # a permitted caller gets "show full"
        assert store["page"] == 1 and prev_dis is True and export_dis is False
        assert "共" in status


def test_search_is_scoped(cbs, raw, secrets_, as_caller):
    as_caller("commander", DALI_CITY)
    other = _in(raw, OTHER)[0]
    out = _search(cbs, other["id_number"], search="?lang=en")
    _clean(out, secrets_)
    assert "No resident matches in your jurisdiction." in repr(out[0])
    assert out[2] is None and out[5] is True


def test_dispatcher_sees_no_show_buttons(cbs, raw, secrets_, as_caller):
    as_caller("dispatcher", PREFECTURE, can_unmask=True)
    out = _search(cbs, _in(raw, DALI_CITY)[0]["name"][:1])
    _clean(out, secrets_)
    assert "gc-pop-table" in repr(out[0]) and ids.POP_SHOW not in repr(out[0])


@pytest.mark.parametrize("query", ["", "12", "x%", None, 5])
def test_bad_queries_give_a_message(cbs, query, as_caller):
    as_caller()
    out = _search(cbs, query)
    assert "姓名开头" in repr(out[0]) and out[2] is None


def test_grid_worker_is_refused(cbs, raw, secrets_, as_caller):
    as_caller("grid_worker", PREFECTURE)
    out = _search(cbs, _in(raw, DALI_CITY)[0]["name"])
    assert "没有执行此操作的权限" in repr(out[0])
    _clean(out, secrets_)


def test_paging_uses_the_stored_query(cbs, raw, secrets_, as_caller):
    as_caller()
    surname = _in(raw, DALI_CITY)[0]["name"][0]
    first = _search(cbs, surname)
    total = int(first[1].split()[1])
    if total <= population.PAGE_SIZE:
        pytest.skip("one page only")
    second = _search(cbs, surname, store=first[2], trigger=ids.POP_NEXT)
    assert second[2]["page"] == 2 and second[3] is False
    assert second[2]["key"] == first[2]["key"] and surname not in repr(second[2])
    back = _search(cbs, surname, store=second[2], trigger=ids.POP_PREV)
    assert back[2]["page"] == 1
    # The input changed without a search: paging starts again at page 1 of the new text.
    other = _search(cbs, surname + "一", store=second[2], trigger=ids.POP_NEXT)
    assert other[2] is None or other[2]["page"] == 1
    _clean((second, back), secrets_)


def _log_after(engine, since: int) -> list[dict]:
    with engine.connect() as c:
        return [
            dict(x._mapping)
            for x in c.execute(
                text("SELECT * FROM security_log WHERE id > :i ORDER BY id"), {"i": since}
            )
        ]


def _max_log(engine) -> int:
    with engine.connect() as c:
        return c.execute(text("SELECT coalesce(max(id), 0) FROM security_log")).scalar_one()


def test_unmask_flow_for_a_permitted_caller(cbs, engine, raw, secrets_, as_caller):
    as_caller("commander", DALI_CITY)
    r = _in(raw, DALI_CITY)[1]
    set_triggered(_show_id(r["id"]), 1)
    form = cbs["unmask_form"]([1], 0, 0, None, None, None)
    _clean(form, secrets_)
    hidden, target, who, out, reason = form
    assert hidden is False and target == r["id"] and mask_id(r["id_number"]) in who
    before = _max_log(engine)
    set_triggered(f"{ids.POP_UNMASK_GO}.n_clicks")
    reply = cbs["unmask_form"]([1], 1, 0, r["id"], "电话回访核实", None)
    # The one output allowed to hold raw values: the reply to the audited request.
    assert r["id_number"] in repr(reply[3]) and r["phone"] in repr(reply[3])
    assert reply[1] is None and reply[4] == ""  # shown once: target and reason cleared
    others = [s for s in secrets_ if s not in (r["id_number"], r["phone"])]
    assert not find_personal_data(repr(reply), known=others) or all(
        "known" not in h for h in find_personal_data(repr(reply), known=others)
    )
    (log,) = _log_after(engine, before)
    assert log["kind"] == "unmask" and log["target"] == f"resident:{r['id']}"
    assert log["detail"] == "电话回访核实"
    assert r["id_number"] not in repr(log) and r["phone"] not in repr(log)
    set_triggered(f"{ids.POP_UNMASK_CANCEL}.n_clicks")
    assert cbs["unmask_form"]([1], 1, 1, None, "", None) == (True, None, "", [], "")


def test_a_new_table_does_not_open_the_form(cbs, as_caller):
    as_caller()
    set_triggered(_show_id(5), 0)
    assert cbs["unmask_form"]([0, 0], 0, 0, None, None, None) == (no_update,) * 5


@pytest.mark.parametrize(
    ("role", "can_unmask"), [("commander", False), ("dispatcher", True), ("auditor", False)]
)
def test_unmask_refused_without_permission(cbs, engine, raw, secrets_, as_caller, role, can_unmask):
    as_caller(role, PREFECTURE, can_unmask=can_unmask)
    r = _in(raw, DALI_CITY)[0]
    set_triggered(_show_id(r["id"]), 1)
    form = cbs["unmask_form"]([1], 0, 0, None, None, "?lang=en")
    assert "not permitted to see full" in repr(form[3])
    before = _max_log(engine)
    set_triggered(f"{ids.POP_UNMASK_GO}.n_clicks")  # a forged confirm, straight to the endpoint
    reply = cbs["unmask_form"]([1], 1, 0, r["id"], "a good reason", "?lang=en")
    _clean((form, reply), secrets_)
    assert "not permitted to see full" in repr(reply[3])
    assert [x["kind"] for x in _log_after(engine, before)] == ["denied"]


def test_unmask_out_of_scope_and_bad_reason(cbs, engine, raw, secrets_, as_caller):
    as_caller("commander", DALI_CITY)
    other = _in(raw, OTHER)[0]
    set_triggered(_show_id(other["id"]), 1)
    form = cbs["unmask_form"]([1], 0, 0, None, None, "?lang=en")
    assert "outside your jurisdiction" in repr(form[3]) and form[1] is None
    set_triggered(f"{ids.POP_UNMASK_GO}.n_clicks")
    reply = cbs["unmask_form"]([1], 1, 0, other["id"], "a good reason", "?lang=en")
    assert "outside your jurisdiction" in repr(reply[3])
    mine = _in(raw, DALI_CITY)[0]
    short = cbs["unmask_form"]([1], 1, 0, mine["id"], "abc", "?lang=en")
    assert "at least 4 characters" in repr(short[3])
    forged = cbs["unmask_form"]([1], 1, 0, "1 OR 1=1", "a good reason", "?lang=en")
    _clean((form, reply, short, forged), secrets_)


def test_household_layer_url(cbs):
    view = {"bounds": [[25.581, 100.201], [25.612, 100.259]], "zoom": 14, "size": [800, 600]}
    assert cbs["household_layer_url"](view, ["网格"]) is no_update
    url = cbs["household_layer_url"](view, ["网格", "住户"])
    assert url == "/geo/households.geojson?bbox=100.20,25.58,100.26,25.62"
    assert cbs["household_layer_url"](view, ["Households"]) == url
    assert cbs["household_layer_url"]({"bounds": "x"}, ["住户"]) is no_update
    assert cbs["household_layer_url"](None, None) is no_update


# ------------------------------------------------------- identifier searches (the oracle)


def _guesses(r: dict) -> list[str]:
    """An attacker's guesses at a masked resident's numbers (the true ones among them)."""
    idn, phone = r["id_number"], r["phone"]
    return (
        [f"{d}{idn[-5:]}" for d in "0123456789"]  # last 6: the birth day's last digit
        + [idn[:12] + f"{d}" + idn[13:] for d in "0123456789"]  # full ID
        + [phone[:5] + f"{d}" + phone[6:] for d in "0123456789"]  # full mobile number
        + [idn[-4:], phone[-4:]]  # last 4
    )


@pytest.mark.parametrize(
    ("role", "can_unmask"),
    [("dispatcher", True), ("auditor", False), ("supervisor", False), ("department", False),
     ("commander", False)],
)  # fmt: skip
def test_masked_numbers_cannot_be_enumerated_through_search(
    cbs, engine, raw, secrets_, as_caller, role, can_unmask
):
    """The enumeration attack through the lookup panel: as a role without the unmask permission,
    search a name (masked ID shown), then guess the hidden digits and watch hit / no hit.
    Every guess gets the same refusal, and every one is in the security log."""
    as_caller(role, PREFECTURE, can_unmask=can_unmask)
    r = _in(raw, DALI_CITY)[0]
    named = _search(cbs, r["name"])
    assert mask_id(r["id_number"]) in repr(named[0])  # what the attacker starts from
    before = _max_log(engine)
    guesses = _guesses(r)
    answers = {repr(_search(cbs, g, search="?lang=en")) for g in guesses}
    assert len(answers) == 1, "the answer depends on the guess: an oracle"
    (answer,) = answers
    assert "search by name" in answer and "gc-pop-table" not in answer
    logs = _log_after(engine, before)
    assert len(logs) == len(guesses) and {x["kind"] for x in logs} == {"denied"}
    assert r["id_number"] not in repr(logs) and r["phone"] not in repr(logs)


def test_identifier_search_needs_a_reason_in_the_panel(cbs, engine, raw, secrets_, as_caller):
    as_caller("commander", PREFECTURE)
    r = _in(raw, DALI_CITY)[0]
    before = _max_log(engine)
    out = _search(cbs, r["id_number"], reason="", search="?lang=en")
    assert "Give a reason of at least 4 characters to search" in repr(out[0]) and out[2] is None
    assert _log_after(engine, before) == []
    out = _search(cbs, r["id_number"])
    assert mask_id(r["id_number"]) in repr(out[0])
    (log,) = _log_after(engine, before)
    assert log["kind"] == "id_search" and "1 hits" in log["detail"]
    _clean(out, secrets_)


def test_identifier_searches_are_rate_limited_per_account(
    cbs, engine, raw, secrets_, as_caller, monkeypatch
):
    from geodata import residents

    monkeypatch.setattr(residents, "ID_SEARCH_LIMIT", 3)
    with caller_override() as use:
        use(Caller(0, "t-limit-" + str(_max_log(engine)), "Test", "commander", PREFECTURE,
                   can_unmask=True))  # fmt: skip
        r = _in(raw, DALI_CITY)[0]
        for _ in range(3):
            assert mask_phone(r["phone"]) in repr(_search(cbs, r["phone"])[0])
        before = _max_log(engine)
        out = _search(cbs, r["phone"], search="?lang=en")
        assert "Too many ID or phone number searches" in repr(out[0])
        assert "gc-pop-table" not in repr(out[0])
        (alert,) = _log_after(engine, before)
        assert alert["kind"] == "rate_limit"
        # A name search is not limited.
        assert "gc-pop-table" in repr(_search(cbs, r["name"])[0])
