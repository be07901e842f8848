"""The mobile-app REST API, ``/api/v1`` (JSON in and out, bearer tokens only, no cookies).

Every route needs ``Authorization: Bearer <token>`` (tokens: ``gridcmd token create``).
Errors are JSON ``{error, detail, field?}``:

* 400 malformed JSON or a body that fails the schema (``field`` names the first bad field);
* 401 missing/unknown/revoked token; 403 acting for another worker, or a gateway token on any
  route but ``POST /positions`` (and ``openapi.json``);
* 404 unknown route or an event outside the caller's scope; 405 wrong method;
* 409 an event uuid reused with a different body; 413 body over 1 MB or more than 500 fixes
  (gateway tokens: 2 MB and 5,000 fixes);
* 422 well-formed but unusable (outside the prefecture, swapped lat/lon, future time);
* 503 database down, with ``Retry-After``.

2xx answers are sent only after the transaction committed. Routes and their schemas are listed
in :data:`api.v1.openapi.ROUTES`, served as ``GET /api/v1/openapi.json``.

This package only assembles the blueprint; the parts:

* ``common``: the prefix, the error answer, strict JSON reading, validation;
* ``gate``: the token check, the request's connection, error handlers, the catch-all;
* ``events``, ``positions``, ``field``, ``cases``: the routes; ``uploads``: multipart photos;
* ``schemas``, ``schemas_field``: the bodies; ``openapi``: the document and its route.
"""

from __future__ import annotations

import flask
from sqlalchemy.engine import Engine

from api.v1.cases import register_case_routes
from api.v1.common import PREFIX
from api.v1.events import register_event_routes
from api.v1.field import register_field_routes
from api.v1.gate import install_gate
from api.v1.openapi import register_openapi_route
from api.v1.positions import register_position_routes
from gridcmd.settings import Settings, get_settings

__all__ = ["PREFIX", "api_blueprint"]


def api_blueprint(engine: Engine, settings: Settings | None = None) -> flask.Blueprint:
    """The ``/api/v1`` blueprint on ``engine`` (``settings``: the tunables; read from the
    environment when None)."""
    settings = settings or get_settings()
    bp = flask.Blueprint("api_v1", __name__, url_prefix=PREFIX)
    install_gate(bp, engine)
    register_event_routes(bp, engine, settings)
    register_position_routes(bp, engine)
    register_field_routes(bp, engine, settings)
    register_case_routes(bp, engine, settings)
    register_openapi_route(bp)
    return bp
