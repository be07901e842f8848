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
    from geodata.demo.cameras import load_demo_cameras  # synthetic cameras (geodata/cameras.py)

    with eng.begin() as conn:
        t.add_row(
            "camera",
            f"{load_demo_cameras(conn, seed=s.demo_seed if seed is None else seed).rows:,}",
        )
    from geodata.demo.residents import seed_residents  # a sample of residents (人口)

    res = seed_residents(eng, s.demo_seed if seed is None else seed, scale)
    t.add_row("resident (sample)", f"{res.rows:,}")
    from geodata.demo.roster import backfill_demo_roster  # assignments, training (模拟)

    with eng.begin() as conn:
        t.add_row("worker_training", f"{backfill_demo_roster(conn).attendances:,}")
    out.print(t)
    _write_demo_tokens(eng, s.var_dir / "demo_tokens.json")
    _seed_demo_accounts(eng)


def _seed_demo_accounts(eng) -> None:
    """Synthetic demo accounts, one per level and role (geodata/demo/accounts.py)."""
    from geodata.demo.accounts import DEMO_PASSWORD, seed_demo_accounts

    with eng.begin() as conn:
        made = seed_demo_accounts(conn)
    t = Table(title="demo accounts (模拟数据 / synthetic — DEMO ONLY)")
    for col in ("username", "role", "cell", "name"):
        t.add_column(col)
    for a in made:
        t.add_row(a.username, a.role, a.cell_code, a.display_name)
    out.print(t)
    out.print(f"password of every demo account: {DEMO_PASSWORD}  (DEMO ONLY)", highlight=False)


def _write_demo_tokens(eng, path) -> None:
    """Synthetic demo tokens (one gateway for the prefecture, ~200 on-duty workers) for the
    simulator, written to ``path`` with mode 0600."""
    import json
    import os

    from geodata.tokens import create_demo_tokens

    with eng.begin() as conn:
        tokens = create_demo_tokens(conn, n_workers=200, scope_code="532900", label="demo")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(tokens, fh, ensure_ascii=False, indent=1)
    os.chmod(path, 0o600)  # also when the file existed with wider permissions
    out.print(f"synthetic demo tokens (1 gateway, {len(tokens['workers'])} workers): {path}")


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
    worker: Annotated[
        str | None, typer.Option("--worker", help="The worker's employee number.")
    ] = None,
    gateway: Annotated[
        bool, typer.Option("--gateway", help="A gateway token (positions of many workers).")
    ] = False,
    scope: Annotated[
        str | None,
        typer.Option("--scope", help="With --gateway: code of the cell whose subtree it serves."),
    ] = None,
    label: Annotated[str, typer.Option(help="A note, e.g. the phone's name.")] = "",
) -> None:
    """Create a bearer token for a worker (--worker EMP_NO) or a gateway (--gateway --scope
    CELLCODE); the token is printed once (only its hash is kept)."""
    from geodata.tokens import (
        cell_id_for_code,
        create_gateway_token,
        create_token,
        worker_id_for_employee,
    )

    if gateway == (worker is not None):
        _fail("give exactly one of --worker EMP_NO or --gateway --scope CELLCODE", code=2)
    if gateway and not scope:
        _fail("--gateway needs --scope CELLCODE (e.g. 532900 for the whole prefecture)", code=2)
    if scope and not gateway:
        _fail("--scope is only for --gateway", code=2)
    eng = engine_for(get_settings())
    with eng.begin() as conn:
        if gateway:
            cell_id = cell_id_for_code(conn, scope)
            if cell_id is None:
                _fail(f"no cell with code {scope!r}")
            token_id, token = create_gateway_token(conn, cell_id, label)
            who = f"gateway of {scope}"
        else:
            worker_id = worker_id_for_employee(conn, worker)
            if worker_id is None:
                _fail(f"no worker with employee number {worker!r}")
            token_id, token = create_token(conn, worker_id, label)
            who = worker
    err.print(f"token {token_id} for {who} (shown once; store it now):", highlight=False)
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


