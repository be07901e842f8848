"""Security headers on every response: a Content-Security-Policy with no external source
(Dash's inline scripts by hash), frame/sniff/referrer policies, and never any CORS header.
See docs/security.md."""

from __future__ import annotations

from urllib.parse import urlsplit

import flask

from gridcmd.settings import Settings

__all__ = ["SecurityHeaders"]

#: Paths whose responses must never be cached (forms with tokens).
NO_STORE_PATHS = frozenset(
    {"/login", "/logout", "/login/totp", "/account/password", "/account/totp"}
)


def _origin(url: str | None) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL template, else ``None``."""
    if not url:
        return None
    parts = urlsplit(url.replace("{", "").replace("}", ""))
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


class SecurityHeaders:
    """``add`` is the ``after_request`` hook; the policy is built once, at the first response
    (after Dash has collected its inline scripts), from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.media_origins = settings.media_origin_list
        self.basemap_origin = _origin(settings.basemap_url)
        self._csp: str | None = None

    def csp(self) -> str:
        """The Content-Security-Policy: nothing external except configured media servers
        (and the basemap's tile server for images, when one is configured). Built once, at
        the first response, after Dash has collected its inline scripts."""
        if self._csp is None:
            dash_app = flask.current_app.extensions.get("gridcmd.dash")
            hashes = dash_app.csp_hashes() if dash_app is not None else []
            media = " ".join(self.media_origins)
            img = "'self' data: blob:" + (f" {self.basemap_origin}" if self.basemap_origin else "")
            directives = {
                "default-src": "'self'",
                "script-src": " ".join(["'self'", *hashes]),
                # Leaflet divIcon HTML and Dash components use style attributes; styles
                # cannot run script.
                "style-src": "'self' 'unsafe-inline'",
                "img-src": img,
                "font-src": "'self' data:",
                "media-src": f"'self' blob: {media}".strip(),
                "worker-src": "'self' blob:",
                "connect-src": f"'self' {media}".strip(),
                "frame-ancestors": "'none'",
                "frame-src": "'none'",
                "object-src": "'none'",
                "base-uri": "'self'",
                "form-action": "'self'",
            }
            if dash_app is None:
                return "; ".join(f"{k} {v}" for k, v in directives.items())
            self._csp = "; ".join(f"{k} {v}" for k, v in directives.items())
        return self._csp

    def add(self, resp: flask.Response) -> flask.Response:
        """Security headers on every response (HTML, JSON, assets, errors)."""
        h = resp.headers
        h["Content-Security-Policy"] = self.csp()
        h["X-Frame-Options"] = "DENY"
        h["X-Content-Type-Options"] = "nosniff"
        h["Referrer-Policy"] = "same-origin"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        if flask.request.is_secure:
            h["Strict-Transport-Security"] = "max-age=31536000"
        for name in {k for k, _v in h.items() if k.lower().startswith("access-control-")}:
            del h[name]  # no CORS, ever
        if flask.request.path in NO_STORE_PATHS:
            h["Cache-Control"] = "no-store"
        return resp
