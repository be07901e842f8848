"""Every Dash component id, in one place (callbacks and tests import them from here)."""

ROOT = "gc-root"
HEADER = "gc-header"
TITLE = "gc-title"
DEMO_BADGE = "gc-demo-badge"
DB_ALERT = "gc-db-alert"
MAP = "gc-map"
BASEMAP = "gc-basemap"
LEGEND = "gc-legend"

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
EVENTS_LAYER = "gc-events-layer"  # dl.LayerGroup holding the live events layer (an overlay)
WORKERS_LAYER = "gc-workers-layer"  # dl.LayerGroup holding the live workers layer (an overlay)
MAP_CONFIG = "gc-map-config"  # hidden div, data-config JSON for gridcmd.js (styles, texts, ids)
SELECTED = "gc-selected"  # dcc.Store: the validated selected cell code (None: the root)
VIEW = "gc-view"  # dcc.Store {bounds, zoom, size} set by gridcmd.js on every map moveend
FLY = "gc-fly"  # a fly-to request (dl.Map.viewport dict), shifted clear of the panels (gridcmd.js)
DOCK = "gc-dock"  # the right column holding the floating panels (dashboard/layout.py)

# --- live layers: dashboard/live.py, callbacks/live.py, assets/live.js
LIVE_EVENTS = "gc-live-events"  # dl.GeoJSON (clustered events), data ← gridcmdLive.tick
LIVE_WORKERS = "gc-live-workers"  # dl.GeoJSON (clustered workers), data ← gridcmdLive.tick
LIVE_TRACK = "gc-live-track"  # dl.GeoJSON: a worker's track (line + time-stamped fixes)
LIVE_TICK = "gc-live-tick"  # dcc.Interval: poll period of the change feed (off w/o overlays)
LIVE_CONFIG = "gc-live-config"  # dcc.Store: urls, poll period, stale threshold
LIVE_STATUS_LINE = "gc-live-status"  # small status line: points shown, last update
LIVE_FILTERS = "gc-live-filters"  # html.Details with the filters below
LIVE_CATEGORY = "gc-live-category"  # dcc.Dropdown (multi) of event categories
LIVE_STATUS = "gc-live-status-filter"  # dcc.Dropdown (multi) of event statuses
LIVE_RANGE = "gc-live-range"  # dcc.RadioItems: 24h / 7d / 30d
LIVE_HEAT = "gc-live-heat"  # dcc.Checklist: heatmap of the filtered events
LIVE_DETAIL = "gc-live-detail"  # details panel of the clicked event / worker
LIVE_DETAIL_CLOSE = "gc-live-detail-close"  # its × (empties it, which hides its box)
LIVE_WORKER = "gc-live-worker"  # dcc.Store: id of the worker whose track is shown
LIVE_PLAY_FROM = "gc-live-play-from"  # dcc.Input(type=datetime-local), playback start
LIVE_PLAY_TO = "gc-live-play-to"  # dcc.Input(type=datetime-local), playback end
LIVE_PLAY_LOAD = "gc-live-play-load"  # button: load the track for the period
LIVE_PLAY_SLIDER = "gc-live-play-slider"  # dcc.Slider over the track's fixes
LIVE_PLAY_TIME = "gc-live-play-time"  # the time stamp at the slider
LIVE_PLAYBACK = "gc-live-playback"  # container of the playback controls
LIVE_PLAY_WHO = "gc-live-play-who"  # name of the worker whose track is shown
LIVE_TRACK_DATA = "gc-live-track-data"  # dcc.Store: the loaded track {times, coords}

# --- Cameras (视频资源): overlay and player panel (layers/cameras.py, dashboard/cameras.py,
# --- callbacks/cameras.py, assets/cameras.js) ---
CAMERA_LAYER = "gc-camera-layer"  # dl.GeoJSON (clustered), url → GET /geo/cameras.geojson
CAMERA_PANEL = "gc-camera-panel"  # the player box (prop `hidden`)
CAMERA_PANEL_BODY = "gc-camera-panel-body"  # name, facts, <video>, stream link (callback)
CAMERA_CLOSE = "gc-camera-close"  # close button of the player box
# --- Departments (部门) overlay: layers/departments.py, dashboard/departments.py,
# --- api/departments.py, assets/departments.js ---
DEPARTMENT_LAYER = "gc-department-layer"  # dl.GeoJSON, url → GET /geo/departments.geojson

