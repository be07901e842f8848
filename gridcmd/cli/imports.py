"""``gridcmd import``: bring a region's own data in from files (docs/import.md).

``gridcmd import grids FILE --level N``: one level of grid boundaries (GeoJSON, zipped
Shapefile, GeoPackage, CSV with WKT), all rows or none. Notes and the topology report go to
stdout, one ``error: ...`` line per problem (row number and field) to stderr, exit 1 when
anything is wrong; ``--report FILE`` writes the topology findings as GeoJSON.

``gridcmd import workers FILE [--dry-run]``: the grid-worker roster (CSV or XLSX), all rows
or none, one ``error: row N, COLUMN: reason`` line per bad row; ``gridcmd import departments
FILE`` and ``gridcmd import residents FILE`` the same for departments and residents.
``gridcmd import template KIND --format csv|xlsx OUT``: an empty file with the Chinese
headers and an example row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from gridcmd.cli.common import engine_for, err, fail, friendly, out, settings_of

app = typer.Typer(help="Import a region's data from files (docs/import.md).", no_args_is_help=True)

#: Most topology findings printed (all of them go to --report).
MAX_PRINTED = 40


def _opt(help_: str):
    return typer.Option(help=help_, show_default=False)


@app.command("grids")
@friendly
def import_grids(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(help="GeoJSON, zipped Shapefile (.zip), .shp, GeoPackage or CSV with WKT."),
    ],
    level: Annotated[
        int, typer.Option("--level", min=1, max=6, help="1 prefecture … 6 micro-grid.")
    ],
    layer: Annotated[str | None, _opt("Layer (GeoPackage) or shapefile (ZIP) to read.")] = None,
    code_field: Annotated[
        str | None, _opt("Field with the cell code (default: recognised).")
    ] = None,
    name_field: Annotated[str | None, _opt("Field with the name (default: recognised).")] = None,
    parent_field: Annotated[
        str | None, _opt("Field with the parent's code (default: recognised, else by containment).")
    ] = None,
    population_field: Annotated[str | None, _opt("Field with the population.")] = None,
    wkt_field: Annotated[str | None, _opt("CSV: the WKT column (default: recognised).")] = None,
    encoding: Annotated[
        str | None, _opt("Attribute text encoding (default: .cpg, else UTF-8, else GB18030).")
    ] = None,
    crs: Annotated[
        str | None,
        _opt("The file's CRS (EPSG:4545, CGCS2000, CGCS2000-GK, WKT...); needed when it has none."),
    ] = None,
    from_gcj02: Annotated[
        bool, typer.Option("--from-gcj02", help="Remove the GCJ-02 offset (AMap/Tencent tiles).")
    ] = False,
    swap_xy: Annotated[bool, typer.Option("--swap-xy", help="The file has y before x.")] = False,
    report: Annotated[
        Path | None, _opt("Write the topology findings to this GeoJSON file.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and report; change nothing.")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the cells these parents already have.")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse when `gridcmd check` would fail on a parent.")
    ] = False,
) -> None:
    """Import one level of grid boundaries; all rows or none (docs/import.md)."""
    from geodata.grid_import import ImportOptions
    from geodata.grid_import import import_grids as run_import
    from gridcmd.vocab import LEVELS

    options = ImportOptions(
        level=level, layer=layer, code_field=code_field, name_field=name_field,
        parent_field=parent_field, population_field=population_field, wkt_field=wkt_field,
        encoding=encoding, crs=crs, from_gcj02=from_gcj02, swap_xy=swap_xy, replace=replace,
        dry_run=dry_run, strict=strict,
    )  # fmt: skip
    eng = engine_for(settings_of(ctx))
    res = run_import(
        eng, file, options, progress=lambda m: err.print(escape(m), highlight=False, soft_wrap=True)
    )
    for line in res.notes:
        out.print(escape(line), highlight=False, soft_wrap=True)
    topo = res.topology
    if topo is not None:
        slivers = sum(f.sliver for f in topo.findings)
        out.print(
            f"topology: {len(topo.findings)} finding(s) ({slivers} sliver(s)); "
            f"{topo.ignored} part(s) under 1 m² ignored",
            highlight=False,
            soft_wrap=True,
        )
        for f in topo.findings[:MAX_PRINTED]:
            out.print("  " + escape(f.describe()), highlight=False, soft_wrap=True)
        if len(topo.findings) > MAX_PRINTED:
            more = len(topo.findings) - MAX_PRINTED
            out.print(f"  ... {more} more" + (" (all in --report)" if report else ""))
    if report is not None:
        doc = topo.geojson() if topo is not None else {"type": "FeatureCollection", "features": []}
        try:
            report.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        except OSError as exc:
            fail(f"--report {report}: {exc.strerror or exc}")
        out.print(f"report: {report}", highlight=False, soft_wrap=True)
    for p in res.errors:
        err.print(f"[bold red]error:[/] {escape(str(p))}", highlight=False, soft_wrap=True)
    what = f"level {level} ({LEVELS[level].replace('_', '-')})"
    if res.errors:
        fail(f"{len(res.errors)} error(s); nothing was imported")
    counts = (f"{res.inserted:,} new, {res.updated:,} updated, {res.deleted:,} removed, "
              f"{res.events_reattributed:,} event(s) re-attributed")  # fmt: skip
    if dry_run:
        out.print(
            f"dry run: {what} would get {counts}; nothing was changed",
            highlight=False,
            soft_wrap=True,
        )
        return
    out.print(f"imported {what}: {counts}", highlight=False, soft_wrap=True)
    if res.lod_error:
        fail(res.lod_error)
    out.print(
        f"map geometry (LOD) rebuilt: {res.lod_rows:,} row(s)", highlight=False, soft_wrap=True
    )


#: Row errors printed by ``import workers`` (the count is always exact).
MAX_ROW_ERRORS = 200


def _report(res, dry_run: bool, what: str, counts: str) -> None:
    """Print the row errors (one line each) and exit 1, or the counts."""
    for p in res.errors[:MAX_ROW_ERRORS]:
        err.print(f"[bold red]error:[/] {escape(str(p))}", highlight=False, soft_wrap=True)
    if res.error_count > MAX_ROW_ERRORS:
        err.print(f"... {res.error_count - MAX_ROW_ERRORS} more error(s)", highlight=False)
    if res.error_count:
        fail(f"{res.error_count} error(s) in {res.rows:,} row(s); nothing was imported")
    if dry_run:
        out.print(f"dry run: {res.rows:,} {what} row(s) would give {counts}; nothing was changed",
                  highlight=False, soft_wrap=True)  # fmt: skip
    else:
        out.print(f"imported {res.rows:,} {what} row(s): {counts}", highlight=False,
                  soft_wrap=True)  # fmt: skip


def _run(ctx: typer.Context, fn, file: Path, dry_run: bool):
    from geodata.people_import import TableError

    eng = engine_for(settings_of(ctx))
    try:
        with eng.begin() as conn:
            return fn(conn, file, dry_run=dry_run)
    except TableError as exc:
        fail(escape(str(exc)))


_DRY_RUN = typer.Option("--dry-run", help="Check and report; change nothing.")


@app.command("workers")
@friendly
def import_workers(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV (UTF-8 or GB18030) or XLSX roster.")],
    dry_run: Annotated[bool, _DRY_RUN] = False,
) -> None:
    """Import grid workers (工号, 姓名, 手机号, 网格编码, 在岗状态); all rows or none."""
    from geodata.people_import import import_workers as run_import

    res = _run(ctx, run_import, file, dry_run)
    _report(res, dry_run, "worker",
            f"{res.inserted:,} new, {res.updated:,} updated ({res.moved:,} moved to another "
            f"cell), {res.unchanged:,} unchanged")  # fmt: skip


@app.command("departments")
@friendly
def import_departments(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV (UTF-8 or GB18030) or XLSX list.")],
    dry_run: Annotated[bool, _DRY_RUN] = False,
) -> None:
    """Import departments (单位编码, 单位名称, 单位类型, 负责网格编码, 经度, 纬度 ...)."""
    from geodata.people_import import import_departments as run_import

    res = _run(ctx, run_import, file, dry_run)
    _report(res, dry_run, "department", f"{res.inserted:,} new, {res.updated:,} updated")


@app.command("residents")
@friendly
def import_residents(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV (UTF-8 or GB18030) or XLSX list.")],
    dry_run: Annotated[bool, _DRY_RUN] = False,
) -> None:
    """Import residents (姓名, 身份证号, 手机号, 户号, 地址, 微网格编码); all rows or none."""
    from geodata.people_import import import_residents as run_import

    res = _run(ctx, run_import, file, dry_run)
    _report(res, dry_run, "resident", f"{res.inserted:,} new, {res.updated:,} updated")


@app.command("template")
@friendly
def import_template(
    kind: Annotated[
        str, typer.Argument(help="What the file holds: workers, departments or residents.")
    ],
    dest: Annotated[Path, typer.Argument(metavar="OUT", help="The template file to write.")],
    fmt: Annotated[str, typer.Option("--format", help="csv or xlsx.")] = "csv",
) -> None:
    """Write an empty import template (Chinese headers, one example row an import skips)."""
    from geodata.people_import import (
        department_template_rows,
        resident_template_rows,
        worker_template_rows,
        write_template,
    )

    kinds = {
        "workers": worker_template_rows,
        "departments": department_template_rows,
        "residents": resident_template_rows,
    }
    if kind not in kinds:
        raise ValueError(f"unknown kind {kind!r} (one of: {', '.join(kinds)})")
    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"unknown format {fmt!r} (csv or xlsx)")
    headers, example = kinds[kind]()
    try:
        write_template(dest, fmt, headers, example)
    except OSError as exc:
        fail(f"{dest}: {exc.strerror or exc}")
    out.print(f"template: {dest}", highlight=False, soft_wrap=True)
