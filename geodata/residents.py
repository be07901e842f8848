"""The residents register (人口信息): scoped lookup with masked personal data, audited unmasking,
and household points for the map.

Masking happens **in SQL**, so the raw ID and phone numbers never reach Python except in
:func:`unmask_resident` (one record, a permitted caller, a reason, an audit row in the same
transaction). Formats: ID ``5329**********123X`` (first 4, last 4), phone ``138****1234``
(first 3, last 4). Names stay visible: the lookup is by name and a commander must recognise
the person; the birth date (digits 7–14 of the ID) is hidden, only the age is shown.

Every query takes the caller's scope path and only sees residents whose cell is in that
subtree (``grid_cell.path <@ scope``).

A search by identifier (full ID, its last 4 or 6 characters, a full mobile number or its last
4 digits) is itself a disclosure: "is 532901197210143097 one of your residents?" answered
hit / no hit recovers a masked number in a few dozen guesses. So :func:`search_residents`
answers name searches only, and :func:`search_residents_by_identifier` requires the
``unmask`` permission and a reason, is rate-limited per account (:data:`ID_SEARCH_LIMIT` in
:data:`ID_SEARCH_WINDOW_MIN` minutes) and appends an ``id_search`` security-log entry (who,
the masked query, the number of hits, the reason) whether it hit or not.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.accounts import Caller, has_permission
from geodata.cells import check_scope_path, view_params
from geodata.safe_text import clean_text
from geodata.security_log import log_security
from geodata.stats import check_int
from gridcmd.vocab import TZ

__all__ = [
    "ID_SEARCH_LIMIT",
    "ID_SEARCH_WINDOW_MIN",
    "IDENTIFIER_KINDS",
    "IdentifierSearchLimited",
    "MAX_LIMIT",
    "QUERY_MAX",
    "REASON_MIN",
    "classify_query",
    "households_by_grid",
    "households_in_view",
    "log_identifier_search_refused",
    "mask_id",
    "mask_phone",
    "masked_query",
    "resident_detail_masked",
    "search_residents",
    "search_residents_by_identifier",
    "unmask_resident",
]

#: Most rows one search page returns.
MAX_LIMIT = 200
#: Longest accepted query, characters.
QUERY_MAX = 30
#: Shortest accepted reason for unmasking, characters (after stripping).
REASON_MIN = 4
REASON_MAX = 200
#: Identifier searches one account may make in :data:`ID_SEARCH_WINDOW_MIN` minutes; the next
#: one is refused (and a ``rate_limit`` alert is logged, at most once a minute per account).
ID_SEARCH_LIMIT = 30
ID_SEARCH_WINDOW_MIN = 15
#: Query kinds (:func:`classify_query`) that search by an identifier, not by a name.
IDENTIFIER_KINDS = frozenset({"id", "phone", "last4", "last6"})


class IdentifierSearchLimited(PermissionError):
    """The account made :data:`ID_SEARCH_LIMIT` identifier searches in the window."""


# The masking expressions (SQL), used by every query that returns a resident.
_ID_MASK_SQL = (
    "left(r.id_number, 4) || repeat('*', length(r.id_number) - 8) || right(r.id_number, 4)"
)
_PHONE_MASK_SQL = (
    "CASE WHEN length(r.phone) >= 8 THEN left(r.phone, 3) || repeat('*', length(r.phone) - 7)"
    " || right(r.phone, 4) ELSE repeat('*', greatest(length(r.phone) - 2, 0))"
    " || right(r.phone, 2) END"
)


def mask_id(id_number: str | None) -> str:
    """``532901199001011234`` → ``5329**********1234``: the first 4 and last 4 characters
    (region prefix and sequence/check digit); everything between (the birth date) masked."""
    s = "" if id_number is None else str(id_number)
    if len(s) <= 8:
        return "*" * len(s)
    return s[:4] + "*" * (len(s) - 8) + s[-4:]


def mask_phone(phone: str | None) -> str:
    """``13812341234`` → ``138****1234`` (first 3, last 4); shorter numbers keep only their
    last 2 digits. Works for any phone-like text (workers' numbers, landlines)."""
    s = "" if phone is None else str(phone)
    if len(s) >= 8:
        return s[:3] + "*" * (len(s) - 7) + s[-4:]
    return "*" * max(len(s) - 2, 0) + s[-2:] if len(s) > 2 else "*" * len(s)


_ID_FULL = re.compile(r"[0-9]{17}[0-9Xx]")
_PHONE_FULL = re.compile(r"1[3-9][0-9]{9}")
_LAST4 = re.compile(r"[0-9]{3}[0-9Xx]")
_LAST6 = re.compile(r"[0-9]{5}[0-9Xx]")
_NAME = re.compile(r"[^\s%_\\0-9]{1,20}")


def classify_query(query: str) -> tuple[str, str]:
    """What a lookup query is: ``("id", full ID)``, ``("phone", full number)``, ``("last4",
    digits)`` (last 4 of an ID or a phone), ``("last6", digits)`` (last 6 of an ID) or
    ``("name", prefix)``. ValueError with the accepted forms otherwise."""
    q = (query or "").strip().replace(" ", "")
    if not q or len(q) > QUERY_MAX:
        raise ValueError(f"type 1 to {QUERY_MAX} characters")
    if _ID_FULL.fullmatch(q):
        return "id", q.upper()
    if _PHONE_FULL.fullmatch(q):
        return "phone", q
    if _LAST4.fullmatch(q):
        return "last4", q.upper()
    if _LAST6.fullmatch(q):
        return "last6", q.upper()
    if _NAME.fullmatch(q):
        return "name", q
    raise ValueError(
        "search by the start of a name, a full ID number or its last 4 or 6 characters, "
        "or a full mobile number or its last 4 digits"
    )


_WHERE = {
    "id": "r.id_number = :q",
    "phone": "r.phone = :q",
    "last4": "(right(r.id_number, 4) = :q OR right(r.phone, 4) = :q)",
    "last6": "right(r.id_number, 6) = :q",
    "name": "r.name LIKE :q || '%'",
}

_SEARCH_SQL = """
    SELECT r.id, r.name, {id_mask} AS id_masked, {phone_mask} AS phone_masked, r.gender,
           r.household_no, c.code AS cell_code, c.name AS cell_name, r.synthetic,
           count(*) OVER () AS total
    FROM resident AS r JOIN grid_cell AS c ON c.id = r.cell_id
    WHERE c.path <@ CAST(:scope AS ltree) AND {where}
    ORDER BY r.name, r.id
    LIMIT :limit OFFSET :offset
"""


def masked_query(query: str) -> str:
    """``query`` as it may be logged or shown: a full ID or phone number masked like a record
    (:func:`mask_id`, :func:`mask_phone`), the last 6 of an ID reduced to the last 4 that the
    mask shows anyway; a name as typed. ValueError like :func:`classify_query`."""
    kind, q = classify_query(query)
    if kind == "id":
        return mask_id(q)
    if kind == "phone":
        return mask_phone(q)
    if kind == "last6":
        return "**" + q[-4:]
    return q


def search_residents(
    conn: Connection, scope_path: str, query: str, *, limit: int = 20, offset: int = 0
) -> dict[str, Any]:
    """Residents of the scope whose name starts with ``query``.

    Returns ``{"total": n, "rows": [...]}``; each row ``{id, name, id_masked, phone_masked,
    gender, household_no, cell_code, cell_name, synthetic}`` — masked values only (masked in
    SQL: the raw numbers are never fetched). ``total`` counts every match of the scope.

    An identifier query (see :func:`classify_query`) raises PermissionError: it must go
    through :func:`search_residents_by_identifier` (permission, reason, rate limit, log)."""
    check_scope_path(scope_path)
    kind, _ = classify_query(query)
    if kind in IDENTIFIER_KINDS:
        raise PermissionError("searching by ID or phone number needs the unmask permission")
    return _search(conn, scope_path, query, limit=limit, offset=offset)


def search_residents_by_identifier(
    conn: Connection,
    caller: Caller,
    query: str,
    reason: str,
    *,
    ip: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> dict[str, Any]:
    """Residents of the caller's scope matching an identifier ``query`` (full ID, last 4/6 of
    an ID, full mobile number, last 4 digits), masked, as :func:`search_residents`.

    Needs the ``unmask`` permission (PermissionError) and a reason of :data:`REASON_MIN` to
    :data:`REASON_MAX` characters (ValueError); a name query is a ValueError (use
    :func:`search_residents`). At most :data:`ID_SEARCH_LIMIT` searches per account in
    :data:`ID_SEARCH_WINDOW_MIN` minutes: the next raises :class:`IdentifierSearchLimited`
    (log the alert with :func:`log_identifier_search_refused` in a transaction of its own).
    Appends an ``id_search`` security-log entry (the masked query, the hit count, the reason)
    in the transaction of ``conn``, hit or not: commit it for the entry to stay."""
    if not has_permission(caller, "unmask"):
        raise PermissionError("searching by ID or phone number needs the unmask permission")
    kind, _ = classify_query(query)
    if kind not in IDENTIFIER_KINDS:
        raise ValueError("not an ID or phone number query")
    reason = _check_reason(reason)
    check_scope_path(caller.scope_path)
    check_int("limit", limit, 1, MAX_LIMIT)
    check_int("offset", offset, 0, 10_000_000)
    account, username = _account_key(caller)
    # One identifier search of an account at a time: the count below cannot be raced past.
    conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('gridcmd.id_search'), hashtext(:u))"),
        {"u": f"{account}:{username}"},
    )
    who = "account_id = :a" if account is not None else "account_id IS NULL AND username = :u"
    used = conn.execute(
        text(
            "SELECT count(*) FROM security_log WHERE kind = 'id_search' AND "
            + who
            + " AND at > clock_timestamp() - make_interval(mins => :m)"
        ),
        {"a": account, "u": username, "m": ID_SEARCH_WINDOW_MIN},
    ).scalar_one()
    if used >= ID_SEARCH_LIMIT:
        raise IdentifierSearchLimited(
            f"{ID_SEARCH_LIMIT} ID or phone searches in {ID_SEARCH_WINDOW_MIN} minutes: "
            "try again later"
        )
    res = _search(conn, caller.scope_path, query, limit=limit, offset=offset)
    log_security(
        conn,
        "id_search",
        account_id=account,
        username=username,
        ip=ip,
        target="residents",
        detail=f"{kind} {masked_query(query)}: {res['total']} hits; reason: {reason}",
    )
    return res


