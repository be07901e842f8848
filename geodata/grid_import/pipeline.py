"""One grid import from file to database: read → fields → values → CRS → geometry repair →
parents and codes → topology report → write, all rows or none (docs/import.md).

Every check runs before anything is kept: a file with any row error writes nothing. The write
itself runs in one transaction that also re-checks against the database (the scope, what
refers to a disappearing cell); ``dry_run`` performs it and rolls it back, so a dry run
reports exactly what the import would do, and changes nothing. After a commit the LOD tables
are rebuilt (:func:`geodata.lod.build_lod`, its own transaction: if that fails the cells
stay imported and ``lod_error`` says to run ``gridcmd lod build``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import shapely
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from geodata.grid_import.fields import resolve_fields
from geodata.grid_import.load import (
    analyze_cells,
    check_scope,
    fetch_parents,
    lock_grid,
    write_cells,
)
from geodata.grid_import.problems import GridImportError, Problem
from geodata.grid_import.read import read_table
from geodata.grid_import.replace import stale_children
from geodata.grid_import.reproject import EXPECTED_BOUNDS, outside_rows, to_wgs84
from geodata.grid_import.topology import TopologyReport, findings_of, topology_report
from geodata.grid_import.validate import assign_parents, check_values, repair_geometries
from gridcmd.vocab import LEVELS

__all__ = ["ImportOptions", "ImportResult", "import_grids"]


@dataclass(frozen=True)
class ImportOptions:
    """What to import and how (the ``gridcmd import grids`` options, docs/import.md)."""

    level: int
    layer: str | None = None
    code_field: str | None = None
    name_field: str | None = None
    parent_field: str | None = None
    population_field: str | None = None
    wkt_field: str | None = None
    encoding: str | None = None
    crs: str | None = None
    from_gcj02: bool = False
    swap_xy: bool = False
    replace: bool = False
    dry_run: bool = False
    strict: bool = False


@dataclass
class ImportResult:
    """What an import found and did. ``errors`` non-empty ⇒ nothing was written."""

    rows: int = 0
    valid: int = 0
    notes: list[str] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    topology: TopologyReport | None = None
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    events_reattributed: int = 0
    written: bool = False
    lod_rows: int | None = None
    lod_error: str | None = None


def import_grids(
    engine: Engine,
    path: str | Path,
    options: ImportOptions,
    *,
    progress: Callable[[str], None] | None = None,
) -> ImportResult:
    """Import the level-``options.level`` cells of the file at ``path`` (see the module doc).
    Problems come back in the result (never raised), sorted: the file's, then by row."""
    note = progress or (lambda _m: None)
    res = ImportResult()
    try:
        _run(engine, Path(path), options, res, note)
    except GridImportError as exc:
        res.errors += exc.problems
    except DBAPIError as exc:  # rolled back: one line, not a traceback
        res.errors.append(Problem(f"database error, nothing was written: {_first_line(exc)}"))
    except shapely.errors.GEOSException as exc:
        res.errors.append(Problem(f"geometry operation failed: {_first_line(exc)}"))
    res.errors.sort(key=lambda p: (p.row is not None, p.row or 0))
    if res.errors:
        res.written = False
    return res


