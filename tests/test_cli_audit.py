"""``gridcmd audit verify`` as a real subprocess on a database of its own."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from geodata.db import make_engine
from tests.test_cli import gridcmd


@pytest.mark.parametrize("cmd", [["audit"], ["audit", "verify"]])
def test_help(cmd):
    res = gridcmd(*cmd, "--help")
    assert res.returncode == 0 and "Usage:" in res.stdout


@pytest.fixture(scope="module")
def audit_url(seeded_database):
    """URL of this module's own small seeded database (the test edits its history)."""
    return seeded_database("gridcmd_cli_audit", scale=0.005)


def test_verify_intact_then_edited(audit_url):
    eng = make_engine(audit_url)
    try:
        with eng.connect() as c:
            n = c.execute(text("SELECT count(*) FROM event_action")).scalar_one()
            mid = c.execute(text("SELECT id FROM event_action ORDER BY id OFFSET :k LIMIT 1"),
                            {"k": n // 2}).scalar_one()  # fmt: skip
        res = gridcmd("audit", "verify", env={"DATABASE_URL": audit_url})
        assert res.returncode == 0, res.stderr
        assert f"audit chain intact: {n} rows" in res.stdout

        with eng.begin() as c:  # the superuser edits a note behind the trigger's back
            c.execute(text("ALTER TABLE event_action DISABLE TRIGGER USER"))
            c.execute(text("UPDATE event_action SET note = 'edited' WHERE id = :i"), {"i": mid})
            c.execute(text("ALTER TABLE event_action ENABLE TRIGGER USER"))
        res = gridcmd("audit", "verify", env={"DATABASE_URL": audit_url})
        assert res.returncode == 1
        assert "error:" in res.stderr and f"row {mid} was altered" in res.stderr
        assert "Traceback" not in res.stderr
    finally:
        eng.dispose()


def test_unreachable_database_is_one_line():
    res = gridcmd("audit", "verify",
                  env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})  # fmt: skip
    assert res.returncode == 1 and "error:" in res.stderr and "Traceback" not in res.stderr
