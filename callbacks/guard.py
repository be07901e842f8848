"""What every dashboard callback shares: who is asking and whether they may, and what the
browser sees when the answer is a refusal or the database is down.

A callback is thin: unpack its inputs → :func:`require` (the caller of the request, from the
server-side session, and its permission) → one geodata call → one render call
(``dashboard/``) → return. :func:`guarded` wraps it:

* an :class:`Answer` raised inside (by :func:`require`, :func:`deny` or the callback itself:
  a refusal, a message) becomes the callback's return value;
* a database failure (``DBAPIError``) is logged once, as a warning naming the callback, and
  answered with the standard "The database is unavailable." in the UI language of the
  callback's ``search`` argument (the page URL's ``?lang=``), in the callback's own output
  shape (its ``unavailable`` function). No traceback reaches the browser.

Refusals are logged through :func:`gridcmd.web.log_denial`, the one way a refusal is logged
(a ``denied`` entry of the security log, throttled per caller, target and reason).

Ids that come from the browser are only keys: :func:`positive_id`, :func:`clicked_feature_id`
and :func:`clicked_row_id` take them out of a click, or give None for anything malformed; the
row is then re-read within the caller's jurisdiction.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from geodata.accounts import Caller, has_permission
from gridcmd import web
from gridcmd.i18n import lang_from_search, t

__all__ = [
    "DB_UNAVAILABLE",
    "Answer",
    "clicked_feature_id",
    "clicked_row_id",
    "deny",
    "guarded",
    "log_refusal",
    "positive_id",
    "require",
]

log = logging.getLogger(__name__)

DB_UNAVAILABLE = "The database is unavailable."

F = TypeVar("F", bound=Callable[..., Any])


class Answer(Exception):  # noqa: N818 (not an error: the callback's early answer)
    """Stop the callback and answer ``output`` (raised inside a :func:`guarded` callback)."""

    def __init__(self, output: Any) -> None:
        super().__init__("callback answered early")
        self.output = output


def guarded(unavailable: Callable[[str], Any]) -> Callable[[F], F]:
    """Decorator of a callback: an :class:`Answer` raised inside is its return value; a
    ``DBAPIError`` is logged and answered ``unavailable(message)``, the message being
    :data:`DB_UNAVAILABLE` translated into the language of the ``search`` argument (the
    default language when the callback has none)."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def callback(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Answer as answer:
                return answer.output
            except DBAPIError as exc:
                log.warning("%s: database unavailable (%s)", fn.__name__, exc.orig)
                return unavailable(t(DB_UNAVAILABLE, _lang(signature, args, kwargs)))

        return callback  # type: ignore[return-value]

    return decorate


def _lang(signature: inspect.Signature, args: tuple, kwargs: dict) -> str:
    """The UI language of the callback's ``search`` argument (the page URL's query)."""
    try:
        search = signature.bind_partial(*args, **kwargs).arguments.get("search")
    except TypeError:
        search = None
    return lang_from_search(search if isinstance(search, str) else None)


def require(engine: Engine, permission: str, refusal: Any, *, target: str | None = None) -> Caller:
    """The caller of this request when it has ``permission``; otherwise answer ``refusal``
    (raise :class:`Answer`), after logging a ``denied`` entry for ``target`` ("no
    <permission> permission") when a target is given. No signed-in caller is refused too."""
    caller = web.caller_or_none()
    if caller is not None and has_permission(caller, permission):
        return caller
    if target is not None:
        log_refusal(engine, target, f"no {permission} permission")
    raise Answer(refusal)


def deny(engine: Engine, target: str, answer: Any, detail: str | None = None) -> NoReturn:
    """Log a refused lookup (an id or code unknown or outside the caller's jurisdiction —
    the same to the caller on purpose) for ``target``, and answer ``answer``."""
    log_refusal(engine, target, detail)
    raise Answer(answer)


def log_refusal(engine: Engine, target: str, detail: str | None = None) -> None:
    """Log a refusal of ``target`` (``detail``: its reason; by default "not found in the
    caller's jurisdiction") without answering: the callback answers it itself."""
    if detail is None:
        web.log_denial(engine, target)
    else:
        web.log_denial(engine, target, detail)


def positive_id(value: Any) -> int | None:
    """``value`` when it is a database id (an int from 1 to 2**63 - 1, not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**63:
        return None
    return value


def clicked_feature_id(click: Any) -> int | None:
    """The ``id`` property of a clicked GeoJSON feature (a layer's ``clickData``); None for a
    cluster or anything malformed."""
    props = click.get("properties") if isinstance(click, dict) else None
    if not isinstance(props, dict) or props.get("cluster"):
        return None
    return positive_id(props.get("id"))


def clicked_row_id(click: Any) -> int | None:
    """The row id of an AG Grid ``cellClicked`` value (the row's ``id`` as text)."""
    raw = click.get("rowId") if isinstance(click, dict) else None
    if isinstance(raw, str) and raw.isdigit() and len(raw) <= 18:
        raw = int(raw)
    return positive_id(raw)
