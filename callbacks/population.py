"""Callbacks of the population lookup (人口信息查询) and the household overlay.

* open/close buttons → the panel's ``hidden``;
* search button / Enter / previous / next → results table (masked), status, page store; a
  search by ID or phone number (full or a fragment) needs the unmask permission and a reason,
  and goes through :func:`geodata.residents.search_residents_by_identifier` (rate limit, an
  ``id_search`` log entry whether it hit or not); a refused one is logged too;
* a row's "show full" → the reason form for that resident (masked label);
* confirm → :func:`geodata.residents.unmask_resident` (permission, scope, reason, audit row in
  the same transaction) → the raw values, once; refusals are logged as ``denied``;
* export → a CSV of the current query's matches (masked), logged as ``export``;
* viewport / checked overlays → the household layer's ``url`` (only while it is checked).

The caller (and so the scope and permissions) comes from :func:`web.current_caller`,
never from the browser. Only the query text, a page number and a resident id come from the
browser, and each is re-checked server side.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import logging
import math
from typing import Any

import dash
import flask
from dash import ALL, Input, Output, State, ctx, no_update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from dashboard import ids
from dashboard.population import (
    COL_CELL,
    COL_HOUSEHOLD,
    COL_ID,
    COL_NAME,
    COL_PHONE,
    HOUSEHOLDS,
    HOUSEHOLDS_PATH,
    pop_message,
    results_table,
    unmasked_values,
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
    resident_detail_masked,
    search_residents,
    search_residents_by_identifier,
    unmask_resident,
)
from geodata.security_log import log_security
from gridcmd import web
from gridcmd.i18n import LANGS, lang_from_search, t
from gridcmd.settings import Settings

__all__ = ["PAGE_SIZE", "household_url", "register"]

log = logging.getLogger(__name__)

PAGE_SIZE = 20
EXPORT_MAX = 5000
#: Household points are fetched for a box snapped outward to this grid (degrees), so small
#: pans reuse the cached response.
BBOX_SNAP = 0.01

DB_UNAVAILABLE = "The database is unavailable."
NOT_PERMITTED = "You are not permitted to do this."
BAD_QUERY = (
    "Search by the start of a name, a full ID number or its last 4 or 6 characters, or a "
    "full mobile number or its last 4 digits."
)
NO_MATCH = "No resident matches in your jurisdiction."
MATCHES = "{n} matches · page {page} of {pages}"
UNKNOWN_RESIDENT = "Unknown resident, or outside your jurisdiction."
REASON_TOO_SHORT = "Give a reason of at least 4 characters."
UNMASK_REFUSED = "You are not permitted to see full ID and phone numbers."
ID_SEARCH_REFUSED = (
    "Searching by ID or phone number needs the permission to see full numbers: search by name."
)
ID_SEARCH_REASON = "Give a reason of at least 4 characters to search by ID or phone number."
ID_SEARCH_LIMITED = "Too many ID or phone number searches: try again in {minutes} minutes."


def _ip() -> str | None:
    return flask.request.remote_addr if flask.has_request_context() else None


def _account(caller: Caller) -> int | None:
    return caller.account_id if caller.account_id > 0 else None


def _page_outputs(lang: str, results, status, store, page: int, pages: int, total: int) -> tuple:
    # A new page also closes the reason form and forgets values shown by an earlier unmask.
    return results, status, store, page <= 1, page >= pages, total == 0, True, []


def household_url(view: Any, base: str = HOUSEHOLDS_PATH) -> str | None:
    """The household layer URL for the map's VIEW store ``{bounds: [[s, w], [n, e]], ...}``:
    the box snapped outward to :data:`BBOX_SNAP` degrees; None when the view is malformed."""
    try:
        (s, w), (n, e) = view["bounds"]
        s, w, n, e = (float(v) for v in (s, w, n, e))
    except (KeyError, TypeError, ValueError):
        return None
    if not all(math.isfinite(v) for v in (s, w, n, e)) or s >= n or w >= e:
        return None
    q = BBOX_SNAP
    box = (
        max(-180.0, math.floor(w / q) * q),
        max(-90.0, math.floor(s / q) * q),
        min(180.0, math.ceil(e / q) * q),
        min(90.0, math.ceil(n / q) * q),
    )
    return f"{base}?bbox=" + ",".join(f"{v:.2f}" for v in box)


def _csv(rows: list[dict[str, Any]], lang: str) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([t(COL_NAME, lang), t(COL_ID, lang), t(COL_PHONE, lang), t(COL_HOUSEHOLD, lang),
                t(COL_CELL, lang), "cell_code"])  # fmt: skip
    for r in rows:
        w.writerow([r["name"], r["id_masked"], r["phone_masked"], r["household_no"],
                    r["cell_name"], r["cell_code"]])  # fmt: skip
    return "\ufeff" + buf.getvalue()  # BOM: spreadsheet programs then read UTF-8


def _lookup(
    engine: Engine, caller: Caller, query: str, reason: Any, *, limit: int, offset: int
) -> dict[str, Any] | str:
    """One page of the lookup for ``caller`` (the query already classified as valid): the
    result of a name search, or of an identifier search (permission, reason, rate limit and
    the ``id_search`` entry, committed); a msgid when refused (the refusal is logged).
    Raises DBAPIError when the database is unavailable."""
    kind, _ = classify_query(query)
    if kind not in IDENTIFIER_KINDS:
        with engine.connect() as conn:
            return search_residents(conn, caller.scope_path, query, limit=limit, offset=offset)
    try:
        with engine.begin() as conn:
            return search_residents_by_identifier(
                conn, caller, query, reason if isinstance(reason, str) else "", ip=_ip(),
                limit=limit, offset=offset,
            )  # fmt: skip
    except ValueError:
        return ID_SEARCH_REASON
    except PermissionError as exc:
        with engine.begin() as conn:
            log_identifier_search_refused(conn, caller, query, exc, ip=_ip())
        return ID_SEARCH_LIMITED if isinstance(exc, IdentifierSearchLimited) else ID_SEARCH_REFUSED


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """Register the population lookup and household overlay callbacks on ``app``."""
    secret = settings.secret_key.get_secret_value().encode()

    def query_key(query: str) -> str:
        # The page store holds a keyed hash of the query, never the query: a typed ID or phone
        # number is not echoed back in a callback output. Paging and export re-read the input.
        return hmac.new(secret, query.encode(), hashlib.sha256).hexdigest()[:24]

    overlay_names = {t(HOUSEHOLDS, lang) for lang in LANGS}
    households_base = app.get_relative_path(HOUSEHOLDS_PATH)

    @app.callback(
        Output(ids.POP_PANEL, "hidden"),
        Output(ids.POP_UNMASK_OUT, "children", allow_duplicate=True),
        Input(ids.POP_OPEN, "n_clicks"),
        Input(ids.POP_CLOSE, "n_clicks"),
        State(ids.POP_PANEL, "hidden"),
        prevent_initial_call=True,
    )
    def toggle_population(_open: Any, _close: Any, hidden: Any) -> tuple:
        """Open button → toggles the panel; close → hides it. Hiding forgets values shown
        by an unmask."""
        hide = True if ctx.triggered_id == ids.POP_CLOSE else not bool(hidden)
        return hide, ([] if hide else no_update)

    @app.callback(
        Output(ids.POP_RESULTS, "children"),
        Output(ids.POP_STATUS, "children"),
        Output(ids.POP_PAGE, "data"),
        Output(ids.POP_PREV, "disabled"),
        Output(ids.POP_NEXT, "disabled"),
        Output(ids.POP_EXPORT, "disabled"),
        Output(ids.POP_UNMASK, "hidden", allow_duplicate=True),
        Output(ids.POP_UNMASK_OUT, "children", allow_duplicate=True),
        Input(ids.POP_SEARCH, "n_clicks"),
        Input(ids.POP_QUERY, "n_submit"),
        Input(ids.POP_PREV, "n_clicks"),
        Input(ids.POP_NEXT, "n_clicks"),
        State(ids.POP_QUERY, "value"),
        State(ids.POP_SEARCH_REASON, "value"),
        State(ids.POP_PAGE, "data"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    def search_population(
        _search: Any, _submit: Any, _prev: Any, _next: Any, query: Any, reason: Any,
        store: Any, search: Any,
    ) -> tuple:  # fmt: skip
        """Query (or the stored query for previous/next) → one page of masked results."""
        lang = lang_from_search(search)
        trig = ctx.triggered_id
        page = 1
        query = query if isinstance(query, str) else ""
        if (
            trig in (ids.POP_PREV, ids.POP_NEXT)
            and isinstance(store, dict)
            and store.get("key") == query_key(query)
        ):
            p = store.get("page")
            page = p if isinstance(p, int) and not isinstance(p, bool) and p > 0 else 1
            page = page - 1 if trig == ids.POP_PREV else page + 1
            page = max(page, 1)
        caller = web.caller_or_none()
        if caller is None or not has_permission(caller, "view"):
            return _page_outputs(lang, pop_message(t(NOT_PERMITTED, lang)), "", None, 1, 1, 0)
        try:
            classify_query(query)
        except ValueError:
            return _page_outputs(lang, pop_message(t(BAD_QUERY, lang)), "", None, 1, 1, 0)
        try:
            res = _lookup(
                engine, caller, query, reason, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
            )
        except DBAPIError as exc:
            log.warning("search_population: database unavailable (%s)", exc.orig)
            return _page_outputs(lang, pop_message(t(DB_UNAVAILABLE, lang)), "", None, 1, 1, 0)
        if isinstance(res, str):
            msg = t(res, lang, minutes=ID_SEARCH_WINDOW_MIN)
            return _page_outputs(lang, pop_message(msg), "", None, 1, 1, 0)
        total = res["total"]
        if total == 0:
            return _page_outputs(lang, pop_message(t(NO_MATCH, lang)), "", None, 1, 1, 0)
        pages = max(1, math.ceil(total / PAGE_SIZE))
        page = min(page, pages)
        table = results_table(res["rows"], lang, can_unmask=has_permission(caller, "unmask"))
        status = t(MATCHES, lang, n=total, page=page, pages=pages)
        store = {"key": query_key(query), "page": page}
        return _page_outputs(lang, table, status, store, page, pages, total)

    @app.callback(
        Output(ids.POP_UNMASK, "hidden"),
        Output(ids.POP_UNMASK_TARGET, "data"),
        Output(ids.POP_UNMASK_WHO, "children"),
        Output(ids.POP_UNMASK_OUT, "children"),
        Output(ids.POP_REASON, "value"),
        Input({"type": ids.POP_SHOW, "id": ALL}, "n_clicks"),
        Input(ids.POP_UNMASK_GO, "n_clicks"),
        Input(ids.POP_UNMASK_CANCEL, "n_clicks"),
        State(ids.POP_UNMASK_TARGET, "data"),
        State(ids.POP_REASON, "value"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    def unmask_form(
        _shows: Any, _go: Any, _cancel: Any, target: Any, reason: Any, search: Any
    ) -> tuple:
        """A row's "show full" → the reason form; confirm → the raw values once (audited);
        cancel → the form hidden and emptied."""
        lang = lang_from_search(search)
        trig = ctx.triggered_id
        if trig == ids.POP_UNMASK_CANCEL:
            return True, None, "", [], ""
        caller = web.caller_or_none()
        if isinstance(trig, dict) and trig.get("type") == ids.POP_SHOW:
            clicks = ctx.triggered[0].get("value") if ctx.triggered else None
            if not isinstance(clicks, int) or clicks <= 0:
                return (no_update,) * 5  # a new results table was rendered: no click
            rid = trig.get("id")
            if caller is None or not has_permission(caller, "unmask"):
                return False, None, "", pop_message(t(UNMASK_REFUSED, lang)), ""
            if isinstance(rid, bool) or not isinstance(rid, int):
                return False, None, "", pop_message(t(UNKNOWN_RESIDENT, lang)), ""
            try:
                with engine.connect() as conn:
                    rec = resident_detail_masked(conn, caller.scope_path, rid)
            except DBAPIError as exc:
                log.warning("unmask_form: database unavailable (%s)", exc.orig)
                return False, None, "", pop_message(t(DB_UNAVAILABLE, lang)), ""
            if rec is None:
                return False, None, "", pop_message(t(UNKNOWN_RESIDENT, lang)), ""
            who = f"{rec['name']} · {rec['id_masked']} · {rec['phone_masked']}"
            return False, rid, who, [], ""
        # Confirm.
        if caller is None:
            return no_update, None, no_update, pop_message(t(UNMASK_REFUSED, lang)), ""
        rid = target if isinstance(target, int) and not isinstance(target, bool) else 0
        try:
            with engine.begin() as conn:
                record = unmask_resident(conn, caller, rid, reason or "", ip=_ip())
        except ValueError:
            return no_update, no_update, no_update, pop_message(t(REASON_TOO_SHORT, lang)), reason
        except PermissionError as exc:
            try:
                with engine.begin() as conn:
                    log_security(
                        conn, "denied", account_id=_account(caller), username=caller.username,
                        ip=_ip(), target=f"resident:{rid}", detail=f"unmask refused: {exc}",
                    )  # fmt: skip
            except DBAPIError:
                pass
            msg = UNMASK_REFUSED if not has_permission(caller, "unmask") else UNKNOWN_RESIDENT
            return no_update, None, no_update, pop_message(t(msg, lang)), ""
        except DBAPIError as exc:
            log.warning("unmask_form: database unavailable (%s)", exc.orig)
            return no_update, no_update, no_update, pop_message(t(DB_UNAVAILABLE, lang)), reason
        # Shown once: the target is cleared, so showing it again needs a new request (and log).
        return False, None, no_update, unmasked_values(record, lang), ""

    @app.callback(
        Output(ids.POP_DOWNLOAD, "data"),
        Output(ids.POP_STATUS, "children", allow_duplicate=True),
        Input(ids.POP_EXPORT, "n_clicks"),
        State(ids.POP_QUERY, "value"),
        State(ids.POP_SEARCH_REASON, "value"),
        State(ids.POP_PAGE, "data"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    def export_population(n_clicks: Any, query: Any, reason: Any, store: Any, search: Any) -> tuple:
        """Export → CSV of the searched query's matches in scope (masked; at most
        :data:`EXPORT_MAX` rows), recorded in the security log. The query must be the one
        the results are for (the page store's key)."""
        lang = lang_from_search(search)
        query = query if isinstance(query, str) else ""
        if not n_clicks or not isinstance(store, dict) or store.get("key") != query_key(query):
            return no_update, no_update
        caller = web.caller_or_none()
        if caller is None or not has_permission(caller, "export"):
            return no_update, t(NOT_PERMITTED, lang)
        try:
            logged = masked_query(query)
        except ValueError:
            return no_update, t(BAD_QUERY, lang)
        try:
            res = _lookup(engine, caller, query, reason, limit=MAX_LIMIT, offset=0)
            if isinstance(res, str):
                return no_update, t(res, lang, minutes=ID_SEARCH_WINDOW_MIN)
            rows = list(res["rows"])
            while len(rows) < min(res["total"], EXPORT_MAX):
                more = _lookup(engine, caller, query, reason, limit=MAX_LIMIT, offset=len(rows))
                if isinstance(more, str):
                    return no_update, t(more, lang, minutes=ID_SEARCH_WINDOW_MIN)
                if not more["rows"]:
                    break
                rows += more["rows"]
            rows = rows[:EXPORT_MAX]
            with engine.begin() as conn:
                log_security(
                    conn, "export", account_id=_account(caller), username=caller.username,
                    ip=_ip(), target="residents", detail=f"query {logged!r}: {len(rows)} rows",
                )  # fmt: skip
        except DBAPIError as exc:
            log.warning("export_population: database unavailable (%s)", exc.orig)
            return no_update, t(DB_UNAVAILABLE, lang)
        data = {"content": _csv(rows, lang), "filename": "residents.csv", "type": "text/csv"}
        return data, no_update

    @app.callback(
        Output(ids.HOUSEHOLD_LAYER, "url"),
        Input(ids.VIEW, "data"),
        Input(ids.LAYERS_CONTROL, "overlays"),
        prevent_initial_call=True,
    )
    def household_layer_url(view: Any, overlays: Any) -> Any:
        """While the households overlay is checked: its URL for the current view (the route
        scopes it server side); otherwise unchanged (nothing is fetched)."""
        if not isinstance(overlays, list) or not overlay_names.intersection(
            o for o in overlays if isinstance(o, str)
        ):
            return no_update
        url = household_url(view, households_base)
        return url if url is not None else no_update
