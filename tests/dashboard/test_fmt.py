"""dashboard.fmt, the one formatter of the panels: local times in Asia/Shanghai in the fixed
formats, durations, counts and percentages, label/value lists; and the panels that show
times through it (a time shortly before midnight UTC is the next day in Dali)."""

from __future__ import annotations

import datetime as dt

import pytest
from dash import html

from dashboard import fmt
from dashboard.roster import detail_view
from gridcmd.i18n import t

UTC = dt.UTC
#: 16:30 UTC on 1 March is 00:30 on 2 March in Dali (UTC+8).
LATE = dt.datetime(2026, 3, 1, 16, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("style", "text"),
    [
        ("minute", "2026-03-02 00:30"),
        ("second", "2026-03-02 00:30:00"),
        ("short", "03-02 00:30"),
        ("clock", "00:30:00"),
        ("input", "2026-03-02T00:30"),
    ],
)
def test_local_time_styles_are_dali_local(style, text):
    assert fmt.local_time(LATE, style) == text
    assert fmt.local_time(LATE.isoformat(), style) == text  # ISO text with an offset too


def test_local_time_empty_and_dates():
    assert fmt.local_time(None) == "—"
    assert fmt.local_time("", empty="") == ""
    assert fmt.local_time(None, empty="…") == "…"
    assert fmt.local_time(dt.date(2026, 3, 1)) == "2026-03-01"  # a date has no zone
    with pytest.raises(TypeError):
        fmt.local_time(12)


def test_local_naive_and_parse_local_round_trip():
    naive = fmt.local_naive(LATE.replace(microsecond=5))
    assert naive == dt.datetime(2026, 3, 2, 0, 30) and naive.tzinfo is None
    assert fmt.local_naive(None) is None
    parsed = fmt.parse_local(fmt.local_time(LATE, "input"))
    assert parsed == LATE
    for bad in ("2026-03-02T00:30+08:00", "yesterday", 5, None, "x" * 40):
        assert fmt.parse_local(bad) is None


@pytest.mark.parametrize(
    ("seconds", "en", "zh"),
    [(30, "1 min", "1分"), (5399, "90 min", "90分"), (7200, "2 h", "2小时"),
     (-3 * 86_400, "3 d", "3天")],
)  # fmt: skip
def test_span_one_rounded_unit(seconds, en, zh):
    assert fmt.span(seconds, "en") == en
    assert fmt.span(seconds, "zh") == zh


def test_countdown_two_units():
    assert fmt.countdown(2 * 3600 + 5 * 60, "en") == "2 h 5 min"
    assert fmt.countdown(2 * 3600 + 5 * 60, "zh") == "2小时5分"
    assert fmt.countdown(2 * 86_400 + 3 * 3600 + 59, "en") == "2 d 3 h"
    assert fmt.countdown(30, "en") == "0 min 30 s"


def test_age_counts_and_percentages():
    assert [fmt.age(s) for s in (None, 45, 720, 3 * 3600, 3 * 86_400)] == [
        "—", "45 s", "12 min", "3 h", "3 d"]  # fmt: skip
    assert fmt.count(1234567) == "1,234,567" and fmt.count(0) == "0"
    assert fmt.count(None, "en") == t("No data", "en") and fmt.count(None, empty="?") == "?"
    assert fmt.percent(0.425) == "42%" and fmt.percent(1) == "100%"
    assert fmt.percent(None) == "—"


def test_facts_is_a_definition_list_of_text():
    dl = fmt.facts([("名称", "<b>x</b>"), ("Code", html.Span("1"))], "gc-x")
    assert isinstance(dl, html.Dl) and dl.className == "gc-x"
    assert [type(c).__name__ for c in dl.children] == ["Dt", "Dd", "Dt", "Dd"]
    assert dl.children[1].children == "<b>x</b>"  # text, never parsed as HTML
    assert "className" not in fmt.facts([]).to_plotly_json()["props"]


def test_roster_history_times_are_dali_local_not_utc():
    """The roster showed assignment times in UTC while every other panel shows Dali time: a
    move at 00:30 on 2 March in Dali read as 1 March 16:30."""
    history = [{"started_at": LATE, "ended_at": None, "cell_name": "永山社区",
                "cell_code": "532901001001", "changed_by": "t_admin", "note": ""}]  # fmt: skip
    trainings = [{"held_on": dt.date(2026, 3, 1), "title": "培训", "hours": 2.0}]
    text = repr(detail_view("WG000001-00001", history, trainings, "zh"))
    assert "2026-03-02 00:30 – …" in text
    assert "2026-03-01 16:30" not in text
    assert "2026-03-01 · 培训 · 2 h" in text  # a date stays the date it is
