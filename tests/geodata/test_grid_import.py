"""geodata.grid_import: boundary files of a synthetic region unrelated to Dali (prefecture
990100, tests/grid_region.py) imported level by level into an empty migrated database, and
deliberately broken files, each refused (or repaired) with row, field and reason.

Databases: one empty migrated template per module, and templates with levels 1..k imported
(:func:`db_with_levels`); each test gets its own copy, so writes need no clean-up.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod
from sqlalchemy import text

from geodata import migrate
from geodata.attribution import attribute_point
from geodata.cells import cell_ancestors, cell_by_code
from geodata.checks import run_checks
from geodata.db import normalise_url
from geodata.grid_import import ImportOptions, import_grids
from geodata.grid_import.fields import resolve_fields
from geodata.grid_import.problems import GridImportError
from geodata.grid_import.read import encoding_from_cpg
from geodata.grid_import.topology import topology_report
from geodata.grid_import.validate import code_fits
from geodata.lod import grid_view
from tests.conftest import engine_on
from tests.grid_region import (
    REGION_OPTIONS,
    region,
    region_files,
    write_csv,
    write_zip_shapefile,
)

REG = region()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[int, Path]:
    return region_files(tmp_path_factory.mktemp("region"))


@pytest.fixture(scope="module")
def db_with_levels(make_database, files):
    """``db_with_levels(k)`` → URL of a new database, migrated, with levels 1..k of the
    region imported (k = 0: empty)."""
    templates: dict[int, str] = {}

    def template(k: int) -> str:
        if k not in templates:
            if k == 0:
                url = make_database("gi_tpl")
                with engine_on(url) as eng:
                    migrate.upgrade(eng)
            else:
                url = make_database("gi_tpl", template=template(k - 1))
                with engine_on(url) as eng:
                    res = import_grids(eng, files[k], ImportOptions(k, **REGION_OPTIONS.get(k, {})))
                    assert res.written and not res.errors, res.errors
            templates[k] = normalise_url(url).database
        return templates[k]

    return lambda k: make_database("gi_test", template=template(k))


def run(url: str, path: Path, level: int, **kw):
    with engine_on(url) as eng:
        return import_grids(eng, path, ImportOptions(level, **kw))


def errors(res) -> list[str]:
    return [str(p) for p in res.errors]


def snapshot(url: str) -> tuple:
    """Everything an import could change, as one comparable value."""
    with engine_on(url) as eng, eng.connect() as c:
        return c.execute(
            text(
                "SELECT (SELECT count(*) FROM grid_cell), (SELECT coalesce(max(id), 0) FROM"
                " grid_cell), (SELECT md5(coalesce(string_agg(code || name || ST_AsEWKB(geom)"
                "::text || population, ',' ORDER BY code), '')) FROM grid_cell),"
                " (SELECT count(*) FROM grid_cell_lod),"
                " (SELECT value FROM grid_meta WHERE key = 'lod_version')"
            )
        ).one()


# ----------------------------------------------------------------------------- pure parts


def test_code_convention():
    assert code_fits(1, "990100", None) and not code_fits(1, "99010", None)
    assert code_fits(2, "532301", "532300") and not code_fits(2, "532401", "532300")
    assert not code_fits(2, "532300", "532300")
    assert code_fits(3, "532301001", "532301") and not code_fits(3, "532302001", "532301")
    assert not code_fits(3, "5323010001", "532301")
    assert code_fits(4, "532301001001", "532301001")
    assert code_fits(5, "532301001001001", "532301001001")
    assert code_fits(6, "53230100100100101", "532301001001001")
    assert not code_fits(6, "532301001001001", "532301001001001")


@pytest.mark.parametrize(
    ("cpg", "encoding"),
    [("GBK", "GB18030"), ("936", "GB18030"), ("ANSI 936", "GB18030"), ("UTF-8", "UTF-8"),
     ("65001", "UTF-8"), ("\ufeffgb2312\n", "GB18030"), ("GB18030", "GB18030")],
)  # fmt: skip
def test_encoding_from_cpg(cpg, encoding):
    assert encoding_from_cpg(cpg) == encoding


def test_fields_recognised_by_pinyin_and_chinese_names():
    fm, notes = resolve_fields(["OBJECTID", "DM", "MC", "SJDM", "RK"])
    assert (fm.code, fm.name, fm.parent, fm.population) == ("DM", "MC", "SJDM", "RK")
    assert "code field: DM (recognised" in notes[0]
    fm, _ = resolve_fields(["代码", "名称", "上级代码"])
    assert (fm.code, fm.name, fm.parent, fm.population) == ("代码", "名称", "上级代码", None)
    fm, notes = resolve_fields(["BM", "XZQMC"], code="BM")
    assert fm.code == "BM" and "--code-field" in notes[0] and fm.parent is None
    assert "parent: by spatial containment" in " ".join(notes)


def test_missing_and_misnamed_fields_are_named():
    with pytest.raises(GridImportError) as exc:
        resolve_fields(["ID", "TITLE"])
    msgs = [str(p) for p in exc.value.problems]
    assert msgs[0].startswith("missing field: no code field found") and "ID, TITLE" in msgs[0]
    assert msgs[1].startswith("missing field: no name field found")
    with pytest.raises(GridImportError, match="--code-field 'XX' is not a field"):
        resolve_fields(["DM", "MC"], code="XX")


def test_topology_report_areas_locations_and_slivers():
    """Two siblings that overlap by a 0.005° strip, a 0.001° sliver gap along the parent's top,
    and a third child that sticks out of its parent."""
    parent = shapely.box(110.0, 30.0, 110.4, 30.2)
    kids = [
        shapely.box(110.0, 30.0, 110.205, 30.199),
        shapely.box(110.2, 30.0, 110.4, 30.199),
        shapely.box(110.0, 30.199, 110.4, 30.25),
    ]
    rep = topology_report(["a", "b", "c"], ["P", "P", "P"], kids, {"P": parent})
    got = [(f.kind, f.codes, f.parent, f.sliver) for f in rep.findings]
    assert got == [
        ("outside_parent", ("c",), "P", False),
        ("overlap", ("a", "b"), "P", True),
    ]
    geod = Geod(ellps="WGS84")
    strip = shapely.box(110.2, 30.0, 110.205, 30.199)
    overlap = rep.findings[1]
    assert overlap.area_m2 == pytest.approx(abs(geod.geometry_area_perimeter(strip)[0]), rel=1e-9)
    assert strip.contains(shapely.Point(overlap.lon, overlap.lat))
    (summary,) = rep.parents
    assert summary.children == 3 and summary.fails_check
    assert summary.outside == pytest.approx(0.4 * 0.05 / (0.4 * 0.25), rel=1e-6)
    # Without the sticking-out child: the 0.001° strip along the top is a gap and a sliver.
    rep = topology_report(["a", "b"], ["P", "P"], kids[:2], {"P": parent})
    assert [(f.kind, f.sliver) for f in rep.findings] == [("gap", True), ("overlap", True)]
    gap = rep.findings[0]
    assert gap.area_m2 == pytest.approx(0.4 * 0.001 * 111_320**2 * np.cos(np.radians(30.2)),
                                        rel=0.01)  # fmt: skip
    assert gap.describe().startswith("gap (sliver)") and "in P" in gap.describe()
    # Coordinate noise (a 1e-12° seam) is counted, not reported.
    rep = topology_report(["a"], ["P"], [shapely.box(110.0, 30.0, 110.4, 30.2 - 1e-12)],
                          {"P": parent})  # fmt: skip
    assert rep.findings == [] and rep.ignored == 1 and not rep.parents[0].fails_check


# ----------------------------------------------------------------------------- a whole region


def test_region_from_scratch_level_by_level(db_with_levels, files):
    """Six files in six supplier styles into an empty database: every level lands with its
    derived columns and LOD rows, `gridcmd check`'s rules all pass, and a point is
    attributed to the right chain of cells."""
    url = db_with_levels(0)
    with engine_on(url) as eng:
        for level in range(1, 7):
            opts = ImportOptions(level, **REGION_OPTIONS.get(level, {}))
            res = import_grids(eng, files[level], opts)
            assert res.written and not res.errors, (level, errors(res))
            assert res.inserted == len(REG[level]) and res.updated == res.deleted == 0
            assert res.topology is not None and res.topology.findings == []
            assert res.lod_rows is not None and (level == 1 or res.lod_rows > 0)
        with eng.connect() as c:
            failed = [r for r in run_checks(c) if not r.ok]
            assert failed == []
            chain = attribute_point(c, 110.05, 30.05)
            assert [x.code for x in chain.chain] == [
                "990100", "990101", "990101001", "990101001001", "990101001001001",
                "99010100100100101",
            ]  # fmt: skip
            assert chain.chain[1].name == "测试州1县"  # GBK text intact
            assert attribute_point(c, 110.79, 30.39).cell.code == "99010200200200202"
            row = c.execute(
                text(
                    "SELECT path::text, area_km2, population, synthetic,"
                    " ST_Contains(geom, label_point), (SELECT count(DISTINCT band)"
                    " FROM grid_cell_lod l WHERE l.cell_id = grid_cell.id)"
                    " FROM grid_cell WHERE code = '990101001'"
                )
            ).one()
            assert row[0] == "990100.990101.990101001"
            assert row[1] == pytest.approx(0.2 * 0.4 * 111.2 * 96.2, rel=0.02)
            assert row[2] == 400 and row[3] is False and row[4] is True and row[5] >= 1
            # Level 3's file had no parent field: containment found it, GK came back exact.
            geom = c.execute(
                text("SELECT ST_AsText(geom) FROM grid_cell WHERE code = '990102002'")
            ).scalar()
            got = shapely.from_wkt(geom)
            want = REG[3].set_index("code").geometry["990102002"]
            assert shapely.hausdorff_distance(got, want) < 1e-7
            # The map and the drill-down read the new region like the demo.
            payload, level, n, _nv = grid_view(
                c, scope_path="990100", zoom=10, bbox=(110.0, 30.0, 110.8, 30.4)
            )
            assert level == 3 and n == 4 and len(payload) > 100
            payload, level, n, _nv = grid_view(
                c, scope_path="990100", zoom=10, bbox=(110.0, 30.0, 110.8, 30.4),
                selected="990101001",
            )  # fmt: skip
            assert level == 4 and n >= 2
            cell = cell_by_code(c, "990101001", scope_path="990100.990101")
            assert cell["label_point"] and cell["bbox"] == pytest.approx([110.0, 30.0, 110.2, 30.4])
            assert [a["code"] for a in cell_ancestors(c, "990101001", scope_path="990100")] == [
                "990100", "990101", "990101001",
            ]  # fmt: skip


def test_every_step_notes_what_it_did(db_with_levels, files):
    res = run(db_with_levels(2), files[3], 3, dry_run=True)
    notes = "\n".join(res.notes)
    assert "read 4 record(s) from l3.gpkg (GeoPackage layer 'townships'" in notes
    assert "code field: 代码 (recognised" in notes and "name field: 名称" in notes
    assert "parent: by spatial containment" in notes
    assert "CRS EPSG:4545 (CGCS2000 / 3-degree Gauss-Kruger CM 108E) → EPSG:4326" in notes
    assert "parents by spatial containment (largest overlap): smallest share" in notes


# ----------------------------------------------------------------------------- encodings


@pytest.mark.parametrize("cpg", [True, False])
def test_gbk_shapefile_keeps_chinese_names_and_field_names(db_with_levels, tmp_path, cpg):
    """A GBK .dbf with Chinese field names, with and without its .cpg."""
    gdf = REG[2].rename(columns={"code": "代码", "name": "名称", "parent": "上级代码"})
    path = write_zip_shapefile(gdf, tmp_path / "gbk.zip", encoding="GBK", cpg=cpg)
    url = db_with_levels(1)
    res = run(url, path, 2)
    assert res.written, errors(res)
    enc = "GB18030 (from the .cpg: GBK)" if cpg else "GB18030 (no .cpg; the text is not UTF-8)"
    assert f"(zipped Shapefile, {enc})" in res.notes[0]
    with engine_on(url) as eng, eng.connect() as c:
        names = c.execute(text("SELECT name FROM grid_cell WHERE level = 2 ORDER BY code"))
        assert names.scalars().all() == ["测试州1县", "测试州2县"]


def test_utf8_shapefile_without_cpg(db_with_levels, tmp_path):
    path = write_zip_shapefile(REG[2], tmp_path / "u.zip", encoding="UTF-8", cpg=False)
    res = run(db_with_levels(1), path, 2, dry_run=True)
    assert not res.errors and "UTF-8 (no .cpg; the text is valid UTF-8)" in res.notes[0]
    assert res.inserted == 2


def test_wrong_encoding_given_or_in_the_cpg(db_with_levels, tmp_path):
    gdf = REG[2].assign(name=["甲县", "乙县"])
    url = db_with_levels(1)
    path = write_zip_shapefile(gdf, tmp_path / "gbk.zip", encoding="GBK", cpg=False)
    assert errors(run(url, path, 2, encoding="UTF-8")) == [
        "the attribute text is not valid UTF-8; give the file's encoding with --encoding "
        "(e.g. GBK, UTF-8)"
    ]
    assert run(url, path, 2, encoding="GBK", dry_run=True).inserted == 2
    csv = write_csv(gdf, tmp_path / "gbk.csv", encoding="gbk")
    assert errors(run(url, csv, 2, encoding="utf-8", crs="EPSG:4326")) == [
        "the CSV is not valid UTF-8; give the right --encoding"
    ]
    assert errors(run(url, csv, 2, encoding="klingon")) == [
        "--encoding: unknown encoding 'klingon'"
    ]


def test_plain_shapefile_with_its_cpg_beside_it(db_with_levels, tmp_path):
    write_zip_shapefile(REG[2], tmp_path / "plain.zip", encoding="GBK")
    res = run(db_with_levels(1), tmp_path / "plain" / "cells.shp", 2, dry_run=True)
    assert not res.errors and res.inserted == 2
    assert "(Shapefile, GB18030 (from the .cpg: GBK))" in res.notes[0]


def test_gbk_csv(db_with_levels, tmp_path):
    path = write_csv(REG[2], tmp_path / "gbk.csv", encoding="gbk")
    url = db_with_levels(1)
    res = run(url, path, 2, crs="CGCS2000")
    assert res.written and "(CSV, GB18030)" in res.notes[0], errors(res)


# ----------------------------------------------------------------------------- CRS


def test_missing_crs_is_refused_unless_given(db_with_levels, tmp_path):
    path = write_zip_shapefile(REG[2], tmp_path / "noprj.zip", prj=False)
    url = db_with_levels(1)
    res = run(url, path, 2)
    assert errors(res) == [
        "the file has no CRS (no .prj, no SRID); give --crs, e.g. --crs EPSG:4490 (CGCS2000 "
        "lon/lat) or --crs EPSG:4545 (CGCS2000 3-degree Gauss-Kruger CM 108E)"
    ]
    res = run(url, path, 2, crs="EPSG:4490")
    assert res.written and not res.errors


def test_projected_coordinates_under_a_geographic_crs(db_with_levels, tmp_path):
    gk = REG[2].to_crs(4525).set_crs(4326, allow_override=True)
    path = tmp_path / "wrong.geojson"
    gk.to_file(path, driver="GeoJSON")
    res = run(db_with_levels(1), path, 2)
    assert len(res.errors) == 1 and "look projected" in errors(res)[0]
    assert "--crs CGCS2000-GK" in errors(res)[0] and not res.written


def test_degrees_under_a_projected_crs(db_with_levels, tmp_path):
    path = tmp_path / "deg.gpkg"
    REG[2].set_crs(4545, allow_override=True).to_file(path, driver="GPKG")
    res = run(db_with_levels(1), path, 2)
    assert errors(res) == [
        "the coordinates look like degrees (x 110.0000…110.8000, y 30.0000…30.4000), but the "
        "CRS EPSG:4545 (CGCS2000 / 3-degree Gauss-Kruger CM 108E) is projected; give --crs "
        "EPSG:4490 (CGCS2000) or EPSG:4326 (WGS 84)"
    ]


def test_wrong_projected_crs_lands_outside_the_parents(db_with_levels, tmp_path):
    """Gauss-Krüger coordinates of CM 108E declared as CM 111E land ~300 km east: still in
    China, but in no parent: every row says so."""
    path = tmp_path / "shifted.gpkg"
    REG[2].to_crs(4545).set_crs(4546, allow_override=True).to_file(path, driver="GPKG")
    res = run(db_with_levels(1), path, 2)
    assert errors(res) == [
        "row 1, parent: only 0.0% of the cell lies inside its parent 990100 (at least 50% "
        "needed): wrong parent or wrong CRS?",
        "row 2, parent: only 0.0% of the cell lies inside its parent 990100 (at least 50% "
        "needed): wrong parent or wrong CRS?",
    ]


@pytest.mark.parametrize(
    ("written_as", "declared", "note"),
    [
        (4525, None, None),  # 3° zone 37, zone number in the false easting
        (4546, None, None),  # 3° CM 111E, without it
        (4525, 4546, "the x coordinates carry zone number 37: using EPSG:4525"),
        (4546, 4525, "the x coordinates carry no zone number (the CRS's false easting is "
                     "37,500,000): using EPSG:4546"),
        (4497, 4508, "the x coordinates carry zone number 19: using EPSG:4497"),  # 6° zone 19
        (4508, 4497, "carry no zone number"),
    ],
)  # fmt: skip
def test_gauss_krueger_with_and_without_zone_number(
    db_with_levels, tmp_path, written_as, declared, note
):
    gdf = REG[2].to_crs(written_as)
    if declared:
        gdf = gdf.set_crs(declared, allow_override=True)
    path = tmp_path / "gk.gpkg"
    gdf.to_file(path, driver="GPKG")
    url = db_with_levels(1)
    res = run(url, path, 2)
    assert res.written, errors(res)
    if note:
        assert any(note in n for n in res.notes), res.notes
    with engine_on(url) as eng, eng.connect() as c:
        got = shapely.from_wkt(
            c.execute(text("SELECT ST_AsText(geom) FROM grid_cell WHERE code = '990102'")).scalar()
        )
    assert shapely.hausdorff_distance(got, REG[2].geometry[1]) < 1e-7


def test_csv_gauss_krueger_zone_from_the_coordinates(db_with_levels, tmp_path):
    url = db_with_levels(1)
    zoned = write_csv(REG[2].to_crs(4525), tmp_path / "zoned.csv")
    res = run(url, zoned, 2, crs="CGCS2000-GK", dry_run=True)
    assert not res.errors and any("zone 37 from the x coordinates: EPSG:4525" in n
                                  for n in res.notes)  # fmt: skip
    plain = write_csv(REG[2].to_crs(4546), tmp_path / "plain.csv")
    res = run(url, plain, 2, crs="CGCS2000-GK")
    assert len(res.errors) == 1 and "needs x coordinates that carry the zone" in errors(res)[0]
    res = run(url, plain, 2, crs="EPSG:4546")
    assert res.written, errors(res)


def test_swapped_axes_are_diagnosed(db_with_levels, tmp_path):
    swapped = REG[2].set_geometry(shapely.transform(REG[2].geometry.values, lambda xy: xy[:, ::-1]))
    path = tmp_path / "latlon.geojson"
    swapped.to_file(path, driver="GeoJSON")
    url = db_with_levels(1)
    res = run(url, path, 2)
    assert len(res.errors) == 1 and errors(res)[0].startswith("x and y look swapped")
    assert errors(res)[0].endswith("give --swap-xy")
    res = run(url, path, 2, swap_xy=True)
    assert res.written and "x and y swapped (--swap-xy)" in res.notes, errors(res)


def test_swapped_gauss_krueger(db_with_levels, tmp_path):
    gk = REG[2].to_crs(4525)
    gk = gk.set_geometry(shapely.transform(gk.geometry.values, lambda xy: xy[:, ::-1]), crs=4525)
    path = tmp_path / "ne.gpkg"
    gk.to_file(path, driver="GPKG")
    res = run(db_with_levels(1), path, 2)
    assert len(res.errors) == 1 and errors(res)[0].startswith("x and y look swapped: x (median")


def test_from_gcj02(db_with_levels, tmp_path):
    from geodata.crs import wgs84_to_gcj02

    def to_gcj(xy):
        return np.array([wgs84_to_gcj02(x, y) for x, y in xy])

    gcj = REG[2].set_geometry(shapely.transform(REG[2].geometry.values, to_gcj), crs=4326)
    path = tmp_path / "gcj.geojson"
    gcj.to_file(path, driver="GeoJSON")
    url = db_with_levels(1)
    res = run(url, path, 2, dry_run=True)
    assert res.topology.findings, "GCJ-02 as is: shifted by some 500 m, gaps and overhangs"
    res = run(url, path, 2, from_gcj02=True)
    assert res.written and res.topology.findings == [], errors(res)


# ----------------------------------------------------------------------------- rows


def test_bad_rows_are_listed_with_row_and_field_and_nothing_is_written(db_with_levels, tmp_path):
    g = REG[3].drop(columns="parent").copy()
    g["population"] = g["population"].astype(object)
    geoms = list(g.geometry)
    g.loc[1, "code"] = g.loc[0, "code"]  # duplicate
    g.loc[2, "population"] = "many"
    geoms[3] = None  # empty
    g = g.set_geometry(geoms, crs=4326)
    extra = gpd.GeoDataFrame(
        {"code": ["990102009", ""], "name": ["点", "无码"], "population": [1, 1]},
        geometry=[shapely.Point(110.5, 30.1), shapely.box(110.5, 30.1, 110.6, 30.2)],
        crs=4326,
    )
    path = tmp_path / "bad.geojson"
    gpd.GeoDataFrame(__import__("pandas").concat([g, extra], ignore_index=True), crs=4326).to_file(
        path, driver="GeoJSON"
    )
    url = db_with_levels(2)
    before = snapshot(url)
    res = run(url, path, 3)
    assert errors(res) == [
        "row 2, code: duplicate code 990101001 (first in row 1)",
        "row 3, population: population 'many' is not a number",
        "row 4, geometry: empty geometry",
        "row 5, geometry: a Point is not a polygon",
        "row 6, code: empty code",
    ]
    assert not res.written and snapshot(url) == before


def test_3d_geometries_lose_z(db_with_levels, tmp_path):
    z = REG[2].set_geometry(shapely.force_3d(REG[2].geometry.values, 1234.5), crs=4326)
    path = tmp_path / "z.gpkg"
    z.to_file(path, driver="GPKG")
    url = db_with_levels(1)
    res = run(url, path, 2)
    assert res.written, errors(res)
    with engine_on(url) as eng, eng.connect() as c:
        assert (
            c.execute(text("SELECT bool_or(ST_NDims(geom) > 2) FROM grid_cell")).scalar() is False
        )


def test_self_intersection_is_repaired_and_gaps_reported(db_with_levels, tmp_path):
    """A bow-tie county becomes its two triangles (noted); the gap it leaves is reported."""
    g = REG[2].copy()
    x0, y0, x1, y1 = g.geometry[0].bounds
    geoms = list(g.geometry)
    geoms[0] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    g = g.set_geometry(geoms, crs=4326)
    path = tmp_path / "bowtie.geojson"
    g.to_file(path, driver="GeoJSON")
    url = db_with_levels(1)
    res = run(url, path, 2)
    assert res.written, errors(res)
    assert any(n.startswith("row 1 (990101): invalid geometry repaired (Self-intersection")
               for n in res.notes)  # fmt: skip
    gaps = [f for f in res.topology.findings if f.kind == "gap"]
    assert len(gaps) == 2 and all(f.parent == "990100" for f in gaps)
    half = 0.4 * 0.4 / 2 * 111_320**2 * np.cos(np.radians(30.2))
    assert sum(f.area_m2 for f in gaps) == pytest.approx(half, rel=0.01)
    assert any("990100: children outside" in n and "`gridcmd check` will fail" in n
               for n in res.notes)  # fmt: skip


def test_unrepairable_geometry_is_a_row_error(db_with_levels, tmp_path):
    g = REG[2].copy()
    geoms = list(g.geometry)
    geoms[1] = shapely.Polygon([(110.4, 30.0), (110.6, 30.0), (110.8, 30.0), (110.4, 30.0)])
    path = tmp_path / "flat.geojson"
    g.set_geometry(geoms, crs=4326).to_file(path, driver="GeoJSON")
    res = run(db_with_levels(1), path, 2)
    assert len(res.errors) == 1 and errors(res)[0].startswith("row 2, geometry: invalid geometry")


# ----------------------------------------------------------------------------- parents


def test_a_parent_that_does_not_contain_its_child(db_with_levels, tmp_path):
    g = REG[3].copy()
    geoms = list(g.geometry)
    geoms[0] = shapely.affinity.translate(geoms[0], xoff=0.5)  # into county 990102
    geoms[1] = shapely.affinity.translate(geoms[1], xoff=5.0)  # out of the region
    g = g.set_geometry(geoms, crs=4326)
    path = tmp_path / "moved.geojson"
    g.to_file(path, driver="GeoJSON")
    url = db_with_levels(2)
    res = run(url, path, 3)
    assert errors(res)[:2] == [
        "row 1, parent: only 0.0% of the cell lies inside its parent 990101 (at least 50% "
        "needed): wrong parent or wrong CRS?",
        "row 2, parent: only 0.0% of the cell lies inside its parent 990101 (at least 50% "
        "needed): wrong parent or wrong CRS?",
    ]
    res = run(url, path, 3, parent_field="none-such")
    assert errors(res)[0].startswith("--parent-field 'none-such' is not a field")
    path2 = tmp_path / "moved-noparent.geojson"
    g.drop(columns="parent").to_file(path2, driver="GeoJSON")
    res = run(url, path2, 3)
    assert errors(res)[:2] == [
        "row 1, code: code 990101001 does not fit the cell it lies in, 990102 (100.0% "
        "inside); its code fits 990101: a township code is its county's code + 3 digits "
        "(532301001 under 532301)",
        "row 2, geometry: lies in no level-2 (county) cell; its code fits 990101",
    ]
    assert snapshot(url)[0] == 3


def test_part_outside_the_parent_is_reported_and_strict_refuses(db_with_levels, tmp_path):
    g = REG[3].copy()
    geoms = list(g.geometry)
    geoms[0] = shapely.affinity.translate(geoms[0], yoff=-0.05)  # an eighth below the region
    g = g.set_geometry(geoms, crs=4326)
    path = tmp_path / "overhang.geojson"
    g.to_file(path, driver="GeoJSON")
    url = db_with_levels(2)
    res = run(url, path, 3, strict=True)
    assert any("990101: children outside" in e and e.endswith("(--strict)") for e in errors(res))
    assert not res.written
    res = run(url, path, 3)
    assert res.written, errors(res)
    kinds = sorted((f.kind, f.codes, f.parent) for f in res.topology.findings)
    assert kinds == [
        ("gap", (), "990101"),
        ("outside_parent", ("990101001",), "990101"),
    ]
    out = next(f for f in res.topology.findings if f.kind == "outside_parent")
    assert out.area_m2 == pytest.approx(0.2 * 0.05 * 111_320**2 * np.cos(np.radians(29.975)),
                                        rel=0.01)  # fmt: skip
    assert 110.0 < out.lon < 110.2 and 29.95 < out.lat < 30.0
    doc = res.topology.geojson()
    feature = next(f for f in doc["features"] if f["properties"]["kind"] == "outside_parent")
    assert feature["geometry"]["type"] == "Polygon"
    assert feature["properties"]["codes"] == ["990101001"]
    json.dumps(doc)


def test_a_code_that_fits_no_parent(db_with_levels, tmp_path):
    g = REG[3].copy()
    g.loc[0, "code"] = "990109001"  # no county 990109
    g.loc[1, "code"] = "990102777"  # county 990102 exists, but the file says 990101
    path = tmp_path / "codes.geojson"
    g.to_file(path, driver="GeoJSON")
    res = run(db_with_levels(2), path, 3)
    assert errors(res) == [
        "row 1, code: code 990109001 does not fit its parent 990101: a township code is its "
        "county's code + 3 digits (532301001 under 532301)",
        "row 2, code: code 990102777 does not fit its parent 990101: a township code is its "
        "county's code + 3 digits (532301001 under 532301)",
    ]
    res = run(db_with_levels(2), path, 3, parent_field=None, code_field="code", dry_run=True)
    g.drop(columns="parent").to_file(path, driver="GeoJSON")
    res = run(db_with_levels(2), path, 3)
    assert errors(res)[0] == (
        "row 1, code: code 990109001 does not fit the cell it lies in, 990101 (100.0% inside); "
        "its code fits no level-2 cell: a township code is its county's code + 3 digits "
        "(532301001 under 532301)"
    )


def test_level_above_must_exist(db_with_levels, files):
    res = run(db_with_levels(1), files[3], 3)
    assert errors(res) == ["there are no level-2 (county) cells: import level 2 first"]


# ----------------------------------------------------------------------------- transactions


def test_dry_run_changes_nothing_and_reports_the_same(db_with_levels, files):
    url = db_with_levels(2)
    before = snapshot(url)
    dry = run(url, files[3], 3, dry_run=True)
    assert not dry.errors and not dry.written and dry.inserted == 4
    assert snapshot(url) == before
    real = run(url, files[3], 3)
    assert real.written and real.inserted == dry.inserted and real.notes == dry.notes
    assert snapshot(url) != before


def test_a_failure_mid_write_leaves_nothing(db_with_levels, files, monkeypatch):
    """The cells are written, then the database fails: all of it is rolled back, and the
    failure is one line."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    from geodata.grid_import import pipeline

    real = pipeline.write_cells

    def write_then_fail(conn, *args, **kw):
        real(conn, *args, **kw)
        assert conn.execute(text("SELECT count(*) FROM grid_cell WHERE level = 3")).scalar() == 4
        raise OperationalError("stmt", {}, psycopg.OperationalError("server closed the connection"))

    monkeypatch.setattr(pipeline, "write_cells", write_then_fail)
    url = db_with_levels(2)
    before = snapshot(url)
    res = run(url, files[3], 3)
    assert errors(res) == ["database error, nothing was written: server closed the connection"]
    assert not res.written and snapshot(url) == before


