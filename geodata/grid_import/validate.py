"""Row checks of a grid import: values, geometry repair, codes and parents. Pure (no database):
the parents are passed in.

* **Values**: a code of 6–24 digits (:data:`gridcmd.vocab.CELL_CODE_RE`), unique in the file;
  a name; a parent code when the file has a parent field; a population, when the file has
  one, as a whole number.
* **Geometry** (EPSG:4326): empty or missing, or not polygonal (a point, a line) → row error.
  Z/M are already gone (:mod:`.reproject`). Invalid polygons (self-intersections, bow-ties,
  rings that touch) are repaired with ``shapely.make_valid(method="structure")``, which keeps
  the polygonal area (holes subtracted), and only the polygonal parts are kept; a note gives
  GEOS's reason and the change of area. A repair that leaves nothing is a row error.
* **Codes and parents** by the Chinese administrative-division convention: a prefecture (L1)
  has 6 digits (532300); a county (L2) 6 digits with the prefecture's first 4 (532301 under
  532300); a township (L3) is its county's code + 3 digits (532301001); a village (L4) its
  township's + 3 (532301001001); a grid (L5) and micro-grid (L6) start with their parent's
  code and are longer. The parent is the parent field's code when there is one (a county may
  then break the 4-digit rule: an explicit mapping, noted), else the level above's cell that
  overlaps the row most (the share is reported). A code that fits no parent, a parent that
  is not in the database, and a cell less than half inside its parent are row errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from geodata.grid_import.fields import FieldMap, code_value, population_value
from geodata.grid_import.problems import Problem
from gridcmd.vocab import CELL_CODE_RE, LEVELS

__all__ = [
    "MIN_PARENT_SHARE",
    "Candidate",
    "Parents",
    "assign_parents",
    "check_values",
    "code_fits",
    "code_rule",
    "repair_geometries",
]

#: A cell must lie at least this much (by area) inside its parent.
MIN_PARENT_SHARE = 0.5
_LEN = {1: 6, 2: 6, 3: 9, 4: 12}


@dataclass
class Candidate:
    """One row that passed the value checks: ``row`` is 1-based; ``geom`` a MultiPolygon in
    EPSG:4326 once repaired; ``parent_code`` from the file (or found); ``share`` of its area
    inside the parent (0–1)."""

    row: int
    code: str
    name: str
    parent_code: str | None
    population: int | None
    geom: object
    share: float | None = None


@dataclass(frozen=True)
class Parents:
    """The cells one level up: codes, ids and geometries (EPSG:4326), aligned."""

    codes: np.ndarray
    ids: np.ndarray
    geoms: np.ndarray

    def index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.codes)}


def code_rule(level: int) -> str:
    """The code convention of ``level`` in words (for error messages)."""
    return {
        1: "a prefecture code has 6 digits (e.g. 532300)",
        2: "a county code has 6 digits starting with its prefecture's first 4 "
        "(532301 under 532300)",
        3: "a township code is its county's code + 3 digits (532301001 under 532301)",
        4: "a village code is its township's code + 3 digits (532301001001 under 532301001)",
        5: "a grid code starts with its village's code and is longer",
        6: "a micro-grid code starts with its grid's code and is longer",
    }[level]


def code_fits(level: int, code: str, parent_code: str | None) -> bool:
    """Whether ``code`` is a valid level-``level`` code under ``parent_code`` (None for L1)."""
    if level == 1:
        return len(code) == 6
    if parent_code is None:
        return False
    if level == 2:
        return len(code) == 6 and code[:4] == parent_code[:4] and code != parent_code
    if level in _LEN:
        return len(code) == _LEN[level] and code.startswith(parent_code)
    return len(code) > len(parent_code) and code.startswith(parent_code)


def check_values(
    attrs, geoms: np.ndarray, fields: FieldMap, *, geometry_field: str | None = None
) -> tuple[list[Candidate], list[Problem]]:
    """Candidates for every row whose values are usable, and a problem per bad value."""
    gfield = geometry_field or "geometry"
    out: list[Candidate] = []
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for i in range(len(attrs)):
        row = i + 1
        bad = False
        code = code_value(attrs[fields.code].iat[i])
        if code is None:
            problems.append(Problem("empty code", row, fields.code))
            bad = True
        elif not CELL_CODE_RE.fullmatch(code):
            problems.append(Problem(f"code {code!r} is not 6–24 digits", row, fields.code))
            bad = True
        elif code in first:
            problems.append(
                Problem(f"duplicate code {code} (first in row {first[code]})", row, fields.code)
            )
            bad = True
        else:
            first[code] = row
        name = attrs[fields.name].iat[i]
        name = "" if name is None or (isinstance(name, float) and np.isnan(name)) else str(name)
        name = _clean(name)
        if not name:
            problems.append(Problem("empty name", row, fields.name))
            bad = True
        parent = None
        if fields.parent is not None:
            parent = code_value(attrs[fields.parent].iat[i])
            if parent is None or not CELL_CODE_RE.fullmatch(parent):
                what = (
                    "empty parent code"
                    if parent is None
                    else f"parent code {parent!r} is not 6–24 digits"
                )
                problems.append(Problem(what, row, fields.parent))
                bad = True
        population = None
        if fields.population is not None:
            try:
                population = population_value(attrs[fields.population].iat[i])
            except ValueError as exc:
                problems.append(Problem(str(exc), row, fields.population))
                bad = True
        geom, why = _polygonal(geoms[i])
        if why:
            problems.append(Problem(why, row, gfield))
            bad = True
        if not bad:
            out.append(Candidate(row, code, name, parent, population, geom))
    return out, problems


def _clean(name: str) -> str:
    from geodata.safe_text import clean_text

    return " ".join(clean_text(name).split())


def _polygonal(g) -> tuple[object, str | None]:
    """The polygonal part of ``g`` or why there is none."""
    if g is None or g.is_empty:
        return None, "empty geometry"
    kind = g.geom_type
    if kind in ("Polygon", "MultiPolygon"):
        return g, None
    if kind == "GeometryCollection":
        parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
        if parts:
            return shapely.union_all(parts), None
    return None, f"a {kind} is not a polygon"


def repair_geometries(
    cands: list[Candidate], gfield: str = "geometry"
) -> tuple[list[Candidate], list[Problem], list[str]]:
    """Repair invalid geometries (see the module doc); every geometry becomes a MultiPolygon.
    Returns the usable candidates, row problems and one note per repair."""
    kept: list[Candidate] = []
    problems: list[Problem] = []
    notes: list[str] = []
    for c in cands:
        g = c.geom
        if not shapely.is_valid(g):
            reason = shapely.is_valid_reason(g)
            fixed = _polygon_parts(shapely.make_valid(g, method="structure", keep_collapsed=False))
            if fixed.is_empty:
                problems.append(
                    Problem(
                        f"invalid geometry ({reason}) cannot be repaired into a polygon",
                        c.row,
                        gfield,
                    )
                )
                continue
            before, after = abs(shapely.area(g)), shapely.area(fixed)
            change = f"; area {100 * (after - before) / before:+.2f}%" if before > 0 else ""
            notes.append(f"row {c.row} ({c.code}): invalid geometry repaired ({reason}){change}")
            g = fixed
        g = _polygon_parts(g)
        if g.is_empty or shapely.area(g) <= 0:
            problems.append(Problem("the polygon has no area", c.row, gfield))
            continue
        c.geom = g
        kept.append(c)
    return kept, problems, notes


def _polygon_parts(g) -> shapely.MultiPolygon:
    parts = [p for p in shapely.get_parts(g) if p.geom_type == "Polygon" and not p.is_empty]
    multi = [q for p in parts for q in ([p] if p.geom_type == "Polygon" else shapely.get_parts(p))]
    return shapely.MultiPolygon(multi) if multi else shapely.MultiPolygon()


def _fitting_parents(level: int, code: str, where: dict[str, int]) -> list[str]:
    """The codes in ``where`` that ``code`` fits as a level-``level`` child."""
    if level == 2:
        return [p for p in where if code_fits(2, code, p)]
    return [
        code[:k]
        for k in range(6, len(code))
        if code[:k] in where and code_fits(level, code, code[:k])
    ]


def assign_parents(
    cands: list[Candidate],
    parents: Parents | None,
    level: int,
    *,
    parent_field: str | None,
    code_field: str,
) -> tuple[list[Candidate], list[Problem], list[str]]:
    """Give every candidate its parent (the field's, or the largest overlap) and check its
    code against it; returns the candidates that pass, row problems and summary notes."""
    if level == 1:
        bad = [
            Problem(f"code {c.code}: {code_rule(1)}", c.row, code_field)
            for c in cands
            if not code_fits(1, c.code, None)
        ]
        rows = {p.row for p in bad}
        return [c for c in cands if c.row not in rows], bad, []
    above = LEVELS[level - 1]
    if parents is None or not len(parents.codes):
        msg = f"there are no level-{level - 1} ({above}) cells: import level {level - 1} first"
        return [], [Problem(msg)], []
    where = parents.index()
    tree = shapely.STRtree(parents.geoms)
    shapely.prepare(parents.geoms)
    kept: list[Candidate] = []
    problems: list[Problem] = []
    explicit: list[int] = []
    for c in cands:
        area = shapely.area(c.geom)
        hits = tree.query(c.geom, predicate="intersects")
        # Prepared parents: a cell wholly inside one (most of them) needs no intersection.
        inside = [int(j) for j in hits if shapely.covers(parents.geoms[j], c.geom)]
        shares = (
            {inside[0]: 1.0}
            if len(inside) == 1
            else {
                int(j): shapely.area(shapely.intersection(c.geom, parents.geoms[j])) / area
                for j in hits
            }
        )
        if parent_field is not None:
            j = where.get(c.parent_code)
            if j is None:
                problems.append(
                    Problem(
                        f"parent {c.parent_code} is not a level-{level - 1} "
                        f"({above}) cell in the database",
                        c.row,
                        parent_field,
                    )
                )
                continue
            if not code_fits(level, c.code, c.parent_code):
                if level == 2 and len(c.code) == 6:
                    explicit.append(c.row)
                else:
                    problems.append(
                        Problem(
                            f"code {c.code} does not fit its parent {c.parent_code}: "
                            f"{code_rule(level)}",
                            c.row,
                            code_field,
                        )
                    )
                    continue
        else:
            if not shares or max(shares.values()) <= 0:
                by_code = _fitting_parents(level, c.code, where)
                hint = f"; its code fits {', '.join(by_code)}" if by_code else ""
                problems.append(
                    Problem(f"lies in no level-{level - 1} ({above}) cell{hint}", c.row, "geometry")
                )
                continue
            j = max(shares, key=lambda k: (shares[k], -k))
            c.parent_code = str(parents.codes[j])
            if not code_fits(level, c.code, c.parent_code):
                by_code = _fitting_parents(level, c.code, where)
                fits = (
                    f"its code fits {', '.join(by_code)}"
                    if by_code
                    else "its code fits no level-" + f"{level - 1} cell"
                )
                problems.append(
                    Problem(
                        f"code {c.code} does not fit the cell it lies in, {c.parent_code} "
                        f"({100 * shares[j]:.1f}% inside); {fits}: {code_rule(level)}",
                        c.row,
                        code_field,
                    )
                )
                continue
        c.share = shares.get(j, 0.0)
        if c.share < MIN_PARENT_SHARE:
            problems.append(
                Problem(
                    f"only {100 * c.share:.1f}% of the cell lies inside its parent "
                    f"{c.parent_code} (at least {100 * MIN_PARENT_SHARE:.0f}% needed): wrong "
                    "parent or wrong CRS?",
                    c.row,
                    parent_field or "geometry",
                )
            )
            continue
        kept.append(c)
    notes: list[str] = []
    if kept:
        worst = min(kept, key=lambda c: c.share)
        how = "parent field" if parent_field else "spatial containment (largest overlap)"
        notes.append(
            f"parents by {how}: smallest share inside the parent "
            f"{100 * worst.share:.1f}% (row {worst.row}, {worst.code} in "
            f"{worst.parent_code})"
        )
    if explicit:
        notes.append(
            f"{len(explicit)} county code(s) do not share their prefecture's first 4 "
            f"digits; kept as the parent field maps them (rows "
            f"{', '.join(map(str, explicit[:10]))})"
        )
    return kept, problems, notes
