"""The event table: a filtered, sorted list of the events of the caller's scope,
for the dashboard's table view and for the CSV/XLSX exports.

Every function takes a connection first and the caller's *scope path* (ltree path of the
jurisdiction cell) and only sees events whose L6 cell lies in the subtree
``grid_cell.path <@ scope_path``: a forgotten filter in the UI cannot leak another county's
events. The table and the exports run the **same** query (:func:`event_rows`,
:func:`iter_event_rows`), so an export holds exactly the rows the table would list.

Filters (:class:`EventFilters`, built from browser or query-string values by
:func:`parse_filters`, which raises :class:`FilterError` naming the field):

* ``statuses`` / ``categories`` / ``priorities``: any of the values (empty: all);
* ``date_from`` / ``date_to``: calendar days in :data:`gridcmd.vocab.TIMEZONE` (Dali local
  time), inclusive, on ``reported_at``;
* ``overdue_only``: open (:data:`geodata.stats.OPEN_STATUSES`) and ``due_at < now``;
* ``supervised_only``: ``supervised_at`` is set (督办);
* ``q``: a substring of the title or the description (case-insensitive for Latin letters;
  ``%``, ``_`` and ``\\`` match literally), or the event's id / the start of its UUID.

Search is a plain ``LIKE``/``ILIKE``: no ``pg_trgm`` extension is installed by the migrations
(and trigram indexes do not help one- and two-character Chinese queries anyway); the query is
bounded by the scope's events (8,952 at full demo scale), so a sequential filter is cheap.

Personal data: events carry no resident data; the assignee's *name* is listed, never a phone
number. Titles and descriptions are free text a reporter typed, so anything in them that looks
like a mainland mobile or ID number is masked (``138****1234``) before it leaves
(:func:`mask_free_text`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.cells import check_scope_path
from geodata.residents import mask_id, mask_phone
from geodata.stats import NOW_SQL, custom_plans
from gridcmd.vocab import EVENT_CATEGORIES, EVENT_STATUSES, OPEN_STATUSES, PRIORITIES, TZ

__all__ = [
    "EXPORT_MAX",
    "QUERY_MAX",
    "SORTS",
    "TABLE_MAX",
    "EventFilters",
    "FilterError",
    "count_events",
    "event_location",
    "event_rows",
    "filters_query",
    "filters_summary",
    "iter_event_rows",
    "mask_free_text",
    "parse_filters",
]

#: Most rows the table view loads (the newest matching, by the chosen sort); the status line
#: shows the total, and exports contain every matching row up to :data:`EXPORT_MAX`.
TABLE_MAX = 2_000
#: Hard cap of one export (rows). A larger result is cut at this many rows, in sort order,
#: and the response says so (``X-Gridcmd-Export-Truncated``).
EXPORT_MAX = 100_000
#: Longest search text (characters, after stripping).
QUERY_MAX = 100
#: Sort keys → ORDER BY expression (ties broken by the id, newest first).
SORTS: dict[str, str] = {
    "reported_desc": "e.reported_at DESC",
    "reported_asc": "e.reported_at ASC",
    "due_asc": "e.due_at ASC NULLS LAST",
    "priority": "CASE e.priority WHEN 'red' THEN 0 WHEN 'yellow' THEN 1 ELSE 2 END ASC,"
    " e.reported_at DESC",
    "severity": "CASE e.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1"
    " WHEN 'medium' THEN 2 ELSE 3 END ASC, e.reported_at DESC",
    "supervised_desc": "e.supervised_at DESC NULLS LAST",
}
DEFAULT_SORT = "reported_desc"

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_LATIN = re.compile(r"[A-Za-z]")
_HEX = re.compile(r"[0-9a-fA-F]{4,32}")
_DIGITS = re.compile(r"[0-9]{1,18}")
#: Phone- and ID-like digit runs in free text (the same shapes tests/scan.py looks for).
_ID_IN_TEXT = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
_PHONE_IN_TEXT = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")


class FilterError(ValueError):
    """A filter value the table cannot use; ``field`` names the parameter."""

    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        super().__init__(message)


@dataclass(frozen=True)
class EventFilters:
    """What the table lists (see the module docstring). Values are validated by
    :func:`parse_filters`; build instances through it."""

    statuses: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    overdue_only: bool = False
    supervised_only: bool = False
    q: str | None = None
    sort: str = DEFAULT_SORT


# ----------------------------------------------------------------------------- parsing


def _values(raw: Any, name: str) -> tuple[str, ...]:
    """A list of strings from a browser value (list, or a comma-separated string)."""
    if raw is None or raw == "":
        return ()
    if isinstance(raw, str):
        items = [p.strip() for p in raw.split(",")]
    elif isinstance(raw, list | tuple):
        items = []
        for v in raw:
            if not isinstance(v, str):
                raise FilterError(name, f"{name} must be a list of strings")
            items += [p.strip() for p in v.split(",")]
    else:
        raise FilterError(name, f"{name} must be a list of strings")
    out = tuple(dict.fromkeys(p for p in items if p))
    if len(out) > 20:
        raise FilterError(name, f"too many values for {name}")
    return out


def _choices(raw: Any, name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    values = _values(raw, name)
    bad = [v for v in values if v not in allowed]
    if bad:
        raise FilterError(name, f"unknown {name} {bad[0][:40]!r}; one of: {', '.join(allowed)}")
    return values


def _date(raw: Any, name: str) -> dt.date | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or not _DATE.fullmatch(raw.strip()[:10]) or len(raw) > 32:
        raise FilterError(name, f"{name} must be a date YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(raw.strip()[:10])
    except ValueError:
        raise FilterError(name, f"{name} is not a valid date: {raw[:12]!r}") from None


def _flag(raw: Any, name: str) -> bool:
    if raw is None or raw is False or raw == "":
        return False
    if raw is True:
        return True
    if isinstance(raw, str) and raw.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(raw, str) and raw.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise FilterError(name, f"{name} must be 1 or 0")


def parse_filters(values: Mapping[str, Any]) -> EventFilters:
    """:class:`EventFilters` from browser or query-string values: keys ``status``,
    ``category``, ``priority`` (lists or comma-separated), ``from``, ``to`` (YYYY-MM-DD),
    ``overdue``, ``supervised`` (1/0/true/false), ``q`` (text), ``sort`` (a :data:`SORTS`
    key). Missing or empty values mean "no filter". Raises :class:`FilterError`."""
    q = values.get("q")
    if q is not None and not isinstance(q, str):
        raise FilterError("q", "q must be text")
    q = (q or "").strip()
    if len(q) > QUERY_MAX or (q and not q.isprintable()):
        raise FilterError("q", f"q must be at most {QUERY_MAX} printable characters")
    sort = values.get("sort") or DEFAULT_SORT
    if not isinstance(sort, str) or sort not in SORTS:
        raise FilterError("sort", f"sort must be one of: {', '.join(SORTS)}")
    date_from = _date(values.get("from"), "from")
    date_to = _date(values.get("to"), "to")
    if date_from and date_to and date_from > date_to:
        raise FilterError("to", "the end date is before the start date")
    return EventFilters(
        statuses=_choices(values.get("status"), "status", EVENT_STATUSES),
        categories=_choices(values.get("category"), "category", EVENT_CATEGORIES),
        priorities=_choices(values.get("priority"), "priority", PRIORITIES),
        date_from=date_from,
        date_to=date_to,
        overdue_only=_flag(values.get("overdue"), "overdue"),
        supervised_only=_flag(values.get("supervised"), "supervised"),
        q=q or None,
        sort=sort,
    )


def filters_query(f: EventFilters) -> dict[str, str]:
    """The query-string form of ``f`` (the inverse of :func:`parse_filters`), empty values
    left out: the export links carry the table's filters this way."""
    out = {
        "status": ",".join(f.statuses),
        "category": ",".join(f.categories),
        "priority": ",".join(f.priorities),
        "from": f.date_from.isoformat() if f.date_from else "",
        "to": f.date_to.isoformat() if f.date_to else "",
        "overdue": "1" if f.overdue_only else "",
        "supervised": "1" if f.supervised_only else "",
        "q": f.q or "",
        "sort": f.sort if f.sort != DEFAULT_SORT else "",
    }
    return {k: v for k, v in out.items() if v}


