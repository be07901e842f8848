"""What every people import shares: the row errors (row number, the file's column header,
reason), the result counts, matching a file's headers to fields, and staging rows by COPY."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from geodata.people_import.table import read_table

__all__ = ["MAX_ERRORS", "ImportResult", "RowError", "copy_rows", "match_columns", "read_rows"]

#: Errors listed at most (the count is always exact).
MAX_ERRORS = 1000


@dataclass(frozen=True)
class RowError:
    """A problem of one row (0 for the file as a whole) and column (its header in the file)."""

    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        if self.column:
            return f"{where}, {self.column}: {self.reason}"
        return f"{where}: {self.reason}"


@dataclass
class ImportResult:
    """What an import did (or, with ``dry_run`` or errors, would do: nothing was changed)."""

    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    moved: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0

    def error(self, row: int, column: str, reason: str) -> None:
        """Record a problem (the first :data:`MAX_ERRORS` are kept, all are counted)."""
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(row, column, reason))


def _norm(header: str) -> str:
    return "".join(header.lower().split()).replace("-", "_")


def match_columns(headers: list[str], columns: Mapping[str, Sequence[str]],
                  required: Sequence[str], res: ImportResult) -> dict[str, int]:  # fmt: skip
    """Field → index of its column in ``headers`` (matched against each field's accepted
    names without case and spaces); a missing required column or a field given twice is a
    row-1 error of ``res``."""
    aliases = {_norm(a): f for f, names in columns.items() for a in names}
    found: dict[str, int] = {}
    for i, h in enumerate(headers):
        f = aliases.get(_norm(h))
        if f is None:
            continue
        if f in found:
            res.error(1, h, f"a second column for {columns[f][0]} ({f})")
        found[f] = i
    for f in required:
        if f not in found:
            res.error(1, columns[f][0],
                      f"missing column ({' / '.join(columns[f][:2])} or {f})")  # fmt: skip
    return found


def read_rows(
    path: Path, columns: Mapping[str, Sequence[str]], required: Sequence[str], res: ImportResult
) -> tuple[list[str], list[tuple[int, list[str]]], dict[str, int]] | None:
    """The file's headers, numbered data rows and field → column index (see
    :func:`match_columns`); None when a column is missing or there is no data row (the
    errors are in ``res``). Sets ``res.rows``. Raises TableError when the file is unreadable."""
    headers, rows = read_table(path)
    cols = match_columns(headers, columns, required, res)
    if res.error_count:
        return None
    res.rows = len(rows)
    if not rows:
        res.error(0, "", "no data rows")
        return None
    return headers, rows, cols


def copy_rows(conn: Connection, copy_sql: str, rows: Iterable[Sequence[Any]]) -> None:
    """Stream ``rows`` into a staging table with ``copy_sql`` (``COPY t (...) FROM STDIN
    (FORMAT csv)``) on the driver connection of ``conn``, inside its transaction."""
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(copy_sql) as copy:
        copy.write(buf.getvalue())
