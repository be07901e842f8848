"""A separate migrated + seeded database for the mobile-API tests (they write events, whose
history is append-only, so they must not share the session database), the app on it, and
bearer tokens of two workers in different L5 grids."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import text

from geodata.tokens import create_token
from gridcmd.settings import Settings
from tests.conftest import engine_on


@dataclass(frozen=True)
class Worker:
    id: int
    employee_no: str
    token: str
    lon: float  # a point inside the worker's own cell
    lat: float
    grid_path: str  # ltree path of their L5 grid

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="session")
def api_engine(seeded_database):
    """The API tests' own seeded database (they commit append-only history)."""
    with engine_on(seeded_database("gridcmd_api")) as eng:
        yield eng


@pytest.fixture(scope="session")
def api_app(api_engine, tmp_path_factory):
    from app import create_app

    settings = Settings(
        DATABASE_URL=str(api_engine.url),
        secret_key="test-secret",
        var_dir=tmp_path_factory.mktemp("api_var"),
        basemap_url=None,
    )
    return create_app(settings, engine=api_engine).server


@pytest.fixture()
def client(api_app):
    return api_app.test_client()


@pytest.fixture(scope="session")
def api_accounts(api_engine) -> dict[str, int]:
    """The test accounts (tests/conftest.py TEST_ACCOUNTS) in the API database."""
    from tests.conftest import ensure_accounts

    return ensure_accounts(api_engine)


def _worker(conn, worker_id: int) -> Worker:
    r = conn.execute(
        text(
            """
            SELECT w.id, w.employee_no, ltree2text(subpath(c.path, 0, 5)) AS grid_path,
                   ST_X(ST_PointOnSurface(l6.geom)) AS lon, ST_Y(ST_PointOnSurface(l6.geom)) AS lat
            FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id
            JOIN LATERAL (SELECT geom FROM grid_cell x WHERE x.level = 6 AND x.path <@ c.path
                          ORDER BY x.code LIMIT 1) l6 ON true
            WHERE w.id = :w
            """
        ),
        {"w": worker_id},
    ).one()
    _, token = create_token(conn, r.id, "test")
    return Worker(r.id, r.employee_no, token, r.lon, r.lat, r.grid_path)


@pytest.fixture(scope="session")
def workers(api_engine) -> tuple[Worker, Worker]:
    """Two active workers whose L5 grids differ."""
    with api_engine.begin() as conn:
        a_id, b_id = conn.execute(
            text(
                """
                SELECT a.id, b.id
                FROM grid_worker a JOIN grid_cell ca ON ca.id = a.cell_id,
                     grid_worker b JOIN grid_cell cb ON cb.id = b.cell_id
                WHERE a.active AND b.active AND nlevel(ca.path) >= 5 AND nlevel(cb.path) >= 5
                  AND subpath(ca.path, 0, 5) <> subpath(cb.path, 0, 5)
                ORDER BY a.id, b.id LIMIT 1
                """
            )
        ).one()
        return _worker(conn, a_id), _worker(conn, b_id)


@pytest.fixture(scope="session")
def worker(workers) -> Worker:
    return workers[0]


@pytest.fixture(scope="session")
def small_photo_app(api_engine, tmp_path_factory):
    """Only the /api/v1 blueprint, with the smallest photo limit (10,000 bytes)."""
    import flask

    from api.v1 import api_blueprint

    settings = Settings(
        DATABASE_URL=str(api_engine.url),
        secret_key="test-secret",
        var_dir=tmp_path_factory.mktemp("api_small_var"),
        photo_max_bytes=10_000,
    )
    app = flask.Flask("small_photo_app")
    app.register_blueprint(api_blueprint(api_engine, settings))
    return app
