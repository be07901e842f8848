"""geodata/client_time.py: the bounds of client-sent times (no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from geodata.client_time import FUTURE_TOLERANCE, MAX_CLIENT_AGE, client_time_error

NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
PLUS8, MINUS8 = dt.timezone(dt.timedelta(hours=8)), dt.timezone(dt.timedelta(hours=-8))


@pytest.mark.parametrize(
    ("at", "reason"),
    [
        (dt.datetime(1, 1, 1, tzinfo=PLUS8), "too_old"),  # cannot even be converted to UTC
        (dt.datetime(1, 1, 1, tzinfo=MINUS8), "too_old"),
        (dt.datetime(9999, 12, 31, 23, 59, tzinfo=MINUS8), "future"),
        (NOW - MAX_CLIENT_AGE - dt.timedelta(seconds=1), "too_old"),
        (NOW + FUTURE_TOLERANCE + dt.timedelta(seconds=1), "future"),
    ],
)
def test_out_of_bounds(at, reason):
    got = client_time_error(at, NOW, "reported_at")
    assert got is not None and got[0] == reason and got[1].startswith("reported_at ")


@pytest.mark.parametrize(
    "at",
    [NOW, NOW - MAX_CLIENT_AGE, NOW + FUTURE_TOLERANCE,
     (NOW - dt.timedelta(days=29)).astimezone(PLUS8)],  # fmt: skip
)
def test_within_bounds(at):
    assert client_time_error(at, NOW, "at") is None


def test_the_bounds_are_a_month_back_and_two_minutes_ahead():
    assert dt.timedelta(days=30) == MAX_CLIENT_AGE and dt.timedelta(minutes=2) == FUTURE_TOLERANCE
