"""The shared vocabulary: one home for every word more than one tier uses.

Grid levels, event categories, difficulties, severities, statuses and priorities, roles and
their permissions, department kinds, duty statuses, camera stream kinds, security-log kinds,
map metrics, the time zone and the cell-code pattern. Every tier imports this module (the
schema's CHECK constraints in ``geodata/sql`` list the same values; ``tests/test_vocab.py``
checks them against the migrated database), and it imports nothing of the project.

Each set of values has a ``*_MSGIDS`` mapping value → the English message id of its label;
the translations live in ``gridcmd/locale`` (see :mod:`gridcmd.i18n`), and
``tests/test_vocab.py`` fails when a value has no label in either language.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from zoneinfo import ZoneInfo

__all__ = [
    "CATEGORY_MSGIDS",
    "CELL_CODE_RE",
    "CLOSED_STATUSES",
    "DEPARTMENT_KINDS",
    "DEPARTMENT_KIND_MSGIDS",
    "DIFFICULTIES",
    "DIFFICULTY_MSGIDS",
    "DUTY_MSGIDS",
    "DUTY_STATUSES",
    "EVENT_CATEGORIES",
    "EVENT_STATUSES",
    "LEVELS",
    "LEVEL_MSGIDS",
    "LIVE_KINDS",
    "METRICS",
    "METRIC_MSGIDS",
    "OPEN_STATUSES",
    "PERMISSIONS",
    "POSITION_SOURCES",
    "PRIORITIES",
    "PRIORITY_MSGIDS",
    "ROLES",
    "ROLE_MSGIDS",
    "SECURITY_KINDS",
    "SECURITY_KIND_MSGIDS",
    "SEVERITIES",
    "SEVERITY_MSGIDS",
    "STATUS_MSGIDS",
    "STREAM_KINDS",
    "STREAM_KIND_MSGIDS",
    "TIMEZONE",
    "TZ",
]


def _frozen(d: dict) -> MappingProxyType:
    return MappingProxyType(d)


# ----------------------------------------------------------------------------- place and time

#: The deployment's civil time zone: every time shown to a user, every "today" and "this
#: month" is in it (timestamps are stored as UTC ``timestamptz``).
TIMEZONE = "Asia/Shanghai"
TZ = ZoneInfo(TIMEZONE)

#: A grid cell's code: Chinese administrative-division digits (prefecture 532900, county
#: 532901, township 532901001, village 532901001001, grid and micro-grid longer), 6 to 24
#: ASCII digits (``grid_cell.code`` is VARCHAR(24)).
CELL_CODE_RE = re.compile(r"[0-9]{6,24}")

#: Grid levels, 1 (prefecture) to 6 (micro-grid): level → key.
LEVELS: MappingProxyType[int, str] = _frozen(
    {1: "prefecture", 2: "county", 3: "township", 4: "village", 5: "grid", 6: "micro_grid"}
)
LEVEL_MSGIDS: MappingProxyType[int, str] = _frozen(
    {1: "Prefecture", 2: "County", 3: "Township", 4: "Village", 5: "Grid", 6: "Micro-grid"}
)

# ----------------------------------------------------------------------------- events

EVENT_CATEGORIES = (
    "dispute",  # 矛盾纠纷
    "social_risk",  # 社会风险隐患
    "public_security",  # 治安
    "party_building",  # 党建
    "rural_revitalisation",  # 乡村振兴
    "civilised_city",  # 文明创建
    "ethnic_religious",  # 民族宗教
    "epidemic_prevention",  # 疫情防控
    "environment",  # 生态环境
    "forest_fire",  # 森林防火
    "livelihood",  # 民生服务
)
CATEGORY_MSGIDS: MappingProxyType[str, str] = _frozen(
    {
        "dispute": "Dispute",
        "social_risk": "Social risk",
        "public_security": "Public security",
        "party_building": "Party building",
        "rural_revitalisation": "Rural revitalisation",
        "civilised_city": "Civilised city",
        "ethnic_religious": "Ethnic and religious affairs",
        "epidemic_prevention": "Epidemic prevention",
        "environment": "Environment",
        "forest_fire": "Forest fire",
        "livelihood": "Livelihood services",
    }
)

#: Difficulty of a dispute (以案定补: simple 50, ordinary 120, difficult 300 yuan).
DIFFICULTIES = ("simple", "ordinary", "difficult")
DIFFICULTY_MSGIDS: MappingProxyType[str, str] = _frozen(
    {"simple": "Simple", "ordinary": "Ordinary", "difficult": "Difficult"}
)

SEVERITIES = ("low", "medium", "high", "critical")
SEVERITY_MSGIDS: MappingProxyType[str, str] = _frozen(
    {"low": "Low", "medium": "Medium", "high": "High", "critical": "Critical"}
)

EVENT_STATUSES = (
    "reported",
    "accepted",
    "dispatched",
    "in_progress",
    "resolved",
    "verified",
    "closed",
    "rejected",
    "returned",
    "escalated",
)
STATUS_MSGIDS: MappingProxyType[str, str] = _frozen(
    {
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
)
#: Statuses of a case still to be worked on (counted as open, can become overdue).
OPEN_STATUSES = ("reported", "accepted", "dispatched", "in_progress", "returned", "escalated")
#: Statuses of a case that is done with (resolved or beyond, or rejected).
CLOSED_STATUSES = ("resolved", "verified", "closed", "rejected")

#: Deadline tiers (red / yellow / blue), set from the severity unless given.
PRIORITIES = ("red", "yellow", "blue")
PRIORITY_MSGIDS: MappingProxyType[str, str] = _frozen(
    {"red": "Red", "yellow": "Yellow", "blue": "Blue"}
)

# ----------------------------------------------------------------------------- people

DUTY_STATUSES = ("on_duty", "off_duty", "on_leave")
DUTY_MSGIDS: MappingProxyType[str, str] = _frozen(
    {"on_duty": "On duty", "off_duty": "Off duty", "on_leave": "On leave"}
)
#: Where a worker position came from.
POSITION_SOURCES = ("gps", "network", "manual", "simulated")

ROLES = (
    "admin",
    "commander",
    "dispatcher",
    "supervisor",
    "auditor",
    "grid_worker",
    "department",
)
ROLE_MSGIDS: MappingProxyType[str, str] = _frozen(
    {
        "admin": "Administrator",
        "commander": "Commander",
        "dispatcher": "Dispatcher",
        "supervisor": "Supervisor",
        "auditor": "Auditor",
        "grid_worker": "Grid worker",
        "department": "Department staff",
    }
)

#: What each role may do. ``view``: the map, panels, live layers and tables of the scope;
#: ``dispatch``: assign/reassign events; ``supervise``: 督办 (flag, chase overdue cases);
#: ``audit``: read the security and audit logs; ``roster``: manage grid workers of the scope;
#: ``unmask``: see one resident's full ID/phone, or search residents by an identifier (also
#: needs the account's ``can_unmask``); ``export``: download tables; ``admin``: manage
#: accounts and role policies; ``handle``: act on the events dispatched to one's own
#: department unit (accept, work, resolve), nothing else.
#: ``grid_worker`` accounts use the mobile API only (no dashboard).
#: (A plain dict: tests narrow a role's permissions with ``monkeypatch.setitem``.)
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {"view", "dispatch", "supervise", "audit", "roster", "unmask", "export", "admin"}
    ),
    "commander": frozenset({"view", "dispatch", "supervise", "roster", "unmask", "export"}),
    "dispatcher": frozenset({"view", "dispatch", "export"}),
    "supervisor": frozenset({"view", "supervise", "export"}),
    "auditor": frozenset({"view", "audit", "export"}),
    "grid_worker": frozenset(),
    # Department staff (派出所, 司法所, ...): the map of their jurisdiction and their queue.
    "department": frozenset({"view", "handle"}),
}

#: Units that take cases beside the grid (派出所, 法院, 检察院, 司法所, 信访办).
DEPARTMENT_KINDS = ("police", "court", "procuratorate", "judicial", "petition")
DEPARTMENT_KIND_MSGIDS: MappingProxyType[str, str] = _frozen(
    {
        "police": "Police station",
        "court": "Court",
        "procuratorate": "Procuratorate",
        "judicial": "Judicial office",
        "petition": "Petition office",
    }
)

# ----------------------------------------------------------------------------- things and logs

STREAM_KINDS = ("hls", "mp4", "rtsp", "web")
STREAM_KIND_MSGIDS: MappingProxyType[str, str] = _frozen(
    {"hls": "HLS live stream", "mp4": "MP4 video", "rtsp": "RTSP stream", "web": "Web page"}
)
#: Kinds of rows of the live change log (what the dashboards' live layers follow).
LIVE_KINDS = ("event", "worker", "camera")

SECURITY_KINDS = (
    "login",
    "login_failed",
    "lockout",
    "logout",
    "session_expired",
    "denied",
    "export",
    "unmask",
    "password_change",
    "account_change",
    "second_factor",
    "roster_change",
    "id_search",
    "rate_limit",
)
SECURITY_KIND_MSGIDS: MappingProxyType[str, str] = _frozen(
    {
        "login": "Signed in",
        "login_failed": "Failed sign-in",
        "lockout": "Account locked",
        "logout": "Signed out",
        "session_expired": "Session expired",
        "denied": "Refused",
        "export": "Export",
        "unmask": "Full numbers shown",
        "password_change": "Password changed",
        "account_change": "Account changed",
        "second_factor": "Second factor",
        "roster_change": "Roster change",
        "id_search": "Search by ID or phone",
        "rate_limit": "Rate limit reached",
    }
)

#: Map metrics (choropleth of the grid): key → label msgid; ``none`` draws outlines only.
METRIC_MSGIDS: MappingProxyType[str, str] = _frozen(
    {
        "none": "None",
        "open": "Open events",
        "overdue": "Overdue events",
        "rate30": "Events per 10,000 residents (30 days)",
        "coverage": "On-duty coverage",
        "staffing": "Assigned workers (0 / 1 / 2+)",
        "uncovered": "Grids without a worker",
    }
)
METRICS = tuple(METRIC_MSGIDS)
