"""Live layers: events and workers on the map, their filters, details on click, a worker's
track today, and the change feed that brings new events/positions within ~1 s.

* filters (category, status, time range) + viewport (VIEW store) → events layer ``data``
  (``geodata.live.events_geojson``: scoped, padded viewport box, newest first, capped at
  :data:`EVENT_LIMIT` points — data travels in the callback, points are small);
* viewport → workers layer ``data``;
* every second (``dcc.Interval``) the browser's cursor (a ``dcc.Store``) goes to
  ``geodata.live.live_delta``: the database is asked what changed after it, so a change
  written by any process or host is seen by every process (nothing process-local). Only the
  changed rows travel, into the LIVE_DELTA store; ``gridcmdLive.mergeDelta`` (clientside)
  merges them into the layers' data by id;
* click on an event → details overlay; on a worker → details + its track (today, or the
  period chosen in the filters overlay: patrol playback).

Thin: scope from :func:`callbacks.caller_scope` (server side), one geodata call, one layers
/ component call. No module state.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

import dash
from dash import ClientsideFunction, Input, Output, State, html, no_update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from callbacks import caller_scope
from dashboard import ids
from dashboard.i18n import category_name, lang_from_search, t
from dashboard.live import (
    RANGES,
    STATUS_MSGIDS,
    TRACK_RANGES,
    WORKER_STATUS_MSGIDS,
    event_texts,
)
from geodata import live
from geodata.stats import TIMEZONE
from gridcmd.settings import Settings
from layers.events import event_hideout
from layers.viewport import bounds_to_bbox
from layers.workers import track_collection

__all__ = [
    "EVENT_LIMIT",
    "STALE_AFTER_S",
    "padded_bbox",
    "register",
    "since_for",
    "track_since",
]

log = logging.getLogger(__name__)

#: Most event points sent to one map (newest first); the rest is counted as truncated.
EVENT_LIMIT = 3000
#: Most worker points sent to one map (on duty first): at the prefecture-wide zoom the whole
#: fleet (25,884) would be ~7 MB through callback data; the cap keeps a page load light.
WORKER_LIMIT = 3000
#: A worker on duty without a fix for this long is drawn as "stale" (seconds).
STALE_AFTER_S = 900
#: Fraction of the view's size added on each side of the box the points are fetched for.
PAD = 0.5


def padded_bbox(view: Any) -> tuple[float, float, float, float] | None:
    """The VIEW store's bounds padded by :data:`PAD`, clamped to lon/lat; None if absent."""
    try:
        x0, y0, x1, y1 = bounds_to_bbox(view["bounds"])
    except (KeyError, TypeError, ValueError):
        return None
    dx, dy = (x1 - x0) * PAD, (y1 - y0) * PAD
    return (max(-180.0, x0 - dx), max(-90.0, y0 - dy), min(180.0, x1 + dx), min(90.0, y1 + dy))


