"""``gridcmd simulate`` against a live server (werkzeug, threaded, on a free port) on its own
seeded database: fixes, events and current positions must actually land in PostGIS."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import text

from geodata.accounts import Caller
from geodata.tokens import create_demo_tokens
from geodata.workflow import Actor, perform
from gridcmd.settings import Settings
from gridcmd.simulate import (
    HOME_RADIUS_M,
    SYNTHETIC_TAG,
    Fleet,
    SimConfig,
    load_tokens,
    move,
    run_simulation,
    summary_rows,
)
from tests.conftest import engine_on, serve

pytestmark = pytest.mark.slow  # the simulator drives a live server for seconds


@pytest.fixture(scope="module")
def sim_engine(seeded_database):
    """This module's own seeded database (the simulation commits)."""
    with engine_on(seeded_database("gridcmd_sim")) as eng:
        yield eng


@pytest.fixture(scope="module")
def live_server(sim_engine, tmp_path_factory):
    from app import create_app

    settings = Settings(DATABASE_URL=str(sim_engine.url), secret_key="test-secret",
                        var_dir=tmp_path_factory.mktemp("sim_var"), basemap_url=None)  # fmt: skip
    with serve(create_app(settings, engine=sim_engine).server) as base_url:
        yield base_url


def test_walk_stays_plausible():
    rng = np.random.default_rng(1)
    k = 500
    lon, lat = np.full(k, 100.2), np.full(k, 25.6)
    f = Fleet(ids=np.arange(k), employee_no=[""] * k, tokens=[None] * k, lon=lon.copy(),
              lat=lat.copy(), home_lon=lon.copy(), home_lat=lat.copy(),
              heading=rng.uniform(0, 6.28, k), speed=np.full(k, 1.4), ride_left=np.zeros(k),
              next_fix=np.zeros(k))  # fmt: skip
    for _ in range(1800):  # half an hour, one-second steps
        before_lon, before_lat = f.lon.copy(), f.lat.copy()
        move(f, 1.0, rng)
        step = np.hypot((f.lon - before_lon) * 111_320 * np.cos(np.radians(25.6)),
                        (f.lat - before_lat) * 111_320)  # fmt: skip
        assert step.max() < 70  # below the server's plausibility limit
    far = np.hypot((f.lon - 100.2) * 111_320 * np.cos(np.radians(25.6)), (f.lat - 25.6) * 111_320)
    assert np.median(far) < 3 * HOME_RADIUS_M  # pulled back towards home
    assert far.max() > 10  # but they do move


