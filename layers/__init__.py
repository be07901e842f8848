"""Map objects from data: pure functions returning dash-leaflet components and payloads.

No database access and no request context here. JavaScript functions (styles, tooltips) live
in ``dashboard/assets/gridcmd.js`` under the ``window.gridcmd`` namespace and are referenced by
name (``{"variable": "gridcmd.…"}``), so nothing is generated at import time.
"""