# ----------------------------------------------------------------------------- user

user_app = typer.Typer(
    help="Dashboard accounts: add, list, disable, reset passwords, roles, TOTP policy.",
    no_args_is_help=True,
)
app.add_typer(user_app, name="user")


def _account_errors(fn: Callable) -> Callable:
    """AccountError (unknown user, weak password, bad role or cell ...) → one error line."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        from geodata.accounts import AccountError

        try:
            return fn(*args, **kwargs)
        except AccountError as exc:
            _fail(str(exc))

    return wrapper


def _now():
    import datetime as dt

    return dt.datetime.now(dt.UTC)


@user_app.command("add")
@friendly
@_account_errors
def user_add(
    username: Annotated[str, typer.Argument(help="Login name (no spaces).")],
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="admin, commander, dispatcher, supervisor, auditor, grid_worker, department.",
        ),
    ],
    cell: Annotated[
        str | None,
        typer.Option(
            "--cell",
            help="Code of the jurisdiction cell, e.g. 532901 (department: its unit's cell).",
        ),
    ] = None,
    display_name: Annotated[str, typer.Option("--display-name", help="Shown in the UI.")] = "",
    worker: Annotated[
        str | None, typer.Option("--worker", help="grid_worker only: the worker's employee number.")
    ] = None,
    department: Annotated[
        str | None,
        typer.Option("--department", help="department only: the unit's code, e.g. POL-532901001."),
    ] = None,
    can_unmask: Annotated[
        bool, typer.Option("--can-unmask", help="May ask to see one resident's full ID/phone.")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    must_change: Annotated[
        bool, typer.Option("--must-change/--no-must-change", help="Force a change at first login.")
    ] = True,
) -> None:
    """Create an account (the password is prompted twice, or read with --password-stdin)."""
    from geodata.accounts import check_password_policy, create_account
    from geodata.security_log import log_security
    from geodata.tokens import worker_id_for_employee

    _check_department_option(role, department)
    if cell is None and department is None:
        _fail("--cell is required: the code of the jurisdiction cell", code=2)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    problems = check_password_policy(password, username)
    if problems:
        _fail(problems[0])
    eng = engine_for(get_settings())
    with eng.begin() as conn:
        worker_id = None
        if worker is not None:
            worker_id = worker_id_for_employee(conn, worker)
            if worker_id is None:
                _fail(f"no worker with employee number {worker!r}")
        department_id, cell = _department_option(conn, department, cell)
        account_id = create_account(
            conn, username, display_name, role, cell, password, can_unmask=can_unmask,
            worker_id=worker_id, must_change_password=must_change, department_id=department_id,
        )  # fmt: skip
        log_security(conn, "account_change", account_id=account_id, username=username,
                     detail=f"created by CLI: role {role} cell {cell}")  # fmt: skip
    out.print(f"account {username} ({role} of {cell}) created", highlight=False)


def _check_department_option(role: str, department: str | None) -> None:
    """``--role department`` needs ``--department CODE``; no other role takes one (exit 2)."""
    if role == "department" and not department:
        _fail("--role department needs --department CODE (the unit's code, e.g. POL-532901001)",
              code=2)  # fmt: skip
    if role != "department" and department:
        _fail("--department is only for --role department", code=2)


def _department_option(conn, department: str | None, cell: str | None):
    """(department id, jurisdiction cell code) for ``--department CODE``: the unit's cell is
    the account's jurisdiction (``--cell`` may repeat it). Without a department: (None,
    ``cell``)."""
    from geodata.departments import department_for_code

    if not department:
        return None, cell
    dep = department_for_code(conn, department)
    if dep is None:
        _fail(f"no department with code {department!r}")
    if cell is not None and cell != dep["cell_code"]:
        _fail(f"a department account's jurisdiction is its unit's cell {dep['cell_code']}, "
              f"not {cell}")  # fmt: skip
    return dep["id"], dep["cell_code"]


@user_app.command("list")
@friendly
def user_list(
    cell: Annotated[
        str | None, typer.Option("--cell", help="Only accounts within this cell's subtree.")
    ] = None,
) -> None:
    """List accounts (optionally those whose jurisdiction lies within --cell)."""
    from sqlalchemy import text

    eng = engine_for(get_settings())
    with eng.connect() as conn:
        if (
            cell is not None
            and not conn.execute(
                text("SELECT 1 FROM grid_cell WHERE code = :c"), {"c": cell}
            ).first()
        ):
            _fail(f"no cell with code {cell!r}")
        rows = conn.execute(
            text(
                """
                SELECT a.username, a.display_name, a.role, c.code, a.active, a.synthetic,
                       a.must_change_password, a.totp_secret IS NOT NULL AS totp,
                       a.locked_until > now() AS locked
                FROM account a JOIN grid_cell c ON c.id = a.jurisdiction_cell_id
                WHERE CAST(:cell AS text) IS NULL
                   OR c.path <@ (SELECT path FROM grid_cell WHERE code = :cell)
                ORDER BY c.path, a.role, a.username
                """
            ),
            {"cell": cell},
        ).all()
    t = Table(title=f"{len(rows)} accounts")
    t.add_column("username", no_wrap=True)
    for col in ("name", "role", "cell", "state", "flags"):
        t.add_column(col)
    for r in rows:
        state = "disabled" if not r.active else ("locked" if r.locked else "active")
        flags = ", ".join(
            f for f, on in (("synthetic", r.synthetic), ("must change password",
                            r.must_change_password), ("totp", r.totp)) if on
        )  # fmt: skip
        t.add_row(r.username, r.display_name, r.role, r.code, state, flags)
    out.print(t)


@user_app.command("disable")
@friendly
@_account_errors
def user_disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable an account and end its sessions."""
    from geodata.accounts import disable

    with engine_for(get_settings()).begin() as conn:
        disable(conn, username, now=_now())
    out.print(f"account {username} disabled; its sessions ended", highlight=False)