# --- Population lookup (人口信息查询) and household overlay: dashboard/population.py,
# --- callbacks/population.py, api/resident_exports.py, assets/population.js,
# --- assets/households.js, assets/population.css ---
POP_OPEN = "gc-pop-open"  # header-side button opening the lookup panel
POP_PANEL = "gc-pop-panel"  # the lookup panel (prop `hidden`)
POP_CLOSE = "gc-pop-close"  # its close button
POP_QUERY = "gc-pop-query"  # dcc.Input: name prefix, ID (full / last 4 / last 6), phone
POP_SEARCH = "gc-pop-search"  # search button
POP_SEARCH_REASON = "gc-pop-search-reason"  # dcc.Input: reason of an ID/phone search (logged)
POP_STATUS = "gc-pop-status"  # "N matches · page x of y" or a message
POP_RESULTS = "gc-pop-results"  # the results table (masked values only)
POP_PAGE = "gc-pop-page"  # dcc.Store {"key", "page"}: a keyed hash of the query, the page
POP_PREV = "gc-pop-prev"  # previous page button
POP_NEXT = "gc-pop-next"  # next page button
POP_EXPORT = "gc-pop-export"  # export the current results (CSV, masked): population.js
POP_EXPORT_CONFIG = "gc-pop-export-config"  # dcc.Store: the export route and its failure text
POP_SHOW = "gc-pop-show"  # pattern-id type of each row's "show full" button: {"type", "id"}
POP_UNMASK = "gc-pop-unmask"  # the reason form (prop `hidden`)
POP_UNMASK_WHO = "gc-pop-unmask-who"  # whom the form is about (masked)
POP_UNMASK_TARGET = "gc-pop-unmask-target"  # dcc.Store: the resident id of the form
POP_REASON = "gc-pop-reason"  # dcc.Input: the reason for unmasking
POP_UNMASK_GO = "gc-pop-unmask-go"  # confirm button
POP_UNMASK_CANCEL = "gc-pop-unmask-cancel"  # cancel button
POP_UNMASK_OUT = "gc-pop-unmask-out"  # the raw values (once) or a refusal message
HOUSEHOLD_LAYER = "gc-household-layer"  # dl.GeoJSON (clustered), url ← callbacks/population.py

