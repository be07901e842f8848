"""The database side of a grid import: the scope, the write and the derived columns (the SQL
of the replacement rules is in :mod:`geodata.grid_import.replace`).

All of it runs in the caller's transaction (:func:`geodata.grid_import.import_grids` commits
or rolls back as a whole). Derived columns are computed here as the demo loader does:
``path`` = the parent's path + the code (an ``ltree`` of codes), ``label_point`` =
``ST_PointOnSurface``, ``area_km2`` = the ellipsoidal area (``geography``); the LOD tables
follow after the commit (:func:`geodata.lod.build_lod`).

**Scope and replacement.** A file brings the complete set of level-N cells of every parent
it touches (for level 1: the root). Without ``replace``, a touched parent that already has
level-N cells is an error. With ``replace``, under the touched parents only, a code in the
database and the file is **updated in place** (its id stays), a code only in the file is
inserted, and a code only in the database disappears — under the rules of
:mod:`geodata.grid_import.replace` (events follow their location; anything else that refers
to a disappearing cell refuses the import).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.grid_import.problems import Problem
from geodata.grid_import.replace import NAMED, reattribute_events, references
from geodata.grid_import.validate import Candidate, Parents
from gridcmd.vocab import LEVELS

__all__ = [
    "WriteResult",
    "analyze_cells",
    "cells_at_level",
    "check_scope",
    "fetch_parents",
    "lock_grid",
    "write_cells",
]


@dataclass
class WriteResult:
    """Counts of one write, and the problems that must roll it back."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    events_reattributed: int = 0
    problems: list[Problem] | None = None


def lock_grid(conn: Connection) -> None:
    """Block other writers of ``grid_cell`` (readers go on) until the transaction ends: two
    imports at once would each check against a state the other is changing."""
    conn.execute(text("LOCK TABLE grid_cell IN SHARE ROW EXCLUSIVE MODE"))


def fetch_parents(conn: Connection, level: int) -> Parents | None:
    """The cells of ``level - 1`` (codes, ids, EPSG:4326 geometries); None for level 1."""
    if level == 1:
        return None
    rows = conn.execute(
        text("SELECT code, id, ST_AsBinary(geom) FROM grid_cell WHERE level = :l ORDER BY code"),
        {"l": level - 1},
    ).all()
    return Parents(
        np.array([r[0] for r in rows], dtype=object),
        np.array([r[1] for r in rows], dtype=np.int64),
        np.array([shapely.from_wkb(bytes(r[2])) for r in rows], dtype=object),
    )


def cells_at_level(conn: Connection, level: int, parent_codes: list[str]) -> pd.DataFrame:
    """Existing cells of ``level`` under ``parent_codes`` (level 1: all roots): code, name,
    parent_code, id, geom (shapely, EPSG:4326)."""
    rows = conn.execute(
        text(
            """
            SELECT c.code, c.name, p.code AS parent_code, c.id, ST_AsBinary(c.geom) AS wkb
            FROM grid_cell c LEFT JOIN grid_cell p ON p.id = c.parent_id
            WHERE c.level = :l AND (:l = 1 OR p.code = ANY(:parents))
            ORDER BY c.code
            """
        ),
        {"l": level, "parents": parent_codes},
    ).all()
    return pd.DataFrame(
        {
            "code": [r.code for r in rows],
            "name": [r.name for r in rows],
            "parent_code": [r.parent_code for r in rows],
            "id": [r.id for r in rows],
            "geom": [shapely.from_wkb(bytes(r.wkb)) for r in rows],
        }
    )


def check_scope(
    conn: Connection, level: int, cands: list[Candidate], *, replace: bool, code_field: str
) -> list[Problem]:
    """Problems with what is already in the database: a code of the file that exists at
    another level or under another parent (a row error), and, without ``replace``, touched
    parents that already have level-``level`` cells."""
    codes = [c.code for c in cands]
    rows = conn.execute(
        text(
            "SELECT c.code, c.level, p.code FROM grid_cell c "
            "LEFT JOIN grid_cell p ON p.id = c.parent_id WHERE c.code = ANY(:codes)"
        ),
        {"codes": codes},
    ).all()
    found = {r[0]: (r[1], r[2]) for r in rows}
    problems: list[Problem] = []
    for c in cands:
        if c.code not in found:
            continue
        lvl, parent = found[c.code]
        if lvl != level:
            problems.append(
                Problem(
                    f"code {c.code} is already a level-{lvl} ({LEVELS[lvl]}) cell",
                    c.row,
                    code_field,
                )
            )
        elif level > 1 and parent != c.parent_code:
            problems.append(
                Problem(
                    f"code {c.code} already exists under {parent}, not under {c.parent_code}",
                    c.row,
                    code_field,
                )
            )
    if replace:
        return problems
    parents = sorted({c.parent_code for c in cands if c.parent_code})
    existing = cells_at_level(conn, level, parents)
    name = LEVELS[level].replace("_", "-")
    for parent, group in existing.groupby(existing.parent_code.fillna(""), sort=True):
        listed = ", ".join(group.code.head(NAMED)) + (", ..." if len(group) > NAMED else "")
        owner = f"{parent} already has" if parent else "the database already has"
        problems.append(
            Problem(
                f"{owner} {len(group)} level-{level} ({name}) cell(s): {listed}; give --replace "
                "to replace them with the file's"
            )
        )
    return problems


