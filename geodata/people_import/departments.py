"""``gridcmd import departments``: departments (police stations, courts, procuratorates,
judicial and petition offices) with their cells of responsibility, all rows or none.

A department's jurisdiction cell is the first cell it lists, its service area the union of
all the cells it lists; its location the file's WGS-84 longitude/latitude, or when those are
empty a point inside the service area. A re-import updates by department code. Set-based like
the worker import: COPY into a temporary table, one join for the codes, one upsert.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.demo.departments import DEMO_PLAN
from geodata.people_import.result import ImportResult, copy_rows, read_rows
from geodata.people_import.table import EXAMPLE_MARK
from geodata.roster.checks import RosterError, clean_phone
from geodata.safe_text import clean_text
from geodata.security_log import log_security
from gridcmd.vocab import CELL_CODE_RE, DEPARTMENT_KIND_MSGIDS, DEPARTMENT_KINDS, EVENT_CATEGORIES

__all__ = ["DEPARTMENT_COLUMNS", "DepartmentImport", "department_template_rows",
           "import_departments"]  # fmt: skip

DEPARTMENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("单位编码", "编码", "code"),
    "name": ("单位名称", "名称", "name"),
    "kind": ("单位类型", "类型", "kind"),
    "cells": ("负责网格编码", "负责网格", "网格编码", "cells", "cell_codes"),
    "lon": ("经度", "lon", "longitude"),
    "lat": ("纬度", "lat", "latitude"),
    "phone": ("电话", "联系电话", "phone"),
    "categories": ("受理类别", "类别", "categories"),
}
REQUIRED = ("code", "name", "kind", "cells")
#: Kind names a file may hold: the vocabulary's keys, English labels and Chinese names.
KIND_VALUES = {
    "派出所": "police", "公安": "police", "公安局": "police",
    "法院": "court", "人民法院": "court", "法庭": "court", "人民法庭": "court",
    "检察院": "procuratorate", "人民检察院": "procuratorate",
    "司法所": "judicial", "司法局": "judicial",
    "信访局": "petition", "信访办": "petition", "信访": "petition",
    **{label.lower(): k for k, label in DEPARTMENT_KIND_MSGIDS.items()},
    **{k: k for k in DEPARTMENT_KINDS},
}  # fmt: skip
#: The categories a kind takes when the file names none (those of the demo's units).
DEFAULT_CATEGORIES = {kind: list(cats) for _lv, kind, _p, _u, _s, cats in DEMO_PLAN}
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_SPLIT = re.compile(r"[\s,;，；、|]+")


class DepartmentImport(ImportResult):
    """What a department import did (or, with ``dry_run`` or errors, would do)."""


def _float(value: str) -> float | None:
    try:
        f = float(value)
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def _check_row(no: int, cells: list[str], headers, cols, res) -> tuple | None:
    def get(f: str) -> str:
        return cells[cols[f]] if f in cols else ""

    def bad(f: str, reason: str) -> None:
        res.error(no, headers[cols[f]] if f in cols else DEPARTMENT_COLUMNS[f][0], reason)

    n = res.error_count
    code, name = get("code"), clean_text(get("name")).strip()
    if not _CODE.fullmatch(code):
        bad("code", "1 to 32 letters, digits, '-' or '_'")
    if not 1 <= len(name) <= 80:
        bad("name", "1 to 80 characters")
    kind = KIND_VALUES.get(get("kind").lower())
    if kind is None:
        bad("kind", f"unknown kind {get('kind')!r} (派出所, 法院, 检察院, 司法所, 信访局 "
                    f"or {', '.join(DEPARTMENT_KINDS)})")  # fmt: skip
    codes = [c for c in _SPLIT.split(get("cells")) if c]
    if not codes or not all(CELL_CODE_RE.fullmatch(c) for c in codes):
        bad("cells", "one or more cell codes, separated by 、 , ; or spaces")
    lon, lat = get("lon"), get("lat")
    x, y = _float(lon), _float(lat)
    if (lon or lat) and (x is None or y is None or not (-180 <= x <= 180 and -90 <= y <= 90)):
        bad("lon" if x is None or not -180 <= x <= 180 else "lat",
            "longitude and latitude in degrees (WGS-84), both or neither")  # fmt: skip
    phone = None
    if get("phone"):
        try:
            phone = clean_phone(get("phone"))
        except RosterError as exc:
            bad("phone", str(exc))
    cats = [c for c in _SPLIT.split(get("categories")) if c]
    unknown = [c for c in cats if c not in EVENT_CATEGORIES]
    if unknown:
        bad("categories", f"unknown categories {', '.join(unknown)} "
                          f"(of {', '.join(EVENT_CATEGORIES)})")  # fmt: skip
    if res.error_count > n:  # a bad row is staged for the cell-code check only
        valid = codes and all(CELL_CODE_RE.fullmatch(c) for c in codes)
        return (no, None, None, None, "{" + ",".join(codes) + "}") + (None,) * 4 if valid else None
    cats = cats or DEFAULT_CATEGORIES.get(kind, [])
    arr = "{" + ",".join(codes) + "}"
    return (no, code, name, kind, arr, x, y, phone, "{" + ",".join(cats) + "}")


def import_departments(conn: Connection, path: Path, *, dry_run: bool = False,
                       username: str = "gridcmd") -> DepartmentImport:  # fmt: skip
    """Import the departments of the file ``path`` in the caller's transaction (a
    savepoint); a known code is updated. With any row error, or ``dry_run``, nothing is
    changed. Raises TableError when the file is unreadable."""
    res = DepartmentImport()
    table = read_rows(path, DEPARTMENT_COLUMNS, REQUIRED, res)
    if table is None:
        return res
    headers, rows, cols = table
    good, seen = [], {}
    for no, cells in rows:
        row = _check_row(no, cells, headers, cols, res)
        if row is None:
            continue
        if row[1] is None:
            good.append(row)
            continue
        if row[1] in seen:
            res.error(no, headers[cols["code"]], f"code {row[1]} already on row {seen[row[1]]}")
            continue
        seen[row[1]] = no
        good.append(row)
    with conn.begin_nested() as sp:
        conn.execute(text(
            "CREATE TEMP TABLE department_import_stage (row_no int, code text, name text, "
            "kind text, cells text[], lon float8, lat float8, phone text, categories text[]) "
            "ON COMMIT DROP"
        ))  # fmt: skip
        copy_rows(conn, "COPY department_import_stage FROM STDIN (FORMAT csv)", good)
        for b in conn.execute(text(
            "SELECT s.row_no, u.code FROM department_import_stage AS s, "
            "unnest(s.cells) AS u(code) LEFT JOIN grid_cell AS c ON c.code = u.code "
            "WHERE c.id IS NULL ORDER BY s.row_no"
        )):  # fmt: skip
            res.error(b.row_no, headers[cols["cells"]], f"{b.code}: unknown cell code")
        res.inserted = conn.execute(text(
            "SELECT count(*) FROM department_import_stage AS s "
            "WHERE NOT EXISTS (SELECT 1 FROM department AS d WHERE d.code = s.code)"
        )).scalar_one()  # fmt: skip
        res.updated = len(good) - res.inserted
        if res.error_count or dry_run:
            sp.rollback()
            return res
        conn.execute(text(_UPSERT))
        log_security(conn, "roster_change", username=username, target="import departments",
                     detail=f"import {Path(path).name}: {res.inserted} new, "
                            f"{res.updated} updated")  # fmt: skip
        conn.execute(text("DROP TABLE department_import_stage"))
    return res


_UPSERT = """
WITH area AS (
    SELECT s.row_no, ST_Multi(ST_CollectionExtract(ST_Union(c.geom), 3)) AS geom,
           (array_agg(c.id ORDER BY u.ord))[1] AS cell_id
    FROM department_import_stage AS s,
         unnest(s.cells) WITH ORDINALITY AS u(code, ord)
    JOIN grid_cell AS c ON c.code = u.code
    GROUP BY s.row_no
)
INSERT INTO department (code, name, kind, cell_id, location, service_area, categories,
                        phone, active, synthetic)
SELECT s.code, s.name, s.kind, a.cell_id,
       CASE WHEN s.lon IS NULL THEN ST_PointOnSurface(a.geom)
            ELSE ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) END,
       a.geom, CAST(s.categories AS varchar(32)[]), s.phone, true, false
FROM department_import_stage AS s JOIN area AS a ON a.row_no = s.row_no
ORDER BY s.row_no
ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind,
    cell_id = excluded.cell_id, location = excluded.location,
    service_area = excluded.service_area, categories = excluded.categories,
    phone = excluded.phone, synthetic = false
"""


def department_template_rows() -> tuple[list[str], list[str]]:
    """The template's Chinese headers and its example row (marked, so an import skips it)."""
    headers = [names[0] for names in DEPARTMENT_COLUMNS.values()]
    example = [f"{EXAMPLE_MARK}POL-532901001", "下关派出所", "派出所", "532901001、532901002",
               "100.2257", "25.5916", "0872-2123456", "public_security、dispute"]  # fmt: skip
    return headers, example
