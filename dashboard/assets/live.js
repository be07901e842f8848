/*
 * Live layers (events, grid workers, a worker's track): pointToLayer / onEachFeature / style
 * functions referenced from Python as {"variable": "gridcmdLive.<name>"} (layers/events.py,
 * layers/workers.py). dash-leaflet passes a trailing `context` holding the component's props
 * (`context.hideout`, `context.data`, `context.map`).
 *
 * Every text placed into HTML (tooltips, cluster labels) goes through escapeHtml: titles and
 * names come from phones and must render as text.
 *
 * window.gridcmdLive.state is a small read-only summary for tests: the ids of the features the
 * events/workers layers last received, and the track's fix count.
 */
(function () {
  "use strict";

  var ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  function escapeHtml(value) {
    return String(value === null || value === undefined ? "" : value).replace(
      /[&<>"']/g,
      function (ch) { return ESCAPES[ch]; }
    );
  }

  var state = { events: [], workers: [], eventsAt: 0, workersAt: 0, trackFixes: 0, tooltips: 0 };
  var seen = { events: null, workers: null };

  /**
   * Record the ids of the points a clustered layer holds (once per supercluster index: the
   * layer re-indexes on every new `data`). Only cluster rendering reports it, which is enough
   * for tests at prefecture zoom; `context.data` is not used because dash-leaflet 1.1.3 keeps
   * the context of the first render.
   */
  function note(kind, index) {
    var points = index && index.points;
    if (!points || seen[kind] === points) return;
    seen[kind] = points;
    state[kind] = points.map(function (f) { return (f.properties || {}).id; });
    state[kind + "At"] = performance.now();
  }

  /** An ISO timestamp as local Dali time (Asia/Shanghai), "YYYY-MM-DD HH:MM[:SS]". */
  function localTime(iso, seconds) {
    var d = new Date(iso);
    if (!iso || isNaN(d.getTime())) return "";
    var local = new Date(d.getTime() + 8 * 3600 * 1000);  // China has no DST: UTC+8
    return local.toISOString().slice(0, seconds ? 19 : 16).replace("T", " ");
  }

  function hideoutOf(context) { return (context && context.hideout) || {}; }
  function propsOf(feature) { return (feature && feature.properties) || {}; }

  /** Cluster marker (events and workers): a round badge with the escaped count. */
  function clusterMarker(feature, latlng, index, context) {
    var kind = context && context.hideout && context.hideout.kind;
    if (kind) note(kind, index);
    var n = propsOf(feature).point_count || 0;
    var size = n >= 1000 ? 44 : n >= 100 ? 38 : 32;
    return L.marker(latlng, {
      icon: L.divIcon({
        html: "<span>" + escapeHtml(propsOf(feature).point_count_abbreviated) + "</span>",
        className: "gc-cluster gc-cluster-" + escapeHtml(kind || "x"),
        iconSize: L.point(size, size),
      }),
    });
  }

  // ------------------------------------------------------------------------------ events
  function eventMarker(feature, latlng, context) {
    var p = propsOf(feature), h = hideoutOf(context);
    var colour = (h.colors || {})[p.category] || "#495057";
    var closed = (h.closed || []).indexOf(p.status) !== -1;
    var m;
    if (h.heat) {
      m = L.circleMarker(latlng, {
        radius: 22, stroke: false, fillColor: colour, fillOpacity: 0.18, interactive: true,
      });
      m._gcLive = true;
      return m;
    }
    m = L.circleMarker(latlng, {
      radius: p.severity === "critical" ? 9 : p.severity === "high" ? 8 : 7,
      color: p.overdue ? "#c92a2a" : closed ? "#adb5bd" : "#ffffff",
      weight: p.overdue ? 3 : 1.5,
      fillColor: colour,
      fillOpacity: closed ? 0.35 : 0.9,
    });
    m._gcLive = true;
    return m;
  }

  function eventTooltip(p, h) {
    var texts = h.texts || {};
    var cat = (h.categoryNames || {})[p.category] || p.category;
    var status = (h.statusNames || {})[p.status] || p.status;
    var html = '<div class="gc-tt-name">' + escapeHtml(p.title) + "</div>" +
      '<div class="gc-tt-meta">' + escapeHtml(cat) + " · " + escapeHtml(status) + "</div>" +
      '<div class="gc-tt-meta">' + escapeHtml(localTime(p.reported_at)) +
      "</div>";
    if (p.overdue) html += '<div class="gc-tt-metric">' + escapeHtml(texts.overdue || "") + "</div>";
    return html;
  }

  function bindEvent(feature, layer, context) {
    var p = propsOf(feature);
    if (p.cluster) return;
    var h = hideoutOf(context);
    layer.bindTooltip(function () { state.tooltips += 1; return eventTooltip(p, h); }, {
      direction: "top", offset: [0, -6], className: "gc-tooltip gc-live-tooltip",
    });
  }

  // ------------------------------------------------------------------------------ workers
  function workerMarker(feature, latlng, context) {
    var p = propsOf(feature), h = hideoutOf(context);
    var m = L.circleMarker(latlng, {
      radius: 6, color: "#1b1e21", weight: 1,
      fillColor: (h.colors || {})[p.status] || "#868e96",
      fillOpacity: p.status === "on_duty" ? 0.95 : 0.7,
    });
    m._gcLive = true;
    return m;
  }

  function age(seconds, texts) {
    if (seconds === null || seconds === undefined) return texts.never || "";
    var s = Math.max(0, Math.round(seconds));
    if (s < 120) return s + " s";
    if (s < 7200) return Math.round(s / 60) + " min";
    if (s < 172800) return Math.round(s / 3600) + " h";
    return Math.round(s / 86400) + " d";
  }

  function workerTooltip(p, h) {
    var texts = h.texts || {};
    return '<div class="gc-tt-name">' + escapeHtml(p.name) + "</div>" +
      '<div class="gc-tt-meta">' + escapeHtml((h.statusNames || {})[p.status] || p.status) +
      " · " + escapeHtml(texts.grid || "") + " " + escapeHtml(p.cell_name) + "</div>" +
      '<div class="gc-tt-meta">' + escapeHtml(texts.last_fix || "") + " " +
      escapeHtml(age(p.fix_age_s, texts)) + "</div>";
  }

  function bindWorker(feature, layer, context) {
    var p = propsOf(feature);
    if (p.cluster) return;
    var h = hideoutOf(context);
    layer.bindTooltip(function () { state.tooltips += 1; return workerTooltip(p, h); }, {
      direction: "top", offset: [0, -6], className: "gc-tooltip gc-live-tooltip",
    });
  }

  // ------------------------------------------------------------------------------ track
  function trackStyle() {
    return { color: "#1864ab", weight: 3, opacity: 0.85, dashArray: "6 4" };
  }

  function trackFix(feature, latlng) {
    var p = propsOf(feature);
    var m = L.circleMarker(latlng, {
      radius: p.first || p.last ? 6 : 3,
      color: "#1864ab", weight: 1,
      fillColor: p.last ? "#1864ab" : "#ffffff", fillOpacity: 1,
    });
    m._gcLive = true;
    return m;
  }

  function bindTrackFix(feature, layer, context) {
    var p = propsOf(feature);
    layer._gcLive = true;
    if (p.role !== "fix") return;
    var map = context && context.map;
    if (map) {
      setTimeout(function () {
        var n = 0;
        map.eachLayer(function (l) { if (l._gcLive && propsOf(l.feature).role === "fix") n++; });
        state.trackFixes = n;
      }, 0);
    }
    var when = localTime(p.time, true);
    layer.bindTooltip(escapeHtml(when), {
      direction: "top", className: "gc-tooltip", permanent: !!(p.first || p.last),
    });
  }

  // ------------------------------------------------- keep live markers above the grid cells
  // The grid cells and these circle markers share the map's canvas (preferCanvas), where the
  // last-drawn path is on top and wins the hit test; the grid redraws on every move, so after
  // any other layer is added the live markers are brought back to the front (batched).
  var frontPending = false;

  function liveToFront(map) {
    frontPending = false;
    map.eachLayer(function (l) { if (l._gcLive && l.bringToFront) l.bringToFront(); });
  }

  (function hookMaps(tries) {
    if (!window.L || !window.L.Map) {
      if (tries < 200) setTimeout(function () { hookMaps(tries + 1); }, 10);
      return;
    }
    if (window.L.Map._gridcmdLiveHooked) return;
    window.L.Map._gridcmdLiveHooked = true;
    window.L.Map.addInitHook(function () {
      var map = this;
      map.on("layeradd", function (e) {
        if (e.layer._gcLive || frontPending) return;
        frontPending = true;
        setTimeout(function () { liveToFront(map); }, 0);
      });
    });
  })(0);

  // ------------------------------------------------------------ change feed (clientside)
  /** Merge one part of a delta ({features, removed}) into a FeatureCollection, by id. */
  function merge(collection, part) {
    var features = (collection && collection.features) || [];
    if (!part) return null;
    var drop = {};
    (part.removed || []).forEach(function (id) { drop[id] = true; });
    (part.features || []).forEach(function (f) { drop[propsOf(f).id] = true; });
    var kept = features.filter(function (f) { return !drop[propsOf(f).id]; });
    return { type: "FeatureCollection", features: (part.features || []).concat(kept) };
  }

  /** LIVE_DELTA → new data for the events and workers layers (unchanged part: no_update). */
  function mergeDelta(delta, events, workers) {
    var noUpdate = window.dash_clientside.no_update;
    if (!delta) return [noUpdate, noUpdate];
    var e = delta.events, w = delta.workers;
    var changedE = e && ((e.features || []).length || (e.removed || []).length);
    var changedW = w && ((w.features || []).length || (w.removed || []).length);
    state.deltas = (state.deltas || 0) + 1;
    return [changedE ? merge(events, e) : noUpdate, changedW ? merge(workers, w) : noUpdate];
  }

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.gridcmdLive = Object.assign(window.dash_clientside.gridcmdLive || {}, {
    mergeDelta: mergeDelta,
  });

  window.gridcmdLive = Object.assign(window.gridcmdLive || {}, {
    escapeHtml: escapeHtml,
    localTime: localTime,
    clusterMarker: clusterMarker,
    merge: merge,
    eventMarker: eventMarker,
    bindEvent: bindEvent,
    eventTooltip: eventTooltip,
    workerMarker: workerMarker,
    bindWorker: bindWorker,
    workerTooltip: workerTooltip,
    trackStyle: trackStyle,
    trackFix: trackFix,
    bindTrackFix: bindTrackFix,
    state: state,
  });
})();