def test_simulation_lands_in_the_database(sim_engine, live_server, tmp_path):
    import json

    with sim_engine.begin() as conn:
        tokens = create_demo_tokens(conn, n_workers=10, label="sim test")
        start = conn.execute(text("SELECT now()")).scalar_one()
        before = dict(
            conn.execute(text("SELECT id, last_fix_at FROM grid_worker WHERE active")).all()
        )
        # one task dispatched to each worker with a token: the phones take steps on them
        admin = Actor.from_caller(Caller(0, "sim", "Sim", "admin", "532900"))
        tasks = []
        for w in tokens["workers"]:
            ev = conn.execute(
                text("INSERT INTO event (uuid, category, severity, title, description, location,"
                     " cell_id, status, reported_at, version, synthetic) SELECT gen_random_uuid(),"
                     " 'livelihood', 'low', 'sim task', '', ST_PointOnSurface(c.geom), c.id,"
                     " 'reported', now(), 1, true FROM grid_worker g JOIN grid_cell c"
                     " ON c.id = g.cell_id WHERE g.id = :w RETURNING id"), {"w": w["id"]}
            ).scalar_one()  # fmt: skip
            perform(conn, ev, "dispatch", admin, worker_id=w["id"])
            tasks.append(ev)
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps(tokens), encoding="utf-8")
    cfg = SimConfig(workers=30, rate=60, duration=3.2, base_url=live_server, tokens=path,
                    events_per_min=240, photos_every=2, seed=7, tasks_per_min=600)  # fmt: skip
    stats = run_simulation(cfg, sim_engine, load_tokens(path))

    assert stats.errors == {} or sum(stats.errors.values()) == 0, stats.errors
    assert stats.fixes_sent >= 30 and stats.fixes_accepted == stats.fixes_sent
    with sim_engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*), count(DISTINCT worker_id) FROM "
                                   "worker_position WHERE received_at >= :t"),
                              {"t": start}).one()  # fmt: skip
        events = conn.execute(text("SELECT count(*) FROM event WHERE updated_at >= :t "
                                   "AND description LIKE :tag"),
                              {"t": start, "tag": SYNTHETIC_TAG + "%"}).scalar_one()  # fmt: skip
        moved = conn.execute(text("SELECT id, last_fix_at FROM grid_worker "
                                  "WHERE last_fix_at >= :t"), {"t": start}).all()  # fmt: skip
    assert stored[0] == stats.fixes_accepted and stored[1] == 30
    assert events == stats.created["events"] >= 1
    assert len(moved) == 30
    assert all(before.get(r.id) is None or r.last_fix_at > before[r.id] for r in moved)
    assert all(r.last_fix_at <= dt.datetime.now(dt.UTC) for r in moved)
    rows = dict(summary_rows(stats))
    assert rows["fixes sent"].startswith(f"{stats.fixes_sent:,}")
    assert "p95" in rows["positions requests"]
    # routes built by other work: used when present, skipped (not failed) when absent
    for kind in ("photos", "checkins"):
        assert stats.created[kind] >= 1 or kind in stats.skipped, (kind, stats.requests)
    # task steps went through the workflow API: history rows by the workers themselves
    assert stats.created["task_steps"] >= 1, (stats.requests, stats.rejected)
    with sim_engine.connect() as conn:
        steps = conn.execute(
            text("SELECT count(*) FROM event_action WHERE event_id = ANY(:t) "
                 "AND actor_type = 'worker'"), {"t": tasks}
        ).scalar_one()  # fmt: skip
    assert steps == stats.created["task_steps"]


def test_cli_help_and_missing_tokens_file(tmp_path, db_url):
    from tests.test_cli import gridcmd

    res = gridcmd("simulate", "--help")
    assert res.returncode == 0 and "--workers" in res.stdout and "--rate" in res.stdout
    res = gridcmd("simulate", "--tokens", str(tmp_path / "none.json"), "--duration", "1",
                  env={"DATABASE_URL": db_url})  # fmt: skip
    assert res.returncode == 1 and "tokens file" in res.stderr and "Traceback" not in res.stderr


def test_cli_refuses_unknown_tokens_and_unreachable_server(tmp_path, sim_engine, live_server):
    """A tokens file the server does not know (another database's, or revoked) or no server
    at all: one clear error line before any traffic, not a run that stores nothing."""
    import json

    from tests.test_cli import gridcmd

    bogus = tmp_path / "tokens.json"
    bogus.write_text(json.dumps({"gateway": {"token": "gct_" + "x" * 40},
                                 "workers": []}), encoding="utf-8")  # fmt: skip
    env = {"DATABASE_URL": str(sim_engine.url.render_as_string(hide_password=False))}
    res = gridcmd("simulate", "--tokens", str(bogus), "--duration", "5", "--base-url",
                  live_server, env=env)  # fmt: skip
    assert res.returncode == 1, res.stderr
    assert "refuses the tokens file's gateway token (401)" in res.stderr
    assert "seed demo --replace" in res.stderr and "Traceback" not in res.stderr
    assert "simulating" not in res.stderr  # stopped before any traffic

    with sim_engine.begin() as conn:
        good = create_demo_tokens(conn, n_workers=1, label="sim preflight")
    path = tmp_path / "good.json"
    path.write_text(json.dumps(good), encoding="utf-8")
    res = gridcmd("simulate", "--tokens", str(path), "--duration", "1", "--base-url",
                  "http://127.0.0.1:1", env=env)  # fmt: skip
    assert res.returncode == 1 and "cannot reach http://127.0.0.1:1" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
