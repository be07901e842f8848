"""The export's cells and file writers without a database (api/exports.py): ``row_cells`` is
``export_values`` + the formula guard, value for value; the CSV and the XLSX sheet are what the
straightforward implementation (``export_values`` per row, openpyxl's write-only cells, kept
below as the reference) writes, over batches larger than one write chunk; dates are real date
cells; text XML cannot hold is dropped instead of failing the export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import re
import tempfile
import zipfile
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from api.exports import _csv_lines, _xlsx_file, guard_cell, row_cells
from dashboard.event_table import export_header, export_values
from geodata.event_table import ROW_KEYS
from geodata.safe_text import needs_formula_guard
from gridcmd.vocab import EVENT_CATEGORIES, EVENT_STATUSES, PRIORITIES, SEVERITY_MSGIDS

UTC = dt.UTC
AWKWARD = [
    '=HYPERLINK("http://x.invalid","点我")', "+1+2", "-3", "@SUM(A1)", "\tTab", "\rCR", "=",
    "a&b<c>d\"e'f", " leading", "trailing ", "\u3000全角空格", "#N/A", "#DIV/0!", "x\ny",
    "a\r\nb", "", "长" * 33_000, "普通文字", "请联系138****5678", "Ünïcödé 🚒",
]  # fmt: skip


def _rows(n: int, seed: int = 7) -> list[dict]:
    """``n`` geodata-shaped rows cycling through every enumeration value, None, unknown values
    and awkward text, with timestamps in several zones (and Shanghai's 1988 summer time)."""
    rnd = random.Random(seed)
    zones = [UTC, ZoneInfo("Asia/Shanghai"), dt.timezone(dt.timedelta(hours=-5))]
    times = [dt.datetime(2026, 11, 1, 8, 0, 59, 999_999, tzinfo=UTC),
             dt.datetime(1988, 7, 1, 12, 30, tzinfo=UTC),  # UTC+9 in Dali then
             dt.datetime(2025, 12, 31, 16, 0, tzinfo=UTC)]  # fmt: skip
    pick = lambda seq: seq[rnd.randrange(len(seq))]  # noqa: E731
    out = []
    for i in range(n):
        t = pick(times) + dt.timedelta(minutes=rnd.randrange(100_000))
        out.append({
            "id": i + 1, "uuid": f"{rnd.getrandbits(128):032x}",
            "reported_at": t.astimezone(pick(zones)),
            "category": pick([*EVENT_CATEGORIES, None, "mystery"]),
            "subcategory": pick(["劳资纠纷", None, "=cmd", ""]),
            "severity": pick([*SEVERITY_MSGIDS, None]), "priority": pick([*PRIORITIES, None]),
            "status": pick([*EVENT_STATUSES, "unknown"]), "title": pick(AWKWARD),
            "description": pick([*AWKWARD, None]), "county": pick(["大理市", None, "-x"]),
            "township": pick(["下关镇", None]), "assignee": pick(["张三", None, "@someone"]),
            "department": pick(["住建局", None]), "due_at": pick([None, t + dt.timedelta(days=3)]),
            "overdue": pick([True, False, None]), "supervised_at": pick([None, t]),
            "synthetic": pick([True, False]),
        })  # fmt: skip
    return out


# ----------------------------------------------------------------------------- reference
# The straightforward implementation (before the exporter was optimised), kept as the oracle.


def _reference_csv(header: list[str], rows: list[dict], lang: str) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow(
            [v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, dt.datetime) else guard_cell(v)
             for v in export_values(r, lang)]
        )  # fmt: skip
    return "\ufeff" + buf.getvalue()


