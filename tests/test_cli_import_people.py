"""``gridcmd import workers`` and ``gridcmd import template`` (in-process, tests/test_cli.py's
:func:`gridcmd`) on a copy of the demo fixture: a template filled in and imported, a broken
file refused with one ``error: row N, COLUMN: reason`` line per problem and nothing changed,
``--dry-run``, bad arguments."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from geodata.people_import import read_table
from tests.conftest import engine_on
from tests.geodata.test_people_import import CN, write_csv, write_xlsx
from tests.test_cli import gridcmd


@pytest.fixture(scope="module")
def db(seeded_database) -> str:
    return seeded_database("people_cli")


@pytest.fixture(scope="module")
def grid_codes(db) -> list[str]:
    with engine_on(db) as eng, eng.connect() as c:
        return (
            c.execute(text("SELECT code FROM grid_cell WHERE level = 5 ORDER BY code LIMIT 2"))
            .scalars()
            .all()
        )


def count(db, no: str) -> int:
    with engine_on(db) as eng, eng.connect() as c:
        return c.execute(
            text("SELECT count(*) FROM grid_worker WHERE employee_no LIKE :p"), {"p": no}
        ).scalar_one()


def test_help():
    for cmd in (["import", "workers"], ["import", "template"]):
        res = gridcmd(*cmd, "--help")
        assert res.returncode == 0 and "Usage:" in res.stdout


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_template_then_import(db, grid_codes, tmp_path, fmt):
    tpl = tmp_path / f"workers.{fmt}"
    res = gridcmd("import", "template", "workers", "--format", fmt, str(tpl))
    assert res.returncode == 0 and tpl.exists(), res.stderr
    headers, rows = read_table(tpl)
    assert headers == CN and rows == []  # the example row is skipped
    data = [[f"CLI{fmt}-1", "甲", "13911112222", grid_codes[0], "在岗"],
            [f"CLI{fmt}-2", "乙", "13911113333", grid_codes[1], ""]]  # fmt: skip
    path = (write_xlsx if fmt == "xlsx" else write_csv)(tmp_path / f"filled.{fmt}", CN, data)
    env = {"DATABASE_URL": db}
    res = gridcmd("import", "workers", str(path), "--dry-run", env=env)
    assert res.returncode == 0 and "would give 2 new" in res.stdout, res.stderr
    assert count(db, f"CLI{fmt}-%") == 0
    res = gridcmd("import", "workers", str(path), env=env)
    assert res.returncode == 0 and "imported 2 worker row(s): 2 new" in res.stdout, res.stderr
    assert count(db, f"CLI{fmt}-%") == 2
    data[0][3] = grid_codes[1]
    res = gridcmd("import", "workers", str(write_csv(tmp_path / "again.csv", CN, data)), env=env)
    assert "0 new, 1 updated (1 moved to another cell), 1 unchanged" in res.stdout


def test_broken_file_one_line_per_error(db, grid_codes, tmp_path):
    data = [["CLIBAD-1", "甲", "13911112222", grid_codes[0], "在岗"],
            ["CLIBAD-2", "乙", "1391111", grid_codes[0], "在岗"],
            ["CLIBAD-3", "丙", "13911114444", "532999999999999", "在岗"]]  # fmt: skip
    res = gridcmd("import", "workers", str(write_csv(tmp_path / "b.csv", CN, data)),
                  env={"DATABASE_URL": db})  # fmt: skip
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert lines[0].startswith("error: row 3, 手机号: Invalid phone number")
    assert lines[1].startswith("error: row 4, 网格编码: 532999999999999: unknown grid code")
    assert lines[-1] == "error: 2 error(s) in 3 row(s); nothing was imported"
    assert "Traceback" not in res.stderr and count(db, "CLIBAD-%") == 0


def test_bad_arguments(db, tmp_path):
    env = {"DATABASE_URL": db}
    res = gridcmd("import", "workers", str(tmp_path / "none.csv"), env=env)
    assert res.returncode == 1 and res.stderr.startswith("error: ") and "none.csv" in res.stderr
    res = gridcmd("import", "template", "aliens", str(tmp_path / "t.csv"))
    assert res.returncode == 2 and "unknown kind" in res.stderr
    res = gridcmd("import", "template", "workers", "--format", "ods", str(tmp_path / "t.ods"))
    assert res.returncode == 2 and "unknown format" in res.stderr


def test_departments_template_then_import(db, grid_codes, tmp_path):
    env = {"DATABASE_URL": db}
    tpl = tmp_path / "departments.xlsx"
    res = gridcmd("import", "template", "departments", "--format", "xlsx", str(tpl))
    assert res.returncode == 0, res.stderr
    headers, rows = read_table(tpl)
    assert headers[:4] == ["单位编码", "单位名称", "单位类型", "负责网格编码"] and rows == []
    data = [["CLIDEP-1", "某某派出所", "派出所", grid_codes[0], "", "", "", ""]]
    path = write_csv(tmp_path / "d.csv", headers, data)
    res = gridcmd("import", "departments", str(path), env=env)
    assert res.returncode == 0 and "imported 1 department row(s): 1 new" in res.stdout
    data[0][2] = "马戏团"
    res = gridcmd("import", "departments", str(write_csv(tmp_path / "e.csv", headers, data)),
                  env=env)  # fmt: skip
    assert res.returncode == 1 and res.stderr.startswith("error: row 2, 单位类型: unknown kind")


def test_residents_template_then_import(db, tmp_path):
    from geodata.demo.residents import check_digit

    env = {"DATABASE_URL": db}
    tpl = tmp_path / "residents.csv"
    assert gridcmd("import", "template", "residents", str(tpl)).returncode == 0
    headers, rows = read_table(tpl)
    assert headers[:2] == ["姓名", "身份证号"] and rows == []
    with engine_on(db) as eng, eng.connect() as c:
        m = c.execute(text("SELECT min(code) FROM grid_cell WHERE level = 6")).scalar_one()
    idn = "53290119770707123" + check_digit("53290119770707123")
    path = write_csv(tmp_path / "r.csv", headers, [["居民", idn, "13922223333", "HCLI-1", "", m]])
    res = gridcmd("import", "residents", str(path), env=env)
    assert res.returncode == 0 and "imported 1 resident row(s): 1 new" in res.stdout
    assert idn not in res.stdout + res.stderr
    bad = write_csv(
        tmp_path / "b.csv", headers, [["居民", idn[:17] + "Z", "13922223333", "H-1", "", m]]
    )
    res = gridcmd("import", "residents", str(bad), env=env)
    assert res.returncode == 1 and res.stderr.startswith("error: row 2, 身份证号:")
    assert idn[:17] not in res.stderr
