/*
 * Departments (部门) on the map; namespace window.gridcmdDepartments.
 *
 * {"variable": "gridcmdDepartments.pointToLayer"} (layers/departments.py) draws a department
 * feature {id, name, kind} as a round marker coloured by kind (class gc-dept-<kind>) with a
 * fixed one-character glyph, and a tooltip "name · kind label" (label from the layer's
 * hideout.kinds, translated server side). Every text is escaped: names are data.
 */
(function () {
  "use strict";

  // Static glyphs per kind (no data goes into them).
  var GLYPHS = { police: "警", court: "法", procuratorate: "检", judicial: "司", petition: "访" };

  // The one escaper (gridcmd.js, on every page), looked up when called: asset order is free.
  function escapeHtml(value) {
    return window.gridcmd.escapeHtml(value);
  }

  /** A department feature → a kind-coloured marker with an escaped tooltip. */
  function pointToLayer(feature, latlng, context) {
    var p = (feature && feature.properties) || {};
    var kind = Object.prototype.hasOwnProperty.call(GLYPHS, p.kind) ? p.kind : "other";
    var kinds = ((context && context.hideout) || {}).kinds || {};
    var label = Object.prototype.hasOwnProperty.call(kinds, p.kind) ? kinds[p.kind] : p.kind;
    var icon = L.divIcon({
      className: "gc-dept-marker gc-dept-" + kind,
      html: "<span>" + (GLYPHS[kind] || "·") + "</span>",
      iconSize: [24, 24],
      iconAnchor: [12, 12],
      tooltipAnchor: [0, -12],
    });
    var marker = L.marker(latlng, { icon: icon, keyboard: true, riseOnHover: true });
    marker.bindTooltip(escapeHtml(p.name) + " · " + escapeHtml(label), {
      direction: "top",
      className: "gc-dept-tooltip",
    });
    marker.on("add", function () {
      var el = marker.getElement();
      if (el) {
        el.setAttribute("aria-label", String(p.name || "") + " · " + String(label || ""));
        el.setAttribute("data-department", String(p.id));
      }
    });
    return marker;
  }

  window.gridcmdDepartments = Object.assign(window.gridcmdDepartments || {}, {
    pointToLayer: pointToLayer,
    escapeHtml: escapeHtml,
  });
})();
