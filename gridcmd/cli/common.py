"""What every ``gridcmd`` command shares: the two consoles, the one-line error exit, the
decorator that turns expected failures into it, and the settings and database of an invocation.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import NoReturn

import typer
from rich.console import Console

from gridcmd.settings import Settings, get_settings

__all__ = ["database_url", "engine_for", "err", "fail", "friendly", "out", "settings_of"]

#: Results (tables, tokens, one-line reports) go to stdout ...
out = Console()
#: ... errors, progress and prompts to stderr.
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one ``error: <message>`` line on stderr and exit with ``code``."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def friendly(fn: Callable) -> Callable:
    """Turn the expected failures into one ``error:`` line and exit code 1."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        from geodata.db import DatabaseError
        from geodata.demo.load import SeedRefused
        from gridcmd.pgserver import PgServerError

        try:
            return fn(*args, **kwargs)
        except (DatabaseError, SeedRefused) as exc:
            fail(str(exc))
        except PgServerError as exc:
            fail(
                str(exc).splitlines()[0] + (f"\n{exc.detail}" if getattr(exc, "detail", "") else "")
            )
        except ValueError as exc:
            fail(str(exc), code=2)

    return wrapper


def settings_of(ctx: typer.Context) -> Settings:
    """The settings of this invocation. The root command (:mod:`gridcmd.cli`) puts the function
    that reads them in ``ctx.obj`` (its own ``get_settings``, so a test can swap it); a command
    run without that root reads them from the environment."""
    read = ctx.find_root().obj
    return read() if callable(read) else get_settings()


def database_url(settings: Settings, *, start: bool = True) -> str:
    """``DATABASE_URL`` if configured, else the private instance (started when ``start``)."""
    if settings.database_url:
        return settings.database_url
    from gridcmd import pgserver

    return pgserver.up(settings.var_dir) if start else pgserver.url(settings.var_dir)


def engine_for(settings: Settings):
    """An engine on the configured database, checked (clear error when unreachable)."""
    from geodata.db import check_connection, make_engine

    engine = make_engine(database_url(settings))
    check_connection(engine)
    return engine
