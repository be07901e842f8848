"""Integrity rules of the grid and its data (``gridcmd check`` and the test-suite use these).

Each rule is one SQL statement returning ``(checked, failures, worst, detail)``; the tolerances
are the grid's acceptance rules (README, "Integrity checks"): child area outside its parent
< 0.01 %, sibling overlap < 0.01 %, children's area sum within 0.1 % of the parent's.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

OUTSIDE_TOL = 1e-4
OVERLAP_TOL = 1e-4
COVER_TOL = 1e-3


@dataclass(frozen=True)
class CheckResult:
    rule: str
    checked: int
    failures: int
    worst: float | None
    example: str | None

    @property
    def ok(self) -> bool:
        return self.failures == 0


# Per parent: union of children; compare areas (in degrees², ratios only).
_TILING = """
WITH kids AS (
    SELECT c.parent_id,
           sum(ST_Area(c.geom)) AS sum_area,
           ST_Union(c.geom) AS u,
           count(*) AS n
    FROM grid_cell c
    WHERE c.level = :level
    GROUP BY c.parent_id
), m AS (
    SELECT p.code,
           ST_Area(p.geom) AS parent_area,
           k.sum_area,
           ST_Area(k.u) AS union_area,
           ST_Area(ST_Difference(k.u, p.geom)) AS outside_area
    FROM kids k JOIN grid_cell p ON p.id = k.parent_id
)
SELECT code,
       outside_area / nullif(union_area, 0) AS outside,
       (sum_area - union_area) / nullif(union_area, 0) AS overlap,
       abs(sum_area - parent_area) / nullif(parent_area, 0) AS cover
FROM m
"""

_SIMPLE_RULES: dict[str, str] = {
    "geometries valid": """
        SELECT count(*), count(*) FILTER (WHERE NOT ST_IsValid(geom)), NULL::float8,
               min(code) FILTER (WHERE NOT ST_IsValid(geom))
        FROM grid_cell""",
    "codes unique": """
        SELECT count(*), count(*) - count(DISTINCT code), NULL::float8, NULL
        FROM grid_cell""",
    "levels consistent (child = parent + 1, path depth = level)": """
        SELECT count(*),
               count(*) FILTER (WHERE p.id IS NULL AND c.level > 1
                                 OR p.level <> c.level - 1 OR nlevel(c.path) <> c.level),
               NULL::float8,
               min(c.code) FILTER (WHERE p.level <> c.level - 1 OR nlevel(c.path) <> c.level)
        FROM grid_cell c LEFT JOIN grid_cell p ON p.id = c.parent_id""",
    "codes hierarchical (path = parent path + code; L3+ code extends parent code)": """
        SELECT count(*),
               count(*) FILTER (WHERE c.path <> p.path || text2ltree(c.code)
                                 OR (c.level >= 3 AND left(c.code, length(p.code)) <> p.code)),
               NULL::float8,
               min(c.code) FILTER (WHERE c.path <> p.path || text2ltree(c.code)
                                    OR (c.level >= 3 AND left(c.code, length(p.code)) <> p.code))
        FROM grid_cell c JOIN grid_cell p ON p.id = c.parent_id""",
    "one prefecture (L1) at the root": """
        SELECT count(*), abs(count(*) - 1), NULL::float8, NULL
        FROM grid_cell WHERE level = 1""",
    "every worker's cell exists and is an L5 grid or L6 micro-grid": """
        SELECT count(*), count(*) FILTER (WHERE c.id IS NULL OR c.level NOT IN (5, 6)),
               NULL::float8, min(w.employee_no) FILTER (WHERE c.id IS NULL OR c.level NOT IN (5, 6))
        FROM grid_worker w LEFT JOIN grid_cell c ON c.id = w.cell_id""",
    "every event is attributed to the L6 cell containing it": """
        SELECT count(*),
               count(*) FILTER (WHERE c.level <> 6 OR NOT ST_Intersects(c.geom, e.location)),
               NULL::float8,
               min(e.uuid::text) FILTER (WHERE c.level <> 6
                                          OR NOT ST_Intersects(c.geom, e.location))
        FROM event e JOIN grid_cell c ON c.id = e.cell_id""",
}


def run_checks(conn: Connection) -> list[CheckResult]:
    """Run every rule; returns one result per rule (tiling rules per level)."""
    results = [
        CheckResult(name, *conn.execute(text(sql)).one()) for name, sql in _SIMPLE_RULES.items()
    ]
    for level in range(2, 7):
        rows = conn.execute(text(_TILING), {"level": level}).all()
        for label, col, tol in (
            (f"L{level} children lie within their parent (outside < 0.01%)", 1, OUTSIDE_TOL),
            (f"L{level} siblings do not overlap (< 0.01%)", 2, OVERLAP_TOL),
            (f"L{level} children cover their parent (area sum within 0.1%)", 3, COVER_TOL),
        ):
            vals = [(r[0], r[col] or 0.0) for r in rows]
            bad = [(c, v) for c, v in vals if v > tol]
            worst = max((v for _, v in vals), default=None)
            results.append(
                CheckResult(label, len(vals), len(bad), worst, bad[0][0] if bad else None)
            )
        if level >= 3:
            # Every parent of the level above has children (nothing left uncovered).
            n_childless = conn.execute(
                text(
                    "SELECT count(*) FROM grid_cell p WHERE p.level = :pl AND NOT EXISTS "
                    "(SELECT 1 FROM grid_cell c WHERE c.parent_id = p.id)"
                ),
                {"pl": level - 1},
            ).scalar_one()
            if n_childless:
                results.append(
                    CheckResult(f"every L{level - 1} cell has children", 0, n_childless, None, None)
                )
    return results
