/*
 * Grid Command map functions, referenced from Python as {"variable": "gridcmd.<name>"}.
 * dash-leaflet calls them with the usual Leaflet arguments plus a trailing `context`
 * (the component's props, so `context.hideout` holds the style values sent from Python).
 */
(function () {
  "use strict";

  var ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  /** Text → HTML-safe string (Leaflet tooltips and popups set innerHTML). */
  function escapeHtml(value) {
    return String(value === null || value === undefined ? "" : value).replace(
      /[&<>"']/g,
      function (ch) { return ESCAPES[ch]; }
    );
  }

  function hideoutOf(context) {
    return (context && context.hideout) || {};
  }

  /** Path style of a cell: hideout.style (set per level in layers/grid.py). */
  function styleCell(feature, context) {
    var s = hideoutOf(context).style || {};
    return Object.assign({ opacity: 1 }, s);
  }

  /** Style while hovered: the base style with hideout.hover on top. */
  function hoverCell(feature, context) {
    var h = hideoutOf(context);
    return Object.assign({ opacity: 1 }, h.style || {}, h.hover || {});
  }

  /** Tooltip with the cell's name, escaped (names may come from user input later). */
  function bindCellTooltip(feature, layer) {
    var p = (feature && feature.properties) || {};
    if (p.name === undefined || p.name === null) return;
    layer.bindTooltip(escapeHtml(p.name), {
      sticky: true,
      direction: "top",
      offset: [0, -8],
      className: "gc-tooltip",
    });
  }

  window.gridcmd = Object.assign(window.gridcmd || {}, {
    escapeHtml: escapeHtml,
    styleCell: styleCell,
    hoverCell: hoverCell,
    bindCellTooltip: bindCellTooltip,
  });
})();
