"""The authorization matrix, generated from the app's own registry.

Every Flask route and every server-side Dash callback of the running app is listed here with
a probe: an in-scope and an out-of-scope request. A route or callback without a probe fails
:func:`test_every_route_and_callback_has_a_probe`, so a new one cannot be forgotten.

Canary records (an event, a grid worker, a camera, a resident) are planted in every county.
Each dashboard role, with a jurisdiction of county A, sends every probe (aimed at county B,
then at A); the responses must never contain another county's canaries, cell codes or
name — including direct POSTs to ``/_dash-update-component`` carrying B's ids. Anonymous
callers get 401/302 and grid-worker accounts 403 everywhere on the dashboard.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import text

from geodata import live
from geodata.accounts import create_account
from geodata.sessions import create_session
from gridcmd.settings import Settings
from gridcmd.vocab import PERMISSIONS
from tests.conftest import engine_on

COUNTY_A, COUNTY_B = "532901", "532922"
DASHBOARD_ROLES = ("admin", "commander", "dispatcher", "supervisor", "auditor", "department")
PASSWORD = "Matrix-Test-2026!"
COOKIE = "gridcmd_session"

#: Endpoints that need no session (static bundles, sign-in) or have their own bearer auth.
PUBLIC = {
    "static",
    "_dash_assets.static",
    "geo.healthz",
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>",
    "/_favicon.ico",
}
AUTH_PAGES_PREFIX = "auth_"
API_PREFIX = "api_v1."


@dataclass
class World:
    """The matrix database: canaries per county, accounts per role, the app."""

    url: str
    engine: Any
    app: Any
    ids: dict[str, dict[str, Any]] = field(default_factory=dict)  # county → canary ids
    accounts: dict[str, int] = field(default_factory=dict)  # role → account id
    names: dict[str, str] = field(default_factory=dict)  # county code → county name
    bbox: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)


def _plant(conn, county: str) -> dict[str, Any]:
    """Canary event, worker, camera and resident inside ``county`` (named CANARY-*-county)."""
    cell = conn.execute(
        text(
            "SELECT id, code, ST_X(ST_PointOnSurface(geom)) AS x, "
            "ST_Y(ST_PointOnSurface(geom)) AS y FROM grid_cell "
            "WHERE level = 6 AND code LIKE :p ORDER BY code LIMIT 1"
        ),
        {"p": county + "%"},
    ).one()
    point = "ST_SetSRID(ST_MakePoint(:x, :y), 4326)"
    params = {"x": cell.x, "y": cell.y, "cell": cell.id}
    worker = conn.execute(
        text(
            f"INSERT INTO grid_worker (employee_no, name, phone, cell_id, duty_status, "
            f"position, last_fix_at, active, synthetic) VALUES (:emp, :name, '13800000000', "
            f":cell, 'on_duty', {point}, now(), true, true) RETURNING id"
        ),
        {**params, "emp": f"CANARY-{county}", "name": f"CANARY-WKR-{county}"},
    ).scalar_one()
    conn.execute(
        text(
            "INSERT INTO worker_position (worker_id, fix_time, geom, source) "
            f"VALUES (:w, now(), {point}, 'gps')"
        ),
        {**params, "w": worker},
    )
    event = conn.execute(
        text(
            f"INSERT INTO event (uuid, category, severity, title, description, location, "
            f"cell_id, status, reporter_id, reported_at, version, synthetic) VALUES (:u, "
            f"'dispute', 'high', :t, :t, {point}, :cell, 'reported', :w, now(), 1, true) "
            "RETURNING id"
        ),
        {**params, "u": uuid.uuid4(), "t": f"CANARY-EVT-{county}", "w": worker},
    ).scalar_one()
    camera = conn.execute(
        text(
            f"INSERT INTO camera (code, name, location, cell_id, stream_url, stream_kind, "
            f"synthetic) VALUES (:code, :name, {point}, :cell, "
            "'http://cameras.example.invalid/x.mp4', 'mp4', true) RETURNING id"
        ),
        {**params, "code": f"CANARY-{county}", "name": f"CANARY-CAM-{county}"},
    ).scalar_one()
    resident = conn.execute(
        text(
            f"INSERT INTO resident (name, id_number, phone, gender, birth_date, household_no, "
            f"address, cell_id, location, synthetic) VALUES (:name, :idn, '13912345678', 'F', "
            f"'1980-01-01', :hh, :name, :cell, {point}, true) RETURNING id"
        ),
        {**params, "name": f"CANARY-RES-{county}", "idn": f"{county}19800101123X",
         "hh": f"CANARY-HH-{county}"},
    ).scalar_one()  # fmt: skip
    return {"cell": cell.code, "event": event, "worker": worker, "camera": camera,
            "resident": resident, "lon": cell.x, "lat": cell.y}  # fmt: skip


@pytest.fixture(scope="module")
def world(seeded_database, tmp_path_factory) -> World:
    """The app on a seeded database of this module's own, with canaries in every county and
    one account per role (jurisdiction: county A)."""
    url = seeded_database("gridcmd_authz", lod=True)
    with engine_on(url) as eng:
        yield _world(url, eng, tmp_path_factory)


def _world(url: str, eng, tmp_path_factory) -> World:
    from app import create_app

    settings = Settings(
        DATABASE_URL=url, secret_key="test-secret", basemap_url=None,
        var_dir=tmp_path_factory.mktemp("authz_var"), live_on_start=True,
    )  # fmt: skip
    w = World(url=url, engine=eng, app=create_app(settings, engine=eng).server)
    with eng.begin() as conn:
        counties = list(
            conn.execute(text("SELECT code FROM grid_cell WHERE level = 2 ORDER BY code"))
            .scalars()
        )  # fmt: skip
        assert COUNTY_A in counties and COUNTY_B in counties and len(counties) == 12
        for county in counties:  # canaries in every county
            w.ids[county] = _plant(conn, county)
            row = conn.execute(
                text(
                    "SELECT name, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) "
                    "FROM grid_cell WHERE code = :c"
                ),
                {"c": county},
            ).one()
            w.names[county] = row[0]
            w.bbox[county] = tuple(row[1:])
        for role in (*DASHBOARD_ROLES, "grid_worker"):
            w.accounts[role] = create_account(
                conn, f"matrix_{role}", f"matrix {role}", role, COUNTY_A, PASSWORD,
                can_unmask=role in ("admin", "commander"),
                worker_id=w.ids[COUNTY_A]["worker"] if role == "grid_worker" else None,
                # a department account's jurisdiction is its unit's cell: a county unit of A
                department_id=conn.execute(
                    text("SELECT d.id FROM department d JOIN grid_cell c ON c.id = d.cell_id "
                         "WHERE c.code = :c ORDER BY d.id LIMIT 1"), {"c": COUNTY_A},
                ).scalar_one() if role == "department" else None,
            )  # fmt: skip
    return w


def _client(world: World, role: str | None):
    client = world.app.test_client()
    if role is not None:
        with world.engine.begin() as conn:
            token = create_session(
                conn, world.accounts[role], ip="127.0.0.1", ua="matrix",
                now=dt.datetime.now(dt.UTC),
            )  # fmt: skip
        client.set_cookie(COOKIE, token)
    return client


def _body(resp) -> bytes:
    data = resp.get_data()
    if resp.headers.get("Content-Encoding") == "gzip":
        data = gzip.decompress(data)
    return data


def _forbidden_markers(world: World, county: str) -> list[bytes]:
    """What must never reach a caller of the other county."""
    return [
        f"CANARY-EVT-{county}".encode(), f"CANARY-WKR-{county}".encode(),
        f"CANARY-CAM-{county}".encode(), f"CANARY-RES-{county}".encode(),
        f"CANARY-HH-{county}".encode(), f'"{county}'.encode(),
        json.dumps(world.names[county])[1:-1].encode(), world.names[county].encode(),
    ]  # fmt: skip


def _assert_clean(world: World, body: bytes, where: str) -> None:
    """No canary, code or name of any county but A (the callers' jurisdiction)."""
    for county in world.ids:
        if county == COUNTY_A:
            continue
        for marker in _forbidden_markers(world, county):
            assert marker not in body, f"{where}: leaked {marker!r}"


# ----------------------------------------------------------------------------- route probes


def _route_probes(world: World, county: str) -> dict[str, list[Any]]:
    """Endpoint → requests aimed at ``county``'s data: GET URLs, or ``(method, url, body)``."""
    c = world.ids[county]
    x0, y0, x1, y1 = world.bbox[county]
    bbox = f"{x0:.4f},{y0:.4f},{x1:.4f},{y1:.4f}"
    return {
        "geo.cells": ["/geo/cells.geojson?level=2", "/geo/cells.geojson?level=3"],
        "geo_grid.grid": [f"/geo/grid.pbf?z=10&bbox={bbox}&sel={county}",
                          f"/geo/grid.pbf?z=14&bbox={c['lon'] - 0.01:.4f},{c['lat'] - 0.01:.4f},"
                          f"{c['lon'] + 0.01:.4f},{c['lat'] + 0.01:.4f}"],
        "geo_grid.cell": [f"/geo/cell/{county}.json", f"/geo/cell/{c['cell']}.json"],
        "geo_cameras.cameras": ["/geo/cameras.geojson", f"/geo/cameras.geojson?bbox={bbox}"],
        "geo_departments.departments": ["/geo/departments.geojson",
                                        f"/geo/departments.geojson?bbox={bbox}"],
        "geo_households.households": [f"/geo/households.geojson?bbox={bbox}"],
        "gridcmd_tiles.tile": ["/tiles/8/200/100.png"],
        "media.photo": [f"/media/photo/{c['event']}"],
        "live.snapshot": ["/live/snapshot", "/live/snapshot?kinds=workers"],
        "live.changes": ["/live/changes?cursor=0"],
        "live.unknown": ["/live/other"],
        "/_dash-layout": ["/_dash-layout"],
        "/_dash-dependencies": ["/_dash-dependencies"],
        "/_reload-hash": ["/_reload-hash"],
        "/": [f"/?cell={county}"],
        "/<path:path>": [f"/anything?cell={county}"],
        # 事件列表 exports (api/exports.py); the XLSX body is a zip, its scope is checked by
        # tests/api/test_exports.py (here: status codes and the anonymous/worker refusals)
        "exports.events_csv": [f"/export/events.csv?q=CANARY-EVT-{county}",
                               "/export/events.csv?q=CANARY"],
        "exports.events_xlsx": [f"/export/events.xlsx?q=CANARY-EVT-{county}"],
        # cell exports (api/cell_exports.py): out of scope a 404 like an unknown cell
        "cell_exports.cells": [f"/export/cells.geojson?cell={county}",
                               f"/export/cells.csv?cell={c['cell']}&level=6"],
        # 人口信息查询 export (api/resident_exports.py): the query is a POST body, never a URL
        "resident_exports.residents": [
            ("POST", "/export/residents.csv", {"query": q, "reason": "matrix probe"})
            for q in ("CANARY", f"CANARY-RES-{county}", f"{county}19800101123X", "123X")
        ],
    }  # fmt: skip


def _request(client, probe, **kw):
    """A route probe: a URL (GET) or ``(method, url, json body)``."""
    if isinstance(probe, str):
        return client.get(probe, **kw)
    method, url, body = probe
    return client.open(url, method=method, json=body, **kw)


def _live_ids(body: bytes) -> tuple[set[int], set[int]]:
    data = json.loads(body) if body else {}
    workers = set(live.decode_ids((data.get("workers") or {}).get("i", [])))
    events = set(live.decode_ids((data.get("events") or {}).get("i", [])))
    return workers, events


# ----------------------------------------------------------------------------- callback probes


#: Concrete values of pattern-matching (ALL) ids, by key: the language links' ``lang``.
PATTERN_VALUES = {"lang": ("zh", "en")}


def _expand(ident: Any, pattern: dict | None = None) -> Any:
    """A dict id with ``["ALL"]`` wildcards → the list of concrete ids the page has
    (``pattern`` overrides :data:`PATTERN_VALUES`, e.g. the resident ids of a result list)."""
    if not isinstance(ident, dict):
        return None
    wild = [k for k, v in ident.items() if v == ["ALL"]]
    if not wild:
        return None
    (k,) = wild
    return [{**ident, k: v} for v in {**PATTERN_VALUES, **(pattern or {})}[k]]


def pattern_prop(ident: dict, prop: str) -> str:
    """Dash's ``changedPropIds`` entry of a pattern-matching component property."""
    return json.dumps(ident, sort_keys=True, separators=(",", ":")) + "." + prop


def _outputs(key: str) -> Any:
    """The ``outputs`` of a callback-map key (one output or a list)."""

    def one(spec: str) -> Any:
        ident, prop = spec.rsplit(".", 1)
        if ident.startswith("{"):
            ident = json.loads(ident)
        prop = prop.split("@")[0]
        many = _expand(ident)
        if many is not None:
            return [{"id": i, "property": prop} for i in many]
        return {"id": ident, "property": prop}

    if key.startswith(".."):
        return [one(s) for s in key.strip(".").split("...")]
    return one(key)


def _callback_payload(entry: dict, key: str, values: dict[str, Any], trigger: str) -> dict:
    pattern = values.get("__pattern__")

    def item(d):
        many = _expand(d["id"], pattern)
        if many is not None:
            return [{"id": i, "property": d["property"],
                     "value": i if d["property"] == "id" else 1} for i in many]  # fmt: skip
        return {"id": d["id"], "property": d["property"],
                "value": values.get(f"{d['id']}.{d['property']}")}  # fmt: skip

    return {
        "output": key,
        "outputs": _outputs(key),
        "inputs": [item(d) for d in entry["inputs"]],
        "state": [item(d) for d in entry.get("state", [])],
        "changedPropIds": [trigger],
    }


def _callback_probes(world: World, county: str) -> dict[str, list[tuple[str, dict]]]:
    """Callback function name → [(triggering prop, values by "id.prop")] aimed at ``county``."""
    c = world.ids[county]
    x0, y0, x1, y1 = world.bbox[county]
    view = {"bounds": [[y0, x0], [y1, x1]], "zoom": 10, "size": [1280, 800]}
    grid_url = f"/geo/grid.pbf?z=10&bbox={x0:.4f},{y0:.4f},{x1:.4f},{y1:.4f}&sel={county}"
    click = lambda i: {"type": "Feature", "properties": {"id": i}}  # noqa: E731
    # Probes that would write (督办, bulk actions) aim at B's canary; in A at an id that does
    # not exist, so the matrix never changes A's canaries.
    write_target = c["event"] if county != COUNTY_A else 2**62
    return {
        "follow_url": [("gc-url.search", {"gc-url.search": f"?cell={county}"})],
        "follow_viewport": [("gc-view.data", {"gc-view.data": view,
                                              "gc-selected.data": county})],
        "show_cell": [("gc-url.search", {"gc-url.search": f"?cell={county}"}),
                      ("gc-url.search", {"gc-url.search": f"?cell={c['cell']}"})],
        "find": [("gc-search-input.value", {"gc-search-input.value": world.names[county]}),
                 ("gc-search-input.value", {"gc-search-input.value": county})],
        "colour_grid": [("gc-grid-layer.url", {"gc-metric-select.value": "open_events",
                                                "gc-grid-layer.url": grid_url})],
        "language_links": [("gc-url.search", {"gc-url.search": f"?cell={county}"})],
        "details": [("gc-live-events.clickData", {"gc-live-events.clickData": click(c["event"])}),
                    ("gc-live-workers.clickData",
                     {"gc-live-workers.clickData": click(c["worker"])})],
        "track": [("gc-live-worker.data", {"gc-live-worker.data": c["worker"]})],
        "show_camera": [("gc-camera-layer.n_clicks", {"gc-camera-layer.n_clicks": 1,
                                                       "gc-camera-layer.clickData":
                                                           click(c["camera"])})],
        # 人口信息查询 (callbacks/population.py): B's resident by name, ID, last 4; unmask
        "toggle_population": [("gc-pop-open.n_clicks", {"gc-pop-open.n_clicks": 1,
                                                         "gc-pop-panel.hidden": True})],
        "search_population": [
            ("gc-pop-search.n_clicks", {"gc-pop-search.n_clicks": 1, "gc-pop-query.value": q,
                                         "gc-pop-search-reason.value": "matrix probe"})
            for q in (f"CANARY-RES-{county}", f"{county}19800101123X", "123X")
        ],
        "unmask_form": [
            (pattern_prop({"id": c["resident"], "type": "gc-pop-show"}, "n_clicks"),
             {"__pattern__": {"id": (c["resident"],)}}),
            ("gc-pop-unmask-go.n_clicks", {"gc-pop-unmask-go.n_clicks": 1,
                                            "gc-pop-unmask-target.data": c["resident"],
                                            "gc-pop-reason.value": "matrix probe",
                                            "__pattern__": {"id": (c["resident"],)}}),
        ],
        "household_layer_url": [("gc-view.data", {"gc-view.data": view,
                                                  "gc-layers-control.overlays": ["住户"]})],
        # 安全日志 (callbacks/audit.py): entries of the caller's jurisdiction only
        "toggle_audit": [("gc-audit-open.n_clicks", {"gc-audit-open.n_clicks": 1})],
        "audit_entries": [("gc-audit-panel.hidden", {"gc-audit-panel.hidden": False,
                                                     "gc-audit-kind.value": None})],
        # 网格员管理 (callbacks/roster.py): B's cell as ?cell=, B's worker picked, moved, edited
        "toggle_roster": [("gc-roster-open.n_clicks", {"gc-roster-open.n_clicks": 1})],
        "roster_permissions": [("gc-url.search", {"gc-url.search": f"?cell={county}"})],
        "list_roster": [("gc-roster-panel.hidden", {"gc-roster-panel.hidden": False,
                                                     "gc-roster-active.value": "all",
                                                     "gc-roster-in-cell.value": ["cell"],
                                                     "gc-url.search": f"?cell={c['cell']}"}),
                        ("gc-roster-query.value", {"gc-roster-panel.hidden": False,
                                                    "gc-roster-query.value": "CANARY",
                                                    "gc-roster-active.value": "all",
                                                    "gc-url.search": ""})],
        "show_worker": [("gc-roster-pick.value", {"gc-roster-pick.value": [f"CANARY-{county}"]})],
        "roster_action": [("gc-roster-move.n_clicks", {
            "gc-roster-move.n_clicks": 1, "gc-roster-pick.value": [f"CANARY-{county}"],
            "gc-roster-move-cell.value": c["cell"]}),
                          ("gc-roster-edit.n_clicks", {
            "gc-roster-edit.n_clicks": 1, "gc-roster-pick.value": [f"CANARY-{county}"],
            "gc-roster-edit-name.value": f"CANARY-WKR-{county}"})],
        # 事件列表 (callbacks/event_table.py): B's canary searched for, B's event clicked
        "toggle_event_table": [("gc-et-open.n_clicks", {"gc-et-open.n_clicks": 1})],
        "event_table_rows": [("gc-et-query.value", {"gc-et-panel.hidden": False,
                                                     "gc-et-query.value": f"CANARY-EVT-{county}"}),
                             ("gc-et-panel.hidden", {"gc-et-panel.hidden": False,
                                                     "gc-et-query.value": "CANARY"})],
        "fly_to_event": [("gc-et-grid.cellClicked",
                          {"gc-et-grid.cellClicked": {"rowId": str(c["event"])}})],
        # 案件办理 (callbacks/cases.py): B's event opened from the map and the table; every
        # kind of button aimed at it (a stale version, so nothing is ever written in A)
        "open_case": [("gc-live-events.clickData",
                       {"gc-live-events.clickData": click(c["event"])}),
                      ("gc-et-grid.cellClicked",
                       {"gc-et-grid.cellClicked": {"rowId": str(c["event"])}})],
        "case_action": [
            (pattern_prop({"type": typ, key: val}, "n_clicks"), {
                "gc-case-state.data": {"event": c["event"], "version": 10**6,
                                       "assign": "dispatch", "merge_into": c["event"]},
                "gc-case-note.value": "matrix probe", "gc-case-priority.value": "red",
                "__pattern__": {"action": ("accept",), "worker": (c["worker"],),
                                "dept": (1,), "into": (c["event"],)}})
            for typ, key, val in (("gc-case-act", "action", "accept"),
                                  ("gc-case-act", "action", "merge"),
                                  ("gc-case-pick", "worker", c["worker"]),
                                  ("gc-case-dept", "dept", 1),
                                  ("gc-case-merge", "into", c["event"]))
        ],
        # 督办 queues (callbacks/supervision.py): every queue; B's event clicked and flagged
        "toggle_supervision": [("gc-sup-open.n_clicks", {"gc-sup-open.n_clicks": 1})],
        "supervision_queues": [("gc-sup-tabs.value", {"gc-sup-panel.hidden": False,
                                                       "gc-sup-tabs.value": kind})
                               for kind in ("supervised", "overdue", "escalated")],
        "show_supervised_case": [(pattern_prop({"id": c["event"], "type": "gc-sup-row"},
                                               "n_clicks"),
                                  {"__pattern__": {"id": (c["event"],)}})],
        "flag_supervision": [(pattern_prop({"id": write_target, "type": "gc-sup-flag"},
                                           "n_clicks"),
                              {"gc-sup-refresh.data": 0, "__pattern__": {"id": (write_target,)}})],
        # 批量操作 (callbacks/bulk.py): a rectangle over B; B's event dispatched / escalated
        "bulk_select": [("gc-bulk-draw.geojson", {"gc-bulk-draw.geojson": {
            "type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
                "geometry": {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1],
                                                                 [x0, y1], [x0, y0]]]}}]}})],
        "bulk_act": [(f"{button}.n_clicks", {f"{button}.n_clicks": 1,
                                             "gc-bulk-ids.data": [write_target],
                                             "gc-bulk-worker.value": c["worker"],
                                             "gc-bulk-note.value": "matrix probe"})
                     for button in ("gc-bulk-dispatch", "gc-bulk-escalate")],
    }  # fmt: skip


