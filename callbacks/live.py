"""Callbacks of the live layers.

* clientside ``gridcmdLive.tick`` (dashboard/assets/live.js): interval / overlays / filters →
  the events and workers layers' ``data`` from the browser's store of the change feed (the
  points come from ``/live/snapshot`` and ``/live/changes``, never through a server callback);
* clientside ``tickDisabled``: the poll interval runs only while a live overlay is on;
* server: a click on an event or worker marker → the details panel (rendered by
  ``dashboard/live.py``: Dash components, so every text is escaped), and for a worker the
  patrol-playback selection (today by default);
* server: selected worker + period → the track layer and the playback slider's range;
* clientside ``playback``: slider → marker on the track and its local time.

Thin and scoped: ids from clicks are only keys; the rows are re-read with the caller's scope
(:func:`web.caller_scope`, server side) — another area's id finds nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State, ctx, html, no_update
from sqlalchemy.engine import Engine

from callbacks.guard import clicked_feature_id, deny, guarded, positive_id
from dashboard import fmt, ids
from dashboard.live import event_panel, worker_panel
from geodata import live
from gridcmd import web
from gridcmd.i18n import lang_from_search, t
from gridcmd.settings import Settings
from gridcmd.vocab import TZ
from layers.live import empty_collection, track_feature_collection

__all__ = ["register"]

NOT_FOUND = "Not found, or outside your jurisdiction."
BAD_PERIOD = "Choose a period of up to 7 days, its end after its start."
NO_FIXES = "No fixes in this period."


def _today() -> tuple[dt.datetime, dt.datetime]:
    """The playback's default period: today so far in Dali (to a minute from now)."""
    now = dt.datetime.now(TZ)
    return now.replace(hour=0, minute=0, second=0, microsecond=0), now + dt.timedelta(minutes=1)


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """Register the live-layer callbacks."""
    app.clientside_callback(
        ClientsideFunction("gridcmdLive", "tick"),
        Output(ids.LIVE_EVENTS, "data"),
        Output(ids.LIVE_WORKERS, "data"),
        Input(ids.LIVE_TICK, "n_intervals"),
        Input(ids.LAYERS_CONTROL, "overlays"),
        Input(ids.LIVE_CATEGORY, "value"),
        Input(ids.LIVE_STATUS, "value"),
        Input(ids.LIVE_RANGE, "value"),
        Input(ids.LIVE_HEAT, "value"),
        State(ids.LIVE_CONFIG, "data"),
    )
    app.clientside_callback(
        ClientsideFunction("gridcmdLive", "tickDisabled"),
        Output(ids.LIVE_TICK, "disabled"),
        Input(ids.LAYERS_CONTROL, "overlays"),
        State(ids.LIVE_CONFIG, "data"),
    )
    app.clientside_callback(
        ClientsideFunction("gridcmdLive", "closeDetail"),
        Output(ids.LIVE_DETAIL, "children", allow_duplicate=True),
        Input(ids.LIVE_DETAIL_CLOSE, "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("gridcmdLive", "playback"),
        Output(ids.LIVE_PLAY_TIME, "children"),
        Input(ids.LIVE_PLAY_SLIDER, "value"),
        Input(ids.LIVE_TRACK_DATA, "data"),
    )
    _register_details(app, engine, settings.stale_after_s)
    _register_track(app, engine)


def _register_details(app: dash.Dash, engine: Engine, stale_after_s: int) -> None:
    @app.callback(
        Output(ids.LIVE_DETAIL, "children"),
        Output(ids.LIVE_WORKER, "data"),
        Output(ids.LIVE_PLAY_WHO, "children"),
        Output(ids.LIVE_PLAY_FROM, "value"),
        Output(ids.LIVE_PLAY_TO, "value"),
        Output(ids.LIVE_PLAY_LOAD, "disabled"),
        Output(ids.LIVE_FILTERS, "open"),
        Input(ids.LIVE_EVENTS, "clickData"),
        Input(ids.LIVE_WORKERS, "clickData"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    @guarded(unavailable=lambda message: ([html.P(message)], *(no_update,) * 6))
    def details(event_click: Any, worker_click: Any, search: Any) -> tuple:
        """A marker click → its details; a worker's also selects them for playback."""
        lang = lang_from_search(search)
        kind = "worker" if ctx.triggered_id == ids.LIVE_WORKERS else "event"
        target = clicked_feature_id(worker_click if kind == "worker" else event_click)
        if target is None:
            return (no_update,) * 7
        scope = web.caller_scope()
        with engine.connect() as conn:
            if kind == "event":
                row = live.event_detail(conn, scope_path=scope, event_id=target)
            else:
                row = live.worker_detail(conn, scope_path=scope, worker_id=target)
        if row is None:
            deny(engine, f"live {kind} {target}", ([html.P(t(NOT_FOUND, lang))], *(no_update,) * 6))
        if kind == "event":
            return event_panel(row, lang), *(no_update,) * 6
        start, end = _today()
        return (
            worker_panel(row, lang, stale_after_s),
            target,
            f"{row['name']} ({row['employee_no']})",
            fmt.local_time(start, "input"),
            fmt.local_time(end, "input"),
            False,
            True,  # open the panel holding the patrol playback
        )


def _register_track(app: dash.Dash, engine: Engine) -> None:
    @app.callback(
        Output(ids.LIVE_TRACK, "data"),
        Output(ids.LIVE_TRACK_DATA, "data"),
        Output(ids.LIVE_PLAY_SLIDER, "max"),
        Output(ids.LIVE_PLAY_SLIDER, "value"),
        Output(ids.LIVE_PLAY_TIME, "children", allow_duplicate=True),
        Input(ids.LIVE_WORKER, "data"),
        Input(ids.LIVE_PLAY_LOAD, "n_clicks"),
        State(ids.LIVE_PLAY_FROM, "value"),
        State(ids.LIVE_PLAY_TO, "value"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    @guarded(unavailable=lambda message: (*(no_update,) * 4, message))
    def track(worker: Any, _n: Any, start: Any, end: Any, search: Any) -> tuple:
        """The selected worker (today so far) or a chosen period → the track and the slider."""
        lang = lang_from_search(search)
        worker = positive_id(worker)
        if worker is None:
            return empty_collection(), None, 0, 0, ""
        if ctx.triggered_id == ids.LIVE_WORKER:  # a new worker: today so far
            since, until = _today()
        else:
            since, until = fmt.parse_local(start), fmt.parse_local(end)
        bad_period = (no_update, no_update, no_update, no_update, t(BAD_PERIOD, lang))
        if since is None or until is None:
            return bad_period
        try:
            with engine.connect() as conn:
                data = live.worker_track(conn, scope_path=web.caller_scope(), worker_id=worker,
                                         since=since, until=until)  # fmt: skip
        except ValueError:
            return bad_period
        if data is None:
            nothing = (empty_collection(), None, 0, 0, t(NOT_FOUND, lang))
            deny(engine, f"live track {worker}", nothing)
        n = len(data["coords"])
        if n == 0:
            return empty_collection(), None, 0, 0, t(NO_FIXES, lang)
        slim = {"times": data["times"], "coords": data["coords"]}
        return track_feature_collection(data), slim, n - 1, n - 1, no_update
