"""``gridcmd lod``: the pre-simplified per-zoom-band geometry the map draws."""

from __future__ import annotations

import typer

from gridcmd.cli.common import engine_for, friendly, out, settings_of

app = typer.Typer(help="Level-of-detail geometry for the map.", no_args_is_help=True)


@app.command("build")
@friendly
def lod_build(ctx: typer.Context) -> None:
    """(Re)build the pre-simplified per-zoom-band geometry (run after importing cells)."""
    import time

    from geodata.lod import build_lod

    eng = engine_for(settings_of(ctx))
    t0 = time.perf_counter()
    rows = build_lod(eng, progress=lambda m: out.print(m))
    out.print(f"built {sum(rows.values()):,} rows in {time.perf_counter() - t0:.1f} s")
