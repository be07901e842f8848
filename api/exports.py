"""Table exports: ``GET /export/events.csv`` and ``GET /export/events.xlsx``.

Same filters as the dashboard's event table, as query parameters (``status``, ``category``,
``priority`` — comma-separated or repeated —, ``from``, ``to`` as YYYY-MM-DD in Dali local
time, ``overdue=1``, ``supervised=1``, ``q``, ``sort``, and ``lang`` = ``zh`` | ``en`` for the
header row and the labels). The rows are **every** event of the caller's jurisdiction matching
the filters, in sort order, up to :data:`geodata.event_table.EXPORT_MAX` (100,000): a larger
result is cut there and the response carries ``X-Gridcmd-Export-Truncated: 1`` and
``X-Gridcmd-Export-Total: N``.

* Authentication: the dashboard session cookie (the gate of ``api/auth.py``: no session →
  redirect to the sign-in page for a browser, 401 JSON otherwise; grid-worker accounts 403).
  The caller needs the ``view`` and ``export`` permissions (403 JSON otherwise, logged as
  ``denied``); the scope is the caller's jurisdiction from the server-side session, applied
  in the query. A cross-site request (``Sec-Fetch-Site: cross-site``) is refused (403).
* Invalid filter values → 400 JSON ``{"error": "bad_request", "detail", "field"}``.
* Every export is an ``export`` entry of the security log (rows, format, filters; of the
  search text only its length, see :func:`geodata.event_table.filters_summary`), written
  and committed before the first byte is sent.
* CSV: UTF-8 with a byte-order mark (Excel opens Chinese text correctly), CRLF line ends,
  streamed in 1,000-row chunks from a server-side cursor. XLSX: the package openpyxl's
  write-only workbook makes, its sheet rows serialised here the way openpyxl writes them
  (see "XLSX" below: ~5× faster), streamed into a compressed temporary file, then sent.
  Memory stays flat at any row count. Timings: bench/exports.py, docs/event-table.md.
* Header row: the column names in the UI language (``lang``), the enumerations (category,
  status, priority, severity) as the table shows them; timestamps in Dali local time
  (UTC+8). See docs/event-table.md.
* Formula injection: a text cell whose first character after leading white space (and
  control/format characters) is ``=``, ``+``, ``-``, ``@`` (or their full-width forms), or
  that starts with a tab, CR or LF, gets a leading ``'``, so a spreadsheet never evaluates
  user text (:func:`geodata.safe_text.guard_formula`, the one guard of every export).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import logging
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import flask
from sqlalchemy.engine import Engine

from dashboard.event_table import export_header, export_values
from geodata.accounts import Caller, has_permission
from geodata.event_table import (
    EXPORT_MAX,
    ROW_KEYS,
    FilterError,
    count_events,
    filters_summary,
    iter_event_rows,
    parse_filters,
)
from geodata.safe_text import guard_formula
from geodata.security_log import log_security
from gridcmd.i18n import normalise_lang
from gridcmd.vocab import TZ
from gridcmd.web import json_error, log_denial

__all__ = ["EXPORTS_PREFIX", "exports_blueprint", "guard_cell", "request_filters", "row_cells"]

log = logging.getLogger(__name__)

EXPORTS_PREFIX = "/export"
_FILTER_KEYS = ("status", "category", "priority", "from", "to", "overdue", "supervised", "q",
                "sort")  # fmt: skip
#: Rows per round trip of the server-side cursor.
_FETCH_BATCH = 2_000
_MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


#: ``value`` with a leading ``'`` when it is text a spreadsheet would evaluate: the one guard
#: of every export, :func:`geodata.safe_text.guard_formula`, under the name the cell writers
#: below (and their tests and benchmark) use for it.
guard_cell = guard_formula


def request_filters(args) -> dict[str, Any]:
    """The filter values of a query string (repeated keys joined with commas)."""
    out: dict[str, Any] = {}
    for key in _FILTER_KEYS:
        values = args.getlist(key)
        if not values:
            continue
        out[key] = values[-1] if key in ("q", "sort", "from", "to", "overdue", "supervised") \
            else ",".join(values)  # fmt: skip
    return out


# ----------------------------------------------------------------------------- cells
# The cells of one row are dashboard.event_table.export_values(row, lang) with guard_cell
# applied to each (and, in CSV, timestamps as text). Calling export_values per row cost about
# as much CPU as fetching the rows (a label look-up and translation per cell); here each column
# gets one converter, and every column whose value is a pure function of (value, lang)
# (labels, names, flags) is memoised, its values computed once by export_values itself, so
# the labels cannot drift from the table's. tests/api/test_exports_cells.py checks the
# equivalence on every enumeration value, both languages and awkward text.

#: Columns passed through as they are (None → ""), guarded: unique per event, not memoised.
_PLAIN_KEYS = frozenset({"id", "title", "description"})
#: Timestamps (aware; shown as naive Dali local time to the second).
_TIME_KEYS = frozenset({"reported_at", "due_at", "supervised_at"})
#: Columns memoised per distinct value (enumerations, names, flags).
_MEMO_KEYS = frozenset({"category", "subcategory", "severity", "priority", "status", "county",
                        "township", "assignee", "department", "overdue", "synthetic"})  # fmt: skip
_TIME_TEXT = "%Y-%m-%d %H:%M:%S"


class _Memo(dict):
    """value → its guarded export cell in column ``key``, computed on first use."""

    def __init__(self, key: str, lang: str) -> None:
        super().__init__()
        self.key, self.lang, self.index = key, lang, ROW_KEYS.index(key)

    def __missing__(self, value: Any) -> Any:
        out = self[value] = guard_cell(export_values({self.key: value}, self.lang)[self.index])
        return out


def _plain(v: Any) -> Any:
    if v is None:
        return ""
    return guard_formula(v)


def _short_uuid(v: Any) -> Any:
    return guard_cell((v or "")[:8])


def _local_time(v: Any) -> Any:
    if v is None:
        return ""
    return v.astimezone(TZ).replace(tzinfo=None, microsecond=0)


def _local_time_text(v: Any) -> str:
    # YYYY-MM-DD HH:MM:SS, as strftime(_TIME_TEXT) writes it, at less than half its cost
    return "" if v is None else v.astimezone(TZ).isoformat(" ", "seconds")[:19]


def row_cells(lang: str, *, text_times: bool = False) -> Callable[[Mapping[str, Any]], list]:
    """A function: geodata row → the export's cells (ROW_KEYS order), i.e.
    ``[guard_cell(v) for v in export_values(row, lang)]``; with ``text_times`` the timestamps
    are ``YYYY-MM-DD HH:MM:SS`` text (CSV) instead of naive datetimes (XLSX date cells)."""
    convert: list[Callable[[Any], Any]] = []
    for i, key in enumerate(ROW_KEYS):
        if key in _PLAIN_KEYS:
            convert.append(_plain)
        elif key in _TIME_KEYS:
            convert.append(_local_time_text if text_times else _local_time)
        elif key == "uuid":
            convert.append(_short_uuid)
        elif key in _MEMO_KEYS:
            convert.append(_Memo(key, lang).__getitem__)
        else:  # a column added later: correct (export_values itself), if not fast

            def slow(v: Any, key: str = key, i: int = i) -> Any:
                v = export_values({key: v}, lang)[i]
                if text_times and isinstance(v, dt.datetime):
                    return v.strftime(_TIME_TEXT)
                return guard_cell(v)

            convert.append(slow)
    pairs = tuple(zip(ROW_KEYS, convert, strict=True))

    def cells(row: Mapping[str, Any]) -> list:
        get = row.get
        return [f(get(k)) for k, f in pairs]

    return cells


# ----------------------------------------------------------------------------- CSV


def _csv_lines(header: list[str], rows: Iterator[list[Any]], batch: int = 1_000) -> Iterator[str]:
    """The CSV text in chunks of ``batch`` rows (rows as :func:`row_cells` with
    ``text_times``): byte-order mark, header, CRLF line ends."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")

    def flush() -> str:
        out = buf.getvalue()
        buf.seek(0)
        buf.truncate(0)
        return out

    writer.writerow(header)
    yield "\ufeff" + flush()
    while chunk := list(itertools.islice(rows, batch)):
        writer.writerows(chunk)
        yield flush()


