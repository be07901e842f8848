"""geodata.demo.residents and geodata.residents: the synthetic register (valid GB 11643 IDs,
mobile numbers, households in their cells, deterministic), masking, scoped lookup, audited
unmasking and household points."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import text

from geodata.accounts import Caller
from geodata.demo.residents import (
    _cells,
    build_residents,
    check_digit,
    delete_residents,
    seed_residents,
)
from geodata.residents import (
    ID_SEARCH_LIMIT,
    IdentifierSearchLimited,
    classify_query,
    households_by_grid,
    households_in_view,
    log_identifier_search_refused,
    mask_id,
    mask_phone,
    masked_query,
    resident_detail_masked,
    search_residents,
    search_residents_by_identifier,
    unmask_resident,
)
from tests.conftest import FIXTURE_SCALE, FIXTURE_SEED

PREFECTURE = "532900"
DALI_CITY = "532900.532901"
OTHER = "532900.532922"  # 洱源县? any other county: residents there are out of DALI_CITY's scope

#: Mainland mobile prefixes in use (MIIT), an independent list for the test.
MOBILE = re.compile(r"1(3\d|4[5-9]|5[0-35-9]|6[2567]|7[0-8]|8\d|9[0-35-9])\d{8}")


def _gb11643_ok(idn: str) -> bool:
    """Independent check of an 18-character ID number's check character."""
    if not re.fullmatch(r"\d{17}[\dX]", idn):
        return False
    s = sum(int(idn[i]) * (2 ** (17 - i) % 11) for i in range(17))
    return idn[17] == "10X98765432"[s % 11]


@pytest.fixture(scope="module")
def residents(engine):
    """The fixture grid's residents sample, inserted for this module and removed after."""
    report = seed_residents(engine, FIXTURE_SEED, FIXTURE_SCALE)
    yield report
    delete_residents(engine)


@pytest.fixture(scope="module")
def all_rows(engine, residents):
    with engine.connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(
                text(
                    "SELECT r.*, ltree2text(subltree(c.path, 1, 2)) AS county, c.code AS cell_code,"
                    " ltree2text(c.path) AS path, c.level AS cell_level,"
                    " ST_Intersects(c.geom, r.location) AS inside"
                    " FROM resident r JOIN grid_cell c ON c.id = r.cell_id ORDER BY r.id"
                )
            )
        ]


def _caller(
    role="commander", scope=DALI_CITY, can_unmask=True, account_id=0, username=None
) -> Caller:
    name = username or f"t-{role}"
    return Caller(account_id, name, "Test", role, scope, can_unmask=can_unmask)


# ----------------------------------------------------------------------------- generator


def test_check_digit_matches_the_standard_example():
    # The example of GB 11643-1999: 11010519491231002X.
    assert check_digit("11010519491231002") == "X"
    assert _gb11643_ok("11010519491231002X")
    with pytest.raises(ValueError):
        check_digit("123")


def test_sample_size_and_every_row_synthetic(residents, all_rows):
    assert residents.rows == len(all_rows)
    assert 4000 <= len(all_rows) <= 4800  # ~10 per micro-grid at the fixture scale
    assert all(r["synthetic"] for r in all_rows)
    assert all(r["cell_level"] == 6 for r in all_rows)


def test_every_id_number_is_valid(all_rows):
    assert len({r["id_number"] for r in all_rows}) == len(all_rows)
    for r in all_rows:
        idn = r["id_number"]
        assert _gb11643_ok(idn), idn
        assert idn[:6] == r["county"]  # region code = the county's code
        assert idn[6:14] == r["birth_date"].strftime("%Y%m%d")
        assert int(idn[16]) % 2 == (1 if r["gender"] == "M" else 0)
        assert dt.date(1920, 1, 1) <= r["birth_date"] <= dt.date(2026, 1, 1)


def test_phones_are_mainland_mobiles(all_rows):
    for r in all_rows:
        assert MOBILE.fullmatch(r["phone"]), r["phone"]


def test_households_share_address_and_point_inside_their_cell(all_rows):
    by_hh: dict[str, list[dict]] = {}
    for r in all_rows:
        by_hh.setdefault(r["household_no"], []).append(r)
    assert all(2 <= len(m) <= 6 for m in by_hh.values())
    for members in by_hh.values():
        assert len({(m["address"], m["cell_id"]) for m in members}) == 1
        assert len({m["location"] for m in members}) == 1
        assert members[0]["household_no"].startswith(members[0]["county"])
    assert all(r["inside"] for r in all_rows)
    # names: Chinese, 2–4 characters
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,4}", r["name"]) for r in all_rows)


