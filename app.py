"""Grid Command web application: the Dash dashboard and the routes of ``api/`` on one server.

Serving with gunicorn, either of::

    gunicorn 'app:server'            # lazy: the app is built on first access, from Settings
    gunicorn 'app:create_server()'   # explicit factory call

Importing this module builds nothing and needs no database: ``server`` is resolved lazily
(module ``__getattr__``), and engine creation does not connect. The database is only touched
per request, and its absence gives 503 JSON (routes) or a banner (page), never a traceback.

This module only assembles: the session gate (``api/auth.py``), the blueprints of ``api/``
(their routes are listed in docs/api.md), the JSON error handlers (``api/errors.py``), the
Dash app and its callbacks (``callbacks/``).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import dash
import flask
from sqlalchemy.engine import Engine

from api.auth import install_auth
from api.cameras import cameras_blueprint
from api.cell_exports import cell_exports_blueprint
from api.cells import cells_blueprint
from api.departments import departments_blueprint
from api.errors import install_error_handlers
from api.exports import exports_blueprint
from api.geo import geo_blueprint
from api.households import households_blueprint
from api.live import live_blueprint
from api.media import media_blueprint
from api.resident_exports import resident_exports_blueprint
from api.v1 import api_blueprint
from callbacks import register
from dashboard import ASSETS_DIR
from dashboard.layout import make_serve_layout, page_title
from dashboard.tiles import tiles_blueprint
from geodata.db import make_engine
from gridcmd import pgserver
from gridcmd.settings import Settings, get_settings
from gridcmd.web import NotAuthenticated, caller_scope, current_caller

__all__ = ["create_app", "create_server", "database_url"]


def database_url(settings: Settings) -> str:
    """``DATABASE_URL`` if configured, else the private instance's socket URL."""
    return settings.database_url or pgserver.url(settings.var_dir)


def _layout_scope() -> str:
    """The caller's scope for the page layout. Dash also builds the layout outside any
    signed-in request (at start-up and in its first-request set-up), only to validate
    component ids; that copy gets a path that matches no cell, so it holds no data."""
    try:
        return caller_scope()
    except NotAuthenticated:
        return "0"


class _DashSetup:
    """A ``before_request`` hook, registered ahead of Dash's own, that runs Dash's first-request
    set-up (``Dash._setup_server``: component script paths, the callback list) once, under a
    lock, so that every request waits until it is complete.

    Dash marks the set-up done *before* doing it; with gunicorn's threads a second first
    request then ran on a half-set-up app, and component scripts answered 500 ("not a
    registered library"), breaking the page at random. Dash's hook finds it done and returns.
    """

    def __init__(self) -> None:
        self.app: dash.Dash | None = None
        self.done = False
        self.lock = threading.Lock()

    def __call__(self) -> None:
        if self.done or self.app is None:
            return
        with self.lock:
            if not self.done:
                self.app._setup_server()  # noqa: SLF001 (Dash's own first-request hook)
                self.done = True


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> dash.Dash:
    """Build the Dash app (and its Flask server) from ``settings`` (default: environment).

    ``engine`` defaults to one on :func:`database_url`; creating it does not connect.
    All assets are served locally (no CDN), so the page works offline.
    """
    settings = settings or get_settings()
    engine = engine or make_engine(database_url(settings))
    server = flask.Flask(__name__)
    server.secret_key = settings.secret_key.get_secret_value()
    server.extensions["gridcmd.engine"] = engine
    install_auth(server, engine, settings)  # session gate first: login required (api/auth.py)
    server.register_blueprint(cells_blueprint(engine, caller_scope))
    server.register_blueprint(geo_blueprint(engine, caller_scope))
    server.register_blueprint(cameras_blueprint(engine, caller_scope))
    server.register_blueprint(departments_blueprint(engine, caller_scope))
    server.register_blueprint(households_blueprint(engine, caller_scope))
    server.register_blueprint(tiles_blueprint(settings.mbtiles_path))
    server.register_blueprint(api_blueprint(engine, settings))
    server.register_blueprint(media_blueprint(engine, caller_scope, settings.photo_dir))
    server.register_blueprint(live_blueprint(engine, caller_scope))
    server.register_blueprint(exports_blueprint(engine, current_caller))  # /export/*
    server.register_blueprint(resident_exports_blueprint(engine))  # POST /export/residents.csv
    server.register_blueprint(cell_exports_blueprint(engine))  # GET /export/cells.<fmt>
    install_error_handlers(server)  # JSON (or a plain 404), never HTML or a traceback
    dash_setup = _DashSetup()
    server.before_request(dash_setup)  # before Dash's hook (see _DashSetup)

    app = dash.Dash(
        __name__,
        server=server,
        serve_locally=True,
        assets_folder=str(ASSETS_DIR),
        assets_ignore=r"^hls\.min\.js$",  # 600 kB: cameras.js loads it on demand
        title=page_title(),
        update_title=None,
    )
    app.layout = make_serve_layout(
        engine,
        scope=_layout_scope,
        basemap_url=settings.basemap_url,
        basemap_attribution=settings.basemap_attribution,
        live_poll_ms=settings.live_poll_ms,
        stale_after_s=settings.stale_after_s,
        live_checked=settings.live_on_start,
    )
    register(app, engine, settings)
    dash_setup.app = app
    server.extensions["gridcmd.dash"] = app  # the registry the authorization tests walk
    return app


def create_server(settings: Settings | None = None) -> flask.Flask:
    """The WSGI application (Flask server of :func:`create_app`), for gunicorn."""
    return create_app(settings).server


@lru_cache(maxsize=1)
def _default_server() -> flask.Flask:
    return create_server()


def __getattr__(name: str) -> Any:
    # PEP 562: `app.server` is built on first access, so importing this module is free.
    if name == "server":
        return _default_server()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    _settings = get_settings()
    create_app(_settings).run(
        host=_settings.host,
        port=_settings.port,
        debug=_settings.debug,
        dev_tools_disable_version_check=True,
    )
