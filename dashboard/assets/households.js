/*
 * Household locations (住户) on the map; namespace window.gridcmdHouseholds.
 *
 * dashboard/population.py: {"variable": "gridcmdHouseholds.pointToLayer"} draws a household
 * as a small house dot with a tooltip "household number · N members"; clusterToLayer draws a
 * cluster as a count bubble. Features carry only {household_no, members} (no personal data);
 * every value is escaped before it goes into the tooltip HTML. The tooltip labels come from
 * the layer's hideout ({label, members}), translated server side.
 */
(function () {
  "use strict";

  // The one escaper (gridcmd.js, on every page), looked up when called: asset order is free.
  function escapeHtml(value) {
    return window.gridcmd.escapeHtml(value);
  }

  /** The tooltip text of a household feature (escaped HTML). */
  function tooltip(props, hideout) {
    var h = hideout || {};
    var n = Number(props.members);
    return (
      escapeHtml(h.label || "") + " " + escapeHtml(props.household_no) + " · " +
      (isFinite(n) ? String(Math.round(n)) : "?") + " " + escapeHtml(h.members || "")
    );
  }

  /** A household feature → a small circle marker with an escaped tooltip. */
  function pointToLayer(feature, latlng, context) {
    var p = (feature && feature.properties) || {};
    var hideout = (context && context.hideout) || (this && this.hideout) || {};
    var marker = L.circleMarker(latlng, {
      radius: 5, weight: 1.5, color: "#ffffff", fillColor: "#c2255c", fillOpacity: 0.9,
      className: "gc-household-marker",
    });
    marker.bindTooltip(tooltip(p, hideout), { direction: "top", className: "gc-household-tooltip" });
    return marker;
  }

  /** A supercluster cluster → a round count bubble (a click zooms in). */
  function clusterToLayer(feature, latlng) {
    var n = Number((feature.properties || {}).point_count) || 0;
    var size = n < 10 ? 28 : n < 100 ? 34 : n < 1000 ? 40 : 46;
    var icon = L.divIcon({
      className: "gc-household-cluster",
      html: "<span>" + n + "</span>",
      iconSize: [size, size],
      iconAnchor: [size / 2, size / 2],
    });
    return L.marker(latlng, { icon: icon });
  }

  window.gridcmdHouseholds = Object.assign(window.gridcmdHouseholds || {}, {
    pointToLayer: pointToLayer,
    clusterToLayer: clusterToLayer,
    escapeHtml: escapeHtml,
    tooltip: tooltip,
  });
})();