def _server_callbacks(dash_app) -> dict[str, tuple[str, dict]]:
    """Callback function name → (callback-map key, entry), server-side callbacks only."""
    out = {}
    for key, entry in dash_app.callback_map.items():
        fn = entry.get("callback")
        if fn is None or entry.get("clientside_function") is not None:
            continue
        name = getattr(fn, "__wrapped__", fn).__name__
        out[name] = (key, entry)
    return out


def _dash_app(world: World):
    return world.app.extensions["gridcmd.dash"]


# ----------------------------------------------------------------------------- the tests


def test_every_route_and_callback_has_a_probe(world):
    route_probes = _route_probes(world, COUNTY_B)
    missing = []
    for rule in world.app.url_map.iter_rules():
        ep = rule.endpoint
        if ep in PUBLIC or ep.startswith(AUTH_PAGES_PREFIX) or ep.startswith(API_PREFIX):
            continue
        if ep not in route_probes and ep != "/_dash-update-component":
            missing.append(f"{ep} {rule.rule}")
    cb_probes = _callback_probes(world, COUNTY_B)
    missing += [f"callback {n}" for n in _server_callbacks(_dash_app(world)) if n not in cb_probes]
    assert missing == [], "add probes to tests/test_authz_matrix.py for: " + ", ".join(missing)


