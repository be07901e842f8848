"""Property test: whatever body a phone (or an attacker) sends to the write routes, the answer
is never a 5xx, and every 4xx is a JSON ``{error, detail}``.

Bodies are generated per route from plausible fields mixed with garbage: wrong JSON types,
NaN/Infinity and huge or swapped coordinates, control characters, lone surrogates, 4-byte CJK
and emoji, naive or nonsense times, missing and unknown fields, and non-object bodies. Some
bodies are valid, so the database paths (attribution, idempotency) are exercised too.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.slow  # property-based: hundreds of generated requests

#: 5 routes × 60 = 300 examples in all.
EXAMPLES = 60

NASTY = ["\x00", "\x07", "\x1b[31m", "\u202e", "\ud800", "𠀀𪚥", "😀👨‍👩‍👧", "\n\t", " ", "'; --"]
text_ = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(NASTY) | st.text(max_size=3), max_size=8).map("".join),
    st.text(min_size=190, max_size=260),
)
junk = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | text_,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text_, inner, max_size=3),
    max_leaves=6,
)
now = dt.datetime.now(dt.UTC)
# Good values: a valid request is likely when every field is drawn from these.
g_lon, g_lat = st.floats(99.0, 101.0), st.floats(25.0, 27.0)  # mostly inside Dali
g_when = st.integers(1, 600).map(lambda m: (now - dt.timedelta(minutes=m)).isoformat())
g_uuid = st.uuids().map(str)
g_crs = st.sampled_from(["wgs84", "gcj02", "bd09"])
g_text = st.one_of(
    st.text(st.characters(categories=["L", "N", "So"]), min_size=1, max_size=30), text_
)
# Bad values, on top of ``junk``: swapped/huge/non-finite coordinates, odd times.
b_coord = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([25.6, 1e308, -1e308, 180.0000001, 0.0]),
    st.integers(-(2**70), 2**70),
)
b_when = st.one_of(
    st.datetimes(
        min_value=dt.datetime(1900, 1, 1),
        max_value=dt.datetime(2100, 1, 1),
        timezones=st.just(dt.UTC),
    ).map(dt.datetime.isoformat),  # fmt: skip
    st.sampled_from(["2026-11-01T08:00:00", "yesterday", "2026-13-45T99:00:00Z"]),
    st.just((now + dt.timedelta(days=1)).isoformat()),
)
g_point = st.tuples(g_lon, g_lat).map(list)
b_point = st.one_of(st.tuples(b_coord, b_coord).map(list), st.lists(junk, max_size=4))

#: route → field → (good, bad)
FIELDS = {
    "/events": {
        "uuid": (g_uuid, junk),
        "category": (st.sampled_from(["dispute", "environment", "livelihood"]), junk),
        "difficulty": (st.sampled_from(["simple", "ordinary"]), junk),
        "title": (g_text, junk),
        "description": (text_, junk),
        "lon": (g_lon, b_coord),
        "lat": (g_lat, b_coord),
        "crs": (g_crs, junk),
        "reported_at": (g_when, b_when),
    },
    "/positions": {
        "fixes": (
            st.lists(st.fixed_dictionaries({"fix_time": g_when, "lon": g_lon, "lat": g_lat},
                                           optional={"accuracy": st.floats(0, 50)}),
                     max_size=5),
            st.lists(st.fixed_dictionaries({}, optional={"fix_time": b_when, "lon": b_coord,
                                                         "lat": b_coord, "accuracy": junk,
                                                         "worker_id": junk}) | junk,
                     max_size=5),
        ),  # fmt: skip
    },
    "/checkins": {
        "uuid": (g_uuid, junk),
        "kind": (st.sampled_from(["in", "out"]), junk),
        "at": (g_when, b_when),
        "lon": (g_lon, b_coord),
        "lat": (g_lat, b_coord),
        "crs": (g_crs, junk),
        "accuracy": (st.floats(0, 100), st.floats() | junk),
    },
    "/patrols": {
        "uuid": (g_uuid, junk),
        "started_at": (g_when, b_when),
        "ended_at": (g_when, b_when),
        "points": (st.lists(g_point, min_size=2, max_size=6),
                   st.lists(st.one_of(g_point, b_point), max_size=6) | junk),
        "crs": (g_crs, junk),
        "note": (text_, junk),
    },
    "/visits": {
        "uuid": (g_uuid, junk),
        "visited_at": (g_when, b_when),
        "household": (g_text, junk),
        "note": (text_, junk),
        "cell_code": (st.sampled_from(["532901", "532901001001", "5329", "x" * 30]), junk),
        "lon": (g_lon, b_coord),
        "lat": (g_lat, b_coord),
        "crs": (g_crs, junk),
    },
}  # fmt: skip


def bodies(route: str) -> st.SearchStrategy[bytes]:
    """JSON bodies for ``route``: valid, valid with one field spoiled or dropped, random
    fields, random JSON, and random bytes."""
    fields = FIELDS[route]
    good = st.fixed_dictionaries({k: g for k, (g, _) in fields.items()})
    spoiled = st.tuples(good, st.sampled_from(sorted(fields))).flatmap(
        lambda t: fields[t[1]][1].map(lambda bad: {**t[0], t[1]: bad})
    )
    dropped = st.tuples(good, st.sampled_from(sorted(fields))).map(
        lambda t: {k: v for k, v in t[0].items() if k != t[1]}
    )
    anything = st.fixed_dictionaries(
        {}, optional={**{k: st.one_of(g, b) for k, (g, b) in fields.items()}, "unexpected": junk}
    )
    raw = st.one_of(good, spoiled, spoiled, dropped, anything, junk).map(
        lambda b: json.dumps(b, allow_nan=True).encode()
    )
    return st.one_of(raw, raw, raw, raw, st.binary(max_size=64))


@pytest.mark.parametrize("route", list(FIELDS))
def test_write_routes_never_fail_with_5xx(api_app, worker, route):
    client = api_app.test_client()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])  # fmt: skip
    @given(body=bodies(route))
    def check(body: bytes) -> None:
        resp = client.post(f"/api/v1{route}", data=body, headers=worker.auth,
                           content_type="application/json")  # fmt: skip
        assert resp.status_code < 500, (resp.status_code, body, resp.get_data()[:300])
        if resp.status_code >= 400:
            err = resp.get_json(silent=True)
            assert isinstance(err, dict) and err.get("error") and "detail" in err, resp.data
        else:
            assert isinstance(resp.get_json(), dict)

    check()