def test_a_level_is_not_imported_twice_without_replace(db_with_levels, files):
    url = db_with_levels(3)
    before = snapshot(url)
    res = run(url, files[3], 3)
    assert errors(res) == [
        "990101 already has 2 level-3 (township) cell(s): 990101001, 990101002; give "
        "--replace to replace them with the file's",
        "990102 already has 2 level-3 (township) cell(s): 990102001, 990102002; give "
        "--replace to replace them with the file's",
    ]
    assert snapshot(url) == before
    res = run(url, files[1], 1)
    assert errors(res) == [
        "the database already has 1 level-1 (prefecture) cell(s): 990100; give --replace to "
        "replace them with the file's"
    ]


def test_gpkg_layers(db_with_levels, tmp_path):
    path = tmp_path / "two.gpkg"
    REG[2].to_file(path, layer="counties", driver="GPKG")
    REG[3].to_file(path, layer="townships", driver="GPKG")
    url = db_with_levels(1)
    res = run(url, path, 2)
    assert errors(res) == ["two.gpkg has 2 layers; choose one with --layer: counties, townships"]
    assert run(url, path, 2, layer="counties", dry_run=True).inserted == 2
    assert errors(run(url, path, 2, layer="x"))[0].startswith("--layer 'x' is not in two.gpkg")


