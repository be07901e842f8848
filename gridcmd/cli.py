"""The ``gridcmd`` command line: database, demo data, integrity checks and the dev server.

Every failure the user can cause (unreachable database, PostGIS missing, seeding a non-empty
database, bad arguments) ends with one ``error: ...`` line and a non-zero exit code, never a
traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gridcmd.settings import Settings, get_settings

app = typer.Typer(
    help="Grid Command: map-centred command dashboard for grid-based social governance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(
    help="The database: private PostGIS instance and migrations.", no_args_is_help=True
)
seed_app = typer.Typer(help="Load data sets.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(seed_app, name="seed")

out = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> None:
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
            _fail(str(exc))
        except PgServerError as exc:
            _fail(
                str(exc).splitlines()[0] + (f"\n{exc.detail}" if getattr(exc, "detail", "") else "")
            )
        except ValueError as exc:
            _fail(str(exc), code=2)

    return wrapper


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


# ----------------------------------------------------------------------------- db


@db_app.command("up")
@friendly
def db_up() -> None:
    """Create (first time) and start the private PostGIS instance in var/pg."""
    s = get_settings()
    if s.database_url:
        out.print("DATABASE_URL is set: the private instance is not used.")
        return
    from gridcmd import pgserver

    url = pgserver.up(s.var_dir)
    out.print(f"private PostGIS running: {url}")


@db_app.command("down")
@friendly
def db_down() -> None:
    """Stop the private PostGIS instance."""
    from gridcmd import pgserver

    was = pgserver.down(get_settings().var_dir)
    out.print("stopped" if was else "not running")


@db_app.command("status")
@friendly
def db_status() -> None:
    """Show where the database is and whether it is running and migrated."""
    s = get_settings()
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


@db_app.command("migrate")
@friendly
def db_migrate(
    revision: Annotated[
        str, typer.Option(help="Target revision ('head', or e.g. 'base' to go down).")
    ] = "head",
) -> None:
    """Apply the Alembic migrations (up to head by default)."""
    from geodata import migrate

    eng = engine_for(get_settings())
    before = migrate.current_revision(eng)
    if revision in ("base", "-1") or (before and revision != "head" and revision < before):
        migrate.downgrade(eng, revision)
    else:
        migrate.upgrade(eng, revision)
    out.print(f"database at revision {migrate.current_revision(eng)} (was {before})")


# ----------------------------------------------------------------------------- seed


@seed_app.command("demo")
@friendly
def seed_demo(
    scale: Annotated[
        float,
        typer.Option(
            min=0.0001, max=1.0, help="Fraction of the full Dali numbers (1.0 = 14,577 grids)."
        ),
    ] = 1.0,
    seed: Annotated[int | None, typer.Option(help="Random seed (default from settings).")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite existing data.")] = False,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing (exit 0) when data already exists.")
    ] = False,
) -> None:
    """Generate the deterministic Dali demo: real L1/L2, synthetic L3–L6, workers, events."""
    from geodata import migrate
    from geodata.demo.load import is_empty
    from geodata.demo.load import seed_demo as run

    s = get_settings()
    eng = engine_for(s)
    if migrate.current_revision(eng) != migrate.head_revision(eng):
        _fail("the database is not migrated: run `gridcmd db migrate` first")
    if if_empty and not is_empty(eng):
        out.print("database already holds data: nothing to do")
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from geodata.demo.load import SEED_STEPS

    with Progress(
        BarColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err
    ) as prog:
        task = prog.add_task(
            "generating the Dali demo (synthetic below county level)", total=SEED_STEPS
        )
        report = run(
            eng,
            seed=s.demo_seed if seed is None else seed,
            scale=scale,
            replace=replace,
            progress=lambda m: prog.update(task, description=m, advance=1),
        )
    import time

    from geodata.lod import build_lod

    t0 = time.perf_counter()
    with err.status("building the level-of-detail geometry (per zoom band)"):
        build_lod(eng)
    out.print(f"level-of-detail geometry built in {time.perf_counter() - t0:.1f} s")
    t = Table(title=f"demo seeded in {report.seconds:.1f} s")
    t.add_column("table")
    t.add_column("rows", justify="right")
    for k, v in report.counts.items():
        t.add_row(k, f"{v:,}")
    out.print(t)


# ----------------------------------------------------------------------------- lod

lod_app = typer.Typer(help="Level-of-detail geometry for the map.", no_args_is_help=True)
app.add_typer(lod_app, name="lod")


@lod_app.command("build")
@friendly
def lod_build() -> None:
    """(Re)build the pre-simplified per-zoom-band geometry (run after importing cells)."""
    import time

    from geodata.lod import build_lod

    eng = engine_for(get_settings())
    t0 = time.perf_counter()
    rows = build_lod(eng, progress=lambda m: out.print(m))
    out.print(f"built {sum(rows.values()):,} rows in {time.perf_counter() - t0:.1f} s")


# ----------------------------------------------------------------------------- check


@app.command("check")
@friendly
def check() -> None:
    """Integrity report: tiling, codes, levels, workers' cells, event attribution."""
    from geodata.checks import run_checks

    eng = engine_for(get_settings())
    with eng.connect() as conn:
        results = run_checks(conn)
    t = Table(title="Grid Command integrity report")
    for col in ("rule", "checked", "failures", "worst", "example"):
        t.add_column(col, justify="right" if col in ("checked", "failures") else "left")
    for r in results:
        t.add_row(
            ("[green]✓[/] " if r.ok else "[red]✗[/] ") + r.rule,
            f"{r.checked:,}",
            f"{r.failures:,}",
            "" if r.worst is None else f"{r.worst:.2e}",
            r.example or "",
        )
    out.print(t)
    failed = [r for r in results if not r.ok]
    if failed:
        _fail(f"{len(failed)} rule(s) failed")
    out.print(f"all {len(results)} rules passed")


