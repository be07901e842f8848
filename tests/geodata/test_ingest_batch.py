"""Group commit of event reports (geodata.ingest_batch, geodata.ingest.ingest_events): several
reports in one statement with per-report outcomes, and the combining writer under real
concurrency. On a database of its own: the writer commits."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import text

from geodata.audit import verify_chain
from geodata.ingest import EventResult, IngestError, ingest_events
from geodata.ingest_batch import EventWriter
from tests.conftest import engine_on


@pytest.fixture(scope="module")
def batch_engine(seeded_database):
    """This module's own small seeded database (the writers commit), with a pool for 12."""
    with engine_on(seeded_database("gridcmd_batch", scale=0.005), pool_size=12) as eng:
        yield eng


@pytest.fixture(scope="module")
def spot(batch_engine):
    with batch_engine.connect() as c:
        return c.execute(
            text("SELECT w.id, ST_X(ST_PointOnSurface(g.geom)) x, ST_Y(ST_PointOnSurface(g.geom)) y"
                 " FROM grid_worker w JOIN grid_cell g ON g.id = w.cell_id"
                 " WHERE w.active AND g.level = 6 ORDER BY w.id LIMIT 1")
        ).one()  # fmt: skip


def _body(spot, **kw):
    return {"uuid": str(uuid.uuid4()), "category": "dispute", "title": "batch", "description": "",
            "lon": spot.x, "lat": spot.y, "crs": "wgs84", **kw}  # fmt: skip


def test_one_statement_per_report_outcomes(batch_engine, spot):
    good = _body(spot)
    outside = _body(spot, lon=100.0, lat=40.0)
    bad_difficulty = _body(spot, category="environment", difficulty="simple")
    replay = dict(good)
    conflict = {**good, "title": "another body, same uuid"}
    with batch_engine.connect() as conn, conn.begin():
        out = ingest_events(conn, [(good, spot.id), (outside, spot.id), (bad_difficulty, None),
                                   (replay, spot.id), (conflict, spot.id)])  # fmt: skip
        n = conn.execute(text("SELECT count(*) FROM event WHERE uuid = :u"),
                         {"u": good["uuid"]}).scalar_one()  # fmt: skip
        conn.rollback()
    assert isinstance(out[0], EventResult) and out[0].created
    assert isinstance(out[1], IngestError) and out[1].error == "outside_area"
    assert isinstance(out[2], IngestError) and out[2].field == "difficulty"
    # the same uuid twice in one batch: the repeat is answered as if it came later
    assert isinstance(out[3], EventResult) and not out[3].created
    assert out[3].event == out[0].event
    assert isinstance(out[4], IngestError) and out[4].status == 409
    assert n == 1


def test_concurrent_submissions_share_commits_and_keep_the_chain(batch_engine, spot):
    writer = EventWriter(batch_engine)
    bodies = [_body(spot) for _ in range(120)]
    results: list = [None] * len(bodies)
    start = threading.Barrier(12)

    def go(k: int) -> None:
        start.wait()
        for i in range(k, len(bodies), 12):
            try:
                results[i] = writer.submit(bodies[i], worker_id=spot.id)
            except Exception as exc:  # noqa: BLE001 - collected for the assertion
                results[i] = exc

    threads = [threading.Thread(target=go, args=(k,)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(isinstance(r, EventResult) and r.created for r in results), results
    assert writer.reports == 120 and writer.batches < 120  # some commits were shared
    with batch_engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM event e JOIN event_action a ON a.event_id = e.id "
                 "WHERE e.uuid = ANY(:u) AND a.to_status = 'reported'"),
            {"u": [uuid.UUID(b["uuid"]) for b in bodies]},
        ).scalar_one()  # fmt: skip
        assert stored == 120
        assert verify_chain(conn).ok


def test_a_failed_statement_fails_every_report_of_its_batch(batch_engine, spot, monkeypatch):
    """No 2xx for an uncommitted event: a database error reaches every request of the batch."""
    from sqlalchemy.exc import DBAPIError

    import geodata.ingest_batch as ib

    def boom(conn, reports, **kw):
        raise DBAPIError("INSERT ...", {}, Exception("connection lost"))

    monkeypatch.setattr(ib, "ingest_events", boom)
    writer = EventWriter(batch_engine)
    with pytest.raises(DBAPIError):
        writer.submit(_body(spot), worker_id=spot.id)
    # and the writer is usable again afterwards
    monkeypatch.undo()
    assert writer.submit(_body(spot), worker_id=spot.id).created
