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

# --- live layers (issue 4): dashboard/live.py, callbacks/live.py, assets/live.js
LIVE_EVENTS = "gc-live-events"  # dl.GeoJSON (clustered events), data ← gridcmdLive.tick
LIVE_WORKERS = "gc-live-workers"  # dl.GeoJSON (clustered workers), data ← gridcmdLive.tick
LIVE_TRACK = "gc-live-track"  # dl.GeoJSON: a worker's track (line + time-stamped fixes)
LIVE_TRACK_CURSOR = "gc-live-track-cursor"  # dl.CircleMarker moved by the playback slider
LIVE_TICK = "gc-live-tick"  # dcc.Interval: poll period of the change feed (off w/o overlays)
LIVE_CONFIG = "gc-live-config"  # dcc.Store: urls, poll period, stale threshold
LIVE_STATUS_LINE = "gc-live-status"  # small status line: points shown, last update
LIVE_FILTERS = "gc-live-filters"  # html.Details with the filters below
LIVE_CATEGORY = "gc-live-category"  # dcc.Dropdown (multi) of event categories
LIVE_STATUS = "gc-live-status-filter"  # dcc.Dropdown (multi) of event statuses
LIVE_RANGE = "gc-live-range"  # dcc.RadioItems: 24h / 7d / 30d
LIVE_HEAT = "gc-live-heat"  # dcc.Checklist: heatmap of the filtered events
LIVE_DETAIL = "gc-live-detail"  # details panel of the clicked event / worker
LIVE_WORKER = "gc-live-worker"  # dcc.Store: id of the worker whose track is shown
LIVE_PLAY_FROM = "gc-live-play-from"  # dcc.Input(type=datetime-local), playback start
LIVE_PLAY_TO = "gc-live-play-to"  # dcc.Input(type=datetime-local), playback end
LIVE_PLAY_LOAD = "gc-live-play-load"  # button: load the track for the period
LIVE_PLAY_SLIDER = "gc-live-play-slider"  # dcc.Slider over the track's fixes
LIVE_PLAY_TIME = "gc-live-play-time"  # the time stamp at the slider
LIVE_PLAYBACK = "gc-live-playback"  # container of the playback controls

# --- Cameras (视频资源): overlay and player panel (layers/cameras.py, dashboard/cameras.py,
# --- callbacks/cameras.py, assets/cameras.js) ---
CAMERA_LAYER = "gc-camera-layer"  # dl.GeoJSON (clustered), url → GET /geo/cameras.geojson
CAMERA_PANEL = "gc-camera-panel"  # the player box (prop `hidden`)
CAMERA_PANEL_BODY = "gc-camera-panel-body"  # name, facts, <video>, stream link (callback)
CAMERA_CLOSE = "gc-camera-close"  # close button of the player box
LIVE_PLAY_WHO = "gc-live-play-who"  # name of the worker whose track is shown
LIVE_TRACK_DATA = "gc-live-track-data"  # dcc.Store: the loaded track {times, coords}