# ----------------------------------------------------------------------------- XLSX
# openpyxl builds the package (content types, workbook, styles with the date format, theme,
# document properties, the sheet's frozen header row); the data rows are serialised here into
# the sheet's <sheetData>, exactly as openpyxl's write-only worksheet would write them
# (inline strings, <v> numbers, date cells as serial numbers with the date style), but
# without openpyxl's per-cell objects, which cost ~17 µs a cell even through lxml: ~30 s for
# a 100,000-row export. tests/api/test_exports_cells.py compares the sheet XML byte for byte
# with openpyxl's own on awkward values.

_DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
_SHEET_DATA_END = b"</sheetData>"
#: openpyxl's string limit (longer text is cut, as openpyxl's check_string does).
_CELL_MAX = 32_767
#: Characters XML 1.0 cannot hold. openpyxl refuses them (the whole export failed); here they
#: are dropped from the cell.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: Text cells remembered by the sheet writer: at most this many, this long.
_MEMO_MAX, _MEMO_CHARS = 20_000, 40
#: Text escaping as lxml writes element text.
_XML_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def _string_cell(value: str) -> str:
    """What follows ``<c r="A2"`` for a text cell (openpyxl's inline string)."""
    if not value:
        return ' t="inlineStr"></c>'
    value = value[:_CELL_MAX]
    if _XML_SPECIAL.search(value):
        value = _XML_ILLEGAL.sub("", value)
        space = ' xml:space="preserve"' if value != value.strip() else ""
        value = value.translate(_XML_ESCAPE)
    else:
        space = ' xml:space="preserve"' if value != value.strip() else ""
    return f' t="inlineStr"><is><t{space}>{value}</t></is></c>'


