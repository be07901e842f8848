"""The security-log viewer: only callers with the audit permission read it, only the entries
of their jurisdiction; others get a refusal that is itself logged."""

from __future__ import annotations

from typing import Any

import pytest
from dash import html
from sqlalchemy import text

from callbacks import audit
from dashboard import ids
from geodata.accounts import Caller
from geodata.security_log import log_security, security_log_in_scope
from gridcmd import web
from tests.callbacks.fakes import FakeApp, set_triggered

COUNTY_A, COUNTY_B = "532900.532901", "532900.532922"



@pytest.fixture()
def cbs(engine, settings):
    app = FakeApp()
    audit.register(app, engine, settings)
    return app


def _as(monkeypatch, role: str, scope: str) -> None:
    caller = Caller(1, f"audit_{role}", "x", role, scope)
    monkeypatch.setattr(web, "current_caller", lambda: caller)


def _strings(c: Any) -> str:
    return repr(c)


@pytest.fixture()
def entries(conn):
    """Two accounts' entries (counties A and B) and an anonymous one, in a rolled-back tx."""
    ids_ = {}
    for code in ("532901", "532922"):
        cell = conn.execute(text("SELECT id FROM grid_cell WHERE code = :c"), {"c": code}).scalar()
        ids_[code] = conn.execute(
            text(
                "INSERT INTO account (username, display_name, role, jurisdiction_cell_id, active,"
                " created_at) VALUES (:u, :d, 'commander', :c, true, now()) RETURNING id"
            ),
            {"u": f"audit_probe_{code}", "d": f"audit_probe_{code}", "c": cell},
        ).scalar_one()
        log_security(conn, "login", account_id=ids_[code], username=f"audit_probe_{code}")
    log_security(conn, "login_failed", username="nobody-audit-probe")
    return ids_


def test_scope_filter(conn, entries):
    a = {r["username"] for r in security_log_in_scope(conn, COUNTY_A, limit=1000)}
    assert "audit_probe_532901" in a and "audit_probe_532922" not in a
    assert "nobody-audit-probe" not in a  # anonymous: prefecture-level auditors only
    top = {r["username"] for r in security_log_in_scope(conn, "532900", limit=1000)}
    assert {"audit_probe_532901", "audit_probe_532922", "nobody-audit-probe"} <= top
    only = security_log_in_scope(conn, "532900", kind="login_failed", limit=1000)
    assert {r["kind"] for r in only} == {"login_failed"}
    with pytest.raises(ValueError):
        security_log_in_scope(conn, "532900", kind="nope")


@pytest.mark.parametrize("role", ["commander", "dispatcher", "supervisor"])
def test_roles_without_audit_are_refused(cbs, monkeypatch, role):
    _as(monkeypatch, role, "532900")
    out = cbs.functions["audit_entries"](False, None, "?lang=en")
    assert isinstance(out, html.P) and "Only auditors" in out.children


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_auditors_read_a_table(cbs, monkeypatch, role):
    _as(monkeypatch, role, "532900")
    out = cbs.functions["audit_entries"](False, None, None)
    assert isinstance(out, (html.Table, html.P))
    assert cbs.functions["audit_entries"](True, None, None) is audit.no_update


def test_toggle(cbs):
    set_triggered(f"{ids.AUDIT_OPEN}.n_clicks")
    assert cbs.functions["toggle_audit"](1, 0) is False
    set_triggered(f"{ids.AUDIT_CLOSE}.n_clicks")
    assert cbs.functions["toggle_audit"](1, 1) is True