@user_app.command("reset-password")
@friendly
@_account_errors
def user_reset_password(username: Annotated[str, typer.Argument()]) -> None:
    """Set a one-time temporary password (printed once) that must be changed at next login."""
    from geodata.accounts import reset_password

    with engine_for(get_settings()).begin() as conn:
        temporary = reset_password(conn, username, now=_now())
    err.print(f"temporary password of {username} (shown once; must be changed at login):",
              highlight=False)  # fmt: skip
    out.print(temporary, highlight=False, soft_wrap=True)


@user_app.command("set-role")
@friendly
@_account_errors
def user_set_role(
    username: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option("--role", help="The new role.")],
    cell: Annotated[
        str | None, typer.Option("--cell", help="A new jurisdiction cell code (optional).")
    ] = None,
    department: Annotated[
        str | None,
        typer.Option("--department", help="department only: the unit's code, e.g. POL-532901001."),
    ] = None,
) -> None:
    """Change an account's role (and jurisdiction); its sessions end."""
    from geodata.accounts import set_role

    _check_department_option(role, department)
    with engine_for(get_settings()).begin() as conn:
        department_id, cell = _department_option(conn, department, cell)
        set_role(conn, username, role, jurisdiction_code=cell, now=_now(),
                 department_id=department_id)  # fmt: skip
    out.print(f"account {username}: role {role}" + (f", cell {cell}" if cell else ""),
              highlight=False)  # fmt: skip


@user_app.command("require-totp")
@friendly
@_account_errors
def user_require_totp(
    role: Annotated[str, typer.Argument(help="The role the policy applies to.")],
    state: Annotated[str, typer.Argument(help="on or off")],
) -> None:
    """Require (on) or stop requiring (off) a second factor (TOTP) for every account of ROLE."""
    from geodata.accounts import set_totp_required

    if state not in ("on", "off"):
        _fail("the state is on or off", code=2)
    with engine_for(get_settings()).begin() as conn:
        set_totp_required(conn, role, state == "on")
    required = "required" if state == "on" else "optional"
    out.print(f"two-factor authentication for {role}: {required}", highlight=False)


