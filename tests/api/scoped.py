"""Test helper for the scope-filtered map-data blueprints (api/geo.py, api/cameras.py,
api/departments.py): test clients of one blueprint acting in a fixed scope, and response
bodies gunzipped."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable

import flask

from geodata.cells import PREFECTURE_PATH


def scoped_clients(engine, make_blueprint: Callable) -> Callable[..., flask.testing.FlaskClient]:
    """Factory: scope path (default: the prefecture) → a test client of an app holding only
    ``make_blueprint(engine, scope_fn)``, whose caller's scope is that path."""

    def make(scope_path: str = PREFECTURE_PATH):
        app = flask.Flask("t")
        app.register_blueprint(make_blueprint(engine, lambda: scope_path))
        return app.test_client()

    return make


def unzipped_body(resp) -> bytes:
    """The response's body, gunzipped when it was sent gzip-encoded."""
    data = resp.data
    if resp.headers.get("Content-Encoding") == "gzip":
        data = gzip.decompress(data)
    return data


def features(resp) -> list[dict]:
    """The features of a GeoJSON response (gzip-encoded or not)."""
    return json.loads(unzipped_body(resp))["features"]
