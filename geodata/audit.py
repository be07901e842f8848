"""The tamper-evident audit trail of event history: verify the hash chain.

Every ``event_action`` row carries ``row_hash``, the sha256 (hex) of a canonical text of its
content and of ``prev_hash`` — the ``row_hash`` of the row before it in id order (64 zeros for
the first row). A BEFORE INSERT trigger (migration 0006, ``geodata/sql/0006_audit_chain.sql``)
fills both; UPDATE and DELETE are refused by the append-only trigger of migration 0001.

:func:`verify_chain` recomputes every hash in Python with the same canonical text
(:func:`canonical_text`) and reports the first row that was altered (its hash no longer matches
its content) or the first place where rows are missing (a row's ``prev_hash`` is not the hash of
the row before it: a row between was deleted, or the row before was rewritten together with its
hash). Gaps in the ids alone are not errors: a rolled-back insert consumes an id too.

What the chain cannot show by itself: the deletion of the newest rows (the tail). Record the head
(``AuditReport.head_id``/``head_hash``, printed by ``gridcmd audit verify``) somewhere else and
compare it later to detect that as well.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

__all__ = [
    "GENESIS",
    "AuditReport",
    "canonical_text",
    "chain",
    "row_hash",
    "verify_chain",
]

#: ``prev_hash`` of the first row of the chain.
GENESIS = "0" * 64
#: Version tag at the start of the canonical text.
CANON_TAG = "gridcmd.event_action.v1"
#: Rows fetched per round trip while streaming the chain.
BATCH = 5_000


def _field(value: str | None) -> str:
    """``~`` for NULL, else ``<UTF-8 byte length>:<value>`` (no value can fake a separator)."""
    return "~" if value is None else f"{len(value.encode('utf-8'))}:{value}"


def _utc(at: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC (as the SQL side's ``to_char``)."""
    if at.tzinfo is None:
        raise ValueError("event_action.at must be timezone-aware")
    u = at.astimezone(dt.UTC)
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
        f".{u.microsecond:06d}Z"
    )


def canonical_text(
    id: int,  # noqa: A002 - the column's name
    event_id: int,
    actor_type: str,
    actor_id: int | None,
    at: dt.datetime,
    from_status: str | None,
    to_status: str,
    note: str | None,
    prev_hash: str | None,
) -> str:
    """The text a row's hash covers; identical to SQL ``gridcmd_event_action_canonical``."""
    parts = [
        None if id is None else str(id),
        None if event_id is None else str(event_id),
        actor_type,
        None if actor_id is None else str(actor_id),
        _utc(at),
        from_status,
        to_status,
        note,
        prev_hash,
    ]
    return CANON_TAG + "".join("|" + _field(p) for p in parts)


def row_hash(row, prev_hash: str | None = None) -> str:
    """sha256 hex of a row's canonical text (``row`` has the ``event_action`` columns as
    attributes; ``prev_hash`` defaults to the row's own)."""
    canon = canonical_text(
        row.id, row.event_id, row.actor_type, row.actor_id, row.at, row.from_status,
        row.to_status, row.note, row.prev_hash if prev_hash is None else prev_hash,
    )  # fmt: skip
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def chain(rows: Iterable, prev_hash: str = GENESIS) -> list[tuple[int, str, str]]:
    """``(id, prev_hash, row_hash)`` for rows (id order) chained after ``prev_hash``: what the
    trigger would write (for bulk loads that insert with the trigger off)."""
    out = []
    for r in rows:
        h = row_hash(r, prev_hash)
        out.append((r.id, prev_hash, h))
        prev_hash = h
    return out


@dataclass(frozen=True)
class AuditReport:
    """The outcome of :func:`verify_chain`.

    ``ok``: every row checked out; ``rows``: rows checked (up to and including the bad one);
    ``bad_id``: the first bad row; ``problem``: ``'altered'`` (content or hash changed),
    ``'missing'`` (rows before ``bad_id`` were deleted, or the row before was rewritten with a
    fresh hash) or ``'unchained'`` (no hash: inserted with the trigger off); ``message``: one
    line for people; ``head_id``/``head_hash``: the last row verified (record it elsewhere to
    detect a deleted tail later).
    """

    ok: bool
    rows: int
    bad_id: int | None = None
    problem: str | None = None
    message: str = ""
    head_id: int | None = None
    head_hash: str | None = None


_ROWS = text(
    "SELECT id, event_id, actor_type, actor_id, at, from_status, to_status, note, prev_hash, "
    "row_hash FROM event_action WHERE id > :after ORDER BY id LIMIT :n"
)


def verify_chain(conn: Connection, *, batch: int = BATCH) -> AuditReport:
    """Walk ``event_action`` in id order recomputing every hash; stop at the first bad row.

    Streams in keyset pages of ``batch`` rows (never the whole table in memory). Run it in one
    REPEATABLE READ transaction for a consistent view of a table that is being appended to.
    """
    expected_prev = GENESIS
    prev_id: int | None = None
    n = 0
    after = 0
    while True:
        rows = conn.execute(_ROWS, {"after": after, "n": batch}).all()
        if not rows:
            break
        for r in rows:
            n += 1
            if r.row_hash is None or r.prev_hash is None:
                return AuditReport(False, n, r.id, "unchained",
                                   f"event_action row {r.id} has no hash (inserted with the chain "
                                   "trigger off)", prev_id, expected_prev)  # fmt: skip
            if row_hash(r) != r.row_hash:
                return AuditReport(False, n, r.id, "altered",
                                   f"event_action row {r.id} was altered: its hash does not match "
                                   "its content", prev_id, expected_prev)  # fmt: skip
            if r.prev_hash != expected_prev:
                if prev_id is None:
                    why = "is not the chain's start (the first rows were deleted)"
                else:
                    why = (f"does not match row {prev_id}'s hash (a row between was deleted, or "
                           f"row {prev_id} was rewritten)")  # fmt: skip
                return AuditReport(False, n, r.id, "missing",
                                   f"event_action rows missing before row {r.id}: its prev_hash "
                                   + why, prev_id, expected_prev)  # fmt: skip
            expected_prev = r.row_hash
            prev_id = r.id
        after = rows[-1].id
    return AuditReport(True, n, message=f"audit chain intact: {n} rows", head_id=prev_id,
                       head_hash=expected_prev if prev_id is not None else None)  # fmt: skip
