"""Live-layer pieces of the page: the events/workers/track GeoJSON layers (placed inside the
layers control's EVENTS_LAYER / WORKERS_LAYER groups), the filters overlay, the details
overlay and the change-feed interval and stores. Pure: language and a start cursor in."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dash import dcc, html

from dashboard import ids
from dashboard.i18n import CATEGORY_MSGIDS, t
from geodata.models import EVENT_CATEGORIES, EVENT_STATUSES
from layers.events import event_hideout, events_layer
from layers.workers import track_layer, worker_hideout, workers_layer

__all__ = [
    "RANGES",
    "TRACK_RANGES",
    "STATUS_MSGIDS",
    "WORKER_STATUS_MSGIDS",
    "event_texts",
    "live_layers",
    "live_overlays",
    "start_cursor",
]

#: Event status → msgid.
STATUS_MSGIDS: dict[str, str] = {
    "reported": "Reported",
    "accepted": "Accepted",
    "dispatched": "Dispatched",
    "in_progress": "In progress",
    "resolved": "Resolved",
    "verified": "Verified",
    "closed": "Closed",
    "rejected": "Rejected",
    "returned": "Returned",
    "escalated": "Escalated",
}
#: Worker status (geodata.live.worker_status) → msgid.
WORKER_STATUS_MSGIDS: dict[str, str] = {
    "on_duty": "On duty",
    "off_duty": "Off duty",
    "stale": "No recent fix",
}
#: Time-range choices → (msgid, length; None = all time).
RANGES: dict[str, tuple[str, dt.timedelta | None]] = {
    "24h": ("Last 24 hours", dt.timedelta(hours=24)),
    "7d": ("Last 7 days", dt.timedelta(days=7)),
    "30d": ("Last 30 days", dt.timedelta(days=30)),
    "all": ("All time", None),
}
DEFAULT_RANGE = "all"
#: Patrol playback periods of a clicked worker's track → msgid ("today": since local midnight).
TRACK_RANGES: dict[str, str] = {"today": "Today", "24h": "Last 24 hours", "7d": "Last 7 days"}
#: How far before the page was built the change feed starts (clock skew app ↔ database;
#: re-sent rows are merged by id, so an overlap is harmless).
CURSOR_MARGIN = dt.timedelta(seconds=5)
POLL_MS = 1000


def start_cursor(now: dt.datetime | None = None) -> str:
    """The change-feed cursor of a freshly built page (ISO, a margin before ``now``)."""
    return ((now or dt.datetime.now(dt.UTC)) - CURSOR_MARGIN).isoformat()


def event_texts(lang: str) -> dict[str, Any]:
    """Translated names for the events layer's hideout."""
    return {
        "category_names": {k: t(v, lang) for k, v in CATEGORY_MSGIDS.items()},
        "status_names": {k: t(v, lang) for k, v in STATUS_MSGIDS.items()},
        "texts": {"overdue": t("Overdue", lang)},
    }


def worker_texts(lang: str) -> dict[str, Any]:
    """Translated names for the workers layer's hideout."""
    return {
        "status_names": {k: t(v, lang) for k, v in WORKER_STATUS_MSGIDS.items()},
        "texts": {
            "grid": t("Grid", lang),
            "last_fix": t("Last fix", lang),
            "never": t("No fix yet", lang),
        },
    }


def live_layers(lang: str) -> tuple[list[Any], list[Any]]:
    """``(events group children, workers group children)``: empty layers, filled by
    callbacks/live.py."""
    events = events_layer(None, event_hideout(**event_texts(lang)), id=ids.LIVE_EVENTS)
    workers = workers_layer(None, worker_hideout(**worker_texts(lang)), id=ids.LIVE_WORKERS)
    return [events], [workers, track_layer(None, id=ids.LIVE_TRACK)]


def live_overlays(lang: str, cursor: str | None) -> list[Any]:
    """The filters overlay (collapsed), the details overlay, the 1 s interval and stores."""
    filters = html.Details(
        [
            html.Summary(t("Event filters", lang)),
            html.Label(t("Category", lang), htmlFor=ids.LIVE_CATEGORY),
            dcc.Dropdown(
                id=ids.LIVE_CATEGORY,
                options=[
                    {"label": t(CATEGORY_MSGIDS[c], lang), "value": c} for c in EVENT_CATEGORIES
                ],  # fmt: skip
                multi=True,
                placeholder=t("All categories", lang),
            ),
            html.Label(t("Status", lang), htmlFor=ids.LIVE_STATUS),
            dcc.Dropdown(
                id=ids.LIVE_STATUS,
                options=[{"label": t(STATUS_MSGIDS[s], lang), "value": s} for s in EVENT_STATUSES],
                multi=True,
                placeholder=t("All statuses", lang),
            ),
            html.Label(t("Time range", lang)),
            dcc.RadioItems(
                id=ids.LIVE_RANGE,
                options=[{"label": t(m, lang), "value": k} for k, (m, _) in RANGES.items()],
                value=DEFAULT_RANGE,
            ),
            html.Label(t("Worker track period", lang)),
            dcc.RadioItems(
                id=ids.LIVE_TRACK_RANGE,
                options=[{"label": t(m, lang), "value": k} for k, m in TRACK_RANGES.items()],
                value="today",
            ),
            dcc.Checklist(
                id=ids.LIVE_HEAT,
                options=[{"label": t("Density style (heatmap)", lang), "value": "heat"}],
                value=[],
            ),
        ],
        id=ids.LIVE_FILTERS,
        className="gc-live-filters",
    )
    return [
        filters,
        html.Div(id=ids.LIVE_DETAIL, className="gc-live-detail", role="dialog"),
        dcc.Interval(id=ids.LIVE_TICK, interval=POLL_MS),
        dcc.Store(id=ids.LIVE_CURSOR, data=cursor),
        dcc.Store(id=ids.LIVE_DELTA, data=None),
    ]
