"""``gridcmd check`` (the integrity report) and ``gridcmd attribute`` (a point's chain of
cells)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gridcmd.cli.common import engine_for, fail, friendly, out, settings_of


@friendly
def check(ctx: typer.Context) -> None:
    """Integrity report: tiling, codes, levels, workers' cells, event attribution."""
    from geodata.checks import run_checks

    eng = engine_for(settings_of(ctx))
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
        fail(f"{len(failed)} rule(s) failed")
    out.print(f"all {len(results)} rules passed")


@friendly
def attribute(
    ctx: typer.Context,
    lon: Annotated[float, typer.Argument(help="Longitude, WGS-84 degrees.")],
    lat: Annotated[float, typer.Argument(help="Latitude, WGS-84 degrees.")],
) -> None:
    """Print the six-level chain of cells containing a point."""
    from geodata.attribution import CoordinateError, attribute_point

    eng = engine_for(settings_of(ctx))
    with eng.connect() as conn:
        try:
            res = attribute_point(conn, lon, lat)
        except CoordinateError as exc:
            fail(str(exc), code=2)
    if res is None:
        fail(f"({lon}, {lat}) is outside the prefecture")
    for c in res.chain:
        out.print(f"L{c.level}  {c.code:<18} {c.name}")
