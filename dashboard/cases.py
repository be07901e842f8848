"""The case panel (案件办理): layout and rendering, pure.

:func:`case_panel` is the static frame (placed once on the page, hidden until an event is
opened from the map or the event table); :func:`render_case` turns a
:func:`geodata.cases.case_view` result into the panel's parts: the summary (status with the
priority tier's colour, due time with a live **countdown** — ``gridcmdCases`` in
dashboard/assets/cases.js ticks every ``.gc-countdown[data-due]`` each second —, 督办 flag,
owner level), the workflow buttons, the ranked candidate workers with a one-click 派遣 each,
the suggested departments, the possible duplicates with a two-step 合并, and the history.

Which buttons appear is exactly ``view["actions"]`` (``geodata.workflow.allowed_actions``):
the simple actions in the button row; ``dispatch``/``reassign`` as the button of each
candidate and department; ``merge`` as the button of each duplicate (the actions' labels and
the history's words: :mod:`dashboard.case_actions`). Every text is a Dash text node (never
HTML); ids are pattern ids of :mod:`dashboard.ids`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from dash import dcc, html

from dashboard import fmt, ids
from dashboard.case_actions import ACTION_MSGIDS, ASSIGN_ACTIONS, NOTE_REQUIRED, history_list
from dashboard.departments import kind_label
from gridcmd.i18n import level_name, t
from gridcmd.vocab import CATEGORY_MSGIDS, PRIORITY_MSGIDS, STATUS_MSGIDS
from layers.cases import candidate_collection, candidates_layer, format_distance

__all__ = [
    "case_markers_layer",
    "case_panel",
    "countdown_text",
    "empty_parts",
    "render_case",
]


def countdown_text(due_iso: str | None, now_iso: str | None, lang: str) -> str:
    """``剩余 2小时05分`` / ``已超期 3小时12分`` (the same text cases.js writes each second);
    ``—`` without a due time."""
    if not due_iso or not now_iso:
        return "—"
    delta = int(
        (dt.datetime.fromisoformat(due_iso) - dt.datetime.fromisoformat(now_iso)).total_seconds()
    )
    if delta < 0:
        return t("Overdue by {d}", lang).replace("{d}", fmt.countdown(-delta, lang))
    return t("{d} left", lang).replace("{d}", fmt.countdown(delta, lang))


def _countdown(ev: Mapping[str, Any], lang: str) -> html.Span:
    units = fmt.duration_units(lang)
    closed = ev["status"] in ("resolved", "verified", "closed", "rejected")
    if not ev["due_at"] or closed:
        return html.Span(fmt.local_time(ev["due_at"]), className="gc-due")
    text_ = countdown_text(ev["due_at"], ev["now"], lang)
    overdue = dt.datetime.fromisoformat(ev["due_at"]) < dt.datetime.fromisoformat(ev["now"])
    return html.Span(
        [
            html.Span(fmt.local_time(ev["due_at"]), className="gc-due"),
            " ",
            html.Span(
                text_,
                className="gc-countdown" + (" gc-overdue" if overdue else ""),
                **{
                    "data-due": ev["due_at"],
                    "data-now": ev["now"],
                    "data-left": t("{d} left", lang),
                    "data-over": t("Overdue by {d}", lang),
                    "data-units": "|".join(units[k] for k in ("d", "h", "m", "s")),
                    "data-sep": units["sep"],
                },
            ),
        ]
    )


def _summary(view: Mapping[str, Any], lang: str) -> list[Any]:
    ev = view["event"]
    prio = ev["priority"] or ev["default_priority"]
    status = t(STATUS_MSGIDS.get(ev["status"], ev["status"]), lang)
    badges: list[Any] = [
        html.Span(status, className=f"gc-case-status gc-prio-{prio}"),
        html.Span(t(PRIORITY_MSGIDS.get(prio, prio), lang), className=f"gc-prio gc-prio-{prio}"),
    ]
    if ev["supervised"]:
        badges.append(html.Span(t("Supervised", lang), className="gc-case-flag"))
    assigned = " · ".join(
        x for x in (
            ev["assignee"] and f"{ev['assignee']} ({ev['assignee_no']})", ev["department"]
        ) if x
    )  # fmt: skip
    pairs = [
        (t("Category", lang), t(CATEGORY_MSGIDS.get(ev["category"], ev["category"]), lang)),
        (t("Grid", lang), f"{ev['cell_name']} ({ev['cell_code']})"),
        (t("Due", lang), _countdown(ev, lang)),
        (t("Owner level", lang), level_name(ev["owner_level"], lang)),
        (t("Assigned to", lang), assigned or "—"),
    ]
    if ev["merged_into_id"]:
        pairs.append((t("Merged into", lang), f"#{ev['merged_into_id']}"))
    out: list[Any] = [
        html.H3([html.Span(f"#{ev['id']} ", className="gc-case-no"), ev["title"] or "—"]),
        html.Div(badges, className="gc-case-badges"),
        fmt.facts(pairs),
    ]
    if ev["synthetic"]:
        out.append(html.Div(t("Synthetic demo data", lang), className="gc-synthetic"))
    return out


def _actions(view: Mapping[str, Any], lang: str) -> list[Any]:
    simple = [a for a in view["actions"] if a not in ASSIGN_ACTIONS and a != "merge"]
    buttons = [
        html.Button(
            t(ACTION_MSGIDS[a], lang),
            id={"type": ids.CASE_ACT, "action": a},
            n_clicks=0,
            className="gc-case-btn" + (" gc-needs-note" if a in NOTE_REQUIRED else ""),
            title=t("A note (the reason) is required", lang) if a in NOTE_REQUIRED else None,
            **{"data-action": a},
        )
        for a in simple
    ]
    if view["assign"]:
        buttons.append(html.Span(t("Dispatch: choose a worker or department below", lang),
                                 className="gc-case-hint"))  # fmt: skip
    if not view["actions"]:
        buttons.append(html.Span(t("No action is open to you on this case.", lang),
                                 className="gc-case-hint"))  # fmt: skip
    return buttons


def _assign_label(view: Mapping[str, Any], lang: str, department: bool = False) -> str:
    if department:
        msgid = (
            "Reassign to department" if view["assign"] == "reassign" else "Dispatch to department"
        )
    else:
        msgid = ACTION_MSGIDS[view["assign"]]
    return t(msgid, lang)


def _candidates(view: Mapping[str, Any], lang: str) -> list[Any]:
    if not view["assign"]:
        return []
    ev = view["event"]
    head = html.Strong(t("Candidate workers", lang))
    if not view["candidates"]:
        return [head, html.P(t("No candidate workers found.", lang), className="gc-case-hint")]
    rows = []
    for c in view["candidates"]:
        badges: list[Any] = []
        if c["responsibility"] == "cell":
            badges.append(html.Span(t("This micro-grid", lang), className="gc-badge-resp"))
        elif c["responsibility"] == "grid":
            badges.append(html.Span(t("This grid", lang), className="gc-badge-resp"))
        if c["stale"]:
            badges.append(html.Span(t("Stale position", lang), className="gc-badge-stale"))
        if c["duty_status"] != "on_duty":
            badges.append(html.Span(t("Off duty", lang), className="gc-badge-stale"))
        current = c["worker_id"] == ev["assignee_id"]
        action: Any = (
            html.Span(t("Current assignee", lang), className="gc-case-hint")
            if current
            else html.Button(
                _assign_label(view, lang), id={"type": ids.CASE_PICK, "worker": c["worker_id"]},
                n_clicks=0, className="gc-case-btn gc-case-pick",
            )
        )  # fmt: skip
        rows.append(
            html.Tr(
                [
                    html.Td(str(c["rank"]), className="gc-rank"),
                    html.Td([html.Div(c["name"]), html.Small(c["employee_no"]), *badges]),
                    html.Td(format_distance(c["distance_m"])),
                    html.Td(str(c["open_cases"])),
                    html.Td(fmt.age(c["fix_age_s"])),
                    html.Td(action),
                ],
                className="gc-cand-row" + (" gc-cand-stale" if c["stale"] else ""),
            )
        )
    header = html.Tr(
        [html.Th(x) for x in ("#", t("Grid worker", lang), t("Distance", lang),
                              t("Open cases", lang), t("Last fix", lang), "")]
    )  # fmt: skip
    return [head, html.Table([html.Thead(header), html.Tbody(rows)], className="gc-case-table")]


def _departments(view: Mapping[str, Any], lang: str) -> list[Any]:
    if not view["assign"] or not view["departments"]:
        return []
    ev = view["event"]
    items = []
    for d in view["departments"]:
        current = d["id"] == ev["department_id"]
        items.append(
            html.Li(
                [
                    html.Span(d["name"], className="gc-dept-name"),
                    html.Small(
                        f" {kind_label(d['kind'], lang)} · "
                        f"{format_distance(d['distance_m'])} · "
                        f"{t('Open cases', lang)} {d['open_cases']}"
                    ),
                    html.Span(t("Serves this area", lang), className="gc-badge-resp")
                    if d["responsible"]
                    else None,
                    html.Span(t("Current department", lang), className="gc-case-hint")
                    if current
                    else html.Button(
                        _assign_label(view, lang, department=True),
                        id={"type": ids.CASE_DEPT, "dept": d["id"]},
                        n_clicks=0,
                        className="gc-case-btn",
                    ),
                ]
            )  # fmt: skip
        )
    return [html.Strong(t("Suggested departments", lang)), html.Ul(items, className="gc-case-list")]


def _duplicates(view: Mapping[str, Any], lang: str, merge_into: int | None) -> list[Any]:
    if not view["duplicates"]:
        return []
    may_merge = "merge" in view["actions"]
    items = []
    for d in view["duplicates"]:
        status = t(STATUS_MSGIDS.get(d["status"], d["status"]), lang)
        parts: list[Any] = [
            html.Span(f"#{d['id']} ", className="gc-case-no"),
            html.Span(d["title"] or "—"),
            html.Small(f" {status} · {format_distance(d['distance_m'])} · "
                       f"{fmt.local_time(d['reported_at'])}"),
        ]  # fmt: skip
        if may_merge and merge_into == d["id"]:
            parts.append(
                html.Div(
                    [
                        html.Span(
                            t("Merge this event into #{n}? It will be closed.", lang).replace(
                                "{n}", str(d["id"])
                            )
                        ),
                        html.Button(
                            t("Confirm merge", lang),
                            id={"type": ids.CASE_ACT, "action": "merge"},
                            n_clicks=0,
                            className="gc-case-btn gc-danger",
                        ),
                        html.Button(
                            t("Cancel", lang),
                            id={"type": ids.CASE_ACT, "action": "cancel"},
                            n_clicks=0,
                            className="gc-case-btn",
                        ),
                    ],
                    className="gc-case-confirm",
                    role="alert",
                )  # fmt: skip
            )
        elif may_merge:
            parts.append(html.Button(t("Merge into this", lang),
                                     id={"type": ids.CASE_MERGE, "into": d["id"]}, n_clicks=0,
                                     className="gc-case-btn"))  # fmt: skip
        items.append(html.Li(parts))
    return [html.Strong(t("Possible duplicates", lang)), html.Ul(items, className="gc-case-list")]


def _history(view: Mapping[str, Any], lang: str) -> list[Any]:
    if not view["history"]:
        return []
    summary = html.Summary(t("History", lang) + f" ({len(view['history'])})")
    return [html.Details([summary, history_list(view["history"], lang)])]


def empty_parts() -> dict[str, Any]:
    """The panel's parts when no case is shown."""
    return {
        "summary": [], "actions": [], "candidates": [], "departments": [], "duplicates": [],
        "history": [], "markers": candidate_collection(None, []), "state": None,
        "priority": None,
    }  # fmt: skip


