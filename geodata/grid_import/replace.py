"""What a replacement (``--replace``) must keep consistent; SQL in the caller's transaction.

Under the parents a file touches (:mod:`geodata.grid_import.load`), a code in the database
and the file is updated in place, so its id stays and its children, workers, accounts,
departments, events and history keep pointing at it. A code only in the database
**disappears**:

* Events in it — and, when micro-grids (L6) are replaced, every event no longer inside its
  redrawn micro-grid — are re-attributed to the L6 cell that now contains them (as
  :mod:`geodata.attribution` would attribute a new report), since an event belongs to where
  it happened; one that no micro-grid contains any more refuses the import.
* Anything else that refers to a disappearing cell **refuses the import**: its child cells,
  the workers assigned to it (named by employee number), the accounts whose jurisdiction it
  is (by username), and rows of every other table that references ``grid_cell`` (assignment
  history, residents, departments, cameras, check-ins, visits, patrols, tokens: counted by
  table, read from the catalog so that a new table is covered too). Moving a worker is a
  roster decision with its own history and audit trail, so the import does not guess one;
  the admin moves them (or keeps the code in the file, with a new boundary) and imports
  again.

Redrawn cells that already have children are checked afterwards (:func:`stale_children`):
where the children no longer tile them goes into the topology report.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.grid_import.problems import Problem

__all__ = ["NAMED", "reattribute_events", "references", "stale_children"]

#: Most referring rows named in one message.
NAMED = 10


def reattribute_events(
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


def references(conn: Connection, gone: dict[int, str]) -> list[Problem]:
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
                shown = ": " + ", ".join(names[:NAMED]) + (", ..." if n > NAMED else "")
            found.setdefault(cell_id, []).append(f"{n} {label}{shown}")
    return [
        Problem(
            f"cell {gone[cid]} is not in the file, but "
            + "; ".join(found[cid])
            + " — keep its code in the file, or move them first"
        )
        for cid in sorted(found, key=lambda c: gone[c])
    ]


def stale_children(conn: Connection, level: int) -> list[tuple[str, str | None, str, bytes]]:
    """After :func:`geodata.grid_import.load.write_cells`: where the existing children
    (level + 1) of the file's redrawn cells no longer tile them, as ``(kind, child code,
    parent code, WKB)``: ``outside_parent`` (the part of a child outside its parent) or
    ``gap`` (the part of a parent none of its children covers; child code None). Empty when
    no redrawn cell has children (a new level, level 6, an unchanged boundary)."""
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