# --- Grid-worker roster (网格员管理): dashboard/roster.py, callbacks/roster.py ---
ROSTER_OPEN = "gc-roster-open"  # header button: opens the roster panel
ROSTER_PANEL = "gc-roster-panel"  # the floating panel (prop `hidden`)
ROSTER_CLOSE = "gc-roster-close"  # its close button
ROSTER_QUERY = "gc-roster-query"  # dcc.Input: part of a name or employee number
ROSTER_ACTIVE = "gc-roster-active"  # dcc.RadioItems: active / inactive / all
ROSTER_IN_CELL = "gc-roster-in-cell"  # dcc.Checklist: only the selected cell (?cell=)
ROSTER_COUNT = "gc-roster-count"  # "n workers" line
ROSTER_PICK = "gc-roster-pick"  # dcc.Checklist of the listed workers (value: employee nos)
ROSTER_SUMMARY = "gc-roster-summary"  # coverage and training summary
ROSTER_OUTSIDE = "gc-roster-outside"  # workers mostly outside their cell
ROSTER_DETAIL = "gc-roster-detail"  # history and trainings of the one selected worker
ROSTER_MESSAGE = "gc-roster-message"  # result of the last action (role=alert)
ROSTER_REFRESH = "gc-roster-refresh"  # dcc.Store: bumped after each change
ROSTER_READONLY = "gc-roster-readonly"  # note shown to callers without `roster`
ROSTER_ADD_NO = "gc-roster-add-no"
ROSTER_ADD_NAME = "gc-roster-add-name"
ROSTER_ADD_PHONE = "gc-roster-add-phone"
ROSTER_ADD_CELL = "gc-roster-add-cell"
ROSTER_ADD = "gc-roster-add"  # button
ROSTER_EDIT_NAME = "gc-roster-edit-name"
ROSTER_EDIT_PHONE = "gc-roster-edit-phone"
ROSTER_EDIT_DUTY = "gc-roster-edit-duty"
ROSTER_EDIT = "gc-roster-edit"  # button
ROSTER_DEACTIVATE = "gc-roster-deactivate"  # button
ROSTER_REACTIVATE = "gc-roster-reactivate"  # button
ROSTER_MOVE_CELL = "gc-roster-move-cell"
ROSTER_MOVE_NOTE = "gc-roster-move-note"
ROSTER_MOVE = "gc-roster-move"  # button
ROSTER_TRAIN_DATE = "gc-roster-train-date"
ROSTER_TRAIN_TITLE = "gc-roster-train-title"
ROSTER_TRAIN_HOURS = "gc-roster-train-hours"
ROSTER_TRAIN = "gc-roster-train"  # button
SIGN_OUT = "gc-sign-out"  # header link to the sign-out page
# --- security log viewer (auditors): dashboard/audit.py, callbacks/audit.py
AUDIT_OPEN = "gc-audit-open"  # header link/button opening the security-log panel
AUDIT_PANEL = "gc-audit-panel"  # the panel (prop `hidden`)
AUDIT_CLOSE = "gc-audit-close"  # its close button
AUDIT_KIND = "gc-audit-kind"  # dcc.Dropdown: filter by kind
AUDIT_BODY = "gc-audit-body"  # the table or a message

# --- Event table (事件列表): dashboard/event_table.py, callbacks/event_table.py,
# --- api/exports.py, assets/event_table.css ---
ET_OPEN = "gc-et-open"  # header button opening the event table
ET_PANEL = "gc-et-panel"  # the bottom drawer (props `hidden`, `className`: collapsed or not)
ET_CLOSE = "gc-et-close"  # its close button
ET_COLLAPSE = "gc-et-collapse"  # collapse / expand the drawer (the map stays visible)
ET_GRID = "gc-et-grid"  # dag.AgGrid: rowData ← callbacks; cellClicked → fly to the event
ET_QUERY = "gc-et-query"  # dcc.Input: search in title and description
ET_STATUS = "gc-et-status"  # dcc.Dropdown (multi) of statuses
ET_CATEGORY = "gc-et-category"  # dcc.Dropdown (multi) of categories
ET_PRIORITY = "gc-et-priority"  # dcc.Dropdown (multi): red / yellow / blue
ET_FROM = "gc-et-from"  # dcc.Input(type=date): reported on or after
ET_TO = "gc-et-to"  # dcc.Input(type=date): reported on or before
ET_FLAGS = "gc-et-flags"  # dcc.Checklist: overdue only, supervised only
ET_SORT = "gc-et-sort"  # dcc.Dropdown: server-side sort (which rows are loaded / exported)
ET_COUNT = "gc-et-count"  # status line: "n of N events" or a message
ET_EXPORTS = "gc-et-exports"  # container of the export links (hidden without `export`)
ET_CSV = "gc-et-csv"  # html.A → /export/events.csv?<filters>
ET_XLSX = "gc-et-xlsx"  # html.A → /export/events.xlsx?<filters>
ET_MARKER = "gc-et-marker"  # dl.LayerGroup in the map: the event a row click flew to