def test_unreadable_files(db_with_levels, tmp_path):
    url = db_with_levels(1)
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json", encoding="utf-8")
    assert errors(run(url, bad, 2))[0].startswith("cannot read bad.geojson")
    assert errors(run(url, tmp_path / "none.geojson", 2))[0].endswith("none.geojson: no such file")
    odd = tmp_path / "x.kml"
    odd.write_text("", encoding="utf-8")
    assert errors(run(url, odd, 2))[0].startswith("x.kml: unknown format .kml")
    notzip = tmp_path / "n.zip"
    notzip.write_bytes(b"PK no zip")
    assert errors(run(url, notzip, 2)) == ["n.zip is not a valid ZIP file"]


# ----------------------------------------------------------------------------- --replace
# In village 990101001001 (lon 110.0–110.2, lat 30.0–30.2): grids …001 (lon 110.0–110.1) and
# …002 (lon 110.1–110.2); in grid 990101001001001: micro-grids …01 (lat 30.0–30.1) and …02
# (lat 30.1–30.2).
GRID = "990101001001001"
MICRO = (GRID + "01", GRID + "02")


def micro_file(tmp_path: Path, boxes: dict[str, tuple], name: str = "m.geojson") -> Path:
    """A level-6 file for GRID only: code → box."""
    path = tmp_path / name
    gpd.GeoDataFrame(
        {"code": list(boxes), "name": [f"微{c[-2:]}" for c in boxes]},
        geometry=[shapely.box(*b) for b in boxes.values()],
        crs=4326,
    ).to_file(path, driver="GeoJSON")
    return path


