"""``gridcmd camera``: the camera inventory (视频资源) — import a CSV, load the demo
cameras, list them (docs/cameras.md)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gridcmd.cli.common import engine_for, err, fail, friendly, out, settings_of

app = typer.Typer(help="Camera inventory (视频资源): import and list.", no_args_is_help=True)


@app.command("import")
@friendly
def camera_import(
    ctx: typer.Context,
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

    eng = engine_for(settings_of(ctx))
    with eng.begin() as conn:
        report = import_cameras_csv(
            conn, file, replace=replace, synthetic=synthetic, partial=partial
        )
    for e in report.errors:  # file text is escaped: "[...]" in a name is not rich markup
        err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
    if report.errors and not report.written:
        fail(f"{len(report.errors)} error(s); nothing was imported")
    out.print(
        f"{report.rows:,} camera(s) valid: {report.inserted:,} new, {report.updated:,} updated, "
        f"{report.unchanged:,} unchanged, {report.deleted:,} deleted",
        highlight=False,
    )
    if report.errors:
        fail(f"{len(report.errors)} row(s) skipped")


@app.command("demo")
@friendly
def camera_demo(
    ctx: typer.Context,
    seed: Annotated[int | None, typer.Option(help="Random seed (default from settings).")] = None,
) -> None:
    """Load the synthetic demo cameras (2-4 per township; also done by `seed demo`)."""
    from geodata.demo.cameras import load_demo_cameras

    s = settings_of(ctx)
    with engine_for(s).begin() as conn:
        report = load_demo_cameras(conn, seed=s.demo_seed if seed is None else seed)
    if report.errors:
        fail(f"{len(report.errors)} error(s) in the demo cameras (is the grid seeded?)")
    out.print(f"{report.rows:,} demo camera(s): {report.inserted:,} new, "
              f"{report.updated:,} updated, {report.unchanged:,} unchanged")  # fmt: skip


@app.command("list")
@friendly
def camera_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=0, help="At most this many cameras.")] = 50,
) -> None:
    """List cameras (code, name, kind, cell, position) in id order."""
    from rich.text import Text

    from geodata.cameras import cameras_in_view, count_cameras
    from geodata.cells import PREFECTURE_PATH

    eng = engine_for(settings_of(ctx))
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
