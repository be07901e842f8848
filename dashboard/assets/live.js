/*
 * Live layers: events and grid workers, kept current from the server's change feed.
 *
 * Data flow (docs/live.md): when the "events" or "workers" overlay is switched on, `tick`
 * (a clientside Dash callback run by the LIVE_TICK interval) fetches /live/snapshot once,
 * then polls /live/changes?cursor=N; the server answers 204 when nothing changed, else the
 * current state of the changed rows in a compact columnar form. The points live here, in
 * `store`; the layers get their `data` from this callback, so the points never make a round
 * trip through a server callback. Filters and the heatmap work on the same store.
 *
 * Markers are DOM divIcons (bounded by clustering), so they never draw on — or force a redraw
 * of — the grid's canvas. Every text placed into HTML goes through escapeHtml.
 *
 * window.gridcmdLive.state is a read-only summary for tests (ids shown, cursor, polls, bytes).
 */
(function () {
  "use strict";

  // The one escaper (gridcmd.js, on every page), looked up when called: asset order is free.
  function escapeHtml(value) {
    return window.gridcmd.escapeHtml(value);
  }

  function propsOf(feature) { return (feature && feature.properties) || {}; }
  function hideoutOf(context) { return (context && context.hideout) || {}; }

  var state = {
    cursor: null, polls: 0, snapshots: 0, resets: 0, errors: 0, bytes: 0, updates: 0,
    events: 0, workers: 0, shownEvents: [], shownWorkers: [], updatedAt: 0, heat: false,
    rehanded: 0,
  };
  var store = null;  // {kinds, cursor, origin, q, vocab, events: Map, workers: Map, offset}
  var busy = false;
  var lastKey = null;
  var pending = { events: false, workers: false };
  /** Each layer's data as last handed to Dash, when, and when it was last handed again. */
  var handed = { events: { at: 0, fc: null, again: 0 }, workers: { at: 0, fc: null, again: 0 } };
  /** Markers of each layer on the page (dots and clusters; see clusterMarker / dot). */
  var MARKER_SEL = {
    events: ".gc-dot-event, .gc-cluster-events",
    workers: ".gc-dot-worker, .gc-cluster-workers",
  };
  var HANDOVER_MS = 1500;   // time dash-leaflet gets to draw handed data
  var REHAND_MS = 5000;     // at most one re-handover per layer this often

  /** Whether a feature collection has a point inside the map's current view. */
  function anyInView(fc) {
    var map = theMap();
    if (!map || !fc || !fc.features.length) return false;
    var b = map.getBounds();
    return fc.features.some(function (f) {
      var c = f.geometry.coordinates;
      return b.contains([c[1], c[0]]);
    });
  }

  /**
   * dash-leaflet's GeoJSON drops a ``data`` update that arrives while it is still loading the
   * previous one (and a layer mounted in that moment keeps its old, empty data): the live
   * layer then stays blank until the next change — at a static view, for good (a wall screen
   * nobody touches showed no events). So on every poll, a layer whose last handed data has a
   * point in the current view but which shows no marker (the map at rest, the data handed
   * over a while ago) is handed its data again, at most every REHAND_MS (counted in
   * ``state.rehanded``).
   */
  function checkHandover(kind) {
    var h = handed[kind], now = Date.now();
    if (!h.fc || now - h.at < HANDOVER_MS || now - h.again < REHAND_MS) return;
    if (window.gridcmd && window.gridcmd.state && window.gridcmd.state.moving) return;
    if (document.querySelector(MARKER_SEL[kind]) || !anyInView(h.fc)) return;
    h.again = now;
    pending[kind] = true;
    state.rehanded += 1;
  }
  var lastInteraction = 0;
  var QUIET_MS = 1000;
  var MAX_DEFER_MS = 3000;
  var lastBuild = 0;
  var STATUS_REFRESH_MS = 30000;

  /** Note map interaction (for the quiet period) and views the drawn workers do not cover. */
  function hookInteraction() {
    var map = theMap();
    if (!map || map._gcLiveHooked) return;
    map._gcLiveHooked = true;
    var touch = function () { lastInteraction = Date.now(); };
    map.on("movestart zoomstart mousedown", touch);
    map.getContainer().addEventListener("click", touch, true);
    map.on("moveend", function () {
      var b = map.getBounds();
      var inside = drawn.bounds && b.getWest() >= drawn.bounds[0] &&
        b.getSouth() >= drawn.bounds[1] && b.getEast() <= drawn.bounds[2] &&
        b.getNorth() <= drawn.bounds[3];
      if (!inside || map.getZoom() !== drawn.zoom) pending.workers = true;
    });
  }
  var heatLayer = null;

  // ------------------------------------------------------------------------- map handle
  (function hookMaps(tries) {
    if (!window.L || !window.L.Map) {
      if (tries < 400) setTimeout(function () { hookMaps(tries + 1); }, 10);
      return;
    }
    if (window.L.Map._gridcmdLiveHooked) return;
    window.L.Map._gridcmdLiveHooked = true;
    window.L.Map.addInitHook(function () { api.map = this; });
  })(0);

  /** The map: from the init hook, else the one the grid layer draws on (gridcmd.js). */
  function theMap() {
    if (!api.map && window.gridcmd && window.gridcmd.state && window.gridcmd.state._map) {
      api.map = window.gridcmd.state._map;
    }
    return api.map;
  }

  // ------------------------------------------------------------------------- decoding
  function undelta(list) {
    var out = new Array(list.length), acc = 0;
    for (var k = 0; k < list.length; k++) { acc += list[k]; out[k] = acc; }
    return out;
  }

  /**
   * Merge a workers part into the store; returns how many changes are *visible*: a worker
   * added or removed, or one inside the drawn area (padded view) that moved by a pixel or
   * more at the current zoom or changed duty. Sub-pixel moves of a whole fleet seen from the
   * prefecture change nothing on screen, so they do not cost a re-cluster.
   */
  function applyWorkers(part, origin, q, serverNow) {
    if (!part) return 0;
    var ids = undelta(part.i || []), visible = 0;
    var view = drawn.bounds, pxPerDeg = drawn.zoom === null ? Infinity
      : 256 * Math.pow(2, drawn.zoom) / 360;
    for (var k = 0; k < ids.length; k++) {
      var w = {
        lon: origin[0] + part.x[k] * q,
        lat: origin[1] + part.y[k] * q,
        fix: part.a[k] < 0 ? null : serverNow - part.a[k] * 1000,
        duty: part.s[k],
      };
      var old = store.workers.get(ids[k]);
      store.workers.set(ids[k], w);
      if (!old || old.duty !== w.duty) { visible++; continue; }
      var inView = !view || inBounds(view, w) || inBounds(view, old);
      if (inView && (Math.abs(old.lon - w.lon) * pxPerDeg >= 1 ||
                     Math.abs(old.lat - w.lat) * pxPerDeg >= 1)) visible++;
    }
    undelta(part.r || []).forEach(function (id) {
      if (store.workers.delete(id)) visible++;
    });
    return visible;
  }

  function inBounds(b, p) {
    return p.lon >= b[0] && p.lon <= b[2] && p.lat >= b[1] && p.lat <= b[3];
  }

  function applyEvents(part, origin, q, serverNow) {
    if (!part) return 0;
    var ids = undelta(part.i || []), vocab = store.vocab;
    for (var k = 0; k < ids.length; k++) {
      store.events.set(ids[k], {
        lon: origin[0] + part.x[k] * q,
        lat: origin[1] + part.y[k] * q,
        category: vocab.categories[part.k[k]],
        status: vocab.statuses[part.s[k]],
        severity: vocab.severities[part.v[k]],
        reported: serverNow - part.t[k] * 60000,
        overdue: part.o[k] === 1,
        supervised: !!(part.u && part.u[k] === 1),  // 督办 (older servers: absent)
      });
    }
    return ids.length;
  }

  // ------------------------------------------------------------------------- building
  function workerStatus(w, now, staleMs) {
    if (w.duty !== 1) return "off_duty";
    if (w.fix === null || now - w.fix > staleMs) return "stale";
    return "on_duty";
  }

  /** The area the workers layer holds: the view padded by half a screen each way (all of it
   * when the map is not known yet), and the zoom it was built for. */
  var drawn = { bounds: null, zoom: null, builtAt: 0 };

  function paddedView() {
    var map = theMap();
    if (!map) return null;
    var b = map.getBounds().pad(0.5);
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
  }

  function buildWorkers(cfg) {
    var features = [], shown = [], now = Date.now() + store.offset;
    var map = theMap(), view = paddedView();
    drawn = { bounds: view, zoom: map ? map.getZoom() : null, builtAt: Date.now() };
    store.workers.forEach(function (w, id) {
      if (view && !inBounds(view, w)) return;
      shown.push(id);
      features.push({
        type: "Feature",
        geometry: { type: "Point", coordinates: [w.lon, w.lat] },
        properties: {
          id: id, status: workerStatus(w, now, cfg.stale_ms),
          age: w.fix === null ? null : Math.round((now - w.fix) / 1000),
        },
      });
    });
    state.shownWorkers = shown;
    return { type: "FeatureCollection", features: features };
  }

  function eventFilter(f) {
    var cats = f.categories && f.categories.length ? f.categories : null;
    var sts = f.statuses && f.statuses.length ? f.statuses : null;
    var since = f.rangeH ? Date.now() + store.offset - f.rangeH * 3600000 : null;
    return function (e) {
      if (cats && cats.indexOf(e.category) === -1) return false;
      if (sts && sts.indexOf(e.status) === -1) return false;
      if (since !== null && e.reported < since) return false;
      return true;
    };
  }

  function buildEvents(filters) {
    var keep = eventFilter(filters), features = [], shown = [], heat = [];
    store.events.forEach(function (e, id) {
      if (!keep(e)) return;
      shown.push(id);
      heat.push([e.lat, e.lon, e.overdue ? 1 : 0.6]);
      features.push({
        type: "Feature",
        geometry: { type: "Point", coordinates: [e.lon, e.lat] },
        properties: {
          id: id, category: e.category, status: e.status, severity: e.severity,
          overdue: e.overdue, supervised: e.supervised, reported: e.reported,
        },
      });
    });
    state.shownEvents = shown;
    updateHeat(heat);
    return { type: "FeatureCollection", features: features };
  }

  // ------------------------------------------------------------------------- heatmap
  function updateHeat(points) {
    var map = theMap();
    if (!map || !window.L) return;
    if (!state.heat) {
      if (heatLayer) { map.removeLayer(heatLayer); heatLayer = null; }
      return;
    }
    if (window.gridcmdInstallHeat) window.gridcmdInstallHeat(window.L);
    if (!heatLayer) {
      heatLayer = window.L.heatLayer(points, { radius: 22, blur: 18, maxZoom: 12 });
      heatLayer.addTo(map);
    } else {
      heatLayer.setLatLngs(points);
    }
  }

  // ------------------------------------------------------------------------- fetching
  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (resp) {
        if (resp.status === 204) return null;
        if (!resp.ok) throw new Error("HTTP " + resp.status);
        return resp.text().then(function (body) {
          state.bytes += body.length;
          return JSON.parse(body);
        });
      });
  }

  /**
   * Load the snapshot of `kinds` ("events,workers" or one of them). With a store already
   * holding other kinds, only the added kinds are fetched and merged; the cursor stays the
   * older one (changes in between are re-sent as current state: harmless).
   */
  function loadSnapshot(cfg, kinds) {
    var want = kinds.split(","), fetchKinds = want;
    if (store) {
      var have = store.kinds.split(",");
      if (have.indexOf("events") !== -1 && want.indexOf("events") === -1) store.events.clear();
      if (have.indexOf("workers") !== -1 && want.indexOf("workers") === -1) store.workers.clear();
      fetchKinds = want.filter(function (k) { return have.indexOf(k) === -1; });
      if (!fetchKinds.length) {
        store.kinds = kinds;
        return Promise.resolve({ events: true, workers: true });
      }
    }
    return getJson(cfg.snapshot + "?kinds=" + fetchKinds.join(",")).then(function (snap) {
      var serverNow = Date.parse(snap.now);
      if (!store) {
        store = {
          kinds: kinds, cursor: snap.cursor, origin: snap.origin, q: snap.q, vocab: null,
          events: new Map(), workers: new Map(), offset: serverNow - Date.now(),
        };
      } else {
        store.kinds = kinds;
        store.cursor = Math.min(store.cursor, snap.cursor);
      }
      if (snap.vocabulary) store.vocab = snap.vocabulary;
      if (snap.workers) applyWorkers(snap.workers, snap.origin, snap.q, serverNow);
      if (snap.events) applyEvents(snap.events, snap.origin, snap.q, serverNow);
      state.snapshots += 1;
      state.cursor = store.cursor;
      return { events: true, workers: true };
    });
  }

  function pollChanges(cfg) {
    var url = cfg.changes + "?cursor=" + store.cursor + "&kinds=" + store.kinds;
    return getJson(url).then(function (delta) {
      state.polls += 1;
      if (delta === null) return { events: false, workers: false };
      if (delta.reset) {
        state.resets += 1;
        var kinds = store.kinds;
        store = null;
        return loadSnapshot(cfg, kinds);
      }
      var serverNow = Date.parse(delta.now), changed = { events: false, workers: false };
      store.offset = serverNow - Date.now();
      if (delta.workers) {
        changed.workers = applyWorkers(delta.workers, delta.origin, store.q, serverNow) > 0;
      }
      if (delta.events && store.vocab) {
        changed.events = applyEvents(delta.events, delta.origin, store.q, serverNow) > 0;
      }
      store.cursor = delta.cursor;
      state.cursor = store.cursor;
      return changed;
    });
  }

  /**
   * The clientside callback: (tick, overlays, categories, statuses, range hours, heat, config)
   * → [events data, workers data]. no_update for a layer that did not change.
   */
  function tick(_n, overlays, categories, statuses, range, heat, cfg) {
    var dc = window.dash_clientside, noUpdate = dc.no_update;
    overlays = overlays || [];
    var wantEvents = overlays.indexOf(cfg.names.events) !== -1;
    var wantWorkers = overlays.indexOf(cfg.names.workers) !== -1;
    var kinds = [wantEvents ? "events" : null, wantWorkers ? "workers" : null]
      .filter(Boolean).join(",");
    if (!wantEvents) handed.events.fc = null;  // nothing to check until it is on again
    if (!wantWorkers) handed.workers.fc = null;
    state.heat = wantEvents && (heat || []).indexOf("heat") !== -1;
    var filters = { categories: categories, statuses: statuses, rangeH: Number(range) || 0 };
    var key = JSON.stringify([kinds, filters, state.heat]);
    if (!kinds) {
      var had = store !== null;
      store = null;
      state.cursor = null;
      updateHeat([]);
      lastKey = key;
      if (!had) return [noUpdate, noUpdate];
      state.shownEvents = [];
      state.shownWorkers = [];
      var empty = { type: "FeatureCollection", features: [] };
      return [empty, empty];
    }
    if (busy) return [noUpdate, noUpdate];
    busy = true;
    hookInteraction();
    if (key !== lastKey) { pending.events = true; pending.workers = true; }
    var job = store === null || store.kinds !== kinds ? loadSnapshot(cfg, kinds)
      : pollChanges(cfg);
    return job.then(function (changed) {
      busy = false;
      lastKey = key;
      pending.events = pending.events || changed.events;
      pending.workers = pending.workers || changed.workers ||
        Date.now() - drawn.builtAt > STATUS_REFRESH_MS;  // "stale" is a matter of time
      // Keep the main thread free right after the user touched the map (a click's drill-down
      // and fly animation come first); pending changes are drawn on the next quiet tick.
      var quiet = Date.now() - lastInteraction > QUIET_MS || drawn.zoom === null ||
        Date.now() - lastBuild > MAX_DEFER_MS;
      if (wantEvents) checkHandover("events");
      if (wantWorkers) checkHandover("workers");
      var ev = noUpdate, wk = noUpdate;
      if (pending.events && wantEvents && quiet) { ev = buildEvents(filters); pending.events = false; }
      if (pending.workers && wantWorkers && quiet) { wk = buildWorkers(cfg); pending.workers = false; }
      if (ev !== noUpdate) { handed.events.fc = ev; handed.events.at = Date.now(); }
      if (wk !== noUpdate) { handed.workers.fc = wk; handed.workers.at = Date.now(); }
      if (!wantEvents) state.shownEvents = [];
      if (!wantWorkers) state.shownWorkers = [];
      if (ev !== noUpdate || wk !== noUpdate) {
        lastBuild = Date.now();
        state.updates += 1;
        state.updatedAt = Date.now();
      }
      state.events = store.events.size;
      state.workers = store.workers.size;
      return [ev, wk];
    }, function (err) {
      busy = false;
      state.errors += 1;
      state.lastError = String(err);
      return [noUpdate, noUpdate];
    });
  }

  /** Interval on only while a live overlay is shown. */
  function tickDisabled(overlays, cfg) {
    overlays = overlays || [];
    return overlays.indexOf(cfg.names.events) === -1 && overlays.indexOf(cfg.names.workers) === -1;
  }

  // ------------------------------------------------------------------------- markers
  function clusterMarker(feature, latlng, index, context) {
    var kind = hideoutOf(context).kind || "x";
    var n = propsOf(feature).point_count || 0;
    var size = n >= 1000 ? 44 : n >= 100 ? 38 : 32;
    return window.L.marker(latlng, {
      icon: window.L.divIcon({
        html: "<span>" + escapeHtml(propsOf(feature).point_count_abbreviated) + "</span>",
        className: "gc-cluster gc-cluster-" + escapeHtml(kind),
        iconSize: window.L.point(size, size),
      }),
    });
  }

  function dot(latlng, cls, colour, size, title) {
    return window.L.marker(latlng, {
      icon: window.L.divIcon({
        html: '<span style="background:' + escapeHtml(colour) + '"></span>',
        className: "gc-dot " + cls,
        iconSize: window.L.point(size, size),
      }),
      title: title || "",
      keyboard: false,
    });
  }

  function eventMarker(feature, latlng, context) {
    var p = propsOf(feature), h = hideoutOf(context);
    var closed = (h.closed || []).indexOf(p.status) !== -1;
    var cls = "gc-dot-event" + (p.overdue ? " gc-dot-overdue" : "") +
      (p.supervised ? " gc-dot-supervised" : "") +
      (closed ? " gc-dot-closed" : "") + (p.severity === "critical" ? " gc-dot-critical" : "");
    // Overdue: drawn red (fill and ring, pulsing: supervision.css) whatever the category.
    var colour = p.overdue ? "#e03131" : (h.colors || {})[p.category] || "#495057";
    return dot(latlng, cls, colour, p.overdue ? 18 : 16);
  }

  function minutesAgo(ms, texts) {
    var s = Math.max(0, Math.round((Date.now() + (store ? store.offset : 0) - ms) / 1000));
    if (s < 120) return s + " s";
    if (s < 7200) return Math.round(s / 60) + " min";
    if (s < 172800) return Math.round(s / 3600) + " h";
    return Math.round(s / 86400) + " d";
  }

  function eventTooltip(p, h) {
    var texts = h.texts || {};
    var html = '<div class="gc-tt-name">' +
      escapeHtml((h.categoryNames || {})[p.category] || p.category) + "</div>" +
      '<div class="gc-tt-meta">' + escapeHtml((h.statusNames || {})[p.status] || p.status) +
      " · " + escapeHtml(texts.reported || "") + " " + escapeHtml(minutesAgo(p.reported)) +
      "</div>";
    if (p.overdue) html += '<div class="gc-tt-metric">' + escapeHtml(texts.overdue || "") + "</div>";
    if (p.supervised) {
      html += '<div class="gc-tt-metric">' + escapeHtml(texts.supervised || "") + "</div>";
    }
    return html + '<div class="gc-tt-meta">' + escapeHtml(texts.click || "") + "</div>";
  }

  function bindEvent(feature, layer, context) {
    var p = propsOf(feature);
    if (p.cluster) return;
    var h = hideoutOf(context);
    layer.bindTooltip(function () { return eventTooltip(p, h); }, {
      direction: "top", offset: [0, -8], className: "gc-tooltip gc-live-tooltip",
    });
  }

  function workerMarker(feature, latlng, context) {
    var p = propsOf(feature), h = hideoutOf(context);
    return dot(latlng, "gc-dot-worker gc-dot-" + p.status,
      (h.colors || {})[p.status] || "#868e96", 12);
  }

  function workerTooltip(p, h) {
    var texts = h.texts || {};
    var age = p.age === null || p.age === undefined ? (texts.never || "")
      : minutesAgo(Date.now() + (store ? store.offset : 0) - p.age * 1000);
    return '<div class="gc-tt-name">' + escapeHtml((h.statusNames || {})[p.status] || p.status) +
      "</div>" + '<div class="gc-tt-meta">' + escapeHtml(texts.last_fix || "") + " " +
      escapeHtml(age) + "</div>" + '<div class="gc-tt-meta">' + escapeHtml(texts.click || "") +
      "</div>";
  }

  function bindWorker(feature, layer, context) {
    var p = propsOf(feature);
    if (p.cluster) return;
    var h = hideoutOf(context);
    layer.bindTooltip(function () { return workerTooltip(p, h); }, {
      direction: "top", offset: [0, -6], className: "gc-tooltip gc-live-tooltip",
    });
  }

  // ------------------------------------------------------------------------- track
  function localTime(iso, seconds) {
    var d = new Date(iso);
    if (!iso || isNaN(d.getTime())) return "";
    var local = new Date(d.getTime() + 8 * 3600 * 1000);  // Dali: UTC+8, no DST
    return local.toISOString().slice(0, seconds ? 19 : 16).replace("T", " ");
  }

  function trackStyle() {
    return { color: "#1864ab", weight: 3, opacity: 0.85, dashArray: "6 4" };
  }

  function trackEnd(feature, latlng) {
    var p = propsOf(feature);
    if (p.role === "stamp") {
      var st = dot(latlng, "gc-dot-stamp", "#1864ab", 8);
      st.bindTooltip(escapeHtml(localTime(p.time, true)), {
        direction: "top", offset: [0, -4], className: "gc-tooltip",
      });
      return st;
    }
    var m = dot(latlng, "gc-dot-track" + (p.first ? " gc-dot-track-first" : ""),
      p.first ? "#ffffff" : "#1864ab", 12);
    m.bindTooltip(escapeHtml(localTime(p.time, true)), {
      permanent: true, direction: "top", offset: [0, -6], className: "gc-tooltip",
    });
    return m;
  }

  var playMarker = null;

  /** Slider → the playback marker at fix `idx` of the track store; returns the time label. */
  function playback(idx, track) {
    var map = theMap(), L = window.L;
    if (!map || !L || !track || !track.coords || !track.coords.length || idx === null ||
        idx === undefined) {
      if (playMarker && map) { map.removeLayer(playMarker); playMarker = null; }
      return "";
    }
    idx = Math.max(0, Math.min(track.coords.length - 1, idx));
    var c = track.coords[idx], latlng = L.latLng(c[1], c[0]);
    if (!playMarker) {
      playMarker = dot(latlng, "gc-dot-play", "#ffd43b", 18).addTo(map);
    } else {
      playMarker.setLatLng(latlng);
    }
    state.playback = { idx: idx, time: track.times[idx] };
    return localTime(track.times[idx], true);
  }

  var api = {
    map: null,
    escapeHtml: escapeHtml,
    localTime: localTime,
    clusterMarker: clusterMarker,
    eventMarker: eventMarker,
    bindEvent: bindEvent,
    eventTooltip: eventTooltip,
    workerMarker: workerMarker,
    bindWorker: bindWorker,
    workerTooltip: workerTooltip,
    trackStyle: trackStyle,
    trackEnd: trackEnd,
    state: state,
    store: function () { return store; },
    theMap: theMap,
  };
  window.gridcmdLive = Object.assign(window.gridcmdLive || {}, api);

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.gridcmdLive = Object.assign(window.dash_clientside.gridcmdLive || {}, {
    tick: tick,
    tickDisabled: tickDisabled,
    playback: playback,
    /** The details box's × → empty details (the box hides itself while empty). */
    closeDetail: function (n) { return n ? [] : window.dash_clientside.no_update; },
  });
})();
