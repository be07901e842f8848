"""How every panel of the dashboard writes times, durations and numbers, and lays out
label/value pairs: one formatter, so the same instant or count reads the same everywhere.

* Times are shown in Dali local time (:data:`gridcmd.vocab.TZ`, Asia/Shanghai, UTC+8 all
  year) in one of the few formats of :data:`TIME_FORMATS`; the database hands out aware UTC
  datetimes (or ISO 8601 text with an offset, in JSON-shaped rows), never local ones.
* Durations: :func:`age` (a fix age, compact: ``45 s``, ``12 min``, ``3 h``, ``2 d``),
  :func:`span` (one rounded unit in the UI language: "overdue by 3 h") and :func:`countdown`
  (two units, the text ``dashboard/assets/cases.js`` rewrites every second).
* Numbers: :func:`count` and :func:`percent`. Both UI languages group thousands with a comma
  (``12,345``; the zh-CN convention too) and write percentages as ``42%``.
* :func:`facts`: label/value pairs as a definition list (the details panels, summaries).

Pure: values and a language in, text (or a Dash component) out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from dash import html

from gridcmd.i18n import DEFAULT_LANG, t
from gridcmd.vocab import TZ
from layers.cases import format_age

__all__ = [
    "TIME_FORMATS",
    "UNIT_MSGIDS",
    "age",
    "count",
    "countdown",
    "duration_units",
    "facts",
    "local_naive",
    "local_time",
    "parse_local",
    "percent",
    "span",
]

#: The formats a local time is shown in: style → strftime pattern.
TIME_FORMATS: dict[str, str] = {
    "minute": "%Y-%m-%d %H:%M",  # panels, lists, tables
    "second": "%Y-%m-%d %H:%M:%S",  # the security log
    "short": "%m-%d %H:%M",  # compact lists (the bulk selection)
    "clock": "%H:%M:%S",  # "updated at" lines
    "input": "%Y-%m-%dT%H:%M",  # value of a datetime-local input
}
#: Duration units (``{n}`` placeholders) → msgid; :func:`countdown` and cases.js use them.
UNIT_MSGIDS: dict[str, str] = {"d": "{n} d", "h": "{n} h", "m": "{n} min", "s": "{n} s"}

NO_DATA = "No data"


def local_time(value: Any, style: str = "minute", *, empty: str = "—") -> str:
    """``value`` (an aware datetime, ISO 8601 text with an offset, or a date) in Dali local
    time, written in ``style`` (a key of :data:`TIME_FORMATS`); a date is ``YYYY-MM-DD`` as
    it is; ``empty`` for None or ""."""
    if value is None or value == "":
        return empty
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(TZ).strftime(TIME_FORMATS[style])
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"not a time: {value!r}")


def local_naive(value: dt.datetime | None) -> dt.datetime | None:
    """An aware datetime as a naive one in Dali local time, to the second (a spreadsheet's
    date cell has no zone); None stays None."""
    if value is None:
        return None
    return value.astimezone(TZ).replace(tzinfo=None, microsecond=0)


def parse_local(value: Any) -> dt.datetime | None:
    """A ``datetime-local`` input value (Dali local time, no zone) → an aware datetime; None
    when it is not such a value (text with a zone, a crafted type, anything else)."""
    if not isinstance(value, str) or len(value) > 32:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=TZ) if parsed.tzinfo is None else None


def age(seconds: float | None) -> str:
    """A fix age, compact and the same in both languages: ``45 s`` below 2 minutes,
    ``12 min`` below 2 hours, ``3 h`` below 2 days, else ``2 d``; ``—`` when unknown."""
    return format_age(seconds)


def span(seconds: float, lang: str = DEFAULT_LANG) -> str:
    """A length of time as one rounded unit in ``lang``: minutes (at least 1) below 2 hours,
    hours below 2 days, else days; the sign is ignored."""
    s = abs(seconds)
    if s < 7200:
        return t("{n} min", lang, n=max(1, round(s / 60)))
    if s < 172_800:
        return t("{n} h", lang, n=round(s / 3600))
    return t("{n} d", lang, n=round(s / 86_400))


def duration_units(lang: str) -> dict[str, str]:
    """The unit texts of ``lang`` (``d``, ``h``, ``m``, ``s``: msgids with ``{n}``) and the
    separator between two units (``sep``: none in Chinese)."""
    return {k: t(v, lang) for k, v in UNIT_MSGIDS.items()} | {"sep": "" if lang == "zh" else " "}


def countdown(seconds: int, lang: str = DEFAULT_LANG) -> str:
    """A non-negative number of seconds as its two largest units (days and hours, hours and
    minutes, or minutes and seconds): ``2小时5分`` / ``2 h 5 min``."""
    units = duration_units(lang)
    d, rest = divmod(int(seconds), 86_400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    if d:
        parts = [("d", d), ("h", h)]
    elif h:
        parts = [("h", h), ("m", m)]
    else:
        parts = [("m", m), ("s", s)]
    return units["sep"].join(units[k].replace("{n}", str(v)) for k, v in parts)


def count(n: Any, lang: str = DEFAULT_LANG, *, empty: str | None = None) -> str:
    """A whole number with thousands grouped (``12,345``); None gives ``empty`` (default: "No
    data" in ``lang``)."""
    if n is None:
        return t(NO_DATA, lang) if empty is None else empty
    return f"{int(n):,}"


def percent(share: float | None, *, empty: str = "—") -> str:
    """A share (0–1) as a whole percentage (``42%``); None gives ``empty``."""
    return empty if share is None else f"{share * 100:.0f}%"


def facts(pairs: Iterable[tuple[Any, Any]], className: str | None = None) -> html.Dl:
    """Label/value pairs as a definition list (``<dt>label</dt><dd>value</dd>``...); labels
    and values are text or components, never HTML."""
    children: list[Any] = []
    for label, value in pairs:
        children += [html.Dt(label), html.Dd(value)]
    return html.Dl(children, className=className) if className else html.Dl(children)
