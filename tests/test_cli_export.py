"""``gridcmd export grids`` (in-process, tests/test_cli.py's :func:`gridcmd`): the synthetic
region (tests/grid_region.py) imported, exported level by level in every format, and imported
again into an empty database — identical codes, names, levels, parents, populations and
geometries; one ``error:`` line on bad input, never a traceback."""

from __future__ import annotations

import pytest
import shapely
from sqlalchemy import text

from geodata import migrate
from geodata.db import normalise_url
from geodata.grid_export import FORMATS, SUFFIXES
from tests.conftest import engine_on
from tests.geodata.test_grid_export import same_shape
from tests.grid_region import REGION_OPTIONS, ROOT, region_files
from tests.test_cli import gridcmd

_CELLS = text(
    "SELECT c.code, c.name, c.level, coalesce(p.code, '') AS parent, c.population,"
    " ST_AsBinary(c.geom) AS wkb"
    " FROM grid_cell c LEFT JOIN grid_cell p ON p.id = c.parent_id ORDER BY c.code"
)


@pytest.fixture(scope="module")
def empty_template(make_database) -> str:
    url = make_database("ge_cli_tpl")
    with engine_on(url) as eng:
        migrate.upgrade(eng)
    return normalise_url(url).database


@pytest.fixture(scope="module")
def source_url(make_database, empty_template, tmp_path_factory) -> str:
    """A database holding the synthetic six-level region, imported from its files."""
    url = make_database("ge_cli_src", template=empty_template)
    files = region_files(tmp_path_factory.mktemp("region"))
    for level in range(1, 7):
        flags = [f"--{k.replace('_', '-')}={v}" for k, v in REGION_OPTIONS.get(level, {}).items()]
        res = gridcmd("import", "grids", str(files[level]), "--level", str(level), *flags,
                      env={"DATABASE_URL": url})  # fmt: skip
        assert res.returncode == 0, res.stdout + res.stderr
    return url


def _cells(url: str) -> list:
    with engine_on(url) as eng, eng.connect() as c:
        return c.execute(_CELLS).all()


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_level_by_level(make_database, empty_template, source_url, tmp_path, fmt):
    target = make_database("ge_cli_dst", template=empty_template)
    for level in range(1, 7):
        path = tmp_path / f"l{level}{SUFFIXES[fmt]}"
        res = gridcmd("export", "grids", "--cell", ROOT[0], "--level", str(level),
                      "--format", fmt, str(path), env={"DATABASE_URL": source_url})  # fmt: skip
        assert res.returncode == 0, res.stdout + res.stderr
        assert f"exported {2 ** (level - 1)} cell(s)" in res.stdout
        crs = ["--crs", "EPSG:4326"] if fmt == "csv" else []
        res = gridcmd("import", "grids", str(path), "--level", str(level), *crs,
                      env={"DATABASE_URL": target})  # fmt: skip
        assert res.returncode == 0, res.stdout + res.stderr
        assert "parent field: parent" in res.stdout or level == 1, res.stdout
    before, after = _cells(source_url), _cells(target)
    assert len(after) == len(before) == 63
    for a, b in zip(before, after, strict=True):
        assert (a.code, a.name, a.level, a.parent, a.population) == (
            b.code, b.name, b.level, b.parent, b.population
        )  # fmt: skip
        ga, gb = shapely.from_wkb(bytes(a.wkb)), shapely.from_wkb(bytes(b.wkb))
        assert same_shape(ga, gb, tolerance=1e-9), (fmt, a.code)
    res = gridcmd("check", env={"DATABASE_URL": target})
    assert res.returncode == 0, res.stdout + res.stderr


def test_subtree_and_errors(source_url, tmp_path):
    env = {"DATABASE_URL": source_url}
    county = ROOT[0][:4] + "02"
    res = gridcmd("export", "grids", "--cell", county, "--format", "GeoJSON",
                  str(tmp_path / "c.geojson"), env=env)  # fmt: skip
    assert res.returncode == 0 and "exported 31 cell(s)" in res.stdout, res.stderr
    for args, code, msg in (
        (["--cell", "123456", "--format", "csv", str(tmp_path / "x.csv")], 1, "no cell 123456"),
        (["--cell", "x[b]", "--format", "csv", str(tmp_path / "x.csv")], 1, "no cell x[b]"),
        (["--cell", county, "--format", "kml", str(tmp_path / "x.kml")], 2, "kml"),
        (["--cell", county, "--level", "9", "--format", "csv", str(tmp_path / "x.csv")], 2, "6"),
        (["--cell", county, "--format", "csv", str(tmp_path / "no" / "x.csv")], 0, ""),
    ):
        res = gridcmd("export", "grids", *args, env=env)
        assert res.returncode == code, res.stdout + res.stderr
        assert msg in res.stderr
        assert "Traceback" not in res.stderr
    path = tmp_path / "file"
    path.write_text("")
    res = gridcmd("export", "grids", "--cell", county, "--format", "csv", str(path / "x.csv"),
                  env=env)  # fmt: skip
    assert res.returncode == 1 and res.stderr.startswith("error:"), res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
