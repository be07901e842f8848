"""Live routes for the dashboard (``/live/...``): the snapshot and the change feed.

The caller's scope comes from ``scope()`` (server-side, never from the browser). Payloads are
gzip-compressed JSON (:mod:`geodata.live` explains the columnar wire format).

Cross-process fan-out: every process runs one :class:`ChangeListener` thread that LISTENs on
``gridcmd_live`` and remembers the newest change id it heard of. A poll whose cursor is
already at that id is answered ``204`` without touching the database; otherwise the changes
are read from the database (the single source of truth), so a change committed by any
process or host reaches every page. When the listener is not connected, every poll asks the
database.
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import flask
import psycopg
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from geodata import live
from gridcmd.web import json_error

__all__ = ["ChangeListener", "live_blueprint"]

log = logging.getLogger(__name__)
GZIP_LEVEL = 5
#: How often a listener prunes the change log (seconds).
PRUNE_EVERY_S = 300.0
#: Delta responses kept per process (dashboards polling the same scope share them).
CACHE_SIZE = 64
CACHE_TTL_S = 5.0


class DeltaCache:
    """Recent ``/live/changes`` bodies by (scope, kinds, cursor, newest id announced).

    Every open dashboard of a scope polls with nearly the same cursor every second; computing
    the delta once per process serves them all. The key includes the newest change id the
    listener has announced, so a new change is never hidden by a cached answer; entries are
    derived data (the database stays the source of truth) and expire after a few seconds."""

    def __init__(self, size: int = CACHE_SIZE, ttl: float = CACHE_TTL_S):
        self._items: dict[tuple, tuple[float, bytes]] = {}
        self._lock = threading.Lock()
        self.size, self.ttl = size, ttl
        self.hits = 0

    def get(self, key: tuple) -> bytes | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None or time.monotonic() - hit[0] > self.ttl:
                return None
            self.hits += 1
            return hit[1]

    def put(self, key: tuple, body: bytes) -> None:
        with self._lock:
            if len(self._items) >= self.size:
                oldest = min(self._items, key=lambda k: self._items[k][0])
                del self._items[oldest]
            self._items[key] = (time.monotonic(), body)


def libpq_url(engine: Engine) -> str:
    """A libpq URL for ``engine`` (psycopg cannot take SQLAlchemy's ``+psycopg`` dialect)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


class ChangeListener:
    """A daemon thread holding one LISTEN connection; :meth:`latest` is the newest change id
    announced (None while disconnected, so callers fall back to the database)."""

    def __init__(self, engine: Engine):
        self._url = libpq_url(engine)
        self._latest: int | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._next_prune = time.monotonic() + PRUNE_EVERY_S
        self._engine = engine

    def start(self) -> None:
        """Start the thread once per process (call lazily: threads do not survive fork)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="gridcmd-live", daemon=True)
            self._thread.start()

    def latest(self) -> int | None:
        return self._latest

    def _run(self) -> None:
        backoff = 0.5
        while True:  # a daemon thread: it ends with the process
            try:
                with psycopg.connect(self._url, autocommit=True) as conn:
                    self._latest = live.listen_for_changes(conn)
                    backoff = 0.5
                    while True:
                        for note in conn.notifies(timeout=1.0):
                            try:
                                value = int(note.payload)
                            except ValueError:
                                continue
                            if self._latest is None or value > self._latest:
                                self._latest = value
                        self._maybe_prune()
            except Exception as exc:  # noqa: BLE001 - keep the thread alive; log and retry
                self._latest = None
                # The first failure of a run is a warning; repeats (a database that stays away)
                # go to debug so the log is not flooded every few seconds.
                level = logging.WARNING if backoff == 0.5 else logging.DEBUG
                log.log(level, "live listener disconnected (%s); retrying in %.1f s", exc, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    def _maybe_prune(self) -> None:
        if time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + PRUNE_EVERY_S
        try:
            with self._engine.begin() as conn:
                live.prune(conn)
        except DBAPIError as exc:
            log.warning("live change log not pruned: %s", exc.orig)


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _gz_json(data: Any, status: int = 200) -> flask.Response:
    return _gz_body(_dumps(data), status)


def _gz_body(body: bytes, status: int = 200) -> flask.Response:
    resp = flask.Response(body, status=status, mimetype="application/json")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Vary"] = "Accept-Encoding"
    if flask.request.accept_encodings["gzip"] and len(body) > 512:
        resp.set_data(gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0))
        resp.headers["Content-Encoding"] = "gzip"
    return resp


def _kinds(arg: str | None) -> tuple[str, ...]:
    if not arg:
        return ("events", "workers")
    kinds = tuple(k for k in arg.split(",") if k)
    if not kinds or set(kinds) - {"events", "workers"} or len(kinds) > 2:
        raise ValueError("kinds must be a comma list of events, workers")
    return kinds


def _int_arg(name: str, *, required: bool = True) -> int | None:
    raw = flask.request.args.get(name)
    if raw is None or raw == "":
        if required:
            raise ValueError(f"{name} is required")
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise ValueError(f"{name} must be a non-negative integer")
    return int(raw)


def live_blueprint(engine: Engine, scope: Callable[[], str]) -> flask.Blueprint:
    """``/live`` routes on ``engine``; ``scope()`` gives the caller's jurisdiction path."""
    bp = flask.Blueprint("live", __name__, url_prefix="/live")
    listener = ChangeListener(engine)
    cache = DeltaCache()
    bp.listener = listener  # type: ignore[attr-defined]  # for tests
    bp.delta_cache = cache  # type: ignore[attr-defined]

    @bp.errorhandler(ValueError)
    def _value_error(exc: ValueError) -> flask.Response:
        return json_error(400, "invalid", str(exc))

    @bp.get("/snapshot")
    def snapshot() -> flask.Response:
        kinds = _kinds(flask.request.args.get("kinds"))
        listener.start()
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            data = live.snapshot(conn, scope_path=scope(), kinds=kinds)
        return _gz_json(data)

    @bp.get("/changes")
    def changes() -> flask.Response:
        cursor = _int_arg("cursor")
        kinds = _kinds(flask.request.args.get("kinds"))
        listener.start()
        latest = listener.latest()
        if latest is not None and cursor >= latest:
            return flask.Response(status=204, headers={"Cache-Control": "no-store"})
        scope_path = scope()
        key = (scope_path, kinds, cursor, latest)
        body = cache.get(key) if latest is not None else None
        if body is None:
            with engine.connect() as conn:
                try:
                    data = live.changes(conn, scope_path=scope_path, cursor=cursor, kinds=kinds)
                except live.LiveReset as exc:
                    data = {"reset": True, "detail": str(exc)}
            body = _dumps(data)
            if latest is not None:
                cache.put(key, body)
        return _gz_body(body)

    @bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def unknown(rest: str) -> flask.Response:
        # Else the Dash pages' catch-all would answer 200 HTML.
        return json_error(404, "not_found", f"no route /live/{rest}")

    return bp
