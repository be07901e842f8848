"""Text hygiene shared by every tier: the spreadsheet formula guard of exports.

Pure functions, no database. One home, so that every exporter guards the same way (the event
table's CSV/XLSX in ``api/exports.py``, and any other table a user can download).
"""

from __future__ import annotations

import unicodedata
from typing import Any

__all__ = ["FORMULA_START", "guard_formula", "needs_formula_guard"]

#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection"),
#: with their full-width forms (a Chinese input method types ``＝``; some spreadsheet programs
#: normalise it on import).
FORMULA_START = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
#: A cell starting with one of these is guarded whatever follows (OWASP: tab, CR; and LF).
_ALWAYS = frozenset("\t\r\n")
#: Unicode categories skipped, like white space, before the first visible character:
#: controls (Cc) and format characters (Cf: bidi controls, zero-width space, BOM).
_INVISIBLE = frozenset({"Cc", "Cf"})


def _invisible(c: str) -> bool:
    return c.isspace() or unicodedata.category(c) in _INVISIBLE


def needs_formula_guard(value: str) -> bool:
    """Whether a spreadsheet could evaluate ``value``: its first character after leading
    white space (space, tab, CR, LF, U+3000 …), control and format characters is one of
    :data:`FORMULA_START` — ``" =HYPERLINK(…)"`` and ``"\\n=cmd"`` as much as ``"=cmd"`` —
    or it starts with a tab, CR or LF."""
    if not value:
        return False
    first = value[0]
    if first in FORMULA_START or first in _ALWAYS:
        return True
    if not _invisible(first):
        return False  # the common case: one look at the first character
    for c in value:
        if not _invisible(c):
            return c in FORMULA_START
    return False


def guard_formula(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would evaluate (see
    :func:`needs_formula_guard`); anything else unchanged. The one formula guard of every
    export."""
    if isinstance(value, str) and needs_formula_guard(value):
        return "'" + value
    return value