def test_generation_is_deterministic(engine):
    with engine.connect() as conn:
        cells = _cells(conn)
    a = build_residents(cells, seed=7, scale=0.002)
    b = build_residents(cells, seed=7, scale=0.002)
    c = build_residents(cells, seed=8, scale=0.002)
    assert a.equals(b)
    assert not a.id_number.equals(c.id_number)


# ----------------------------------------------------------------------------- masking


def test_mask_formats():
    assert mask_id("53290119900101123X") == "5329**********123X"
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone("0872-2123456") == "087*****3456"
    assert mask_phone("1234") == "**34"
    assert mask_id(None) == "" and mask_phone(None) == ""


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("53290119900101123x", "id"),
        ("13812341234", "phone"),
        ("123X", "last4"),
        ("1234", "last4"),
        ("01123X", "last6"),
        ("王", "name"),
        ("欧阳", "name"),
    ],
)
def test_classify_query(query, kind):
    assert classify_query(query)[0] == kind


@pytest.mark.parametrize("query", ["", "12", "12345", "王%", "a_b", "x" * 31, "1381234123"])
def test_classify_query_rejects(query):
    with pytest.raises(ValueError):
        classify_query(query)


# ----------------------------------------------------------------------------- search


def _no_raw(rows, raw_values) -> None:
    blob = repr(rows)
    for v in raw_values:
        assert v not in blob


def _in_city(all_rows):
    return [r for r in all_rows if r["path"].startswith(DALI_CITY + ".")]


def test_search_by_name_prefix_in_scope_only(conn, all_rows):
    r0 = _in_city(all_rows)[0]
    surname = r0["name"][0]
    res = search_residents(conn, DALI_CITY, surname, limit=200)
    expected = [
        r for r in all_rows if r["name"].startswith(surname) and r["path"].startswith(DALI_CITY)
    ]
    assert res["total"] == len(expected) and len(res["rows"]) == min(200, len(expected))
    assert {"id_masked", "phone_masked"} <= set(res["rows"][0])
    assert "id_number" not in res["rows"][0] and "phone" not in res["rows"][0]
    _no_raw(res["rows"], [r["id_number"] for r in all_rows] + [r["phone"] for r in all_rows])
    other = [r for r in all_rows if r["path"].startswith(OTHER + ".")][0]
    by_id = search_residents_by_identifier
    assert by_id(conn, _caller(scope=DALI_CITY), other["id_number"], REASON)["total"] == 0
    assert by_id(conn, _caller(scope=OTHER), other["id_number"], REASON)["total"] == 1


REASON = "核实 走访 对象"


def test_search_by_id_and_phone(conn, all_rows):
    r = _in_city(all_rows)[3]
    city, pref = _caller(scope=DALI_CITY), _caller(scope=PREFECTURE)
    for q in (r["id_number"], r["id_number"][-4:], r["id_number"][-6:], r["phone"],
              r["phone"][-4:]):  # fmt: skip
        res = search_residents_by_identifier(conn, city, q, REASON, limit=200)
        assert r["id"] in [x["id"] for x in res["rows"]], q
        hit = next(x for x in res["rows"] if x["id"] == r["id"])
        assert hit["id_masked"] == mask_id(r["id_number"])
        assert hit["phone_masked"] == mask_phone(r["phone"])
    full = search_residents_by_identifier(conn, city, r["id_number"], REASON)
    assert [x["id"] for x in full["rows"]] == [r["id"]]
    lower = search_residents_by_identifier(conn, pref, r["id_number"].lower(), REASON)
    assert lower["total"] == 1


# ------------------------------------------------------- identifier searches (the oracle)


def _candidates(r: dict) -> list[str]:
    """What an attacker who sees ``5329**********3097`` tries: last-6 guesses (the birth
    day's last digit varied), full-ID guesses (birth-day digits varied), phone guesses (a
    hidden digit varied) and the last 4 of the phone; the true values among them."""
    idn, phone = r["id_number"], r["phone"]
    out = [f"{d}{idn[-5:]}" for d in "0123456789"]
    out += [idn[:12] + f"{d}" + idn[13:] for d in "0123456789"]
    out += [phone[:5] + f"{d}" + phone[6:] for d in "0123456789"]
    out.append(phone[-4:])
    return out


