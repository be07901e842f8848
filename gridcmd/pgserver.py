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
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

__all__ = [
    "DB_NAME",
    "PORT",
    "ROLE",
    "PgServerError",
    "down",
    "find_pg_bindir",
    "pg_major",
    "postgis_available",
    "status",
    "up",
    "url",
]

log = logging.getLogger(__name__)

#: Database created in the private instance.
DB_NAME = "gridcmd"
#: Superuser role of the private instance (initdb -U), whatever the OS user.
ROLE = "gridcmd"
#: Socket "port": only names the socket file (no TCP listener), so a fixed value is fine.
PORT = 5432
#: Extensions created in :data:`DB_NAME` by :func:`up`.
EXTENSIONS = ("postgis", "ltree")

_SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
_FALLBACK_ROOT = Path("/var/lib/gridcmd")
_SOCKET_PATH_MAX = 107  # sizeof(sockaddr_un.sun_path) - 1 on Linux
_START_TIMEOUT = 60
_FALLBACK_USER = "gridcmd"
_CONF_MARKER = "# ---- Grid Command private instance (gridcmd.pgserver) ----"

_MSG_NO_BINARIES = (
    "PostgreSQL server binaries not found: install them with `apt-get install postgresql` "
    "(or set DATABASE_URL)"
)


class PgServerError(Exception):
    """A problem with the private instance.

    The first line of ``str(exc)`` is one human-readable sentence saying what is wrong and
    what to do; ``detail`` (appended after it, if any) is the tail of the relevant log.
    """

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail.strip()

    def __str__(self) -> str:
        if not self.detail:
            return self.message
        indented = "\n".join("    " + line for line in self.detail.splitlines())
        return f"{self.message}\n{indented}"


# --------------------------------------------------------------------------- discovery


def _has_server_binaries(bindir: Path) -> bool:
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
        if _has_server_binaries(candidate):
            return candidate
    raise PgServerError(_MSG_NO_BINARIES)


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


def _missing_extension_error(name: str, major: int | None) -> PgServerError:
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


# --------------------------------------------------------------------------- layout


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class _Layout:
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


def _layout(var_dir: Path) -> _Layout:
    var_dir = Path(var_dir).expanduser().resolve()
    marker = var_dir / "pg" / "LOCATION"
    with contextlib.suppress(OSError):
        target = marker.read_text().strip()
        if target:
            return _Layout(var_dir, Path(target), relocated=True)
    return _Layout(var_dir, var_dir / "pg", relocated=False)


def _fallback_home(var_dir: Path) -> Path:
    return _FALLBACK_ROOT / _short_hash(str(var_dir))


def _make_url(socket_dir: Path) -> str:
    return (
        f"postgresql+psycopg://{ROLE}@/{DB_NAME}"
        f"?host={quote(str(socket_dir), safe='/')}&port={PORT}"
    )


def url(var_dir: Path) -> str:
    """The SQLAlchemy URL of the private instance (without starting it)."""
    return _make_url(_layout(var_dir).socket_dir)


# --------------------------------------------------------------------------- OS user


@dataclass(frozen=True)
class _User:
    """The unprivileged account the server runs as when we are root."""

    name: str
    uid: int
    gid: int
    home: str

    @classmethod
    def from_pw(cls, pw: pwd.struct_passwd) -> _User:
        return cls(pw.pw_name, pw.pw_uid, pw.pw_gid, pw.pw_dir)