def mask_free_text(value: str | None) -> str:
    """``value`` with mobile- and ID-number-shaped digit runs masked (``138****1234``,
    ``5329**********123X``): free text may hold a number someone typed."""
    if not value:
        return value or ""
    value = _ID_IN_TEXT.sub(lambda m: mask_id(m.group(0)), value)
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), value)


def filters_summary(f: EventFilters) -> str:
    """A short text of the filters for the security log. The search text itself is left out
    (only its length): people search for names and numbers, and the log is read by auditors
    who need to know *that* a search narrowed the export, not whom it was about."""
    parts = [f"{k}={v}" for k, v in filters_query(f).items() if k != "q"]
    if f.q:
        parts.append(f"q=({len(f.q)} characters)")
    return " ".join(parts) or "no filters"


# ----------------------------------------------------------------------------- the query


def _like_escape(s: str) -> str:
    """``s`` with LIKE's wildcards (and the escape character) matching literally."""
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _where(f: EventFilters, scope: str, now: dt.datetime | None) -> tuple[str, dict[str, Any]]:
    """WHERE clause (after the scope condition) and its parameters."""
    sql = ["c.path <@ CAST(:scope AS ltree)"]
    params: dict[str, Any] = {"scope": scope, "open": list(OPEN_STATUSES), "now": now}
    if f.statuses:
        sql.append("e.status = ANY(:statuses)")
        params["statuses"] = list(f.statuses)
    if f.categories:
        sql.append("e.category = ANY(:categories)")
        params["categories"] = list(f.categories)
    if f.priorities:
        sql.append("e.priority = ANY(:priorities)")
        params["priorities"] = list(f.priorities)
    if f.date_from:
        sql.append("e.reported_at >= :t_from")
        params["t_from"] = dt.datetime.combine(f.date_from, dt.time(), TZ)
    if f.date_to:
        sql.append("e.reported_at < :t_to")
        params["t_to"] = dt.datetime.combine(f.date_to + dt.timedelta(days=1), dt.time(), TZ)
    if f.overdue_only:
        sql.append(f"e.status = ANY(:open) AND e.due_at < {NOW_SQL}")
    if f.supervised_only:
        sql.append("e.supervised_at IS NOT NULL")
    if f.q:
        op = "ILIKE" if _LATIN.search(f.q) else "LIKE"
        match = [f"e.title {op} :contains ESCAPE '\\'", f"e.description {op} :contains ESCAPE '\\'"]
        params["contains"] = f"%{_like_escape(f.q)}%"
        if _DIGITS.fullmatch(f.q):
            match.append("e.id = :q_id")
            params["q_id"] = int(f.q)
        if _HEX.fullmatch(f.q):
            match.append("e.uuid::text LIKE :q_uuid")
            params["q_uuid"] = f.q.lower() + "%"
        sql.append("(" + " OR ".join(match) + ")")
    return " AND ".join(sql), params


