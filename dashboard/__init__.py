"""The dashboard's layout and the rendering of its panels: the page (:mod:`dashboard.layout`),
component ids in one module (:mod:`dashboard.ids`), one module per panel with its frame and
the rendering of its content (cell panel, search, live details, cases, supervision, bulk,
event table, population, roster, audit, cameras), the one formatter for times and numbers
(:mod:`dashboard.fmt`), and the assets (JS namespaces, CSS). Map objects — layers, hideout
styling, markers' data — are built in ``layers/``; callbacks (``callbacks/``) read the data and
call the renderers here. No database access at import time."""

from pathlib import Path

#: Folder served by Dash as ``/assets`` (gridcmd.js, gridcmd.css).
ASSETS_DIR = Path(__file__).resolve().parent / "assets"
