"""Shared fixtures: a throw-away PostGIS database per test session, migrated and seeded with
the demo at small scale (all 12 real counties, synthetic L3–L6), dropped at the end.

The server is the one the app would use: ``DATABASE_URL`` when set (its role needs CREATEDB),
else the private instance in ``var/pg`` (started if needed).

The demo is migrated and seeded once per session (per xdist worker) into a *template*
database; the session database and every module that needs a seeded database of its own get
a copy (``CREATE DATABASE … TEMPLATE``, ~0.1 s): :func:`seeded_database`.

Tiers (markers, set by :func:`pytest_collection_modifyitems`): ``unit`` — the test's fixture
closure holds no database fixture; ``db`` — it does; ``browser`` — tests/browser/ (headless
Chromium); ``slow`` — marked by hand (fuzzing, simulator, private instance, migrations, and
whatever else takes more than ~5 s). The inner loop: ``./run.sh test -m "not browser and not
slow"``; ``./run.sh test`` runs everything. Password hashing is cheap in tests (see below).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
import uuid
from collections.abc import Iterator

import hypothesis  # noqa: F401  (imported early; see the note below)
import hypothesis.internal.observability  # noqa: F401
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from werkzeug.serving import make_server

from geodata import migrate
from geodata.accounts import set_password_hash_parameters
from geodata.db import make_engine, normalise_url
from geodata.demo.grid import build_grid
from geodata.demo.load import seed_demo
from geodata.lod import build_lod
from gridcmd.settings import Settings

# hypothesis is imported here, at collection, rather than lazily by its pytest plugin at the
# terminal summary: CPython 3.11.7 can raise "AST constructor recursion depth mismatch" when
# pytest's assertion rewriter parses a module late in a session that used threads.

#: Demo scale of the fixture: 12 townships, 36 villages, 146 grids, ~400 micro-grids.
FIXTURE_SCALE = 0.01
FIXTURE_SEED = 532900
FIXTURE_NOW = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)

# argon2 at the cheapest parameters in the test processes (the production cost, 64 MiB and
# ~0.15 s per hash, multiplied by every test account and demo account seeded). Production
# keeps its parameters: tests/geodata/test_password_hashing.py pins them in a fresh process.
set_password_hash_parameters(time_cost=1, memory_cost=8, parallelism=1)

#: A test whose fixture closure holds this fixture (every database fixture depends on it) is
#: in the ``db`` tier, any other in ``unit`` (unless the module marks its tier itself).
DB_FIXTURE = "server_url"
BROWSER_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "browser")


def pytest_collection_modifyitems(config, items) -> None:
    """The tiers: ``unit``/``db`` from the fixture closure (unless the module marks its tier
    itself), ``browser`` by directory."""
    for item in items:
        marks = {m.name for m in item.iter_markers()}
        if not marks & {"unit", "db"}:
            needs_db = DB_FIXTURE in getattr(item, "fixturenames", ())
            item.add_marker(pytest.mark.db if needs_db else pytest.mark.unit)
        if "browser" not in marks and str(item.path).startswith(BROWSER_DIR + os.sep):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    """``-n N --dist loadfile`` (``./run.sh test``): each module's tests run on one worker,
    which sets its module fixtures up once, as in plain ``loadfile``; all browser modules
    together count as one module, so they run one after another on one worker while the
    other workers take the rest (two headless Chromiums and their app servers on 2 cores
    make the browser tests time out). (xdist's ``loadgroup`` cannot do it with pytest 9: it
    renames ``item._nodeid``, which pytest 9 no longer reads.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ModuleScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = super()._split_scope(nodeid)
            return "tests/browser/" if module.startswith("tests/browser/") else module

    return ModuleScheduling(config, log)


def _server_url() -> str:
    s = Settings()
    if s.database_url:
        return s.database_url
    from gridcmd import pgserver

    return pgserver.up(s.var_dir)


@pytest.fixture(scope="session")
def server_url() -> str:
    """URL of a maintenance database on the test server."""
    return _server_url()


@pytest.fixture(scope="session")
def make_database(server_url):
    """Factory: create a database on the test server, dropped at session end; empty, or with
    ``template`` (a database name) a copy of that database."""
    created: list[str] = []
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")

    def make(prefix: str = "gridcmd_test", *, template: str | None = None) -> str:
        name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with admin.connect() as conn:
            if template is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                # A template must have no other connections while it is copied.
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = :t AND pid <> pg_backend_pid()"
                    ),
                    {"t": template},
                )
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        created.append(name)
        return normalise_url(server_url).set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.connect() as conn:
        for name in created:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextlib.contextmanager
def seeded_engine(url: str, *, scale: float = FIXTURE_SCALE, lod: bool = False,
                  **engine_kw) -> Iterator[Engine]:  # fmt: skip
    """An engine on the (empty) database ``url``, migrated and seeded with the demo (the
    fixture's seed and time, at ``scale``; with ``lod``, the LOD tables built too); disposed
    on exit. Builds the templates of :func:`seeded_database`, which modules that need a
    seeded database of their own use instead (a copy is much cheaper than a seed)."""
    eng = make_engine(url, **engine_kw)
    try:
        migrate.upgrade(eng)
        seed_demo(eng, seed=FIXTURE_SEED, scale=scale, now=FIXTURE_NOW)
        if lod:
            build_lod(eng)
        yield eng
    finally:
        eng.dispose()


