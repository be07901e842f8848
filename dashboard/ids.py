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

# --- Live layers: events, workers, track, filters, change feed (dashboard/live.py,
# --- layers/events.py, layers/workers.py, callbacks/live.py, assets/live.js) ---
LIVE_EVENTS = "gc-live-events"  # dl.GeoJSON (clustered) inside EVENTS_LAYER; data ← callbacks
LIVE_WORKERS = "gc-live-workers"  # dl.GeoJSON (clustered) inside WORKERS_LAYER
LIVE_TRACK = "gc-live-track"  # dl.GeoJSON: the clicked worker's track today (inside WORKERS_LAYER)
LIVE_FILTERS = "gc-live-filters"  # html.Details overlay with the filters below
LIVE_CATEGORY = "gc-live-category"  # dcc.Dropdown(multi): event categories ([] / None: all)
LIVE_STATUS = "gc-live-status"  # dcc.Dropdown(multi): event statuses ([] / None: all)
LIVE_RANGE = "gc-live-range"  # dcc.RadioItems: "24h" | "7d" | "30d" | "all"
LIVE_HEAT = "gc-live-heat"  # dcc.Checklist: ["heat"] → heat style of the events layer
LIVE_TICK = "gc-live-tick"  # dcc.Interval (1 s): polls the change feed
LIVE_CURSOR = "gc-live-cursor"  # dcc.Store: change-feed cursor (ISO timestamp)
LIVE_DELTA = "gc-live-delta"  # dcc.Store: last delta {events, workers: {features, removed}}
LIVE_DETAIL = "gc-live-detail"  # html.Div overlay: details of the clicked event / worker
LIVE_TRACK_RANGE = "gc-live-track-range"  # dcc.RadioItems: worker track period ("today"|"24h"|"7d")
