"""``gridcmd token create/revoke`` as a real subprocess against the fixture database (the
tokens made here are deleted again afterwards)."""

from __future__ import annotations

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