@pytest.mark.parametrize("role", DASHBOARD_ROLES)
def test_routes_never_leak_another_county(world, role):
    client = _client(world, role)
    b = world.ids[COUNTY_B]
    for endpoint, urls in _route_probes(world, COUNTY_B).items():
        for url in urls:
            resp = _request(client, url, headers={"Accept-Encoding": "gzip"})
            assert resp.status_code < 500, f"{role} {url}: {resp.status_code}"
            body = _body(resp)
            _assert_clean(world, body, f"{role} GET {url}")
            if endpoint in ("live.snapshot", "live.changes") and resp.status_code == 200:
                workers, events = _live_ids(body)
                assert b["worker"] not in workers and b["event"] not in events, url
            if endpoint in ("geo_grid.cell", "media.photo"):
                assert resp.status_code == 404, f"{role} {url}: {resp.status_code}"
    # In scope the same probes find county A's data (the probes are not vacuous).
    a = world.ids[COUNTY_A]
    resp = client.get("/live/snapshot")
    workers, events = _live_ids(_body(resp))
    assert a["worker"] in workers and a["event"] in events
    assert client.get(f"/geo/cell/{COUNTY_A}.json").status_code == 200
    assert b"CANARY-CAM-" + COUNTY_A.encode() in _body(client.get("/geo/cameras.geojson"))
    # county A's own units (named after the county) are on the departments layer
    assert world.names[COUNTY_A].encode() in _body(client.get("/geo/departments.geojson"))
    # the resident export holds county A's canary for the roles that may export
    if "export" in PERMISSIONS[role]:
        export = _request(client, ("POST", "/export/residents.csv", {"query": "CANARY"}))
        assert b"CANARY-RES-" + COUNTY_A.encode() in _body(export)


