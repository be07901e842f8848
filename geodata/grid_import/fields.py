"""Which of a file's fields hold the code, name, parent code and population.

Suppliers name them differently: English (``code``, ``name``), Chinese (``代码``, ``名称``,
``上级代码``, ``人口``) or pinyin initials (``DM``, ``MC``, ``SJDM``, ``RK``) — the latter
is what Chinese survey software writes, since ``.dbf`` field names are limited to 10 bytes.
An option names the field exactly; without one, the first alias present (case-insensitive,
in the order below) is used and the import says which. Code and name are required; parent
and population are optional (no parent field: parents are found by spatial containment).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from geodata.grid_import.problems import GridImportError, Problem

__all__ = ["ALIASES", "FieldMap", "code_value", "population_value", "resolve_fields"]

#: Role → aliases, most specific first.
ALIASES: dict[str, tuple[str, ...]] = {
    "code": (
        "code",
        "cell_code",
        "grid_code",
        "adcode",
        "dm",
        "bm",
        "xzqdm",
        "qhdm",
        "wgdm",
        "wgbm",
        "xzdm",
        "cdm",
        "代码",
        "编码",
        "编号",
        "区划代码",
        "行政区划代码",
        "网格编码",
        "网格代码",
    ),
    "name": (
        "name",
        "cell_name",
        "grid_name",
        "mc",
        "xzqmc",
        "qhmc",
        "wgmc",
        "xzmc",
        "cmc",
        "名称",
        "区划名称",
        "行政区划名称",
        "网格名称",
    ),
    "parent": (
        "parent",
        "parent_code",
        "parentcode",
        "pcode",
        "sjdm",
        "sjbm",
        "fdm",
        "上级代码",
        "上级编码",
        "父代码",
        "所属代码",
    ),
    "population": (
        "population",
        "pop",
        "rk",
        "rks",
        "zrk",
        "rksl",
        "人口",
        "人口数",
        "总人口",
        "人口数量",
    ),
}
_INT_FLOAT = re.compile(r"^\s*(\d+)\.0*\s*$")


@dataclass(frozen=True)
class FieldMap:
    """The file's field for each role (None: not in the file)."""

    code: str
    name: str
    parent: str | None
    population: str | None


def resolve_fields(
    columns: list[str],
    *,
    code: str | None = None,
    name: str | None = None,
    parent: str | None = None,
    population: str | None = None,
) -> tuple[FieldMap, list[str]]:
    """The field map for ``columns`` and one note per role saying which field is used and
    why. Raises :class:`GridImportError` listing every named field that is not a column and
    every required role without a field."""
    given = {"code": code, "name": name, "parent": parent, "population": population}
    lower = {c.lower(): c for c in columns}
    chosen: dict[str, str | None] = {}
    notes: list[str] = []
    problems: list[Problem] = []
    for role, option in given.items():
        if option is not None:
            if option in columns:
                chosen[role] = option
                notes.append(f"{role} field: {option} (--{role}-field)")
            else:
                problems.append(
                    Problem(
                        f"--{role}-field {option!r} is not a field of the file; its fields: "
                        + ", ".join(columns)
                    )
                )
            continue
        found = next((lower[a] for a in ALIASES[role] if a in lower), None)
        chosen[role] = found
        if found is not None:
            notes.append(f"{role} field: {found} (recognised; --{role}-field to choose another)")
        elif role in ("code", "name"):
            problems.append(
                Problem(
                    f"missing field: no {role} field found (looked for "
                    + ", ".join(ALIASES[role][:8])
                    + ", ...); name it with "
                    f"--{role}-field; the file's fields: " + (", ".join(columns) or "(none)")
                )
            )
        elif role == "parent":
            notes.append("parent: by spatial containment (no parent field)")
    if problems:
        raise GridImportError(problems)
    return FieldMap(chosen["code"], chosen["name"], chosen["parent"], chosen["population"]), notes


def code_value(value) -> str | None:
    """A code as text: numbers from a ``.dbf`` numeric field lose their ``.0``; None for an
    empty value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    m = _INT_FLOAT.match(text)
    return (m.group(1) if m else text) or None


def population_value(value) -> int | None:
    """A population as a non-negative integer; None when empty. ValueError otherwise."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip().replace(",", "")
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"population {str(value)!r} is not a number") from None
    if not number.is_integer() or number < 0 or number > 2**31 - 1:
        raise ValueError(f"population {str(value)!r} is not a whole number of people")
    return int(number)
