"""Where one checkout's private cluster lives (``<var_dir>/pg``, or the relocated home that
``<var_dir>/pg/LOCATION`` names) and the URL that reaches it."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

__all__ = [
    "DB_NAME",
    "EXTENSIONS",
    "PORT",
    "ROLE",
    "Layout",
    "fallback_home",
    "layout_for",
    "make_url",
    "url",
]

#: Database created in the private instance.
DB_NAME = "gridcmd"
#: Superuser role of the private instance (initdb -U), whatever the OS user.
ROLE = "gridcmd"
#: Socket "port": only names the socket file (no TCP listener), so a fixed value is fine.
PORT = 5432
#: Extensions created in :data:`DB_NAME` by :func:`gridcmd.pgserver.up`.
EXTENSIONS = ("postgis", "ltree")

_FALLBACK_ROOT = Path("/var/lib/gridcmd")
_SOCKET_PATH_MAX = 107  # sizeof(sockaddr_un.sun_path) - 1 on Linux


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Layout:
    """Where one checkout's private cluster lives."""

    var_dir: Path
    home: Path  # holds data/, run/, server.log; <var_dir>/pg unless relocated
    relocated: bool

    @property
    def pg(self) -> Path:
        return self.var_dir / "pg"

    @property
    def marker(self) -> Path:
        return self.pg / "LOCATION"

    @property
    def lock(self) -> Path:
        return self.pg / ".lock"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def logfile(self) -> Path:
        return self.home / "server.log"

    @property
    def socket_dir(self) -> Path:
        local = self.home / "run"
        if len(str(local / f".s.PGSQL.{PORT}")) <= _SOCKET_PATH_MAX:
            return local
        return Path(f"/tmp/gridcmd-{_short_hash(str(self.home))}")  # noqa: S108

    @property
    def initialised(self) -> bool:
        return (self.data / "PG_VERSION").is_file()

    @property
    def version(self) -> int | None:
        try:
            return int((self.data / "PG_VERSION").read_text().strip())
        except (OSError, ValueError):
            return None


def layout_for(var_dir: Path) -> Layout:
    """The layout of ``var_dir``'s cluster (relocated if ``<var_dir>/pg/LOCATION`` says so)."""
    var_dir = Path(var_dir).expanduser().resolve()
    marker = var_dir / "pg" / "LOCATION"
    with contextlib.suppress(OSError):
        target = marker.read_text().strip()
        if target:
            return Layout(var_dir, Path(target), relocated=True)
    return Layout(var_dir, var_dir / "pg", relocated=False)


def fallback_home(var_dir: Path) -> Path:
    """Where the cluster goes when the server's OS user cannot reach ``var_dir``."""
    return _FALLBACK_ROOT / _short_hash(str(var_dir))


def make_url(socket_dir: Path) -> str:
    """The SQLAlchemy URL of the server listening in ``socket_dir``."""
    return (
        f"postgresql+psycopg://{ROLE}@/{DB_NAME}"
        f"?host={quote(str(socket_dir), safe='/')}&port={PORT}"
    )


def url(var_dir: Path) -> str:
    """The SQLAlchemy URL of the private instance (without starting it)."""
    return make_url(layout_for(var_dir).socket_dir)
