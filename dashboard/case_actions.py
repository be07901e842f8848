"""The workflow's actions as people read them, wherever a case is shown (the case panel, a
clicked event's details, the callbacks' messages): each action's button label, which actions
are done from a candidate's row and which need a note, and the case history — its steps in
local time, its notes in the reader's language (:func:`history_note`). Pure: text and Dash
text nodes, never HTML.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from dash import html

from dashboard import fmt
from gridcmd.i18n import t
from gridcmd.vocab import STATUS_MSGIDS

__all__ = [
    "ACTION_MSGIDS",
    "ASSIGN_ACTIONS",
    "NOTE_REQUIRED",
    "NOTE_TERMS",
    "history_list",
    "history_note",
]


#: Workflow action → msgid of its button (zh: 立案, 派遣, 改派, 接单, 开始处置, 退回, 处置完毕,
#: 核查通过, 核查不通过, 结案, 上报/升级, 督办, 注销, 合并).
ACTION_MSGIDS: dict[str, str] = {
    "accept": "Accept case",
    "dispatch": "Dispatch",
    "reassign": "Reassign",
    "acknowledge": "Acknowledge",
    "start": "Start handling",
    "decline": "Decline (return)",
    "resolve": "Mark resolved",
    "verify": "Verification passed",
    "reopen": "Verification failed",
    "close": "Close case",
    "escalate": "Escalate",
    "supervise": "Supervise",
    "reject": "Reject (void)",
    "merge": "Merge",
}
#: Actions done from a candidate / department row rather than the button row.
ASSIGN_ACTIONS = frozenset({"dispatch", "reassign"})
#: Actions whose note (reason) is required (``geodata.workflow.TRANSITIONS``).
NOTE_REQUIRED = frozenset({"reject", "decline", "resolve", "reopen"})


#: The fixed phrases the workflow writes into history notes (``geodata.workflow``,
#: ``geodata.supervision``), as msgids: shown in the reader's language.
NOTE_TERMS: tuple[str, ...] = (
    "supervised and unresolved for",
    "absorbed duplicate event",
    "(with dispatch)",
    "overdue since",
    "owner level",
    "into event",
    "from",
    "department",
    "priority",
    "yellow",
    "worker",
    "blue",
    "red",
    "due",
    "to",
)
_NOTE = re.compile(r"^(?P<action>[a-z_]+):(?P<details>.*?)(?:\s?\|\s(?P<user>.*))?$", re.S)
_TERM = re.compile(
    r"(?<![\w(])(" + "|".join(re.escape(x) for x in NOTE_TERMS) + r")(?![\w])"
)


def history_note(note: str, lang: str) -> str:
    """A history note (``"<action>: <details> | <user note>"``) for people: the action's
    label and the fixed phrases in ``lang``, the user's own words as written. Notes of any
    other shape (older or imported rows) are shown as they are."""
    m = _NOTE.match(note or "")
    if m is None or m["action"] not in ACTION_MSGIDS:
        return note or ""
    details = _TERM.sub(lambda x: t(x.group(1), lang), m["details"].strip())
    parts = [t(ACTION_MSGIDS[m["action"]], lang) + (f": {details}" if details else "")]
    if m["user"]:
        parts.append(m["user"])
    return " — ".join(parts)


def history_list(history: Iterable[Mapping[str, Any]], lang: str) -> html.Ol:
    """History rows (``{at, to, note}``, oldest first) as a numbered list: the local time,
    the status reached and the note (:func:`history_note`)."""
    return html.Ol(
        [
            html.Li(
                f"{fmt.local_time(h['at'])} {t(STATUS_MSGIDS.get(h['to'], h['to']), lang)}"
                + (f" — {history_note(h['note'], lang)}" if h["note"] else "")
            )
            for h in history
        ]
    )
