"""Export the cells of a subtree with their statistics: GeoJSON, GeoPackage, zipped Shapefile
or CSV with WKT (docs/import.md, "Export"; the import reads all four back).

One row per cell of the subtree of ``code`` (the cell itself and its descendants, or only the
``levels`` asked for), ordered by level then code, inside the caller's scope (``path <@
scope_path``: a cell outside it is indistinguishable from an unknown one). Columns, the same
in every format and at most 10 characters long (a Shapefile's limit):

========== ==================================================================
code       the cell code
name       the name
level      1 prefecture … 6 micro-grid
parent     the parent's code ('' for a level-1 cell)
population residents (the cell's own figure)
households households
open_evts  open events (:data:`gridcmd.vocab.OPEN_STATUSES`) in the cell's subtree
workers    active grid workers assigned to the cell or a cell below it
area_km2   area in km² (ellipsoidal, as stored)
========== ==================================================================

Geometry: EPSG:4326 (lon/lat), MultiPolygon, full double precision (GeoJSON and CSV write
each coordinate as the shortest text that reads back as the same double). Formats:

* ``geojson``: RFC 7946 FeatureCollection, UTF-8.
* ``gpkg``: one layer ``cells``.
* ``shp``: a ZIP of ``cells.shp/.shx/.dbf/.prj`` and a ``.cpg`` saying ``UTF-8``, so Chinese
  names survive any reader that honours it (the import does).
* ``csv``: UTF-8 with a byte-order mark, CRLF line ends, the geometry as WKT in the last
  column ``WKT``; every text cell through :func:`geodata.safe_text.guard_formula` (a name that
  starts with ``=`` gets a leading ``'``). No CRS in the file: import it with ``--crs EPSG:4326``.

Memory stays bounded: rows come from a server-side cursor in batches of :data:`BATCH` and
are appended to the file batch by batch (pyogrio), so a prefecture's 43,729 micro-grids never
sit in memory at once. The file is written beside ``dest`` and renamed into place at the end,
so a failed export leaves no half file.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.cells import check_scope_path
from geodata.safe_text import guard_formula
from gridcmd.vocab import CELL_CODE_RE, OPEN_STATUSES

__all__ = [
    "BATCH",
    "COLUMNS",
    "FORMATS",
    "MEDIA_TYPES",
    "SUFFIXES",
    "ExportError",
    "export_cells",
    "root_scope",
]

#: The formats and the suffix of their file.
SUFFIXES = {"geojson": ".geojson", "gpkg": ".gpkg", "shp": ".zip", "csv": ".csv"}
FORMATS = tuple(SUFFIXES)
#: Content types of the formats (for a download).
MEDIA_TYPES = {
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
    "shp": "application/zip",
    "csv": "text/csv; charset=utf-8",
}
#: The attribute columns, in order (the geometry follows).
COLUMNS = ("code", "name", "level", "parent", "population", "households", "open_evts",
           "workers", "area_km2")  # fmt: skip
_TEXT = {"code", "name", "parent"}
_INT = {"level", "population", "households", "open_evts", "workers"}
#: Rows per round trip and per append.
BATCH = 2_000
#: The layer name (GeoPackage) and member name (Shapefile).
LAYER = "cells"


class ExportError(ValueError):
    """The export cannot be made as asked (unknown cell, bad level or format); the message
    says why in one line."""


# Counts are made per counted cell once, then added to every ancestor through the path's
# labels (a path is the ltree of codes), so each exported cell gets its subtree's totals
# without a join per cell. Both are MATERIALIZED: inlined, a level filter made the planner
# re-run their aggregation per exported cell (43,729 micro-grids: 34 s instead of 2 s).
_CELLS = text(
    """
    WITH root AS (
        SELECT c.path FROM grid_cell AS c
        WHERE c.code = :code AND c.path <@ CAST(:scope AS ltree)
    ),
    ev AS MATERIALIZED (
        SELECT a.code, sum(x.n)::int AS n
        FROM (SELECT e.cell_id, count(*) AS n FROM event AS e
              WHERE e.status = ANY(:open) GROUP BY e.cell_id) AS x
        JOIN grid_cell AS g ON g.id = x.cell_id, root,
             unnest(string_to_array(ltree2text(g.path), '.')) AS a(code)
        WHERE g.path <@ root.path
        GROUP BY a.code
    ),
    wk AS MATERIALIZED (
        SELECT a.code, sum(x.n)::int AS n
        FROM (SELECT w.cell_id, count(*) AS n FROM grid_worker AS w
              WHERE w.active GROUP BY w.cell_id) AS x
        JOIN grid_cell AS g ON g.id = x.cell_id, root,
             unnest(string_to_array(ltree2text(g.path), '.')) AS a(code)
        WHERE g.path <@ root.path
        GROUP BY a.code
    )
    SELECT c.code, c.name, c.level, coalesce(p.code, '') AS parent, c.population,
           c.households, coalesce(ev.n, 0) AS open_evts, coalesce(wk.n, 0) AS workers,
           c.area_km2, ST_AsBinary(c.geom) AS wkb
    FROM grid_cell AS c JOIN root ON c.path <@ root.path
    LEFT JOIN grid_cell AS p ON p.id = c.parent_id
    LEFT JOIN ev ON ev.code = c.code
    LEFT JOIN wk ON wk.code = c.code
    WHERE (CAST(:levels AS int[]) IS NULL OR c.level = ANY(CAST(:levels AS int[])))
    ORDER BY c.level, c.code
    """
)
_EXISTS = text("SELECT 1 FROM grid_cell WHERE code = :code AND path <@ CAST(:scope AS ltree)")
_ROOT_SCOPE = text("SELECT subpath(path, 0, 1)::text FROM grid_cell WHERE code = :code")


def root_scope(conn: Connection, code: str) -> str | None:
    """The scope path of the whole tree that holds ``code`` (its level-1 ancestor's path), for
    an operator with no jurisdiction of their own (the CLI); None when ``code`` is unknown."""
    return conn.execute(_ROOT_SCOPE, {"code": code}).scalar_one_or_none()


def _check(code: str, levels: Sequence[int] | None, fmt: str) -> list[int] | None:
    if fmt not in SUFFIXES:
        raise ExportError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if not isinstance(code, str) or not CELL_CODE_RE.fullmatch(code):
        raise ExportError(f"not a cell code: {code!r}")
    if not levels:
        return None
    bad = [v for v in levels if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 6]
    if bad:
        raise ExportError(f"level must be an integer from 1 to 6, not {bad[0]!r}")
    return sorted(set(levels))


def _batches(conn: Connection, params: dict[str, Any]) -> Iterator[list[Any]]:
    # Options on this statement only (Connection.execution_options would change the caller's
    # connection for every later statement too).
    result = conn.execute(_CELLS, params, execution_options={"yield_per": BATCH})
    yield from result.partitions(BATCH)


def export_cells(
    conn: Connection,
    *,
    scope_path: str,
    code: str,
    fmt: str,
    dest: str | os.PathLike[str],
    levels: Sequence[int] | None = None,
) -> int:
    """Write the cells of ``code``'s subtree (only ``levels``, if given) inside ``scope_path``
    to ``dest`` in ``fmt`` (see the module doc); return the number of cells written.

    Raises :class:`ExportError` for a malformed code, level or format, and for a cell that
    is unknown or outside the scope (the same message for both). An existing ``dest`` is
    replaced only once the new file is complete."""
    levels_ = _check(code, levels, fmt)
    scope = check_scope_path(scope_path)
    if conn.execute(_EXISTS, {"code": code, "scope": scope}).first() is None:
        raise ExportError(f"no cell {code} in your jurisdiction")
    params = {"code": code, "scope": scope, "open": list(OPEN_STATUSES), "levels": levels_}
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".export-") as work:
        tmp = Path(work) / f"{LAYER}{SUFFIXES[fmt] if fmt != 'shp' else '.shp'}"
        if fmt == "csv":
            n = _write_csv(_batches(conn, params), tmp)
        elif fmt == "geojson":
            n = _write_geojson(_batches(conn, params), tmp)
        else:
            n = _write_ogr(_batches(conn, params), tmp, fmt)
        if fmt == "shp":
            tmp = _zip_shapefile(tmp)
        os.replace(tmp, dest)
    return n


def _columns(rows: list[Any]) -> tuple[np.ndarray, list[np.ndarray]]:
    geoms = np.array([bytes(r.wkb) for r in rows], dtype=object)
    values = []
    for name in COLUMNS:
        col = [getattr(r, name) for r in rows]
        if name in _TEXT:
            values.append(np.array(col, dtype=object))
        elif name in _INT:
            values.append(np.array(col, dtype=np.int64))
        else:
            values.append(np.array(col, dtype=np.float64))
    return geoms, values


_DRIVERS = {"geojson": "GeoJSON", "gpkg": "GPKG", "shp": "ESRI Shapefile"}


def _write_ogr(batches: Iterator[list[Any]], path: Path, fmt: str) -> int:
    """Append the batches to ``path`` with pyogrio (raw arrays: no GeoDataFrame)."""
    n = 0
    for rows in batches:
        geoms, values = _columns(rows)
        pyogrio.raw.write(
            str(path), geoms, values, list(COLUMNS), driver=_DRIVERS[fmt], layer=LAYER,
            geometry_type="MultiPolygon", crs="EPSG:4326", encoding="UTF-8",
            append=n > 0, promote_to_multi=True,
        )  # fmt: skip
        n += len(rows)
    if n == 0:  # an empty subtree (only missing levels asked for): an empty layer still
        empty = np.array([], dtype=object)
        pyogrio.raw.write(
            str(path), empty, [np.array([], dtype=object if c in _TEXT else np.float64)
                               for c in COLUMNS],
            list(COLUMNS), driver=_DRIVERS[fmt], layer=LAYER, geometry_type="MultiPolygon",
            crs="EPSG:4326", encoding="UTF-8",
        )  # fmt: skip
    return n


def _zip_shapefile(shp: Path) -> Path:
    """The Shapefile's parts in one ZIP, with a ``.cpg`` saying UTF-8 (written if the driver
    did not)."""
    cpg = shp.with_suffix(".cpg")
    if not cpg.exists():
        cpg.write_text("UTF-8", encoding="ascii")
    out = shp.with_suffix(".zip")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for ext in ("shp", "shx", "dbf", "prj", "cpg"):
            part = shp.with_suffix(f".{ext}")
            if part.exists():
                zf.write(part, part.name)
    return out


def _write_geojson(batches: Iterator[list[Any]], path: Path) -> int:
    """An RFC 7946 FeatureCollection written feature by feature. GDAL's GeoJSON driver
    re-reads the whole file on every append (43,729 micro-grids: 13 s against 2 s); GEOS
    writes the coordinates (shapely.to_geojson: the shortest text that reads back as the
    same double)."""
    n = 0
    with path.open("w", encoding="utf-8") as f:
        f.write('{"type":"FeatureCollection","features":[')
        for rows in batches:
            geoms = shapely.to_geojson(shapely.from_wkb([bytes(r.wkb) for r in rows]))
            for r, g in zip(rows, geoms, strict=True):
                props = json.dumps({c: getattr(r, c) for c in COLUMNS}, ensure_ascii=False)
                f.write(f'{"," if n else ""}\n{{"type":"Feature","properties":{props},'
                        f'"geometry":{g}}}')  # fmt: skip
                n += 1
        f.write("\n]}\n")
    return n


def _cell(name: str, value: Any) -> Any:
    if name in _TEXT:
        return guard_formula(value or "")
    return value


def _write_csv(batches: Iterator[list[Any]], path: Path) -> int:
    """BOM, header, one line per cell (text guarded), WKT last; CRLF line ends."""
    n = 0
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow([*COLUMNS, "WKT"])
        for rows in batches:
            wkt = shapely.to_wkt(
                shapely.from_wkb([bytes(r.wkb) for r in rows]), rounding_precision=-1
            )
            writer.writerows(
                [*(_cell(c, getattr(r, c)) for c in COLUMNS), w]
                for r, w in zip(rows, wkt, strict=True)
            )
            n += len(rows)
    return n
