"""``gridcmd import residents``: residents (人口) with their micro-grid, all rows or none.

ID numbers are checked (18 characters, a real birth date, the GB 11643 check digit); gender
and birth date come from the number. Row errors never repeat an ID or phone number (they are
printed and may be logged). A re-import updates by ID number. The import is one security-log
entry (file name and counts, no personal data). Set-based like the worker import.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.demo.residents import check_digit
from geodata.people_import.result import ImportResult, copy_rows, read_rows
from geodata.people_import.table import EXAMPLE_MARK
from geodata.roster.checks import RosterError, clean_phone
from geodata.safe_text import clean_text
from geodata.security_log import log_security
from gridcmd.vocab import CELL_CODE_RE

__all__ = ["RESIDENT_COLUMNS", "ResidentImport", "import_residents", "resident_template_rows"]

RESIDENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "name"),
    "id_number": ("身份证号", "身份证号码", "公民身份号码", "id_number", "id"),
    "phone": ("手机号", "手机号码", "电话", "联系电话", "phone"),
    "household_no": ("户号", "户编号", "household_no", "household"),
    "address": ("地址", "住址", "address"),
    "cell_code": ("微网格编码", "网格编码", "cell_code", "micro_grid"),
}
REQUIRED = ("name", "id_number", "phone", "household_no", "cell_code")
_ID = re.compile(r"\d{17}[\dX]")
_HOUSEHOLD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,31}")


class ResidentImport(ImportResult):
    """What a resident import did (or, with ``dry_run`` or errors, would do)."""


def check_id_number(value: str) -> tuple[str, str, dt.date]:
    """``(id_number, gender 'M'/'F', birth date)`` of a GB 11643 ID number; ValueError (with
    no digits of the number in its message) otherwise."""
    v = value.strip().upper()
    if not _ID.fullmatch(v):
        raise ValueError("an ID number has 17 digits and a digit or X")
    try:
        born = dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        raise ValueError("the ID number holds no valid birth date") from None
    if check_digit(v[:17]) != v[17]:
        raise ValueError("wrong check digit (GB 11643)")
    return v, ("M" if int(v[16]) % 2 else "F"), born


def _check_row(no, cells, headers, cols, res, seen) -> tuple | None:
    def get(f: str) -> str:
        return cells[cols[f]] if f in cols else ""

    def bad(f: str, reason: str) -> None:
        res.error(no, headers[cols[f]], reason)

    n = res.error_count
    name = clean_text(get("name")).strip()
    if not 1 <= len(name) <= 40:
        bad("name", "1 to 40 characters")
    idn = gender = born = None
    try:
        idn, gender, born = check_id_number(get("id_number"))
    except ValueError as exc:
        bad("id_number", str(exc))
    if idn is not None:
        if idn in seen:
            bad("id_number", f"the same ID number as row {seen[idn]}")
        else:
            seen[idn] = no
    phone = None
    try:
        phone = clean_phone(get("phone"))
    except RosterError as exc:
        bad("phone", str(exc))
    household = get("household_no")
    if not _HOUSEHOLD.fullmatch(household):
        bad("household_no", "1 to 32 letters, digits or hyphens")
    address = clean_text(get("address")).strip()
    if len(address) > 200:
        bad("address", "at most 200 characters")
    code = get("cell_code")
    if not CELL_CODE_RE.fullmatch(code):
        bad("cell_code", "not a cell code")
    if res.error_count > n:  # a bad row is staged for the micro-grid check only
        return (no,) + (None,) * 7 + (code,) if CELL_CODE_RE.fullmatch(code) else None
    return (no, name, idn, phone, gender, born.isoformat(), household, address, code)


def import_residents(conn: Connection, path: Path, *, dry_run: bool = False,
                     username: str = "gridcmd") -> ResidentImport:  # fmt: skip
    """Import the residents of the file ``path`` in the caller's transaction (a savepoint);
    a known ID number is updated. With any row error, or ``dry_run``, nothing is changed
    (the check itself is logged only when the import happens). TableError when unreadable."""
    res = ResidentImport()
    table = read_rows(path, RESIDENT_COLUMNS, REQUIRED, res)
    if table is None:
        return res
    headers, rows, cols = table
    seen: dict[str, int] = {}
    good = [r for no, cells in rows if (r := _check_row(no, cells, headers, cols, res, seen))]
    with conn.begin_nested() as sp:
        conn.execute(text(
            "CREATE TEMP TABLE resident_import_stage (row_no int, name text, id_number text, "
            "phone text, gender text, birth_date date, household_no text, address text, "
            "cell_code text, cell_id bigint) ON COMMIT DROP"
        ))  # fmt: skip
        copy_rows(conn, "COPY resident_import_stage (row_no, name, id_number, phone, gender, "
                        "birth_date, household_no, address, cell_code) FROM STDIN (FORMAT csv)",
                  good)  # fmt: skip
        conn.execute(text(
            "UPDATE resident_import_stage AS s SET cell_id = c.id FROM grid_cell AS c "
            "WHERE c.code = s.cell_code AND c.level = 6"
        ))  # fmt: skip
        for b in conn.execute(text(
            "SELECT s.row_no, s.cell_code, c.level FROM resident_import_stage AS s "
            "LEFT JOIN grid_cell AS c ON c.code = s.cell_code WHERE s.cell_id IS NULL "
            "ORDER BY s.row_no"
        )):  # fmt: skip
            why = "unknown micro-grid code" if b.level is None else (
                f"a level {b.level} cell; residents belong to micro-grids (level 6)")  # fmt: skip
            res.error(b.row_no, headers[cols["cell_code"]], f"{b.cell_code}: {why}")
        res.inserted = conn.execute(text(
            "SELECT count(*) FROM resident_import_stage AS s WHERE NOT EXISTS "
            "(SELECT 1 FROM resident AS r WHERE r.id_number = s.id_number)"
        )).scalar_one()  # fmt: skip
        res.updated = len(good) - res.inserted
        if res.error_count or dry_run:
            sp.rollback()
            return res
        conn.execute(text(
            "INSERT INTO resident (name, id_number, phone, gender, birth_date, household_no, "
            "  address, cell_id, location, synthetic) "
            "SELECT s.name, s.id_number, s.phone, s.gender, s.birth_date, s.household_no, "
            "  coalesce(s.address, ''), s.cell_id, c.label_point, false "
            "FROM resident_import_stage AS s JOIN grid_cell AS c ON c.id = s.cell_id "
            "ORDER BY s.row_no "
            "ON CONFLICT (id_number) DO UPDATE SET name = excluded.name, "
            "  phone = excluded.phone, household_no = excluded.household_no, "
            "  address = excluded.address, cell_id = excluded.cell_id, "
            "  location = excluded.location, synthetic = false"
        ))  # fmt: skip
        log_security(conn, "roster_change", username=username, target="import residents",
                     detail=f"import {Path(path).name}: {res.inserted} new, "
                            f"{res.updated} updated")  # fmt: skip
        conn.execute(text("DROP TABLE resident_import_stage"))
    return res


def resident_template_rows() -> tuple[list[str], list[str]]:
    """The template's Chinese headers and its example row (marked, so an import skips it).
    The example's ID number is a made-up one with a valid check digit."""
    first17 = "53290119900101001"
    headers = [names[0] for names in RESIDENT_COLUMNS.values()]
    example = [f"{EXAMPLE_MARK}张三", first17 + check_digit(first17), "13800000000",
               "H532901000001", "大理市下关镇示例路1号", "53290100100100101"]  # fmt: skip
    return headers, example
