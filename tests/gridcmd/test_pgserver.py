"""The private PostGIS instance (gridcmd.pgserver), against real PostgreSQL binaries.

Each cluster lives in a directory made with mkdtemp under /tmp and opened to 0755: when the
tests run as root the server runs as an unprivileged user, which must be able to reach it
(pytest's own /tmp/pytest-of-root is 0700).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from gridcmd import pgserver

# Starts PostgreSQL clusters of its own: slow, and the database tier though it takes no
# database fixture.
pytestmark = [pytest.mark.slow, pytest.mark.db]

try:
    _BINDIR: Path | None = pgserver.find_pg_bindir()
except pgserver.PgServerError:
    _BINDIR = None

needs_pg = pytest.mark.skipif(
    _BINDIR is None or not pgserver.postgis_available(_BINDIR),
    reason="PostgreSQL server binaries with PostGIS are not installed",
)


def _open_dir(prefix: str) -> Path:
    """A fresh directory under /tmp that any user can traverse."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))  # noqa: S108
    path.chmod(0o755)
    return path


def _connect(url: str) -> psycopg.Connection:
    """Connect with psycopg using the parts of an SQLAlchemy URL from pgserver."""
    parsed = make_url(url)
    return psycopg.connect(
        host=parsed.query["host"],
        port=int(parsed.query["port"]),
        user=parsed.username,
        dbname=parsed.database,
        autocommit=True,
        connect_timeout=5,
    )


