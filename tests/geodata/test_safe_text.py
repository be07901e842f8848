"""geodata/safe_text.py: the formula guard of every export (no database)."""

from __future__ import annotations

import pytest

from geodata.safe_text import guard_formula, needs_formula_guard

#: Text a spreadsheet evaluates (or could): the old guard only looked at the first character,
#: so leading white space or a line break before the ``=`` slipped through.
EVALUATED = [
    "=1+1", "+1", "-3", "@SUM(A1)", "\tTab", "\rCR", "\nLF",
    ' =HYPERLINK("http://x.invalid","点我")', "\n=cmd|' /C calc'!A0", "\t=1", "\r=1",
    "\r\n@SUM(A1)", "  \t -2", "\u3000=1", "\u00a0+1", "\u202a=1", "\u200b@x", "\ufeff=1",
    "\x01=1", "＝1+1", " ＠x",
]  # fmt: skip
INERT = ["", "普通文字", " leading", "a=b", "x\ny", "\u3000全角空格", "#N/A", "1-2", " ", "\u202e"]


@pytest.mark.parametrize("value", EVALUATED)
def test_text_a_spreadsheet_would_evaluate_is_guarded(value):
    assert needs_formula_guard(value)
    assert guard_formula(value) == "'" + value


@pytest.mark.parametrize("value", INERT)
def test_plain_text_is_left_alone(value):
    assert not needs_formula_guard(value)
    assert guard_formula(value) == value


@pytest.mark.parametrize("value", [None, 3, -3, 1.5, True])
def test_non_text_is_left_alone(value):
    assert guard_formula(value) is value


def test_one_guard_everywhere():
    # The exporters use this function, not a copy of their own.
    import api.exports

    assert api.exports.guard_cell is guard_formula


# ----------------------------------------------------------------------------- bidi controls

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def test_every_bidi_control_is_stripped():
    from geodata.safe_text import BIDI_CONTROLS, clean_text, strip_bidi

    assert set(BIDI) == BIDI_CONTROLS
    # The attack: "…\u202egnp.exe" displays as "…exe.png".
    assert strip_bidi("照片\u202egnp.exe") == "照片gnp.exe"
    assert strip_bidi(f"a{BIDI}b") == "ab"
    assert clean_text(f"标题{BIDI}\x00\x07\n\t🏠 عربي") == "标题\n\t🏠 عربي"  # RTL letters stay
    assert not set(clean_text(BIDI * 3)) & BIDI_CONTROLS
