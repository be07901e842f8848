"""A stand-in for ``dash.Dash`` that collects what ``register`` decorates, so the callback
functions can be called directly (the tests in this folder), an engine whose connections
are the test's transaction, and setters of the callback context and of the caller."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from dash._callback_context import context_value
from dash._utils import AttributeDict


class FakeApp:
    """Server callbacks by function name (``functions``, with their ``specs``) and the
    clientside ones (``clientside``: ``(ClientsideFunction, deps)``)."""

    def __init__(self) -> None:
        self.functions: dict[str, Any] = {}
        self.specs: dict[str, tuple] = {}
        self.clientside: list[tuple] = []

    def callback(self, *deps, **kwargs):
        def decorate(fn):
            self.functions[fn.__name__] = fn
            self.specs[fn.__name__] = (deps, kwargs)
            return fn

        return decorate

    def clientside_callback(self, fn, *deps, **kwargs) -> None:
        self.clientside.append((fn, deps))

    def get_relative_path(self, path: str) -> str:
        return path


class TxEngine:
    """An engine look-alike whose connections are the test's transaction (savepoints for
    ``begin``), so every write of a callback is rolled back with the test."""

    def __init__(self, conn) -> None:
        self.conn = conn

    @contextlib.contextmanager
    def connect(self):
        yield self.conn

    @contextlib.contextmanager
    def begin(self):
        with self.conn.begin_nested():
            yield self.conn


def set_triggered(prop_id: str, value: Any = 1) -> None:
    """Make ``prop_id`` (``"<id>.<property>"``, with ``value``) the input that triggered the
    callback called next (dash's callback context; it stays set until set again)."""
    context_value.set(AttributeDict(triggered_inputs=[{"prop_id": prop_id, "value": value}]))


@contextlib.contextmanager
def caller_override() -> Iterator[Callable[[Any], Any]]:
    """``use(caller)`` sets ``web.CALLER_OVERRIDE`` (as often as a test likes) and
    returns the caller; every setting is undone on exit, the last first."""
    from gridcmd import web

    tokens = []

    def use(caller):
        tokens.append(web.CALLER_OVERRIDE.set(caller))
        return caller

    try:
        yield use
    finally:
        for tok in reversed(tokens):
            web.CALLER_OVERRIDE.reset(tok)
