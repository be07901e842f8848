"""The population lookup's export: ``POST /export/residents.csv``, the residents of the
caller's jurisdiction matching a lookup query as CSV (masked values only). Beside the event
exports of ``api/exports.py``; the dashboard's export button posts to it
(``dashboard/assets/population.js``).

Body: JSON ``{"query": "...", "reason": "...", "lang": "zh" | "en"}``. The query is a POST
body, never part of a URL: it may be an ID or phone number, which must not end up in an access
log, a proxy's log or the browser's history. A cookie-authenticated write must be
``application/json`` and same-origin (the gate of ``api/auth.py``; docs/security.md, CSRF),
as the dashboard's other POSTs are; a cross-site request is refused here too.

* The caller needs ``view`` and ``export`` (403 ``forbidden`` otherwise, logged as
  ``denied``); the scope is the caller's jurisdiction from the server-side session, applied
  in the query.
* The query must be one the lookup accepts (:func:`geodata.residents.classify_query`; 400
  ``bad_request``, ``field: "query"``).
* An identifier query (a full ID or phone number, the last 4 or 6 characters) is an identifier
  search, exactly as in the panel (:func:`geodata.residents.search_residents_by_identifier`):
  it needs the ``unmask`` permission (403 ``forbidden``, logged as ``denied`` with the masked
  query) and a reason (400, ``field: "reason"``), counts against the per-account limit (429
  ``rate_limited`` with ``Retry-After``, a ``rate_limit`` alert), and every page of it read is
  an ``id_search`` entry (masked query, hits, reason).
* At most :data:`EXPORT_MAX` rows, masked in SQL (the raw numbers are never read).
* The export is an ``export`` entry of the security log (the masked query and the row count),
  in the transaction of the reads, committed before the answer.
* CSV: UTF-8 with a byte-order mark (spreadsheets then read Chinese correctly), CRLF line
  ends, the header in ``lang``, every cell through :func:`geodata.safe_text.guard_formula`.
  Error answers are ``{"error", "detail"}`` JSON, the detail in ``lang``.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import flask
from sqlalchemy.engine import Connection, Engine

from dashboard.population import (
    BAD_QUERY,
    ID_SEARCH_LIMITED,
    ID_SEARCH_REASON,
    ID_SEARCH_REFUSED,
    NOT_PERMITTED,
    RESIDENTS_EXPORT_PATH,
    export_cells,
    export_header,
)
from geodata.accounts import Caller, has_permission
from geodata.residents import (
    ID_SEARCH_WINDOW_MIN,
    IDENTIFIER_KINDS,
    MAX_LIMIT,
    IdentifierSearchLimited,
    classify_query,
    log_identifier_search_refused,
    masked_query,
    search_residents,
    search_residents_by_identifier,
)
from geodata.safe_text import guard_formula
from geodata.security_log import log_security
from gridcmd import web
from gridcmd.i18n import normalise_lang, t

__all__ = ["EXPORT_MAX", "resident_exports_blueprint", "residents_csv"]

#: Most rows one export holds.
EXPORT_MAX = 5000
FILENAME = "residents.csv"


def residents_csv(rows: list[dict[str, Any]], lang: str) -> str:
    """The CSV text of masked result rows: byte-order mark, header in ``lang``, CRLF line
    ends, every cell guarded against formula injection."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(export_header(lang))
    writer.writerows([guard_formula(v) for v in export_cells(r)] for r in rows)
    return "\ufeff" + buf.getvalue()


def _matches(
    conn: Connection, caller: Caller, query: str, reason: str, *, identifier: bool
) -> list[dict[str, Any]]:
    """The query's matches in the caller's scope, page by page, up to :data:`EXPORT_MAX`."""
    rows: list[dict[str, Any]] = []
    while len(rows) < EXPORT_MAX:
        if identifier:
            page = search_residents_by_identifier(
                conn, caller, query, reason, ip=web.client_ip(), limit=MAX_LIMIT,
                offset=len(rows),
            )  # fmt: skip
        else:
            page = search_residents(conn, caller.scope_path, query, limit=MAX_LIMIT,
                                    offset=len(rows))  # fmt: skip
        rows += page["rows"]
        if len(page["rows"]) < MAX_LIMIT or len(rows) >= page["total"]:
            break
    return rows[:EXPORT_MAX]


def resident_exports_blueprint(engine: Engine) -> flask.Blueprint:
    """The resident export route on ``engine`` (the caller: :func:`gridcmd.web.current_caller`,
    set by the session gate)."""
    bp = flask.Blueprint("resident_exports", __name__)
    target = f"POST {RESIDENTS_EXPORT_PATH}"

    @bp.post(RESIDENTS_EXPORT_PATH)
    def residents() -> flask.Response:
        caller = web.current_caller()  # the gate guarantees a signed-in caller
        body = flask.request.get_json(silent=True)
        body = body if isinstance(body, dict) else {}
        lang = normalise_lang(body.get("lang") if isinstance(body.get("lang"), str) else None)
        if flask.request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
            web.log_denial(engine, target, "403 csrf")
            return web.json_error(403, "csrf", "cross-site export request")
        if not (has_permission(caller, "view") and has_permission(caller, "export")):
            web.log_denial(engine, target, "403 forbidden")
            return web.json_error(403, "forbidden", t(NOT_PERMITTED, lang))
        query = body.get("query") if isinstance(body.get("query"), str) else ""
        reason = body.get("reason") if isinstance(body.get("reason"), str) else ""
        try:
            kind, _ = classify_query(query)
            logged = masked_query(query)
        except ValueError:
            return web.json_error(400, "bad_request", t(BAD_QUERY, lang), field="query")
        identifier = kind in IDENTIFIER_KINDS
        try:
            with engine.begin() as conn:
                rows = _matches(conn, caller, query, reason, identifier=identifier)
                log_security(
                    conn, "export", account_id=web.account_id_of(caller),
                    username=caller.username, ip=web.client_ip(), target="residents",
                    detail=f"query {logged!r}: {len(rows)} rows",
                )  # fmt: skip
        except ValueError:  # an identifier search without a (long enough) reason
            return web.json_error(400, "bad_request", t(ID_SEARCH_REASON, lang), field="reason")
        except PermissionError as exc:  # no unmask permission, or the rate limit reached
            with engine.begin() as conn:
                log_identifier_search_refused(conn, caller, query, exc, ip=web.client_ip())
            if isinstance(exc, IdentifierSearchLimited):
                detail = t(ID_SEARCH_LIMITED, lang, minutes=ID_SEARCH_WINDOW_MIN)
                return web.json_error(429, "rate_limited", detail,
                                      retry_after=ID_SEARCH_WINDOW_MIN * 60)  # fmt: skip
            return web.json_error(403, "forbidden", t(ID_SEARCH_REFUSED, lang))
        headers = {
            "Content-Disposition": f'attachment; filename="{FILENAME}"',
            "Cache-Control": "no-store",
            "X-Gridcmd-Export-Rows": str(len(rows)),
        }
        return flask.Response(
            residents_csv(rows, lang), content_type="text/csv; charset=utf-8", headers=headers
        )

    return bp
