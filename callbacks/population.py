"""Callbacks of the population lookup (人口信息查询, ``dashboard/population.py``) and the household
overlay.

* open/close buttons → the panel's ``hidden``;
* search button / Enter / previous / next → results table (masked), status, page store; a
  search by ID or phone number (full or a fragment) needs the unmask permission and a reason,
  and goes through :func:`geodata.residents.search_residents_by_identifier` (rate limit, an
  ``id_search`` log entry whether it hit or not); a refused one is logged too;
* a row's "show full" → the reason form for that resident (masked label);
* confirm → :func:`geodata.residents.unmask_resident` (permission, scope, reason, audit row in
  the same transaction) → the raw values, once; refusals are logged as ``denied``;
* export (clientside, ``gridcmdPopulation.exportCsv`` in ``dashboard/assets/population.js``)
  → ``POST /export/residents.csv`` with the typed query (``api/resident_exports.py``: the same
  rules as the search, logged as ``export``), the answer saved as a file; typing a new query
  disables the button until it is searched, so the file holds the matches on screen;
* viewport / checked overlays → the household layer's ``url`` (only while it is checked).

The caller (and so the scope and permissions) comes from :func:`web.current_caller`,
never from the browser. Only the query text, a page number and a resident id come from the
browser, and each is re-checked server side.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
from typing import Any

import dash
from dash import ALL, ClientsideFunction, Input, Output, State, ctx, no_update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from callbacks.guard import guarded, positive_id, require
from dashboard import ids
from dashboard.population import (
    BAD_QUERY,
    HOUSEHOLDS,
    HOUSEHOLDS_PATH,
    ID_SEARCH_LIMITED,
    ID_SEARCH_REASON,
    ID_SEARCH_REFUSED,
    NOT_PERMITTED,
    pop_message,
    results_table,
    unmasked_values,
)
from geodata.accounts import Caller, has_permission
from geodata.residents import (
    ID_SEARCH_WINDOW_MIN,
    IDENTIFIER_KINDS,
    IdentifierSearchLimited,
    classify_query,
    log_identifier_search_refused,
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
#: Household points are fetched for a box snapped outward to this grid (degrees), so small
#: pans reuse the cached response.
BBOX_SNAP = 0.01

NO_MATCH = "No resident matches in your jurisdiction."
MATCHES = "{n} matches · page {page} of {pages}"
UNKNOWN_RESIDENT = "Unknown resident, or outside your jurisdiction."
REASON_TOO_SHORT = "Give a reason of at least 4 characters."
UNMASK_REFUSED = "You are not permitted to see full ID and phone numbers."


def _page_outputs(results, status, store, page: int, pages: int, total: int) -> tuple:
    # A new page also closes the reason form and forgets values shown by an earlier unmask.
    return results, status, store, page <= 1, page >= pages, total == 0, True, []


def _no_page(message: str) -> tuple:
    """The search's outputs for a message instead of results."""
    return _page_outputs(pop_message(message), "", None, 1, 1, 0)


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


def _lookup(
    engine: Engine, caller: Caller, query: str, reason: Any, *, limit: int, offset: int
) -> dict[str, Any] | str:
    """One page of the lookup for ``caller`` (the query already classified as valid): the
    result of a name search, or of an identifier search (permission, reason, rate limit and
    the ``id_search`` entry, committed); a msgid when refused (the refusal is logged)."""
    kind, _ = classify_query(query)
    if kind not in IDENTIFIER_KINDS:
        with engine.connect() as conn:
            return search_residents(conn, caller.scope_path, query, limit=limit, offset=offset)
    try:
        with engine.begin() as conn:
            return search_residents_by_identifier(
                conn, caller, query, reason if isinstance(reason, str) else "",
                ip=web.client_ip(), limit=limit, offset=offset,
            )  # fmt: skip
    except ValueError:
        return ID_SEARCH_REASON
    except PermissionError as exc:
        with engine.begin() as conn:
            log_identifier_search_refused(conn, caller, query, exc, ip=web.client_ip())
        return ID_SEARCH_LIMITED if isinstance(exc, IdentifierSearchLimited) else ID_SEARCH_REFUSED


def toggle_population(_open: Any, _close: Any, hidden: Any) -> tuple:
    """Open button → toggles the panel; close → hides it. Hiding forgets values shown by an
    unmask."""
    hide = True if ctx.triggered_id == ids.POP_CLOSE else not bool(hidden)
    return hide, ([] if hide else no_update)


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """Register the population lookup and household overlay callbacks on ``app``."""
    app.callback(
        Output(ids.POP_PANEL, "hidden"),
        Output(ids.POP_UNMASK_OUT, "children", allow_duplicate=True),
        Input(ids.POP_OPEN, "n_clicks"),
        Input(ids.POP_CLOSE, "n_clicks"),
        State(ids.POP_PANEL, "hidden"),
        prevent_initial_call=True,
    )(toggle_population)
    _register_search(app, engine, settings.secret_key.get_secret_value().encode())
    _register_unmask(app, engine)
    _register_export(app)
    _register_households(app)


