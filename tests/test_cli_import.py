"""``gridcmd import grids`` (in-process, tests/test_cli.py's :func:`gridcmd`): a new region from
scratch level by level into an empty database, then ``gridcmd check`` and ``gridcmd
attribute``; one ``error:`` line per problem with row and field, exit 1, no traceback;
``--dry-run`` and ``--report``."""

from __future__ import annotations

import json

import pytest

from geodata import migrate
from geodata.db import normalise_url
from tests.conftest import engine_on
from tests.grid_region import REGION_OPTIONS, region, region_files, write_zip_shapefile
from tests.test_cli import gridcmd


@pytest.fixture(scope="module")
def empty_template(make_database) -> str:
    url = make_database("gi_cli_tpl")
    with engine_on(url) as eng:
        migrate.upgrade(eng)
    return normalise_url(url).database


@pytest.fixture()
def empty_url(make_database, empty_template) -> str:
    """A new empty migrated database."""
    return make_database("gi_cli", template=empty_template)


def _flags(level: int) -> list[str]:
    return [f"--{k.replace('_', '-')}={v}" for k, v in REGION_OPTIONS.get(level, {}).items()]


def test_help():
    for cmd in (["import"], ["import", "grids"]):
        res = gridcmd(*cmd, "--help")
        assert res.returncode == 0 and "Usage:" in res.stdout


def test_region_from_scratch_then_check_and_attribute(empty_url, tmp_path):
    env = {"DATABASE_URL": empty_url}
    files = region_files(tmp_path)
    for level in range(1, 7):
        res = gridcmd("import", "grids", str(files[level]), "--level", str(level),
                      *_flags(level), env=env)  # fmt: skip
        assert res.returncode == 0, res.stdout + res.stderr
        n = len(region()[level])
        assert f"{n} new, 0 updated, 0 removed, 0 event(s) re-attributed" in res.stdout
        assert "topology: 0 finding(s)" in res.stdout
        assert "map geometry (LOD) rebuilt" in res.stdout
    assert (
        "code field: DM (recognised"
        in gridcmd(
            "import", "grids", str(files[2]), "--level", "2", "--dry-run", "--replace", env=env
        ).stdout
    )
    res = gridcmd("check", env=env)
    assert res.returncode == 0 and "rules passed" in res.stdout, res.stdout + res.stderr
    res = gridcmd("attribute", "110.61", "30.21", env=env)
    assert res.returncode == 0, res.stderr
    assert [line.split()[1] for line in res.stdout.splitlines()] == [
        "990100", "990102", "990102002", "990102002002", "990102002002001",
        "99010200200200101",
    ]  # fmt: skip
    assert "测试州2县2镇" in res.stdout


def test_errors_one_line_each_with_row_and_field(empty_url, tmp_path):
    g = region()[2].rename(columns={"code": "DM", "name": "MC"}).drop(columns="parent")
    g.loc[1, "DM"] = g.loc[0, "DM"]
    g.loc[0, "MC"] = "[bold]x[/bold]"
    path = write_zip_shapefile(g, tmp_path / "dup.zip", prj=False)
    l1 = region_files(tmp_path / "files")[1]
    assert gridcmd("import", "grids", str(l1), "--level", "1",
                   env={"DATABASE_URL": empty_url}).returncode == 0  # fmt: skip
    res = gridcmd("import", "grids", str(path), "--level", "2", "--crs", "EPSG:4490",
                  env={"DATABASE_URL": empty_url})  # fmt: skip
    assert res.returncode == 1
    assert [ln for ln in res.stderr.splitlines() if ln.startswith("error")] == [
        "error: row 2, DM: duplicate code 990101 (first in row 1)",
        "error: 1 error(s); nothing was imported",
    ]
    assert "Traceback" not in res.stderr


def test_no_crs_and_dry_run_and_report(empty_url, tmp_path):
    env = {"DATABASE_URL": empty_url}
    files = region_files(tmp_path / "files")
    res = gridcmd("import", "grids", str(files[4]), "--level", "4", env=env)
    assert res.returncode == 1 and res.stderr.startswith("error: the file has no CRS")
    assert gridcmd("import", "grids", str(files[1]), "--level", "1", env=env).returncode == 0
    report = tmp_path / "report.geojson"
    res = gridcmd("import", "grids", str(files[2]), "--level", "2", "--dry-run",
                  "--report", str(report), env=env)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "dry run: level 2 (county) would get 2 new" in res.stdout
    assert "nothing was changed" in res.stdout
    assert json.loads(report.read_text(encoding="utf-8")) == {
        "type": "FeatureCollection", "features": []
    }  # fmt: skip
    res = gridcmd("import", "grids", str(files[3]), "--level", "3", env=env)
    assert res.returncode == 1
    assert "error: there are no level-2 (county) cells: import level 2 first" in res.stderr


def test_report_shows_gaps_and_overhangs(empty_url, tmp_path):
    import shapely

    env = {"DATABASE_URL": empty_url}
    files = region_files(tmp_path / "files")
    assert gridcmd("import", "grids", str(files[1]), "--level", "1", env=env).returncode == 0
    g = region()[2]
    g = g.set_geometry([shapely.affinity.translate(x, yoff=-0.01) for x in g.geometry], crs=4326)
    path = tmp_path / "low.geojson"
    g.to_file(path, driver="GeoJSON")
    report = tmp_path / "r.geojson"
    res = gridcmd("import", "grids", str(path), "--level", "2", "--strict",
                  "--report", str(report), env=env)  # fmt: skip
    assert res.returncode == 1
    assert "error: 990100: children outside" in res.stderr and "(--strict)" in res.stderr
    assert "topology: 3 finding(s) (3 sliver(s))" in res.stdout
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("  ")]
    assert lines[0].split()[:2] == ["gap", "(sliver)"] and "m²  at 110." in lines[0]
    doc = json.loads(report.read_text(encoding="utf-8"))
    kinds = sorted(f["properties"]["kind"] for f in doc["features"])
    assert kinds == ["gap", "outside_parent", "outside_parent"]
    assert all(f["properties"]["area_m2"] > 1e6 for f in doc["features"])