def populate(url: str) -> dict[str, str]:
    """A worker in …02, an account with …02 as jurisdiction, an event reported at a point in
    …02 near the shared edge (through the real ingest: attributed to …02) and one in …01."""
    import uuid

    from geodata.accounts import create_account
    from geodata.ingest import ingest_event

    ids = {"near": str(uuid.uuid4()), "far": str(uuid.uuid4())}
    with engine_on(url) as eng, eng.begin() as c:
        cell = c.execute(text("SELECT id FROM grid_cell WHERE code = :c"), {"c": MICRO[1]})
        c.execute(
            text(
                "INSERT INTO grid_worker (employee_no, name, phone, cell_id, duty_status,"
                " active, synthetic) VALUES ('GI-0001', '测试员', '13800000000', :cell,"
                " 'on_duty', true, true)"
            ),
            {"cell": cell.scalar_one()},
        )
        create_account(c, "gi.micro", "Micro", "commander", MICRO[1], "Gi-Test-Pass-2026!")
        for key, lat in (("near", 30.105), ("far", 30.05)):
            body = {"uuid": ids[key], "category": "dispute", "title": "t", "lon": 110.05,
                    "lat": lat}  # fmt: skip
            assert ingest_event(c, body, worker_id=None).event["cell"] == (
                MICRO[1] if key == "near" else MICRO[0]
            )
    return ids


