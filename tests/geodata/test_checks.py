"""The integrity rules pass on the demo and catch each kind of breakage."""

from __future__ import annotations

from sqlalchemy import text

from geodata.checks import run_checks


def failing(conn) -> set[str]:
    return {r.rule for r in run_checks(conn) if not r.ok}


def test_demo_passes_every_rule(conn):
    results = run_checks(conn)
    assert len(results) >= 20
    assert failing(conn) == set()


def test_detects_event_in_wrong_cell(conn):
    conn.execute(
        text(
            "UPDATE event SET location = ST_SetSRID(ST_MakePoint(99.0, 26.6), 4326) "
            "WHERE id = (SELECT min(id) FROM event)"
        )
    )
    assert failing(conn) == {"every event is attributed to the L6 cell containing it"}


def test_detects_overlap_and_outside(conn):
    # Grow one L5 grid: it now overlaps its siblings and leaves its parent.
    conn.execute(
        text(
            "UPDATE grid_cell SET geom = ST_Multi(ST_Buffer(geom, 0.01)) "
            "WHERE id = (SELECT min(id) FROM grid_cell WHERE level = 5)"
        )
    )
    bad = failing(conn)
    assert "L5 siblings do not overlap (< 0.01%)" in bad
    assert "L5 children lie within their parent (outside < 0.01%)" in bad


def test_detects_gap_and_broken_codes(conn):
    conn.execute(
        text(
            "UPDATE grid_cell SET geom = ST_Multi(ST_Buffer(geom, -0.01)), code = 'X' || code "
            "WHERE id = (SELECT max(id) FROM grid_cell WHERE level = 4)"
        )
    )
    bad = failing(conn)
    assert "L4 children cover their parent (area sum within 0.1%)" in bad
    assert any(r.startswith("codes hierarchical") for r in bad)


def test_detects_worker_on_a_village(conn):
    conn.execute(
        text(
            "UPDATE grid_worker SET cell_id = (SELECT min(id) FROM grid_cell WHERE level = 4) "
            "WHERE id = 1"
        )
    )
    assert failing(conn) == {"every worker's cell exists and is an L5 grid or L6 micro-grid"}