class _SheetRows:
    """Serialises data rows (from row 2) as openpyxl's write-only worksheet does."""

    def __init__(self, n_cols: int, date_style: int, epoch: dt.datetime) -> None:
        from openpyxl.utils import get_column_letter
        from openpyxl.utils.datetime import to_excel

        self.letters = [get_column_letter(i) for i in range(1, n_cols + 1)]
        self.date = f' s="{date_style}" t="n"><v>'
        self.to_excel, self.epoch = to_excel, epoch
        # Short repeated text (labels, names) is escaped once; long text (titles,
        # descriptions) is mostly unique and not kept, so memory stays flat.
        self.text: dict[str, str] = {}

    def xml(self, r: int, cells: list[Any]) -> str:
        out = [f'<row r="{r}">']
        text, rs = self.text, f'{r}"'
        for col, v in zip(self.letters, cells, strict=False):
            t = type(v)
            if t is str:
                frag = text.get(v)
                if frag is None:
                    frag = _string_cell(v)
                    if len(v) <= _MEMO_CHARS and len(text) < _MEMO_MAX:
                        text[v] = frag
                out.append(f'<c r="{col}{rs}{frag}')
            elif t is dt.datetime:
                serial = "%.16g" % self.to_excel(v, self.epoch)  # noqa: UP031 (openpyxl's format)
                out.append(f'<c r="{col}{rs}{self.date}{serial}</v></c>')
            elif v is None:
                continue
            elif t is bool:
                out.append(f'<c r="{col}{rs} t="b"><v>{int(v)}</v></c>')
            elif t is int or t is float:
                out.append(f'<c r="{col}{rs} t="n"><v>{"%.16g" % v}</v></c>')  # noqa: UP031
            else:
                out.append(f'<c r="{col}{rs}{_string_cell(str(v))}')
        out.append("</row>")
        return "".join(out)