def event_cells(url: str) -> dict[str, str]:
    with engine_on(url) as eng, eng.connect() as c:
        rows = c.execute(
            text("SELECT e.uuid::text, c.code FROM event e JOIN grid_cell c ON c.id = e.cell_id")
        ).all()
    return dict(rows)


def test_replace_redraws_in_place_and_reattributes_events(db_with_levels, tmp_path):
    """The shared edge moves north by 0.01°: both codes stay (same ids: the worker and the
    account keep their cell), the event near the edge now lies in …01 and follows it."""
    url = db_with_levels(6)
    ids = populate(url)
    path = micro_file(tmp_path, {MICRO[0]: (110.0, 30.0, 110.1, 30.11),
                                 MICRO[1]: (110.0, 30.11, 110.1, 30.2)})  # fmt: skip
    before = snapshot(url)
    dry = run(url, path, 6, replace=True, dry_run=True)
    assert not dry.errors and (dry.updated, dry.events_reattributed) == (2, 1)
    assert snapshot(url) == before and event_cells(url)[ids["near"]] == MICRO[1]
    res = run(url, path, 6, replace=True)
    assert res.written, errors(res)
    assert (res.inserted, res.updated, res.deleted, res.events_reattributed) == (0, 2, 0, 1)
    assert event_cells(url) == {ids["near"]: MICRO[0], ids["far"]: MICRO[0]}
    with engine_on(url) as eng, eng.connect() as c:
        assert [r for r in run_checks(c) if not r.ok] == []
        pop = c.execute(text("SELECT population FROM grid_cell WHERE code = :c"),
                        {"c": MICRO[1]}).scalar()  # fmt: skip
        assert pop == 100  # no population field: kept


