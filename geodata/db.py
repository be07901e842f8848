"""Engine creation and connection errors that name what was wrong (never the password)."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError


class DatabaseError(Exception):
    """A database problem explained in one line, safe to print (no password)."""


def normalise_url(url: str | URL) -> URL:
    """Parse ``url`` and force the psycopg 3 driver (``postgresql://`` → ``postgresql+psycopg://``)."""
    try:
        u = make_url(url) if isinstance(url, str) else url
    except ArgumentError as exc:
        raise DatabaseError(f"DATABASE_URL is not a valid database URL: {exc}") from None
    if u.get_backend_name() != "postgresql":
        raise DatabaseError(
            f"DATABASE_URL must point to PostgreSQL/PostGIS, not {u.get_backend_name()!r}"
        )
    if u.drivername != "postgresql+psycopg":
        u = u.set(drivername="postgresql+psycopg")
    return u


def describe(url: str | URL) -> str:
    """``host:port/database`` (or the socket directory) of ``url``, without credentials."""
    u = normalise_url(url)
    host = u.host or u.query.get("host") or "local socket"
    if isinstance(host, tuple):
        host = host[0]
    port = f":{u.port}" if u.port else ""
    return f"{host}{port}/{u.database or '?'}"


def make_engine(url: str | URL, **kwargs) -> Engine:
    """A SQLAlchemy engine on ``url`` (psycopg 3), with pre-ping so a dropped connection is
    replaced instead of failing the next request."""
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("connect_args", {"connect_timeout": 5, "application_name": "gridcmd"})
    return create_engine(normalise_url(url), **kwargs)


def check_connection(engine: Engine) -> str:
    """Connect once and return the PostGIS version.

    Raises :class:`DatabaseError` with a one-line reason naming host/database when the server is
    unreachable, the database is missing, or PostGIS is not available there.
    """
    where = describe(engine.url)
    try:
        with engine.connect() as conn:
            has_ext = conn.execute(
                text("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")
            ).scalar()
            if not has_ext:
                major = conn.execute(text("SHOW server_version_num")).scalar()
                v = int(major) // 10000 if major else "N"
                raise DatabaseError(
                    f"PostGIS is not installed on the server at {where}: "
                    f"install it with `apt-get install postgresql-{v}-postgis-3`"
                )
            installed = conn.execute(
                text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
            ).scalar()
            return installed or "available (not yet created)"
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseError(f"cannot connect to database at {where}: {reason}") from None
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseError(f"database error at {where}: {reason}") from None
