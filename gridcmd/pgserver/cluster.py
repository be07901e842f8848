"""The steps of bringing the cluster up: lock, home and socket directories, ``initdb``,
``pg_ctl start``, and the database with its extensions."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shlex
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from gridcmd.pgserver.binaries import missing_extension_error
from gridcmd.pgserver.errors import PgServerError
from gridcmd.pgserver.layout import (
    DB_NAME,
    EXTENSIONS,
    PORT,
    ROLE,
    Layout,
    fallback_home,
    layout_for,
)
from gridcmd.pgserver.osuser import ServerUser, chown, run_as, server_uid, user_can_use
from gridcmd.pgserver.processes import clear_after_crash, command_error, log_size, log_tail

__all__ = ["initdb", "locked", "prepare_home", "prepare_socket_dir", "provision", "start"]

log = logging.getLogger(__name__)

_START_TIMEOUT = 60
_CONF_MARKER = "# ---- Grid Command private instance (gridcmd.pgserver) ----"


@contextlib.contextmanager
def locked(layout: Layout) -> Iterator[None]:
    """Serialise up()/down() for one var_dir across processes."""
    layout.pg.mkdir(parents=True, exist_ok=True)
    with layout.lock.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def prepare_home(layout: Layout, user: ServerUser | None) -> Layout:
    """Create the cluster's home directory; relocate it if the server user cannot reach it."""
    if layout.relocated:
        layout.home.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        layout.home.mkdir(mode=0o700, exist_ok=True)
        chown(layout.home, user)
        return layout
    home = layout.pg
    if layout.initialised or user is None:
        if user is None:
            home.chmod(0o700)
        return layout
    chown(home, user)
    home.chmod(0o700)
    if user_can_use(user, home):
        return layout
    os.chown(home, 0, 0)
    fallback = fallback_home(layout.var_dir)
    fallback.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    fallback.mkdir(mode=0o700, exist_ok=True)
    chown(fallback, user)
    layout.marker.write_text(f"{fallback}\n")
    log.warning(
        "The PostgreSQL server user %r cannot reach %s; the private instance lives in %s "
        "instead (recorded in %s)",
        user.name,
        home,
        fallback,
        layout.marker,
    )
    return layout_for(layout.var_dir)


def prepare_socket_dir(layout: Layout, user: ServerUser | None) -> None:
    """Create the socket directory (mode 0700, owned by the server user)."""
    sock = layout.socket_dir
    uid = server_uid(user)
    try:
        sock.mkdir(mode=0o700)
    except FileExistsError:
        st = sock.lstat()
        if sock.is_symlink() or not sock.is_dir():
            raise PgServerError(f"Socket path {sock} exists and is not a directory") from None
        if st.st_uid not in (uid, os.geteuid()):
            raise PgServerError(
                f"Socket directory {sock} belongs to another user (uid {st.st_uid}); "
                "remove it and retry"
            ) from None
    chown(sock, user)
    sock.chmod(0o700)


def _initdb_locale() -> str:
    try:
        out = subprocess.run(
            ["locale", "-a"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "C"
    names = {line.strip().lower().replace("-", "") for line in out.splitlines()}
    return "C.UTF-8" if "c.utf8" in names else "C"


def initdb(layout: Layout, bindir: Path, user: ServerUser | None) -> None:
    """Create the cluster (UTF8, trust on the unix socket only, no TCP)."""
    data = layout.data
    if data.exists() and any(data.iterdir()):
        raise PgServerError(
            f"{data} exists but is not a PostgreSQL data directory: move it away and retry"
        )
    cmd = [
        bindir / "initdb",
        "-D",
        data,
        "-U",
        ROLE,
        "--encoding=UTF8",
        f"--locale={_initdb_locale()}",
        "--auth-local=trust",
        "--auth-host=reject",
    ]
    log.info("Initialising the private PostgreSQL cluster in %s", data)
    try:
        run_as(cmd, user, timeout=300)
    except (OSError, subprocess.SubprocessError) as exc:
        raise command_error(f"initdb failed for {data}", exc, layout) from exc
    conf = (
        f"\n{_CONF_MARKER}\n"
        "listen_addresses = ''            # unix socket only, no TCP\n"
        f"port = {PORT}                      # names the socket file only\n"
        "unix_socket_permissions = 0700\n"
    )
    with (data / "postgresql.conf").open("a", encoding="utf-8") as fh:
        fh.write(conf)


def start(layout: Layout, bindir: Path, user: ServerUser | None) -> None:
    """Start the server (``pg_ctl start -w``), retrying briefly after a crash."""
    clear_after_crash(layout)
    opts = f"-k {shlex.quote(str(layout.socket_dir))} -p {PORT}"
    cmd = [
        bindir / "pg_ctl",
        "start",
        "-D",
        layout.data,
        "-l",
        layout.logfile,
        "-w",
        "-t",
        str(_START_TIMEOUT),
        "-o",
        opts,
    ]
    deadline = time.monotonic() + 20
    while True:
        since = log_size(layout)
        try:
            run_as(cmd, user, timeout=_START_TIMEOUT + 30)
            return
        except (OSError, subprocess.SubprocessError) as exc:
            tail = log_tail(layout, since)
            transient = "still in use" in tail or "already exists" in tail
            if transient and time.monotonic() < deadline:
                time.sleep(0.5)
                clear_after_crash(layout)
                continue
            raise command_error(
                f"Could not start the private PostgreSQL server (see {layout.logfile})",
                exc,
                layout,
                since,
            ) from exc


def _connect(layout: Layout, dbname: str) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=str(layout.socket_dir),
        port=PORT,
        user=ROLE,
        dbname=dbname,
        autocommit=True,
        connect_timeout=10,
    )


def provision(layout: Layout, major: int | None) -> None:
    """Create database ``gridcmd`` and its extensions if missing."""
    step = "connect to"
    try:
        with _connect(layout, "postgres") as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)
            ).fetchone()
            if not exists:
                step = f"create database {DB_NAME!r} in"
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))
        step = f"connect to database {DB_NAME!r} of"
        with _connect(layout, DB_NAME) as conn:
            have = {r[0] for r in conn.execute("SELECT extname FROM pg_extension")}
            missing = [e for e in EXTENSIONS if e not in have]
            if not missing:
                return
            available = {
                r[0]
                for r in conn.execute(
                    "SELECT name FROM pg_available_extensions WHERE name = ANY(%s)", (missing,)
                )
            }
            for ext in missing:
                if ext not in available:
                    raise missing_extension_error(ext, major)
                step = f"create extension {ext!r} in"
                conn.execute(
                    sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(ext))
                )
    except psycopg.Error as exc:
        raise command_error(
            f"Could not {step} the private PostgreSQL server at {layout.socket_dir}",
            exc,
            layout,
            max(0, log_size(layout) - 4000),
        ) from exc
