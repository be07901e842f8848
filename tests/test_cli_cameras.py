"""``gridcmd camera import|list`` as a real subprocess against the fixture database: one
``error:`` line per bad row, non-zero exits, no tracebacks; rows written are deleted after."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.camera_rows import delete_cameras, latest_change
from tests.test_cli import gridcmd


@pytest.fixture(scope="module")
def site(engine) -> tuple[float, float]:
    with engine.connect() as c:
        row = c.execute(
            text(
                "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
                "FROM grid_cell WHERE level = 6 ORDER BY code LIMIT 1"
            )
        ).one()
    return float(row[0]), float(row[1])


@pytest.fixture()
def cleanup(engine):
    before = latest_change(engine)
    yield
    delete_cameras(engine, "CLICAM", since_change=before)


def count(engine) -> int:
    with engine.connect() as c:
        return c.execute(text("SELECT count(*) FROM camera WHERE code LIKE 'CLICAM%'")).scalar()


@pytest.mark.parametrize("cmd", [["camera"], ["camera", "import"], ["camera", "list"]])
def test_help(cmd):
    res = gridcmd(*cmd, "--help")
    assert res.returncode == 0 and "Usage:" in res.stdout


def test_bad_rows_are_listed_and_nothing_is_imported(db_url, engine, site, tmp_path, cleanup):
    lon, lat = site
    f = tmp_path / "bad.csv"
    f.write_text(
        "code,name,lon,lat,stream_url\n"
        f"CLICAM1,[bold]ok[/bold],{lon},{lat},http://h.example/a.mp4\n"
        f"CLICAM2,bad,{lon},abc,http://h.example/a.mp4\n"
        f"CLICAM3,[red]js[/red],{lon},{lat},javascript:alert(1)\n"
        f"CLICAM1,dup,{lon},{lat},http://h.example/a.mp4\n",
        encoding="utf-8",
    )
    res = gridcmd("camera", "import", str(f), env={"DATABASE_URL": db_url})
    assert res.returncode == 1, res.stdout + res.stderr
    lines = res.stderr.splitlines()
    assert lines == [
        "error: line 3, lat: lat 'abc' is not a number",
        "error: line 4, stream_url: unsafe or unsupported URL scheme javascript: (allowed: "
        "http, https, rtsp)",
        "error: line 5, code: duplicate code 'CLICAM1' (first on line 2)",
        "error: 3 error(s); nothing was imported",
    ]
    assert "Traceback" not in res.stderr
    assert count(engine) == 0


def test_import_then_list_then_reimport(db_url, engine, site, tmp_path, cleanup):
    lon, lat = site
    f = tmp_path / "good.csv"
    f.write_bytes(
        (
            "\ufeffcode,name,lon,lat,stream_url\n"
            f"CLICAM1,[b]路口[/b],{lon},{lat},http://h.example/a.m3u8\n"
            f"CLICAM2,学校,{lon},{lat},rtsp://h.example/s\n"
        ).encode()
    )
    env = {"DATABASE_URL": db_url}
    res = gridcmd("camera", "import", str(f), "--synthetic", env=env)
    assert res.returncode == 0, res.stderr
    assert "2 camera(s) valid: 2 new, 0 updated, 0 unchanged, 0 deleted" in res.stdout
    assert count(engine) == 2
    res = gridcmd("camera", "list", "--limit", "1000", env=env)
    assert res.returncode == 0, res.stderr
    assert "CLICAM1" in res.stdout and "[b]路口[/b]" in res.stdout  # not rich markup
    assert "rtsp" in res.stdout
    res = gridcmd("camera", "import", str(f), env=env)  # synthetic flag changes: both updated
    assert "0 new, 2 updated" in res.stdout
    res = gridcmd("camera", "import", str(f), env=env)
    assert "0 new, 0 updated, 2 unchanged" in res.stdout


def test_partial_writes_good_rows_but_still_fails(db_url, engine, site, tmp_path, cleanup):
    lon, lat = site
    f = tmp_path / "mixed.csv"
    f.write_text(
        "code,name,lon,lat,stream_url\n"
        f"CLICAM1,a,{lon},{lat},http://h.example/a.mp4\n"
        "CLICAM2,b,116.39,39.91,http://h.example/a.mp4\n",
        encoding="utf-8",
    )
    res = gridcmd("camera", "import", str(f), "--partial", env={"DATABASE_URL": db_url})
    assert res.returncode == 1
    assert "error: line 3, lon: (116.390000, 39.910000) is outside the prefecture" in res.stderr
    assert "1 camera(s) valid: 1 new" in res.stdout
    assert count(engine) == 1
    res = gridcmd(
        "camera", "import", str(f), "--partial", "--replace", env={"DATABASE_URL": db_url}
    )
    assert res.returncode == 2 and "error: replace and partial" in res.stderr


def test_missing_file_and_unreachable_database(tmp_path):
    res = gridcmd("camera", "import", str(tmp_path / "nope.csv"))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    res = gridcmd(
        "camera", "list", env={"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"}
    )
    assert res.returncode == 1 and res.stderr.startswith("error:")
    assert "Traceback" not in res.stderr


def test_demo_cameras_command(db_url, engine):
    before = latest_change(engine)
    try:
        res = gridcmd("camera", "demo", env={"DATABASE_URL": db_url})
        assert res.returncode == 0, res.stderr
        assert "demo camera(s)" in res.stdout and " new" in res.stdout
        with engine.connect() as c:
            n, synthetic = c.execute(
                text("SELECT count(*), bool_and(synthetic) FROM camera WHERE code LIKE 'CAM%'")
            ).one()
        assert n >= 24 and synthetic  # 12 townships in the fixture, 2-4 cameras each
        res = gridcmd("camera", "demo", env={"DATABASE_URL": db_url})
        assert f"{n} unchanged" in res.stdout
    finally:
        delete_cameras(engine, "CAM", since_change=before)


@pytest.mark.slow  # migrates and seeds a database from scratch
def test_seed_demo_loads_the_demo_cameras(make_database):
    url = make_database("gridcmd_camseed")
    env = {"DATABASE_URL": url}
    assert gridcmd("db", "migrate", env=env).returncode == 0
    res = gridcmd("seed", "demo", "--scale", "0.001", env=env)
    assert res.returncode == 0, res.stderr
    row = next(line for line in res.stdout.splitlines() if " camera " in f" {line} ")
    assert int(row.split()[-2].replace(",", "")) >= 24  # "│ camera │ 35 │"
    res = gridcmd("camera", "list", "--limit", "3", env=env)
    assert res.returncode == 0 and "(模拟)" in res.stdout
