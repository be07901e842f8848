"""The Flask side of app.create_app: the overview GeoJSON route, caching, gzip, errors,
healthz, the offline page."""

from __future__ import annotations

import gzip
import json
import re

import pytest

from app import create_app
from dashboard import ids
from geodata.db import make_engine
from tests.conftest import login

CJK = re.compile(r"[\u4e00-\u9fff]")
#: Nothing listens on TCP port 1 on localhost: a real, immediately refused connection.
DEAD_DB = "postgresql+psycopg://postgres@127.0.0.1:1/gridcmd_absent"


def _layout(client) -> str:
    """The page layout as Dash serves it, as readable JSON text."""
    r = client.get("/_dash-layout")
    assert r.status_code == 200
    return json.dumps(r.json, ensure_ascii=False)


@pytest.fixture
def client(settings, engine, accounts):
    """A test client signed in as the prefecture commander."""
    c = create_app(settings, engine).server.test_client()
    assert login(c, "t_commander").status_code == 303
    return c


@pytest.fixture
def dead_client(settings):
    dead = make_engine(DEAD_DB, connect_args={"connect_timeout": 2})
    yield create_app(settings, dead).server.test_client()
    dead.dispose()


def test_counties_geojson(client):
    r = client.get("/geo/cells.geojson?level=2")
    assert r.status_code == 200
    assert r.mimetype == "application/geo+json"
    fc = json.loads(r.data)
    assert fc["type"] == "FeatureCollection"
    names = [f["properties"]["name"] for f in fc["features"]]
    assert len(names) == 12
    assert "大理市" in names and all(CJK.search(n) for n in names)
    assert r.headers["ETag"].startswith('W/"')
    assert "max-age" in r.headers["Cache-Control"]
    assert "Accept-Encoding" in r.headers["Vary"]


def test_etag_revalidation_gives_304(client):
    first = client.get("/geo/cells.geojson?level=2")
    again = client.get(
        "/geo/cells.geojson?level=2", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    other = client.get("/geo/cells.geojson?level=2", headers={"If-None-Match": 'W/"stale"'})
    assert other.status_code == 200


def test_gzip_when_accepted(client):
    plain = client.get("/geo/cells.geojson?level=2")
    assert "Content-Encoding" not in plain.headers
    zipped = client.get("/geo/cells.geojson?level=2", headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) < len(plain.data) / 2
    assert zipped.headers["ETag"] == plain.headers["ETag"]  # weak: same representation data


@pytest.mark.parametrize("query", ["", "?level=", "?level=0", "?level=7", "?level=x",
                                   "?level=2.5", "?level=-1", "?level=%202"])  # fmt: skip
def test_bad_level_is_400_json(client, query):
    r = client.get("/geo/cells.geojson" + query)
    assert r.status_code == 400
    assert r.is_json
    assert set(r.json) == {"error", "detail"}
    assert "level" in r.json["detail"]


@pytest.mark.parametrize("level", [4, 5, 6])
def test_whole_fine_levels_are_refused(client, level):
    r = client.get(f"/geo/cells.geojson?level={level}")
    assert r.status_code == 400 and "/geo/grid.pbf" in r.json["detail"]


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json == {"status": "ok", "db": "ok"}


def test_page_is_offline_and_labelled(client):
    html = client.get("/").get_data(as_text=True)
    assert "大理州市域社会治理" in html  # <title>
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # no CDN, no external host
    assert client.get("/assets/gridcmd.js").status_code == 200
    layout = _layout(client)
    for wanted in (ids.DEMO_BADGE, ids.GRID_LAYER, "gridcmd.styleCell", "大理白族自治州"):
        assert wanted in layout
    assert ids.DB_ALERT not in layout
    assert "TileLayer" not in layout  # no basemap unless configured


def test_basemap_only_when_configured(settings, engine, accounts):
    s = settings.model_copy(update={"basemap_url": "/tiles/{z}/{x}/{y}.png"})
    c = create_app(s, engine).server.test_client()
    login(c, "t_commander")
    layout = _layout(c)
    assert "TileLayer" in layout and "/tiles/{z}/{x}/{y}.png" in layout


def test_database_outage_is_503_json_not_a_traceback(dead_client):
    r = dead_client.get("/geo/cells.geojson?level=2")
    assert r.status_code == 503
    assert r.is_json and r.json["error"] == "database_unavailable" and r.json["detail"]
    assert "Traceback" not in r.get_data(as_text=True)
    h = dead_client.get("/healthz")
    assert h.status_code == 503
    assert h.json["status"] == "error" and h.json["db"] == "unavailable"
    # The session check needs the database, so it answers first (no route runs unchecked).
    bad = dead_client.get("/geo/cells.geojson?level=9")
    assert bad.status_code == 503 and bad.json["error"] == "database_unavailable"


@pytest.mark.parametrize("path", ["/geo/cells.geojson?level=2", "/healthz", "/"])
def test_every_database_outage_answer_carries_retry_after(dead_client, path):
    # A 503 says when to try again: routes (JSON), the health check (its own body) and the
    # page (HTML) alike.
    r = dead_client.get(path, headers={"Accept": "text/html"} if path == "/" else {})
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "5"


def test_page_survives_database_outage(dead_client):
    # Sessions live in the database: without it nobody can be signed in. The page answers
    # with a clear 503 notice (not a traceback) and the sign-in page still renders.
    page = dead_client.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 503
    text_ = page.get_data(as_text=True)
    assert "数据库" in text_ and "Traceback" not in text_
    assert dead_client.get("/login").status_code == 200


def test_layout_shows_the_database_alert_when_a_query_fails(client, monkeypatch):
    # Signed in, then the layout's own query fails: the page carries the alert, not a 500.
    from sqlalchemy.exc import OperationalError

    import dashboard.layout

    def broken(*_a, **_k):
        raise OperationalError("SELECT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(dashboard.layout, "cell_by_code", broken)
    assert ids.DB_ALERT in _layout(client)


def test_concurrent_first_requests_wait_for_dash_setup(settings, engine):
    """Dash finishes setting itself up (component paths, callback list) on a process's first
    request, but marks it done before it starts: under gunicorn's threads a second first
    request ran on a half-set-up app, and a component script answered 500 ("not a
    registered library") — the page broke at random. Every request now waits for the setup."""
    import threading
    import time

    app = create_app(settings, engine)
    slow_scripts = app._generate_scripts_html

    setting_up = threading.Event()

    def slow(*args, **kwargs):
        setting_up.set()
        time.sleep(0.6)  # a setup that takes a while (e.g. a busy machine)
        return slow_scripts(*args, **kwargs)

    app._generate_scripts_html = slow
    client = app.server.test_client()
    suites = "/_dash-component-suites"
    paths = [f"{suites}/dash_leaflet/dash_leaflet.v1_1_3m1.js",
             f"{suites}/dash_ag_grid/dash_ag_grid.v35_3_0m1.min.js"]  # fmt: skip
    codes: dict[str, int] = {}

    def get(path: str) -> None:
        codes[path] = client.get(path).status_code

    first = threading.Thread(target=get, args=(paths[0],))
    first.start()
    assert setting_up.wait(10)  # the second request arrives while the first one sets Dash up
    get(paths[1])
    first.join()
    assert codes == {paths[0]: 200, paths[1]: 200}