def log_identifier_search_refused(
    conn: Connection, caller: Caller | None, query: str, exc: Exception, *, ip: str | None = None
) -> None:
    """Log a refused identifier search (in its own transaction: the search's rolled back):
    a ``rate_limit`` alert for :class:`IdentifierSearchLimited` (at most one a minute per
    account), else a ``denied`` entry with the masked query."""
    account, username = _account_key(caller) if caller else (None, None)
    try:
        shown = masked_query(query)
    except ValueError:
        shown = "?"
    if isinstance(exc, IdentifierSearchLimited):
        conn.execute(
            text(
                """
                INSERT INTO security_log (kind, account_id, username, ip, target, detail)
                SELECT 'rate_limit', :a, :u, :ip, 'residents', :d
                WHERE NOT EXISTS (
                    SELECT 1 FROM security_log
                    WHERE kind = 'rate_limit' AND target = 'residents'
                      AND account_id IS NOT DISTINCT FROM :a
                      AND username IS NOT DISTINCT FROM :u
                      AND at > clock_timestamp() - interval '1 minute')
                """
            ),
            {"a": account, "u": username, "ip": ip,
             "d": f"identifier search limit reached ({ID_SEARCH_LIMIT} in "
                  f"{ID_SEARCH_WINDOW_MIN} min); refused: {shown}"},
        )  # fmt: skip
        return
    log_security(
        conn,
        "denied",
        account_id=account,
        username=username,
        ip=ip,
        target="residents",
        detail=f"identifier search refused ({exc}): {shown}",
    )


