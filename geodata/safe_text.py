"""Text hygiene shared by every tier: free text as it is stored, and the spreadsheet formula
guard of exports.

Pure functions, no database. One home, so that every entry point cleans text the same way
(:func:`clean_text`: the phone API's schemas, the case workflow's notes, the roster) and every
exporter guards the same way (the event table's CSV/XLSX in ``api/exports.py``, and any other
table a user can download).
"""

from __future__ import annotations

import unicodedata
from typing import Any

__all__ = [
    "BIDI_CONTROLS",
    "FORMULA_START",
    "clean_text",
    "guard_formula",
    "needs_formula_guard",
    "strip_bidi",
]

#: Bidirectional formatting controls: embeddings and overrides (U+202A–U+202E), isolates
#: (U+2066–U+2069), the LTR/RTL marks (U+200E, U+200F) and the Arabic letter mark (U+061C).
#: One in a title makes ``"…\u202egnp.exe"`` display as ``"…exe.png"``.
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
_NO_BIDI = {ord(c): None for c in BIDI_CONTROLS}

#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection"),
#: with their full-width forms (a Chinese input method types ``＝``; some spreadsheet programs
#: normalise it on import).
FORMULA_START = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
#: A cell starting with one of these is guarded whatever follows (OWASP: tab, CR; and LF).
_ALWAYS = frozenset("\t\r\n")
#: Unicode categories skipped, like white space, before the first visible character:
#: controls (Cc) and format characters (Cf: bidi controls, zero-width space, BOM).
_INVISIBLE = frozenset({"Cc", "Cf"})


def strip_bidi(value: str) -> str:
    """``value`` without bidirectional controls (:data:`BIDI_CONTROLS`): text displays in the
    order it is stored. Scripts written right to left still display right to left (that
    comes from the letters themselves); only the explicit overrides go."""
    return value.translate(_NO_BIDI)


def clean_text(value: str) -> str:
    """Free text as it is stored: control characters (except newline and tab), lone
    surrogates and bidirectional controls dropped; CJK (incl. 4-byte) and emoji kept.

    PostgreSQL refuses NUL in text and lone surrogates cannot be encoded to UTF-8, so both
    would otherwise fail deep in the driver; bidi controls would let text display as
    something else than it is (:func:`strip_bidi`)."""
    return "".join(
        ch for ch in strip_bidi(value)
        if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs")
    )  # fmt: skip


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