def _reference_xlsx(header: list[str], rows: list[dict], lang: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("events")
    ws.freeze_panes = "A2"
    ws.append(header)
    for r in rows:
        cells = []
        for v in export_values(r, lang):
            if isinstance(v, dt.datetime):
                c = WriteOnlyCell(ws, value=v)
                c.number_format = "yyyy-mm-dd hh:mm:ss"
            else:
                v = guard_cell(v)
                c = WriteOnlyCell(ws, value=v)
                if isinstance(v, str):
                    c.data_type = "s"
            cells.append(c)
        ws.append(cells)
    with tempfile.TemporaryFile() as f:
        wb.save(f)
        f.seek(0)
        return f.read()


def _parts(data: bytes) -> dict[str, bytes]:
    """The package's parts; lxml writes non-ASCII text as character references where the
    exporter writes UTF-8, so references (other than the CR one) are decoded first. The
    document properties carry the creation time and are left out."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {
            n: re.sub(rb"&#([0-9]+);",
                      lambda m: m[0] if m[1] == b"13" else chr(int(m[1])).encode(), z.read(n))
            for n in z.namelist() if n != "docProps/core.xml"
        }  # fmt: skip


# ----------------------------------------------------------------------------- tests


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_row_cells_are_export_values_with_the_guard(lang):
    rows = _rows(3_000)
    cells, text_cells = row_cells(lang), row_cells(lang, text_times=True)
    for r in rows:
        want = [guard_cell(v) for v in export_values(r, lang)]
        assert cells(r) == want
        assert text_cells(r) == [
            v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, dt.datetime) else v for v in want
        ]
    # Dali's summer time of 1988 (UTC+9) comes from the time zone, not a fixed +8 offset.
    r = {**rows[0], "reported_at": dt.datetime(1988, 7, 1, 12, 30, tzinfo=UTC)}
    assert cells(r)[ROW_KEYS.index("reported_at")] == dt.datetime(1988, 7, 1, 21, 30)


def test_row_cells_guard_every_text_column():
    times = {"reported_at": None, "due_at": None, "supervised_at": None}
    row = {k: "=1+1" for k in ROW_KEYS} | times | {"uuid": "=abcdef0123"}
    for v in row_cells("zh")(row):
        assert v == "" or not needs_formula_guard(v), v


#: Formulas hidden behind leading white space, a line break or an invisible character.
HIDDEN_FORMULAS = [' =HYPERLINK("http://x.invalid","点我")', "\n=cmd|' /C calc'!A0",
                   "\t=1+1", "\r\n@SUM(A1)", "\u3000-2", "\u202a=1"]  # fmt: skip


def test_formulas_behind_leading_white_space_are_guarded_in_csv_and_xlsx():
    # The attack: a title " =HYPERLINK(...)" or "\n=cmd" passed the old first-character check
    # and reached the spreadsheet as a formula.
    rows = [_rows(1)[0] | {"title": f, "description": f, "subcategory": f, "assignee": f}
            for f in HIDDEN_FORMULAS]  # fmt: skip
    keys = ("title", "description", "subcategory", "assignee")
    cells = row_cells("zh", text_times=True)
    body = "".join(_csv_lines(export_header("zh"), (cells(r) for r in rows)))
    parsed = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"), newline="")))[1:]
    for f, got in zip(HIDDEN_FORMULAS, parsed, strict=True):
        for key in keys:
            assert got[ROW_KEYS.index(key)] == "'" + f
    with _xlsx_file(export_header("zh"), (row_cells("zh")(r) for r in rows)) as fh:
        ws = openpyxl.load_workbook(fh)["events"]
    for f, got in zip(HIDDEN_FORMULAS, ws.iter_rows(min_row=2), strict=True):
        assert all(c.data_type != "f" for c in got)
        assert got[ROW_KEYS.index("title")].value == "'" + f


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_csv_is_what_the_reference_writes(lang):
    rows = _rows(1_200)  # several write chunks
    header = export_header(lang)
    cells = row_cells(lang, text_times=True)
    body = "".join(_csv_lines(header, (cells(r) for r in rows), batch=500))
    assert body == _reference_csv(header, rows, lang)
    parsed = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))
    assert parsed[0] == header and len(parsed) == 1 + len(rows)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_xlsx_is_what_openpyxl_writes(lang):
    rows = _rows(1_200)
    header = export_header(lang)
    cells = row_cells(lang)
    with _xlsx_file(header, (cells(r) for r in rows), batch=500) as f:
        ours = f.read()
    assert _parts(ours) == _parts(_reference_xlsx(header, rows, lang))


def test_xlsx_cells_read_back_with_real_dates_and_no_formulas():
    rows = _rows(1_200)
    header = export_header("en")
    cells = row_cells("en")
    with _xlsx_file(header, (cells(r) for r in rows)) as f:
        wb = openpyxl.load_workbook(f)
    ws = wb["events"]
    assert ws.freeze_panes == "A2"
    got = list(ws.iter_rows(min_row=2))
    assert [c.value for c in next(ws.iter_rows(max_row=1))] == header
    assert len(got) == len(rows)
    at = ROW_KEYS.index("reported_at")
    for r, row in zip(rows, got, strict=True):
        c = row[at]
        assert c.is_date and c.number_format == "yyyy-mm-dd hh:mm:ss"
        assert c.value == export_values(r, "en")[at]  # naive Dali local time, to the second
        assert all(x.data_type != "f" for x in row)
        title = row[ROW_KEYS.index("title")].value or ""
        assert not needs_formula_guard(title)


def test_xlsx_drops_characters_xml_cannot_hold():
    row = _rows(1)[0] | {"title": "a\x01b\x0bc\ufffed", "description": "\x00 x"}
    with _xlsx_file(export_header("zh"), iter([row_cells("zh")(row)])) as f:
        ws = openpyxl.load_workbook(f)["events"]
    values = [c.value for c in next(ws.iter_rows(min_row=2))]
    assert values[ROW_KEYS.index("title")] == "abcd"
    assert values[ROW_KEYS.index("description")] == " x"
