"""GET /export/events.csv and /export/events.xlsx on a database of their own (the tests commit
events): content round-trip (csv module, openpyxl), the byte-order mark, the formula-injection
guard, masking of numbers in free text, scope, 401/302 without a session, 403 without the
``export`` permission or cross-site, 400 on bad filters, the hard cap, and the security log."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
import zipfile

import openpyxl
import pytest
from sqlalchemy import text

from geodata.db import make_engine
from gridcmd.i18n import category_name
from gridcmd.settings import Settings
from gridcmd.vocab import PERMISSIONS
from tests.conftest import (
    FIXTURE_NOW,
    ensure_accounts,
    signed_in,
)
from tests.scan import assert_no_personal_data

MARK = "导出测试"
COUNTY, OTHER = "532901", "532922"
FORMULAS = ['=HYPERLINK("http://x.invalid","点我")', "+1+2", "-3", "@SUM(A1)"]


def _add(conn, county: str, title: str, description: str = "描述", **cols) -> int:
    cell = conn.execute(
        text(
            "SELECT id, ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) AS y "
            "FROM grid_cell WHERE level = 6 AND code LIKE :p ORDER BY code LIMIT 1"
        ),
        {"p": county + "%"},
    ).one()
    values = {"status": "in_progress", "due": FIXTURE_NOW - dt.timedelta(days=1),
              "sup": None, **cols}  # fmt: skip
    return conn.execute(
        text(
            "INSERT INTO event (uuid, category, severity, title, description, location, cell_id,"
            " status, reported_at, due_at, supervised_at, version, synthetic) VALUES (:u, "
            "'environment', 'critical', :t, :d, ST_SetSRID(ST_MakePoint(:x, :y), 4326), :c, "
            ":status, :at, :due, :sup, 1, true) RETURNING id"
        ),
        {"u": uuid.uuid4(), "t": title, "d": description, "x": cell.x, "y": cell.y,
         "c": cell.id, "at": FIXTURE_NOW - dt.timedelta(hours=3), **values},
    ).scalar_one()  # fmt: skip


@pytest.fixture(scope="module")
def world(seeded_database, tmp_path_factory):
    url = seeded_database("gridcmd_exports")
    eng = make_engine(url)
    from app import create_app

    settings = Settings(
        DATABASE_URL=url, secret_key="test-secret", basemap_url=None,
        var_dir=tmp_path_factory.mktemp("exports_var"),
    )  # fmt: skip
    server = create_app(settings, engine=eng).server
    ensure_accounts(eng)
    ids: dict[str, int] = {}
    with eng.begin() as conn:
        for i, f in enumerate(FORMULAS):
            ids[f] = _add(conn, COUNTY, f"{f}{MARK}", description=f"{MARK} 公式 {i}")
        ids["phone"] = _add(conn, COUNTY, f"{MARK}电话", description="请联系13812345678处理")
        ids["other"] = _add(conn, OTHER, f"{MARK}外县", description=MARK)
    yield server, eng, ids
    eng.dispose()


def _csv(resp) -> list[list[str]]:
    body = resp.get_data()
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_csv_round_trip_scope_and_formula_guard(world):
    server, eng, ids = world
    client = signed_in(server, eng, "t_county")  # commander of 532901
    resp = client.get(f"/export/events.csv?q={MARK}")
    assert resp.status_code == 200, resp.get_data()[:300]
    assert resp.mimetype == "text/csv" and resp.mimetype_params.get("charset") == "utf-8"
    assert "attachment" in resp.headers["Content-Disposition"]
    assert resp.headers["Cache-Control"] == "no-store"
    table = _csv(resp)
    header, rows = table[0], table[1:]
    assert header[:4] == ["事件编号", "UUID（前8位）", "上报时间", "类别"]
    assert len(rows) == 5 == int(resp.headers["X-Gridcmd-Export-Rows"])
    by_id = {int(r[0]): dict(zip(header, r, strict=True)) for r in rows}
    assert ids["other"] not in by_id  # another county's event never leaves
    for f in FORMULAS:
        row = by_id[ids[f]]
        assert row["事件标题"] == "'" + f + MARK  # never evaluated by a spreadsheet
    row = by_id[ids["phone"]]
    assert row["类别"] == category_name("environment", "zh")  # translated label
    assert row["优先级"] == "红色" and row["超期"] == "是" and row["合成"] == "是"
    assert row["县（市）"] == "大理市"
    assert dt.datetime.strptime(row["上报时间"], "%Y-%m-%d %H:%M:%S")
    assert "138****5678" in row["描述"]
    assert_no_personal_data(resp.get_data(), where="events.csv")


def test_xlsx_round_trip_with_openpyxl(world):
    server, eng, ids = world
    client = signed_in(server, eng, "t_county")
    resp = client.get(f"/export/events.xlsx?q={MARK}&lang=en&sort=reported_asc")
    assert resp.status_code == 200, resp.get_data()[:300]
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    wb = openpyxl.load_workbook(io.BytesIO(resp.get_data()))
    ws = wb["events"]
    values = list(ws.iter_rows(values_only=True))
    header, rows = values[0], values[1:]
    assert header[:3] == ("Event no.", "Short UUID", "Reported at") and "Overdue" in header
    assert len(rows) == 5
    col = {h: i for i, h in enumerate(header)}
    titles = {r[col["Event title"]] for r in rows}
    assert {"'" + f + MARK for f in FORMULAS} <= titles
    for cells in ws.iter_rows(min_row=2):
        assert all(c.data_type != "f" for c in cells)  # no formula cells at all
        assert isinstance(cells[col["Reported at"]].value, dt.datetime)
    assert {r[col["Priority"]] for r in rows} == {"Red"}
    assert {r[col["County"]] for r in rows} == {"大理市"}


def test_prefecture_caller_gets_both_counties_and_filters_apply(world):
    server, eng, ids = world
    client = signed_in(server, eng, "t_admin")
    rows = _csv(client.get(f"/export/events.csv?q={MARK}"))[1:]
    assert {int(r[0]) for r in rows} == set(ids.values())
    rows = _csv(client.get(f"/export/events.csv?q={MARK}&status=closed,reported"))[1:]
    assert rows == []
    rows = _csv(client.get(f"/export/events.csv?q={MARK}&status=in_progress&overdue=1"))[1:]
    assert len(rows) == 6
    # literal % in the search text
    assert _csv(client.get("/export/events.csv?q=%25"))[1:] == []


def test_every_export_is_in_the_security_log(world):
    server, eng, ids = world
    client = signed_in(server, eng, "t_county")
    client.get(f"/export/events.csv?q={MARK}&priority=red").get_data()
    with eng.connect() as conn:
        entry = conn.execute(
            text("SELECT * FROM security_log WHERE kind = 'export' ORDER BY id DESC LIMIT 1")
        ).mappings().one()  # fmt: skip
    assert entry["username"] == "t_county" and entry["target"] == "events.csv"
    assert entry["detail"].startswith("5 rows;") and "priority=red" in entry["detail"]
    assert f"q=({len(MARK)} characters)" in entry["detail"] and MARK not in entry["detail"]


def test_no_session_is_401_or_a_sign_in_redirect(world):
    server, _eng, _ids = world
    client = server.test_client()
    resp = client.get("/export/events.csv", headers={"Accept": "application/json"})
    assert resp.status_code == 401 and resp.is_json
    resp = client.get("/export/events.xlsx", headers={"Accept": "text/html"})
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_grid_worker_accounts_get_403(world):
    server, eng, _ids = world
    resp = signed_in(server, eng, "t_worker").get("/export/events.csv")
    assert resp.status_code == 403


def test_without_the_export_permission_403_and_logged(world, monkeypatch):
    server, eng, _ids = world
    monkeypatch.setitem(PERMISSIONS, "supervisor", frozenset({"view", "supervise"}))
    client = signed_in(server, eng, "t_supervisor")
    for path in ("/export/events.csv", "/export/events.xlsx"):
        resp = client.get(path)
        assert resp.status_code == 403 and resp.get_json()["error"] == "forbidden"
        assert MARK.encode() not in resp.get_data()
    with eng.connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM security_log WHERE kind = 'denied' "
                 "AND username = 't_supervisor' AND target LIKE 'GET /export/%'")
        ).scalar_one()  # fmt: skip
    assert n >= 1


def test_cross_site_requests_are_refused(world):
    server, eng, _ids = world
    resp = signed_in(server, eng, "t_county").get(
        "/export/events.csv", headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert resp.status_code == 403 and resp.get_json()["error"] == "csrf"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=done", "status"),
        ("category=%3Cscript%3E", "category"),
        ("priority=green", "priority"),
        ("from=2026-02-30", "from"),
        ("from=2026-02-01&to=2026-01-01", "to"),
        ("overdue=perhaps", "overdue"),
        ("sort=id", "sort"),
        ("q=" + "x" * 101, "q"),
        ("q=%00", "q"),
    ],
)
def test_bad_filters_are_400_naming_the_field(world, query, field):
    server, eng, _ids = world
    resp = signed_in(server, eng, "t_county").get(f"/export/events.csv?{query}")
    assert resp.status_code == 400, resp.get_data()[:200]
    body = resp.get_json()
    assert body["error"] == "bad_request" and body["field"] == field and body["detail"]


def test_hard_cap_cuts_and_says_so(world, monkeypatch):
    import api.exports

    server, eng, _ids = world
    monkeypatch.setattr(api.exports, "EXPORT_MAX", 2)
    resp = signed_in(server, eng, "t_county").get(f"/export/events.csv?q={MARK}")
    assert len(_csv(resp)) == 1 + 2
    assert resp.headers["X-Gridcmd-Export-Truncated"] == "1"
    assert resp.headers["X-Gridcmd-Export-Total"] == "5"


BULK = "批量导出"
BULK_N = 2_500  # more than one fetch batch and one write chunk
_STARTS = ["=", "+", "-", "@", ""]
DALI = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture()
def bulk(world):
    """BULK_N events of 532901 whose titles start with formula characters and whose titles and
    descriptions hold mobile and ID numbers; deleted afterwards."""
    _server, eng, _ids = world
    with eng.begin() as conn:
        cell = conn.execute(
            text("SELECT id, ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) "
                 "AS y FROM grid_cell WHERE level = 6 AND code LIKE :p ORDER BY code LIMIT 1"),
            {"p": COUNTY + "%"},
        ).one()  # fmt: skip
        conn.execute(
            text(
                "INSERT INTO event (uuid, category, severity, title, description, location,"
                " cell_id, status, reported_at, due_at, version, synthetic)"
                " SELECT gen_random_uuid(), 'dispute', 'low',"
                " (CAST(:starts AS text[]))[i % 5 + 1] || :m || i"
                " || ' 电话1381234' || lpad(i::text, 4, '0'),"
                " '身份证53290119900101' || lpad((i % 1000)::text, 3, '0') || 'X，备用13912345678',"
                " ST_SetSRID(ST_MakePoint(:x, :y), 4326), :c, 'reported',"
                " CAST(:now AS timestamptz) - i * interval '1 minute', NULL, 1, true"
                " FROM generate_series(1, :n) AS i"
            ),
            {"starts": _STARTS, "m": BULK, "x": cell.x, "y": cell.y, "c": cell.id,
             "now": FIXTURE_NOW, "n": BULK_N},
        )  # fmt: skip
    yield
    with eng.begin() as conn:
        conn.execute(text("DELETE FROM event WHERE title LIKE :p"), {"p": f"%{BULK}%"})


def test_large_csv_masks_and_guards_every_row(world, bulk):
    server, eng, _ids = world
    resp = signed_in(server, eng, "t_county").get(f"/export/events.csv?q={BULK}&sort=reported_asc")
    assert resp.status_code == 200
    assert resp.headers["X-Gridcmd-Export-Rows"] == str(BULK_N)
    header, *rows = _csv(resp)
    assert len(rows) == BULK_N
    col = {h: i for i, h in enumerate(header)}
    for n, r in enumerate(rows, 1):  # oldest first: i = BULK_N … 1
        i = BULK_N - n + 1
        start = _STARTS[i % 5]
        assert r[col["事件标题"]] == ("'" if start else "") + f"{start}{BULK}{i} 电话138****{i:04d}"
        assert r[col["描述"]] == f"身份证5329**********{i % 1000:03d}X，备用139****5678"
        reported = FIXTURE_NOW - dt.timedelta(minutes=i)
        assert r[col["上报时间"]] == reported.astimezone(DALI).strftime("%Y-%m-%d %H:%M:%S")
        assert r[col["状态"]] == "已上报" and r[col["超期"]] == "" and r[col["处置时限"]] == ""
    assert_no_personal_data(resp.get_data(), where="events.csv")


def test_large_xlsx_masks_guards_and_has_date_cells(world, bulk):
    server, eng, _ids = world
    resp = signed_in(server, eng, "t_county").get(f"/export/events.xlsx?q={BULK}&lang=en")
    assert resp.status_code == 200
    assert resp.headers["X-Gridcmd-Export-Rows"] == str(BULK_N)
    with zipfile.ZipFile(io.BytesIO(resp.get_data())) as z:
        for name in z.namelist():
            assert_no_personal_data(z.read(name), where=f"events.xlsx:{name}")
    ws = openpyxl.load_workbook(io.BytesIO(resp.get_data()), read_only=True)["events"]
    values = ws.iter_rows(values_only=True)
    header = next(values)
    col = {h: i for i, h in enumerate(header)}
    n = 0
    for n, r in enumerate(values, 1):  # newest first: i = 1 … BULK_N
        start = _STARTS[n % 5]
        title = ("'" if start else "") + f"{start}{BULK}{n} 电话138****{n:04d}"
        assert r[col["Event title"]] == title
        reported = (FIXTURE_NOW - dt.timedelta(minutes=n)).astimezone(DALI)
        assert r[col["Reported at"]] == reported.replace(tzinfo=None)  # a real date cell
        assert r[col["Status"]] == "Reported" and r[col["Due"]] is None
    assert n == BULK_N