def render_case(
    view: Mapping[str, Any], lang: str, *, merge_into: int | None = None
) -> dict[str, Any]:
    """The panel's parts for a :func:`geodata.cases.case_view` result: components for
    ``summary``, ``actions``, ``candidates``, ``departments``, ``duplicates``, ``history``;
    ``markers`` (GeoJSON for the map), ``state`` (the CASE_STATE store: event id, version,
    what a candidate's button does, the duplicate chosen for a merge) and ``priority`` (the
    dispatch tier preselected)."""
    ev = view["event"]
    dup_ids = {d["id"] for d in view["duplicates"]}
    merge_into = merge_into if merge_into in dup_ids and "merge" in view["actions"] else None
    return {
        "summary": _summary(view, lang),
        "actions": _actions(view, lang),
        "candidates": _candidates(view, lang),
        "departments": _departments(view, lang),
        "duplicates": _duplicates(view, lang, merge_into),
        "history": _history(view, lang),
        "markers": candidate_collection(ev, view["candidates"]),
        "state": {
            "event": ev["id"],
            "version": ev["version"],
            "assign": view["assign"],
            "merge_into": merge_into,
        },  # fmt: skip
        "priority": ev["priority"] or ev["default_priority"],
    }


def case_markers_layer() -> Any:
    """The map layer highlighting the opened event and its ranked candidates."""
    return candidates_layer(id=ids.CASE_MARKERS)


