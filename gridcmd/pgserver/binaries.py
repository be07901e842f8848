"""Finding the PostgreSQL server binaries and the extensions installed for them; a missing
piece is a :class:`PgServerError` naming the package to install."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from gridcmd.pgserver.errors import PgServerError
from gridcmd.pgserver.layout import Layout

__all__ = [
    "MSG_NO_BINARIES",
    "cluster_bindir",
    "find_pg_bindir",
    "has_server_binaries",
    "missing_extension_error",
    "pg_major",
    "postgis_available",
]

_SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")

MSG_NO_BINARIES = (
    "PostgreSQL server binaries not found: install them with `apt-get install postgresql` "
    "(or set DATABASE_URL)"
)


def has_server_binaries(bindir: Path) -> bool:
    """Whether ``initdb``, ``pg_ctl`` and ``postgres`` are executable in *bindir*."""
    return all(os.access(bindir / name, os.X_OK) for name in _SERVER_BINARIES)


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", path.parent.name)) or (0,)


def find_pg_bindir() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``.

    Tries ``pg_config --bindir`` (if ``pg_config`` is on PATH), then the highest
    ``/usr/lib/postgresql/<N>/bin`` (Debian/Ubuntu layout), then PATH.
    """
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out:
                candidates.append(Path(out))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for candidate in candidates:
        if has_server_binaries(candidate):
            return candidate
    raise PgServerError(MSG_NO_BINARIES)


def pg_major(bindir: Path) -> int:
    """Major version of the PostgreSQL server in *bindir* (from ``postgres --version``)."""
    try:
        out = subprocess.run(
            [str(Path(bindir) / "postgres"), "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise PgServerError(f"Cannot run {bindir}/postgres --version: {exc}") from exc
    match = re.search(r"(\d+)(?:\.\d+)?", out.split(")", 1)[-1]) or re.search(r"(\d+)", out)
    if not match:
        raise PgServerError(f"Cannot parse the PostgreSQL version from {out.strip()!r}")
    return int(match.group(1))


def _sharedirs(bindir: Path) -> list[Path]:
    """Candidate PostgreSQL share directories for the server in *bindir*."""
    dirs: list[Path] = []
    pg_config = Path(bindir) / "pg_config"
    if os.access(pg_config, os.X_OK):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [str(pg_config), "--sharedir"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
            if out:
                dirs.append(Path(out))
    with contextlib.suppress(PgServerError):
        dirs.append(Path(f"/usr/share/postgresql/{pg_major(bindir)}"))
    prefix = Path(bindir).resolve().parent
    dirs += [prefix / "share" / "postgresql", prefix / "share", Path("/usr/share/pgsql")]
    return dirs


def _extension_available(bindir: Path, name: str) -> bool:
    return any((d / "extension" / f"{name}.control").is_file() for d in _sharedirs(bindir))


def postgis_available(bindir: Path) -> bool:
    """Whether the PostGIS extension is installed for the server in *bindir*."""
    return _extension_available(bindir, "postgis")


def missing_extension_error(name: str, major: int | None) -> PgServerError:
    """The error for extension *name* missing for PostgreSQL *major*: which package to install."""
    ver = str(major) if major is not None else "<N>"
    if name == "postgis":
        return PgServerError(
            f"PostGIS is not installed for PostgreSQL {ver}: "
            f"`apt-get install postgresql-{ver}-postgis-3`"
        )
    return PgServerError(
        f"The {name} extension is not installed for PostgreSQL {ver}: "
        f"`apt-get install postgresql-contrib` (or postgresql-{ver})"
    )


def cluster_bindir(layout: Layout, bindir: Path | None) -> Path:
    """Server binaries for *layout*: *bindir* if given, else matching the cluster version."""
    if bindir is not None:
        bindir = Path(bindir)
        if not has_server_binaries(bindir):
            raise PgServerError(f"{MSG_NO_BINARIES} [looked in {bindir}]")
        return bindir
    version = layout.version
    if version is None:
        return find_pg_bindir()
    debian = Path(f"/usr/lib/postgresql/{version}/bin")
    if has_server_binaries(debian):
        return debian
    with contextlib.suppress(PgServerError):
        found = find_pg_bindir()
        if pg_major(found) == version:
            return found
    raise PgServerError(
        f"The private cluster in {layout.data} was created by PostgreSQL {version}, whose "
        f"server binaries are not installed: `apt-get install postgresql-{version}` "
        f"(or delete {layout.home} to re-create it)"
    )
