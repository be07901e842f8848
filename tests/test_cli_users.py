"""`gridcmd user ...` through typer's CliRunner on the session database: add, list, disable,
reset-password, set-role, require-totp; clear one-line errors, no tracebacks. Also the demo
accounts of `seed demo`."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import text

from geodata.accounts import AuthFailure, Caller
from geodata.signin import authenticate
from tests.conftest import TEST_PASSWORD


def _name() -> str:
    return f"cli_{uuid.uuid4().hex[:8]}"


def _row(engine, username: str):
    with engine.connect() as c:
        return c.execute(
            text("SELECT a.role, a.active, a.must_change_password, g.code FROM account a "
                 "JOIN grid_cell g ON g.id = a.jurisdiction_cell_id WHERE username = :u"),
            {"u": username},
        ).first()  # fmt: skip


def test_add_list_set_role_disable(user_cli, engine):
    name = _name()
    res = user_cli("add", name, "--role", "commander", "--cell", "532901", "--display-name",
                   "李指挥", "--password-stdin", stdin=TEST_PASSWORD + "\n")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert _row(engine, name) == ("commander", True, True, "532901")
    listed = user_cli("list", "--cell", "532901")
    assert listed.exit_code == 0 and name in listed.output
    assert name not in user_cli("list", "--cell", "532922").output
    assert user_cli("set-role", name, "--role", "dispatcher", "--cell", "532922").exit_code == 0
    assert _row(engine, name)[0] == "dispatcher" and _row(engine, name)[3] == "532922"
    assert user_cli("disable", name).exit_code == 0
    assert _row(engine, name)[1] is False
    with engine.begin() as c:
        assert authenticate(c, name, TEST_PASSWORD, ip=None, now=dt.datetime.now(dt.UTC)) == (
            AuthFailure.DISABLED
        )


def test_add_prompts_for_the_password_twice(user_cli, engine):
    name = _name()
    res = user_cli("add", name, "--role", "auditor", "--cell", "532900", "--no-must-change",
                   stdin=f"{TEST_PASSWORD}\n{TEST_PASSWORD}\n")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert _row(engine, name) == ("auditor", True, False, "532900")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--role", "commander", "--cell", "532901"], "short\n", "at least 10"),
        (["--role", "emperor", "--cell", "532901"], TEST_PASSWORD + "\n", "Unknown role"),
        (["--role", "commander", "--cell", "999999"], TEST_PASSWORD + "\n", "No cell"),
        (["--role", "grid_worker", "--cell", "532901"], TEST_PASSWORD + "\n", "worker"),
        (["--role", "grid_worker", "--cell", "532901", "--worker", "NOPE"],
         TEST_PASSWORD + "\n", "no worker"),
    ],
)  # fmt: skip
def test_add_refusals_are_one_error_line(user_cli, args, stdin, message):
    res = user_cli("add", _name(), *args, "--password-stdin", stdin=stdin)
    assert res.exit_code != 0
    assert "error:" in res.output and message in res.output


def test_duplicate_and_unknown_users(user_cli, accounts):
    res = user_cli("add", "t_commander", "--role", "commander", "--cell", "532900",
                   "--password-stdin", stdin=TEST_PASSWORD + "\n")  # fmt: skip
    assert res.exit_code == 1 and "taken" in res.output
    for args in (["disable", "nobody_x"], ["reset-password", "nobody_x"],
                 ["set-role", "nobody_x", "--role", "auditor"]):  # fmt: skip
        res = user_cli(*args)
        assert res.exit_code == 1 and "No account named nobody_x" in res.output
    assert user_cli("list", "--cell", "123").exit_code == 1


def test_reset_password_prints_a_one_time_password(user_cli, engine):
    name = _name()
    user_cli("add", name, "--role", "supervisor", "--cell", "532901", "--no-must-change",
             "--password-stdin", stdin=TEST_PASSWORD + "\n")  # fmt: skip
    res = user_cli("reset-password", name)
    assert res.exit_code == 0
    temporary = res.stdout.strip().splitlines()[-1]
    assert len(temporary) >= 16 and temporary not in (TEST_PASSWORD,)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as c:
        assert authenticate(c, name, TEST_PASSWORD, ip=None, now=now) == AuthFailure.BAD_CREDENTIALS
        caller = authenticate(c, name, temporary, ip=None, now=now)
    assert isinstance(caller, Caller) and caller.must_change_password
    with engine.connect() as c:
        logged = (
            c.execute(
                text(
                    "SELECT detail FROM security_log WHERE username = :u"
                    " AND kind = 'account_change'"
                ),
                {"u": name},
            )
            .scalars()
            .all()
        )
    assert "password reset" in logged and all(temporary not in d for d in logged)


def test_require_totp(user_cli, engine):
    assert user_cli("require-totp", "dispatcher", "on").exit_code == 0
    try:
        with engine.connect() as c:
            assert (
                c.execute(
                    text("SELECT totp_required FROM role_policy WHERE role = 'dispatcher'")
                ).scalar()
                is True
            )
    finally:
        assert user_cli("require-totp", "dispatcher", "off").exit_code == 0
    assert user_cli("require-totp", "dispatcher", "maybe").exit_code == 2
    assert user_cli("require-totp", "emperor", "on").exit_code == 1


def test_demo_accounts_one_per_level_and_role(conn):
    from geodata.demo.accounts import DEMO_PASSWORD, seed_demo_accounts

    made = seed_demo_accounts(conn)
    assert len(made) == 14 and len({a.username for a in made}) == 14
    levels = dict(
        conn.execute(
            text("SELECT a.username, c.level FROM account a JOIN grid_cell c "
                 "ON c.id = a.jurisdiction_cell_id WHERE a.synthetic")
        ).all()
    )  # fmt: skip
    chain = ("commander", "dali.commander", "township.commander", "village.commander",
             "grid.commander")  # fmt: skip
    assert [levels[u] for u in chain] == [1, 2, 3, 4, 5]
    assert {a.role for a in made} == {"admin", "commander", "dispatcher", "supervisor",
                                      "auditor", "grid_worker", "department"}  # fmt: skip
    caller = authenticate(conn, "commander", DEMO_PASSWORD, ip=None, now=dt.datetime.now(dt.UTC))
    assert isinstance(caller, Caller) and not caller.must_change_password
    worker = authenticate(conn, "worker", DEMO_PASSWORD, ip=None, now=dt.datetime.now(dt.UTC))
    assert isinstance(worker, Caller) and worker.worker_id is not None
    assert seed_demo_accounts(conn) == made  # idempotent