def _account_key(caller: Caller) -> tuple[int | None, str]:
    return (caller.account_id if caller.account_id > 0 else None), caller.username


def _check_reason(reason: Any) -> str:
    reason = " ".join(clean_text(str(reason or "")).split())
    if len(reason) < REASON_MIN:
        raise ValueError(f"give a reason of at least {REASON_MIN} characters")
    if len(reason) > REASON_MAX:
        raise ValueError(f"the reason is longer than {REASON_MAX} characters")
    return reason


def _search(
    conn: Connection, scope_path: str, query: str, *, limit: int, offset: int
) -> dict[str, Any]:
    kind, q = classify_query(query)
    check_int("limit", limit, 1, MAX_LIMIT)
    check_int("offset", offset, 0, 10_000_000)
    sql = _SEARCH_SQL.format(id_mask=_ID_MASK_SQL, phone_mask=_PHONE_MASK_SQL, where=_WHERE[kind])
    rows = conn.execute(
        text(sql), {"scope": scope_path, "q": q, "limit": limit, "offset": offset}
    ).mappings().all()  # fmt: skip
    total = int(rows[0]["total"]) if rows else 0
    if not rows and offset:  # past the end: still tell the caller how many there are
        total = conn.execute(
            text(
                "SELECT count(*) FROM resident AS r JOIN grid_cell AS c ON c.id = r.cell_id "
                f"WHERE c.path <@ CAST(:scope AS ltree) AND {_WHERE[kind]}"
            ),
            {"scope": scope_path, "q": q},
        ).scalar_one()
    return {
        "total": total,
        "rows": [{k: v for k, v in r.items() if k != "total"} for r in rows],
    }


