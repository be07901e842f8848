"""The gridcmd command line against the fixture database.

Commands run in-process through typer's CliRunner (:func:`gridcmd`): the same app, arguments,
environment, exit codes and output streams as the ``gridcmd`` script, without a Python
start-up per call; an exception escaping a command fails the test (a process would print a
traceback). The entry points themselves and what a terminal shows for an unreachable
database run as real subprocesses (:func:`gridcmd_process`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class Run:
    """What one command did (the fields of ``subprocess.CompletedProcess`` the tests read)."""

    returncode: int
    stdout: str
    stderr: str


def gridcmd(*args: str, env: dict[str, str] | None = None) -> Run:
    """``gridcmd ARGS...`` in this process (typer's CliRunner) with ``env`` added to the
    environment; settings are read afresh for the call."""
    from typer.testing import CliRunner

    from gridcmd.cli import app
    from gridcmd.settings import get_settings

    get_settings.cache_clear()
    try:
        res = CliRunner().invoke(app, list(args), env=env)
    finally:
        get_settings.cache_clear()
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception  # a traceback, where the command should print one error line
    return Run(res.exit_code, res.stdout, res.stderr)


def gridcmd_process(*args: str, env: dict[str, str] | None = None, timeout: int = 120):
    """``python -m gridcmd.cli ARGS...`` as a real subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "gridcmd.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


def test_entry_points_run_the_command_line():
    """``python -m gridcmd.cli`` and the installed ``gridcmd`` script are the same CLI."""
    res = gridcmd_process("--help")
    assert res.returncode == 0 and "Usage:" in res.stdout and "seed" in res.stdout
    script = Path(sys.executable).with_name("gridcmd")
    res = subprocess.run([str(script), "db", "--help"], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert res.returncode == 0 and "Usage:" in res.stdout and "migrate" in res.stdout


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
    res = gridcmd_process("check", env={"DATABASE_URL": url})  # all a terminal would show
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