def case_panel(lang: str) -> html.Aside:
    """The static frame of the case panel (hidden until an event is opened)."""
    return html.Aside(
        [
            html.Div(
                [
                    html.Strong(t("Case handling", lang)),
                    html.Button(
                        "×",
                        id=ids.CASE_CLOSE,
                        n_clicks=0,
                        className="gc-case-close",
                        title=t("Close", lang),
                        **{"aria-label": t("Close", lang)},
                    ),
                ],  # fmt: skip
                className="gc-case-head",
            ),
            html.Div(id=ids.CASE_SUMMARY),
            html.Div(id=ids.CASE_MESSAGE, className="gc-case-message", role="alert"),
            html.Div(id=ids.CASE_ACTIONS, className="gc-case-actions"),
            html.Label(t("Note / reason", lang), htmlFor=ids.CASE_NOTE),
            dcc.Textarea(
                id=ids.CASE_NOTE,
                value="",
                maxLength=2000,
                className="gc-case-note",
                placeholder=t("Required to reject, decline, resolve or fail a verification", lang),
            ),  # fmt: skip
            html.Div(
                [
                    html.Span(t("Dispatch priority", lang)),
                    dcc.RadioItems(
                        id=ids.CASE_PRIORITY,
                        options=[
                            {"label": t(m, lang), "value": k} for k, m in PRIORITY_MSGIDS.items()
                        ],  # fmt: skip
                        value=None,
                        inline=True,
                    ),
                ],
                className="gc-case-priority",
            ),
            html.Div(id=ids.CASE_CANDIDATES, className="gc-case-section"),
            html.Div(id=ids.CASE_DEPARTMENTS, className="gc-case-section"),
            html.Div(id=ids.CASE_DUPLICATES, className="gc-case-section"),
            html.Div(id=ids.CASE_HISTORY, className="gc-case-section"),
            dcc.Store(id=ids.CASE_STATE, data=None),
        ],
        id=ids.CASE_PANEL,
        hidden=True,
        className="gc-case-panel",
        role="dialog",
        **{"aria-label": t("Case handling", lang)},
    )
