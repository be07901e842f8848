"""Callbacks of the live layers.

* clientside ``gridcmdLive.tick`` (dashboard/assets/live.js): interval / overlays / filters →
  the events and workers layers' ``data`` from the browser's store of the change feed (the
  points come from ``/live/snapshot`` and ``/live/changes``, never through a server callback);
* clientside ``tickDisabled``: the poll interval runs only while a live overlay is on;
* server: a click on an event or worker marker → the details panel (Dash components, so every
  text is escaped), and for a worker the patrol-playback selection (today by default);
* server: selected worker + period → the track layer and the playback slider's range;
* clientside ``playback``: slider → marker on the track and its local time.

Thin and scoped: ids from clicks are only keys; the rows are re-read with the caller's scope
(:func:`web.caller_scope`, server side) — another area's id finds nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State, ctx, html, no_update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from dashboard import ids
from dashboard.cases import history_note
from geodata import live
from gridcmd import web
from gridcmd.i18n import lang_from_search, t
from gridcmd.settings import Settings
from gridcmd.vocab import CATEGORY_MSGIDS, STATUS_MSGIDS, TZ
from gridcmd.web import log_denial
from layers.live import empty_collection, track_feature_collection

__all__ = ["event_panel", "parse_local", "register", "worker_panel"]

log = logging.getLogger(__name__)
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
NOT_FOUND = "Not found, or outside your jurisdiction."
DB_UNAVAILABLE = "The database is unavailable."
BAD_PERIOD = "Choose a period of up to 7 days, its end after its start."


def _local(iso: str | None, lang: str) -> str:
    if not iso:
        return "—"
    return dt.datetime.fromisoformat(iso).astimezone(TZ).strftime("%Y-%m-%d %H:%M")


def parse_local(value: Any) -> dt.datetime | None:
    """A ``datetime-local`` input value (Dali local time) → aware datetime; None if invalid."""
    if not isinstance(value, str) or len(value) > 32:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=TZ) if parsed.tzinfo is None else None


def _rows(pairs: list[tuple[str, Any]]) -> html.Dl:
    children: list[Any] = []
    for label, value in pairs:
        children += [html.Dt(label), html.Dd(value)]
    return html.Dl(children)


def event_panel(ev: dict[str, Any], lang: str) -> list[Any]:
    """The details panel of one event (``geodata.live.event_detail``); text stays text."""
    cat = t(CATEGORY_MSGIDS.get(ev["category"], ev["category"]), lang)
    status = t(STATUS_MSGIDS.get(ev["status"], ev["status"]), lang)
    parts: list[Any] = [
        html.H3(ev["title"]),
        _rows(
            [
                (t("Category", lang), cat),
                (t("Status", lang), status + (f" · {t('Overdue', lang)}" if ev["overdue"] else "")),
                (t("Grid", lang), f"{ev['cell_name']} ({ev['cell_code']})"),
                (t("Reported", lang), _local(ev["reported_at"], lang)),
                (t("Reporter", lang), ev["reporter"] or "—"),
                (t("Assignee", lang), ev["assignee"] or "—"),
                (t("Due", lang), _local(ev["due_at"], lang)),
                (t("Description", lang), ev["description"] or "—"),
            ]
        ),
    ]
    if ev["photos"]:
        parts.append(
            html.Div(
                [
                    html.A(
                        html.Img(src=f"/media/photo/{pid}", alt=t("Photo", lang)),
                        href=f"/media/photo/{pid}", target="_blank", rel="noopener noreferrer",
                    )  # fmt: skip
                    for pid in ev["photos"]
                ]
            )
        )
    if ev["history"]:
        parts.append(
            html.Ol(
                [
                    html.Li(
                        f"{_local(h['at'], lang)} "
                        f"{t(STATUS_MSGIDS.get(h['to'], h['to']), lang)}"
                        + (f" — {history_note(h['note'], lang)}" if h["note"] else "")
                    )
                    for h in ev["history"][-8:]
                ]
            )
        )
    if ev["synthetic"]:
        parts.append(html.Div(t("Synthetic demo data", lang), className="gc-synthetic"))
    return parts


def worker_panel(w: dict[str, Any], lang: str, stale_after_s: int) -> list[Any]:
    """The details panel of one grid worker (``geodata.live.worker_detail``)."""
    age = w["fix_age_s"]
    if w["duty_status"] != "on_duty":
        status = t("Off duty", lang)
    elif age is None or age > stale_after_s:
        status = t("No recent fix", lang)
    else:
        status = t("On duty", lang)
    age_text = "—" if age is None else (f"{age} s" if age < 120 else f"{round(age / 60)} min")
    parts: list[Any] = [
        html.H3(w["name"]),
        _rows(
            [
                (t("Employee no.", lang), w["employee_no"]),
                (t("Grid", lang), f"{w['cell_name']} ({w['cell_code']})"),
                (t("Status", lang), status),
                (t("Last fix", lang), f"{_local(w['last_fix_at'], lang)} ({age_text})"),
            ]
        ),
    ]
    if w["synthetic"]:
        parts.append(html.Div(t("Synthetic demo data", lang), className="gc-synthetic"))
    return parts


def _click_id(click: Any) -> int | None:
    props = (click or {}).get("properties") if isinstance(click, dict) else None
    if not isinstance(props, dict) or props.get("cluster"):
        return None
    value = props.get("id")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**63:
        return None
    return value


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """Register the live-layer callbacks."""
    stale_after_s = settings.stale_after_s

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
    def details(event_click: Any, worker_click: Any, search: Any) -> tuple:
        lang = lang_from_search(search)
        kind = "worker" if ctx.triggered_id == ids.LIVE_WORKERS else "event"
        target = _click_id(worker_click if kind == "worker" else event_click)
        if target is None:
            return (no_update,) * 7
        scope = web.caller_scope()
        try:
            with engine.connect() as conn:
                if kind == "event":
                    row = live.event_detail(conn, scope_path=scope, event_id=target)
                else:
                    row = live.worker_detail(conn, scope_path=scope, worker_id=target)
        except DBAPIError as exc:
            log.warning("live details: database unavailable (%s)", exc.orig)
            return [html.P(t(DB_UNAVAILABLE, lang))], *(no_update,) * 6
        if row is None:
            log_denial(engine, f"live {kind} {target}")
            return [html.P(t(NOT_FOUND, lang))], *(no_update,) * 6
        if kind == "event":
            return event_panel(row, lang), *(no_update,) * 6
        now = dt.datetime.now(TZ)
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return (
            worker_panel(row, lang, stale_after_s),
            target,
            f"{row['name']} ({row['employee_no']})",
            start.strftime(LOCAL_FORMAT),
            (now + dt.timedelta(minutes=1)).strftime(LOCAL_FORMAT),
            False,
            True,  # open the panel holding the patrol playback
        )

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
    def track(worker: Any, _n: Any, start: Any, end: Any, search: Any) -> tuple:
        lang = lang_from_search(search)
        if isinstance(worker, bool) or not isinstance(worker, int) or worker < 1:
            return empty_collection(), None, 0, 0, ""
        if ctx.triggered_id == ids.LIVE_WORKER:  # a new worker: today so far
            now = dt.datetime.now(TZ)
            since = now.replace(hour=0, minute=0, second=0, microsecond=0)
            until = now + dt.timedelta(minutes=1)
        else:
            since, until = parse_local(start), parse_local(end)
            if since is None or until is None:
                return no_update, no_update, no_update, no_update, t(BAD_PERIOD, lang)
        try:
            with engine.connect() as conn:
                data = live.worker_track(
                    conn, scope_path=web.caller_scope(), worker_id=worker,
                    since=since, until=until,
                )  # fmt: skip
        except ValueError:
            return no_update, no_update, no_update, no_update, t(BAD_PERIOD, lang)
        except DBAPIError as exc:
            log.warning("live track: database unavailable (%s)", exc.orig)
            return no_update, no_update, no_update, no_update, t(DB_UNAVAILABLE, lang)
        if data is None:
            log_denial(engine, f"live track {worker}")
            return empty_collection(), None, 0, 0, t(NOT_FOUND, lang)
        n = len(data["coords"])
        if n == 0:
            return empty_collection(), None, 0, 0, t("No fixes in this period.", lang)
        slim = {"times": data["times"], "coords": data["coords"]}
        return track_feature_collection(data), slim, n - 1, n - 1, no_update
