/*
 * The population lookup's CSV export (人口信息查询 → 导出CSV); clientside Dash functions in
 * window.dash_clientside.gridcmdPopulation (callbacks/population.py).
 *
 * exportCsv posts the typed query and the search reason to POST /export/residents.csv
 * (api/resident_exports.py) as JSON from this page, like the dashboard's other writes: the
 * gate's CSRF rule for cookie-authenticated writes (application/json, same origin). POST, so
 * the query (possibly an ID or phone number) is never in a URL, an access log or the history.
 * The answer is saved as a file; a refusal's translated detail (or, when the server or the
 * network fails, the configured "database unavailable" text) goes to the status line. A 401
 * (session ended) never settles: session.js takes the page to the sign-in form.
 *
 * exportStale: typing a new query disables the button until the query is searched, so the
 * file always holds the matches on screen (the search callback enables it again).
 */
(function () {
  "use strict";

  function lang(search) {
    var m = /[?&]lang=([^&#]*)/.exec(typeof search === "string" ? search : "");
    return m ? decodeURIComponent(m[1]) : "";
  }

  function save(blob, filename) {
    var url = URL.createObjectURL(blob);
    var a = document.createElement("a");
    a.href = url;
    a.download = filename || "residents.csv";
    a.style.display = "none";
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }

  function exportCsv(nClicks, query, reason, search, config) {
    var noUpdate = window.dash_clientside.no_update;
    if (!nClicks || !config || !config.url) return noUpdate;
    var failed = config.unavailable || "";
    return fetch(config.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "text/csv, application/json" },
      body: JSON.stringify({
        query: typeof query === "string" ? query : "",
        reason: typeof reason === "string" ? reason : "",
        lang: lang(search),
      }),
    }).then(
      function (resp) {
        if (resp.ok) {
          return resp.blob().then(function (blob) {
            save(blob, config.filename);
            return noUpdate;
          });
        }
        if (resp.status >= 500) return failed;
        return resp.json().then(
          function (body) { return (body && typeof body.detail === "string" && body.detail) || failed; },
          function () { return failed; }
        );
      },
      function () { return failed; }
    );
  }

  function exportStale() {
    return true;
  }

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.gridcmdPopulation = { exportCsv: exportCsv, exportStale: exportStale };
})();
