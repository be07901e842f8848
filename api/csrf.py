"""The cross-site checks of cookie-authenticated writes (docs/security.md, "CSRF").

Pure functions of the request's headers; the gate (``api/auth.py``) calls
:func:`csrf_refusal` for every non-GET request that carries the session cookie.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import flask

__all__ = ["DEFAULT_PORTS", "csrf_refusal", "same_origin"]

#: The port a browser leaves out of an origin for each scheme.
DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(scheme: str, netloc: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) with the scheme's default port filled in; ``None`` if malformed."""
    scheme = scheme.lower()
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port
    except ValueError:  # a port that is not a number, or out of range
        return None
    host = (parts.hostname or "").lower()
    if not host or scheme not in DEFAULT_PORTS:
        return None
    return scheme, host, port if port is not None else DEFAULT_PORTS[scheme]


def same_origin(origin: str, *, scheme: str, host: str) -> bool:
    """Whether an ``Origin`` header value names this server: the same scheme, host and port
    (a missing port is the scheme's default) as the request's ``scheme`` and ``Host``.

    ``scheme`` is the request's own (``flask.request.scheme``): with
    ``GRIDCMD_TRUST_PROXY`` it follows the proxy's ``X-Forwarded-Proto`` (ProxyFix),
    otherwise a client's forged header is ignored. ``"null"``, a path, user info or a
    malformed port never match."""
    if not origin or origin == "null":
        return False
    o = urlsplit(origin)
    if o.path not in ("", "/") or o.query or o.fragment or "@" in o.netloc:
        return False
    theirs, ours = _origin(o.scheme, o.netloc), _origin(scheme, host)
    return theirs is not None and theirs == ours


def csrf_refusal(req: flask.Request) -> str | None:
    """Why a cookie-authenticated write looks cross-site (``None``: it does not): not JSON,
    ``Sec-Fetch-Site: cross-site``, or an ``Origin`` of another scheme, host or port."""
    if req.mimetype != "application/json":
        return "cookie-authenticated writes must be application/json"
    if req.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        return "cross-site request"
    origin = req.headers.get("Origin")
    if origin is not None and not same_origin(origin, scheme=req.scheme, host=req.host):
        return "cross-origin request (scheme, host or port differ)"
    return None
