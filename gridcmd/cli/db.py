"""``gridcmd db``: the private PostGIS instance and the migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from gridcmd.cli.common import engine_for, friendly, out, settings_of

app = typer.Typer(
    help="The database: private PostGIS instance and migrations.", no_args_is_help=True
)


@app.command("up")
@friendly
def db_up(ctx: typer.Context) -> None:
    """Create (first time) and start the private PostGIS instance in var/pg."""
    s = settings_of(ctx)
    if s.database_url:
        out.print("DATABASE_URL is set: the private instance is not used.")
        return
    from gridcmd import pgserver

    url = pgserver.up(s.var_dir)
    out.print(f"private PostGIS running: {url}")


@app.command("down")
@friendly
def db_down(ctx: typer.Context) -> None:
    """Stop the private PostGIS instance."""
    from gridcmd import pgserver

    was = pgserver.down(settings_of(ctx).var_dir)
    out.print("stopped" if was else "not running")


@app.command("status")
@friendly
def db_status(ctx: typer.Context) -> None:
    """Show where the database is and whether it is running and migrated."""
    s = settings_of(ctx)
    if s.database_url:
        from geodata.db import describe

        out.print(f"DATABASE_URL: {describe(s.database_url)}")
    else:
        from gridcmd import pgserver

        for k, v in pgserver.status(s.var_dir).items():
            out.print(f"{k:12} {v}")
        if not pgserver.status(s.var_dir)["running"]:
            return
    from geodata import migrate

    eng = engine_for(s)
    out.print(f"revision     {migrate.current_revision(eng)} (head {migrate.head_revision(eng)})")


@app.command("migrate")
@friendly
def db_migrate(
    ctx: typer.Context,
    revision: Annotated[
        str, typer.Option(help="Target revision ('head', or e.g. 'base' to go down).")
    ] = "head",
) -> None:
    """Apply the Alembic migrations (up to head by default)."""
    from geodata import migrate

    eng = engine_for(settings_of(ctx))
    before = migrate.current_revision(eng)
    if revision in ("base", "-1") or (before and revision != "head" and revision < before):
        migrate.downgrade(eng, revision)
    else:
        migrate.upgrade(eng, revision)
    out.print(f"database at revision {migrate.current_revision(eng)} (was {before})")
