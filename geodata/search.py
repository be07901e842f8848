"""Find grid cells by (partial) name or code prefix, inside the caller's scope.

Names are Chinese, so matching is a plain substring test (``LIKE``; ``ILIKE`` only when the
query contains Latin letters, as it is several times slower per row). There is no name index
that helps one- and two-character Chinese queries (trigrams need three), so the query is split
into per-level branches evaluated in order under one ``LIMIT``: a common query is answered from
the first ~1,300 upper-level cells and never reads the 44,000 micro-grids.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.cells import check_scope_path
from geodata.stats import PATH_NAMES_SQL, custom_plans

__all__ = ["QUERY_MAX", "search_cells"]

#: Longest accepted query, characters (after stripping).
QUERY_MAX = 50
#: Queries made of digits also match code prefixes.
_DIGITS = re.compile(r"[0-9]{1,24}")
_LATIN = re.compile(r"[A-Za-z]")

# Branch order = result order: exact code, code prefix (in code order: a parent before its
# children), then names by level (counties … micro-grids): exact name, level, shorter name.
_NAME_BRANCH = """
    (SELECT c.code, c.name, c.level, c.path, {rank} AS rank,
            row_number() OVER (ORDER BY (c.name = :q) DESC, c.level, length(c.name), c.code)
                AS ord
     FROM grid_cell AS c
     WHERE {levels} AND c.path <@ CAST(:scope AS ltree)
       AND c.name {op} :contains ESCAPE '\\'
       AND (CAST(:code_prefix AS text) IS NULL OR c.code NOT LIKE :code_prefix)
     ORDER BY (c.name = :q) DESC, c.level, length(c.name), c.code
     LIMIT :limit)
"""

_SEARCH_SQL = """
    SELECT h.code, h.name, h.level, ltree2text(h.path) AS path,
           ({names}) AS path_names
    FROM (
        (SELECT c.code, c.name, c.level, c.path, 0 AS rank,
                row_number() OVER (ORDER BY c.code) AS ord
         FROM grid_cell AS c
         WHERE CAST(:code_prefix AS text) IS NOT NULL AND c.code LIKE :code_prefix
           AND c.path <@ CAST(:scope AS ltree)
         ORDER BY c.code
         LIMIT :limit)
        UNION ALL {upper} UNION ALL {grids} UNION ALL {micro}
        LIMIT :limit
    ) AS h
    ORDER BY h.rank, h.ord
"""


def _search_sql(op: str) -> Any:
    def branch(levels: str, rank: int) -> str:
        return _NAME_BRANCH.format(levels=levels, op=op, rank=rank)

    return text(
        _SEARCH_SQL.format(
            names=PATH_NAMES_SQL.format(path="h.path"),
            upper=branch("c.level <= 4", 1),
            grids=branch("c.level = 5", 2),
            micro=branch("c.level = 6", 3),
        )
    )


_SEARCH = {"LIKE": _search_sql("LIKE"), "ILIKE": _search_sql("ILIKE")}


def _like_escape(s: str) -> str:
    """``s`` with LIKE's wildcards (and the escape character) matching literally."""
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_cells(
    conn: Connection, *, scope_path: str, q: Any, limit: int = 20
) -> list[dict[str, Any]]:
    """Cells inside the scope whose name contains ``q`` (e.g. a partial Chinese name; case
    is ignored for Latin letters) or, for a query of digits, whose code starts with ``q``.

    Order: code matches first (in code order, so a cell precedes its children), then name
    matches from the upper levels down, an exact name first, then shorter names. Each result:
    ``code, name, level, path`` (ltree text), ``path_names`` (list of names, county → cell)
    and ``path_label`` (those names joined with " › ").

    ``q`` is stripped and must be 1–50 printable characters, else ValueError; LIKE wildcards
    (``%``, ``_``, ``\\``) in it match literally. ``limit``: 1–100.
    """
    if not isinstance(q, str):
        raise ValueError("query must be a string")
    q = q.strip()
    if not 1 <= len(q) <= QUERY_MAX or not q.isprintable():
        raise ValueError(f"query must be 1 to {QUERY_MAX} printable characters")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
        raise ValueError(f"limit must be an integer from 1 to 100, not {limit!r}")
    params = {
        "scope": check_scope_path(scope_path),
        "q": q,
        "contains": f"%{_like_escape(q)}%",
        "code_prefix": f"{q}%" if _DIGITS.fullmatch(q) else None,
        "limit": limit,
    }
    sql = _SEARCH["ILIKE" if _LATIN.search(q) else "LIKE"]
    custom_plans(conn)
    out = []
    for r in conn.execute(sql, params).mappings():
        d = dict(r)
        d["path_names"] = list(d["path_names"] or [])
        d["path_label"] = " › ".join(d["path_names"])
        out.append(d)
    return out
