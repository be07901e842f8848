"""Test helper: a synthetic six-level region unrelated to Dali, and the files to import it.

Prefecture 990100 (a made-up code) covers lon 110.0–110.8, lat 30.0–30.4; every cell splits
in two across its longer side, down to the micro-grids: 1 + 2 + 4 + 8 + 16 + 32 = 63 cells.
Codes follow the administrative-division convention (county 990101 under 990100, township
990101001 under 990101, village + 3 digits, grid + 3, micro-grid + 2). Everything is built in
``tmp_path`` with geopandas/shapely/pyogrio: no binary fixtures.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import shapely

ROOT = ("990100", "测试州")
BOUNDS = (110.0, 30.0, 110.8, 30.4)
_SUFFIX = {2: None, 3: "{:03d}", 4: "{:03d}", 5: "{:03d}", 6: "{:02d}"}
_NAME = {2: "县", 3: "镇", 4: "村", 5: "网格", 6: "微网格"}


def _halves(box: tuple[float, float, float, float]) -> list[tuple[float, float, float, float]]:
    x0, y0, x1, y1 = box
    if x1 - x0 >= y1 - y0:
        xm = round((x0 + x1) / 2, 9)
        return [(x0, y0, xm, y1), (xm, y0, x1, y1)]
    ym = round((y0 + y1) / 2, 9)
    return [(x0, y0, x1, ym), (x0, ym, x1, y1)]


def region() -> dict[int, gpd.GeoDataFrame]:
    """Level → GeoDataFrame (code, name, parent, population, geometry; EPSG:4326)."""
    rows: dict[int, list[dict]] = {1: [{"code": ROOT[0], "name": ROOT[1], "parent": None,
                                        "box": BOUNDS}]}  # fmt: skip
    for level in range(2, 7):
        rows[level] = []
        for p in rows[level - 1]:
            for i, box in enumerate(_halves(p["box"]), start=1):
                if level == 2:
                    code = p["code"][:4] + f"{i:02d}"
                else:
                    code = p["code"] + _SUFFIX[level].format(i)
                rows[level].append({"code": code, "name": f"{p['name']}{i}{_NAME[level]}",
                                    "parent": p["code"], "box": box})  # fmt: skip
    out = {}
    for level, items in rows.items():
        out[level] = gpd.GeoDataFrame(
            {
                "code": [r["code"] for r in items],
                "name": [r["name"] for r in items],
                "parent": [r["parent"] for r in items],
                "population": [100 * (7 - level) for _ in items],
            },
            geometry=[shapely.box(*r["box"]) for r in items],
            crs="EPSG:4326",
        )
    return out


def write_zip_shapefile(gdf: gpd.GeoDataFrame, path: Path, *, encoding: str = "GBK",
                        cpg: bool = True, prj: bool = True) -> Path:  # fmt: skip
    """``gdf`` as a zipped Shapefile at ``path`` (text in ``encoding``; the ``.cpg`` and
    ``.prj`` left out when asked)."""
    work = path.with_suffix("")
    work.mkdir(parents=True, exist_ok=True)
    shp = work / "cells.shp"
    gdf.to_file(shp, driver="ESRI Shapefile", encoding=encoding, engine="pyogrio")
    with zipfile.ZipFile(path, "w") as zf:
        for ext in ("shp", "shx", "dbf") + (("cpg",) if cpg else ()) + (("prj",) if prj else ()):
            member = shp.with_suffix(f".{ext}")
            if member.exists():
                zf.write(member, member.name)
    return path


def write_csv(gdf: gpd.GeoDataFrame, path: Path, *, wkt_column: str = "WKT",
              encoding: str = "utf-8") -> Path:  # fmt: skip
    """``gdf`` as a CSV with a WKT column."""
    df = gdf.drop(columns="geometry").assign(**{wkt_column: gdf.geometry.to_wkt()})
    df.to_csv(path, index=False, encoding=encoding)
    return path


def region_files(tmp: Path) -> dict[int, Path]:
    """The region as six files in six ways a supplier sends them: L1 GeoJSON (English
    fields); L2 a zipped GBK Shapefile in CGCS2000 with pinyin fields (DM, MC, SJDM); L3 a
    GeoPackage in CGCS2000 3° Gauss-Krüger CM 108E with Chinese fields (代码, 名称, no parent
    field: found by containment); L4 a CSV with WKT (no CRS: needs ``--crs``); L5 GeoJSON in
    the 3° zone 37 with the zone number in the false easting; L6 GeoJSON without parent
    field."""
    reg = region()
    tmp.mkdir(parents=True, exist_ok=True)
    files = {1: tmp / "l1.geojson", 3: tmp / "l3.gpkg", 5: tmp / "l5.geojson",
             6: tmp / "l6.geojson"}  # fmt: skip
    reg[1].to_file(files[1], driver="GeoJSON")
    l2 = reg[2].rename(columns={"code": "DM", "name": "MC", "parent": "SJDM", "population": "RK"})
    files[2] = write_zip_shapefile(l2.to_crs(4490), tmp / "l2.zip")
    l3 = reg[3].drop(columns="parent").rename(columns={"code": "代码", "name": "名称"})
    l3.to_crs(4545).to_file(files[3], layer="townships", driver="GPKG")
    files[4] = write_csv(reg[4], tmp / "l4.csv")
    reg[5].to_crs(4525).to_file(files[5], driver="GeoJSON")
    reg[6].drop(columns="parent").to_file(files[6], driver="GeoJSON")
    return files


#: Options each of :func:`region_files` needs besides its level.
REGION_OPTIONS = {4: {"crs": "EPSG:4326"}}