@pytest.fixture(scope="session")
def seeded_database(make_database):
    """Factory: ``seeded_database(prefix, scale=FIXTURE_SCALE, lod=False)`` → the URL of a new
    database (dropped at session end) holding the migrated demo seeded at ``scale`` (the
    fixture's seed and time; with ``lod``, the LOD tables built), free to be written to.

    Each (scale, lod) is built once per session into a template database that nobody
    connects to; every call copies it. A module that tests migrating or seeding itself uses
    :func:`make_database` and does so instead."""
    templates: dict[tuple[float, bool], str] = {}

    def template(scale: float, lod: bool) -> str:
        if (scale, lod) not in templates:
            if lod:  # the seeded template's copy, plus LOD
                url = make_database("gridcmd_tpl", template=template(scale, False))
                with engine_on(url) as eng:
                    build_lod(eng)
            else:
                url = make_database("gridcmd_tpl")
                with seeded_engine(url, scale=scale):
                    pass
            templates[scale, lod] = normalise_url(url).database
        return templates[scale, lod]

    def make(prefix: str = "gridcmd_test", *, scale: float = FIXTURE_SCALE,
             lod: bool = False) -> str:  # fmt: skip
        return make_database(prefix, template=template(scale, lod))

    return make


@contextlib.contextmanager
def engine_on(url: str, **engine_kw) -> Iterator[Engine]:
    """An engine on the database ``url`` (``make_engine`` keywords), disposed on exit."""
    eng = make_engine(url, **engine_kw)
    try:
        yield eng
    finally:
        eng.dispose()


@contextlib.contextmanager
def serve(wsgi_app) -> Iterator[str]:
    """Serve ``wsgi_app`` on a free localhost port from a background thread; yields its base
    URL (``http://127.0.0.1:PORT``) and shuts the server down on exit."""
    srv = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        srv.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def db_url(seeded_database) -> str:
    """A migrated database seeded with the small demo fixture, LOD built (read-only for
    tests: write tests use the ``conn`` fixture, which rolls back)."""
    return seeded_database(lod=True)


@pytest.fixture(scope="session")
def engine(db_url):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def settings(db_url, tmp_path_factory) -> Settings:
    """Settings pointing at the fixture database (no basemap, secret set)."""
    return Settings(
        DATABASE_URL=db_url,
        secret_key="test-secret",
        var_dir=tmp_path_factory.mktemp("var"),
        basemap_url=None,
        live_on_start=False,  # map tests click cells: no live markers in the way
    )


@pytest.fixture()
def conn(engine):
    """A connection in a transaction that is rolled back after the test."""
    with engine.connect() as c:
        tx = c.begin()
        yield c
        tx.rollback()


@pytest.fixture(scope="session")
def demo_grid():
    """The fixture's grid, generated in memory (same seed and scale as the database)."""
    return build_grid(seed=FIXTURE_SEED, scale=FIXTURE_SCALE)


# ----------------------------------------------------------------------------- accounts
# Test accounts in the session database, created once; known passwords.

#: Password of every test account (satisfies the policy).
TEST_PASSWORD = "Test-Pass-2026!"

#: username → (role, jurisdiction code or None for a township / grid found in the fixture).
TEST_ACCOUNTS: dict[str, tuple[str, str | None]] = {
    "t_admin": ("admin", "532900"),
    "t_commander": ("commander", "532900"),
    "t_county": ("commander", "532901"),
    "t_dispatcher": ("dispatcher", None),  # a township of 532901
    "t_supervisor": ("supervisor", "532901"),
    "t_auditor": ("auditor", "532900"),
    "t_worker": ("grid_worker", None),  # the worker's own L5 grid
}


def ensure_accounts(eng, accounts: dict[str, tuple[str, str | None]] = TEST_ACCOUNTS,
                    password: str = TEST_PASSWORD) -> dict[str, int]:  # fmt: skip
    """Create the test accounts in ``eng``'s database unless they exist; username → id."""
    from geodata.accounts import account_id_for, create_account

    ids_: dict[str, int] = {}
    with eng.begin() as c:
        township = c.execute(
            text("SELECT code FROM grid_cell WHERE level = 3 AND code LIKE '532901%' ORDER BY code")
        ).scalar()
        worker_id, grid = c.execute(
            text(
                "SELECT w.id, c.code FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id"
                " WHERE w.active ORDER BY w.id LIMIT 1"
            )
        ).one()
        for username, (role, code) in accounts.items():
            existing = account_id_for(c, username)
            if existing is not None:
                ids_[username] = existing
                continue
            if code is None:
                code = grid if role == "grid_worker" else township
            ids_[username] = create_account(
                c, username, f"Test {role}", role, code, password,
                worker_id=worker_id if role == "grid_worker" else None,
                can_unmask=role in ("admin", "commander"), synthetic=True,
            )  # fmt: skip
    return ids_


