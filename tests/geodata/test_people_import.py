"""geodata.people_import: grid workers from CSV/XLSX against the demo fixture (rolled back):
Chinese and English headers, GB18030, XLSX; every broken row named with its row and column
and nothing imported; a re-import updates by employee number and keeps the assignment
history; templates read back as empty."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import text

from geodata.people_import import TableError, import_workers, worker_template_rows, write_template

CN = ["工号", "姓名", "手机号", "网格编码", "在岗状态"]
EN = ["employee_no", "name", "phone", "cell_code", "duty_status"]


def write_csv(path, headers, rows, encoding="utf-8-sig"):
    with open(path, "w", newline="", encoding=encoding) as f:
        w = csv.writer(f)
        w.writerow(headers)
        w.writerows(rows)
    return path


def write_xlsx(path, headers, rows):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(headers)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


@pytest.fixture()
def cells(conn):
    """Two grid (L5) codes, one micro-grid (L6) code and one village (L4) code."""
    l5 = conn.execute(text("SELECT code FROM grid_cell WHERE level = 5 ORDER BY code LIMIT 2"))
    l6 = conn.execute(text("SELECT code FROM grid_cell WHERE level = 6 ORDER BY code LIMIT 1"))
    l4 = conn.execute(text("SELECT code FROM grid_cell WHERE level = 4 ORDER BY code LIMIT 1"))
    a, b = l5.scalars().all()
    return {"a": a, "b": b, "m": l6.scalar_one(), "village": l4.scalar_one()}


def rows3(cells):
    return [
        ["IMP-0001", "李四", "13900001111", cells["a"], "在岗"],
        ["IMP-0002", "王五", "0872-2123456", cells["b"], "离岗"],
        ["IMP-0003", "赵六", "+86 138 0000 2222", cells["m"], "on_leave"],
    ]


def worker(conn, no):
    return conn.execute(
        text(
            "SELECT w.id, w.name, w.phone, w.duty_status, w.active, c.code FROM grid_worker w "
            "JOIN grid_cell c ON c.id = w.cell_id WHERE w.employee_no = :no"
        ),
        {"no": no},
    ).one_or_none()


def history(conn, worker_id):
    return conn.execute(
        text(
            "SELECT c.code, a.ended_at IS NULL AS open, a.note FROM worker_assignment a "
            "JOIN grid_cell c ON c.id = a.cell_id WHERE a.worker_id = :w ORDER BY a.id"
        ),
        {"w": worker_id},
    ).all()


@pytest.mark.parametrize("kind", ["csv_cn", "csv_en", "csv_gb18030", "xlsx_cn", "xlsx_en"])
def test_good_files(conn, cells, tmp_path, kind):
    fmt, hdr = kind.split("_", 1)
    headers = EN if hdr == "en" else CN
    if fmt == "xlsx":
        path = write_xlsx(tmp_path / "w.xlsx", headers, rows3(cells))
    else:
        enc = "gb18030" if hdr == "gb18030" else "utf-8-sig"
        path = write_csv(tmp_path / "w.csv", headers, rows3(cells), encoding=enc)
    res = import_workers(conn, path)
    assert not res.errors, res.errors
    assert (res.rows, res.inserted, res.updated) == (3, 3, 0)
    w = worker(conn, "IMP-0001")
    assert (w.name, w.phone, w.duty_status, w.active, w.code) == (
        "李四",
        "13900001111",
        "on_duty",
        True,
        cells["a"],
    )
    assert worker(conn, "IMP-0002").phone == "0872-2123456"
    w3 = worker(conn, "IMP-0003")
    assert (w3.name, w3.phone, w3.duty_status, w3.code) == (
        "赵六",
        "13800002222",
        "on_leave",
        cells["m"],
    )
    assert history(conn, w.id) == [(cells["a"], True, "added by import " + path.name)]
    log = conn.execute(
        text("SELECT kind, target, detail FROM security_log ORDER BY id DESC LIMIT 1")
    ).one()
    assert log.kind == "roster_change" and "3 new" in log.detail


def test_reimport_updates_and_moves_with_history(conn, cells, tmp_path):
    import_workers(conn, write_csv(tmp_path / "first.csv", CN, rows3(cells)))
    again = rows3(cells)
    again[0][3] = cells["b"]  # moved
    again[1][1] = "王五五"  # renamed
    path = write_csv(tmp_path / "second.csv", CN, again)
    dry = import_workers(conn, path, dry_run=True)
    assert (dry.inserted, dry.updated, dry.moved, dry.unchanged) == (0, 2, 1, 1)
    assert worker(conn, "IMP-0001").code == cells["a"]  # dry run: nothing changed
    res = import_workers(conn, path)
    assert (res.inserted, res.updated, res.moved, res.unchanged) == (0, 2, 1, 1)
    w = worker(conn, "IMP-0001")
    assert w.code == cells["b"] and worker(conn, "IMP-0002").name == "王五五"
    assert history(conn, w.id) == [
        (cells["a"], False, "added by import first.csv"),
        (cells["b"], True, "import second.csv"),
    ]
    assert len(history(conn, worker(conn, "IMP-0002").id)) == 1


def test_reimport_of_a_demo_worker(conn, cells, tmp_path):
    demo = conn.execute(
        text(
            "SELECT w.employee_no, w.name, w.phone FROM grid_worker w JOIN grid_cell c "
            "ON c.id = w.cell_id WHERE w.active AND c.code <> :a ORDER BY w.id LIMIT 1"
        ),
        {"a": cells["a"]},
    ).one()
    path = write_csv(tmp_path / "w.csv", CN, [[demo.employee_no, demo.name, "13512345678",
                                               cells["a"], "在岗"]])  # fmt: skip
    res = import_workers(conn, path)
    assert (res.inserted, res.updated, res.moved) == (0, 1, 1)
    w = worker(conn, demo.employee_no)
    assert (w.phone, w.code) == ("13512345678", cells["a"])
    h = history(conn, w.id)
    assert h[-1] == (cells["a"], True, "import w.csv") and sum(r.open for r in h) == 1


def test_bad_row_among_good_ones_imports_nothing(conn, cells, tmp_path):
    before = conn.execute(text("SELECT count(*) FROM grid_worker")).scalar_one()
    rows = rows3(cells) + [
        ["IMP-0004", "钱七", "12345", cells["a"], "在岗"],  # row 5: bad phone
        ["IMP-0005", "孙八", "13900003333", "999999999999999", ""],  # row 6: unknown grid
        ["IMP-0001", "重复", "13900004444", cells["a"], ""],  # row 7: duplicate number
        ["IMP-0006", "周九", "13900005555", cells["village"], "忙"],  # row 8: level 4, duty
        ["", "", "", "", ""],  # blank: skipped
        ["IMP-0007", "", "13900006666", "abc", ""],  # row 10: no name, not a code
    ]
    res = import_workers(conn, write_csv(tmp_path / "bad.csv", CN, rows))
    got = {(e.row, e.column) for e in res.errors}
    assert got == {(5, "手机号"), (6, "网格编码"), (7, "工号"), (8, "网格编码"), (8, "在岗状态"),
                   (10, "姓名"), (10, "网格编码")}  # fmt: skip
    text_of = {(e.row, e.column): e.reason for e in res.errors}
    assert "unknown grid code" in text_of[6, "网格编码"]
    assert "row 2" in text_of[7, "工号"]
    assert "level 4" in text_of[8, "网格编码"]
    assert str(res.errors[0]).startswith("row ")
    assert conn.execute(text("SELECT count(*) FROM grid_worker")).scalar_one() == before
    assert worker(conn, "IMP-0001") is None


def test_missing_columns(conn, tmp_path):
    res = import_workers(conn, write_csv(tmp_path / "m.csv", ["工号", "姓名"], [["X-001", "甲"]]))
    assert {e.column for e in res.errors} == {"手机号", "网格编码"}
    assert all(e.row == 1 and "missing column" in e.reason for e in res.errors)


def test_unreadable_files(conn, tmp_path):
    (tmp_path / "x.xlsx").write_bytes(b"not a zip")
    (tmp_path / "e.csv").write_bytes(b"")
    (tmp_path / "y.json").write_text("{}")
    for name in ("x.xlsx", "e.csv", "y.json"):
        with pytest.raises(TableError):
            import_workers(conn, tmp_path / name)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_template_reads_back_empty(conn, tmp_path, fmt):
    path = tmp_path / f"t.{fmt}"
    write_template(path, fmt, *worker_template_rows())
    res = import_workers(conn, path)
    assert [str(e) for e in res.errors] == ["file: no data rows"]


#: The reference roster's size (README: 25,884 grid workers in Dali).
FULL_ROSTER = 25_884


@pytest.mark.slow
def test_full_roster_imports_in_time(conn, tmp_path):
    """25,884 workers (the fixture's grids and micro-grids cycled) in one file: ≤ 10 s for the
    import, then the same file again (every row unchanged), then with every cell changed."""
    import time

    codes = (
        conn.execute(text("SELECT code FROM grid_cell WHERE level IN (5, 6) ORDER BY code"))
        .scalars()
        .all()
    )
    rows = [[f"BULK-{i:06d}", f"网格员{i}", f"139{i:08d}", codes[i % len(codes)], "在岗"]
            for i in range(FULL_ROSTER)]  # fmt: skip
    path = write_csv(tmp_path / "roster.csv", CN, rows)
    t0 = time.perf_counter()
    res = import_workers(conn, path)
    took = time.perf_counter() - t0
    print(f"\n{FULL_ROSTER} workers imported in {took:.2f} s")
    assert not res.errors and res.inserted == FULL_ROSTER
    assert took <= 10
    res = import_workers(conn, path, dry_run=True)
    assert res.unchanged == FULL_ROSTER and res.updated == 0
    for i, r in enumerate(rows):
        r[3] = codes[(i + 1) % len(codes)]
    t0 = time.perf_counter()
    res = import_workers(conn, write_csv(tmp_path / "moved.csv", CN, rows))
    took = time.perf_counter() - t0
    print(f"{FULL_ROSTER} workers re-imported, all moved, in {took:.2f} s")
    assert res.moved == FULL_ROSTER and took <= 10
    assert conn.execute(
        text("SELECT count(*) FROM worker_assignment a JOIN grid_worker w ON w.id = a.worker_id "
             "WHERE w.employee_no LIKE 'BULK-%'")
    ).scalar_one() == 2 * FULL_ROSTER  # fmt: skip


# ----------------------------------------------------------------------------- departments

DEPT_CN = ["单位编码", "单位名称", "单位类型", "负责网格编码", "经度", "纬度", "电话", "受理类别"]


def test_departments_good_file_and_reimport(conn, cells, tmp_path):
    from geodata.people_import import import_departments

    town = cells["a"][:9]
    rows = [
        ["IMP-POL-1", "测试派出所", "派出所", f"{cells['a']}、{cells['b']}", "", "",
         "0872-2123456", ""],
        ["IMP-CRT-1", "Test court", "court", town, "", "", "", "dispute"],
    ]  # fmt: skip
    path = write_xlsx(tmp_path / "d.xlsx", DEPT_CN, rows)
    res = import_departments(conn, path)
    assert not res.errors and (res.inserted, res.updated) == (2, 0)
    d = conn.execute(text(
        "SELECT d.kind, c.code, d.categories, d.phone, d.synthetic, "
        "  ST_Within(d.location, d.service_area) AS inside, "
        "  abs(ST_Area(d.service_area) - (SELECT sum(ST_Area(geom)) FROM grid_cell "
        "      WHERE code IN (:a, :b))) < 1e-12 AS area_ok "
        "FROM department d JOIN grid_cell c ON c.id = d.cell_id WHERE d.code = 'IMP-POL-1'"
    ), {"a": cells["a"], "b": cells["b"]}).one()  # fmt: skip
    assert (d.kind, d.code, d.phone, d.synthetic, d.inside, d.area_ok) == (
        "police", cells["a"], "0872-2123456", False, True, True)  # fmt: skip
    assert "public_security" in d.categories  # the kind's default categories
    rows[1][1], rows[1][4], rows[1][5] = "人民法院", "100.25", "25.6"
    res = import_departments(conn, write_csv(tmp_path / "d2.csv", DEPT_CN, rows))
    assert (res.inserted, res.updated) == (0, 2)
    crt = conn.execute(text(
        "SELECT name, ST_X(location) AS x, categories FROM department WHERE code = 'IMP-CRT-1'"
    )).one()  # fmt: skip
    assert (crt.name, crt.x, crt.categories) == ("人民法院", 100.25, ["dispute"])


def test_departments_bad_rows_import_nothing(conn, cells, tmp_path):
    from geodata.people_import import import_departments

    rows = [
        ["IMP-OK-1", "好的", "司法所", cells["a"], "", "", "", ""],
        ["IMP-BAD-1", "坏的", "消防队", "532999999", "", "", "", ""],  # row 3: kind, unknown cell
        ["IMP-BAD-2", "坏的", "信访局", cells["a"], "200", "25", "12", "cats"],  # row 4
        ["IMP-OK-1", "重复", "法院", cells["a"], "", "", "", ""],  # row 5: duplicate code
    ]
    res = import_departments(conn, write_csv(tmp_path / "d.csv", DEPT_CN, rows, "gb18030"))
    got = {(e.row, e.column) for e in res.errors}
    assert got == {(3, "单位类型"), (3, "负责网格编码"), (4, "经度"), (4, "电话"), (4, "受理类别"),
                   (5, "单位编码")}  # fmt: skip
    assert (
        conn.execute(text("SELECT count(*) FROM department WHERE code LIKE 'IMP-%'")).scalar_one()
        == 0
    )
    res = import_departments(conn, write_csv(tmp_path / "u.csv", DEPT_CN, [rows[0], [
        "IMP-BAD-3", "坏的", "法院", "532999999", "", "", "", ""]]))  # fmt: skip
    assert [(e.row, e.column) for e in res.errors] == [(3, "负责网格编码")]
    assert "unknown cell code" in res.errors[0].reason


# ----------------------------------------------------------------------------- residents

RES_CN = ["姓名", "身份证号", "手机号", "户号", "地址", "微网格编码"]


def _idn(first17: str) -> str:
    from geodata.demo.residents import check_digit

    return first17 + check_digit(first17)


def test_residents_good_file_reimport_and_log(conn, cells, tmp_path):
    from geodata.people_import import import_residents

    a, b = _idn("53290119850203123"), _idn("53290120011231002")
    rows = [["导入甲", a, "13911110000", "HIMP-1", "某路1号", cells["m"]],
            ["导入乙", b.lower(), "13911110001", "HIMP-1", "", cells["m"]]]  # fmt: skip
    res = import_residents(conn, write_csv(tmp_path / "r.csv", RES_CN, rows, "gb18030"))
    assert not res.errors and (res.inserted, res.updated) == (2, 0)
    r = conn.execute(
        text("SELECT gender, birth_date, synthetic, location IS NOT NULL AS located "
             "FROM resident WHERE id_number = :i"), {"i": a}
    ).one()  # fmt: skip
    assert (r.gender, str(r.birth_date), r.synthetic, r.located) == ("M", "1985-02-03", False, True)
    log = conn.execute(
        text("SELECT kind, target, detail FROM security_log ORDER BY id DESC LIMIT 1")
    ).one()
    assert (log.kind, log.target) == ("roster_change", "import residents")
    assert a not in log.detail and "13911110000" not in log.detail
    rows[0][2] = "13911119999"
    res = import_residents(conn, write_xlsx(tmp_path / "r.xlsx", RES_CN, rows))
    assert (res.inserted, res.updated) == (0, 2)
    assert (
        conn.execute(text("SELECT phone FROM resident WHERE id_number = :i"), {"i": a}).scalar_one()
        == "13911119999"
    )


def test_residents_bad_rows_never_echo_numbers(conn, cells, tmp_path):
    from geodata.people_import import import_residents

    good = _idn("53290119850203123")
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    rows = [["甲", good, "13911110000", "H-1", "", cells["m"]],
            ["乙", wrong, "13911110001", "H-1", "", cells["m"]],  # row 3: check digit
            ["丙", _idn("53290119851332123"), "1391111", "H-1", "", cells["a"]],  # row 4
            ["丁", good, "13911110002", "H-1", "", cells["m"]]]  # row 5: duplicate  # fmt: skip
    res = import_residents(conn, write_csv(tmp_path / "r.csv", RES_CN, rows))
    got = {(e.row, e.column) for e in res.errors}
    assert got == {(3, "身份证号"), (4, "身份证号"), (4, "手机号"), (4, "微网格编码"),
                   (5, "身份证号")}  # fmt: skip
    assert "check digit" in {(e.row, e.column): e.reason for e in res.errors}[3, "身份证号"]
    assert not any(good in str(e) or wrong in str(e) for e in res.errors)
    assert (
        conn.execute(
            text("SELECT count(*) FROM resident WHERE id_number = :i"), {"i": good}
        ).scalar_one()
        == 0
    )
    res = import_residents(conn, write_csv(tmp_path / "g.csv", RES_CN, [
        ["戊", _idn("53290119900101555"), "13911110003", "H-2", "", cells["a"]]]))  # fmt: skip
    assert [(e.row, e.column) for e in res.errors] == [(2, "微网格编码")]
    assert "micro-grids" in res.errors[0].reason


def test_id_number_rules():
    from geodata.people_import import check_id_number

    idn = _idn("53290119850203123")
    assert check_id_number(idn) == (idn, "M", __import__("datetime").date(1985, 2, 3))
    for bad in ("", "5329011985020312", idn[:17] + "Y", _idn("53290119850230123")):
        with pytest.raises(ValueError):
            check_id_number(bad)


def test_reimport_of_an_inactive_worker_keeps_them_inactive(conn, cells, tmp_path):
    import_workers(conn, write_csv(tmp_path / "a.csv", CN, rows3(cells)))
    conn.execute(text("UPDATE grid_worker SET active = false, duty_status = 'off_duty' "
                      "WHERE employee_no = 'IMP-0001'"))  # fmt: skip
    conn.execute(text(
        "UPDATE worker_assignment SET ended_at = started_at WHERE ended_at IS NULL AND "
        "worker_id = (SELECT id FROM grid_worker WHERE employee_no = 'IMP-0001')"
    ))  # fmt: skip
    again = rows3(cells)
    again[0][3] = cells["b"]
    res = import_workers(conn, write_csv(tmp_path / "b.csv", CN, again))
    assert (res.updated, res.moved) == (1, 0)
    w = worker(conn, "IMP-0001")
    assert (w.active, w.duty_status, w.code) == (False, "off_duty", cells["b"])
    assert [h.open for h in history(conn, w.id)] == [False]
