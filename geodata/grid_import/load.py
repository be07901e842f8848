"""The database side of a grid import: every SQL statement of :mod:`geodata.grid_import`.

All of it runs in the caller's transaction (:func:`geodata.grid_import.import_grids` commits
or rolls back as a whole). Derived columns are computed here as the demo loader does:
``path`` = the parent's path + the code (an ``ltree`` of codes), ``label_point`` =
``ST_PointOnSurface``, ``area_km2`` = the ellipsoidal area (``geography``); the LOD tables
follow after the commit (:func:`geodata.lod.build_lod`).

**Scope and replacement.** A file brings the complete set of level-N cells of every parent
it touches (for level 1: the root). Without ``replace``, a touched parent that already has
level-N cells is an error. With ``replace``, under the touched parents only:

* a code in the database and the file is **updated in place** (name, geometry, label point,
  area; population when the file has a population field): its id stays, so its children,
  workers, accounts, departments, events and history keep pointing at it;
* a code only in the file is inserted;
* a code only in the database **disappears**. Events in it — and, when micro-grids (L6) are
  replaced, every event no longer inside its micro-grid — are re-attributed to the L6 cell
  that now contains them (as :mod:`geodata.attribution` would attribute a new report), since
  an event belongs to where it happened. Anything else that refers to a disappearing cell
  **refuses the import**: its child cells, the workers assigned to it (named by employee
  number), the accounts whose jurisdiction it is (by username), and rows of every other
  table that references ``grid_cell`` (assignment history, residents, departments, cameras,
  check-ins, visits, patrols, tokens: counted by table). Moving a worker is a roster decision
  with its own history and audit trail, so the import does not guess one; the admin moves
  them (or keeps the code in the file, with a new boundary) and imports again.
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
from geodata.grid_import.validate import Candidate, Parents
from gridcmd.vocab import LEVELS

__all__ = [
    "WriteResult",
    "analyze_cells",
    "cells_at_level",
    "check_scope",
    "fetch_parents",
    "lock_grid",
    "stale_children",
    "write_cells",
]

#: Most referring rows named in one message.
_NAMED = 10


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
        listed = ", ".join(group.code.head(_NAMED)) + (", ..." if len(group) > _NAMED else "")
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
        res.events_reattributed, stray = _reattribute_events(conn, parents, gone_ids)
        res.problems += stray
    res.problems += _references(conn, {r[0]: r[1] for r in gone})
    if gone_ids and not res.problems:
        res.deleted = conn.execute(
            text("DELETE FROM grid_cell WHERE id = ANY(:ids)"), {"ids": gone_ids}
        ).rowcount
    return res


def stale_children(conn: Connection, level: int) -> list[tuple[str, str | None, str, bytes]]:
    """After :func:`write_cells`: where the existing children (level + 1) of the file's cells
    no longer tile their redrawn parents, as ``(kind, child code, parent code, WKB)``:
    ``outside_parent`` (the part of a child outside its parent) or ``gap`` (the part of a
    parent none of its children covers; child code None). Empty when no cell of the file has
    children (a new level, or level 6)."""
    rows = conn.execute(
        text(
            """
            WITH kids AS (
                SELECT c.code AS parent, c.geom AS pgeom, ch.code AS child, ch.geom
                FROM grid_import_stage i
                JOIN grid_cell c ON c.code = i.code AND c.level = :l
                JOIN grid_cell ch ON ch.parent_id = c.id
                WHERE i.redrawn
            )
            SELECT 'outside_parent', child, parent,
                   ST_AsBinary(ST_CollectionExtract(ST_Difference(geom, pgeom), 3))
            FROM kids WHERE NOT ST_CoveredBy(geom, pgeom)
            UNION ALL
            SELECT 'gap', NULL, parent,
                   ST_AsBinary(ST_CollectionExtract(ST_Difference(pgeom, ST_Union(geom)), 3))
            FROM kids GROUP BY parent, pgeom
            HAVING NOT ST_CoveredBy(pgeom, ST_Union(geom))
            ORDER BY 3, 1, 2
            """
        ),
        {"l": level},
    ).all()
    return [(r[0], r[1], r[2], bytes(r[3])) for r in rows]


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


def _reattribute_events(
    conn: Connection, parents: list[str], gone_ids: list[int]
) -> tuple[int, list[Problem]]:
    """Events in a disappearing micro-grid, or no longer inside their (re-drawn) one, move to
    the micro-grid containing them (the smallest code on a shared edge, like attribution)."""
    moved = conn.execute(
        text(
            """
            WITH affected AS (
                SELECT e.id, e.location
                FROM event e JOIN grid_cell c ON c.id = e.cell_id
                JOIN grid_cell p ON p.id = c.parent_id
                WHERE p.code = ANY(:parents)
                  AND (c.id = ANY(:gone) OR NOT ST_Intersects(c.geom, e.location))
            ), target AS (
                SELECT a.id, (SELECT n.id FROM grid_cell n
                              WHERE n.level = 6 AND NOT n.id = ANY(:gone)
                                AND ST_Intersects(n.geom, a.location)
                              ORDER BY n.code LIMIT 1) AS cell_id
                FROM affected a
            )
            UPDATE event e SET cell_id = t.cell_id
            FROM target t WHERE e.id = t.id AND t.cell_id IS NOT NULL
            """
        ),
        {"parents": parents, "gone": gone_ids},
    ).rowcount
    stray = conn.execute(
        text(
            """
            SELECT e.uuid::text, c.code FROM event e JOIN grid_cell c ON c.id = e.cell_id
            JOIN grid_cell p ON p.id = c.parent_id
            WHERE p.code = ANY(:parents)
              AND (c.id = ANY(:gone) OR NOT ST_Intersects(c.geom, e.location))
            ORDER BY e.uuid LIMIT 50
            """
        ),
        {"parents": parents, "gone": gone_ids},
    ).all()
    problems = [
        Problem(
            f"event {u} (now in {code}) lies in no micro-grid of the file: the new "
            "boundaries must still cover it"
        )
        for u, code in stray
    ]
    return moved, problems


def _references(conn: Connection, gone: dict[int, str]) -> list[Problem]:
    """One problem per disappearing cell that something still refers to (module doc)."""
    if not gone:
        return []
    ids = list(gone)
    refs = conn.execute(
        text(
            """
            SELECT k.conrelid::regclass::text, a.attname
            FROM pg_constraint k
            JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = ANY(k.conkey)
            WHERE k.contype = 'f' AND k.confrelid = 'grid_cell'::regclass
              AND k.confdeltype <> 'c'
            ORDER BY 1, 2
            """
        )
    ).all()
    named = {
        ("grid_cell", "parent_id"): ("child cell(s)", "code"),
        ("grid_worker", "cell_id"): ("worker(s) assigned to it (employee no.)", "employee_no"),
        ("account", "jurisdiction_cell_id"): ("account(s) with it as jurisdiction", "username"),
    }
    found: dict[int, list[str]] = {}
    for table, column in refs:
        col = '"' + column.replace('"', '""') + '"'
        label, name_col = named.get((table, column), (f"{table} row(s)", None))
        # Identifiers come from the catalog (quoted) or the mapping above, never from input.
        what = f"array_agg({name_col}::text ORDER BY {name_col})" if name_col else "NULL::text[]"
        rows = conn.execute(
            text(f"SELECT {col}, count(*), {what} FROM {table} WHERE {col} = ANY(:ids) GROUP BY 1"),
            {"ids": ids},
        ).all()
        for cell_id, n, names in rows:
            shown = ""
            if names:
                shown = ": " + ", ".join(names[:_NAMED]) + (", ..." if n > _NAMED else "")
            found.setdefault(cell_id, []).append(f"{n} {label}{shown}")
    return [
        Problem(
            f"cell {gone[cid]} is not in the file, but "
            + "; ".join(found[cid])
            + " — keep its code in the file, or move them first"
        )
        for cid in sorted(found, key=lambda c: gone[c])
    ]


def analyze_cells(conn: Connection) -> None:
    """Refresh the planner's statistics of ``grid_cell`` (outside a transaction)."""
    conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE grid_cell"))