@pytest.fixture(scope="session")
def accounts(engine) -> dict[str, int]:
    """The test accounts of :data:`TEST_ACCOUNTS` in the session database (username → id)."""
    return ensure_accounts(engine)


def login(client, username: str, password: str = TEST_PASSWORD, *, next_path: str = "/"):
    """Sign a Flask test client in through the login form; returns the POST's response
    (303 on success, with the session cookie set on ``client``)."""
    import re

    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([A-Za-z0-9_-]+)"', page).group(1)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf, "next": next_path},
    )


def session_token(engine, username: str) -> str:
    """A fresh session token for ``username`` created directly in the database (for browser
    pages and clients that skip the form)."""
    from geodata.accounts import account_id_for
    from geodata.sessions import create_session

    with engine.begin() as c:
        account_id = account_id_for(c, username)
        assert account_id is not None, f"no account {username}"
        return create_session(
            c, account_id, ip="127.0.0.1", ua="pytest", now=dt.datetime.now(dt.UTC)
        )


def signed_in(server, engine, username: str = "t_commander"):
    """A Flask test client of ``server`` carrying a fresh session of ``username`` (created in
    the database; no password hashing, so cheap enough per call)."""
    from api.auth import SESSION_COOKIE

    client = server.test_client()
    client.set_cookie(SESSION_COOKIE, session_token(engine, username))
    return client


@pytest.fixture()
def user_cli(settings, monkeypatch):
    """``gridcmd user ARGS...`` through typer's CliRunner on the session database:
    ``user_cli(*args, stdin=None)`` → the result (fails the test on a traceback)."""
    from typer.testing import CliRunner

    import gridcmd.cli as cli

    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None):
        res = runner.invoke(cli.app, ["user", *args], input=stdin, env={"COLUMNS": "200"})
        assert "Traceback" not in res.output
        return res

    return invoke


@pytest.fixture()
def session_without_db(monkeypatch):
    """For tests of database outages: the session gate lets requests through as a prefecture
    commander without asking the (dead) database, so the page's own failure handling is what
    the test sees. The gate itself answers 503 on a dead database (tests/test_app.py)."""
    from api.auth import _Auth
    from geodata.accounts import Caller
    from geodata.cells import PREFECTURE_PATH

    caller = Caller(0, "test-commander", "Test commander", "commander", PREFECTURE_PATH)
    monkeypatch.setattr(_Auth, "lookup", lambda self, token: caller)
    return caller


@pytest.fixture(autouse=True)
def _prefecture_caller():
    """Tests that call callbacks directly (outside a request) act as a prefecture
    commander; requests always use their own session (``flask.g.caller``)."""
    from geodata.accounts import Caller
    from geodata.cells import PREFECTURE_PATH
    from gridcmd.web import CALLER_OVERRIDE

    token = CALLER_OVERRIDE.set(
        Caller(
            0, "test-commander", "Test commander", "commander", PREFECTURE_PATH, can_unmask=True
        )  # fmt: skip
    )
    yield
    CALLER_OVERRIDE.reset(token)


# ----------------------------------------------------------------------------- session-wide scan
# Every response any app sends during the test run (API, routes, pages, Dash callback replies)
# is checked for unmasked ID and mobile numbers (tests/scan.py). Allowed: the reply to an
# audited unmask request, and a 4xx from the mobile API (it may echo the client's own input,
# e.g. a coordinate, in its error detail — nothing stored leaves that way).
SCAN_FINDINGS: list[str] = []


def _scan_allowed(request, response) -> bool:
    if request.path == "/_dash-update-component":
        return "gc-pop-unmask-out" in (request.get_data(as_text=True) or "")[:2000]
    return request.path.startswith("/api/v1/") and 400 <= response.status_code < 500


@pytest.fixture(scope="session", autouse=True)
def _scan_every_response():
    import flask

    from tests.scan import _body_text, find_personal_data

    def on_response(sender, response, **_):
        if flask.request.path.startswith(("/_dash-component-suites/", "/assets/")) or (
            response.mimetype in ("application/javascript", "text/javascript", "text/css")
        ):
            return  # the app's own code bundles, not data
        if response.mimetype == "text/html" and not flask.request.path.startswith("/api/"):
            # Dash's index page holds only script tags whose cache-busting numbers look like
            # phone numbers; the page's data arrives as JSON (/_dash-layout), scanned above.
            return
        try:
            body = _body_text(response)
        except Exception:  # noqa: BLE001 - an unreadable body is not personal data
            return
        if body is None:
            return
        hits = find_personal_data(body)
        if hits and not _scan_allowed(flask.request, response):
            where = f"{flask.request.method} {flask.request.path}"
            SCAN_FINDINGS.extend(f"{where} ({response.status_code}): {h}" for h in hits)

    flask.request_finished.connect(on_response, weak=False)
    yield
    flask.request_finished.disconnect(on_response)
    assert not SCAN_FINDINGS, "unmasked personal data in responses during the test run:\n" + (
        "\n".join(SCAN_FINDINGS[:30])
    )