def _server_user(layout: _Layout, *, create: bool) -> _User | None:
    """The OS user to run PostgreSQL as; ``None`` means the current user (not root)."""
    if os.geteuid() != 0:
        return None
    if layout.initialised:
        uid = layout.data.stat().st_uid
        if uid == 0:
            raise PgServerError(
                f"{layout.data} belongs to root; PostgreSQL cannot run as root. "
                f"Remove {layout.home} to re-create the private instance."
            )
        try:
            return _User.from_pw(pwd.getpwuid(uid))
        except KeyError as exc:
            raise PgServerError(
                f"{layout.data} belongs to uid {uid}, which has no account; "
                f"remove {layout.home} to re-create the private instance"
            ) from exc
    for name in ("postgres", _FALLBACK_USER):
        with contextlib.suppress(KeyError):
            return _User.from_pw(pwd.getpwnam(name))
    if not create:
        return None
    cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
    try:
        subprocess.run(
            [*cmd, _FALLBACK_USER], capture_output=True, text=True, timeout=60, check=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        err = getattr(exc, "stderr", "") or str(exc)
        raise PgServerError(
            f"Running as root and no `postgres` user exists; creating the system user "
            f"`{_FALLBACK_USER}` failed (PostgreSQL refuses to run as root)",
            err,
        ) from exc
    log.warning("Created system user %r to run the private PostgreSQL instance", _FALLBACK_USER)
    return _User.from_pw(pwd.getpwnam(_FALLBACK_USER))


def _server_uid(user: _User | None) -> int:
    return user.uid if user else os.geteuid()


def _chown(path: Path, user: _User | None) -> None:
    if user is not None:
        os.chown(path, user.uid, user.gid)


def _clean_env(user: _User | None) -> dict[str, str]:
    """Our environment minus libpq/PG* variables (they would redirect pg_ctl/postgres)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_MESSAGES"] = "C"
    if user is not None:
        env.update(HOME=user.home or "/", USER=user.name, LOGNAME=user.name)
    return env


def _run(
    cmd: Sequence[str | Path], user: _User | None, *, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run *cmd* as *user* (or as ourselves); raises ``CalledProcessError`` etc."""
    kwargs: dict[str, Any] = {}
    if user is not None:
        kwargs.update(
            user=user.uid, group=user.gid, extra_groups=os.getgrouplist(user.name, user.gid)
        )
    return subprocess.run(
        [str(c) for c in cmd],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
        env=_clean_env(user),
        check=True,
        stdin=subprocess.DEVNULL,
        **kwargs,
    )


def _user_can_use(user: _User, directory: Path) -> bool:
    """Whether *user* can traverse to and write in *directory*."""
    try:
        _run(["/bin/sh", "-c", 'test -x "$1" && test -w "$1"', "sh", directory], user, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


# --------------------------------------------------------------------------- processes


def _read_pidfile(layout: _Layout) -> list[str] | None:
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


def _is_postgres(pid: int) -> bool:
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


def _running_pid(layout: _Layout) -> int | None:
    """PID of the postmaster serving *layout*, or ``None`` if it is not running."""
    lines = _read_pidfile(layout)
    if not lines:
        return None
    try:
        pid = int(lines[0])
    except ValueError:
        return None
    return pid if pid > 0 and _is_postgres(pid) else None


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


def _clear_after_crash(layout: _Layout) -> None:
    """Prepare a start after the postmaster died (e.g. ``kill -9``).

    PostgreSQL removes a stale ``postmaster.pid`` itself when its PID is gone, but not when
    the PID is an unreaped zombie (containers whose init does not reap), and it refuses to
    start while orphaned backends still run. So wait for those to exit, then drop the lock
    files of a zombie postmaster.
    """
    lines = _read_pidfile(layout)
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


def _log_tail(layout: _Layout, since: int = 0, lines: int = 20) -> str:
    try:
        with layout.logfile.open("rb") as fh:
            fh.seek(since)
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _log_size(layout: _Layout) -> int:
    try:
        return layout.logfile.stat().st_size
    except OSError:
        return 0


def _fail(message: str, exc: BaseException, layout: _Layout, since: int = 0) -> PgServerError:
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
    tail = _log_tail(layout, since)
    if tail:
        parts.append(f"-- {layout.logfile} --\n{tail}")
    return PgServerError(message, "\n".join(p for p in parts if p))


# --------------------------------------------------------------------------- steps


@contextlib.contextmanager
def _locked(layout: _Layout) -> Iterator[None]:
    """Serialise up()/down() for one var_dir across processes."""
    layout.pg.mkdir(parents=True, exist_ok=True)
    with layout.lock.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _prepare_home(layout: _Layout, user: _User | None) -> _Layout:
    """Create the cluster's home directory; relocate it if the server user cannot reach it."""
    if layout.relocated:
        layout.home.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        layout.home.mkdir(mode=0o700, exist_ok=True)
        _chown(layout.home, user)
        return layout
    home = layout.pg
    if layout.initialised or user is None:
        if user is None:
            home.chmod(0o700)
        return layout
    _chown(home, user)
    home.chmod(0o700)
    if _user_can_use(user, home):
        return layout
    os.chown(home, 0, 0)
    fallback = _fallback_home(layout.var_dir)
    fallback.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    fallback.mkdir(mode=0o700, exist_ok=True)
    _chown(fallback, user)
    layout.marker.write_text(f"{fallback}\n")
    log.warning(
        "The PostgreSQL server user %r cannot reach %s; the private instance lives in %s "
        "instead (recorded in %s)",
        user.name,
        home,
        fallback,
        layout.marker,
    )
    return _layout(layout.var_dir)


def _prepare_socket_dir(layout: _Layout, user: _User | None) -> None:
    """Create the socket directory (mode 0700, owned by the server user)."""
    sock = layout.socket_dir
    uid = _server_uid(user)
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
    _chown(sock, user)
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


def _initdb(layout: _Layout, bindir: Path, user: _User | None) -> None:
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
        _run(cmd, user, timeout=300)
    except (OSError, subprocess.SubprocessError) as exc:
        raise _fail(f"initdb failed for {data}", exc, layout) from exc
    conf = (
        f"\n{_CONF_MARKER}\n"
        "listen_addresses = ''            # unix socket only, no TCP\n"
        f"port = {PORT}                      # names the socket file only\n"
        "unix_socket_permissions = 0700\n"
    )
    with (data / "postgresql.conf").open("a", encoding="utf-8") as fh:
        fh.write(conf)


def _start(layout: _Layout, bindir: Path, user: _User | None) -> None:
    """Start the server (``pg_ctl start -w``), retrying briefly after a crash."""
    _clear_after_crash(layout)
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
        since = _log_size(layout)
        try:
            _run(cmd, user, timeout=_START_TIMEOUT + 30)
            return
        except (OSError, subprocess.SubprocessError) as exc:
            tail = _log_tail(layout, since)
            transient = "still in use" in tail or "already exists" in tail
            if transient and time.monotonic() < deadline:
                time.sleep(0.5)
                _clear_after_crash(layout)
                continue
            raise _fail(
                f"Could not start the private PostgreSQL server (see {layout.logfile})",
                exc,
                layout,
                since,
            ) from exc


def _connect(layout: _Layout, dbname: str) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=str(layout.socket_dir),
        port=PORT,
        user=ROLE,
        dbname=dbname,
        autocommit=True,
        connect_timeout=10,
    )


def _provision(layout: _Layout, major: int | None) -> None:
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
                    raise _missing_extension_error(ext, major)
                step = f"create extension {ext!r} in"
                conn.execute(
                    sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(ext))
                )
    except psycopg.Error as exc:
        raise _fail(
            f"Could not {step} the private PostgreSQL server at {layout.socket_dir}",
            exc,
            layout,
            max(0, _log_size(layout) - 4000),
        ) from exc


