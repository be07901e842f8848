/*
 * Case panel helpers (dashboard/cases.py, layers/cases.py):
 *
 * - the live countdown: every second, each `.gc-countdown[data-due]` gets "剩余 2小时05分" or,
 *   past its due time, "已超期 3小时12分" (class gc-overdue, red). The server renders the
 *   same text with its clock in `data-now`; the browser keeps the server-client clock offset
 *   seen at render, so a wrong PC clock does not skew the countdown. Texts and units come
 *   from data attributes (the UI language), never from HTML.
 * - `marker`: pointToLayer of the candidate layer — the opened event as a ring in its
 *   priority colour, each candidate worker as a numbered badge (rank). DOM divIcons, so the
 *   grid canvas is never redrawn; every text is escaped.
 *
 * window.gridcmdCases.state is a read-only summary for tests (ticks, countdowns updated).
 */
(function () {
  "use strict";

  // The one escaper (gridcmd.js, on every page), looked up when called: asset order is free.
  function escapeHtml(value) {
    return window.gridcmd.escapeHtml(value);
  }

  var state = { ticks: 0, countdowns: 0 };

  function duration(seconds, units, sep) {
    var d = Math.floor(seconds / 86400), rest = seconds % 86400;
    var h = Math.floor(rest / 3600), m = Math.floor((rest % 3600) / 60), s = rest % 60;
    var parts = d ? [[0, d], [1, h]] : h ? [[1, h], [2, m]] : [[2, m], [3, s]];
    return parts.map(function (p) { return units[p[0]].replace("{n}", String(p[1])); }).join(sep);
  }

  function updateOne(el, clientNow) {
    var due = Date.parse(el.getAttribute("data-due"));
    var serverAt = el.getAttribute("data-now");
    if (isNaN(due)) return;
    // The server clock at render, and when this browser first saw that render.
    if (el._gcSeen !== serverAt) {
      el._gcSeen = serverAt;
      el._gcBase = { server: Date.parse(serverAt), client: clientNow };
    }
    var base = el._gcBase, now = isNaN(base.server) ? clientNow : base.server + (clientNow - base.client);
    var delta = Math.round((due - now) / 1000);
    var units = (el.getAttribute("data-units") || "{n}d|{n}h|{n}m|{n}s").split("|");
    var sep = el.getAttribute("data-sep") || "";
    var text;
    if (delta < 0) {
      text = (el.getAttribute("data-over") || "{d}").replace("{d}", duration(-delta, units, sep));
      el.classList.add("gc-overdue");
    } else {
      text = (el.getAttribute("data-left") || "{d}").replace("{d}", duration(delta, units, sep));
      el.classList.remove("gc-overdue");
    }
    if (el.textContent !== text) el.textContent = text;
    state.countdowns++;
  }

  function tick() {
    state.ticks++;
    var now = Date.now();
    var els = document.querySelectorAll(".gc-countdown[data-due]");
    for (var i = 0; i < els.length; i++) updateOne(els[i], now);
  }

  setInterval(tick, 1000);

  function marker(feature, latlng) {
    var p = (feature && feature.properties) || {};
    if (p.role === "event") {
      return L.marker(latlng, {
        icon: L.divIcon({
          className: "gc-case-ring",
          html: '<span style="border-color:' + escapeHtml(p.color || "#495057") + '"></span>',
          iconSize: [34, 34],
        }),
        interactive: false,
        keyboard: false,
        zIndexOffset: 900,
      });
    }
    var cls = "gc-cand" + (p.stale ? " gc-cand-stale" : "") + (p.responsible ? " gc-cand-resp" : "");
    var m = L.marker(latlng, {
      icon: L.divIcon({ className: cls, html: "<span>" + escapeHtml(p.rank) + "</span>", iconSize: [22, 22] }),
      keyboard: false,
      zIndexOffset: 1000,
    });
    m.bindTooltip(escapeHtml(p.rank + ". " + (p.name || "")), {
      direction: "top", offset: [0, -10], className: "gc-tooltip",
    });
    return m;
  }

  window.gridcmdCases = { marker: marker, tick: tick, duration: duration, state: state };
})();
