/*
 * Household locations (住户) on the map; namespace window.gridcmdHouseholds.
 *
 * dashboard/population.py: {"variable": "gridcmdHouseholds.pointToLayer"} draws a household
 * as a small house dot with a tooltip "household number · N members"; clusterToLayer draws a
 * cluster as a count bubble. Features carry only {household_no, members} (no personal data);
 * every value is escaped before it goes into the tooltip HTML. The tooltip labels come from
 * the layer's hideout ({label, members, unit}), translated server side.
 *
 * A wide view holding more households than the route draws one by one gets one point per grid
 * ({aggregate: true, grid, code, households}, api/households.py) drawn as a count bubble; a
 * cluster bubble shows the sum of its points' households (1 per household point), so the
 * numbers on the map are household counts at every zoom.
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

  /** Households a feature stands for: a grid aggregate's count, else 1. */
  function householdsOf(props) {
    var n = Number((props || {}).households);
    return props && props.aggregate && isFinite(n) ? n : 1;
  }

  function bubble(latlng, n, cls) {
    var size = n < 10 ? 28 : n < 100 ? 34 : n < 1000 ? 40 : 46;
    var icon = L.divIcon({
      className: cls,
      html: "<span>" + escapeHtml(String(Math.round(n))) + "</span>",
      iconSize: [size, size],
      iconAnchor: [size / 2, size / 2],
    });
    return L.marker(latlng, { icon: icon });
  }

  /** The tooltip of a grid aggregate: "grid name · N 户" (escaped HTML). */
  function gridTooltip(props, hideout) {
    var h = hideout || {};
    return escapeHtml(props.grid || props.code || "") + " · " +
      escapeHtml(String(householdsOf(props))) + " " + escapeHtml(h.unit || "");
  }

  /** A household feature → a small circle marker with an escaped tooltip; a grid aggregate
   *  → a count bubble. */
  function pointToLayer(feature, latlng, context) {
    var p = (feature && feature.properties) || {};
    var hideout = (context && context.hideout) || (this && this.hideout) || {};
    if (p.aggregate) {
      var agg = bubble(latlng, householdsOf(p), "gc-household-cluster gc-household-grid");
      agg.bindTooltip(gridTooltip(p, hideout), { direction: "top",
        className: "gc-household-tooltip" });
      return agg;
    }
    var marker = L.circleMarker(latlng, {
      radius: 5, weight: 1.5, color: "#ffffff", fillColor: "#c2255c", fillOpacity: 0.9,
      className: "gc-household-marker",
    });
    marker.bindTooltip(tooltip(p, hideout), { direction: "top", className: "gc-household-tooltip" });
    return marker;
  }

  /** A supercluster cluster → a round bubble with the households it holds (the sum over its
   *  points: grid aggregates count their households); a click zooms in. */
  function clusterToLayer(feature, latlng, index) {
    var p = feature.properties || {};
    var n = Number(p.point_count) || 0;
    if (index && index.getLeaves && p.cluster_id !== undefined) {
      n = index.getLeaves(p.cluster_id, Infinity).reduce(function (sum, leaf) {
        return sum + householdsOf(leaf.properties);
      }, 0);
    }
    return bubble(latlng, n, "gc-household-cluster");
  }

  window.gridcmdHouseholds = Object.assign(window.gridcmdHouseholds || {}, {
    pointToLayer: pointToLayer,
    clusterToLayer: clusterToLayer,
    escapeHtml: escapeHtml,
    tooltip: tooltip,
    gridTooltip: gridTooltip,
    householdsOf: householdsOf,
  });
})();