def _cluster_bindir(layout: _Layout, bindir: Path | None) -> Path:
    """Server binaries for *layout*: *bindir* if given, else matching the cluster version."""
    if bindir is not None:
        bindir = Path(bindir)
        if not _has_server_binaries(bindir):
            raise PgServerError(f"{_MSG_NO_BINARIES} [looked in {bindir}]")
        return bindir
    version = layout.version
    if version is None:
        return find_pg_bindir()
    debian = Path(f"/usr/lib/postgresql/{version}/bin")
    if _has_server_binaries(debian):
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


# --------------------------------------------------------------------------- public API


def up(var_dir: Path, *, bindir: Path | None = None) -> str:
    """Make sure the private instance exists, runs and has database ``gridcmd`` with
    PostGIS and ltree; return its SQLAlchemy URL. Idempotent and quick when already up.

    *bindir* overrides where the PostgreSQL server binaries are looked for.
    """
    layout = _layout(var_dir)
    if not layout.initialised:
        # Fail early, before creating anything, when the software is missing.
        bins = _cluster_bindir(layout, bindir)
        if not postgis_available(bins):
            raise _missing_extension_error("postgis", pg_major(bins))
    with _locked(layout):
        layout = _layout(var_dir)
        if _running_pid(layout) is not None:
            lines = _read_pidfile(layout) or []
            if len(lines) >= 8 and lines[7].strip() == "ready":
                _provision(layout, layout.version)
                return _make_url(layout.socket_dir)
        bins = _cluster_bindir(layout, bindir)
        major = pg_major(bins)
        user = _server_user(layout, create=True)
        try:
            layout = _prepare_home(layout, user)
            if not layout.initialised:
                if not postgis_available(bins):
                    raise _missing_extension_error("postgis", major)
                _initdb(layout, bins, user)
            _prepare_socket_dir(layout, user)
            if _running_pid(layout) is None:
                _start(layout, bins, user)
        except OSError as exc:
            raise PgServerError(f"Cannot set up the private PostgreSQL instance: {exc}") from exc
        _provision(layout, major)
        return _make_url(layout.socket_dir)