@pytest.mark.parametrize(
    "caller",
    [
        _caller(role="dispatcher"),
        _caller(role="auditor"),
        _caller(role="supervisor"),
        _caller(role="department"),
        _caller(can_unmask=False),  # the role may unmask, the account may not
    ],
)
def test_masked_numbers_cannot_be_enumerated_without_unmask(conn, all_rows, caller):
    """The identifier-oracle attack: guess the hidden digits of a masked ID or phone number and
    watch hit / no hit. Every guess must get the same refusal, whichever function is used."""
    r = _in_city(all_rows)[0]
    answers = set()
    for guess in _candidates(r):
        for search in (
            lambda q: search_residents(conn, caller.scope_path, q, limit=200),
            lambda q: search_residents_by_identifier(conn, caller, q, REASON, limit=200),
        ):
            try:
                res = search(guess)
            except PermissionError as exc:
                answers.add(str(exc))
            else:
                answers.add(f"total={res['total']}")
    assert len(answers) == 1 and not next(iter(answers)).startswith("total="), answers


def test_name_search_cannot_be_narrowed_by_identifier_fragments(conn, all_rows):
    r = _in_city(all_rows)[0]
    for q in (r["name"] + r["id_number"][-4:], r["name"][0] + "3097", r["name"] + " 1234"):
        with pytest.raises((ValueError, PermissionError)):
            search_residents(conn, DALI_CITY, q)


def test_identifier_search_is_logged_hit_or_miss(conn, all_rows):
    r = _in_city(all_rows)[0]
    before = _last_log_id(conn)
    caller = _caller(scope=DALI_CITY)
    hit = search_residents_by_identifier(conn, caller, r["id_number"], REASON, ip="10.0.0.2")
    wrong = r["id_number"][:-1] + ("0" if r["id_number"][-1] != "0" else "1")
    miss = search_residents_by_identifier(conn, caller, wrong, REASON)
    assert hit["total"] == 1 and miss["total"] == 0
    rows = _log_rows(conn, before)
    assert [x["kind"] for x in rows] == ["id_search", "id_search"]
    assert rows[0]["username"] == "t-commander" and rows[0]["ip"] == "10.0.0.2"
    assert rows[0]["target"] == "residents"
    assert mask_id(r["id_number"]) in rows[0]["detail"] and "1 hits" in rows[0]["detail"]
    assert "0 hits" in rows[1]["detail"] and REASON in rows[1]["detail"]
    assert r["id_number"] not in repr(rows)


def test_identifier_search_needs_a_reason_and_an_identifier(conn, all_rows):
    r = _in_city(all_rows)[0]
    before = _last_log_id(conn)
    for reason in ("", "  ", "abc", None):
        with pytest.raises(ValueError, match="reason"):
            search_residents_by_identifier(conn, _caller(), r["phone"], reason)
    with pytest.raises(ValueError, match="not an ID"):
        search_residents_by_identifier(conn, _caller(), r["name"], REASON)
    assert _log_rows(conn, before) == []


def test_identifier_search_is_rate_limited_with_one_alert(conn, all_rows):
    r = _in_city(all_rows)[0]
    caller = _caller(username="t-ratelimit")
    for _ in range(ID_SEARCH_LIMIT):
        search_residents_by_identifier(conn, caller, r["phone"][-4:], REASON)
    before = _last_log_id(conn)
    for _ in range(3):
        with conn.begin_nested(), pytest.raises(IdentifierSearchLimited) as info:
            search_residents_by_identifier(conn, caller, r["phone"], REASON)
        log_identifier_search_refused(conn, caller, r["phone"], info.value)
    rows = _log_rows(conn, before)
    assert [x["kind"] for x in rows] == ["rate_limit"]  # one alert a minute, not a flood
    assert rows[0]["username"] == "t-ratelimit" and mask_phone(r["phone"]) in rows[0]["detail"]
    assert r["phone"] not in rows[0]["detail"]
    # Another account is not limited by this one.
    assert search_residents_by_identifier(conn, _caller(), r["phone"], REASON)["total"] >= 1