def write_cells(
    conn: Connection, level: int, cands: list[Candidate], *, has_population: bool
) -> WriteResult:
    """Insert, update and remove the level-``level`` cells of the touched parents as the
    module doc says; the result's ``problems`` (referring rows) mean: roll back."""
    _stage(conn, cands)
    parents = sorted({c.parent_code for c in cands if c.parent_code})
    res = WriteResult(problems=[])
    # Which kept cells get a new boundary (exact comparison, '=' on geometry): only their
    # children need checking afterwards (stale_children).
    conn.execute(
        text(
            "UPDATE grid_import_stage i SET redrawn = NOT (c.geom = i.geom) "
            "FROM grid_cell c WHERE c.code = i.code AND c.level = :l"
        ),
        {"l": level},
    )
    res.updated = conn.execute(
        text(
            """
            UPDATE grid_cell c
            SET name = i.name, geom = i.geom, label_point = ST_PointOnSurface(i.geom),
                area_km2 = round((ST_Area(i.geom::geography) / 1e6)::numeric, 6),
                population = CASE WHEN :has_pop THEN coalesce(i.population, 0)
                                  ELSE c.population END
            FROM grid_import_stage i
            WHERE c.code = i.code AND c.level = :l
            """
        ),
        {"l": level, "has_pop": has_population},
    ).rowcount
    res.inserted = conn.execute(
        text(
            """
            INSERT INTO grid_cell (code, level, name, parent_id, path, geom, label_point,
                                   area_km2, population, households, synthetic)
            SELECT i.code, :l, i.name, p.id,
                   CASE WHEN p.id IS NULL THEN text2ltree(i.code)
                        ELSE p.path || text2ltree(i.code) END,
                   i.geom, ST_PointOnSurface(i.geom),
                   round((ST_Area(i.geom::geography) / 1e6)::numeric, 6),
                   coalesce(i.population, 0), 0, false
            FROM grid_import_stage i
            LEFT JOIN grid_cell p ON p.code = i.parent_code AND p.level = :l - 1
            WHERE NOT EXISTS (SELECT 1 FROM grid_cell c WHERE c.code = i.code)
            ORDER BY i.row_no
            """
        ),
        {"l": level},
    ).rowcount
    gone = conn.execute(
        text(
            """
            SELECT c.id, c.code FROM grid_cell c LEFT JOIN grid_cell p ON p.id = c.parent_id
            WHERE c.level = :l AND (:l = 1 OR p.code = ANY(:parents))
              AND NOT EXISTS (SELECT 1 FROM grid_import_stage i WHERE i.code = c.code)
            ORDER BY c.code
            """
        ),
        {"l": level, "parents": parents},
    ).all()
    gone_ids = [r[0] for r in gone]
    if level == 6:
        res.events_reattributed, stray = reattribute_events(conn, parents, gone_ids)
        res.problems += stray
    res.problems += references(conn, {r[0]: r[1] for r in gone})
    if gone_ids and not res.problems:
        res.deleted = conn.execute(
            text("DELETE FROM grid_cell WHERE id = ANY(:ids)"), {"ids": gone_ids}
        ).rowcount
    return res


def _stage(conn: Connection, cands: list[Candidate]) -> None:
    conn.execute(
        text(
            "CREATE TEMP TABLE grid_import_stage (row_no integer, code text PRIMARY KEY, "
            "name text, parent_code text, population integer, "
            "geom geometry(MultiPolygon, 4326), redrawn boolean NOT NULL DEFAULT false) "
            "ON COMMIT DROP"
        )
    )
    df = pd.DataFrame(
        {
            "row_no": [c.row for c in cands],
            "code": [c.code for c in cands],
            "name": [c.name for c in cands],
            "parent_code": [c.parent_code for c in cands],
            "population": pd.array([c.population for c in cands], dtype="Int64"),
            "geom": shapely.to_wkb(
                shapely.set_srid(np.array([c.geom for c in cands], dtype=object), 4326),
                hex=True,
                include_srid=True,
            ),
        }
    )
    buf = io.StringIO()
    df.to_csv(buf, index=False, header=False, na_rep="\\N")
    raw = conn.connection.driver_connection
    sql = (
        "COPY grid_import_stage (row_no, code, name, parent_code, population, geom) "
        "FROM STDIN (FORMAT csv, NULL '\\N')"
    )
    with raw.cursor() as cur, cur.copy(sql) as copy:
        copy.write(buf.getvalue())


def analyze_cells(conn: Connection) -> None:
    """Refresh the planner's statistics of ``grid_cell`` (outside a transaction)."""
    conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE grid_cell"))
