"""Live-layer pieces of the page: the events/workers/track layers (placed in the layers
control), the filters panel with patrol playback, the details panel and what it shows for a
clicked event or worker (:func:`event_panel`, :func:`worker_panel`), the poll interval and
the config store. Pure: rows, language and settings values in, components out; every text is
a Dash text node (escaped by React), never HTML.

Rendering of panels lives in ``dashboard/``; the map layers' data and styling in
``layers/live.py``; ``callbacks/live.py`` reads the rows and calls these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import dcc, html

from dashboard import fmt, ids
from dashboard.case_actions import history_list
from gridcmd.i18n import t
from gridcmd.vocab import CATEGORY_MSGIDS, EVENT_CATEGORIES, EVENT_STATUSES, STATUS_MSGIDS
from layers.live import event_hideout, events_layer, track_layer, worker_hideout, workers_layer

__all__ = [
    "RANGES",
    "WORKER_STATUS_MSGIDS",
    "event_panel",
    "live_controls",
    "live_detail_panel",
    "live_layers",
    "live_names",
    "playback_controls",
    "worker_panel",
]

#: Worker display status → msgid.
WORKER_STATUS_MSGIDS: dict[str, str] = {
    "on_duty": "On duty",
    "off_duty": "Off duty",
    "stale": "No recent fix",
}
#: Time-range choices: hours → msgid (0: everything loaded — open events and the last 30 days).
RANGES: dict[int, str] = {24: "Last 24 hours", 168: "Last 7 days", 0: "Last 30 days"}


def live_names(lang: str) -> dict[str, str]:
    """Overlay names in the layers control (the clientside tick reads them back)."""
    return {"events": t("Events", lang), "workers": t("Grid workers", lang)}


def live_layers(lang: str) -> tuple[list[Any], list[Any]]:
    """``(events overlay children, workers overlay children)``."""
    events = events_layer(
        event_hideout(
            category_names={k: t(v, lang) for k, v in CATEGORY_MSGIDS.items()},
            status_names={k: t(v, lang) for k, v in STATUS_MSGIDS.items()},
            texts={
                "overdue": t("Overdue", lang),
                "supervised": t("Under supervision", lang),
                "reported": t("Reported", lang),
                "click": t("Click for details", lang),
            },
        ),
        id=ids.LIVE_EVENTS,
    )
    workers = workers_layer(
        worker_hideout(
            status_names={k: t(v, lang) for k, v in WORKER_STATUS_MSGIDS.items()},
            texts={
                "last_fix": t("Last fix", lang),
                "never": t("No fix yet", lang),
                "click": t("Click for details and track", lang),
            },
        ),
        id=ids.LIVE_WORKERS,
    )
    return [events], [workers, track_layer(id=ids.LIVE_TRACK)]


def live_controls(lang: str, *, poll_ms: int, stale_after_s: int, prefix: str = "/") -> list[Any]:
    """Filters (collapsed), details panel, poll interval (off until an overlay is on) and the
    config store for ``gridcmdLive.tick``."""
    filters = html.Details(
        [
            html.Summary(t("Live layers", lang)),
            html.Div(id=ids.LIVE_STATUS_LINE, className="gc-live-status"),
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
                options=[{"label": t(m, lang), "value": h} for h, m in RANGES.items()],
                value=0,
            ),
            dcc.Checklist(
                id=ids.LIVE_HEAT,
                options=[{"label": t("Heatmap of events", lang), "value": "heat"}],
                value=[],
            ),
            playback_controls(lang),
        ],
        id=ids.LIVE_FILTERS,
        className="gc-live-filters",
    )
    config = {
        "snapshot": f"{prefix}live/snapshot",
        "changes": f"{prefix}live/changes",
        "stale_ms": stale_after_s * 1000,
        "names": live_names(lang),
    }
    return [
        filters,
        dcc.Store(id=ids.LIVE_WORKER, data=None),
        dcc.Interval(id=ids.LIVE_TICK, interval=poll_ms, disabled=True),
        dcc.Store(id=ids.LIVE_CONFIG, data=config),
    ]


def live_detail_panel(lang: str) -> html.Div:
    """The details of a clicked event or worker marker (``ids.LIVE_DETAIL``; its box is hidden
    while it is empty, i.e. until a click and after its × is pressed); placed in the page's
    right dock (dashboard/layout.py) with the other floating panels."""
    return html.Div(
        [
            html.Button("×", id=ids.LIVE_DETAIL_CLOSE, className="gc-live-close",
                        title=t("Close", lang), **{"aria-label": t("Close", lang)}),  # fmt: skip
            html.Div(id=ids.LIVE_DETAIL),
        ],
        className="gc-live-detail",
        role="dialog",
    )


def playback_controls(lang: str) -> html.Div:
    """Patrol playback: the selected worker (click a worker on the map), the period (local
    time, datetime-local inputs; default: today), a load button and a slider over the fixes
    of the loaded track that moves a marker along it."""
    return html.Div(
        [
            html.Strong(t("Patrol playback", lang)),
            html.Div(t("Click a grid worker on the map", lang), id=ids.LIVE_PLAY_WHO),
            html.Label(t("From", lang), htmlFor=ids.LIVE_PLAY_FROM),
            dcc.Input(id=ids.LIVE_PLAY_FROM, type="datetime-local", value=None),
            html.Label(t("To", lang), htmlFor=ids.LIVE_PLAY_TO),
            dcc.Input(id=ids.LIVE_PLAY_TO, type="datetime-local", value=None),
            html.Button(t("Show track", lang), id=ids.LIVE_PLAY_LOAD, n_clicks=0, disabled=True),
            dcc.Slider(
                id=ids.LIVE_PLAY_SLIDER, min=0, max=0, step=1, value=0, marks=None,
                updatemode="drag",
            ),  # fmt: skip
            html.Div(id=ids.LIVE_PLAY_TIME, className="gc-live-status"),
            dcc.Store(id=ids.LIVE_TRACK_DATA, data=None),
        ],
        id=ids.LIVE_PLAYBACK,
        className="gc-live-playback",
    )


def event_panel(ev: Mapping[str, Any], lang: str) -> list[Any]:
    """The details panel of one event (a :func:`geodata.live.event_detail` row): title,
    facts, photos, the last 8 history steps, the synthetic-data label."""
    cat = t(CATEGORY_MSGIDS.get(ev["category"], ev["category"]), lang)
    status = t(STATUS_MSGIDS.get(ev["status"], ev["status"]), lang)
    parts: list[Any] = [
        html.H3(ev["title"]),
        fmt.facts(
            [
                (t("Category", lang), cat),
                (t("Status", lang), status + (f" · {t('Overdue', lang)}" if ev["overdue"] else "")),
                (t("Grid", lang), f"{ev['cell_name']} ({ev['cell_code']})"),
                (t("Reported", lang), fmt.local_time(ev["reported_at"])),
                (t("Reporter", lang), ev["reporter"] or "—"),
                (t("Assignee", lang), ev["assignee"] or "—"),
                (t("Due", lang), fmt.local_time(ev["due_at"])),
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
        parts.append(history_list(ev["history"][-8:], lang))
    if ev["synthetic"]:
        parts.append(html.Div(t("Synthetic demo data", lang), className="gc-synthetic"))
    return parts


def worker_panel(w: Mapping[str, Any], lang: str, stale_after_s: int) -> list[Any]:
    """The details panel of one grid worker (a :func:`geodata.live.worker_detail` row): the
    duty status (stale after ``stale_after_s`` seconds without a fix) and the last fix."""
    age = w["fix_age_s"]
    if w["duty_status"] != "on_duty":
        status = t("Off duty", lang)
    elif age is None or age > stale_after_s:
        status = t("No recent fix", lang)
    else:
        status = t("On duty", lang)
    parts: list[Any] = [
        html.H3(w["name"]),
        fmt.facts(
            [
                (t("Employee no.", lang), w["employee_no"]),
                (t("Grid", lang), f"{w['cell_name']} ({w['cell_code']})"),
                (t("Status", lang), status),
                (t("Last fix", lang), f"{fmt.local_time(w['last_fix_at'])} ({fmt.age(age)})"),
            ]
        ),
    ]
    if w["synthetic"]:
        parts.append(html.Div(t("Synthetic demo data", lang), className="gc-synthetic"))
    return parts
