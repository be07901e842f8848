"""Table exports: ``GET /export/events.csv`` and ``GET /export/events.xlsx`` (issue 6 §4).

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
  streamed row by row from a server-side cursor. XLSX: openpyxl's write-only workbook
  (constant memory; assembled in a temporary file, then sent).
* Header row: the column names in the UI language (``lang``), the enumerations (category,
  status, priority, severity) as the table shows them; timestamps in Dali local time
  (UTC+8). See docs/event-table.md.
* Formula injection: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return gets a leading ``'``, so a spreadsheet never evaluates user text.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import tempfile
from collections.abc import Iterator
from typing import Any

import flask
from sqlalchemy.engine import Engine

from dashboard.event_table import export_header, export_values
from dashboard.i18n import normalise_lang
from geodata.accounts import Caller, has_permission
from geodata.event_table import (
    EXPORT_MAX,
    FilterError,
    count_events,
    filters_summary,
    iter_event_rows,
    parse_filters,
)
from geodata.security_log import log_denied_throttled, log_security

__all__ = ["EXPORTS_PREFIX", "exports_blueprint", "guard_cell", "request_filters"]

log = logging.getLogger(__name__)

EXPORTS_PREFIX = "/export"
#: Characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FILTER_KEYS = ("status", "category", "priority", "from", "to", "overdue", "supervised", "q",
                "sort")  # fmt: skip
_MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def guard_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would evaluate."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


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


def _json(status: int, error: str, detail: str, **extra: str) -> flask.Response:
    resp = flask.jsonify(error=error, detail=detail, **extra)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _csv_lines(header: list[str], rows: Iterator[list[Any]]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")

    def flush() -> str:
        out = buf.getvalue()
        buf.seek(0)
        buf.truncate(0)
        return out

    writer.writerow(header)
    yield "\ufeff" + flush()
    for n, row in enumerate(rows, 1):
        writer.writerow(
            [v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, dt.datetime) else guard_cell(v)
             for v in row]
        )  # fmt: skip
        if n % 500 == 0:
            yield flush()
    yield flush()


def _xlsx_file(header: list[str], rows: Iterator[list[Any]]) -> Any:
    """A temporary file holding the workbook (write-only mode: rows are not kept)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("events")
    ws.freeze_panes = "A2"
    ws.append(header)
    for row in rows:
        cells = []
        for v in row:
            if isinstance(v, dt.datetime):
                c = WriteOnlyCell(ws, value=v)
                c.number_format = "yyyy-mm-dd hh:mm:ss"
            else:
                v = guard_cell(v)
                c = WriteOnlyCell(ws, value=v)
                if isinstance(v, str):
                    c.data_type = "s"  # never a formula, whatever the text
            cells.append(c)
        ws.append(cells)
    f = tempfile.SpooledTemporaryFile(max_size=8_000_000)  # noqa: SIM115 (sent, then closed)
    wb.save(f)
    f.seek(0)
    return f


def exports_blueprint(engine: Engine, current_caller) -> flask.Blueprint:
    """The export routes on ``engine``; ``current_caller()`` gives the session's caller
    (:func:`callbacks.current_caller`)."""
    bp = flask.Blueprint("exports", __name__)

    def deny(caller: Caller | None, status: int, error: str, detail: str) -> flask.Response:
        with engine.begin() as conn:
            log_denied_throttled(
                conn,
                account_id=caller.account_id if caller else None,
                username=caller.username if caller else None,
                ip=flask.request.remote_addr,
                target=f"GET {flask.request.path}",
                detail=f"{status} {error}",
            )
        return _json(status, error, detail)

    def export(fmt: str) -> flask.Response:
        caller: Caller = current_caller()  # the gate guarantees a signed-in caller
        if flask.request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
            return deny(caller, 403, "csrf", "cross-site export request")
        if not (has_permission(caller, "view") and has_permission(caller, "export")):
            return deny(caller, 403, "forbidden", "Your role may not export tables.")
        lang = normalise_lang(flask.request.args.get("lang"))
        try:
            filters = parse_filters(request_filters(flask.request.args))
        except FilterError as exc:
            return _json(400, "bad_request", str(exc), field=exc.field)
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

        def rows() -> Iterator[list[Any]]:
            with engine.connect() as conn:
                for r in iter_event_rows(
                    conn, scope_path=caller.scope_path, filters=filters, limit=EXPORT_MAX,
                    now=now,
                ):  # fmt: skip
                    yield export_values(r, lang)

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