def test_replace_refuses_to_orphan_a_worker_and_names_them(db_with_levels, tmp_path):
    """…01 takes the whole grid and …02 disappears: its event would follow its location, but
    the worker and the account there refuse the import (nothing changes); after the worker
    moves and the account's jurisdiction too, the same file goes in."""
    url = db_with_levels(6)
    ids = populate(url)
    path = micro_file(tmp_path, {MICRO[0]: (110.0, 30.0, 110.1, 30.2)})
    before = snapshot(url)
    res = run(url, path, 6, replace=True)
    assert errors(res) == [
        f"cell {MICRO[1]} is not in the file, but 1 account(s) with it as jurisdiction: "
        "gi.micro; 1 worker(s) assigned to it (employee no.): GI-0001 — keep its code in the "
        "file, or move them first"
    ]
    assert snapshot(url) == before and event_cells(url)[ids["near"]] == MICRO[1]
    with engine_on(url) as eng, eng.begin() as c:
        c.execute(
            text("UPDATE grid_worker SET cell_id = (SELECT id FROM grid_cell WHERE code = :c)"),
            {"c": MICRO[0]},
        )
        c.execute(
            text(
                "UPDATE account SET jurisdiction_cell_id = (SELECT id FROM grid_cell"
                " WHERE code = :c) WHERE username = 'gi.micro'"
            ),
            {"c": GRID},
        )
    res = run(url, path, 6, replace=True)
    assert res.written, errors(res)
    assert (res.updated, res.deleted, res.events_reattributed) == (1, 1, 1)
    assert set(event_cells(url).values()) == {MICRO[0]}
    with engine_on(url) as eng, eng.connect() as c:
        assert [r for r in run_checks(c) if not r.ok] == []