def _wait_gone(pid: int, timeout: float = 10) -> None:
    """Wait until *pid* is dead (or an unreaped zombie)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} did not die")


def _teardown(var_dir: Path) -> None:
    """Stop the cluster of *var_dir* and remove everything it created outside var_dir."""
    info = pgserver.status(var_dir)
    try:
        pgserver.down(var_dir)
    except pgserver.PgServerError:
        if info["pid"]:
            os.kill(info["pid"], signal.SIGKILL)
    socket_dir = Path(info["socket_dir"])
    if socket_dir.name.startswith("gridcmd-"):
        shutil.rmtree(socket_dir, ignore_errors=True)
    if info["relocated"]:
        home = Path(info["data_dir"]).parent
        shutil.rmtree(home, ignore_errors=True)
        with contextlib.suppress(OSError):
            home.parent.rmdir()  # /var/lib/gridcmd, if we were its only user


@pytest.fixture(scope="module")
def var_dir() -> Iterator[Path]:
    """One private cluster shared by the tests of this module."""
    base = _open_dir("gridcmd-pgtest-")
    var = base / "var"
    try:
        yield var
    finally:
        _teardown(var)
        shutil.rmtree(base, ignore_errors=True)


@needs_pg
def test_discovery() -> None:
    assert _BINDIR is not None
    assert (_BINDIR / "initdb").is_file()
    assert pgserver.pg_major(_BINDIR) >= 12
    assert pgserver.postgis_available(_BINDIR)


@needs_pg
def test_up_creates_starts_and_serves_postgis(var_dir: Path) -> None:
    assert not pgserver.status(var_dir)["initialised"]
    url = pgserver.up(var_dir)
    with _connect(url) as conn:
        assert conn.execute("SELECT postgis_version()").fetchone()[0]
        exts = {r[0] for r in conn.execute("SELECT extname FROM pg_extension")}
        assert {"postgis", "ltree"} <= exts
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (
            pgserver.ROLE,
            pgserver.DB_NAME,
        )
    # The URL is usable by SQLAlchemy as is.
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 'ab.cd'::ltree")).scalar() == "ab.cd"
    finally:
        engine.dispose()


@needs_pg
def test_up_is_idempotent_and_fast(var_dir: Path) -> None:
    first = pgserver.up(var_dir)
    pid = pgserver.status(var_dir)["pid"]
    started = time.monotonic()
    again = pgserver.up(var_dir)
    assert time.monotonic() - started < 1.0
    assert again == first == pgserver.url(var_dir)
    assert pgserver.status(var_dir)["pid"] == pid


@needs_pg
def test_status_and_no_tcp(var_dir: Path) -> None:
    pgserver.up(var_dir)
    info = pgserver.status(var_dir)
    assert info["initialised"] and info["running"]
    assert isinstance(info["pid"], int)
    assert info["url"] == pgserver.url(var_dir)
    assert Path(info["data_dir"], "PG_VERSION").is_file()
    socket_dir = Path(info["socket_dir"])
    assert (socket_dir / f".s.PGSQL.{pgserver.PORT}").is_socket()
    assert socket_dir.stat().st_mode & 0o777 == 0o700
    with _connect(info["url"]) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == ""


@needs_pg
def test_url_has_no_password(var_dir: Path) -> None:
    for url in (pgserver.url(var_dir), pgserver.status(var_dir)["url"]):
        parsed = make_url(url)
        assert parsed.password is None
        assert parsed.username == pgserver.ROLE
        assert ":" not in url.split("://", 1)[1].split("@", 1)[0]


@needs_pg
def test_down_stops_and_up_keeps_data(var_dir: Path) -> None:
    url = pgserver.up(var_dir)
    with _connect(url) as conn:
        conn.execute(
            "DROP TABLE IF EXISTS kept; CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)"
        )
    assert pgserver.down(var_dir) is True
    assert pgserver.status(var_dir)["running"] is False
    with pytest.raises(psycopg.OperationalError):
        _connect(url).close()
    assert pgserver.down(var_dir) is False
    assert pgserver.up(var_dir) == url
    with _connect(url) as conn:
        assert conn.execute("SELECT v FROM kept").fetchone() == (7,)


@needs_pg
def test_up_recovers_after_kill9(var_dir: Path) -> None:
    url = pgserver.up(var_dir)
    with _connect(url) as conn:
        conn.execute(
            "DROP TABLE IF EXISTS crash; CREATE TABLE crash (v int); INSERT INTO crash VALUES (1)"
        )
    pid = pgserver.status(var_dir)["pid"]
    os.kill(pid, signal.SIGKILL)
    _wait_gone(pid)
    assert pgserver.status(var_dir)["running"] is False
    assert pgserver.up(var_dir) == url
    assert pgserver.status(var_dir)["pid"] not in (None, pid)
    with _connect(url) as conn:
        assert conn.execute("SELECT v FROM crash").fetchone() == (1,)


def test_missing_binaries_name_the_package() -> None:
    base = _open_dir("gridcmd-pgtest-nobin-")
    try:
        empty = base / "bin"
        empty.mkdir()
        with pytest.raises(pgserver.PgServerError) as info:
            pgserver.up(base / "var", bindir=empty)
        message = str(info.value)
        assert "apt-get install postgresql" in message
        assert "\n" not in message and "Traceback" not in message
        assert not (base / "var").exists()  # failed before creating anything
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_missing_postgis_message_names_the_package() -> None:
    message = str(pgserver.missing_extension_error("postgis", 15))
    assert "postgresql-15-postgis-3" in message


@needs_pg
def test_long_path_uses_short_socket_dir() -> None:
    base = _open_dir("gridcmd-pgtest-long-")
    var = base / ("x" * 90) / "var"
    var.parent.mkdir()
    var.parent.chmod(0o755)
    try:
        url = pgserver.up(var)
        socket_dir = Path(pgserver.status(var)["socket_dir"])
        assert str(socket_dir).startswith("/tmp/gridcmd-")
        assert len(str(socket_dir / ".s.PGSQL.5432")) <= 107
        with _connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        _teardown(var)
        shutil.rmtree(base, ignore_errors=True)


@needs_pg
@pytest.mark.skipif(os.geteuid() != 0, reason="relocation only happens when running as root")
def test_root_relocates_unreachable_var_dir() -> None:
    base = Path(tempfile.mkdtemp(prefix="gridcmd-pgtest-private-", dir="/tmp"))  # 0700
    var = base / "var"
    try:
        url = pgserver.up(var)
        info = pgserver.status(var)
        assert info["relocated"] is True
        assert info["data_dir"].startswith("/var/lib/gridcmd/")
        assert (var / "pg" / "LOCATION").is_file()
        with _connect(url) as conn:
            assert conn.execute("SELECT postgis_version()").fetchone()[0]
    finally:
        _teardown(var)
        shutil.rmtree(base, ignore_errors=True)
