/*
 * Bulk selection (dashboard/bulk.py): the panel's close button clears the drawing through the
 * EditControl's `editToolbar` prop (Leaflet.draw's remove mode, "clear all"); the change of
 * the control's `geojson` then hides the panel (callbacks/bulk.py).
 *
 * Leaflet.draw's tooltips and button titles are English; when the page is Chinese they are
 * replaced here (L.drawLocal; the short action texts stay, dash-leaflet matches them by text).
 */
(function () {
  "use strict";

  var ZH = {
    draw: {
      toolbar: { buttons: { polygon: "画多边形选择事件", rectangle: "画矩形选择事件" } },
      handlers: {
        polygon: { tooltip: { start: "单击开始画多边形", cont: "单击继续画", end: "单击第一个点结束" },
                   error: "<strong>错误：</strong>边不能交叉" },
        rectangle: { tooltip: { start: "按住并拖动画矩形" } },
        simpleshape: { tooltip: { end: "松开鼠标完成" } },
      },
    },
    edit: {
      toolbar: { buttons: { remove: "删除选择区域", removeDisabled: "没有可删除的区域" } },
      handlers: { remove: { tooltip: { text: "单击要删除的区域" } } },
    },
  };

  function merge(target, src) {
    Object.keys(src).forEach(function (k) {
      if (src[k] && typeof src[k] === "object" && target[k] && typeof target[k] === "object") {
        merge(target[k], src[k]);
      } else if (typeof src[k] === "string") {
        target[k] = src[k];
      }
    });
  }

  function chinese() {
    var root = document.querySelector(".gc-root");
    return !root || root.getAttribute("lang") !== "en";
  }

  (function translate(tries) {
    if (!(window.L && window.L.drawLocal)) {
      if (tries < 600) setTimeout(function () { translate(tries + 1); }, 100);
      return;
    }
    if (!chinese()) return;
    merge(window.L.drawLocal, ZH);
    // Buttons already drawn keep their titles: set them too.
    var titles = {
      ".leaflet-draw-draw-polygon": ZH.draw.toolbar.buttons.polygon,
      ".leaflet-draw-draw-rectangle": ZH.draw.toolbar.buttons.rectangle,
      ".leaflet-draw-edit-remove": ZH.edit.toolbar.buttons.remove,
    };
    Object.keys(titles).forEach(function (sel) {
      document.querySelectorAll(sel).forEach(function (a) {
        a.setAttribute("title", titles[sel]);
      });
    });
  })(0);

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.gridcmdBulk = Object.assign(window.dash_clientside.gridcmdBulk || {}, {
    clear: function (n) {
      return { mode: "remove", action: "clear all", n_clicks: n || 0 };
    },
  });
})();
