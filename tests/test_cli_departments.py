"""`gridcmd user add/set-role` with the department role: --department CODE is required (and
only for that role); the unit's cell becomes the jurisdiction."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from tests.conftest import TEST_PASSWORD


@pytest.fixture()
def police(engine):
    with engine.connect() as c:
        return c.execute(
            text(
                "SELECT d.id, d.code, g.code AS cell FROM department d JOIN grid_cell g "
                "ON g.id = d.cell_id WHERE d.kind = 'police' ORDER BY d.code LIMIT 1"
            )
        ).one()


def _name() -> str:
    return f"cli_dept_{uuid.uuid4().hex[:8]}"


def _account(engine, username):
    with engine.connect() as c:
        return c.execute(
            text("SELECT a.role, a.department_id, g.code FROM account a JOIN grid_cell g "
                 "ON g.id = a.jurisdiction_cell_id WHERE a.username = :u"), {"u": username},
        ).first()  # fmt: skip


def test_add_department_account(user_cli, engine, police):
    name = _name()
    res = user_cli("add", name, "--role", "department", "--department", police.code,
                   "--password-stdin", stdin=TEST_PASSWORD + "\n")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert _account(engine, name) == ("department", police.id, police.cell)
    name2 = _name()  # --cell may repeat the unit's cell
    res = user_cli("add", name2, "--role", "department", "--department", police.code, "--cell",
                   police.cell, "--password-stdin", stdin=TEST_PASSWORD + "\n")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert user_cli("set-role", name2, "--role", "auditor", "--cell", "532901").exit_code == 0
    assert _account(engine, name2) == ("auditor", None, "532901")
    res = user_cli("set-role", name2, "--role", "department", "--department", police.code)
    assert res.exit_code == 0, res.output
    assert _account(engine, name2) == ("department", police.id, police.cell)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--role", "department", "--cell", "532901"], 2, "needs --department CODE"),
        (["--role", "commander", "--cell", "532901", "--department", "X"], 2,
         "only for --role department"),
        (["--role", "department", "--department", "NOPE-1"], 1, "no department with code"),
        (["--role", "commander"], 2, "--cell is required"),
    ],
)  # fmt: skip
def test_add_refusals(user_cli, engine, args, code, message):
    name = _name()
    res = user_cli("add", name, *args, "--password-stdin", stdin=TEST_PASSWORD + "\n")
    assert res.exit_code == code, res.output
    assert "error:" in res.output and message in res.output
    assert _account(engine, name) is None


def test_add_refuses_another_cell(user_cli, engine, police):
    name = _name()
    res = user_cli("add", name, "--role", "department", "--department", police.code, "--cell",
                   "532900", "--password-stdin", stdin=TEST_PASSWORD + "\n")  # fmt: skip
    assert res.exit_code == 1 and "jurisdiction is its unit's cell" in res.output
    res = user_cli("set-role", "t_auditor", "--role", "department")
    assert res.exit_code == 2 and "needs --department CODE" in res.output
