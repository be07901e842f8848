"""Bounds on the times a client sends: a report's ``reported_at``, GPS ``fix_time``, check-in
``at``, patrol ``started_at``/``ended_at``, visit ``visited_at``.

Phones queue reports, fixes and field records while they have no signal and send them when
they do, so a time may be well in the past — but not years: ``0001-01-01`` was accepted, and
such a time breaks every "today"/"this month" count, the time-ordered feeds and the history.
A time more than :data:`MAX_CLIENT_AGE` before the server's clock, or more than
:data:`FUTURE_TOLERANCE` after it (phone clock skew), is refused: 422 naming the field
(events, field work), a per-item rejection for GPS batches (``too_old`` / ``future``).
No imports from the rest of ``geodata`` (the ingest and position modules both use it).
"""

from __future__ import annotations

import datetime as dt

__all__ = ["FUTURE_TOLERANCE", "MAX_CLIENT_AGE", "client_time_error"]

#: Oldest accepted client time, before the server's clock: a month without signal is already
#: far more than a phone's offline queue holds in practice; older records are not "field data
#: arriving late" but a wrong clock or a crafted request.
MAX_CLIENT_AGE = dt.timedelta(days=30)
#: Latest accepted client time, after the server's clock (phone clock skew allowance).
FUTURE_TOLERANCE = dt.timedelta(minutes=2)


def client_time_error(at: dt.datetime, now: dt.datetime, field: str) -> tuple[str, str] | None:
    """``None`` when the aware time ``at`` lies within [now − :data:`MAX_CLIENT_AGE`,
    now + :data:`FUTURE_TOLERANCE`], else ``(reason, detail)``: ``("future", …)`` or
    ``("too_old", …)``, the detail naming ``field``. Safe for any year (no conversion that
    could overflow: ``0001-01-01T00:00+08:00`` cannot be expressed in UTC)."""
    ahead = at - now  # a difference of aware datetimes never overflows
    if ahead > FUTURE_TOLERANCE:
        return "future", f"{field} is more than {FUTURE_TOLERANCE} ahead of the server clock"
    if -ahead > MAX_CLIENT_AGE:
        return "too_old", (
            f"{field} is more than {MAX_CLIENT_AGE.days} days before the server clock"
        )
    return None
