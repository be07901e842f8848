"""``gridcmd export``: a subtree of cells with their statistics to a file (docs/import.md,
"Export"; ``gridcmd import grids`` reads every format back).

``gridcmd export grids --cell CODE [--level N ...] --format geojson|gpkg|shp|csv OUT``. The
command line is an operator's tool with no jurisdiction of its own: the scope is the whole
tree that holds ``CODE``. One ``error: ...`` line and exit 1 for an unknown cell or an
unwritable file; bad arguments print the usage (exit 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from gridcmd.cli.common import engine_for, fail, friendly, out, settings_of

app = typer.Typer(help="Export cells with their statistics (docs/import.md).",
                  no_args_is_help=True)  # fmt: skip


def _format(value: str) -> str:
    from geodata.grid_export import FORMATS

    value = value.lower()
    if value not in FORMATS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(FORMATS)}")
    return value


@app.command("grids")
@friendly
def export_grids(
    ctx: typer.Context,
    out_file: Annotated[Path, typer.Argument(metavar="OUT", help="The file to write.")],
    cell: Annotated[str, typer.Option("--cell", help="The subtree's root cell code.")],
    fmt: Annotated[
        str,
        typer.Option("--format", callback=_format, help="geojson, gpkg, shp (zipped) or csv."),
    ],
    level: Annotated[
        list[int] | None,
        typer.Option("--level", min=1, max=6, help="Only this level (repeatable); default all."),
    ] = None,
) -> None:
    """Export a cell's subtree (code, name, level, parent, population, households, open
    events, workers, area) with geometry; import it back with `gridcmd import grids`."""
    from geodata.grid_export import ExportError, export_cells, root_scope

    eng = engine_for(settings_of(ctx))
    try:
        with eng.connect() as conn:
            scope = root_scope(conn, cell)
            if scope is None:
                fail(f"no cell {escape(cell)}")
            n = export_cells(conn, scope_path=scope, code=cell, fmt=fmt, dest=out_file,
                             levels=level)  # fmt: skip
    except ExportError as exc:
        fail(escape(str(exc)))
    except OSError as exc:
        fail(f"{escape(str(out_file))}: {escape(exc.strerror or str(exc))}")
    out.print(f"exported {n:,} cell(s) to {escape(str(out_file))}", highlight=False,
              soft_wrap=True)  # fmt: skip
