"""The dashboard's layout: page structure, component ids, assets (JS namespace, CSS) and
UI strings. No database access at import time; see :mod:`dashboard.layout`."""

from pathlib import Path

#: Folder served by Dash as ``/assets`` (gridcmd.js, gridcmd.css).
ASSETS_DIR = Path(__file__).resolve().parent / "assets"
