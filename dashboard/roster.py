"""The grid-worker roster panel (网格员管理): a floating box opened from the header.

:func:`roster_button` goes in the header, :func:`roster_panel` on the page (hidden until
opened). ``callbacks/roster.py`` fills the list, the summary, the "mostly outside their cell"
list and the selected worker's history, and runs the forms. The pure helpers below render
rows from :mod:`geodata.roster` / :mod:`geodata.coverage` (phones already masked there) as
Dash components: text only, never HTML. Styles in ``dashboard/assets/roster.css``
(classes ``gc-roster-*``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from dashboard import fmt, ids
from gridcmd.i18n import DEFAULT_LANG, level_name, t
from gridcmd.vocab import DUTY_MSGIDS

__all__ = [
    "WRITE_CONTROLS",
    "detail_view",
    "outside_view",
    "roster_button",
    "roster_message",
    "roster_panel",
    "summary_view",
    "worker_options",
]

# msgids (English source texts; translations in gridcmd/locale/*/messages.po)
ROSTER = "Grid worker roster"

#: Inputs and buttons that change data: disabled without the ``roster`` permission.
WRITE_CONTROLS = (
    ids.ROSTER_ADD_NO, ids.ROSTER_ADD_NAME, ids.ROSTER_ADD_PHONE, ids.ROSTER_ADD_CELL,
    ids.ROSTER_ADD, ids.ROSTER_EDIT_NAME, ids.ROSTER_EDIT_PHONE, ids.ROSTER_EDIT_DUTY,
    ids.ROSTER_EDIT, ids.ROSTER_DEACTIVATE, ids.ROSTER_REACTIVATE, ids.ROSTER_MOVE_CELL,
    ids.ROSTER_MOVE_NOTE, ids.ROSTER_MOVE, ids.ROSTER_TRAIN_DATE, ids.ROSTER_TRAIN_TITLE,
    ids.ROSTER_TRAIN_HOURS, ids.ROSTER_TRAIN,
)  # fmt: skip


def roster_button(lang: str = DEFAULT_LANG) -> html.Button:
    """The header button that opens the roster panel."""
    return html.Button(
        t(ROSTER, lang), id=ids.ROSTER_OPEN, n_clicks=0, className="gc-roster-open",
        type="button",
    )  # fmt: skip


def _input(id_: str, label: str, lang: str, **kw: Any) -> html.Label:
    return html.Label(
        [html.Span(t(label, lang)), dcc.Input(id=id_, disabled=True, debounce=False, **kw)],
        className="gc-roster-field",
    )


def _button(id_: str, label: str, lang: str) -> html.Button:
    return html.Button(
        t(label, lang), id=id_, n_clicks=0, disabled=True, type="button",
        className="gc-roster-btn",
    )  # fmt: skip


def _form(title: str, lang: str, children: list[Any], *, open_: bool = False) -> html.Details:
    return html.Details(
        [html.Summary(t(title, lang)), html.Div(children, className="gc-roster-form")],
        open=open_, className="gc-roster-section",
    )  # fmt: skip


def roster_panel(lang: str = DEFAULT_LANG) -> html.Section:
    """The roster box (``ids.ROSTER_PANEL``, hidden until opened): filters, the worker list,
    summaries and the forms (disabled until the server says the caller may manage)."""
    duty = [{"label": t(v, lang), "value": k} for k, v in DUTY_MSGIDS.items()]
    return html.Section(
        [
            html.Div(
                [
                    html.H2(t(ROSTER, lang)),
                    html.Button(
                        "×",
                        id=ids.ROSTER_CLOSE,
                        n_clicks=0,
                        type="button",
                        className="gc-roster-close",
                        title=t("Close", lang),
                    ),  # fmt: skip
                ],
                className="gc-roster-title",
            ),
            html.Div(id=ids.ROSTER_MESSAGE, className="gc-roster-message", role="alert"),
            html.Div(id=ids.ROSTER_READONLY, className="gc-roster-readonly"),
            html.Div(id=ids.ROSTER_SUMMARY, className="gc-roster-summary"),
            html.Div(
                [
                    dcc.Input(
                        id=ids.ROSTER_QUERY,
                        type="search",
                        debounce=True,
                        maxLength=50,
                        placeholder=t("Name or employee no.", lang),
                        className="gc-roster-query",
                    ),
                    dcc.RadioItems(
                        id=ids.ROSTER_ACTIVE,
                        value="active",
                        inline=True,
                        options=[
                            {"label": t("Active", lang), "value": "active"},
                            {"label": t("Inactive", lang), "value": "inactive"},
                            {"label": t("All", lang), "value": "all"},
                        ],
                    ),
                    dcc.Checklist(
                        id=ids.ROSTER_IN_CELL,
                        value=["cell"],
                        inline=True,
                        options=[{"label": t("Only the selected cell", lang), "value": "cell"}],
                    ),
                ],  # fmt: skip
                className="gc-roster-filters",
            ),
            html.Div(id=ids.ROSTER_COUNT, className="gc-roster-count"),
            dcc.Checklist(
                id=ids.ROSTER_PICK,
                options=[],
                value=[],
                className="gc-roster-list",
                labelClassName="gc-roster-row",
            ),  # fmt: skip
            html.Div(id=ids.ROSTER_DETAIL, className="gc-roster-detail"),
            _form(
                "Add a worker",
                lang,
                [
                    _input(ids.ROSTER_ADD_NO, "Employee no.", lang, maxLength=32),
                    _input(ids.ROSTER_ADD_NAME, "Name", lang, maxLength=40),
                    _input(ids.ROSTER_ADD_PHONE, "Phone", lang, maxLength=20, type="tel"),
                    _input(ids.ROSTER_ADD_CELL, "Grid or micro-grid code", lang, maxLength=24),
                    _button(ids.ROSTER_ADD, "Add", lang),
                ],
            ),
            _form(
                "Edit the selected worker",
                lang,
                [
                    _input(ids.ROSTER_EDIT_NAME, "Name", lang, maxLength=40),
                    _input(
                        ids.ROSTER_EDIT_PHONE,
                        "New phone (blank: unchanged)",
                        lang,
                        maxLength=20,
                        type="tel",
                    ),
                    html.Label(
                        [
                            html.Span(t("Duty", lang)),
                            dcc.Dropdown(
                                id=ids.ROSTER_EDIT_DUTY, options=duty, clearable=True, disabled=True
                            ),
                        ],
                        className="gc-roster-field",
                    ),
                    _button(ids.ROSTER_EDIT, "Save", lang),
                    _button(ids.ROSTER_DEACTIVATE, "Deactivate", lang),
                    _button(ids.ROSTER_REACTIVATE, "Reactivate", lang),
                ],
            ),
            _form(
                "Move the selected worker",
                lang,
                [
                    _input(ids.ROSTER_MOVE_CELL, "Grid or micro-grid code", lang, maxLength=24),
                    _input(ids.ROSTER_MOVE_NOTE, "Note", lang, maxLength=200),
                    _button(ids.ROSTER_MOVE, "Move", lang),
                ],
            ),
            _form(
                "Record a training for the selected workers",
                lang,
                [
                    _input(ids.ROSTER_TRAIN_DATE, "Date (YYYY-MM-DD)", lang, maxLength=10),
                    _input(ids.ROSTER_TRAIN_TITLE, "Title", lang, maxLength=120),
                    _input(
                        ids.ROSTER_TRAIN_HOURS,
                        "Hours",
                        lang,
                        type="number",
                        min=0.5,
                        max=24,
                        step=0.5,
                    ),
                    _button(ids.ROSTER_TRAIN, "Record", lang),
                ],
            ),
            html.Details(
                [
                    html.Summary(t("Workers mostly outside their cell (7 days)", lang)),
                    html.Div(id=ids.ROSTER_OUTSIDE),
                ],
                open=True,
                className="gc-roster-section",
            ),
            dcc.Store(id=ids.ROSTER_REFRESH, data=0),
        ],  # fmt: skip
        id=ids.ROSTER_PANEL,
        hidden=True,
        className="gc-roster-panel",
        **{"aria-label": t(ROSTER, lang)},
    )


def roster_message(text: str, kind: str = "info") -> html.Div:
    """One message line (``kind``: info / ok / error)."""
    return html.Div(text, className=f"gc-roster-msg gc-roster-msg-{kind}")


def worker_options(rows: Sequence[Mapping[str, Any]], lang: str) -> list[dict[str, Any]]:
    """Checklist options for the worker rows of :func:`geodata.roster.list_workers` (label:
    employee no., name, masked phone, cell, duty, last fix age, trainings)."""
    out = []
    for r in rows:
        parts = [
            html.B(r["employee_no"]), " ", r["name"], " · ", r["phone"], " · ",
            f'{r["cell_name"]} ({r["cell_code"]}, {level_name(r["cell_level"], lang)})', " · ",
            t(DUTY_MSGIDS.get(r["duty_status"], r["duty_status"]), lang), " · ",
            t("no fix", lang) if r["fix_age_s"] is None else fmt.age(r["fix_age_s"]), " · ",
            t("trainings", lang) + f' {r["trainings"]}',
        ]  # fmt: skip
        if not r["active"]:
            parts.append(html.Span(" " + t("Inactive", lang), className="gc-roster-inactive"))
        out.append({"label": html.Span(parts), "value": r["employee_no"]})
    return out


def summary_view(
    cov: Mapping[str, int] | None, training: Mapping[str, Any] | None, lang: str
) -> list[Any]:
    """Coverage and training figures of the scope as a small definition list."""
    items: list[tuple[str, str]] = []
    if cov:
        items += [
            (t("Grids", lang), fmt.count(cov["grids"])),
            (t("Grids without a worker", lang), fmt.count(cov["uncovered"])),
            (t("Grids with several workers", lang), fmt.count(cov["several"])),
            (t("Active workers", lang), fmt.count(cov["active_workers"])),
        ]
    if training:
        items += [
            (t("Training sessions", lang), fmt.count(training["sessions"])),
            (t("Workers trained", lang), fmt.count(training["workers_trained"])),
            (t("Training coverage", lang), fmt.percent(training["coverage"])),
        ]
    return [fmt.facts(items)]


def outside_view(result: Mapping[str, Any] | None, lang: str) -> list[Any]:
    """The "mostly outside their cell" list (rows of :func:`geodata.coverage.workers_outside`)."""
    if not result or not result["rows"]:
        return [roster_message(t("None.", lang))]
    rows = [
        html.Li(f'{r["employee_no"]} {r["name"]} · {r["cell_name"]} ({r["cell_code"]}) · '
                f'{r["outside"]}/{r["fixes"]} ({fmt.percent(r["share"])})')
        for r in result["rows"]
    ]  # fmt: skip
    head = t("Workers", lang) + f": {fmt.count(result['total'])}"
    return [html.Div(head, className="gc-roster-count"), html.Ul(rows)]


def detail_view(
    employee_no: str,
    history: Sequence[Mapping[str, Any]],
    trainings: Sequence[Mapping[str, Any]],
    lang: str,
) -> list[Any]:
    """Assignment history and trainings of one worker."""
    hist = [
        html.Li(
            f"{fmt.local_time(h['started_at'], empty='…')} – "
            f"{fmt.local_time(h['ended_at'], empty='…')} · "
            f"{h['cell_name'] or t('outside your jurisdiction', lang)}"
            f"{' (' + h['cell_code'] + ')' if h['cell_code'] else ''}"
            f"{' · ' + h['changed_by'] if h['changed_by'] else ''}"
            f"{' · ' + h['note'] if h['note'] else ''}"
        )
        for h in history
    ]
    trn = [
        html.Li(f"{fmt.local_time(r['held_on'], empty='…')} · {r['title']} · {r['hours']:g} h")
        for r in trainings
    ]
    return [
        html.H3(employee_no),
        html.H4(t("Assignment history", lang)),
        html.Ul(hist) if hist else roster_message(t("None.", lang)),
        html.H4(t("Trainings", lang)),
        html.Ul(trn) if trn else roster_message(t("None.", lang)),
    ]
