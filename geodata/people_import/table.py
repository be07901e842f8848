"""Reading a table (CSV in UTF-8, UTF-8 with BOM or GB18030; XLSX through openpyxl in
read-only mode) into a header row and numbered data rows, and writing template files.
Row numbers are the file's own: the header is row 1, the first data row row 2."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

__all__ = ["TableError", "read_table", "write_template"]

#: The first cell of a template's example row starts with this; rows marked so are skipped.
EXAMPLE_MARK = "示例"


class TableError(ValueError):
    """The file cannot be read as a table (format, encoding, no header)."""


def _decode(data: bytes) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise TableError("the CSV is neither UTF-8 nor GB18030 text")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone number typed as a number in Excel
    return str(value).strip()


def read_table(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """``(headers, rows)`` of the CSV or XLSX file ``path``: headers stripped, rows as
    ``(row number, cells as text)``; blank rows and template example rows are left out.
    TableError when the file cannot be read."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            raw = _read_xlsx(path)
        elif suffix in (".csv", ".txt"):
            raw = list(csv.reader(io.StringIO(_decode(path.read_bytes()))))
        else:
            raise TableError(f"{path.name}: expected a .csv or .xlsx file")
    except OSError as exc:
        raise TableError(f"{path}: {exc.strerror or exc}") from None
    except csv.Error as exc:
        raise TableError(f"{path.name}: not a CSV file ({exc})") from None
    if not raw:
        raise TableError(f"{path.name}: the file is empty (no header row)")
    headers = [_cell(h) for h in raw[0]]
    rows = []
    for no, values in enumerate(raw[1:], start=2):
        cells = [_cell(v) for v in values]
        if not any(cells) or cells[0].startswith(EXAMPLE_MARK):
            continue
        rows.append((no, cells + [""] * (len(headers) - len(cells))))
    return headers, rows


def _read_xlsx(path: Path) -> list[list[object]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, ValueError, OSError) as exc:
        raise TableError(f"{path.name}: not an XLSX workbook ({exc})") from None
    except Exception as exc:  # zipfile.BadZipFile and friends
        raise TableError(f"{path.name}: not an XLSX workbook ({type(exc).__name__})") from None
    try:
        return [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
    finally:
        wb.close()


def write_template(path: Path, fmt: str, headers: Sequence[str],
                   example: Sequence[str]) -> None:  # fmt: skip
    """Write a template: the header row and one example row (its first cell starts with
    :data:`EXAMPLE_MARK`, so an import skips it). ``fmt`` 'csv' (UTF-8 with BOM, as Excel
    opens it) or 'xlsx'."""
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(headers)
        w.writerow(example)
        Path(path).write_text(buf.getvalue(), encoding="utf-8-sig")
    elif fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.append(list(headers))
        ws.append(list(example))
        for col in ws.columns:  # text, so phone numbers and codes keep their digits
            for c in col:
                c.number_format = "@"
        wb.save(path)
    else:
        raise ValueError(f"unknown template format {fmt!r} (csv or xlsx)")