# --- Case panel (案件办理): dashboard/cases.py, callbacks/cases.py,
# --- layers/cases.py, assets/cases.js ---
CASE_PANEL = "gc-case-panel"  # the floating case panel (prop `hidden`)
CASE_CLOSE = "gc-case-close"  # its close button (also clears the candidate markers)
CASE_SUMMARY = "gc-case-summary"  # status, priority tier, due countdown, 督办, owner level
CASE_MESSAGE = "gc-case-message"  # result of the last action or the refusal (role=alert)
CASE_ACTIONS = "gc-case-actions"  # the workflow buttons the caller may use now
CASE_ACT = "gc-case-act"  # pattern-id type of each workflow button: {"type", "action"}
CASE_NOTE = "gc-case-note"  # dcc.Textarea: the note / reason sent with the action
CASE_PRIORITY = "gc-case-priority"  # dcc.RadioItems: red / yellow / blue for a dispatch
CASE_CANDIDATES = "gc-case-candidates"  # ranked candidate workers (recommend_workers)
CASE_PICK = "gc-case-pick"  # pattern-id type of each candidate's 派遣 button: {"type", "worker"}
CASE_DEPARTMENTS = "gc-case-departments"  # suggested departments
CASE_DEPT = "gc-case-dept"  # pattern-id type of each 派遣至部门 button: {"type", "dept"}
CASE_DUPLICATES = "gc-case-duplicates"  # possible duplicates (find_duplicates)
CASE_MERGE = "gc-case-merge"  # pattern-id type of each 合并到此 button: {"type", "into"}
CASE_HISTORY = "gc-case-history"  # the case's history (html.Details)
CASE_STATE = "gc-case-state"  # dcc.Store (server-filled): {event, version, assign, merge_into}
CASE_MARKERS = "gc-case-markers"  # dl.GeoJSON in the map: the event and ranked candidates

# --- Supervision queues (督办): dashboard/supervision.py, callbacks/supervision.py
SUP_OPEN = "gc-sup-open"  # header button (roles with `supervise` or `dispatch`)
SUP_PANEL = "gc-sup-panel"  # the floating panel (prop `hidden`)
SUP_CLOSE = "gc-sup-close"  # its close button
SUP_TABS = "gc-sup-tabs"  # dcc.Tabs: value supervised / overdue / escalated
SUP_TAB_SUPERVISED = "gc-sup-tab-supervised"  # dcc.Tab (label carries the count)
SUP_TAB_OVERDUE = "gc-sup-tab-overdue"
SUP_TAB_ESCALATED = "gc-sup-tab-escalated"
SUP_BODY = "gc-sup-body"  # the rows of the chosen queue
SUP_STATUS = "gc-sup-status"  # "updated hh:mm:ss" or a message
SUP_MESSAGE = "gc-sup-message"  # result of the last 督办 click (role=alert)
SUP_TICK = "gc-sup-tick"  # dcc.Interval (~30 s), disabled while the panel is closed
SUP_REFRESH = "gc-sup-refresh"  # dcc.Store: bumped after a 督办, reloads the queue
SUP_ROW = "gc-sup-row"  # pattern-id type of a row's button {"type", "id": event id}: fly to it
SUP_FLAG = "gc-sup-flag"  # pattern-id type of a row's 督办 button {"type", "id": event id}

# --- Bulk selection (批量操作): dashboard/bulk.py, callbacks/bulk.py, assets/bulk.js
BULK_GROUP = "gc-bulk-group"  # dl.FeatureGroup in the map holding the drawn shapes
BULK_DRAW = "gc-bulk-draw"  # dl.EditControl (rectangle/polygon; prop `geojson`)
BULK_PANEL = "gc-bulk-panel"  # the panel (prop `hidden`): shown while a shape is drawn
BULK_CLOSE = "gc-bulk-close"  # clears the drawing (and so the selection)
BULK_SUMMARY = "gc-bulk-summary"  # count and per-category counts, or a message
BULK_LIST = "gc-bulk-list"  # the selected open events
BULK_IDS = "gc-bulk-ids"  # dcc.Store: ids of the listed events (re-checked on every action)
BULK_WORKER = "gc-bulk-worker"  # dcc.Dropdown: a worker of the area, or "recommended"
BULK_NOTE = "gc-bulk-note"  # dcc.Input: the note of the action
BULK_DISPATCH = "gc-bulk-dispatch"  # button 批量派遣
BULK_ESCALATE = "gc-bulk-escalate"  # button 批量升级
BULK_RESULT = "gc-bulk-result"  # results per event
