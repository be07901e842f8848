"""The event history's hash chain (migration 0006, geodata.audit) on a database of its own:
intact chains verify, an edited / deleted / rewritten / unchained row is named, the canonical
text is the same in SQL and Python, concurrent writers chain in id order."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from geodata import migrate
from geodata.audit import GENESIS, canonical_text, row_hash, verify_chain
from geodata.db import make_engine
from tests.conftest import engine_on

SCALE = 0.005


@pytest.fixture(scope="module")
def audit_engine(seeded_database):
    """A migrated database with a small demo (its own: tests here tamper inside rollbacks and
    commit a few well-formed rows)."""
    with engine_on(seeded_database("gridcmd_audit", scale=SCALE)) as eng:
        yield eng


@pytest.fixture()
def tx(audit_engine):
    """A connection in a transaction rolled back after the test."""
    with audit_engine.connect() as c:
        t = c.begin()
        yield c
        t.rollback()


def _ids(conn, n: int = 3) -> list[int]:
    """The first, a middle and the last id of the history."""
    ids = conn.execute(text("SELECT id FROM event_action ORDER BY id")).scalars().all()
    assert len(ids) > 10
    return [ids[0], ids[len(ids) // 2], ids[-1]][:n]


def _tamper(conn, sql: str, params: dict | None = None) -> None:
    """Run ``sql`` with the user triggers (append-only, chain) off, as the superuser would."""
    conn.execute(text("ALTER TABLE event_action DISABLE TRIGGER USER"))
    conn.execute(text(sql), params or {})
    conn.execute(text("ALTER TABLE event_action ENABLE TRIGGER USER"))


def test_seeded_chain_is_intact(audit_engine):
    with audit_engine.connect() as c:
        n = c.execute(text("SELECT count(*) FROM event_action")).scalar_one()
        first = c.execute(text("SELECT prev_hash FROM event_action ORDER BY id LIMIT 1")).scalar()
        head = c.execute(
            text("SELECT id, row_hash FROM event_action ORDER BY id DESC LIMIT 1")
        ).one()
        report = verify_chain(c)
    assert n > 100 and first == GENESIS
    assert report.ok and report.rows == n and report.message == f"audit chain intact: {n} rows"
    assert (report.head_id, report.head_hash) == tuple(head)


def test_streams_in_pages(tx):
    full = verify_chain(tx)
    paged = verify_chain(tx, batch=7)
    assert paged == full and paged.ok


def test_edited_row_is_named(tx):
    _, mid, _ = _ids(tx)
    _tamper(tx, "UPDATE event_action SET note = note || ' (edited)' WHERE id = :i", {"i": mid})
    r = verify_chain(tx)
    assert not r.ok and r.bad_id == mid and r.problem == "altered"
    assert str(mid) in r.message


@pytest.mark.parametrize("which", [0, 1, 2])
def test_edited_first_middle_last_row(tx, which):
    bad = _ids(tx)[which]
    _tamper(tx, "UPDATE event_action SET at = at + interval '1 microsecond' WHERE id = :i",
            {"i": bad})  # fmt: skip
    r = verify_chain(tx)
    assert (r.ok, r.bad_id, r.problem) == (False, bad, "altered")


def test_deleted_row_is_reported(tx):
    _, mid, _ = _ids(tx)
    after = tx.execute(text("SELECT min(id) FROM event_action WHERE id > :i"), {"i": mid}).scalar()
    _tamper(tx, "DELETE FROM event_action WHERE id = :i", {"i": mid})
    r = verify_chain(tx)
    assert not r.ok and r.problem == "missing" and r.bad_id == after
    assert f"missing before row {after}" in r.message


def test_deleted_first_row_is_reported(tx):
    first, _, _ = _ids(tx)
    second = tx.execute(text("SELECT min(id) FROM event_action WHERE id > :i"), {"i": first})
    second = second.scalar()
    _tamper(tx, "DELETE FROM event_action WHERE id = :i", {"i": first})
    r = verify_chain(tx)
    assert (r.ok, r.bad_id, r.problem) == (False, second, "missing")


def test_rewritten_row_with_fresh_hash_breaks_the_next_link(tx):
    """An attacker who edits a row and recomputes its hash is caught at the next row."""
    _, mid, _ = _ids(tx)
    _tamper(tx, "UPDATE event_action SET note = 'nothing happened' WHERE id = :i", {"i": mid})
    row = tx.execute(text("SELECT * FROM event_action WHERE id = :i"), {"i": mid}).one()
    _tamper(tx, "UPDATE event_action SET row_hash = :h WHERE id = :i",
            {"h": row_hash(row), "i": mid})  # fmt: skip
    nxt = tx.execute(text("SELECT min(id) FROM event_action WHERE id > :i"), {"i": mid}).scalar()
    r = verify_chain(tx)
    assert (r.ok, r.bad_id, r.problem) == (False, nxt, "missing")
    assert f"row {mid} was rewritten" in r.message


def test_unchained_row_is_reported(tx):
    ev = tx.execute(text("SELECT id FROM event ORDER BY id LIMIT 1")).scalar_one()
    tx.execute(text("ALTER TABLE event_action DISABLE TRIGGER event_action_chain"))
    new = tx.execute(
        text("INSERT INTO event_action (id, event_id, actor_type, at, to_status, note, prev_hash,"
             " row_hash) VALUES (nextval('event_action_id_seq'), :e, 'system', now(), 'reported',"
             " 'sneaked in', :z, :z) RETURNING id"), {"e": ev, "z": GENESIS}
    ).scalar_one()  # fmt: skip
    r = verify_chain(tx)
    assert (r.ok, r.bad_id) == (False, new)


def test_history_stays_append_only(tx):
    from sqlalchemy.exc import DBAPIError

    _, mid, _ = _ids(tx)
    with pytest.raises(DBAPIError, match="append-only"), tx.begin_nested():
        tx.execute(text("UPDATE event_action SET note = 'x' WHERE id = :i"), {"i": mid})
    with pytest.raises(DBAPIError, match="append-only"), tx.begin_nested():
        tx.execute(text("DELETE FROM event_action WHERE id = :i"), {"i": mid})
    grants = tx.execute(
        text("SELECT privilege_type FROM information_schema.role_table_grants "
             "WHERE table_name = 'event_action' AND grantee = 'PUBLIC'")
    ).scalars().all()  # fmt: skip
    assert not {"UPDATE", "DELETE"} & set(grants)


NOTES = [
    "",
    "已到现场调解，双方同意协商 🙂👍🏽",
    "quotes ' \" `back` and \\ backslash",
    "line one\nline two\r\nthree\ttabbed",
    "|1:x|~|~ separators 12:abc",
    "ÅÄÖ façade — naïve",
    "\u200b zero width \ufeff bom",
]


def test_canonical_text_matches_sql(tx):
    ev = tx.execute(text("SELECT id FROM event ORDER BY id LIMIT 1")).scalar_one()
    at = [
        "2026-11-01T16:00:00.123456+08:00",
        "2026-01-01T00:00:00Z",
        "1999-12-31T23:59:59.999999-05:00",
    ]
    for i, note in enumerate(NOTES):
        tx.execute(
            text("INSERT INTO event_action (event_id, actor_type, actor_id, at, from_status,"
                 " to_status, note) VALUES (:e, :t, :a, CAST(:at AS timestamptz), :f, 'accepted',"
                 " :n)"),
            {"e": ev, "t": "system" if i % 2 else "worker", "a": None if i % 2 else 42,
             "at": at[i % len(at)], "f": None if i % 3 == 0 else "reported", "n": note},
        )  # fmt: skip
    rows = tx.execute(
        text("SELECT a.*, gridcmd_event_action_canonical(id, event_id, actor_type, actor_id, at,"
             " from_status, to_status, note, prev_hash) AS canon FROM event_action a"
             " ORDER BY id DESC LIMIT :n"), {"n": len(NOTES)}
    ).all()  # fmt: skip
    assert {r.note for r in rows} == set(NOTES)
    for r in rows:
        py = canonical_text(r.id, r.event_id, r.actor_type, r.actor_id, r.at, r.from_status,
                            r.to_status, r.note, r.prev_hash)  # fmt: skip
        assert py == r.canon
        assert row_hash(r) == r.row_hash
    assert verify_chain(tx).ok


def test_canonical_text_is_unambiguous():
    at = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    a = canonical_text(1, 2, "system", None, at, None, "x|1:y", "", GENESIS)
    b = canonical_text(1, 2, "system", None, at, None, "x", "y", GENESIS)
    c = canonical_text(1, 2, "system", None, at, "", "x", "", GENESIS)
    assert len({a, b, c}) == 3
    assert "|~|" in a and "|0:|" in c
    with pytest.raises(ValueError):
        canonical_text(1, 2, "system", None, at.replace(tzinfo=None), None, "x", "", GENESIS)


def test_low_explicit_id_is_redrawn_so_id_order_is_chain_order(tx):
    ev = tx.execute(text("SELECT id FROM event ORDER BY id LIMIT 1")).scalar_one()
    head = tx.execute(text("SELECT max(id) FROM event_action")).scalar_one()
    new = tx.execute(
        text("INSERT INTO event_action (id, event_id, actor_type, at, to_status, note) VALUES "
             "(1, :e, 'system', now(), 'reported', 'explicit id') RETURNING id"), {"e": ev}
    ).scalar_one()  # fmt: skip
    assert new > head
    assert verify_chain(tx).ok


def test_repeatable_read_insert_is_refused(audit_engine):
    with audit_engine.connect().execution_options(isolation_level="REPEATABLE READ") as c:
        ev = c.execute(text("SELECT id FROM event ORDER BY id LIMIT 1")).scalar_one()
        with pytest.raises(DBAPIError, match="READ COMMITTED"):
            c.execute(
                text("INSERT INTO event_action (event_id, actor_type, at, to_status, note) "
                     "VALUES (:e, 'system', now(), 'reported', 'rr')"), {"e": ev}
            )  # fmt: skip
        c.rollback()


def test_concurrent_writers_chain_in_id_order(audit_engine):
    """Two writers interleave commits (each transaction a few rows, the second one waiting on
    the first's lock): the chain stays linear in id order."""
    with audit_engine.connect() as c:
        ev = c.execute(text("SELECT id FROM event ORDER BY id LIMIT 1")).scalar_one()
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def writer(k: int) -> None:
        try:
            barrier.wait()
            for i in range(15):
                with audit_engine.begin() as c:
                    for j in range(3):
                        c.execute(
                            text("INSERT INTO event_action (event_id, actor_type, actor_id, at,"
                                 " to_status, note) VALUES (:e, 'worker', :a, clock_timestamp(),"
                                 " 'in_progress', :n)"),
                            {"e": ev, "a": k, "n": f"[test] writer {k} tx {i} row {j}"},
                        )  # fmt: skip
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with audit_engine.connect() as c:
        r = verify_chain(c)
        n = c.execute(text("SELECT count(*) FROM event_action WHERE note LIKE '[test] writer%'"))
        assert n.scalar_one() == 90
    assert r.ok, r.message


@pytest.mark.slow  # migrations down and up again
def test_migration_backfills_existing_history(seeded_database):
    """A database with history at 0005 (no chain) is chained by the upgrade; down and up
    again. (Seeded at head — a copy of the seeded template — and taken down to 0005: the seed
    writes today's schema.)"""
    eng = make_engine(seeded_database("gridcmd_audit_mig", scale=SCALE))
    try:
        migrate.downgrade(eng, "0005")
        with eng.connect() as c:
            assert c.execute(text("SELECT count(*) FROM event_action")).scalar_one() > 100
        migrate.upgrade(eng)
        with eng.connect() as c:
            n = c.execute(text("SELECT count(*) FROM event_action")).scalar_one()
            r = verify_chain(c)
        assert r.ok and r.rows == n > 100
        migrate.downgrade(eng, "0005")
        with eng.connect() as c:
            cols = c.execute(text("SELECT column_name FROM information_schema.columns "
                                  "WHERE table_name = 'event_action'")).scalars().all()  # fmt: skip
        assert "row_hash" not in cols
        migrate.upgrade(eng)
        with eng.connect() as c:
            assert verify_chain(c).ok
    finally:
        eng.dispose()


def test_history_and_event_writes_in_either_order_do_not_deadlock(audit_engine):
    """One transaction writes history then an event (as the ingest CTE does), another an event
    then history (a workflow transition): the chain trigger takes the live log's lock first, so
    they queue instead of deadlocking."""
    import time

    with audit_engine.connect() as c:
        ev, ev2 = c.execute(text("SELECT id FROM event ORDER BY id LIMIT 2")).scalars().all()
    hist = text(
        "INSERT INTO event_action (event_id, actor_type, at, to_status, note) "
        "VALUES (:e, 'system', clock_timestamp(), 'accepted', '[test] order')"
    )
    touch = text("UPDATE event SET version = version WHERE id = :e")
    first_done = threading.Event()
    errors: list[BaseException] = []

    def history_first() -> None:
        try:
            with audit_engine.begin() as c:
                c.execute(hist, {"e": ev})
                first_done.set()
                time.sleep(0.5)
                c.execute(touch, {"e": ev})
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            first_done.set()

    def event_first() -> None:
        try:
            first_done.wait(10)
            with audit_engine.begin() as c:  # another event: no row lock in common
                c.execute(touch, {"e": ev2})
                c.execute(hist, {"e": ev2})
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=history_first), threading.Thread(target=event_first)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    with audit_engine.connect() as c:
        assert verify_chain(c).ok
