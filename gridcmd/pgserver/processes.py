"""The running server as processes and files: the postmaster's pid file, crash leftovers, the
server log (whose tail explains a failed command)."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import time
from pathlib import Path

from gridcmd.pgserver.errors import PgServerError
from gridcmd.pgserver.layout import PORT, Layout

__all__ = [
    "clear_after_crash",
    "command_error",
    "is_postgres",
    "log_size",
    "log_tail",
    "read_pidfile",
    "running_pid",
]

log = logging.getLogger(__name__)


def read_pidfile(layout: Layout) -> list[str] | None:
    """The lines of the cluster's ``postmaster.pid``, or None."""
    try:
        return (layout.data / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None


def _proc_state(pid: int) -> str | None:
    """Linux process state letter (``R``, ``S``, ``Z``...), ``None`` if gone or unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[0]


def is_postgres(pid: int) -> bool:
    """Whether *pid* is a live (non-zombie) postgres process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, other user
    if not Path("/proc/self").exists():
        return True  # cannot tell better without procfs
    if _proc_state(pid) in (None, "Z", "X"):
        return False
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0]
    except OSError:
        return True
    return os.path.basename(argv0.decode(errors="replace")).startswith("postgres")


def running_pid(layout: Layout) -> int | None:
    """PID of the postmaster serving *layout*, or ``None`` if it is not running."""
    lines = read_pidfile(layout)
    if not lines:
        return None
    try:
        pid = int(lines[0])
    except ValueError:
        return None
    return pid if pid > 0 and is_postgres(pid) else None


def _pids_using(data: Path) -> list[int]:
    """Live processes whose working directory is *data* (every postgres process chdirs there)."""
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    target = str(data)
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.readlink(entry / "cwd") == target and _proc_state(int(entry.name)) != "Z":
                found.append(int(entry.name))
    return found


def clear_after_crash(layout: Layout) -> None:
    """Prepare a start after the postmaster died (e.g. ``kill -9``).

    PostgreSQL removes a stale ``postmaster.pid`` itself when its PID is gone, but not when
    the PID is an unreaped zombie (containers whose init does not reap), and it refuses to
    start while orphaned backends still run. So wait for those to exit, then drop the lock
    files of a zombie postmaster.
    """
    lines = read_pidfile(layout)
    if not lines:
        return
    deadline = time.monotonic() + 15
    while _pids_using(layout.data) and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        pid = int(lines[0])
    except ValueError:
        pid = 0
    if pid > 0 and _proc_state(pid) == "Z" and not _pids_using(layout.data):
        log.info("Removing lock files of the dead (zombie) postmaster %d", pid)
        with contextlib.suppress(OSError):
            (layout.data / "postmaster.pid").unlink()
        with contextlib.suppress(OSError):
            (layout.socket_dir / f".s.PGSQL.{PORT}.lock").unlink()


def log_tail(layout: Layout, since: int = 0, lines: int = 20) -> str:
    """The last *lines* lines of the server log written after byte offset *since*."""
    try:
        with layout.logfile.open("rb") as fh:
            fh.seek(since)
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def log_size(layout: Layout) -> int:
    """The server log's size in bytes (0 when there is none yet)."""
    try:
        return layout.logfile.stat().st_size
    except OSError:
        return 0


def command_error(
    message: str, exc: BaseException, layout: Layout, since: int = 0
) -> PgServerError:
    """A PgServerError for a failed command: its stderr plus the new part of the log."""
    parts = []
    stderr = getattr(exc, "stderr", None)
    stdout = getattr(exc, "stdout", None)
    if isinstance(exc, subprocess.TimeoutExpired):
        parts.append(f"(timed out after {exc.timeout:.0f} s)")
    elif not isinstance(exc, subprocess.CalledProcessError):
        parts.append(str(exc))
    for stream in (stdout, stderr):
        if stream:
            text = stream if isinstance(stream, str) else stream.decode(errors="replace")
            parts.append("\n".join(text.strip().splitlines()[-15:]))
    tail = log_tail(layout, since)
    if tail:
        parts.append(f"-- {layout.logfile} --\n{tail}")
    return PgServerError(message, "\n".join(p for p in parts if p))