@app.command("attribute")
@friendly
def attribute(
    lon: Annotated[float, typer.Argument(help="Longitude, WGS-84 degrees.")],
    lat: Annotated[float, typer.Argument(help="Latitude, WGS-84 degrees.")],
) -> None:
    """Print the six-level chain of cells containing a point."""
    from geodata.attribution import CoordinateError, attribute_point

    eng = engine_for(get_settings())
    with eng.connect() as conn:
        try:
            res = attribute_point(conn, lon, lat)
        except CoordinateError as exc:
            _fail(str(exc), code=2)
    if res is None:
        _fail(f"({lon}, {lat}) is outside the prefecture")
    for c in res.chain:
        out.print(f"L{c.level}  {c.code:<18} {c.name}")


# ----------------------------------------------------------------------------- token

token_app = typer.Typer(help="API tokens of grid workers (mobile app).", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
@friendly
def token_create(
    worker: Annotated[str, typer.Option("--worker", help="The worker's employee number.")],
    label: Annotated[str, typer.Option(help="A note, e.g. the phone's name.")] = "",
) -> None:
    """Create a bearer token for a worker; the token is printed once (only its hash is kept)."""
    from geodata.tokens import create_token, worker_id_for_employee

    eng = engine_for(get_settings())
    with eng.begin() as conn:
        worker_id = worker_id_for_employee(conn, worker)
        if worker_id is None:
            _fail(f"no worker with employee number {worker!r}")
        token_id, token = create_token(conn, worker_id, label)
    err.print(f"token {token_id} for {worker} (shown once; store it now):", highlight=False)
    out.print(token, highlight=False, soft_wrap=True)


@token_app.command("revoke")
@friendly
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (printed at creation).")],
) -> None:
    """Revoke a token by id."""
    from geodata.tokens import revoke_token

    eng = engine_for(get_settings())
    with eng.begin() as conn:
        if not revoke_token(conn, token_id):
            _fail(f"no active token with id {token_id}")
    out.print(f"token {token_id} revoked")


# ----------------------------------------------------------------------------- serve


@app.command("serve")
@friendly
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default from settings).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default 8050).")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Dash dev tools and reloader.")] = False,
) -> None:
    """Run the development server (use gunicorn in production; see the README)."""
    s = get_settings()
    engine = engine_for(s)
    from app import create_app

    dash_app = create_app(s, engine=engine)
    h, p = host or s.host, port or s.port
    out.print(f"Grid Command on http://{h}:{p}/  (Ctrl+C to stop)")
    dash_app.run(host=h, port=p, debug=debug or s.debug, dev_tools_disable_version_check=True)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)


if __name__ == "__main__":
    main()