# County and township names come from the L6 cell's path labels (label 2 = county code,
# label 3 = township code; the unique code index finds them). They are the caller's own
# ancestors or cells inside the scope: a township commander sees their own county's name.
_SELECT = f"""
    SELECT e.id, e.uuid::text AS uuid, e.reported_at, e.category, e.subcategory, e.severity,
           e.priority, e.status, e.title, e.description, e.due_at, e.supervised_at,
           e.synthetic, (e.status = ANY(:open) AND e.due_at < {NOW_SQL}) AS overdue,
           county.name AS county, town.name AS township, w.name AS assignee,
           d.name AS department{{extra}}
    FROM event AS e
    JOIN grid_cell AS c ON c.id = e.cell_id
    LEFT JOIN grid_cell AS county ON county.code = split_part(ltree2text(c.path), '.', 2)
    LEFT JOIN grid_cell AS town ON town.code = split_part(ltree2text(c.path), '.', 3)
    LEFT JOIN grid_worker AS w ON w.id = e.assignee_id
    LEFT JOIN department AS d ON d.id = e.department_id
    WHERE {{where}}
    ORDER BY {{order}}, e.id DESC
    LIMIT :limit
"""

#: Columns of a row, in the order of the exports.
ROW_KEYS = (
    "id", "uuid", "reported_at", "category", "subcategory", "severity", "priority", "status",
    "title", "description", "county", "township", "assignee", "department", "due_at",
    "overdue", "supervised_at", "synthetic",
)  # fmt: skip


