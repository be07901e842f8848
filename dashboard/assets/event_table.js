/* Event table (事件列表): the export links' href from the filter controls (clientside, so the
   server never echoes browser text back in a callback reply). Mirrors
   geodata.event_table.filters_query / callbacks.event_table.filter_values; the export route
   (api/exports.py) validates every value and applies the caller's scope itself. */
(function () {
  "use strict";

  function list(v) {
    return Array.isArray(v) ? v.filter(function (x) { return typeof x === "string"; }) : [];
  }

  function lang(search) {
    if (typeof search !== "string") return null;
    var m = /[?&]lang=([^&]*)/.exec(search);
    return m && m[1] === "en" ? "en" : null;
  }

  function exportLinks(q, statuses, categories, priorities, from, to, flags, sort, search) {
    var p = new URLSearchParams();
    var text = typeof q === "string" ? q.trim() : "";
    var f = list(flags);
    if (list(statuses).length) p.set("status", list(statuses).join(","));
    if (list(categories).length) p.set("category", list(categories).join(","));
    if (list(priorities).length) p.set("priority", list(priorities).join(","));
    if (typeof from === "string" && from) p.set("from", from);
    if (typeof to === "string" && to) p.set("to", to);
    if (f.indexOf("overdue") >= 0) p.set("overdue", "1");
    if (f.indexOf("supervised") >= 0) p.set("supervised", "1");
    if (text) p.set("q", text);
    if (typeof sort === "string" && sort && sort !== "reported_desc") p.set("sort", sort);
    if (lang(search)) p.set("lang", lang(search));
    var qs = p.toString();
    var suffix = qs ? "?" + qs : "";
    return ["/export/events.csv" + suffix, "/export/events.xlsx" + suffix];
  }

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.gridcmdEventTable = { exportLinks: exportLinks };
})();
