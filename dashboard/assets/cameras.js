/*
 * Cameras (视频资源) on the map and in the player panel; namespace window.gridcmdCameras.
 *
 * Map (layers/cameras.py): {"variable": "gridcmdCameras.pointToLayer"} draws a camera as a
 * camera icon with an escaped name tooltip; "gridcmdCameras.clusterToLayer" draws a cluster
 * as a count bubble. Features carry only {id, name, kind}.
 *
 * Player (dashboard/cameras.py): the panel is rendered by Dash; this file wires each
 * <video class="gc-camera-video"> when it appears in the page (MutationObserver):
 *   - data-kind="mp4": Dash set `src`; we only listen for `error`.
 *   - data-kind="hls": the URL is in data-src; played with hls.js, vendored as
 *     assets/hls.min.js (Apache-2.0, see hls.LICENSE) and loaded on first use (app.py keeps it
 *     out of the page's script tags: 600 kB); natively only where hls.js is unsupported.
 * A failing stream (video `error`, fatal hls.js error, or hls.js unsupported) un-hides the
 * panel's .gc-camera-error message (its text is translated server side).
 *
 * window.gridcmdCameras.state counts what happened, for tests: {bound, errors, hls}.
 */
(function () {
  "use strict";

  var KINDS = { hls: 1, mp4: 1, rtsp: 1, web: 1 };
  // A small camera glyph (static markup: no data goes into it).
  var ICON_SVG =
    '<svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false">' +
    '<path fill="currentColor" d="M3 7a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v2.2l3.6-2.4A1 1 0 0 1' +
    ' 21 7.6v8.8a1 1 0 0 1-1.4.8L16 14.8V17a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z"/></svg>';

  // The one escaper (gridcmd.js, on every page), looked up when called: asset order is free.
  function escapeHtml(value) {
    return window.gridcmd.escapeHtml(value);
  }

  var state = { bound: 0, errors: 0, hls: 0 };

  // ---------------------------------------------------------------------------- map layer
  /** A camera feature → a marker with the camera icon and an escaped tooltip. */
  function pointToLayer(feature, latlng) {
    var p = (feature && feature.properties) || {};
    var kind = KINDS[p.kind] ? p.kind : "web";
    var icon = L.divIcon({
      className: "gc-camera-marker gc-camera-" + kind,
      html: ICON_SVG,
      iconSize: [26, 26],
      iconAnchor: [13, 13],
      tooltipAnchor: [0, -13],
    });
    var marker = L.marker(latlng, { icon: icon, keyboard: true, riseOnHover: true });
    marker.bindTooltip(escapeHtml(p.name), { direction: "top", className: "gc-camera-tooltip" });
    marker.on("add", function () {
      var el = marker.getElement();
      if (el) {
        el.setAttribute("aria-label", String(p.name || ""));  // an attribute: no HTML parsing
        el.setAttribute("data-camera", String(p.id));
      }
    });
    return marker;
  }

  /** A supercluster cluster feature → a round count bubble (click zooms in). */
  function clusterToLayer(feature, latlng) {
    var n = Number((feature.properties || {}).point_count) || 0;
    var size = n < 10 ? 30 : n < 100 ? 36 : 44;
    var icon = L.divIcon({
      className: "gc-camera-cluster",
      html: "<span>" + n + "</span>",
      iconSize: [size, size],
      iconAnchor: [size / 2, size / 2],
    });
    return L.marker(latlng, { icon: icon });
  }

  // ---------------------------------------------------------------------------- player
  var HLS_TYPE = "application/vnd.apple.mpegurl";
  var scriptSrc = (document.currentScript && document.currentScript.src) || "";
  var hlsWaiting = null;  // callbacks waiting for hls.min.js

  /** URL of the vendored hls.js: next to this file (respects a path prefix). */
  function hlsUrl() {
    var base = scriptSrc.split("?")[0];
    return base ? base.replace(/cameras\.js$/, "hls.min.js") : "/assets/hls.min.js";
  }

  /** Call back with window.Hls, loading assets/hls.min.js once (null if it fails). */
  function withHls(cb) {
    if (window.Hls) { cb(window.Hls); return; }
    if (hlsWaiting) { hlsWaiting.push(cb); return; }
    hlsWaiting = [cb];
    var s = document.createElement("script");
    s.src = hlsUrl();
    s.async = true;
    function done() {
      var waiting = hlsWaiting || [];
      hlsWaiting = null;
      for (var i = 0; i < waiting.length; i++) waiting[i](window.Hls || null);
    }
    s.onload = done;
    s.onerror = done;
    document.head.appendChild(s);
  }

  function showError(video) {
    if (video._gcFailed) return;
    video._gcFailed = true;
    state.errors += 1;
    var box = video.closest(".gc-camera-player");
    var msg = box && box.querySelector(".gc-camera-error");
    if (msg) msg.hidden = false;
    video.classList.add("gc-camera-video-failed");
  }

  var bound = [];

  function bind(video) {
    if (video._gcBound) return;
    video._gcBound = true;
    bound.push(video);
    state.bound += 1;
    video.addEventListener("error", function () { showError(video); });
    if (video.error) showError(video);  // failed before we got here
    if (video.getAttribute("data-kind") !== "hls") return;
    var src = video.getAttribute("data-src");
    if (!src) { showError(video); return; }
    // hls.js first (Media Source Extensions: same behaviour and error reporting in every
    // browser); the browser's own HLS (Safari on iOS, recent Chrome) only without MSE.
    withHls(function (Hls) {
      if (!document.contains(video)) return;  // panel closed meanwhile
      if (!Hls || !Hls.isSupported()) {
        if (video.canPlayType(HLS_TYPE)) video.src = src;
        else showError(video);
        return;
      }
      var hls = new Hls({ enableWorker: true, lowLatencyMode: true });
      video._gcHls = hls;
      state.hls += 1;
      hls.on(Hls.Events.ERROR, function (_event, data) {
        if (data && data.fatal) {
          showError(video);
          hls.destroy();
          video._gcHls = null;
        }
      });
      hls.loadSource(src);
      hls.attachMedia(video);
    });
  }

  /** Bind new videos; release hls.js instances of videos that left the page. */
  function scan() {
    var videos = document.querySelectorAll("video.gc-camera-video");
    for (var i = 0; i < videos.length; i++) bind(videos[i]);
    bound = bound.filter(function (v) {
      if (document.contains(v)) return true;
      if (v._gcHls) { v._gcHls.destroy(); v._gcHls = null; }
      return false;
    });
  }

  function start() {
    new MutationObserver(scan).observe(document.body, { childList: true, subtree: true });
    scan();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();

  window.gridcmdCameras = Object.assign(window.gridcmdCameras || {}, {
    pointToLayer: pointToLayer,
    clusterToLayer: clusterToLayer,
    escapeHtml: escapeHtml,
    state: state,
  });
})();