def _check_limit(limit: Any, hi: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= hi:
        raise ValueError(f"limit must be an integer from 1 to {hi:,}, not {limit!r}")
    return limit


def _clean(row: Mapping[str, Any]) -> dict[str, Any]:
    d = {k: row[k] for k in ROW_KEYS}
    d["title"] = mask_free_text(d["title"])
    d["description"] = mask_free_text(d["description"])
    d["overdue"] = bool(d["overdue"])
    return d


def event_rows(
    conn: Connection,
    *,
    scope_path: str,
    filters: EventFilters,
    limit: int = TABLE_MAX,
    now: dt.datetime | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """``(rows, total)``: the first ``limit`` (≤ :data:`TABLE_MAX`) matching events of the
    scope in ``filters.sort`` order, and how many match in all. Each row has the keys of
    :data:`ROW_KEYS` (timestamps aware datetimes; ``uuid`` text; free text masked).
    ``now`` (default: the database's) decides ``overdue``."""
    scope = check_scope_path(scope_path)
    _check_limit(limit, TABLE_MAX)
    where, params = _where(filters, scope, now)
    sql = _SELECT.format(
        extra=", count(*) OVER () AS total", where=where, order=SORTS[filters.sort]
    )
    custom_plans(conn)
    rows = conn.execute(text(sql), {**params, "limit": limit}).mappings().all()
    return [_clean(r) for r in rows], (int(rows[0]["total"]) if rows else 0)


def count_events(
    conn: Connection, *, scope_path: str, filters: EventFilters, now: dt.datetime | None = None
) -> int:
    """How many events of the scope match ``filters``."""
    where, params = _where(filters, check_scope_path(scope_path), now)
    custom_plans(conn)
    return conn.execute(
        text(f"SELECT count(*) FROM event AS e JOIN grid_cell AS c ON c.id = e.cell_id "
             f"WHERE {where}"),
        params,
    ).scalar_one()  # fmt: skip


def iter_event_rows(
    conn: Connection,
    *,
    scope_path: str,
    filters: EventFilters,
    limit: int = EXPORT_MAX,
    now: dt.datetime | None = None,
    batch: int = 1_000,
) -> Iterator[dict[str, Any]]:
    """Every matching event of the scope (at most ``limit`` ≤ :data:`EXPORT_MAX`), in sort
    order, streamed from a server-side cursor ``batch`` rows at a time (memory stays flat for
    a 100,000-row export). Rows as in :func:`event_rows`."""
    scope = check_scope_path(scope_path)
    _check_limit(limit, EXPORT_MAX)
    where, params = _where(filters, scope, now)
    sql = _SELECT.format(extra="", where=where, order=SORTS[filters.sort])
    custom_plans(conn)
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(
        text(sql), {**params, "limit": limit}
    )
    for row in result.mappings():
        yield _clean(row)


def event_location(conn: Connection, *, scope_path: str, event_id: Any) -> dict[str, Any] | None:
    """``{id, title, lon, lat}`` of one event of the scope (EPSG:4326 degrees), or None when
    the id is malformed, unknown or outside the scope (indistinguishable on purpose)."""
    if isinstance(event_id, str) and event_id.isdigit() and len(event_id) <= 18:
        event_id = int(event_id)
    if isinstance(event_id, bool) or not isinstance(event_id, int) or not 1 <= event_id < 2**63:
        return None
    r = conn.execute(
        text(
            """
            SELECT e.id, e.title, ST_X(e.location) AS lon, ST_Y(e.location) AS lat
            FROM event AS e JOIN grid_cell AS c ON c.id = e.cell_id
            WHERE e.id = :id AND c.path <@ CAST(:scope AS ltree)
            """
        ),
        {"id": event_id, "scope": check_scope_path(scope_path)},
    ).mappings().first()  # fmt: skip
    if r is None:
        return None
    return {**dict(r), "title": mask_free_text(r["title"])}