_DETAIL_SQL = f"""
    SELECT r.id, r.name, {_ID_MASK_SQL} AS id_masked, {_PHONE_MASK_SQL} AS phone_masked,
           r.gender, date_part('year', age(CAST(:today AS date), r.birth_date))::int AS age,
           r.household_no, r.address, r.synthetic,
           c.code AS cell_code, c.name AS cell_name,
           (SELECT count(*) FROM resident AS m WHERE m.household_no = r.household_no)
               AS household_size
    FROM resident AS r JOIN grid_cell AS c ON c.id = r.cell_id
    WHERE r.id = :id AND c.path <@ CAST(:scope AS ltree)
"""


def resident_detail_masked(
    conn: Connection, scope_path: str, resident_id: int
) -> dict[str, Any] | None:
    """One resident of the scope, masked: ``{id, name, id_masked, phone_masked, gender, age,
    household_no, address, household_size, cell_code, cell_name, synthetic}`` (age on today's
    date in Dali); None when the id is unknown or outside the scope."""
    check_scope_path(scope_path)
    if isinstance(resident_id, bool) or not isinstance(resident_id, int):
        raise ValueError(f"resident id must be an integer, not {resident_id!r}")
    if not 0 < resident_id < 2**63:
        return None
    row = conn.execute(
        text(_DETAIL_SQL),
        {"id": resident_id, "scope": scope_path, "today": dt.datetime.now(TZ).date()},
    ).mappings().first()  # fmt: skip
    return dict(row) if row else None


_UNMASK_SQL = """
    SELECT r.id, r.id_number, r.phone
    FROM resident AS r JOIN grid_cell AS c ON c.id = r.cell_id
    WHERE r.id = :id AND c.path <@ CAST(:scope AS ltree)
"""


