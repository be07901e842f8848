"""A reusable scan for unmasked personal data in responses.

``assert_no_personal_data(body)`` fails when a body holds an unmasked 18-character ID number
or an 11-digit mainland mobile number. ``scanning(server)`` attaches to a Flask app's
``request_finished`` signal and checks **every** response it sends while the block runs
(Dash callback replies, JSON/GeoJSON routes, pages, CSV downloads), then fails with the list
of offending requests::

    from tests.scan import scanning

    with scanning(app.server, known=raw_values) as scan:
        client.get("/api/v1/me", headers=...)
        client.post("/_dash-update-component", json=payload)
    assert scan.responses > 0

UUIDs are blanked first (random hex ids; see ``UUID_RE``). Patterns (standalone digit runs,
so cell codes — 17 digits at L6 — coordinates and timestamps do not match): ID
``\\d{17}[\\dXx]`` and mobile ``1[3-9]\\d{9}``, neither preceded by a digit, a ``.`` (the
fraction of a number) or ``*``, nor followed by a digit or ``*``. A masked value
(``5329**********123X``, ``138****1234``) never matches. ``known`` adds exact raw values (e.g.
every resident's ID and phone in the test database) found anywhere in a body,
which also catches numbers embedded in longer text.

``allow`` lets one response through (e.g. the reply to an audited unmask request): a
predicate ``(request, response) -> bool``. Streamed responses (server-sent events) and binary
bodies (images, vector tiles) are skipped and counted in ``scan.skipped``.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import flask

__all__ = [
    "ID_RE",
    "PHONE_RE",
    "Scan",
    "assert_no_personal_data",
    "find_personal_data",
    "scanning",
]

ID_RE = re.compile(r"(?<![0-9.*])[0-9]{17}[0-9Xx](?![0-9*])")
#: UUIDs (event and client ids) are random hex: about 3 in 10,000 hold a digit run shaped like
#: a mobile number (``…-a13812345678``). They are blanked before the patterns run, so a random
#: id is not reported as personal data (nor can a real number hide inside one: it would not be
#: a valid UUID's fixed 8-4-4-4-12 shape with the hyphens).
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
#: Hex digests (a photo's sha256, ETags) are random hex too: about 1 in 100 sha256 digests
#: holds an 18-digit run shaped like an ID number. Runs of 32 or more hex characters are
#: blanked as well (an ID or phone number is 18 or 11 characters: it cannot hide in one).
HEX_DIGEST_RE = re.compile(r"(?<![0-9a-zA-Z])[0-9a-fA-F]{32,}(?![0-9a-zA-Z])")
PHONE_RE = re.compile(r"(?<![0-9.*])1[3-9][0-9]{9}(?![0-9*])")

#: Content types whose bodies are not text (not scanned).
_BINARY = ("image/", "video/", "audio/", "application/x-protobuf", "application/octet-stream",
           "application/vnd.mapbox-vector-tile", "font/")  # fmt: skip


def _mask(value: str) -> str:
    return value[:3] + "*" * max(len(value) - 7, 0) + value[-4:] if len(value) > 7 else "***"


def find_personal_data(body: str | bytes, known: Iterable[str] = ()) -> list[str]:
    """The unmasked ID/phone numbers in ``body`` (shown masked, so the failure message does not
    itself leak them): ``["id 5329**********123X", "phone 138****1234", ...]``."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    body = HEX_DIGEST_RE.sub("<digest>", UUID_RE.sub("<uuid>", body))
    hits = [f"id {_mask(m)}" for m in ID_RE.findall(body)]
    hits += [f"phone {_mask(m)}" for m in PHONE_RE.findall(body)]
    hits += [f"known value {_mask(v)}" for v in known if v and v in body]
    return hits


def assert_no_personal_data(body: str | bytes, known: Iterable[str] = (), where: str = "") -> None:
    """Fail when ``body`` holds an unmasked ID or mobile number (see the module docstring)."""
    hits = find_personal_data(body, known)
    assert not hits, f"unmasked personal data{' in ' + where if where else ''}: {hits[:10]}"


@dataclass
class Scan:
    """What a :func:`scanning` block saw."""

    responses: int = 0
    skipped: int = 0
    allowed: int = 0
    findings: list[str] = field(default_factory=list)
    #: Every scanned (method path) in order, for tests asserting coverage.
    seen: list[str] = field(default_factory=list)


def _body_text(response: flask.Response) -> str | None:
    """The response body as text, or None when it is streamed or binary."""
    if response.is_streamed or response.direct_passthrough:
        return None
    ctype = response.mimetype or ""
    if any(ctype.startswith(b) for b in _BINARY):
        return None
    data = response.get_data()
    if response.headers.get("Content-Encoding") == "gzip":
        data = gzip.decompress(data)
    return data.decode("utf-8", "replace")


@contextmanager
def scanning(
    server: flask.Flask,
    *,
    known: Iterable[str] = (),
    allow: Callable[[flask.Request, flask.Response], bool] | None = None,
    fail: bool = True,
) -> Iterator[Scan]:
    """Check every response ``server`` sends inside the block; on exit, fail (``fail``) when
    any held unmasked personal data. Yields the :class:`Scan` (counts, findings)."""
    scan = Scan()
    known_values = [v for v in known if v]

    def on_response(sender: flask.Flask, response: flask.Response, **_: object) -> None:
        req = flask.request
        where = f"{req.method} {req.full_path.rstrip('?')}"
        body = _body_text(response)
        if body is None:
            scan.skipped += 1
            return
        scan.responses += 1
        scan.seen.append(where)
        hits = find_personal_data(body, known_values)
        if hits and allow is not None and allow(req, response):
            scan.allowed += 1
            return
        scan.findings += [f"{where} ({response.status_code}): {h}" for h in hits]

    flask.request_finished.connect(on_response, server, weak=False)
    try:
        yield scan
    finally:
        flask.request_finished.disconnect(on_response, server)
    if fail:
        assert not scan.findings, "unmasked personal data in responses:\n" + "\n".join(
            scan.findings[:30]
        )
