"""The private PostGIS instance: a PostgreSQL cluster that lives inside the project.

Used when no ``DATABASE_URL`` is configured. Layout under ``<var_dir>/pg/``::

    data/         the cluster (initdb), owned by the server's OS user, mode 0700
    run/          the unix socket directory, mode 0700 (no TCP: listen_addresses = '')
    server.log    the server log (pg_ctl -l)
    .lock         serialises concurrent up()/down() calls

The database superuser role is always ``gridcmd`` and the database is ``gridcmd``, so the
URL is ``postgresql+psycopg://gridcmd@/gridcmd?host=<socket dir>&port=5432`` -- no password:
the socket directory's permissions are the access control (only the owning user and root).

PostgreSQL refuses to run as root. When this module runs as root, the server runs as the
``postgres`` system user if it exists, else as a ``gridcmd`` system user created on demand;
an existing cluster always runs as the owner of its data directory. If that user cannot reach
``<var_dir>`` (e.g. a checkout under ``/root``), the cluster is placed in
``/var/lib/gridcmd/<hash>`` instead and ``<var_dir>/pg/LOCATION`` records where.
If the socket path would exceed the kernel's limit, the socket directory is
``/tmp/gridcmd-<hash>``.

Every failure surfaces as :class:`PgServerError` whose first line says what to do.

This package's public functions are :func:`up`, :func:`down`, :func:`status` and :func:`url`
(plus the binary checks); its modules, in dependency order: :mod:`.errors`, :mod:`.layout`
(where the cluster lives, the URL), :mod:`.binaries` (server binaries and extensions),
:mod:`.osuser` (the OS user the server runs as), :mod:`.processes` (pid file, crash
leftovers, the server log), :mod:`.cluster` (the steps of :func:`up`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from gridcmd.pgserver.binaries import (
    cluster_bindir,
    find_pg_bindir,
    missing_extension_error,
    pg_major,
    postgis_available,
)
from gridcmd.pgserver.cluster import (
    initdb,
    locked,
    prepare_home,
    prepare_socket_dir,
    provision,
    start,
)
from gridcmd.pgserver.errors import PgServerError
from gridcmd.pgserver.layout import DB_NAME, EXTENSIONS, PORT, ROLE, layout_for, make_url, url
from gridcmd.pgserver.osuser import run_as, server_user
from gridcmd.pgserver.processes import (
    command_error,
    is_postgres,
    log_size,
    read_pidfile,
    running_pid,
)

__all__ = [
    "DB_NAME",
    "EXTENSIONS",
    "PORT",
    "ROLE",
    "PgServerError",
    "down",
    "find_pg_bindir",
    "missing_extension_error",
    "pg_major",
    "postgis_available",
    "status",
    "up",
    "url",
]


def up(var_dir: Path, *, bindir: Path | None = None) -> str:
    """Make sure the private instance exists, runs and has database ``gridcmd`` with
    PostGIS and ltree; return its SQLAlchemy URL. Idempotent and quick when already up.

    *bindir* overrides where the PostgreSQL server binaries are looked for.
    """
    layout = layout_for(var_dir)
    if not layout.initialised:
        # Fail early, before creating anything, when the software is missing.
        bins = cluster_bindir(layout, bindir)
        if not postgis_available(bins):
            raise missing_extension_error("postgis", pg_major(bins))
    with locked(layout):
        layout = layout_for(var_dir)
        if running_pid(layout) is not None:
            lines = read_pidfile(layout) or []
            if len(lines) >= 8 and lines[7].strip() == "ready":
                provision(layout, layout.version)
                return make_url(layout.socket_dir)
        bins = cluster_bindir(layout, bindir)
        major = pg_major(bins)
        user = server_user(layout, create=True)
        try:
            layout = prepare_home(layout, user)
            if not layout.initialised:
                if not postgis_available(bins):
                    raise missing_extension_error("postgis", major)
                initdb(layout, bins, user)
            prepare_socket_dir(layout, user)
            if running_pid(layout) is None:
                start(layout, bins, user)
        except OSError as exc:
            raise PgServerError(f"Cannot set up the private PostgreSQL instance: {exc}") from exc
        provision(layout, major)
        return make_url(layout.socket_dir)


def down(var_dir: Path) -> bool:
    """Stop the private instance (fast shutdown). True if it was running."""
    layout = layout_for(var_dir)
    if not layout.initialised or running_pid(layout) is None:
        return False
    with locked(layout):
        pid = running_pid(layout)
        if pid is None:
            return False
        since = log_size(layout)
        try:
            bins = cluster_bindir(layout, None)
        except PgServerError:
            bins = None
        if bins is not None:
            cmd = [bins / "pg_ctl", "stop", "-D", layout.data, "-m", "fast", "-w", "-t", "60"]
            try:
                run_as(cmd, server_user(layout, create=False), timeout=90)
            except (OSError, subprocess.SubprocessError) as exc:
                raise command_error(
                    "Could not stop the private PostgreSQL server", exc, layout, since
                ) from exc
            return True
        # Binaries gone (uninstalled) but the server still runs: SIGINT is a fast shutdown.
        try:
            os.kill(pid, signal.SIGINT)
        except OSError as exc:
            raise PgServerError(f"Could not stop the private PostgreSQL server: {exc}") from exc
        deadline = time.monotonic() + 60
        while is_postgres(pid):
            if time.monotonic() > deadline:
                raise PgServerError(f"The private PostgreSQL server (pid {pid}) did not stop")
            time.sleep(0.1)
        return True


def status(var_dir: Path) -> dict[str, Any]:
    """State of the private instance, for ``gridcmd db status``.

    Keys: ``initialised``, ``running``, ``pid``, ``url``, ``data_dir``, ``socket_dir``,
    ``log_file``, ``pg_version``, ``relocated``.
    """
    layout = layout_for(var_dir)
    pid = running_pid(layout) if layout.initialised else None
    return {
        "initialised": layout.initialised,
        "running": pid is not None,
        "pid": pid,
        "url": make_url(layout.socket_dir),
        "data_dir": str(layout.data),
        "socket_dir": str(layout.socket_dir),
        "log_file": str(layout.logfile),
        "pg_version": layout.version,
        "relocated": layout.relocated,
    }
