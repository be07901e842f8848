"""Shared fixtures: a throw-away PostGIS database per test session, migrated and seeded with
the demo at small scale (all 12 real counties, synthetic L3–L6), dropped at the end.

The server is the one the app would use: ``DATABASE_URL`` when set (its role needs CREATEDB),
else the private instance in ``var/pg`` (started if needed).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid

import hypothesis  # noqa: F401  (imported early; see the note below)
import hypothesis.internal.observability  # noqa: F401
import pytest
from sqlalchemy import text

from geodata import migrate
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
    """Factory: create an empty database on the test server, dropped at session end."""
    created: list[str] = []
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")

    def make(prefix: str = "gridcmd_test") -> str:
        name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return normalise_url(server_url).set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.connect() as conn:
        for name in created:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def db_url(make_database) -> str:
    """A migrated database seeded with the small demo fixture (read-only for tests: write
    tests use the ``conn`` fixture, which rolls back)."""
    url = make_database()
    eng = make_engine(url)
    migrate.upgrade(eng)
    seed_demo(eng, seed=FIXTURE_SEED, scale=FIXTURE_SCALE, now=FIXTURE_NOW)
    build_lod(eng)
    eng.dispose()
    return url


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