def unmask_resident(
    conn: Connection, caller: Caller, resident_id: int, reason: str, *, ip: str | None = None
) -> dict[str, Any]:
    """The raw ``{id, id_number, phone}`` of one resident, for a caller with the ``unmask``
    permission (role and ``can_unmask``), the resident in the caller's scope, and a reason of
    at least :data:`REASON_MIN` characters. Appends a security-log ``unmask`` entry (target:
    the resident id, detail: the reason — never the raw values) in the transaction of
    ``conn``: commit it for the audit row to stay.

    Raises PermissionError (no permission; unknown or out-of-scope resident — the same
    message, so existence outside the scope is not revealed) or ValueError (bad reason/id).
    """
    if not has_permission(caller, "unmask"):
        raise PermissionError("you are not permitted to see full ID and phone numbers")
    reason = _check_reason(reason)
    if isinstance(resident_id, bool) or not isinstance(resident_id, int):
        raise ValueError(f"resident id must be an integer, not {resident_id!r}")
    check_scope_path(caller.scope_path)
    row = None
    if 0 < resident_id < 2**63:
        row = conn.execute(
            text(_UNMASK_SQL), {"id": resident_id, "scope": caller.scope_path}
        ).mappings().first()  # fmt: skip
    if row is None:
        raise PermissionError("unknown resident, or outside your jurisdiction")
    log_security(
        conn,
        "unmask",
        account_id=caller.account_id if caller.account_id > 0 else None,
        username=caller.username,
        ip=ip,
        target=f"resident:{resident_id}",
        detail=reason,
    )
    return dict(row)


_HOUSEHOLDS_SQL = """
    SELECT r.household_no, count(*) AS members,
           min(ST_X(r.location)) AS lon, min(ST_Y(r.location)) AS lat
    FROM resident AS r JOIN grid_cell AS c ON c.id = r.cell_id
    WHERE c.path <@ CAST(:scope AS ltree) AND r.location IS NOT NULL
      AND (CAST(:minx AS float8) IS NULL
           OR r.location && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))
    GROUP BY r.household_no
    -- A spread-out sample when truncated (not all from the first county's numbers).
    ORDER BY hashtext(r.household_no), r.household_no
    LIMIT :limit
"""


_GRID_HOUSEHOLDS_SQL = """
    SELECT g.code, g.name, count(DISTINCT r.household_no) AS households,
           ST_X(coalesce(g.label_point, ST_PointOnSurface(g.geom))) AS lon,
           ST_Y(coalesce(g.label_point, ST_PointOnSurface(g.geom))) AS lat
    FROM resident AS r JOIN grid_cell AS c ON c.id = r.cell_id
    JOIN grid_cell AS g ON g.id = CASE WHEN c.level = 6 THEN c.parent_id ELSE c.id END
    WHERE c.path <@ CAST(:scope AS ltree) AND c.level >= 5 AND r.location IS NOT NULL
      AND (CAST(:minx AS float8) IS NULL
           OR r.location && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))
    GROUP BY g.id
    ORDER BY g.code
"""


def households_by_grid(
    conn: Connection, scope_path: str, bbox: Sequence[float] | None = None
) -> list[dict[str, Any]]:
    """The households of the scope inside ``bbox`` counted per grid (L5; residents of a
    micro-grid count in its grid): ``{code, name, households, lon, lat}`` with the grid's label
    point, in code order — what the map shows when a view holds too many households to draw
    one by one. No personal fields."""
    check_scope_path(scope_path)
    params = view_params(bbox, 0)
    rows = conn.execute(text(_GRID_HOUSEHOLDS_SQL), {"scope": scope_path, **params})
    return [dict(r._mapping) for r in rows]


def households_in_view(
    conn: Connection,
    scope_path: str,
    bbox: Sequence[float] | None = None,
    limit: int = 5000,
) -> list[dict[str, Any]]:
    """Households of the scope inside ``bbox`` (``minx, miny, maxx, maxy`` lon/lat degrees;
    None: the whole scope), at most ``limit`` (a stable, spatially spread sample when there are
    more): ``{household_no, members, lon, lat}`` — no personal fields."""
    check_scope_path(scope_path)
    params = view_params(bbox, limit)
    rows = conn.execute(text(_HOUSEHOLDS_SQL), {"scope": scope_path, **params})
    return [dict(r._mapping) for r in rows]
