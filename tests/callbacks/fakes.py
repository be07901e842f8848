"""A stand-in for ``dash.Dash`` that collects what ``register`` decorates, so the callback
functions can be called directly (the tests in this folder), and an engine whose connections
are the test's transaction."""

from __future__ import annotations

import contextlib
from typing import Any


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
