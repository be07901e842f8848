"""api/csrf.py without a database: the Origin check compares scheme, host and port."""

from __future__ import annotations

import pytest

from api.csrf import same_origin


@pytest.mark.parametrize(
    ("origin", "scheme", "host"),
    [
        ("http://localhost", "http", "localhost"),
        ("http://localhost:80", "http", "localhost"),
        ("https://grid.example", "https", "grid.example:443"),
        ("HTTPS://Grid.Example", "https", "grid.example"),
        ("http://127.0.0.1:8050", "http", "127.0.0.1:8050"),
        ("http://[::1]:8050", "http", "[::1]:8050"),
        ("http://localhost/", "http", "localhost"),
    ],
)
def test_same_origin(origin, scheme, host):
    assert same_origin(origin, scheme=scheme, host=host)


@pytest.mark.parametrize(
    ("origin", "scheme", "host"),
    [
        ("https://localhost", "http", "localhost"),  # the finding: scheme was ignored
        ("http://grid.example", "https", "grid.example"),
        ("https://localhost:80", "http", "localhost"),
        ("http://localhost:8050", "http", "localhost"),
        ("http://localhost", "http", "localhost:8050"),
        ("http://localhost.evil.example", "http", "localhost"),
        ("http://evil@localhost", "http", "localhost"),
        ("http://localhost:99999", "http", "localhost"),
        ("http://localhost:x", "http", "localhost"),
        ("http://localhost/path", "http", "localhost"),
        ("ftp://localhost", "http", "localhost"),
        ("null", "http", "localhost"),
        ("", "http", "localhost"),
        ("localhost", "http", "localhost"),
    ],
)
def test_other_origins(origin, scheme, host):
    assert not same_origin(origin, scheme=scheme, host=host)
