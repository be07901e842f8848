"""Cell exports: ``GET /export/cells.<fmt>?cell=CODE[&level=N...]``, ``fmt`` one of
``geojson``, ``gpkg``, ``shp`` (a zipped Shapefile) or ``csv``.

The cells of ``CODE``'s subtree (only the ``level`` values given, repeatable) with their
statistics, exactly as ``gridcmd export grids`` writes them (:mod:`geodata.grid_export`;
columns and formats in docs/import.md, "Export").

* Authentication: the dashboard session (the gate of ``api/auth.py``). The caller needs
  ``view`` and ``export`` (403 ``forbidden`` otherwise, logged as ``denied``); a cross-site
  request (``Sec-Fetch-Site: cross-site``) is refused (403 ``csrf``, logged).
* Scope: the caller's jurisdiction from the server-side session, applied in the query; a cell
  outside it is a 404 ``not_found`` like an unknown one (logged as ``denied``).
* A malformed ``cell`` or ``level`` → 400 ``bad_request`` with ``field``; an unknown format → 404.
* Every export is an ``export`` entry of the security log (format, cell, levels, cells
  written), committed in the transaction of the read, before the first byte is sent.
* The file is written to a temporary directory (bounded memory, see
  :mod:`geodata.grid_export`), opened, the directory removed, then the open file is sent.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import flask
from sqlalchemy.engine import Engine

from geodata.accounts import has_permission
from geodata.grid_export import MEDIA_TYPES, SUFFIXES, ExportError, export_cells
from geodata.security_log import log_security
from gridcmd import web
from gridcmd.vocab import CELL_CODE_RE

__all__ = ["CELLS_EXPORT_PATH", "cell_exports_blueprint"]

CELLS_EXPORT_PATH = "/export/cells.<fmt>"


def _levels(values: list[str]) -> list[int] | None:
    """The ``level`` values as integers 1–6 (ValueError otherwise)."""
    out = []
    for v in values:
        for part in v.split(","):
            if not part.strip().isdigit() or not 1 <= int(part) <= 6:
                raise ValueError(part)
            out.append(int(part))
    return out or None


def cell_exports_blueprint(engine: Engine) -> flask.Blueprint:
    """The cell export route on ``engine`` (the caller: :func:`gridcmd.web.current_caller`,
    set by the session gate)."""
    bp = flask.Blueprint("cell_exports", __name__)

    @bp.get(CELLS_EXPORT_PATH)
    def cells(fmt: str) -> flask.Response:
        caller = web.current_caller()  # the gate guarantees a signed-in caller
        target = f"GET {flask.request.path}"
        if flask.request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
            web.log_denial(engine, target, "403 csrf")
            return web.json_error(403, "csrf", "cross-site export request")
        if not (has_permission(caller, "view") and has_permission(caller, "export")):
            web.log_denial(engine, target, "403 forbidden")
            return web.json_error(403, "forbidden", "Your role may not export cells.")
        if fmt not in SUFFIXES:
            return web.json_error(404, "not_found", f"no export format {fmt!r}")
        code = flask.request.args.get("cell", "")
        if not CELL_CODE_RE.fullmatch(code):
            return web.json_error(400, "bad_request", "cell: a cell code", field="cell")
        try:
            levels = _levels(flask.request.args.getlist("level"))
        except ValueError:
            return web.json_error(400, "bad_request", "level: 1 to 6", field="level")
        work = Path(tempfile.mkdtemp(prefix="gridcmd-cells-"))
        try:
            dest = work / f"cells{SUFFIXES[fmt]}"
            try:
                with engine.begin() as conn:
                    n = export_cells(conn, scope_path=caller.scope_path, code=code, fmt=fmt,
                                     dest=dest, levels=levels)  # fmt: skip
                    log_security(
                        conn, "export", account_id=web.account_id_of(caller),
                        username=caller.username, ip=web.client_ip(), target=f"cells.{fmt}",
                        detail=f"cell {code}, levels {levels or 'all'}: {n} cells",
                    )  # fmt: skip
            except ExportError:
                web.log_denial(engine, f"cell {code}")
                return web.json_error(404, "not_found", f"no cell {code} in your jurisdiction")
            f = dest.open("rb")  # sent and closed by Flask; the directory goes now
        finally:
            shutil.rmtree(work, ignore_errors=True)
        resp = flask.send_file(f, mimetype=MEDIA_TYPES[fmt], max_age=0, as_attachment=True,
                               download_name=f"cells-{code}{SUFFIXES[fmt]}")  # fmt: skip
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["X-Gridcmd-Export-Rows"] = str(n)
        return resp

    return bp
