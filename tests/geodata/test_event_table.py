"""geodata.event_table on the fixture database (rolled-back transactions): filters, search with
literal ``%`` and ``_``, scope (a county caller never sees another county's events), sort,
the capped table vs. the streamed export, free-text masking, and bad filter values."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import text

from geodata.cells import PREFECTURE_PATH
from geodata.event_table import (
    EXPORT_MAX,
    TABLE_MAX,
    FilterError,
    count_events,
    event_location,
    event_rows,
    filters_query,
    filters_summary,
    iter_event_rows,
    mask_free_text,
    parse_filters,
)
from tests.conftest import FIXTURE_NOW
from tests.event_rows import insert_event

DALI_CITY = "532900.532901"  # 大理市
OTHER = "532922"  # 漾濞县
NOW = FIXTURE_NOW


def add_event(conn, county: str, title: str, **cols) -> int:
    """Insert one event in the first micro-grid of ``county`` (medium, blue, reported an hour
    before NOW, no deadline, not supervised, unless ``cols`` says otherwise); returns its id."""
    values = {
        "uuid": uuid.uuid4(), "category": "dispute", "severity": "medium", "priority": "blue",
        "description": f"{title} 描述", "status": "reported",
        "reported_at": NOW - dt.timedelta(hours=1), "due_at": None, "supervised_at": None,
    }  # fmt: skip
    return insert_event(conn, county, title, **{**values, **cols})


def rows(conn, scope=PREFECTURE_PATH, **values):
    got, total = event_rows(conn, scope_path=scope, filters=parse_filters(values), now=NOW)
    return got, total


def ids_of(conn, scope=PREFECTURE_PATH, **values) -> set[int]:
    return {r["id"] for r in rows(conn, scope, **values)[0]}


# ----------------------------------------------------------------------------- scope


def test_a_county_caller_never_sees_another_countys_events(conn):
    mine = add_event(conn, "532901", "范围测试 甲")
    theirs = add_event(conn, OTHER, "范围测试 乙")
    got, total = rows(conn, DALI_CITY, q="范围测试")
    assert {r["id"] for r in got} == {mine} and total == 1
    assert got[0]["county"] == "大理市"
    assert ids_of(conn, PREFECTURE_PATH, q="范围测试") == {mine, theirs}
    # every row of a county caller lies in the county (no filter at all)
    all_rows, total = rows(conn, DALI_CITY)
    assert total > 0 and {r["county"] for r in all_rows} == {"大理市"}
    f = parse_filters({})
    exported = list(iter_event_rows(conn, scope_path=DALI_CITY, filters=f, now=NOW))
    assert len(exported) == count_events(conn, scope_path=DALI_CITY, filters=f, now=NOW)
    assert theirs not in {r["id"] for r in exported}
    # the map lookup is scoped too
    assert event_location(conn, scope_path=DALI_CITY, event_id=theirs) is None
    loc = event_location(conn, scope_path=DALI_CITY, event_id=str(mine))
    assert loc["id"] == mine and 98 < loc["lon"] < 102 and 24 < loc["lat"] < 27
    for bad in (None, "x", -1, True, 1.5, "9" * 30):
        assert event_location(conn, scope_path=DALI_CITY, event_id=bad) is None


def test_bad_scope_path_is_refused(conn):
    with pytest.raises(ValueError):
        rows(conn, "532900'; DROP TABLE event; --")


# ----------------------------------------------------------------------------- filters


def test_status_category_priority_and_flags(conn):
    a = add_event(conn, "532901", "筛选 A", status="in_progress", category="environment",
                  priority="red", due_at=NOW - dt.timedelta(hours=2))  # fmt: skip
    b = add_event(conn, "532901", "筛选 B", status="closed", category="environment",
                  priority="red", due_at=NOW - dt.timedelta(hours=2))  # fmt: skip
    c = add_event(conn, "532901", "筛选 C", status="reported", category="dispute",
                  priority="yellow", supervised_at=NOW - dt.timedelta(minutes=5),
                  due_at=NOW + dt.timedelta(hours=5))  # fmt: skip
    q = "筛选"
    assert ids_of(conn, q=q) == {a, b, c}
    assert ids_of(conn, q=q, status=["in_progress", "reported"]) == {a, c}
    assert ids_of(conn, q=q, status="closed") == {b}
    assert ids_of(conn, q=q, category=["environment"]) == {a, b}
    assert ids_of(conn, q=q, priority="yellow") == {c}
    assert ids_of(conn, q=q, priority="red,yellow") == {a, b, c}
    # overdue: open and past due (the closed one is not)
    assert ids_of(conn, q=q, overdue=True) == {a}
    assert ids_of(conn, q=q, supervised="1") == {c}
    got = {r["id"]: r for r in rows(conn, q=q)[0]}
    assert got[a]["overdue"] is True and got[b]["overdue"] is False
    assert got[c]["supervised_at"] is not None and got[c]["priority"] == "yellow"
    assert set(got[a]) >= {"uuid", "county", "township", "assignee", "department", "synthetic"}


def test_date_range_is_inclusive_in_local_days(conn):
    # 2026-10-30 23:30 in Dali (UTC+8) is 15:30 UTC the same day
    local = dt.timezone(dt.timedelta(hours=8))
    early = add_event(conn, "532901", "日期 早",
                      reported_at=dt.datetime(2026, 10, 29, 0, 10, tzinfo=local))  # fmt: skip
    late = add_event(conn, "532901", "日期 晚",
                     reported_at=dt.datetime(2026, 10, 30, 23, 30, tzinfo=local))  # fmt: skip
    assert ids_of(conn, q="日期", **{"from": "2026-10-30"}) == {late}
    assert ids_of(conn, q="日期", to="2026-10-29") == {early}
    assert ids_of(conn, q="日期", **{"from": "2026-10-29", "to": "2026-10-30"}) == {early, late}
    assert ids_of(conn, q="日期", **{"from": "2026-10-31"}) == set()


# ----------------------------------------------------------------------------- search


def test_search_matches_title_and_description(conn):
    t = add_event(conn, "532901", "蝴蝶泉试题边堆放麒麟", description="群众反映")
    d = add_event(conn, "532901", "其他事情", description="蝴蝶泉试题边有人钓貔貅")
    assert ids_of(conn, q="蝴蝶泉试题边") == {t, d}
    assert ids_of(conn, q="堆放麒麟") == {t}
    assert ids_of(conn, q="  钓貔貅  ") == {d}  # stripped


def test_search_treats_percent_and_underscore_literally(conn):
    pct = add_event(conn, "532901", "折扣100%事件")
    other = add_event(conn, "532901", "折扣100X事件")
    under = add_event(conn, "532901", "编号A_B登记")
    nounder = add_event(conn, "532901", "编号AXB登记")
    back = add_event(conn, "532901", "路径C\\D问题")
    assert ids_of(conn, q="100%") == {pct}
    assert ids_of(conn, q="折扣100") == {pct, other}
    assert ids_of(conn, q="A_B") == {under}
    assert nounder not in ids_of(conn, q="_")
    assert ids_of(conn, q="C\\D") == {back}
    assert ids_of(conn, q="%") == {pct}


def test_search_latin_is_case_insensitive_and_ids_match(conn):
    e = add_event(conn, "532901", "Streetlight BROKEN near 洱海")
    assert e in ids_of(conn, q="broken")
    assert ids_of(conn, q=str(e)) >= {e}
    short = conn.execute(text("SELECT left(uuid::text, 8) FROM event WHERE id = :i"),
                         {"i": e}).scalar_one()  # fmt: skip
    assert e in ids_of(conn, q=short.upper())


# ----------------------------------------------------------------------------- sort and cap


def test_sorts(conn):
    base = NOW - dt.timedelta(days=400)
    a = add_event(conn, "532901", "排序 甲", reported_at=base, priority="blue", severity="low")
    b = add_event(conn, "532901", "排序 乙", reported_at=base + dt.timedelta(hours=1),
                  priority="red", severity="critical")  # fmt: skip
    c = add_event(conn, "532901", "排序 丙", reported_at=base + dt.timedelta(hours=2),
                  priority="yellow", severity="high", due_at=NOW)  # fmt: skip

    def order(sort):
        return [r["id"] for r in rows(conn, q="排序", sort=sort)[0]]

    assert order("reported_desc") == [c, b, a]
    assert order("reported_asc") == [a, b, c]
    assert order("priority") == [b, c, a]
    assert order("severity") == [b, c, a]
    assert order("due_asc")[0] == c


def test_the_table_is_capped_but_the_export_streams_everything(conn):
    f = parse_filters({})
    got, total = event_rows(conn, scope_path=PREFECTURE_PATH, filters=f, limit=5, now=NOW)
    assert len(got) == 5 and total > 5
    assert [r["reported_at"] for r in got] == sorted((r["reported_at"] for r in got),
                                                     reverse=True)  # fmt: skip
    streamed = list(iter_event_rows(conn, scope_path=PREFECTURE_PATH, filters=f, now=NOW, batch=7))
    assert len(streamed) == total == count_events(conn, scope_path=PREFECTURE_PATH, filters=f)
    assert len({r["id"] for r in streamed}) == total
    with pytest.raises(ValueError):
        event_rows(conn, scope_path=PREFECTURE_PATH, filters=f, limit=TABLE_MAX + 1)
    with pytest.raises(ValueError):
        list(iter_event_rows(conn, scope_path=PREFECTURE_PATH, filters=f, limit=EXPORT_MAX + 1))


# ----------------------------------------------------------------------------- personal data


def test_phone_and_id_numbers_in_free_text_are_masked(conn):
    e = add_event(conn, "532901", "联系13812345678处理",
                  description="身份证532901199001011234，电话 13912345678。")  # fmt: skip
    (r,) = [r for r in rows(conn, q="联系")[0] if r["id"] == e]
    assert r["title"] == "联系138****5678处理"
    assert "13912345678" not in r["description"] and "139****5678" in r["description"]
    assert "532901199001011234" not in r["description"] and "5329**********1234" in r["description"]
    assert "phone" not in r and all("phone" not in k for k in r)
    assert mask_free_text("") == "" and mask_free_text(None) == ""
    assert mask_free_text("编号 5329011990") == "编号 5329011990"  # not phone- or ID-shaped


# ----------------------------------------------------------------------------- parsing


def test_filters_round_trip_through_the_query_string():
    f = parse_filters(
        {
            "status": ["reported", "closed"],
            "category": "dispute",
            "priority": ["red"],
            "from": "2026-01-01",
            "to": "2026-02-01",
            "overdue": True,
            "supervised": "0",
            "q": " 洱海 ",
            "sort": "priority",
        }
    )
    assert f.statuses == ("reported", "closed") and f.q == "洱海" and not f.supervised_only
    assert parse_filters(filters_query(f)) == f
    assert filters_query(parse_filters({})) == {}
    summary = filters_summary(parse_filters({"q": "13812341234", "status": "closed"}))
    assert summary == "status=closed q=(11 characters)"
    assert filters_summary(parse_filters({})) == "no filters"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"status": "done"}, "status"),
        ({"status": ["reported", 3]}, "status"),
        ({"status": {"a": 1}}, "status"),
        ({"category": "<script>"}, "category"),
        ({"priority": "green"}, "priority"),
        ({"from": "2026-13-01"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"to": ["2026-01-01"]}, "to"),
        ({"from": "2026-02-01", "to": "2026-01-01"}, "to"),
        ({"overdue": "maybe"}, "overdue"),
        ({"supervised": 2}, "supervised"),
        ({"q": "x" * 101}, "q"),
        ({"q": "a\x00b"}, "q"),
        ({"q": ["a"]}, "q"),
        ({"sort": "id; DROP"}, "sort"),
        ({"status": ",".join(["reported"] * 1) + "," + ",".join(f"s{i}" for i in range(30))},
         "status"),
    ],
)  # fmt: skip
def test_bad_filter_values_name_the_field(values, field):
    with pytest.raises(FilterError) as exc:
        parse_filters(values)
    assert exc.value.field == field and str(exc.value)