@pytest.mark.parametrize("role", DASHBOARD_ROLES)
def test_callbacks_never_leak_another_county(world, role):
    client = _client(world, role)
    callbacks = _server_callbacks(_dash_app(world))
    seen_a = set()
    for name, probes in _callback_probes(world, COUNTY_B).items():
        if name not in callbacks:
            continue
        key, entry = callbacks[name]
        for trigger, values in probes:
            payload = _callback_payload(entry, key, values, trigger)
            resp = client.post("/_dash-update-component", json=payload)
            assert resp.status_code in (200, 204), (
                f"{role} {name}: {resp.status_code} {resp.get_data()[:300]!r}"
            )
            _assert_clean(world, _body(resp), f"{role} callback {name}")
    # The same callbacks aimed at county A do answer with A's data.
    for name, probes in _callback_probes(world, COUNTY_A).items():
        if name not in callbacks:
            continue
        key, entry = callbacks[name]
        for trigger, values in probes:
            resp = client.post(
                "/_dash-update-component", json=_callback_payload(entry, key, values, trigger)
            )
            body = _body(resp)
            name_a = world.names[COUNTY_A]
            if b"CANARY-" in body or any(
                m in body for m in (name_a.encode(), json.dumps(name_a)[1:-1].encode())
            ):
                seen_a.add(name)
    assert {"show_cell", "details"} <= seen_a, seen_a