def _part(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    """A fresh entry for the output with the name, date, compression and mode of ``info``."""
    out = zipfile.ZipInfo(info.filename, info.date_time)
    out.compress_type, out.external_attr = info.compress_type, info.external_attr
    return out


def _xlsx_file(header: list[str], rows: Iterator[list[Any]], batch: int = 1_000) -> Any:
    """A temporary file holding the workbook (rows as :func:`row_cells`; streamed into the
    compressed sheet, never all in memory)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("events")
    ws.freeze_panes = "A2"
    ws.append(header)
    # Register the date style as openpyxl does for a datetime cell given this format.
    probe = WriteOnlyCell(ws, value=dt.datetime(2000, 1, 1))
    probe.number_format = _DATE_FORMAT
    sheet = _SheetRows(len(header), probe.style_id, wb.epoch)
    shell = io.BytesIO()
    wb.save(shell)
    sheet_part = ws.path.lstrip("/")

    f = tempfile.SpooledTemporaryFile(max_size=8_000_000)  # noqa: SIM115 (sent, then closed)
    with zipfile.ZipFile(shell) as zin, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename != sheet_part:
                zout.writestr(_part(info), data)
                continue
            head, tail = data.split(_SHEET_DATA_END, 1)
            with zout.open(_part(info), "w") as out:
                out.write(head)
                r = 2
                while chunk := list(itertools.islice(rows, batch)):
                    xml = []
                    for cells in chunk:
                        xml.append(sheet.xml(r, cells))
                        r += 1
                    out.write("".join(xml).encode("utf-8"))
                out.write(_SHEET_DATA_END + tail)
    f.seek(0)
    return f


def exports_blueprint(engine: Engine, current_caller) -> flask.Blueprint:
    """The export routes on ``engine``; ``current_caller()`` gives the session's caller
    (:func:`gridcmd.web.current_caller`)."""
    bp = flask.Blueprint("exports", __name__)

    def deny(status: int, error: str, detail: str) -> flask.Response:
        log_denial(engine, f"GET {flask.request.path}", f"{status} {error}")
        return json_error(status, error, detail)

    def export(fmt: str) -> flask.Response:
        caller: Caller = current_caller()  # the gate guarantees a signed-in caller
        if flask.request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
            return deny(403, "csrf", "cross-site export request")
        if not (has_permission(caller, "view") and has_permission(caller, "export")):
            return deny(403, "forbidden", "Your role may not export tables.")
        lang = normalise_lang(flask.request.args.get("lang"))
        try:
            filters = parse_filters(request_filters(flask.request.args))
        except FilterError as exc:
            return json_error(400, "bad_request", str(exc), field=exc.field)
        now = dt.datetime.now(dt.UTC)
        with engine.begin() as conn:
            total = count_events(conn, scope_path=caller.scope_path, filters=filters, now=now)
            n = min(total, EXPORT_MAX)
            log_security(
                conn, "export", account_id=caller.account_id, username=caller.username,
                ip=flask.request.remote_addr, target=f"events.{fmt}",
                detail=f"{n} rows{' (cut from ' + str(total) + ')' if total > n else ''}; "
                f"{filters_summary(filters)}",
            )  # fmt: skip
        header = export_header(lang)

        cells = row_cells(lang, text_times=fmt == "csv")

        def rows() -> Iterator[list[Any]]:
            with engine.connect() as conn:
                for r in iter_event_rows(
                    conn, scope_path=caller.scope_path, filters=filters, limit=EXPORT_MAX,
                    now=now, batch=_FETCH_BATCH,
                ):  # fmt: skip
                    yield cells(r)

        stamp = now.strftime("%Y%m%d-%H%M")
        headers = {
            "Content-Disposition": f'attachment; filename="events-{stamp}.{fmt}"',
            "Cache-Control": "no-store",
            "X-Gridcmd-Export-Rows": str(n),
            "X-Gridcmd-Export-Total": str(total),
        }
        if total > n:
            headers["X-Gridcmd-Export-Truncated"] = "1"
        if fmt == "csv":
            body = flask.stream_with_context(_csv_lines(header, rows()))
            return flask.Response(body, content_type=_MIMETYPES["csv"], headers=headers)
        f = _xlsx_file(header, rows())
        resp = flask.send_file(f, mimetype=_MIMETYPES["xlsx"], max_age=0)
        resp.headers.update(headers)
        return resp

    @bp.get(f"{EXPORTS_PREFIX}/events.csv")
    def events_csv() -> flask.Response:
        return export("csv")

    @bp.get(f"{EXPORTS_PREFIX}/events.xlsx")
    def events_xlsx() -> flask.Response:
        return export("xlsx")

    return bp
