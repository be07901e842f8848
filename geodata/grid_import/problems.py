"""What a grid import reports: problems tied to a row and field, and the error that stops it.

Row numbers are 1-based and count data records in the file's order (a CSV's header line is
not a row: row 1 is the second line); ``field`` is the file's own field name (``DM``, ``代码``)
or ``geometry``, so the supplier can find the cell to fix.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GridImportError", "Problem"]


@dataclass(frozen=True)
class Problem:
    """One problem: ``row`` (None: the file as a whole), ``field`` (None: no single field)."""

    message: str
    row: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = ", ".join(
            p for p in (f"row {self.row}" if self.row is not None else "", self.field or "") if p
        )
        return f"{where}: {self.message}" if where else self.message


class GridImportError(Exception):
    """The file cannot be imported at all (unreadable, no CRS, a required field missing...);
    ``problems`` lists every reason found before stopping."""

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = Problem(problems)
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))