def test_replace_refuses_to_drop_a_cell_with_children(db_with_levels, tmp_path):
    village = GRID[:-3]
    path = tmp_path / "grids.geojson"
    gpd.GeoDataFrame({"code": [GRID], "name": ["合并网格"]},
                     geometry=[shapely.box(110.0, 30.0, 110.2, 30.2)], crs=4326,
                     ).to_file(path, driver="GeoJSON")  # fmt: skip
    url = db_with_levels(6)
    before = snapshot(url)
    res = run(url, path, 5, replace=True)
    assert errors(res) == [
        f"cell {village}002 is not in the file, but 2 child cell(s): {village}00201, "
        f"{village}00202 — keep its code in the file, or move them first"
    ]
    assert snapshot(url) == before


def test_replace_reports_children_that_no_longer_fit(db_with_levels, tmp_path):
    """Grids redrawn (their shared edge moved): their micro-grids no longer tile them, which
    the report shows and a warning says."""
    village = GRID[:-3]
    path = tmp_path / "grids.geojson"
    gpd.GeoDataFrame({"code": [GRID, village + "002"], "name": ["一", "二"]},
                     geometry=[shapely.box(110.0, 30.0, 110.15, 30.2),
                               shapely.box(110.15, 30.0, 110.2, 30.2)], crs=4326,
                     ).to_file(path, driver="GeoJSON")  # fmt: skip
    url = db_with_levels(6)
    res = run(url, path, 5, replace=True)
    assert res.written and res.updated == 2, errors(res)
    stale = sorted((f.kind, f.codes, f.parent) for f in res.topology.findings)
    assert stale == [
        ("gap", (), GRID),
        ("outside_parent", (village + "00201",), village + "002"),
        ("outside_parent", (village + "00202",), village + "002"),
    ]
    assert any("no longer tile them" in n and "import level 6 again" in n for n in res.notes)


