"""The camera player panel (视频资源): a floating box opened by a click on a camera marker.

:func:`camera_panel` is the empty container placed by the page; ``callbacks/cameras.py`` fills
its body with :func:`camera_player` (name, code, cell, stream link and a player) from the
camera re-read server side by id and the caller's scope. Everything is built from Dash
components, so names and URLs are text/attributes, never HTML. The player wiring (hls.js for
HLS, the "stream failed" message on a video ``error``) is in ``dashboard/assets/cameras.js``;
styles in ``dashboard/assets/cameras.css`` (classes ``gc-camera-*``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import dash_leaflet as dl
from dash import html

from api.cameras import CAMERAS_PATH
from dashboard import fmt, ids
from gridcmd.i18n import DEFAULT_LANG, t
from gridcmd.vocab import STREAM_KIND_MSGIDS
from layers.cameras import camera_layer, camera_overlay

__all__ = [
    "camera_message",
    "camera_overlay_for",
    "camera_panel",
    "camera_player",
    "safe_href",
]

# msgids (English source texts; translations in gridcmd/locale/*/messages.po)
CAMERAS = "Cameras"
PANEL_TITLE = "Video resource"
CLOSE = "Close"
CODE = "Code"
CELL = "Cell"
KIND = "Stream type"
STREAM = "Stream"
DEMO_CAMERA = "Synthetic demo camera"
STREAM_ERROR = "The stream could not be loaded: it is unreachable or in an unsupported format."
RTSP_HINT = "RTSP streams cannot be played in the browser; open the link in a video client."
WEB_HINT = "This camera has a web page of its own; open the link in a new tab."


#: URL schemes a link may have (the importer accepts the same).
_LINK_SCHEMES = ("http", "https", "rtsp")


def safe_href(url: str | None) -> str | None:
    """``url`` when its scheme is http, https or rtsp, else None (defence in depth: the
    importer already refuses other schemes)."""
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in _LINK_SCHEMES else None


def camera_overlay_for(lang: str = DEFAULT_LANG) -> dl.Overlay:
    """The "摄像头 / Cameras" overlay of the layers control (off by default): the clustered
    camera layer (``ids.CAMERA_LAYER``) on ``GET /geo/cameras.geojson``."""
    layer = camera_layer(CAMERAS_PATH, id=ids.CAMERA_LAYER)
    return camera_overlay(layer, name=t(CAMERAS, lang), checked=False)


def camera_panel(lang: str = DEFAULT_LANG) -> html.Section:
    """The player box (``ids.CAMERA_PANEL``, hidden until a camera is clicked) with its
    title bar, close button (``ids.CAMERA_CLOSE``) and body (``ids.CAMERA_PANEL_BODY``)."""
    return html.Section(
        [
            html.Div(
                [
                    html.Span(t(PANEL_TITLE, lang), className="gc-camera-title"),
                    html.Button(
                        "×",
                        id=ids.CAMERA_CLOSE,
                        className="gc-camera-close",
                        title=t(CLOSE, lang),
                        n_clicks=0,
                        **{"aria-label": t(CLOSE, lang)},
                    ),
                ],
                className="gc-camera-head",
            ),
            html.Div(id=ids.CAMERA_PANEL_BODY, className="gc-camera-body"),
        ],
        id=ids.CAMERA_PANEL,
        className="gc-camera-panel",
        hidden=True,
        **{"aria-label": t(PANEL_TITLE, lang)},
    )


def camera_message(message: str) -> list[Any]:
    """Panel body for a message instead of a camera (unknown id, database down)."""
    return [html.P(message, className="gc-camera-message", role="alert")]


def _player(kind: str, url: str | None, lang: str) -> list[Any]:
    """The media element for ``kind``: ``<video>`` with ``src`` for MP4, ``<video>`` with
    ``data-src`` for HLS (hls.js attaches it), a hint for RTSP and web pages."""
    if url and kind in ("mp4", "hls"):
        media: dict[str, Any] = {"src": url} if kind == "mp4" else {"data-src": url}
        return [
            html.Video(
                className="gc-camera-video",
                controls=True,
                muted=True,
                autoPlay=True,
                preload="metadata",
                **media,
                **{"data-kind": kind},
            ),
            html.P(t(STREAM_ERROR, lang), className="gc-camera-error", role="alert", hidden=True),
        ]
    hint = RTSP_HINT if kind == "rtsp" else WEB_HINT
    return [html.P(t(hint, lang), className="gc-camera-hint")]


def camera_player(camera: Mapping[str, Any], lang: str = DEFAULT_LANG) -> list[Any]:
    """Panel body for one camera (a ``geodata.cameras.camera_by_id`` row): name, demo label,
    code, cell, kind, the player and the stream URL as a link opening a new tab
    (``rel="noopener noreferrer"``)."""
    kind = str(camera["kind"])
    url = safe_href(camera.get("stream_url"))
    facts = [
        (t(CODE, lang), str(camera["code"])),
        (t(CELL, lang), f"{camera['cell_name']} ({camera['cell_code']})"),
        (t(KIND, lang), t(STREAM_KIND_MSGIDS[kind], lang) if kind in STREAM_KIND_MSGIDS else kind),
    ]
    out: list[Any] = [html.H2(str(camera["name"]), className="gc-camera-name")]
    if camera.get("synthetic"):
        out.append(html.Span(t(DEMO_CAMERA, lang), className="gc-badge gc-camera-demo"))
    out.append(
        html.Div(
            _player(kind, url, lang),
            className="gc-camera-player",
            **{"data-camera": str(camera["id"])},
        )
    )
    out.append(fmt.facts(facts, "gc-camera-facts"))
    if url:
        out.append(
            html.P(
                [
                    html.Span(t(STREAM, lang) + ": ", className="gc-camera-link-label"),
                    html.A(
                        url,
                        href=url,
                        target="_blank",
                        rel="noopener noreferrer",
                        className="gc-camera-link",
                    ),
                ]
            )
        )
    return out