def down(var_dir: Path) -> bool:
    """Stop the private instance (fast shutdown). True if it was running."""
    layout = _layout(var_dir)
    if not layout.initialised or _running_pid(layout) is None:
        return False
    with _locked(layout):
        pid = _running_pid(layout)
        if pid is None:
            return False
        since = _log_size(layout)
        try:
            bins = _cluster_bindir(layout, None)
        except PgServerError:
            bins = None
        if bins is not None:
            cmd = [bins / "pg_ctl", "stop", "-D", layout.data, "-m", "fast", "-w", "-t", "60"]
            try:
                _run(cmd, _server_user(layout, create=False), timeout=90)
            except (OSError, subprocess.SubprocessError) as exc:
                raise _fail(
                    "Could not stop the private PostgreSQL server", exc, layout, since
                ) from exc
            return True
        # Binaries gone (uninstalled) but the server still runs: SIGINT is a fast shutdown.
        try:
            os.kill(pid, signal.SIGINT)
        except OSError as exc:
            raise PgServerError(f"Could not stop the private PostgreSQL server: {exc}") from exc
        deadline = time.monotonic() + 60
        while _is_postgres(pid):
            if time.monotonic() > deadline:
                raise PgServerError(f"The private PostgreSQL server (pid {pid}) did not stop")
            time.sleep(0.1)
        return True


def status(var_dir: Path) -> dict[str, Any]:
    """State of the private instance, for ``gridcmd db status``.

    Keys: ``initialised``, ``running``, ``pid``, ``url``, ``data_dir``, ``socket_dir``,
    ``log_file``, ``pg_version``, ``relocated``.
    """
    layout = _layout(var_dir)
    pid = _running_pid(layout) if layout.initialised else None
    return {
        "initialised": layout.initialised,
        "running": pid is not None,
        "pid": pid,
        "url": _make_url(layout.socket_dir),
        "data_dir": str(layout.data),
        "socket_dir": str(layout.socket_dir),
        "log_file": str(layout.logfile),
        "pg_version": layout.version,
        "relocated": layout.relocated,
    }