def _run(engine: Engine, path: Path, o: ImportOptions, res: ImportResult, note) -> None:
    if o.level not in LEVELS:
        raise GridImportError(f"--level {o.level}: levels are 1 (prefecture) to 6 (micro-grid)")
    raw = read_table(path, layer=o.layer, encoding=o.encoding, wkt_field=o.wkt_field)
    res.rows = len(raw.attrs)
    enc = f", {raw.encoding}" if raw.encoding else ""
    res.notes.append(f"read {res.rows:,} record(s) from {path.name} ({raw.source}{enc})")
    if not res.rows:
        raise GridImportError(f"{path.name} holds no records")
    fields, field_notes = resolve_fields(
        [str(c) for c in raw.attrs.columns],
        code=o.code_field,
        name=o.name_field,
        parent=o.parent_field,
        population=o.population_field,
    )
    res.notes += field_notes
    if o.level == 1 and fields.parent is not None:
        res.notes.append(f"parent field {fields.parent} ignored: level 1 has no parent")
        fields = replace(fields, parent=None)
    gfield = raw.geometry_field or "geometry"
    cands, problems = check_values(raw.attrs, raw.geoms, fields, geometry_field=gfield)
    res.errors += raw.problems + problems
    if cands:
        projected = to_wgs84(
            np.array([c.geom for c in cands], dtype=object),
            raw.crs,
            crs=o.crs,
            swap_xy=o.swap_xy,
            from_gcj02=o.from_gcj02,
        )
        res.notes += projected.notes
        for c, g in zip(cands, projected.geoms, strict=True):
            c.geom = g
        b = EXPECTED_BOUNDS
        where = f"lon {b[0]:g}…{b[2]:g}, lat {b[1]:g}…{b[3]:g}"
        out_rows = {cands[i].row for i in outside_rows(projected.geoms, b)}
        res.errors += [
            Problem(f"lies outside the expected area ({where})", r, gfield)
            for r in sorted(out_rows)
        ]
        cands = [c for c in cands if c.row not in out_rows]
    cands, problems, repair_notes = repair_geometries(cands, gfield)
    res.errors += problems
    res.notes += repair_notes
    note(f"{len(cands):,} row(s) pass the value and geometry checks")
    with engine.connect() as conn:
        tx = conn.begin()
        try:
            _database_steps(conn, o, fields.code, fields.parent, fields.population, cands, res)
            if res.errors or o.dry_run:
                tx.rollback()
            else:
                tx.commit()
                res.written = True
        except BaseException:
            tx.rollback()
            raise
    if res.written:
        _rebuild_derived(engine, res, note)


def _database_steps(
    conn,
    o: ImportOptions,
    code_field: str,
    parent_field: str | None,
    population_field: str | None,
    cands,
    res: ImportResult,
) -> None:
    lock_grid(conn)
    parents = fetch_parents(conn, o.level)
    cands, problems, notes = assign_parents(
        cands, parents, o.level, parent_field=parent_field, code_field=code_field
    )
    res.errors += problems
    res.notes += notes
    res.valid = len(cands)
    if not cands:
        return
    res.errors += check_scope(conn, o.level, cands, replace=o.replace, code_field=code_field)
    parent_geoms = {}
    if parents is not None:
        idx = parents.index()
        parent_geoms = {c.parent_code: parents.geoms[idx[c.parent_code]] for c in cands}
    res.topology = topology_report(
        [c.code for c in cands],
        [c.parent_code for c in cands],
        [c.geom for c in cands],
        parent_geoms,
    )
    for p in res.topology.failing:
        msg = (
            f"{p.parent}: children outside {100 * p.outside:.3f}%, overlapping "
            f"{100 * p.overlap:.3f}%, area sum off by {100 * p.cover:.3f}% — "
            "`gridcmd check` will fail on it"
        )
        if o.strict:
            res.errors.append(Problem(msg + " (--strict)"))
        else:
            res.notes.append("warning: " + msg)
    if res.errors:
        return
    written = write_cells(conn, o.level, cands, has_population=population_field is not None)
    res.errors += written.problems or []
    res.inserted, res.updated = written.inserted, written.updated
    res.deleted, res.events_reattributed = written.deleted, written.events_reattributed
    if not res.errors and written.updated:
        _stale_children(conn, o.level, res)


def _stale_children(conn, level: int, res: ImportResult) -> None:
    """Redrawn cells whose existing children no longer tile them: findings in the report
    and a warning (their level needs a re-import too)."""
    stale = stale_children(conn, level)
    if not stale:
        return
    topo = res.topology
    parents: set[str] = set()
    for kind, child, parent, wkb in stale:
        found, noise = findings_of(kind, (child,) if child else (), parent, shapely.from_wkb(wkb))
        topo.findings += found
        topo.ignored += noise
        parents |= {parent} if found else set()
    parents = sorted(parents)
    if parents:
        res.notes.append(
            f"warning: the level-{level + 1} cells of {len(parents)} redrawn cell(s) no longer "
            f"tile them ({', '.join(parents[:10])}{', ...' if len(parents) > 10 else ''}): "
            f"import level {level + 1} again with --replace, or `gridcmd check` will fail"
        )


def _rebuild_derived(engine: Engine, res: ImportResult, note) -> None:
    from geodata.lod import build_lod

    try:
        rows = build_lod(engine, progress=note)
        res.lod_rows = sum(rows.values())
    except Exception as exc:  # noqa: BLE001 - the cells are in; say how to finish
        first = _first_line(exc)
        res.lod_error = (
            f"the cells are imported, but the LOD build failed ({first}): run `gridcmd lod build`"
        )
    with engine.connect() as conn:
        analyze_cells(conn)


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(exc).__name__])[0]