@pytest.mark.parametrize("who", [None, "grid_worker"])
def test_no_session_or_worker_account_gets_nothing(world, who):
    client = _client(world, who)
    for _endpoint, urls in _route_probes(world, COUNTY_A).items():
        for url in urls:
            resp = _request(client, url)
            if who is None:
                assert resp.status_code in (302, 401), f"anonymous {url}: {resp.status_code}"
                if resp.status_code == 302:
                    assert "/login" in resp.headers["Location"]
            else:
                assert resp.status_code in (302, 403), f"worker {url}: {resp.status_code}"
            assert b"CANARY-" not in _body(resp)
    callbacks = _server_callbacks(_dash_app(world))
    for name, probes in _callback_probes(world, COUNTY_A).items():
        if name not in callbacks:
            continue
        key, entry = callbacks[name]
        trigger, values = probes[0]
        resp = client.post(
            "/_dash-update-component", json=_callback_payload(entry, key, values, trigger)
        )
        assert resp.status_code in (401, 403), f"{who} callback {name}: {resp.status_code}"
        assert b"CANARY-" not in _body(resp)


def test_denials_are_logged(world):
    client = _client(world, None)
    client.get("/live/snapshot?probe=denial-log")
    with world.engine.connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM security_log WHERE kind = 'denied'")
        ).scalar_one()
    assert n >= 1


