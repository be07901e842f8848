"""`gridcmd supervise --once` (it commits: its own small database, not the session's)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from gridcmd.cli import app
from gridcmd.settings import get_settings
from tests.conftest import engine_on


@pytest.fixture(autouse=True)
def _fresh_settings():
    """The commands read settings through a process-wide cache: the env of each test."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_supervise_once_supervises_the_overdue_backlog(seeded_database, monkeypatch):
    url = seeded_database("gridcmd_sup", scale=0.01)
    with engine_on(url) as eng:
        with eng.connect() as c:
            overdue = c.execute(
                text("SELECT count(*) FROM event WHERE status IN ('reported', 'accepted', "
                     "'dispatched', 'in_progress', 'returned', 'escalated') AND due_at < now() "
                     "AND supervised_at IS NULL")
            ).scalar_one()  # fmt: skip
        assert overdue > 0
        monkeypatch.setenv("DATABASE_URL", url)
        result = CliRunner().invoke(app, ["supervise", "--once", "--escalate-after", "720"])
        assert result.exit_code == 0, result.output
        assert f"supervised {overdue}, escalated 0" in result.output
        with eng.connect() as c:
            left = c.execute(
                text("SELECT count(*) FROM event WHERE due_at < now() AND supervised_at IS NULL "
                     "AND status IN ('reported', 'accepted', 'dispatched', 'in_progress', "
                     "'returned', 'escalated')")
            ).scalar()  # fmt: skip
            system_rows = c.execute(
                text("SELECT count(*) FROM event_action WHERE actor_type = 'system' "
                     "AND note LIKE 'supervise: overdue%'")
            ).scalar_one()  # fmt: skip
        assert left == 0 and system_rows == overdue
        again = CliRunner().invoke(app, ["supervise", "--once"])
        assert again.exit_code == 0 and "supervised 0" in again.output


def test_supervise_reports_an_unreachable_database(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(app, ["supervise", "--once"])
    assert result.exit_code == 1
    assert "error:" in result.output and "Traceback" not in result.output
