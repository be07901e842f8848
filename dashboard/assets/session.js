/* Session end in an open dashboard (docs/security.md): when a same-origin request answers 401
   (idle timeout, absolute lifetime, sign-out elsewhere, disabled account), go to the sign-in
   page with the current view as `next`, instead of leaving a map that silently stops updating.
   The caller of a refused request gets an empty 204 instead (the page is leaving): Dash's
   renderer reads a 401 callback answer's body twice and throws ("body stream already read"). */
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
      return new Response(null, { status: 204 });
    });
  };
})();