# ----------------------------------------------------------------------------- camera

camera_app = typer.Typer(help="Camera inventory (视频资源): import and list.", no_args_is_help=True)
app.add_typer(camera_app, name="camera")


@camera_app.command("import")
@friendly
def camera_import(
    file: Annotated[
        typer.FileBinaryRead, typer.Argument(help="CSV: code,name,lon,lat,stream_url[,crs][,kind]")
    ],
    replace: Annotated[
        bool, typer.Option("--replace", help="Delete cameras whose code is not in the file.")
    ] = False,
    synthetic: Annotated[
        bool, typer.Option("--synthetic", help="Mark the rows as demo data.")
    ] = False,
    partial: Annotated[
        bool, typer.Option("--partial", help="Write the valid rows even if others have errors.")
    ] = False,
) -> None:
    """Import cameras from a CSV (UTF-8); all-or-nothing unless --partial, upsert by code."""
    from rich.markup import escape

    from geodata.cameras import import_cameras_csv

    eng = engine_for(get_settings())
    with eng.begin() as conn:
        report = import_cameras_csv(
            conn, file, replace=replace, synthetic=synthetic, partial=partial
        )
    for e in report.errors:  # file text is escaped: "[...]" in a name is not rich markup
        err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
    if report.errors and not report.written:
        _fail(f"{len(report.errors)} error(s); nothing was imported")
    out.print(
        f"{report.rows:,} camera(s) valid: {report.inserted:,} new, {report.updated:,} updated, "
        f"{report.unchanged:,} unchanged, {report.deleted:,} deleted",
        highlight=False,
    )
    if report.errors:
        _fail(f"{len(report.errors)} row(s) skipped")


@camera_app.command("demo")
@friendly
def camera_demo(
    seed: Annotated[int | None, typer.Option(help="Random seed (default from settings).")] = None,
) -> None:
    """Load the synthetic demo cameras (2-4 per township; also done by `seed demo`)."""
    from geodata.demo.cameras import load_demo_cameras

    s = get_settings()
    with engine_for(s).begin() as conn:
        report = load_demo_cameras(conn, seed=s.demo_seed if seed is None else seed)
    if report.errors:
        _fail(f"{len(report.errors)} error(s) in the demo cameras (is the grid seeded?)")
    out.print(f"{report.rows:,} demo camera(s): {report.inserted:,} new, "
              f"{report.updated:,} updated, {report.unchanged:,} unchanged")  # fmt: skip


@camera_app.command("list")
@friendly
def camera_list(
    limit: Annotated[int, typer.Option(min=0, help="At most this many cameras.")] = 50,
) -> None:
    """List cameras (code, name, kind, cell, position) in id order."""
    from rich.text import Text

    from geodata.cameras import cameras_in_view, count_cameras
    from geodata.cells import PREFECTURE_PATH

    eng = engine_for(get_settings())
    with eng.connect() as conn:
        rows = cameras_in_view(conn, PREFECTURE_PATH, None, limit)
        total = count_cameras(conn, PREFECTURE_PATH)
    t = Table(title=f"cameras: {len(rows):,} of {total:,}")
    for col in ("code", "name", "kind", "cell", "lon", "lat"):
        t.add_column(col, justify="right" if col in ("lon", "lat") else "left", overflow="fold")
    for r in rows:
        cells = (r["code"], r["name"], r["kind"], r["cell_code"], f"{r['lon']:.6f}",
                 f"{r['lat']:.6f}")  # fmt: skip
        t.add_row(*(Text(c) for c in cells))  # Text: names are never rich markup
    out.print(t, highlight=False)


# ----------------------------------------------------------------------------- audit

