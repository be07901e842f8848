"""POST /export/residents.csv (the population lookup's export, api/resident_exports.py) on a
database of its own with the demo residents: masked values only, scoped, logged as ``export``
with the masked query and the row count; identifier queries need the unmask permission and a
reason and are logged as ``id_search`` exactly like the panel's search (and cannot be used as
an oracle); the query never travels in a URL; CSRF, permission, cap, formula guard."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import text

from api import resident_exports
from geodata.demo.residents import seed_residents
from geodata.residents import mask_id, mask_phone
from gridcmd.settings import Settings
from gridcmd.vocab import PERMISSIONS
from tests.conftest import FIXTURE_SCALE, FIXTURE_SEED, engine_on, ensure_accounts, signed_in
from tests.scan import assert_no_personal_data

URL = "/export/residents.csv"
#: The reason typed beside an ID/phone search (required for it; logged with it).
REASON = "核实 走访 对象"


@pytest.fixture(scope="module")
def world(seeded_database, tmp_path_factory):
    """The app on a database of its own (the route commits security-log rows), with the demo
    residents and the test accounts; the raw values the scan looks for."""
    from app import create_app

    url = seeded_database("gridcmd_resident_exports")
    with engine_on(url) as eng:
        seed_residents(eng, FIXTURE_SEED, FIXTURE_SCALE)
        ensure_accounts(eng)
        settings = Settings(
            DATABASE_URL=url, secret_key="test-secret", basemap_url=None,
            var_dir=tmp_path_factory.mktemp("resident_exports_var"),
        )  # fmt: skip
        server = create_app(settings, engine=eng).server
        with eng.connect() as conn:
            rows = [
                dict(r._mapping)
                for r in conn.execute(
                    text(
                        "SELECT r.name, r.id_number, r.phone, ltree2text(c.path) AS path"
                        " FROM resident r JOIN grid_cell c ON c.id = r.cell_id ORDER BY r.id"
                    )
                )
            ]
            scopes = dict(
                conn.execute(
                    text(
                        "SELECT a.username, ltree2text(c.path) FROM account a"
                        " JOIN grid_cell c ON c.id = a.jurisdiction_cell_id"
                    )
                ).all()
            )
        secrets_ = [r["id_number"] for r in rows] + [r["phone"] for r in rows]
        yield {"server": server, "eng": eng, "rows": rows, "scopes": scopes, "secrets": secrets_}


def _post(world, username: str | None, body: dict | None = None, **kw):
    client = signed_in(world["server"], world["eng"], username) if username else (
        world["server"].test_client())  # fmt: skip
    return client.post(URL, json=body if body is not None else {}, **kw)


def _in(world, username: str) -> list[dict]:
    scope = world["scopes"][username]
    return [r for r in world["rows"] if r["path"] == scope or r["path"].startswith(scope + ".")]


def _csv(resp) -> list[list[str]]:
    body = resp.get_data()
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark: spreadsheets read Chinese
    assert b"\r\n" in body
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _max_log(world) -> int:
    with world["eng"].connect() as c:
        return c.execute(text("SELECT coalesce(max(id), 0) FROM security_log")).scalar_one()


def _log_after(world, since: int) -> list[dict]:
    with world["eng"].connect() as c:
        return [
            dict(x._mapping)
            for x in c.execute(
                text("SELECT * FROM security_log WHERE id > :i ORDER BY id"), {"i": since}
            )
        ]


def test_export_is_masked_scoped_and_logged(world):
    mine = _in(world, "t_dispatcher")  # a township of 532901; may not unmask
    surname = mine[0]["name"][0]
    expected = [r for r in mine if r["name"].startswith(surname)]
    before = _max_log(world)
    resp = _post(world, "t_dispatcher", {"query": surname, "lang": "zh"})
    assert resp.status_code == 200, resp.get_data()[:300]
    assert resp.mimetype == "text/csv" and resp.mimetype_params.get("charset") == "utf-8"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="residents.csv"'
    assert resp.headers["Cache-Control"] == "no-store"
    assert_no_personal_data(resp.get_data(), known=world["secrets"], where="residents.csv")
    rows = _csv(resp)
    assert rows[0] == ["姓名", "身份证号", "手机号", "户号", "所属网格", "cell_code"]
    assert len(rows) - 1 == len(expected) == int(resp.headers["X-Gridcmd-Export-Rows"])
    assert all("*" in row[1] and "*" in row[2] for row in rows[1:])
    assert {row[1] for row in rows[1:]} == {mask_id(r["id_number"]) for r in expected}
    (log,) = _log_after(world, before)
    assert log["kind"] == "export" and log["target"] == "residents"
    assert log["detail"] == f"query {surname!r}: {len(expected)} rows"
    assert log["username"] == "t_dispatcher"
    # the jurisdiction's matches and no others (a prefecture commander gets more)
    wider = _csv(_post(world, "t_commander", {"query": surname}))
    assert len(wider) > len(rows) and {r[5] for r in rows[1:]} <= {r[5] for r in wider[1:]}
    assert all(code.startswith(world["scopes"]["t_dispatcher"].rsplit(".", 1)[-1])
               for code in {r[5] for r in rows[1:]})  # fmt: skip
    en = _csv(_post(world, "t_dispatcher", {"query": surname, "lang": "en"}))
    assert en[0][:2] == ["Name", "ID number"]


def test_identifier_export_is_an_id_search(world):
    r = _in(world, "t_county")[0]  # a county commander: may unmask
    before = _max_log(world)
    # Without a reason: refused, nothing logged (as the panel's search).
    resp = _post(world, "t_county", {"query": r["phone"], "lang": "en"})
    assert resp.status_code == 400 and resp.get_json()["field"] == "reason"
    assert "Give a reason of at least 4 characters" in resp.get_json()["detail"]
    assert _log_after(world, before) == []
    resp = _post(world, "t_county", {"query": r["phone"], "reason": REASON})
    assert resp.status_code == 200, resp.get_data()[:300]
    assert_no_personal_data(resp.get_data(), known=world["secrets"], where="residents.csv")
    rows = _csv(resp)
    assert mask_phone(r["phone"]) in {row[2] for row in rows[1:]}
    logs = _log_after(world, before)
    # The export's read of an identifier query is an identifier search: logged as such.
    assert [x["kind"] for x in logs] == ["id_search", "export"]
    assert REASON in logs[0]["detail"] and "hits" in logs[0]["detail"]
    export = logs[-1]
    assert r["phone"] not in export["detail"] and mask_phone(r["phone"]) in export["detail"]
    assert f"{len(rows) - 1} rows" in export["detail"]
    assert r["phone"] not in repr(logs) and r["id_number"] not in repr(logs)


def test_identifier_export_without_unmask_is_no_oracle(world):
    """The panel's enumeration attack through the export: guesses at a masked resident's
    numbers all get the same refusal, and every one is logged (masked)."""
    r = _in(world, "t_dispatcher")[0]
    idn, phone = r["id_number"], r["phone"]
    guesses = [phone[:5] + f"{d}" + phone[6:] for d in "0123456789"] + [
        idn[:12] + f"{d}" + idn[13:] for d in "0123456789"] + [idn[-4:], idn[-6:]]  # fmt: skip
    before = _max_log(world)
    answers = set()
    for g in guesses:
        resp = _post(world, "t_dispatcher", {"query": g, "reason": REASON, "lang": "en"})
        assert resp.status_code == 403
        answers.add(resp.get_data())
    assert len(answers) == 1, "the answer depends on the guess: an oracle"
    assert b"search by name" in answers.pop()
    logs = _log_after(world, before)
    assert len(logs) == len(guesses) and {x["kind"] for x in logs} == {"denied"}
    assert idn not in repr(logs) and phone not in repr(logs)


def test_identifier_exports_are_rate_limited(world, monkeypatch):
    from geodata import residents

    monkeypatch.setattr(residents, "ID_SEARCH_LIMIT", 0)
    r = _in(world, "t_commander")[0]
    before = _max_log(world)
    resp = _post(world, "t_commander", {"query": r["phone"], "reason": REASON, "lang": "en"})
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "900"
    assert "Too many ID or phone number searches" in resp.get_json()["detail"]
    assert [x["kind"] for x in _log_after(world, before)] == ["rate_limit"]
    # A name export is not an identifier search: not limited.
    assert _post(world, "t_commander", {"query": r["name"]}).status_code == 200


def test_refusals(world, monkeypatch):
    r = _in(world, "t_commander")[0]
    body = {"query": r["name"][0]}
    assert _post(world, None, body).status_code == 401  # no session
    assert _post(world, "t_worker", body).status_code == 403  # grid workers: API only
    # The query travels in a POST body only: a GET is the dashboard's page, never an export.
    client = signed_in(world["server"], world["eng"], "t_commander")
    before = _max_log(world)
    page = client.get(f"{URL}?query={r['name'][0]}")
    assert page.mimetype == "text/html" and b"\xef\xbb\xbf" not in page.get_data()
    assert "export" not in [x["kind"] for x in _log_after(world, before)]
    # CSRF: a form post, or one from another origin, is refused by the gate.
    form = client.post(URL, data=body)
    assert form.status_code == 403 and form.get_json()["error"] == "csrf"
    cross = client.post(URL, json=body, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403 and cross.get_json()["error"] == "csrf"
    # Bad queries and bodies: 400, the detail in the page's language.
    for bad in ({}, {"query": None}, {"query": "x%"}, {"query": "12"}, {"query": ["a"]}):
        resp = _post(world, "t_commander", {**bad, "lang": "en"})
        assert resp.status_code == 400 and resp.get_json()["field"] == "query", bad
    assert "姓名开头" in _post(world, "t_commander", {"query": ""}).get_json()["detail"]
    # A role without `export`: refused and logged.
    monkeypatch.setitem(PERMISSIONS, "supervisor", frozenset({"view", "supervise"}))
    before = _max_log(world)
    resp = _post(world, "t_supervisor", body)
    assert resp.status_code == 403 and resp.get_json()["error"] == "forbidden"
    (log,) = _log_after(world, before)
    assert log["kind"] == "denied" and log["target"] == f"POST {URL}"


def test_at_most_export_max_rows(world, monkeypatch):
    monkeypatch.setattr(resident_exports, "EXPORT_MAX", 3)
    surname = _in(world, "t_commander")[0]["name"][0]
    resp = _post(world, "t_commander", {"query": surname})
    assert resp.status_code == 200 and len(_csv(resp)) - 1 == 3


def test_cells_are_guarded_against_formulas():
    row = {"name": "=HYPERLINK(\"http://x.invalid\")", "id_masked": "5329**********123X",
           "phone_masked": "138****1234", "household_no": "+1", "cell_name": " @SUM(A1)",
           "cell_code": "532901001001"}  # fmt: skip
    text_ = resident_exports.residents_csv([row], "zh")
    (header, cells) = list(csv.reader(io.StringIO(text_.lstrip("\ufeff"))))
    assert header[0] == "姓名"
    assert cells[0].startswith("'=") and cells[3] == "'+1" and cells[4].startswith("'")
    assert cells[1] == "5329**********123X" and cells[5] == "532901001001"