def test_replace_the_root_in_place(db_with_levels, files, tmp_path):
    url = db_with_levels(2)
    g = REG[1].copy()
    g.loc[0, "name"] = "新测试州"
    path = tmp_path / "root.geojson"
    g.to_file(path, driver="GeoJSON")
    res = run(url, path, 1, replace=True)
    assert res.written and (res.inserted, res.updated) == (0, 1), errors(res)
    other = REG[1].assign(code=["990200"])
    other.to_file(path, driver="GeoJSON")
    res = run(url, path, 1, replace=True)
    assert errors(res) == [
        "cell 990100 is not in the file, but 2 child cell(s): 990101, 990102 — keep its code "
        "in the file, or move them first"
    ]


def test_replace_refuses_to_leave_an_event_outside_every_micro_grid(db_with_levels, tmp_path):
    url = db_with_levels(6)
    ids = populate(url)
    path = micro_file(tmp_path, {MICRO[0]: (110.0, 30.0, 110.1, 30.1),
                                 MICRO[1]: (110.0, 30.11, 110.1, 30.2)})  # fmt: skip
    before = snapshot(url)
    res = run(url, path, 6, replace=True)
    assert errors(res) == [
        f"event {ids['near']} (now in {MICRO[1]}) lies in no micro-grid of the file: the new "
        "boundaries must still cover it"
    ]
    assert snapshot(url) == before