def test_refused_identifier_search_is_logged_masked(conn, all_rows):
    r = _in_city(all_rows)[0]
    before = _last_log_id(conn)
    caller = _caller(role="dispatcher")
    with pytest.raises(PermissionError) as info:
        search_residents_by_identifier(conn, caller, r["id_number"], REASON)
    log_identifier_search_refused(conn, caller, r["id_number"], info.value)
    (row,) = _log_rows(conn, before)
    assert row["kind"] == "denied" and mask_id(r["id_number"]) in row["detail"]
    assert r["id_number"] not in repr(row)


def test_reasons_lose_bidi_and_control_characters(conn, all_rows):
    r = _in_city(all_rows)[0]
    before = _last_log_id(conn)
    search_residents_by_identifier(conn, _caller(), r["phone"], "核实\u202e走访\x00对象")
    (row,) = _log_rows(conn, before)
    assert row["detail"].endswith("reason: 核实走访对象")
    with pytest.raises(ValueError, match="reason"):  # nothing visible left
        search_residents_by_identifier(conn, _caller(), r["phone"], "\u202e\u202d\x01\u2066")


def test_masked_query():
    assert masked_query("532901197210143097") == "5329**********3097"
    assert masked_query("13812345678") == "138****5678"
    assert masked_query("143097") == "**3097" and masked_query("3097") == "3097"
    assert masked_query("王") == "王"


def test_search_pagination(conn, all_rows):
    surname = _in_city(all_rows)[0]["name"][0]
    first = search_residents(conn, PREFECTURE, surname, limit=2, offset=0)
    if first["total"] < 3:
        pytest.skip("too few matches for paging")
    second = search_residents(conn, PREFECTURE, surname, limit=2, offset=2)
    assert second["total"] == first["total"]
    assert not {x["id"] for x in first["rows"]} & {x["id"] for x in second["rows"]}
    past = search_residents(conn, PREFECTURE, surname, limit=2, offset=10_000)
    assert past["rows"] == [] and past["total"] == first["total"]
    with pytest.raises(ValueError):
        search_residents(conn, PREFECTURE, surname, limit=0)
    with pytest.raises(ValueError):
        search_residents(conn, "bad scope!", surname)


def test_detail_is_masked_and_scoped(conn, all_rows):
    r = _in_city(all_rows)[0]
    d = resident_detail_masked(conn, DALI_CITY, r["id"])
    assert d["id_masked"] == mask_id(r["id_number"]) and d["household_size"] >= 2
    _no_raw(d, [r["id_number"], r["phone"], r["birth_date"].isoformat()])
    assert resident_detail_masked(conn, OTHER, r["id"]) is None
    assert resident_detail_masked(conn, DALI_CITY, 0) is None


# ----------------------------------------------------------------------------- unmask


def _log_rows(conn, since_id: int) -> list[dict]:
    return [
        dict(x._mapping)
        for x in conn.execute(
            text("SELECT * FROM security_log WHERE id > :i ORDER BY id"), {"i": since_id}
        )
    ]


def _last_log_id(conn) -> int:
    return conn.execute(text("SELECT coalesce(max(id), 0) FROM security_log")).scalar_one()


def test_unmask_permitted_in_scope_writes_an_audit_row(conn, all_rows):
    r = _in_city(all_rows)[0]
    account_id = conn.execute(
        text(
            "INSERT INTO account (username, display_name, role, jurisdiction_cell_id, active,"
            " can_unmask) SELECT 'unmask-test', 'T', 'commander', id, true, true"
            " FROM grid_cell WHERE code = '532901' RETURNING id"
        )
    ).scalar_one()
    before = _last_log_id(conn)
    got = unmask_resident(
        conn, _caller(account_id=account_id), r["id"], "  核实 走访 情况 ", ip="10.0.0.1"
    )
    assert got == {"id": r["id"], "id_number": r["id_number"], "phone": r["phone"]}
    (row,) = _log_rows(conn, before)
    assert row["kind"] == "unmask" and row["target"] == f"resident:{r['id']}"
    assert row["detail"] == "核实 走访 情况" and row["account_id"] == account_id
    assert row["ip"] == "10.0.0.1" and row["username"] == "t-commander"
    assert r["id_number"] not in repr(row) and r["phone"] not in repr(row)


