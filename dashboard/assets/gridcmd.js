/*
 * Grid Command map functions, referenced from Python as {"variable": "gridcmd.<name>"} (props
 * of dash-leaflet components) or ClientsideFunction("gridcmd", <name>) (clientside callbacks).
 *
 * dash-leaflet calls style/onEachFeature functions with the usual Leaflet arguments plus a
 * trailing `context` (the component's props: `context.hideout`, `context.map`, `context.id`).
 * Static inputs (style tables, translated texts, component ids) come from the hidden
 * #gc-map-config element (layers/grid.py: map_config), so every UI string stays server-side.
 *
 * The grid layer's hideout (written by callbacks/panel.py; contract in layers/metrics.py):
 *   {metric: "none"|key, values: {code: number}, breaks: [b1..bk], colors: [c0..ck],
 *    nodata, opacity, label, fmt: "int"|"rate"|"pct", unit, level, selected: code}
 * Only role "cell" features are coloured; "context" cells and the "selected" outline keep
 * their own style. Metric "none" (or no colours) → the per-level default style.
 *
 * window.gridcmd.state is a small read-only summary of what the grid layer last drew, for
 * tests and the browser benchmark (bench/browser_clicks.py).
 */
(function () {
  "use strict";

  var ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  var GRID_PATH = "/geo/grid.pbf";
  // A geobuf FeatureCollection with no features (field 4, empty message). The payload of an
  // empty view must still decode to {features: []}: dash-leaflet 1.1.3 throws on anything
  // else and its GeoJSON layer then stays "busy" and ignores every later url.
  var EMPTY_GEOBUF = new Uint8Array([0x22, 0x00]);

  /** Text → HTML-safe string (Leaflet tooltips and divIcons set innerHTML). */
  function escapeHtml(value) {
    return String(value === null || value === undefined ? "" : value).replace(
      /[&<>"']/g,
      function (ch) { return ESCAPES[ch]; }
    );
  }

  var configCache = { el: undefined, value: {} };

  /** The parsed data-config of #gc-map-config (re-read if the element was replaced). */
  function config() {
    var el = document.getElementById("gc-map-config");
    if (el !== configCache.el) {
      var value = {};
      try { value = JSON.parse((el && el.getAttribute("data-config")) || "{}"); } catch (e) { }
      configCache = { el: el, value: value };
    }
    return configCache.value;
  }

  function hideoutOf(context) {
    return (context && context.hideout) || {};
  }

  function propsOf(feature) {
    return (feature && feature.properties) || {};
  }

  function metricOn(h) {
    return !!(h.metric && h.metric !== "none");
  }

  /** Fill colour of `value`: class i = number of breaks b with value >= b, colors[i]. */
  function classColour(value, breaks, colors) {
    if (value === null || value === undefined || !isFinite(value) || !(colors || []).length) {
      return null;
    }
    var k = (breaks || []).filter(function (b) { return value >= b; }).length;
    return colors[Math.min(k, colors.length - 1)];
  }

  /** Path style of a cell: per-level default, metric colour, or the selection outline. */
  function styleCell(feature, context) {
    var p = propsOf(feature), h = hideoutOf(context), cfg = config();
    if (p.role === "selected") return Object.assign({}, cfg.selectedStyle || {});
    var levels = cfg.cellStyle || {};
    var base = p.role === "context" ? cfg.contextStyle : levels[p.level] || levels["6"];
    var style = Object.assign({ opacity: 1, fill: true, interactive: true }, base || {});
    if (metricOn(h) && p.role !== "context") {
      var colour = classColour((h.values || {})[p.code], h.breaks, h.colors);
      var noValue = cfg.noValueStyle || {};
      style.fillColor = colour || h.nodata || noValue.fillColor;
      style.fillOpacity = colour ? h.opacity || cfg.metricFillOpacity || 0.6
                                 : noValue.fillOpacity || 0.35;
    }
    if (h.selected && p.code === h.selected) {
      // A selected micro-grid has no children: it is drawn as a cell, outlined like a selection.
      var sel = cfg.selectedStyle || {};
      style.color = sel.color;
      style.weight = sel.weight;
    }
    return style;
  }

  /** Style while hovered: the cell's style with the hover highlight on top. */
  function hoverCell(feature, context) {
    if (propsOf(feature).role === "selected") return styleCell(feature, context);
    return Object.assign(styleCell(feature, context), config().hoverStyle || {});
  }

  /** A metric value as text, following the hideout's fmt/unit (layers/metrics.py). */
  function formatValue(h, value) {
    if (value === null || value === undefined || !isFinite(value)) {
      return (config().texts || {}).no_value || "";
    }
    var text;
    if (h.fmt === "pct") text = (value * 100).toFixed(0) + "%";
    else if (h.fmt === "int") text = Math.round(value).toLocaleString("en-US");
    else if (h.fmt === "rate") text = Math.abs(value) >= 1 || value === 0
      ? value.toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 })
      : value.toPrecision(2);
    else text = Math.round(value) === value ? String(value) : value.toFixed(1);
    if (h.unit && h.fmt !== "pct") text += (/^[/%]/.test(h.unit) ? "" : " ") + h.unit;
    return text;
  }

  /** Tooltip HTML of a cell: name, level, code and the current metric — all escaped. */
  function tooltipHtml(p, h) {
    var cfg = config(), texts = cfg.texts || {}, names = cfg.levelNames || {};
    var html =
      '<div class="gc-tt-name">' + escapeHtml(p.name) + "</div>" +
      '<div class="gc-tt-meta">' + escapeHtml(names[p.level] || p.level) + " · " +
      escapeHtml(texts.code || "") + " " + escapeHtml(p.code) + "</div>";
    if (metricOn(h) && p.role !== "context") {
      var label = h.label || (cfg.metricNames || {})[h.metric] || h.metric;
      html += '<div class="gc-tt-metric">' + escapeHtml(label) + ": " +
        escapeHtml(formatValue(h, (h.values || {})[p.code])) + "</div>";
    }
    return html;
  }

  // ---------------------------------------------------------------- what the layer drew
  var state = {
    draws: 0, features: 0, cells: 0, levels: {}, roles: {}, selected: null, url: null,
    vertices: 0, maxFeatures: 0, maxVertices: 0, labels: 0, drawnAt: 0, fetches: 0,
    errors: 0, lastFetchUrl: null, clickAt: 0, log: [], moving: false,
  };
  var batch = null;

  function countVertices(geometry) {
    var n = 0;
    (function walk(c) {
      if (!c || !c.length) return;
      if (typeof c[0] === "number") { n += 1; return; }
      for (var i = 0; i < c.length; i++) walk(c[i]);
    })(geometry && geometry.coordinates);
    return n;
  }

  /** Bound to each feature: tooltip, selection kept on top, and draw bookkeeping. */
  function onEachCell(feature, layer, context) {
    var p = propsOf(feature), h = hideoutOf(context);
    if (p.role !== "selected") {
      layer.bindTooltip(function () { return tooltipHtml(p, h); }, {
        sticky: true, direction: "top", offset: [0, -8], className: "gc-tooltip",
      });
    }
    layer._gcVertices = countVertices(feature.geometry);
    if (p.role !== "selected") layer.on("mouseout", keepSelectionOnTop);
    if (!batch) {
      batch = { map: context && context.map, id: context && context.id, last: null };
      setTimeout(finishBatch, 0);
    }
    batch.last = layer;
  }

  function keepSelectionOnTop() {
    var sel = state._selectedLayer;
    if (sel && sel._map) sel.bringToFront();
  }

  function groupOf(layer) {
    var parents = layer && layer._eventParents;
    if (!parents) return null;
    for (var k in parents) if (Object.prototype.hasOwnProperty.call(parents, k)) return parents[k];
    return null;
  }

  /**
   * Runs once the layer has drawn a payload (or restyled it), after the current task: the
   * stats come from the layer group itself, so back-to-back redraws count once.
   */
  function finishBatch() {
    var b = batch;
    batch = null;
    if (!b) return;
    var group = groupOf(b.last);
    var layers = group ? group.getLayers().filter(function (l) { return !!l.feature; }) : [];
    var levels = {}, roles = {}, vertices = 0, selected = null;
    layers.forEach(function (l) {
      var p = propsOf(l.feature), role = p.role || "cell";
      roles[role] = (roles[role] || 0) + 1;
      vertices += l._gcVertices || 0;
      if (role === "selected") selected = l;
      else levels[p.level] = (levels[p.level] || 0) + 1;
    });
    var n = layers.length;
    state.draws += 1;
    state.features = n;
    state.cells = roles.cell || 0;
    state.levels = levels;
    state.roles = roles;
    state.selected = selected ? propsOf(selected.feature).code : null;
    state._selectedLayer = selected;
    state.vertices = vertices;
    state.maxFeatures = Math.max(state.maxFeatures, n);
    state.maxVertices = Math.max(state.maxVertices, vertices);
    state.url = state.lastFetchUrl;
    state.drawnAt = performance.now();
    state.log.push([Math.round(state.drawnAt), n, state.url, Object.keys(levels).join(","),
                    vertices]);
    if (state.log.length > 20) state.log.shift();
    state._layers = layers;
    state._map = b.map;
    if (b.id) state._id = b.id;
    drawLabels();
    if (b.map && !b.map._gcLabelHook) {
      b.map._gcLabelHook = true;
      b.map.on("zoomend", drawLabels);
    }
    kick();
  }

  /**
   * Permanent name labels for up to maxLabels cells: where the name fits inside the cell's
   * box, at its centroid, larger cells first, skipping labels that would overlap a placed one.
   */
  function drawLabels() {
    var layers = state._layers || [], map = state._map, cfg = config();
    var group = layers.length ? groupOf(layers[0]) : null;
    (state._labels || []).forEach(function (m) { if (group) group.removeLayer(m); });
    state._labels = [];
    state.labels = 0;
    if (!map || !group || !map.hasLayer(group) || state.cells > (cfg.maxLabels || 60)) return;
    var candidates = [];
    layers.forEach(function (layer) {
      var p = propsOf(layer.feature);
      if (p.role === "selected" || p.role === "context" || !layer._map) return;
      var b = layer.getBounds(), name = String(p.name || "");
      var nw = map.latLngToLayerPoint(b.getNorthWest());
      var se = map.latLngToLayerPoint(b.getSouthEast());
      var w = 8 + 13 * name.length, h = 18;
      if (se.x - nw.x < w * 1.3 || se.y - nw.y < 28) return;
      var at;
      try { at = layer.getCenter(); } catch (e) { return; }
      var c = map.latLngToLayerPoint(at);
      candidates.push({ name: name, at: at, area: (se.x - nw.x) * (se.y - nw.y),
                        box: [c.x - w / 2, c.y - h / 2, c.x + w / 2, c.y + h / 2] });
    });
    candidates.sort(function (a, b) { return b.area - a.area; });
    var placed = [];
    candidates.forEach(function (c) {
      var clash = placed.some(function (q) {
        return c.box[0] < q[2] && q[0] < c.box[2] && c.box[1] < q[3] && q[1] < c.box[3];
      });
      if (clash) return;
      placed.push(c.box);
      var marker = L.marker(c.at, {
        interactive: false, keyboard: false,
        icon: L.divIcon({ className: "gc-label", html: escapeHtml(c.name), iconSize: null }),
      });
      group.addLayer(marker);
      state._labels.push(marker);
    });
    state.labels = state._labels.length;
  }

  /**
   * Make the grid layer re-read its props. dash-leaflet 1.1.3 drops prop changes (url,
   * hideout) that arrive while it is fetching, until its next render; a hideout computed for
   * the new view usually arrives exactly then. A no-op prop update triggers that render.
   */
  function kick() {
    var id = state._id || config().gridLayerId;
    var dc = window.dash_clientside;
    if (!id || !dc || !dc.set_props) return;
    try { dc.set_props(id, { hoverData: null }); } catch (e) { /* not mounted yet */ }
  }

  function showGridError(on) {
    var id = config().messageId, dc = window.dash_clientside;
    if (!id || !dc || !dc.set_props) return;
    if (on) {
      state._errorShown = true;
      dc.set_props(id, { children: (config().texts || {}).grid_unavailable || "" });
    } else if (state._errorShown) {
      state._errorShown = false;
      dc.set_props(id, { children: "" });
    }
  }

  // ----------------------------------------------- grid payload fetches (never break the layer)
  if (window.fetch && !window.fetch._gridcmd) {
    var nativeFetch = window.fetch.bind(window);
    var wrapped = function (input, init) {
      var url = typeof input === "string" ? input : (input && input.url) || "";
      if (url.indexOf(GRID_PATH) === -1) return nativeFetch(input, init);
      state.fetches += 1;
      var empty = function () {
        setTimeout(function () {
          if (!batch) { state.features = 0; state.cells = 0; state.levels = {}; state.roles = {};
            state.vertices = 0; state.url = url; state.drawnAt = performance.now(); drawLabels(); }
          kick();
        }, 30);
        return new Response(EMPTY_GEOBUF, { status: 200 });
      };
      return nativeFetch(input, init).then(function (resp) {
        state.lastFetchUrl = url;
        if (!resp.ok) {
          state.errors += 1;
          if (resp.status >= 500) showGridError(true);
          return empty();
        }
        showGridError(false);
        return resp.arrayBuffer().then(function (buf) {
          if (!buf.byteLength) return empty();
          return new Response(buf, { status: 200 });
        });
      }, function () {
        state.lastFetchUrl = url;
        state.errors += 1;
        showGridError(true);
        return empty();
      });
    };
    wrapped._gridcmd = true;
    window.fetch = wrapped;
  }

  // ------------------------------------------------------------ viewport → VIEW store
  /** Report the map's view to Dash (the VIEW store) — on moveend only, never mid-animation. */
  function reportView(map) {
    var cfg = config(), dc = window.dash_clientside;
    if (!cfg.viewStoreId || !dc || !dc.set_props) return;
    if (map.getContainer().id !== cfg.mapId) return;
    var b = map.getBounds(), size = map.getSize();
    try {
      dc.set_props(cfg.viewStoreId, { data: {
        bounds: [[b.getSouth(), b.getWest()], [b.getNorth(), b.getEast()]],
        zoom: map.getZoom(),
        size: [size.x, size.y],
      } });
    } catch (e) { /* layout not ready: the next moveend reports */ }
  }

  (function hookMaps(tries) {
    if (!window.L || !window.L.Map) {
      if (tries < 200) setTimeout(function () { hookMaps(tries + 1); }, 10);
      return;
    }
    if (window.L.Map._gridcmdHooked) return;
    window.L.Map._gridcmdHooked = true;
    window.L.Map.addInitHook(function () {
      var map = this;
      map.on("movestart", function () { state.moving = true; });
      map.on("moveend", function () { state.moving = false; reportView(map); });
      map.whenReady(function () { setTimeout(function () { reportView(map); }, 0); });
    });
  })(0);

  // ----------------------------------------------------------------- clientside callbacks
  /** Grid layer click → the URL query selecting the clicked cell (other params kept). */
  function selectCell(nClicks, feature, search) {
    var noUpdate = window.dash_clientside.no_update;
    var p = propsOf(feature);
    if (!nClicks || !p.code || p.role === "selected") return noUpdate;
    var params = new URLSearchParams(search || "");
    if (params.get("cell") === String(p.code)) return noUpdate;
    var out = new URLSearchParams();
    out.set("cell", String(p.code));
    params.forEach(function (v, k) { if (k !== "cell") out.append(k, v); });
    state.clickAt = performance.now();
    return "?" + out.toString();
  }

  /** The part of the map not under the floating boxes, in container pixels: right of the
   *  left-hand controls, below the header, left of the right dock and of the open cell panel,
   *  above the open event-table drawer. */
  function freeArea(map) {
    var box = map.getContainer().getBoundingClientRect();
    var area = { left: 56, top: 0, right: box.width, bottom: box.height };
    function rectOf(sel) {
      var el = document.querySelector(sel);
      if (!el || el.offsetParent === null) return null;
      var r = el.getBoundingClientRect();
      return r.width && r.height ? r : null;
    }
    var header = rectOf(".gc-top-left .gc-header");
    if (header) area.top = Math.max(area.top, header.bottom - box.top);
    [".gc-dock", ".gc-panel[open]"].forEach(function (sel) {
      var r = rectOf(sel);
      if (r) area.right = Math.min(area.right, r.left - box.left);
    });
    var drawer = rectOf(".gc-et-panel:not(.gc-et-collapsed)");
    if (drawer) area.bottom = Math.min(area.bottom, drawer.top - box.top);
    return area;
  }

  /** A fly-to request (the ``dl.Map.viewport`` dict a server callback put in ids.FLY) →
   *  the same flight, its centre shifted so the target lands in the middle of the map's free
   *  part instead of under the case panel or the drawer (unshifted when that part is small). */
  function flyClear(fly) {
    if (!fly || !fly.center) return window.dash_clientside.no_update;
    var map = state._map;
    if (!map) return fly;
    var size = map.getSize(), a = freeArea(map);
    if (a.right - a.left < 160 || a.bottom - a.top < 160) return fly;
    var zoom = fly.zoom === undefined ? map.getZoom() : fly.zoom;
    var shift = L.point(size.x / 2 - (a.left + a.right) / 2, size.y / 2 - (a.top + a.bottom) / 2);
    var target = map.project(L.latLng(fly.center[0], fly.center[1]), zoom);
    var c = map.unproject(target.add(shift), zoom);
    state.flyShift = [shift.x, shift.y];
    return Object.assign({}, fly, { center: [c.lat, c.lng] });
  }

  window.gridcmd = Object.assign(window.gridcmd || {}, {
    escapeHtml: escapeHtml,
    classColour: classColour,
    styleCell: styleCell,
    hoverCell: hoverCell,
    onEachCell: onEachCell,
    tooltipHtml: tooltipHtml,
    state: state,
  });
  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.gridcmd = Object.assign(window.dash_clientside.gridcmd || {}, {
    selectCell: selectCell,
    flyClear: flyClear,
  });
})();