audit_app = typer.Typer(help="The tamper-evident audit trail of event history.",
                        no_args_is_help=True)  # fmt: skip
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
@friendly
def audit_verify() -> None:
    """Walk the event history's hash chain; exit 1 naming the first altered or missing row."""
    from geodata.audit import verify_chain

    eng = engine_for(get_settings())
    with eng.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        report = verify_chain(conn)
    if not report.ok:
        _fail(report.message)
    out.print(report.message, highlight=False)
    if report.head_id is not None:
        out.print(f"head: row {report.head_id} {report.head_hash}", highlight=False)


# ----------------------------------------------------------------------------- simulate


@app.command("simulate")
@friendly
def simulate(
    workers: Annotated[int, typer.Option(min=1, max=100_000, help="On-duty workers.")] = 100,
    rate: Annotated[
        float, typer.Option(min=0.1, max=60, help="Fixes per worker per minute (≤ 60).")
    ] = 6.0,
    duration: Annotated[float, typer.Option(min=1, help="Seconds to run (Ctrl-C stops).")] = 60,
    base_url: Annotated[str, typer.Option(help="The server.")] = "http://127.0.0.1:8050",
    tokens: Annotated[
        str | None, typer.Option(help="Tokens file (default var/demo_tokens.json).")
    ] = None,
    events_per_min: Annotated[
        float, typer.Option(min=0, help="Events of the whole fleet per minute.")
    ] = 6.0,
    photos_every: Annotated[int, typer.Option(min=0, help="A photo every K events (0: none).")] = 5,
    seed: Annotated[int | None, typer.Option(help="Random seed (reproducible walks).")] = None,
) -> None:
    """Drive the HTTP API like a fleet of phones: positions through the gateway token, events,
    photos and check-ins with worker tokens (synthetic data, tagged [模拟数据])."""
    from pathlib import Path

    from gridcmd.simulate import (
        SimConfig,
        load_tokens,
        preflight,
        run_simulation,
        summary_rows,
    )

    s = get_settings()
    path = Path(tokens) if tokens else s.var_dir / "demo_tokens.json"
    if not path.exists():
        _fail(f"no tokens file {path}: run `gridcmd seed demo` or pass --tokens FILE")
    cfg = SimConfig(workers=workers, rate=rate, duration=duration, base_url=base_url,
                    tokens=path, events_per_min=events_per_min, photos_every=photos_every,
                    seed=seed)  # fmt: skip
    eng = engine_for(s)
    try:  # before any traffic: the server answers and knows the tokens
        tokens_data = load_tokens(path)
        preflight(base_url, tokens_data)
    except ValueError as exc:
        _fail(str(exc))
    err.print(f"simulating {workers:,} workers at {rate:g} fixes/min against {base_url} "
              f"for {duration:g} s (Ctrl-C to stop)", highlight=False)  # fmt: skip

    shown = [-1]

    def progress(elapsed, st) -> None:
        if int(elapsed) // 10 > shown[0]:
            shown[0] = int(elapsed) // 10
            err.print(f"  {elapsed:5.0f} s  fixes {st.fixes_accepted:,}/{st.fixes_sent:,}  "
                      f"events {st.created['events']:,}", highlight=False)  # fmt: skip

    stats = run_simulation(cfg, eng, tokens_data, progress=progress)
    t = Table(title="simulation summary")
    t.add_column("measure")
    t.add_column("value")
    for k, v in summary_rows(stats):
        t.add_row(k, v)
    out.print(t)


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
    h, p = host or s.host, port or s.port
    if (debug or s.debug) and h not in ("127.0.0.1", "localhost", "::1"):
        # Werkzeug's debugger runs arbitrary code for whoever reaches it: loopback only.
        _fail(f"refusing debug mode on {h}: the debugger is for 127.0.0.1 only", code=2)
    engine = engine_for(s)
    from app import create_app

    dash_app = create_app(s, engine=engine)
    out.print(f"Grid Command on http://{h}:{p}/  (Ctrl+C to stop)")
    dash_app.run(host=h, port=p, debug=debug or s.debug, dev_tools_disable_version_check=True)


# Commands defined in their own modules.
from gridcmd.cli_cases import register as _register_cases  # noqa: E402

_register_cases(app, friendly)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)


if __name__ == "__main__":
    main()
