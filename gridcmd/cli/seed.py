"""``gridcmd seed``: the deterministic Dali demo (grid, workers, events, cameras, residents,
roster, demo tokens and accounts)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gridcmd.cli.common import engine_for, err, fail, friendly, out, settings_of

app = typer.Typer(help="Load data sets.", no_args_is_help=True)


@app.command("demo")
@friendly
def seed_demo(
    ctx: typer.Context,
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

    s = settings_of(ctx)
    eng = engine_for(s)
    if migrate.current_revision(eng) != migrate.head_revision(eng):
        fail("the database is not migrated: run `gridcmd db migrate` first")
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


def _write_demo_tokens(eng, path: Path) -> None:
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