def _register_search(app: dash.Dash, engine: Engine, secret: bytes) -> None:
    def query_key(query: str) -> str:
        # The page store holds a keyed hash of the query, never the query: a typed ID or phone
        # number is not echoed back in a callback output. Paging re-reads the input.
        return hmac.new(secret, query.encode(), hashlib.sha256).hexdigest()[:24]

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
    @guarded(unavailable=_no_page)
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
            page = positive_id(store.get("page")) or 1
            page = max(page - 1 if trig == ids.POP_PREV else page + 1, 1)
        caller = require(engine, "view", _no_page(t(NOT_PERMITTED, lang)))
        try:
            classify_query(query)
        except ValueError:
            return _no_page(t(BAD_QUERY, lang))
        offset = (page - 1) * PAGE_SIZE
        res = _lookup(engine, caller, query, reason, limit=PAGE_SIZE, offset=offset)
        if isinstance(res, str):
            return _no_page(t(res, lang, minutes=ID_SEARCH_WINDOW_MIN))
        total = res["total"]
        if total == 0:
            return _no_page(t(NO_MATCH, lang))
        pages = max(1, math.ceil(total / PAGE_SIZE))
        page = min(page, pages)
        table = results_table(res["rows"], lang, can_unmask=has_permission(caller, "unmask"))
        status = t(MATCHES, lang, n=total, page=page, pages=pages)
        store = {"key": query_key(query), "page": page}
        return _page_outputs(table, status, store, page, pages, total)


def _unmask_unavailable(message: str) -> tuple:
    """The reason form's outputs when the database is down: the form stays (and keeps the
    typed reason) on a confirm, and is shown with the message on a "show full"."""
    if ctx.triggered_id == ids.POP_UNMASK_GO:
        return no_update, no_update, no_update, pop_message(message), no_update
    return False, None, "", pop_message(message), ""


def _register_unmask(app: dash.Dash, engine: Engine) -> None:
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
    @guarded(unavailable=_unmask_unavailable)
    def unmask_form(
        _shows: Any, _go: Any, _cancel: Any, target: Any, reason: Any, search: Any
    ) -> tuple:
        """A row's "show full" → the reason form; confirm → the raw values once (audited);
        cancel → the form hidden and emptied."""
        lang = lang_from_search(search)
        trig = ctx.triggered_id
        if trig == ids.POP_UNMASK_CANCEL:
            return True, None, "", [], ""
        if isinstance(trig, dict) and trig.get("type") == ids.POP_SHOW:
            return _show_form(trig, lang)
        return _confirm(target, reason, lang)

    def _show_form(trig: dict, lang: str) -> tuple:
        clicks = ctx.triggered[0].get("value") if ctx.triggered else None
        if not isinstance(clicks, int) or clicks <= 0:
            return (no_update,) * 5  # a new results table was rendered: no click
        caller = require(engine, "unmask", (False, None, "", pop_message(t(UNMASK_REFUSED, lang)),
                                            ""))  # fmt: skip
        rid = trig.get("id")
        unknown = (False, None, "", pop_message(t(UNKNOWN_RESIDENT, lang)), "")
        if isinstance(rid, bool) or not isinstance(rid, int):
            return unknown
        with engine.connect() as conn:
            rec = resident_detail_masked(conn, caller.scope_path, rid)
        if rec is None:
            return unknown
        return False, rid, f"{rec['name']} · {rec['id_masked']} · {rec['phone_masked']}", [], ""

    def _confirm(target: Any, reason: Any, lang: str) -> tuple:
        caller = web.caller_or_none()
        if caller is None:
            return no_update, None, no_update, pop_message(t(UNMASK_REFUSED, lang)), ""
        rid = target if isinstance(target, int) and not isinstance(target, bool) else 0
        try:
            with engine.begin() as conn:
                record = unmask_resident(conn, caller, rid, reason or "", ip=web.client_ip())
        except ValueError:
            return no_update, no_update, no_update, pop_message(t(REASON_TOO_SHORT, lang)), reason
        except PermissionError as exc:
            _log_unmask_refused(engine, caller, rid, exc)
            msg = UNMASK_REFUSED if not has_permission(caller, "unmask") else UNKNOWN_RESIDENT
            return no_update, None, no_update, pop_message(t(msg, lang)), ""
        # Shown once: the target is cleared, so showing it again needs a new request (and log).
        return False, None, no_update, unmasked_values(record, lang), ""


def _log_unmask_refused(engine: Engine, caller: Caller, rid: int, exc: Exception) -> None:
    """A refused unmask is audited like an unmask: one ``denied`` entry per attempt, naming
    the caller and the resident (not folded into the denial throttle: each attempt to see a
    person's numbers is the auditor's business)."""
    try:
        with engine.begin() as conn:
            log_security(
                conn, "denied", account_id=web.account_id_of(caller), username=caller.username,
                ip=web.client_ip(), target=f"resident:{rid}", detail=f"unmask refused: {exc}",
            )  # fmt: skip
    except DBAPIError as err:  # the refusal stands even if it cannot be logged
        log.warning("unmask refusal not logged: %s", err.orig)


def _register_export(app: dash.Dash) -> None:
    app.clientside_callback(
        ClientsideFunction("gridcmdPopulation", "exportCsv"),
        Output(ids.POP_STATUS, "children", allow_duplicate=True),
        Input(ids.POP_EXPORT, "n_clicks"),
        State(ids.POP_QUERY, "value"),
        State(ids.POP_SEARCH_REASON, "value"),
        State(ids.URL, "search"),
        State(ids.POP_EXPORT_CONFIG, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("gridcmdPopulation", "exportStale"),
        Output(ids.POP_EXPORT, "disabled", allow_duplicate=True),
        Input(ids.POP_QUERY, "value"),
        prevent_initial_call=True,
    )


def _register_households(app: dash.Dash) -> None:
    overlay_names = {t(HOUSEHOLDS, lang) for lang in LANGS}
    households_base = app.get_relative_path(HOUSEHOLDS_PATH)

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
