/* Session end in an open dashboard (docs/security.md): when a same-origin request answers 401
   (idle timeout, absolute lifetime, sign-out elsewhere, disabled account), go to the sign-in
   page with the current view as `next`, instead of leaving a map that silently stops updating.
   The caller of a refused request gets no answer at all (a promise that never settles: the
   page is leaving). Handing Dash's renderer the 401 makes it read the body twice and throw
   ("body stream already read"); an empty stand-in makes it parse "" as JSON and throw. */
(function () {
  "use strict";
  if (!window.fetch || window.__gridcmdSessionWatch) return;
  window.__gridcmdSessionWatch = true;
  var origFetch = window.fetch;
  var leaving = false;
  function sameOrigin(input) {
    try {
      var url = new URL(typeof input === "string" ? input : input.url, location.href);
      return url.origin === location.origin;
    } catch (e) {
      return false;
    }
  }
  window.fetch = function (input, init) {
    return origFetch.apply(this, arguments).then(function (resp) {
      if (resp.status !== 401 || !sameOrigin(input)) return resp;
      if (!leaving) {
        leaving = true;
        location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
      }
      return new Promise(function () {});
    });
  };
})();
