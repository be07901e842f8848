"""The security-log viewer (安全日志) for auditors and admins: a floating panel opened from the
header's user menu; ``callbacks/audit.py`` fills it after checking the ``audit`` permission.
Entries are rendered as text (Dash components), never HTML."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dash import dcc, html

from dashboard import fmt, ids
from gridcmd.i18n import t
from gridcmd.vocab import SECURITY_KIND_MSGIDS, SECURITY_KINDS

__all__ = ["audit_button", "audit_panel", "audit_table", "kind_label"]

TITLE = "Security log"


def audit_button(lang: str, *, hidden: bool = False) -> html.Button:
    """The header control that opens the panel; present on every page (callbacks need the
    id), visible only to roles with the audit permission (the callback checks it again)."""
    return html.Button(t(TITLE, lang), id=ids.AUDIT_OPEN, n_clicks=0, type="button",
                       className="gc-audit-open", hidden=hidden)  # fmt: skip


def audit_panel(lang: str) -> html.Div:
    """The hidden panel: a kind filter and the entries."""
    return html.Div(
        [
            html.Div(
                [
                    html.Strong(t(TITLE, lang)),
                    html.Button("×", id=ids.AUDIT_CLOSE, n_clicks=0, type="button",
                                title=t("Close", lang), className="gc-audit-close"),  # fmt: skip
                ],
                className="gc-audit-head",
            ),
            dcc.Dropdown(
                id=ids.AUDIT_KIND,
                options=[{"label": kind_label(k, lang), "value": k} for k in SECURITY_KINDS],
                placeholder=t("All kinds", lang),
                clearable=True,
            ),
            html.Div(id=ids.AUDIT_BODY, className="gc-audit-body"),
        ],
        id=ids.AUDIT_PANEL,
        hidden=True,
        className="gc-audit-panel",
    )


def kind_label(kind: str, lang: str) -> str:
    """The label of a security-log kind in ``lang`` (the kind itself when unknown)."""
    msgid = SECURITY_KIND_MSGIDS.get(kind)
    return t(msgid, lang) if msgid else kind


def audit_table(rows: Sequence[dict[str, Any]], lang: str) -> Any:
    """The entries as a table of text cells (newest first)."""
    if not rows:
        return html.P(t("No entries.", lang))
    head = [t("Time", lang), t("Kind", lang), t("Account", lang), "IP", t("Target", lang),
            t("Detail", lang)]  # fmt: skip
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(h) for h in head])),
            html.Tbody(
                [
                    html.Tr(
                        [
                            html.Td(fmt.local_time(r["at"], "second")),
                            html.Td(kind_label(r["kind"], lang), title=r["kind"]),
                            html.Td(r["username"] or "—"),
                            html.Td(r["ip"] or "—"),
                            html.Td(r["target"] or "—"),
                            html.Td(r["detail"] or ""),
                        ]
                    )
                    for r in rows
                ]
            ),
        ],
        className="gc-audit-table",
    )
