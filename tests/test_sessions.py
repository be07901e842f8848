"""geodata.sessions: tokens stored hashed, idle and absolute expiry (with explicit ``now``, no
sleeping), last-seen written at most once a minute, revocation, the second-factor flag."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from geodata.accounts import create_account, revoke_all
from geodata.sessions import (
    create_session,
    mark_second_factor,
    revoke_session,
    session_caller,
    token_hash,
)
from tests.conftest import TEST_PASSWORD

T0 = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)
IDLE = dt.timedelta(minutes=30)
ABSOLUTE = dt.timedelta(hours=12)


@pytest.fixture()
def account(conn) -> int:
    return create_account(conn, "sess_user", "Sess", "dispatcher", "532901", TEST_PASSWORD)


def _caller(conn, token, now):
    return session_caller(conn, token, now=now, idle=IDLE, absolute=ABSOLUTE)


def test_token_is_random_and_stored_hashed(conn, account):
    a = create_session(conn, account, ip="10.0.0.1", ua="ua", now=T0)
    b = create_session(conn, account, ip="10.0.0.1", ua="ua", now=T0)
    assert a != b and len(a) >= 43
    stored = (
        conn.execute(
            text("SELECT token_hash FROM auth_session WHERE account_id = :a ORDER BY id"),
            {"a": account},
        )
        .scalars()
        .all()
    )
    assert stored == [token_hash(a), token_hash(b)] and a not in stored


def test_caller_carries_the_accounts_scope(conn, account):
    token = create_session(conn, account, ip=None, ua=None, now=T0)
    caller = _caller(conn, token, T0 + dt.timedelta(minutes=1))
    assert caller.username == "sess_user" and caller.role == "dispatcher"
    assert caller.scope_path == "532900.532901" and caller.scope_code == "532901"
    assert caller.session_id is not None and not caller.needs_second_factor


@pytest.mark.parametrize("bad", [None, "", "x" * 500, "not-a-token"])
def test_unknown_tokens(conn, bad):
    assert _caller(conn, bad, T0) is None


def test_idle_timeout(conn, account):
    token = create_session(conn, account, ip=None, ua=None, now=T0)
    assert _caller(conn, token, T0 + dt.timedelta(minutes=29)) is not None  # touches last_seen
    assert _caller(conn, token, T0 + dt.timedelta(minutes=58)) is not None  # 29 min idle
    assert _caller(conn, token, T0 + dt.timedelta(minutes=88, seconds=1)) is None  # 30 min idle
    # Once expired it stays dead (revoked), even if asked with an earlier clock.
    assert _caller(conn, token, T0 + dt.timedelta(minutes=59)) is None
    kinds = (
        conn.execute(text("SELECT kind FROM security_log WHERE account_id = :a"), {"a": account})
        .scalars()
        .all()
    )
    assert "session_expired" in kinds


def test_absolute_lifetime_despite_activity(conn, account):
    token = create_session(conn, account, ip=None, ua=None, now=T0)
    t = T0
    while t < T0 + ABSOLUTE - dt.timedelta(minutes=20):
        t += dt.timedelta(minutes=20)
        assert _caller(conn, token, t) is not None
    assert _caller(conn, token, T0 + ABSOLUTE) is None


def test_idle_and_absolute_by_updating_the_row(conn, account):
    token = create_session(conn, account, ip=None, ua=None, now=dt.datetime.now(dt.UTC))
    now = dt.datetime.now(dt.UTC)
    assert _caller(conn, token, now) is not None
    conn.execute(
        text("UPDATE auth_session SET last_seen_at = now() - interval '31 minutes' "
             "WHERE token_hash = :h"), {"h": token_hash(token)},
    )  # fmt: skip
    assert _caller(conn, token, now) is None
    other = create_session(conn, account, ip=None, ua=None, now=now)
    conn.execute(
        text("UPDATE auth_session SET created_at = now() - interval '13 hours' "
             "WHERE token_hash = :h"), {"h": token_hash(other)},
    )  # fmt: skip
    assert _caller(conn, other, now) is None


def test_last_seen_is_written_at_most_once_a_minute(conn, account):
    token = create_session(conn, account, ip=None, ua=None, now=T0)

    def seen():
        return conn.execute(
            text("SELECT last_seen_at FROM auth_session WHERE token_hash = :h"),
            {"h": token_hash(token)},
        ).scalar()

    _caller(conn, token, T0 + dt.timedelta(seconds=30))
    assert seen() == T0
    _caller(conn, token, T0 + dt.timedelta(seconds=61))
    assert seen() == T0 + dt.timedelta(seconds=61)


def test_revoke_one_and_all(conn, account):
    a = create_session(conn, account, ip=None, ua=None, now=T0)
    b = create_session(conn, account, ip=None, ua=None, now=T0)
    c = create_session(conn, account, ip=None, ua=None, now=T0)
    assert revoke_session(conn, a, now=T0) == account
    assert revoke_session(conn, a, now=T0) is None  # already revoked
    assert _caller(conn, a, T0) is None and _caller(conn, b, T0) is not None
    keep = _caller(conn, c, T0).session_id
    assert revoke_all(conn, account, now=T0, except_session=keep) == 1
    assert _caller(conn, b, T0) is None and _caller(conn, c, T0) is not None


def test_inactive_account_has_no_session(conn, account):
    token = create_session(conn, account, ip=None, ua=None, now=T0)
    conn.execute(text("UPDATE account SET active = false WHERE id = :a"), {"a": account})
    assert _caller(conn, token, T0) is None


def test_second_factor_flag(conn, account):
    token = create_session(conn, account, ip=None, ua=None, now=T0)
    conn.execute(
        text("INSERT INTO role_policy (role, totp_required) VALUES ('dispatcher', true) "
             "ON CONFLICT (role) DO UPDATE SET totp_required = true")
    )  # fmt: skip
    caller = _caller(conn, token, T0)
    assert caller.needs_second_factor
    mark_second_factor(conn, caller.session_id)
    assert not _caller(conn, token, T0).needs_second_factor
