"""``gridcmd token create/revoke`` as a real subprocess against the fixture database (the
tokens made here are deleted again afterwards)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from geodata.tokens import hash_token, worker_for_token
from tests.test_cli import gridcmd


@pytest.mark.parametrize("cmd", [["token"], ["token", "create"], ["token", "revoke"]])
def test_help(cmd):
    res = gridcmd(*cmd, "--help")
    assert res.returncode == 0 and "Usage:" in res.stdout


@pytest.fixture()
def api_engine(engine):
    yield engine
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM api_token WHERE label = 'pixel 8'"))


def test_create_use_revoke(api_engine, db_url):
    url = db_url
    with api_engine.connect() as conn:
        emp = conn.execute(text("SELECT employee_no FROM grid_worker ORDER BY id LIMIT 1")).scalar()
    res = gridcmd("token", "create", "--worker", emp, "--label", "pixel 8",
                  env={"DATABASE_URL": url})  # fmt: skip
    assert res.returncode == 0, res.stderr
    token = res.stdout.strip()
    assert len(token) >= 40 and "\n" not in token
    with api_engine.begin() as conn:
        row = conn.execute(text("SELECT id, label FROM api_token WHERE token_hash = :h"),
                           {"h": hash_token(token)}).one()  # fmt: skip
        assert row.label == "pixel 8"
        assert worker_for_token(conn, token) is not None
    res = gridcmd("token", "revoke", str(row.id), env={"DATABASE_URL": url})
    assert res.returncode == 0 and "revoked" in res.stdout
    with api_engine.begin() as conn:
        assert worker_for_token(conn, token) is None
    res = gridcmd("token", "revoke", str(row.id), env={"DATABASE_URL": url})
    assert res.returncode == 1 and "error:" in res.stderr and "Traceback" not in res.stderr


def test_unknown_worker_is_one_line(db_url):
    res = gridcmd("token", "create", "--worker", "NOPE-1", env={"DATABASE_URL": db_url})
    assert res.returncode == 1 and "no worker" in res.stderr and "Traceback" not in res.stderr


@pytest.fixture()
def gateway_cleanup(engine):
    yield engine
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM api_token WHERE label = 'relay 1'"))


def test_gateway_create(gateway_cleanup, db_url):
    from geodata.tokens import token_for_request

    with gateway_cleanup.connect() as conn:
        code = conn.execute(text("SELECT code FROM grid_cell WHERE level = 3 ORDER BY code "
                                 "LIMIT 1")).scalar_one()  # fmt: skip
    env = {"DATABASE_URL": db_url}
    res = gridcmd("token", "create", "--gateway", "--scope", code, "--label", "relay 1", env=env)
    assert res.returncode == 0, res.stderr
    token = res.stdout.strip()
    assert "gateway of " + code in res.stderr
    with gateway_cleanup.begin() as conn:
        caller = token_for_request(conn, token)
        assert caller is not None and caller.is_gateway and caller.worker is None
        assert caller.scope_path.endswith(code)
        assert worker_for_token(conn, token) is None  # not a worker token


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "exactly one"),
        (["--worker", "X", "--gateway", "--scope", "532900"], "exactly one"),
        (["--gateway"], "--scope"),
        (["--worker", "X", "--scope", "532900"], "only for --gateway"),
        (["--gateway", "--scope", "999999"], "no cell"),
    ],
)
def test_gateway_bad_arguments_are_one_line(db_url, args, message):
    res = gridcmd("token", "create", *args, env={"DATABASE_URL": db_url})
    assert res.returncode in (1, 2) and message in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.slow  # migrates and seeds a database from scratch
def test_seed_demo_writes_private_demo_tokens(make_database, tmp_path):
    import json
    import stat

    from geodata import migrate
    from geodata.db import make_engine
    from geodata.tokens import token_for_request

    url = make_database("gridcmd_seedtok")
    eng = make_engine(url)
    migrate.upgrade(eng)
    env = {"DATABASE_URL": url, "GRIDCMD_VAR_DIR": str(tmp_path)}
    res = gridcmd("seed", "demo", "--scale", "0.01", env=env)
    assert res.returncode == 0, res.stderr
    path = tmp_path / "demo_tokens.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["synthetic"] is True and data["gateway"]["scope"] == "532900"
    assert 0 < len(data["workers"]) <= 200
    with eng.begin() as conn:
        gw = token_for_request(conn, data["gateway"]["token"])
        assert gw is not None and gw.is_gateway and gw.scope_path == "532900"
        w = data["workers"][0]
        me = token_for_request(conn, w["token"])
        assert me is not None and me.worker.employee_no == w["employee_no"]
        duty = conn.execute(text("SELECT DISTINCT duty_status FROM grid_worker "
                                 "WHERE id = ANY(:i)"),
                            {"i": [x["id"] for x in data["workers"]]}).scalars().all()  # fmt: skip
    assert duty == ["on_duty"]
    eng.dispose()


def test_last_used_at_is_refreshed_at_most_once_a_minute(conn):
    from geodata.tokens import create_token, token_for_request

    wid = conn.execute(text("SELECT id FROM grid_worker WHERE active ORDER BY id LIMIT 1")).scalar()
    token_id, token = create_token(conn, wid, "resolution")
    used = text("SELECT last_used_at FROM api_token WHERE id = :i")
    assert token_for_request(conn, token).worker.id == wid
    first = conn.execute(used, {"i": token_id}).scalar_one()
    assert first is not None
    conn.execute(text("UPDATE api_token SET last_used_at = last_used_at - interval '10 s' "
                      "WHERE id = :i"), {"i": token_id})  # fmt: skip
    token_for_request(conn, token)  # recent: not rewritten
    assert conn.execute(used, {"i": token_id}).scalar_one() == first - dt.timedelta(seconds=10)
    conn.execute(text("UPDATE api_token SET last_used_at = last_used_at - interval '2 min' "
                      "WHERE id = :i"), {"i": token_id})  # fmt: skip
    token_for_request(conn, token)  # stale: refreshed (now() is the transaction's start)
    assert conn.execute(used, {"i": token_id}).scalar_one() == first