@pytest.mark.parametrize(
    "caller",
    [
        _caller(can_unmask=False),  # role allows, account does not
        _caller(role="dispatcher"),  # account flag, role does not
        _caller(role="auditor"),
        None,
    ],
)
def test_unmask_needs_the_permission(conn, all_rows, caller):
    r = _in_city(all_rows)[0]
    before = _last_log_id(conn)
    with pytest.raises(PermissionError, match="not permitted"):
        unmask_resident(conn, caller, r["id"], "a good reason")
    assert _log_rows(conn, before) == []


def test_unmask_out_of_scope_and_unknown(conn, all_rows):
    other = [r for r in all_rows if r["path"].startswith(OTHER + ".")][0]
    with pytest.raises(PermissionError, match="outside your jurisdiction"):
        unmask_resident(conn, _caller(), other["id"], "a good reason")
    with pytest.raises(PermissionError, match="outside your jurisdiction"):
        unmask_resident(conn, _caller(), 10**12, "a good reason")


@pytest.mark.parametrize("reason", ["", "   ", "abc", "a  b", None])
def test_unmask_needs_a_reason(conn, all_rows, reason):
    r = _in_city(all_rows)[0]
    with pytest.raises(ValueError, match="at least 4"):
        unmask_resident(conn, _caller(), r["id"], reason)


# ----------------------------------------------------------------------------- households


def test_households_in_view(conn, all_rows):
    hh = households_in_view(conn, DALI_CITY, None, 100_000)
    city = _in_city(all_rows)
    assert sum(h["members"] for h in hh) == len(city)
    assert set(hh[0]) == {"household_no", "members", "lon", "lat"}
    assert {h["household_no"] for h in hh} == {r["household_no"] for r in city}
    one = hh[0]
    box = (one["lon"] - 1e-4, one["lat"] - 1e-4, one["lon"] + 1e-4, one["lat"] + 1e-4)
    assert one["household_no"] in [
        h["household_no"] for h in households_in_view(conn, DALI_CITY, box)
    ]
    assert households_in_view(conn, OTHER, box) == []
    assert len(households_in_view(conn, PREFECTURE, None, 5)) == 5
    with pytest.raises(ValueError):
        households_in_view(conn, DALI_CITY, (0, 0, 1), 5)


def test_households_by_grid_counts_every_household_of_the_view(conn, all_rows):
    grids = households_by_grid(conn, DALI_CITY)
    city = _in_city(all_rows)
    assert grids and set(grids[0]) == {"code", "name", "households", "lon", "lat"}
    # each grid: the distinct households of its residents (a micro-grid's count in its grid)
    expected: dict[str, set[str]] = {}
    for r in city:
        grid = r["path"].split(".")[4]
        expected.setdefault(grid, set()).add(r["household_no"])
    assert {g["code"]: g["households"] for g in grids} == {k: len(v) for k, v in expected.items()}
    assert sum(g["households"] for g in grids) == len({r["household_no"] for r in city})
    # the view box and the scope apply; the label point lies in the box it was counted for
    one = grids[0]
    box = (one["lon"] - 0.05, one["lat"] - 0.05, one["lon"] + 0.05, one["lat"] + 0.05)
    near = households_by_grid(conn, DALI_CITY, box)
    assert 0 < sum(g["households"] for g in near) <= sum(g["households"] for g in grids)
    assert households_by_grid(conn, OTHER, box) == []


def test_households_route_aggregates_a_wide_view_with_true_counts(engine, settings, accounts,
                                                                  residents, monkeypatch):
    """More households in the view than the route draws one by one: one point per grid with
    its true count (a sample would make the clustered map under-count), and ``total``."""
    import json

    import api.households
    from app import create_app
    from tests.conftest import login

    client = create_app(settings, engine).server.test_client()
    assert login(client, "t_commander").status_code == 303
    box = "99.0,24.5,101.5,27.0"
    small = client.get(f"/geo/households.geojson?bbox={box}").get_json()
    total = small["total"]
    assert total > 10 and len(small["features"]) == total  # every household, one by one
    assert set(small["features"][0]["properties"]) == {"household_no", "members"}

    monkeypatch.setattr(api.households, "MAX_HOUSEHOLDS", 10)
    wide = client.get(f"/geo/households.geojson?bbox={box}").get_json()
    assert wide["total"] == total
    props = [f["properties"] for f in wide["features"]]
    assert all(p["aggregate"] is True and set(p) == {"aggregate", "grid", "code", "households"}
               for p in props)  # fmt: skip
    assert sum(p["households"] for p in props) == total
    assert len(props) < total
    assert "household_no" not in json.dumps(wide)
