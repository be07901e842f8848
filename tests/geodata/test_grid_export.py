"""geodata.grid_export against the demo fixture: the four formats read back with pyogrio,
the statistics equal the side panel's (geodata.stats.cell_summary), the scope, the levels,
the CSV's BOM and formula guard, the Shapefile's .cpg and field names."""

from __future__ import annotations

import csv
import zipfile

import pyogrio
import pytest
import shapely
from sqlalchemy import text

from geodata.grid_export import COLUMNS, FORMATS, SUFFIXES, ExportError, export_cells
from geodata.stats import cell_summary

ROOT = "532900"


@pytest.fixture()
def township(conn) -> str:
    return conn.execute(
        text("SELECT code FROM grid_cell WHERE level = 3 AND code LIKE '532901%' ORDER BY code")
    ).scalar()


def same_shape(a, b, tolerance: float = 1e-9) -> bool:
    """The same polygons within ``tolerance`` degrees: as many vertices, none farther than
    that from the other shape's (a Shapefile reads a one-part MultiPolygon back as a Polygon,
    with its rings in its own orientation and starting vertex)."""
    return bool(
        shapely.get_num_coordinates(a) == shapely.get_num_coordinates(b)
        and shapely.get_num_geometries(a) == shapely.get_num_geometries(b)
        and shapely.hausdorff_distance(a, b) <= tolerance
    )


def _read(path, fmt):
    if fmt == "csv":
        df = pyogrio.read_dataframe(path, encoding="utf-8")
        df["geometry"] = shapely.from_wkt(df.pop("WKT"))
        return df
    return pyogrio.read_dataframe(f"/vsizip/{path}/cells.shp" if fmt == "shp" else path)


@pytest.mark.parametrize("fmt", FORMATS)
def test_subtree_with_statistics(conn, township, tmp_path, fmt):
    dest = tmp_path / f"out{SUFFIXES[fmt]}"
    n = export_cells(conn, scope_path=ROOT, code=township, fmt=fmt, dest=dest)
    df = _read(dest, fmt)
    assert len(df) == n
    assert list(df.columns[: len(COLUMNS)]) == list(COLUMNS)
    cells = conn.execute(
        text("SELECT c.code, c.name, c.level, p.code AS parent, c.population"
             " FROM grid_cell c JOIN grid_cell p ON p.id = c.parent_id"
             " WHERE c.path <@ (SELECT path FROM grid_cell WHERE code = :c)"
             " ORDER BY c.level, c.code"),
        {"c": township},
    ).all()  # fmt: skip
    assert n == len(cells) > 10
    assert [str(v) for v in df["code"]] == [r.code for r in cells]
    assert list(df["name"]) == [r.name for r in cells]  # Chinese text intact
    assert [str(v) for v in df["parent"]] == [r.parent for r in cells]
    assert [int(v) for v in df["level"]] == [r.level for r in cells]
    assert [int(v) for v in df["population"]] == [r.population for r in cells]
    # the statistics are the side panel's (open events, workers over the subtree)
    for i in (0, 1, len(df) - 1):
        s = cell_summary(conn, scope_path=ROOT, code=str(df["code"][i]))
        assert int(df["open_evts"][i]) == s["events_open"]
        assert int(df["workers"][i]) == s["workers"]
    assert int(df["open_evts"][0]) > 0 and int(df["workers"][0]) > 0
    geom = conn.execute(text("SELECT ST_AsBinary(geom) FROM grid_cell WHERE code = :c"),
                        {"c": township}).scalar_one()  # fmt: skip
    assert same_shape(shapely.from_wkb(bytes(geom)), df.geometry[0])


def test_levels_and_scope(conn, township, tmp_path):
    dest = tmp_path / "l5.geojson"
    n = export_cells(conn, scope_path=ROOT, code=township, fmt="geojson", dest=dest, levels=[5])
    assert set(pyogrio.read_dataframe(dest)["level"]) == {5} and n > 0
    # the streamed read leaves the caller's connection as it was (a later write works)
    conn.execute(text("CREATE TEMP TABLE after_export (x int)"))
    other = conn.execute(
        text("SELECT code FROM grid_cell WHERE level = 2 AND code <> '532901' ORDER BY code")
    ).scalar()
    with pytest.raises(ExportError, match="jurisdiction"):
        export_cells(conn, scope_path=f"{ROOT}.{other}", code=township, fmt="csv",
                     dest=tmp_path / "x.csv")  # fmt: skip
    assert not (tmp_path / "x.csv").exists()
    for bad in ({"code": "x"}, {"fmt": "kml"}, {"levels": [7]}):
        with pytest.raises(ExportError):
            export_cells(conn, **{"scope_path": ROOT, "code": township, "fmt": "csv",
                                  "dest": tmp_path / "y.csv", **bad})  # fmt: skip


def test_csv_bom_and_formula_guard(conn, township, tmp_path):
    conn.execute(text("UPDATE grid_cell SET name = '=HYPERLINK(1)' WHERE code = :c"),
                 {"c": township})  # fmt: skip
    dest = tmp_path / "c.csv"
    export_cells(conn, scope_path=ROOT, code=township, fmt="csv", dest=dest, levels=[3])
    raw = dest.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0] == [*COLUMNS, "WKT"]
    assert rows[1][1] == "'=HYPERLINK(1)" and rows[1][-1].startswith("MULTIPOLYGON")


def test_shapefile_zip_has_utf8_cpg(conn, township, tmp_path):
    dest = tmp_path / "s.zip"
    export_cells(conn, scope_path=ROOT, code=township, fmt="shp", dest=dest)
    with zipfile.ZipFile(dest) as zf:
        names = set(zf.namelist())
        assert {"cells.shp", "cells.shx", "cells.dbf", "cells.prj", "cells.cpg"} <= names
        assert zf.read("cells.cpg").decode().strip().upper() in ("UTF-8", "UTF8")
    assert all(len(c) <= 10 for c in COLUMNS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_selection_is_an_empty_file(conn, township, tmp_path, fmt):
    """Levels above the cell select nothing: a valid file with no rows, and the columns
    (GeoJSON has no schema apart from its features: an empty FeatureCollection)."""
    dest = tmp_path / f"e{SUFFIXES[fmt]}"
    assert export_cells(conn, scope_path=ROOT, code=township, fmt=fmt, dest=dest, levels=[2]) == 0
    df = _read(dest, fmt)
    assert len(df) == 0
    if fmt != "geojson":
        assert list(df.columns[: len(COLUMNS)]) == list(COLUMNS)
