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
