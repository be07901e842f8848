"""Seed the demo dataset into PostGIS (COPY, one transaction: all or nothing)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geodata.demo.departments import seed_demo_departments
from geodata.demo.events import build_events
from geodata.demo.grid import GridData, area_km2, build_grid
from geodata.demo.people import build_workers

#: Number of progress notes ``seed_demo`` emits (for a progress bar).
SEED_STEPS = 11

TABLES = (
    "event_action", "event", "worker_position", "grid_worker", "account", "department",
    "grid_cell",
)  # fmt: skip


class SeedRefused(Exception):
    """The target database already holds data and ``replace`` was not given."""


@dataclass
class SeedReport:
    counts: dict[str, int]
    seconds: float


def table_counts(conn) -> dict[str, int]:
    """Row counts of the application tables."""
    return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def is_empty(engine: Engine) -> bool:
    """True when no grid cell exists yet."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT NOT EXISTS (SELECT 1 FROM grid_cell)")).scalar_one()


def seed_demo(
    engine: Engine,
    *,
    seed: int = 532900,
    scale: float = 1.0,
    replace: bool = False,
    now: dt.datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> SeedReport:
    """Generate the deterministic Dali demo and load it.

    Refuses (:class:`SeedRefused`) when the database already has cells, unless ``replace``:
    then existing rows are removed in the same transaction, so a failure keeps the old data.
    """
    import time

    t0 = time.perf_counter()
    note = progress or (lambda _m: None)
    now = now or dt.datetime.now(dt.UTC).replace(microsecond=0)
    if not replace and not is_empty(engine):
        raise SeedRefused("the database already holds grid data; use --replace to overwrite it")

    grid = build_grid(seed=seed, scale=scale, progress=note)
    workers, history = build_workers(grid, seed=seed, scale=scale, now=now)
    note(f"{len(workers):,} workers, {len(history):,} position fixes")
    events, actions = build_events(grid, workers, seed=seed, scale=scale, now=now)
    note(f"{len(events):,} events, {len(actions):,} history rows")

    with engine.begin() as conn:
        if replace:
            conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        elif not conn.execute(text("SELECT NOT EXISTS (SELECT 1 FROM grid_cell)")).scalar_one():
            raise SeedRefused("the database already holds grid data; use --replace")
        raw = conn.connection.driver_connection
        _copy_cells(raw, grid)
        note("cells loaded")
        _copy_workers(raw, workers, history)
        note("workers loaded")
        _copy_events(raw, events, actions)
        seed_demo_departments(conn)  # synthetic units per county/township (模拟)
        for table in ("grid_cell", "grid_worker", "worker_position", "event", "event_action"):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
            )
        counts = table_counts(conn)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("ANALYZE grid_cell, grid_worker, worker_position, event, event_action")
        )
    note("events loaded")
    return SeedReport(counts=counts, seconds=time.perf_counter() - t0)


def _copy(raw, sql: str, df: pd.DataFrame) -> None:
    buf = io.StringIO()
    df.to_csv(buf, index=False, header=False, na_rep="\\N")
    with raw.cursor() as cur, cur.copy(sql + " (FORMAT csv, NULL '\\N')") as copy:
        copy.write(buf.getvalue())


def _ewkb(geoms: np.ndarray) -> np.ndarray:
    return shapely.to_wkb(shapely.set_srid(geoms, 4326), hex=True, include_srid=True)


def _points(x: pd.Series, y: pd.Series) -> pd.Series:
    pts = np.where(
        x.notna(),
        "SRID=4326;POINT(" + x.map("{:.7f}".format) + " " + y.map("{:.7f}".format) + ")",
        None,
    )
    return pd.Series(pts)


def _copy_cells(raw, grid: GridData) -> None:
    c = grid.cells
    geoms = shapely.set_precision(grid.geoms, 0)  # no-op snap; keeps exact vertices
    label = shapely.point_on_surface(geoms)
    df = pd.DataFrame(
        {
            "id": c.id,
            "code": c.code,
            "level": c.level,
            "name": c.name,
            "parent_id": c.parent_id.astype("Int64"),
            "path": c.path,
            "geom": _ewkb(geoms),
            "label_point": _ewkb(label),
            "area_km2": np.round(area_km2(geoms), 6),
            "population": c.population,
            "households": c.households,
            "synthetic": np.where(grid.synthetic, "t", "f"),
        }
    )
    _copy(
        raw,
        "COPY grid_cell (id, code, level, name, parent_id, path, geom, label_point, area_km2,"
        " population, households, synthetic) FROM STDIN",
        df,
    )


def _copy_workers(raw, workers: pd.DataFrame, history: pd.DataFrame) -> None:
    df = pd.DataFrame(
        {
            "id": workers.id,
            "employee_no": workers.employee_no,
            "name": workers.name,
            "phone": workers.phone,
            "cell_id": workers.cell_id,
            "duty_status": workers.duty_status,
            "position": _points(workers.x, workers.y),
            "last_fix_at": workers.last_fix_at,
            "active": "t",
            "synthetic": "t",
        }
    )
    _copy(
        raw,
        "COPY grid_worker (id, employee_no, name, phone, cell_id, duty_status, position,"
        " last_fix_at, active, synthetic) FROM STDIN",
        df,
    )
    h = pd.DataFrame(
        {
            "worker_id": history.worker_id,
            "fix_time": history.fix_time,
            "geom": _points(history.x, history.y),
            "accuracy_m": history.accuracy_m,
            "source": history.source,
        }
    )
    _copy(
        raw,
        "COPY worker_position (worker_id, fix_time, geom, accuracy_m, source) FROM STDIN",
        h,
    )


def _copy_events(raw, events: pd.DataFrame, actions: pd.DataFrame) -> None:
    cols = [
        "id",
        "uuid",
        "category",
        "subcategory",
        "severity",
        "difficulty",
        "title",
        "description",
        "location",
        "cell_id",
        "status",
        "reporter_id",
        "assignee_id",
        "reported_at",
        "accepted_at",
        "dispatched_at",
        "started_at",
        "resolved_at",
        "verified_at",
        "closed_at",
        "rejected_at",
        "due_at",
        "version",
        "synthetic",
    ]
    df = events.assign(location=_points(events.x, events.y), version=1, synthetic="t")[cols]
    _copy(raw, f"COPY event ({', '.join(cols)}) FROM STDIN", df)
    _copy(
        raw,
        "COPY event_action (event_id, actor_type, actor_id, at, from_status, to_status, note)"
        " FROM STDIN",
        actions,
    )