@pytest.mark.parametrize(
    "payload",
    [{}, {"output": "nope.children"}, {"output": "gc-panel-body.children", "outputs": 5,
                                       "inputs": "x"}, [1, 2, 3]],
)  # fmt: skip
def test_malformed_callback_requests_are_4xx_json(world, payload):
    client = _client(world, "commander")
    resp = client.post("/_dash-update-component", json=payload)
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.get_data()[:200])
    assert resp.is_json and "error" in resp.get_json()


def test_out_of_scope_lookups_are_logged_as_denials(world):
    client = _client(world, "commander")
    b = world.ids[COUNTY_B]
    assert client.get(f"/geo/cell/{COUNTY_B}.json").status_code == 404
    callbacks = _server_callbacks(_dash_app(world))
    key, entry = callbacks["details"]
    values = {"gc-live-events.clickData": {"type": "Feature", "properties": {"id": b["event"]}}}
    client.post(
        "/_dash-update-component",
        json=_callback_payload(entry, key, values, "gc-live-events.clickData"),
    )
    with world.engine.connect() as conn:
        targets = set(
            conn.execute(
                # Throttled per (ip, target): an earlier probe of another role may own the row.
                text(
                    "SELECT target FROM security_log WHERE kind = 'denied' "
                    "AND username LIKE 'matrix_%'"
                )
            ).scalars()
        )
    assert f"cell {COUNTY_B}" in targets
    assert f"live event {b['event']}" in targets
