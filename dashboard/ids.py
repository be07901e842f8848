"""Every Dash component id, in one place (callbacks and tests import them from here)."""

ROOT = "gc-root"
HEADER = "gc-header"
TITLE = "gc-title"
DEMO_BADGE = "gc-demo-badge"
DB_ALERT = "gc-db-alert"
MAP = "gc-map"
BASEMAP = "gc-basemap"
COUNTY_LAYER = "gc-county-layer"
LEGEND = "gc-legend"
SUMMARY = "gc-summary"

# --- Cell panel, search, metric selector, language switch (dashboard/panel.py, search.py;
# --- callbacks/panel.py) ---
PANEL = "gc-panel"  # the collapsible right-hand overlay (html.Details; prop `open`)
PANEL_TOGGLE = "gc-panel-toggle"  # its html.Summary line: click collapses/expands PANEL
PANEL_BODY = "gc-panel-body"  # content of the selected cell (filled by a callback)
SEARCH = "gc-search"  # search box container
SEARCH_INPUT = "gc-search-input"  # dcc.Input (debounced)
SEARCH_RESULTS = "gc-search-results"  # list of dcc.Link to "/?cell=<code>"
METRIC = "gc-metric"  # metric selector container
METRIC_SELECT = "gc-metric-select"  # dcc.RadioItems / Dropdown value: a METRICS key
METRIC_LEGEND = "gc-metric-legend"  # legend of the current metric's colours
LANG_SWITCH = "gc-lang-switch"  # language links (?lang=zh / ?lang=en)
LANG_LINK = "gc-lang-link"  # pattern-id type of each link: {"type": LANG_LINK, "lang": code}

# --- Map, grid layer, breadcrumb, layers control, messages (dashboard/layout.py,
# --- layers/grid.py, callbacks/map.py) ---
URL = "gc-url"  # dcc.Location(refresh=False); search "?cell=<code>&lang=<zh|en>"
GRID_LAYER = "gc-grid-layer"  # dl.GeoJSON: url ← callbacks/map.py, hideout ← callbacks/panel.py
BREADCRUMB = "gc-breadcrumb"  # nav of dcc.Link crumbs (州 › 县 › … › 微网格)
MESSAGE = "gc-message"  # toast for an unknown/malformed ?cell= (children; hidden when empty)
LAYERS_CONTROL = "gc-layers-control"  # dl.LayersControl (basemaps + overlays)
BASEMAP_NONE = "gc-basemap-none"  # the default "no basemap" base layer (empty LayerGroup)
BASEMAP_MBTILES = "gc-basemap-mbtiles"  # TileLayer of the local MBTiles (/tiles/{z}/{x}/{y}.ext)
EVENTS_LAYER = "gc-events-layer"  # dl.LayerGroup, filled by the live-data issue
WORKERS_LAYER = "gc-workers-layer"  # dl.LayerGroup, filled by the live-data issue
MAP_CONFIG = "gc-map-config"  # hidden div, data-config JSON for gridcmd.js (styles, texts, ids)
SELECTED = "gc-selected"  # dcc.Store: the validated selected cell code (None: the root)
VIEW = "gc-view"  # dcc.Store {bounds, zoom, size} set by gridcmd.js on every map moveend
