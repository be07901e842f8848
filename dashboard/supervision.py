"""The supervision queues (督办): a floating panel opened from the header, with
three tabs — under supervision, overdue, escalated to the caller's level — each listing the
open cases of :func:`geodata.supervision.supervision_queue`.

:func:`supervision_button` goes in the header (visible to roles with ``supervise`` or
``dispatch``; the callbacks check again), :func:`supervision_panel` on the page (hidden until
opened). :func:`queue_rows` renders rows as Dash components: user text stays text. A click
on a row flies the map to the case and opens its details; supervisors get a 督办 button on
cases not yet under supervision. ``callbacks/supervision.py`` fills it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from dashboard import fmt, ids
from gridcmd.i18n import DEFAULT_LANG, t
from gridcmd.vocab import CATEGORY_MSGIDS, PRIORITY_MSGIDS, STATUS_MSGIDS

__all__ = [
    "KINDS",
    "QUEUE_MSGIDS",
    "UNIT_LABEL",
    "UNIT_QUEUE_MSGIDS",
    "REFRESH_MS",
    "overdue_text",
    "queue_rows",
    "supervision_button",
    "supervision_panel",
    "tab_label",
]

# msgids (English source texts; translations in gridcmd/locale/*/messages.po)
SUPERVISION = "Supervision"
SYNTHETIC = "Synthetic demo data"
#: Queue kind (geodata.supervision.supervision_queue) → msgid of its tab.
QUEUE_MSGIDS: dict[str, str] = {
    "supervised": "Under supervision",
    "overdue": "Overdue",
    "escalated": "Escalated to my level",
}
KINDS = tuple(QUEUE_MSGIDS)
#: The same tabs for department staff, over their unit's cases.
UNIT_QUEUE_MSGIDS: dict[str, str] = {
    "supervised": "My unit's open cases",
    "overdue": "Overdue",
    "escalated": "Under supervision",
}
#: Shown as "who handles it" on the unit's rows.
UNIT_LABEL = "My unit"
TAB_IDS = {
    "supervised": ids.SUP_TAB_SUPERVISED,
    "overdue": ids.SUP_TAB_OVERDUE,
    "escalated": ids.SUP_TAB_ESCALATED,
}
PRIORITY_COLOURS = {"red": "#e03131", "yellow": "#f59f00", "blue": "#1c7ed6"}
#: How often an open panel reloads its queue.
REFRESH_MS = 30_000


def supervision_button(lang: str = DEFAULT_LANG, *, hidden: bool = False) -> html.Button:
    """The header button opening the panel (always present: its callbacks need the id)."""
    return html.Button(
        t(SUPERVISION, lang), id=ids.SUP_OPEN, n_clicks=0, type="button",
        className="gc-sup-open", hidden=hidden,
    )  # fmt: skip


def tab_label(
    kind: str, count: int | None, lang: str, *, more: bool = False, unit: bool = False
) -> str:
    """A tab's label with its count (``200+`` when the queue was cut at its limit); ``unit``:
    the department-staff variant."""
    name = t((UNIT_QUEUE_MSGIDS if unit else QUEUE_MSGIDS)[kind], lang)
    if count is None:
        return name
    return f"{name} ({count}{'+' if more else ''})"


def supervision_panel(lang: str = DEFAULT_LANG) -> html.Div:
    """The hidden panel: tabs, status line, the rows, a message line, the refresh timer."""
    return html.Div(
        [
            html.Div(
                [
                    html.Strong(t(SUPERVISION, lang)),
                    html.Button(
                        "×",
                        id=ids.SUP_CLOSE,
                        n_clicks=0,
                        type="button",
                        title=t("Close", lang),
                        className="gc-sup-close",
                    ),  # fmt: skip
                ],
                className="gc-sup-head",
            ),
            dcc.Tabs(
                id=ids.SUP_TABS,
                value="supervised",
                children=[
                    dcc.Tab(
                        label=tab_label(k, None, lang),
                        value=k,
                        id=TAB_IDS[k],
                        className="gc-sup-tab",
                        selected_className="gc-sup-tab-on",
                    )
                    for k in KINDS
                ],  # fmt: skip
                className="gc-sup-tabs",
            ),
            html.Div(id=ids.SUP_STATUS, className="gc-sup-status"),
            html.Div(id=ids.SUP_MESSAGE, className="gc-sup-message", role="alert"),
            html.Div(id=ids.SUP_BODY, className="gc-sup-body"),
            html.Div(t(SYNTHETIC, lang), className="gc-synthetic gc-sup-synthetic"),
            dcc.Interval(id=ids.SUP_TICK, interval=REFRESH_MS, disabled=True),
            dcc.Store(id=ids.SUP_REFRESH, data=0),
        ],
        id=ids.SUP_PANEL,
        hidden=True,
        className="gc-sup-panel",
    )


def overdue_text(due: dt.datetime | None, now: dt.datetime, lang: str) -> str:
    """Text such as "overdue by 3 h" / "due in 40 min" (minutes below 2 h, hours below
    2 days, else days)."""
    if due is None:
        return t("No deadline", lang)
    secs = (now - due).total_seconds()
    amount = fmt.span(secs, lang)
    if secs > 0:
        return t("Overdue by {amount}", lang, amount=amount)
    return t("Due in {amount}", lang, amount=amount)


def queue_rows(
    rows: Sequence[Mapping[str, Any]], *, now: dt.datetime, lang: str, can_flag: bool
) -> Any:
    """The rows of a queue (``supervision_queue`` dicts) as a list: a button per case (click:
    fly to it and show its details) and, when ``can_flag`` and the case is not under
    supervision yet, a 督办 button. Text only, never HTML."""
    if not rows:
        return html.P(t("No cases.", lang), className="gc-sup-empty")
    items = []
    for r in rows:
        prio = r.get("priority") or "blue"
        cat = t(CATEGORY_MSGIDS.get(r["category"], r["category"]), lang)
        status = t(STATUS_MSGIDS.get(r["status"], r["status"]), lang)
        who = r.get("assignee_name") or r.get("department_name") or t("Unassigned", lang)
        overdue = bool(r.get("overdue"))
        meta = [
            html.Span(
                "",
                className="gc-sup-prio",
                title=t(PRIORITY_MSGIDS.get(prio, prio), lang),
                style={"background": PRIORITY_COLOURS.get(prio, "#868e96")},
            ),  # fmt: skip
            html.Span(f"{cat} · {status}", className="gc-sup-cat"),
        ]
        if r.get("supervised_at") is not None:
            meta.append(html.Span(t("Under supervision", lang), className="gc-sup-tag"))
        body = html.Button(
            [
                html.Div(r["title"], className="gc-sup-title"),
                html.Div(meta, className="gc-sup-meta"),
                html.Div(
                    [
                        html.Span(f"{t('Due', lang)} {fmt.local_time(r.get('due_at'))} · "),
                        html.Span(
                            overdue_text(r.get("due_at"), now, lang),
                            className="gc-sup-late" if overdue else "",
                        ),  # fmt: skip
                    ],
                    className="gc-sup-due",
                ),
                html.Div(f"{who} · {r['cell_name']} ({r['cell_code']})", className="gc-sup-who"),
            ],
            id={"type": ids.SUP_ROW, "id": r["id"]},
            n_clicks=0,
            type="button",
            className="gc-sup-row-main",
            title=t("Show on the map", lang),
        )
        parts: list[Any] = [body]
        if can_flag and r.get("supervised_at") is None:
            parts.append(
                html.Button(
                    t("Supervise (督办)", lang),
                    id={"type": ids.SUP_FLAG, "id": r["id"]},
                    n_clicks=0,
                    type="button",
                    className="gc-sup-flag",
                )  # fmt: skip
            )
        cls = "gc-sup-row" + (" gc-sup-overdue" if overdue else "")
        items.append(html.Li(parts, className=cls))
    return html.Ul(items, className="gc-sup-list")
