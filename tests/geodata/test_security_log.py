"""The security log's ``denied`` throttle (geodata/security_log.py): one row a minute per
(address, target, account, reason), so that one caller's refusals never hide another's."""

from __future__ import annotations

from sqlalchemy import text

from geodata.security_log import log_denied_throttled

IP = "10.88.0.1"
TARGET = "POST /_dash-update-component"


def _denied(conn) -> list[tuple]:
    return conn.execute(
        text(
            "SELECT account_id, username, detail FROM security_log"
            " WHERE kind = 'denied' AND ip = :ip ORDER BY id"
        ),
        {"ip": IP},
    ).all()


def test_the_same_denial_is_logged_once_a_minute(conn):
    kw = dict(account_id=None, username=None, ip=IP, target=TARGET, detail="401 unauthenticated")
    assert log_denied_throttled(conn, **kw) is True
    assert log_denied_throttled(conn, **kw) is False
    assert len(_denied(conn)) == 1


def test_an_anonymous_401_does_not_hide_a_signed_in_csrf_refusal(conn, accounts):
    # The attack: a scanner (or anyone behind the same proxy) sends one anonymous request a
    # minute to the callback path; a signed-in user's CSRF refusal from the same address used
    # to be swallowed by the throttle and never reached the log.
    assert log_denied_throttled(conn, account_id=None, username=None, ip=IP, target=TARGET,
                                detail="401 unauthenticated")  # fmt: skip
    assert log_denied_throttled(conn, account_id=accounts["t_commander"], username="t_commander",
                                ip=IP, target=TARGET, detail="403 csrf")  # fmt: skip
    # Another account, same address, path and reason: its own row.
    assert log_denied_throttled(conn, account_id=accounts["t_county"], username="t_county",
                                ip=IP, target=TARGET, detail="403 csrf")  # fmt: skip
    # The same account, another reason: its own row too.
    assert log_denied_throttled(conn, account_id=accounts["t_county"], username="t_county",
                                ip=IP, target=TARGET, detail="403 api_only")  # fmt: skip
    # ... and the exact repeat is throttled.
    assert not log_denied_throttled(conn, account_id=accounts["t_county"], username="t_county",
                                    ip=IP, target=TARGET, detail="403 csrf")  # fmt: skip
    assert [r.detail for r in _denied(conn)] == [
        "401 unauthenticated", "403 csrf", "403 csrf", "403 api_only",
    ]  # fmt: skip


def test_api_workers_are_keyed_by_employee_number(conn):
    # The mobile API logs without an account id but with the worker's employee number.
    assert log_denied_throttled(conn, account_id=None, username="W-1", ip=IP,
                                target="api event 5", detail="not found")  # fmt: skip
    assert log_denied_throttled(conn, account_id=None, username="W-2", ip=IP,
                                target="api event 5", detail="not found")  # fmt: skip
    assert len(_denied(conn)) == 2
