"""The gridcmd command line, run as a real subprocess against the fixture database."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

COMMANDS = [
    ["supervise"],
    [],
    ["db"],
    ["db", "up"],
    ["db", "down"],
    ["db", "status"],
    ["db", "migrate"],
    ["seed"],
    ["seed", "demo"],
    ["check"],
    ["serve"],
    ["attribute"],
]


def gridcmd(*args: str, env: dict[str, str] | None = None, timeout: int = 120):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "gridcmd.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_every_command_has_help(cmd):
    res = gridcmd(*cmd, "--help")
    assert res.returncode == 0, res.stderr
    assert "Usage:" in res.stdout


def test_check_passes_on_demo(db_url):
    res = gridcmd("check", env={"DATABASE_URL": db_url})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "all" in res.stdout and "rules passed" in res.stdout
    assert "L6 siblings do not overlap" in res.stdout


def test_seed_refuses_non_empty_database(db_url):
    res = gridcmd("seed", "demo", "--scale", "0.01", env={"DATABASE_URL": db_url})
    assert res.returncode == 1
    assert "error:" in res.stderr and "--replace" in res.stderr
    assert "Traceback" not in res.stderr


def test_seed_if_empty_is_a_no_op_on_data(db_url):
    res = gridcmd("seed", "demo", "--if-empty", env={"DATABASE_URL": db_url})
    assert res.returncode == 0 and "nothing to do" in res.stdout


def test_unreachable_database_is_one_clear_line():
    url = "postgresql://alice:s3cretpw@127.0.0.1:1/nowhere"
    res = gridcmd("check", env={"DATABASE_URL": url})
    assert res.returncode == 1
    assert "127.0.0.1:1/nowhere" in res.stderr
    assert "s3cretpw" not in res.stderr + res.stdout
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) <= 3


def test_not_postgres_url_is_rejected():
    res = gridcmd("check", env={"DATABASE_URL": "mysql://x@localhost/db"})
    assert res.returncode == 1 and "PostgreSQL" in res.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["seed", "demo", "--scale", "abc"],
        ["seed", "demo", "--scale", "2"],
        ["nonsense"],
        ["serve", "--port", "70000"],
    ],
)
def test_invalid_arguments_print_usage(args):
    res = gridcmd(*args)
    assert res.returncode == 2
    assert "Usage:" in res.stderr or "Usage:" in res.stdout


def test_attribute_prints_the_chain(db_url):
    res = gridcmd("attribute", "100.23", "25.6", env={"DATABASE_URL": db_url})
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert [ln[:2] for ln in lines] == ["L1", "L2", "L3", "L4", "L5", "L6"]
    assert "大理市" in res.stdout


def test_attribute_swapped_coordinates(db_url):
    res = gridcmd("attribute", "25.6", "100.23", env={"DATABASE_URL": db_url})
    assert res.returncode == 2 and "swapped" in res.stderr


def test_migrate_is_idempotent(db_url, engine):
    from geodata import migrate

    head = migrate.head_revision(engine)
    res = gridcmd("db", "migrate", env={"DATABASE_URL": db_url})
    assert res.returncode == 0 and f"revision {head} (was {head})" in res.stdout