def since_for(range_key: str | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """Start of the time range ``range_key`` (``24h``/``7d``/``30d``; ``all`` or unknown:
    None)."""
    span = RANGES.get(range_key or "", ("", None))[1]
    return None if span is None else (now or dt.datetime.now(dt.UTC)) - span


def _filters(categories: Any, statuses: Any) -> tuple[list | None, list | None]:
    return (list(categories) if categories else None, list(statuses) if statuses else None)


def _row(label: str, value: Any) -> list[Any]:
    return [html.Dt(label), html.Dd("" if value is None else str(value))]


def _when(iso: str | None) -> str:
    if not iso:
        return ""
    local = dt.datetime.fromisoformat(iso).astimezone(ZoneInfo(TIMEZONE))
    return local.strftime("%Y-%m-%d %H:%M")


def _age(seconds: int | None, lang: str) -> str:
    if seconds is None:
        return t("No fix yet", lang)
    if seconds < 120:
        return t("{n} s ago", lang, n=seconds)
    if seconds < 7200:
        return t("{n} min ago", lang, n=round(seconds / 60))
    if seconds < 172800:
        return t("{n} h ago", lang, n=round(seconds / 3600))
    return t("{n} days ago", lang, n=round(seconds / 86400))


def event_panel(d: dict[str, Any], lang: str) -> list[Any]:
    """Details overlay of an event (``geodata.live.event_detail``); Dash escapes the text."""
    rows = (
        _row(t("Category", lang), category_name(d["category"], lang))
        + _row(t("Status", lang), t(STATUS_MSGIDS.get(d["status"], d["status"]), lang))
        + _row(t("Reported at", lang), _when(d["reported_at"]))
        + _row(t("Grid", lang), d["cell_name"])
    )
    if d.get("overdue"):
        rows += _row(t("Overdue", lang), _when(d.get("due_at")))
    return [
        html.H3(d["title"]),
        html.Dl(rows),
        html.P(d.get("description") or "", className="gc-live-desc"),
    ]


def track_since(period: Any, now: dt.datetime) -> dt.datetime:
    """Start of a worker-track period ending at ``now``: ``today`` (or anything unknown) is
    the local midnight of ``now``; ``24h`` and ``7d`` count back from ``now``."""
    span = RANGES[period][1] if period in TRACK_RANGES and period in RANGES else None
    if span is not None:
        return now - span
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def worker_panel(
    track: dict[str, Any], status: str | None, lang: str, period: Any = "today"
) -> list[Any]:
    """Details overlay of a worker (``geodata.live.worker_track`` properties)."""
    p = track["properties"]
    n = len(p.get("times") or [])
    rows = _row(t("Grid", lang), p["cell_name"]) + _row(
        t("Last fix", lang), _age(p.get("fix_age_s"), lang)
    )
    if status:
        rows = _row(t("Status", lang), t(WORKER_STATUS_MSGIDS.get(status, status), lang)) + rows
    label = t(TRACK_RANGES.get(period, "Today"), lang)
    rows += _row(t("Track", lang) + " · " + label, t("{n} fixes", lang, n=n))
    return [html.H3(p["name"]), html.Dl(rows)]


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """Register the live-layer callbacks on ``app``."""
    del settings  # STALE_AFTER_S / EVENT_LIMIT are constants until settings grow them

    @app.callback(
        Output(ids.LIVE_EVENTS, "data"),
        Input(ids.LIVE_CATEGORY, "value"),
        Input(ids.LIVE_STATUS, "value"),
        Input(ids.LIVE_RANGE, "value"),
        Input(ids.VIEW, "data"),
    )
    def load_events(categories: Any, statuses: Any, range_key: Any, view: Any) -> Any:
        """Filters or viewport changed → the events of the (padded) view."""
        cats, sts = _filters(categories, statuses)
        try:
            with engine.connect() as conn:
                return live.events_geojson(
                    conn, scope_path=caller_scope(), bbox=padded_bbox(view), categories=cats,
                    statuses=sts, since=since_for(range_key), limit=EVENT_LIMIT,
                )  # fmt: skip
        except ValueError as exc:  # a crafted filter value from the browser
            log.info("load_events: %s", exc)
            return no_update
        except DBAPIError as exc:
            log.warning("load_events: database unavailable (%s)", exc.orig)
            return no_update

    @app.callback(Output(ids.LIVE_WORKERS, "data"), Input(ids.VIEW, "data"))
    def load_workers(view: Any) -> Any:
        """Viewport changed → the workers of the (padded) view."""
        try:
            with engine.connect() as conn:
                return live.workers_geojson(
                    conn, scope_path=caller_scope(), bbox=padded_bbox(view),
                    stale_after_s=STALE_AFTER_S, limit=WORKER_LIMIT,
                )  # fmt: skip
        except DBAPIError as exc:
            log.warning("load_workers: database unavailable (%s)", exc.orig)
            return no_update

    @app.callback(
        Output(ids.LIVE_EVENTS, "hideout"),
        Input(ids.LIVE_HEAT, "value"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    def heat_style(value: Any, search: str | None) -> dict[str, Any]:
        """Heat toggle → the events layer's hideout (same texts, heat flag)."""
        lang = lang_from_search(search)
        return event_hideout(**event_texts(lang), heat="heat" in (value or []))

    @app.callback(
        Output(ids.LIVE_CURSOR, "data"),
        Output(ids.LIVE_DELTA, "data"),
        Input(ids.LIVE_TICK, "n_intervals"),
        State(ids.LIVE_CURSOR, "data"),
        State(ids.LIVE_CATEGORY, "value"),
        State(ids.LIVE_STATUS, "value"),
        State(ids.LIVE_RANGE, "value"),
        State(ids.VIEW, "data"),
        prevent_initial_call=True,
    )
    def poll(
        _n: Any, cursor: Any, categories: Any, statuses: Any, range_key: Any, view: Any
    ) -> tuple[Any, Any]:
        """Every second: what changed after the cursor (any process wrote it)? Only a
        change produces output (no_update otherwise: nothing is sent)."""
        cats, sts = _filters(categories, statuses)
        try:
            with engine.connect() as conn:
                new_cursor, delta = live.live_delta(
                    conn, scope_path=caller_scope(), cursor=cursor, bbox=padded_bbox(view),
                    categories=cats, statuses=sts, since=since_for(range_key),
                    stale_after_s=STALE_AFTER_S,
                )  # fmt: skip
        except ValueError as exc:  # malformed cursor/filter from the browser: start over
            log.info("poll: %s", exc)
            return None, no_update
        except DBAPIError as exc:
            log.warning("poll: database unavailable (%s)", exc.orig)
            return no_update, no_update
        if delta is None:
            return (no_update if new_cursor == cursor else new_cursor), no_update
        return new_cursor, delta

    app.clientside_callback(
        ClientsideFunction(namespace="gridcmdLive", function_name="mergeDelta"),
        Output(ids.LIVE_EVENTS, "data", allow_duplicate=True),
        Output(ids.LIVE_WORKERS, "data", allow_duplicate=True),
        Input(ids.LIVE_DELTA, "data"),
        State(ids.LIVE_EVENTS, "data"),
        State(ids.LIVE_WORKERS, "data"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(ids.LIVE_DETAIL, "children"),
        Input(ids.LIVE_EVENTS, "n_clicks"),
        State(ids.LIVE_EVENTS, "clickData"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    def show_event(_n: Any, feature: Any, search: str | None) -> Any:
        """Click on an event marker → its details (clusters zoom in instead)."""
        props = (feature or {}).get("properties") or {}
        event_id = props.get("id")
        if props.get("cluster") or not isinstance(event_id, int):
            return no_update
        lang = lang_from_search(search)
        try:
            with engine.connect() as conn:
                detail = live.event_detail(conn, scope_path=caller_scope(), event_id=event_id)
        except (ValueError, DBAPIError) as exc:
            log.warning("show_event: %s", exc)
            return no_update
        return event_panel(detail, lang) if detail else ""

    @app.callback(
        Output(ids.LIVE_DETAIL, "children", allow_duplicate=True),
        Output(ids.LIVE_TRACK, "data"),
        Input(ids.LIVE_WORKERS, "n_clicks"),
        Input(ids.LIVE_TRACK_RANGE, "value"),
        State(ids.LIVE_WORKERS, "clickData"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    def show_worker(_n: Any, period: Any, feature: Any, search: str | None) -> Any:
        """Click on a worker (or a new track period for the last clicked one) → name, grid,
        last fix age and the track of the period (default today, local day): patrol
        playback."""
        props = (feature or {}).get("properties") or {}
        worker_id = props.get("id")
        if props.get("cluster") or not isinstance(worker_id, int):
            return no_update, no_update
        lang = lang_from_search(search)
        now = dt.datetime.now(ZoneInfo(TIMEZONE))
        since = track_since(period, now)
        try:
            with engine.connect() as conn:
                track = live.worker_track(
                    conn, scope_path=caller_scope(), worker_id=worker_id, since=since,
                    until=now + dt.timedelta(minutes=1),
                )  # fmt: skip
        except (ValueError, DBAPIError) as exc:
            log.warning("show_worker: %s", exc)
            return no_update, no_update
        if track is None:
            return "", track_collection(None)
        status = props.get("status") if isinstance(props.get("status"), str) else None
        return worker_panel(track, status, lang, period), track_collection(track)
