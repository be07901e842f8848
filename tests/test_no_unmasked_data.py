"""The personal-data scan: representative API and dashboard requests — pages,
GeoJSON routes, the mobile API, Dash callback POSTs of the population lookup, the cell
panel and the live details, and the lookup's CSV export — through the Flask test client,
every response checked by :func:`tests.scan.scanning` for unmasked ID and mobile numbers (by
pattern, and by the exact raw values of every resident and worker in the database). The only
response allowed to carry raw values is the reply to an audited unmask request, and the scan
is shown to catch it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from api.auth import SESSION_COOKIE
from dashboard import ids
from geodata.demo.residents import delete_residents, seed_residents
from geodata.tokens import create_token
from tests.conftest import FIXTURE_SCALE, FIXTURE_SEED, session_token
from tests.scan import assert_no_personal_data, find_personal_data, scanning

DALI_CITY_CODE = "532901"


@pytest.fixture(scope="module")
def world(engine, settings, accounts):
    """The app on the session database with residents seeded, a signed-in prefecture
    commander (may unmask), a worker token, and the raw values the scan looks for."""
    from app import create_app

    seed_residents(engine, FIXTURE_SEED, FIXTURE_SCALE)
    dash_app = create_app(settings, engine)
    with engine.begin() as c:
        worker_id = c.execute(
            text("SELECT id FROM grid_worker WHERE active ORDER BY id LIMIT 1")
        ).scalar_one()
        token_id, token = create_token(c, worker_id, "scan-test")
        rows = c.execute(
            text(
                "SELECT r.id, r.name, r.id_number, r.phone, c.code AS cell_code,"
                " ST_X(r.location) AS lon, ST_Y(r.location) AS lat FROM resident r"
                " JOIN grid_cell c ON c.id = r.cell_id"
                f" WHERE c.code LIKE '{DALI_CITY_CODE}%' ORDER BY r.id LIMIT 5"
            )
        ).mappings().all()  # fmt: skip
        secrets_ = [v for (v,) in c.execute(text("SELECT id_number FROM resident"))]
        secrets_ += [v for (v,) in c.execute(text("SELECT phone FROM resident"))]
        secrets_ += [v for (v,) in c.execute(text("SELECT phone FROM grid_worker"))]
    yield {
        "app": dash_app,
        "server": dash_app.server,
        "cookie": session_token(engine, "t_commander"),
        "token": token,
        "rows": [dict(r) for r in rows],
        "secrets": secrets_,
    }
    with engine.begin() as c:
        c.execute(text("DELETE FROM api_token WHERE id = :i"), {"i": token_id})
    delete_residents(engine)


@pytest.fixture()
def client(world):
    c = world["server"].test_client()
    c.set_cookie(SESSION_COOKIE, world["cookie"])
    return c


def _spec(ident: Any, prop: str) -> dict:
    return {"id": ident, "property": prop}


def _callback(dash_app, name: str) -> tuple[str, dict]:
    for key, entry in dash_app.callback_map.items():
        fn = entry.get("callback")
        if fn is not None and getattr(fn, "__wrapped__", fn).__name__ == name:
            return key, entry
    raise KeyError(name)


def _outputs(key: str) -> Any:
    def one(spec: str) -> dict:
        ident, prop = spec.rsplit(".", 1)
        return _spec(json.loads(ident) if ident.startswith("{") else ident, prop.split("@")[0])

    if key.startswith(".."):
        return [one(s) for s in key.strip(".").split("...")]
    return one(key)


def _payload(dash_app, name: str, values: dict[str, Any], trigger: str) -> dict:
    """A ``/_dash-update-component`` body for callback ``name`` (values by "id.prop"; a
    pattern input ``{"type": T, "id": ["ALL"]}`` takes a list of (id, value) pairs)."""
    key, entry = _callback(dash_app, name)

    def item(d: dict) -> Any:
        ident = d["id"]
        if isinstance(ident, str) and ident.startswith("{"):
            ident = json.loads(ident)
        if isinstance(ident, dict):
            pairs = values.get(f"{ident['type']}.{d['property']}", [])
            return [
                {"id": {**ident, "id": i}, "property": d["property"], "value": v} for i, v in pairs
            ]
        return {**_spec(ident, d["property"]), "value": values.get(f"{ident}.{d['property']}")}

    return {
        "output": key,
        "outputs": _outputs(key),
        "inputs": [item(d) for d in entry["inputs"]],
        "state": [item(d) for d in entry.get("state", [])],
        "changedPropIds": [trigger],
    }


def _post(client, world, name, values, trigger) -> Any:
    resp = client.post(
        "/_dash-update-component", json=_payload(world["app"], name, values, trigger)
    )
    assert resp.status_code in (200, 204), (name, resp.status_code, resp.get_data()[:300])
    return resp.get_json(silent=True)


def _search(client, world, query: str) -> Any:
    return _post(
        client, world, "search_population",
        {f"{ids.POP_SEARCH}.n_clicks": 1, f"{ids.POP_QUERY}.value": query,
         f"{ids.POP_SEARCH_REASON}.value": "核实 走访 对象"},
        f"{ids.POP_SEARCH}.n_clicks",
    )  # fmt: skip


def _is_unmask_reply(request, response) -> bool:
    body = request.get_json(silent=True) or {}
    return (
        request.path == "/_dash-update-component"
        and ids.POP_UNMASK_OUT in str(body.get("output"))
        and body.get("changedPropIds") == [f"{ids.POP_UNMASK_GO}.n_clicks"]
    )


def test_responses_hold_no_unmasked_personal_data(client, world):
    r = world["rows"][0]
    bearer = {"Authorization": f"Bearer {world['token']}"}
    with scanning(world["server"], known=world["secrets"], allow=_is_unmask_reply) as scan:
        # Pages and routes.
        assert client.get("/").status_code == 200
        assert client.get("/_dash-layout").status_code == 200
        assert client.get("/_dash-dependencies").status_code == 200
        assert client.get("/geo/cells.geojson?level=2").status_code == 200
        box = f"{r['lon'] - 0.05},{r['lat'] - 0.05},{r['lon'] + 0.05},{r['lat'] + 0.05}"
        hh = client.get(f"/geo/households.geojson?bbox={box}", headers={"Accept-Encoding": "gzip"})
        assert hh.status_code == 200 and hh.headers["Content-Encoding"] == "gzip"
        assert client.get("/geo/households.geojson?bbox=1,2").status_code == 400
        assert client.get("/geo/cameras.geojson").status_code == 200
        assert client.get("/live/snapshot").status_code in (200, 400)
        # The mobile API.
        for path in ("/api/v1/me", "/api/v1/me/overview", "/api/v1/me/tasks",
                     "/api/v1/openapi.json"):  # fmt: skip
            assert client.get(path, headers=bearer).status_code == 200, path
        # Dash callbacks: the lookup by every kind of query, paging, the form, the export.
        for q in (r["name"], r["name"][0], r["id_number"], r["id_number"][-4:],
                  r["id_number"][-6:], r["phone"], r["phone"][-4:]):  # fmt: skip
            out = _search(client, world, q)
            assert "gc-pop-table" in json.dumps(out, ensure_ascii=False), q
        store = _search(client, world, r["name"][0])["response"][ids.POP_PAGE]["data"]
        _post(
            client, world, "search_population",
            {f"{ids.POP_NEXT}.n_clicks": 1, f"{ids.POP_QUERY}.value": r["name"][0],
             f"{ids.POP_PAGE}.data": store},
            f"{ids.POP_NEXT}.n_clicks",
        )  # fmt: skip
        show = f'{{"id":{r["id"]},"type":"{ids.POP_SHOW}"}}.n_clicks'
        form = _post(
            client, world, "unmask_form", {f"{ids.POP_SHOW}.n_clicks": [(r["id"], 1)]}, show
        )
        assert form["response"][ids.POP_UNMASK_TARGET]["data"] == r["id"]
        # The lookup's export (api/resident_exports.py): by name, and by phone with a reason.
        for query in (r["name"][0], r["phone"]):
            export = client.post("/export/residents.csv",
                                 json={"query": query, "reason": "核实 走访 对象"})  # fmt: skip
            assert export.status_code == 200 and export.mimetype == "text/csv", query
            assert export.get_data().count(b"\n") >= 2, query  # a header and a row at least
        view = {"bounds": [[r["lat"] - 0.01, r["lon"] - 0.01], [r["lat"] + 0.01, r["lon"] + 0.01]],
                "zoom": 15, "size": [800, 600]}  # fmt: skip
        _post(
            client, world, "household_layer_url",
            {f"{ids.VIEW}.data": view, f"{ids.LAYERS_CONTROL}.overlays": ["住户"]},
            f"{ids.VIEW}.data",
        )  # fmt: skip
        # Other panels that show people: the cell panel, a worker's live details.
        _post(client, world, "show_cell", {f"{ids.URL}.search": f"?cell={r['cell_code']}"},
              f"{ids.URL}.search")  # fmt: skip
        worker = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]},
                  "properties": {"id": 1}}  # fmt: skip
        _post(client, world, "details", {f"{ids.LIVE_WORKERS}.clickData": worker},
              f"{ids.LIVE_WORKERS}.clickData")  # fmt: skip
        # The audited unmask: the one reply allowed to carry the raw values.
        reply = _post(
            client, world, "unmask_form",
            {f"{ids.POP_UNMASK_GO}.n_clicks": 1, f"{ids.POP_UNMASK_TARGET}.data": r["id"],
             f"{ids.POP_REASON}.value": "入户核查登记信息"},
            f"{ids.POP_UNMASK_GO}.n_clicks",
        )  # fmt: skip
        assert r["id_number"] in json.dumps(reply)
    assert scan.allowed == 1
    assert scan.responses >= 25 and not scan.findings


def test_the_scan_catches_raw_values(client, world):
    """Not vacuous: the unmask reply, without the allowance, is reported — masked."""
    r = world["rows"][1]
    with scanning(world["server"], known=world["secrets"], fail=False) as scan:
        _post(
            client, world, "unmask_form",
            {f"{ids.POP_UNMASK_GO}.n_clicks": 1, f"{ids.POP_UNMASK_TARGET}.data": r["id"],
             f"{ids.POP_REASON}.value": "入户核查登记信息"},
            f"{ids.POP_UNMASK_GO}.n_clicks",
        )  # fmt: skip
    assert any("id " in f for f in scan.findings) and any("phone " in f for f in scan.findings)
    assert r["id_number"] not in "\n".join(scan.findings)  # the report itself is masked


@pytest.mark.parametrize(
    ("body", "hits"),
    [
        ("5329**********123X 138****1234", 0),
        ('{"id":"53290119900101123X"}', 1),
        ("tel: 13812341234.", 1),
        ("code 53290100100100101 (17 digits) and 25.13812341234", 0),
        ("1764230400000 ms; 100.123456789012345", 0),
        # a random uuid whose last group looks like a mobile number is an id, not a number...
        ('{"uuid":"5f0e2c1d-9a7b-4c3e-8d21-a13812341234"}', 0),
        # ...but a number beside one is still caught
        ('{"uuid":"5f0e2c1d-9a7b-4c3e-8d21-a1381234123b","tel":"13812341234"}', 1),
        # a photo's sha256 with an ID-shaped digit run is a digest, not an ID number...
        ('{"sha256":"ab7531234567890119885c' + "0" * 42 + '"}', 0),
        # ...but an ID beside one is still caught, and a bare 18-digit run is not a digest
        ('{"sha256":"' + "c" * 64 + '","id":"53290119900101123X"}', 1),
        ("532901199001011234", 1),
    ],
)
def test_patterns(body, hits):
    assert len(find_personal_data(body)) == hits
    if hits:
        with pytest.raises(AssertionError):
            assert_no_personal_data(body)
