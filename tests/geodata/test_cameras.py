"""Camera CSV import (validation with line numbers, all-or-nothing, upsert, BOM, CRS) and the
scoped camera queries, on the fixture database (every test rolls back: ``conn``)."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import text

from geodata.cameras import (
    MAX_NAME,
    camera_by_id,
    cameras_in_view,
    count_cameras,
    import_cameras_csv,
    infer_kind,
    parse_cameras_csv,
)
from geodata.crs import gcj02_to_bd09, wgs84_to_gcj02
from geodata.demo.cameras import demo_cameras_csv, load_demo_cameras

HEADER = "code,name,lon,lat,stream_url\n"


@pytest.fixture(scope="module")
def sites(engine) -> list[dict]:
    """Interior points of L6 cells in three different counties: {code, path, county, lon, lat}."""
    with engine.connect() as c:
        rows = c.execute(
            text(
                """
                SELECT DISTINCT ON (subpath(path, 1, 1)) code, path::text AS path,
                       ltree2text(subpath(path, 0, 2)) AS county,
                       ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat
                FROM grid_cell WHERE level = 6
                ORDER BY subpath(path, 1, 1), code
                LIMIT 3
                """
            )
        ).mappings()
        return [dict(r) for r in rows]


def csv_of(*lines: str, header: str = HEADER) -> io.StringIO:
    return io.StringIO(header + "".join(line + "\n" for line in lines))


def stored(conn) -> dict[str, dict]:
    rows = conn.execute(
        text(
            """
            SELECT m.id, m.code, m.name, m.stream_url, m.stream_kind, m.synthetic, g.code AS cell,
                   ST_X(m.location) AS lon, ST_Y(m.location) AS lat
            FROM camera m JOIN grid_cell g ON g.id = m.cell_id
            """
        )
    ).mappings()
    return {r["code"]: dict(r) for r in rows}


def test_valid_import_attributes_each_camera_to_its_micro_grid(conn, sites):
    a, b, c = sites
    report = import_cameras_csv(
        conn,
        csv_of(
            f"T-1,路口一,{a['lon']},{a['lat']},https://v.example/live/1/index.m3u8",
            f"T-2,学校,{b['lon']},{b['lat']},http://v.example/clip.MP4",
            f"T-3,桥头,{c['lon']},{c['lat']},rtsp://v.example:554/s1",
            f"T-4,集市,{a['lon']},{a['lat']},https://v.example/page?id=4",
        ),
        synthetic=True,
    )
    assert report.ok and report.written
    assert (report.rows, report.inserted, report.updated, report.deleted) == (4, 4, 0, 0)
    got = stored(conn)
    assert {k: (v["cell"], v["stream_kind"]) for k, v in got.items()} == {
        "T-1": (a["code"], "hls"),
        "T-2": (b["code"], "mp4"),
        "T-3": (c["code"], "rtsp"),
        "T-4": (a["code"], "web"),
    }
    assert got["T-1"]["name"] == "路口一" and got["T-1"]["synthetic"] is True
    assert got["T-2"]["lon"] == pytest.approx(b["lon"]) and got["T-2"]["lat"] == pytest.approx(
        b["lat"]
    )


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://h/a/index.m3u8?token=1", "hls"),
        ("http://h/a.mp4", "mp4"),
        ("RTSP://h/a", "rtsp"),
        ("https://h/player.html", "web"),
        ("https://h/", "web"),
    ],
)
def test_kind_is_inferred_from_the_url(url, kind):
    assert infer_kind(url) == kind


BAD_ROWS = [
    # (row after the header, column, fragment of the message)
    ("C1,n,,25.6,http://h/a.mp4", "lon", "lon is missing"),
    ("C1,n,100.2,abc,http://h/a.mp4", "lat", "'abc' is not a number"),
    ("C1,n,100.2,nan,http://h/a.mp4", "lat", "not a finite number"),
    ("C1,n,25.6,100.2,http://h/a.mp4", "lon", "swapped"),
    ("C1,n,116.39,39.91,http://h/a.mp4", "lon", "outside the prefecture"),
    ("C1,n,{lon},{lat},javascript:alert(1)", "stream_url", "unsafe or unsupported URL scheme"),
    ("C1,n,{lon},{lat},JavaScript:alert(1)//.mp4", "stream_url", "javascript:"),
    ('C1,n,{lon},{lat},"data:text/html,<script>x()</script>"', "stream_url", "data:"),
    ("C1,n,{lon},{lat},file:///etc/passwd", "stream_url", "file:"),
    ("C1,n,{lon},{lat},ftp://h/a.mp4", "stream_url", "ftp:"),
    ("C1,n,{lon},{lat},//h/a.mp4", "stream_url", "scheme none"),
    ("C1,n,{lon},{lat},http:///a.mp4", "stream_url", "no host"),
    ("C1,n,{lon},{lat},rtsp://admin:secret@h/s1", "stream_url", "credentials"),
    ("C1,n,{lon},{lat},", "stream_url", "stream_url is empty"),
    ("C1,n,{lon},{lat},http://h/a b.mp4", "stream_url", "spaces"),
    ("C1," + "长" * (MAX_NAME + 1) + ",{lon},{lat},http://h/a.mp4", "name", "at most"),
    ("C1,,{lon},{lat},http://h/a.mp4", "name", "name is missing"),
    (",n,{lon},{lat},http://h/a.mp4", "code", "code is missing"),
    ("C 1,n,{lon},{lat},http://h/a.mp4", "code", "may only contain"),
    ("C1,n,{lon},{lat},http://h/a.mp4,gcj99", "crs", "unknown crs"),
    ("C1,n,{lon},{lat},http://h/a.mp4,,flv", "kind", "unknown kind"),
    ("C1,n,{lon},{lat},rtsp://h/a,,hls", "kind", "does not match"),
    ("C1,n,{lon},{lat},http://h/a.m3u8,,rtsp", "kind", "does not match"),
    ("C1,n,{lon},{lat},http://h/a.mp4,wgs84,mp4,extra", None, "fields but the header has"),
]


@pytest.mark.parametrize(("row", "column", "fragment"), BAD_ROWS)
def test_each_bad_row_is_reported_with_its_line_and_nothing_is_written(
    conn, sites, row, column, fragment
):
    a = sites[0]
    good = f"OK-1,好的,{a['lon']},{a['lat']},http://h/ok.mp4,,"
    bad = row.format(lon=a["lon"], lat=a["lat"])
    header = "code,name,lon,lat,stream_url,crs,kind\n"
    report = import_cameras_csv(conn, csv_of(good, good.replace("OK-1", "OK-2"), bad,
                                             header=header))  # fmt: skip
    assert not report.ok and not report.written
    assert len(report.errors) == 1, report.errors
    err = report.errors[0]
    assert (err.line, err.column) == (4, column), err
    assert fragment in err.message, err.message
    assert str(err).startswith("line 4")
    assert stored(conn) == {}  # all-or-nothing: the two good rows were not written either


def test_duplicate_code_names_the_first_line(conn, sites):
    a = sites[0]
    row = f"{a['lon']},{a['lat']},http://h/a.mp4"
    report = import_cameras_csv(
        conn, csv_of(f"D1,a,{row}", f"D2,b,{row}", f"D1,c,{row}", f"D1,d,{row}")
    )
    assert [(e.line, e.message) for e in report.errors] == [
        (4, "duplicate code 'D1' (first on line 2)"),
        (5, "duplicate code 'D1' (first on line 2)"),
    ]
    assert stored(conn) == {}


def test_every_error_of_a_file_is_reported_in_line_order(conn, sites):
    a = sites[0]
    report = import_cameras_csv(
        conn,
        csv_of(
            f"E1,a,{a['lon']},{a['lat']},javascript:x",
            "",  # blank lines are skipped but counted
            f"E2,b,{a['lon']},{a['lat']},http://h/a.mp4",
            "E3,c,116.39,39.91,http://h/a.mp4",
            f'E4,"two\nlines",{a["lon"]},{a["lat"]},http://h/a.mp4',
            f"E5,e,{a['lon']},x,http://h/a.mp4",
        ),
    )
    assert [(e.line, e.column) for e in report.errors] == [
        (2, "stream_url"),
        (5, "lon"),
        (6, "name"),  # a quoted field with a newline: the record starts on line 6
        (8, "lat"),  # ... and the next record on line 8
    ]
    assert report.rows == 1  # E2 is valid, but all-or-nothing wrote nothing
    assert stored(conn) == {}


def test_partial_import_writes_the_valid_rows(conn, sites):
    a = sites[0]
    report = import_cameras_csv(
        conn,
        csv_of(f"P1,a,{a['lon']},{a['lat']},http://h/a.mp4", "P2,b,0,0,javascript:x"),
        partial=True,
    )
    assert report.written and [e.line for e in report.errors] == [3]
    assert set(stored(conn)) == {"P1"}
    with pytest.raises(ValueError, match="replace and partial"):
        import_cameras_csv(conn, csv_of(), replace=True, partial=True)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("", "the file is empty"),
        ("code,name,lon,lat\nA,b,100,25\n", "missing: stream_url"),
        ("code;name;lon;lat;stream_url\n", "separated by commas"),
        ("code,name,lon,lat,stream_url,name\n", "duplicate column"),
    ],
)
def test_header_problems_are_line_1(conn, content, fragment):
    report = import_cameras_csv(conn, io.StringIO(content))
    assert [e.line for e in report.errors] == [1]
    assert fragment in report.errors[0].message
    assert not report.written


def test_utf8_with_bom_and_header_case_and_order(conn, sites, tmp_path):
    a = sites[0]
    body = f"\ufeffName, Code ,Stream_URL,LAT,LON\n大理镇-路口-01,B1,http://h/a.mp4,{a['lat']},{a['lon']}\n"
    path = tmp_path / "cams.csv"
    path.write_bytes(body.encode("utf-8"))
    report = import_cameras_csv(conn, path)
    assert report.ok, report.errors
    assert stored(conn)["B1"]["name"] == "大理镇-路口-01"
    # and from a binary file object
    report = import_cameras_csv(conn, io.BytesIO(body.encode("utf-8")))
    assert report.ok and report.unchanged == 1


def test_a_non_utf8_file_is_refused(conn, sites):
    a = sites[0]
    data = (HEADER + f"G1,大理,{a['lon']},{a['lat']},http://h/a.mp4\n").encode("gbk")
    report = import_cameras_csv(conn, io.BytesIO(data))
    assert [e.line for e in report.errors] == [1] and "not UTF-8" in report.errors[0].message


def test_upsert_by_code_updates_changed_rows_only(conn, sites):
    a, b, _ = sites
    first = csv_of(
        f"U1,one,{a['lon']},{a['lat']},http://h/1.mp4",
        f"U2,two,{a['lon']},{a['lat']},http://h/2.mp4",
    )
    assert import_cameras_csv(conn, first).inserted == 2
    ids = {k: v["id"] for k, v in stored(conn).items()}
    before = conn.execute(text("SELECT count(*) FROM live_change WHERE kind = 'camera'")).scalar()
    report = import_cameras_csv(
        conn,
        csv_of(
            f"U1,one,{a['lon']},{a['lat']},http://h/1.mp4",  # unchanged
            f"U2,二,{b['lon']},{b['lat']},http://h/2.m3u8",  # renamed, moved, new URL
            f"U3,three,{a['lon']},{a['lat']},http://h/3.mp4",  # new
        ),
    )
    assert (report.inserted, report.updated, report.unchanged) == (1, 1, 1)
    got = stored(conn)
    assert {k: v["id"] for k, v in got.items() if k != "U3"} == ids  # same rows, updated
    assert got["U2"]["name"] == "二" and got["U2"]["cell"] == b["code"]
    assert got["U2"]["stream_kind"] == "hls"
    after = conn.execute(text("SELECT count(*) FROM live_change WHERE kind = 'camera'")).scalar()
    assert after > before  # the change feed saw the import


def test_replace_deletes_cameras_missing_from_the_file(conn, sites):
    a = sites[0]
    row = f"{a['lon']},{a['lat']},http://h/a.mp4"
    import_cameras_csv(conn, csv_of(f"R1,a,{row}", f"R2,b,{row}"))
    report = import_cameras_csv(conn, csv_of(f"R2,b,{row}", f"R3,c,{row}"), replace=True)
    assert (report.deleted, report.inserted, report.unchanged) == (1, 1, 1)
    assert set(stored(conn)) == {"R2", "R3"}
    # a file with an error replaces nothing
    bad = import_cameras_csv(conn, csv_of(f"R9,z,{row}", "R8,y,1,1,javascript:x"), replace=True)
    assert not bad.written and set(stored(conn)) == {"R2", "R3"}


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_chinese_web_map_coordinates_are_converted_to_wgs84(conn, sites, crs):
    a = sites[1]
    lon, lat = wgs84_to_gcj02(a["lon"], a["lat"])
    if crs == "bd09":
        lon, lat = gcj02_to_bd09(lon, lat)
    assert abs(lon - a["lon"]) + abs(lat - a["lat"]) > 1e-3  # hundreds of metres apart
    report = import_cameras_csv(
        conn,
        csv_of(f"G1,g,{lon!r},{lat!r},http://h/a.mp4,{crs}",
               header="code,name,lon,lat,stream_url,crs\n"),
    )  # fmt: skip
    assert report.ok, report.errors
    got = stored(conn)["G1"]
    assert got["lon"] == pytest.approx(a["lon"], abs=2e-6)
    assert got["lat"] == pytest.approx(a["lat"], abs=2e-6)
    assert got["cell"] == a["code"]


def test_queries_are_scoped_to_the_jurisdiction(conn, sites):
    rows = [f"S{i},cam {i},{s['lon']},{s['lat']},http://h/{i}.mp4" for i, s in enumerate(sites)]
    import_cameras_csv(conn, csv_of(*rows))
    by_code = {v["code"]: v["id"] for v in stored(conn).values()}
    everything = cameras_in_view(conn, "532900")
    assert {r["code"] for r in everything} == {"S0", "S1", "S2"}
    assert "stream_url" not in everything[0]
    county = sites[1]["county"]  # e.g. "532900.532922"
    mine = cameras_in_view(conn, county)
    assert [r["code"] for r in mine] == ["S1"]
    assert count_cameras(conn, county) == 1 and count_cameras(conn, "532900") == 3
    assert camera_by_id(conn, county, by_code["S1"])["stream_url"] == "http://h/1.mp4"
    assert camera_by_id(conn, county, by_code["S0"]) is None  # exists, but not in scope
    assert camera_by_id(conn, "532900", 10**12) is None
    cam = camera_by_id(conn, sites[0]["path"], by_code["S0"])  # the micro-grid itself
    assert cam["cell_code"] == sites[0]["code"] and cam["cell_level"] == 6
    with pytest.raises(ValueError):
        cameras_in_view(conn, "532900'; DROP TABLE camera; --")
    with pytest.raises(ValueError):
        camera_by_id(conn, "532900", "1")  # type: ignore[arg-type]


def test_bbox_and_limit(conn, sites):
    rows = [f"B{i},cam {i},{s['lon']},{s['lat']},http://h/{i}.mp4" for i, s in enumerate(sites)]
    import_cameras_csv(conn, csv_of(*rows))
    s = sites[2]
    box = (s["lon"] - 1e-4, s["lat"] - 1e-4, s["lon"] + 1e-4, s["lat"] + 1e-4)
    assert [r["code"] for r in cameras_in_view(conn, "532900", box)] == ["B2"]
    assert len(cameras_in_view(conn, "532900", None, 2)) == 2
    with pytest.raises(ValueError):
        cameras_in_view(conn, "532900", (1, 2, 3))


def test_parse_without_a_database_keeps_wgs84_and_kinds():
    rows, errors = parse_cameras_csv(
        io.StringIO(HEADER + "X1,x,100.25,25.6,https://h/a.m3u8\nX2,y,100.3,25.7,rtsp://h/s\n")
    )
    assert errors == []
    assert [(r.line, r.code, r.kind, r.lon) for r in rows] == [
        (2, "X1", "hls", 100.25),
        (3, "X2", "rtsp", 100.3),
    ]


def test_demo_cameras_are_deterministic_synthetic_and_valid(conn):
    text_a = demo_cameras_csv(conn, seed=7)
    assert text_a == demo_cameras_csv(conn, seed=7)
    assert text_a != demo_cameras_csv(conn, seed=8)
    report = load_demo_cameras(conn, seed=7)
    assert report.ok and report.written, report.errors[:3]
    n_townships = conn.execute(text("SELECT count(*) FROM grid_cell WHERE level = 3")).scalar()
    assert 2 * n_townships <= report.inserted <= 4 * n_townships
    got = stored(conn)
    assert all(v["synthetic"] for v in got.values())
    assert all(v["name"].endswith("(模拟)") for v in got.values())
    assert all(".invalid" in v["stream_url"] for v in got.values())  # never a real host
    assert {v["stream_kind"] for v in got.values()} <= {"hls", "mp4", "rtsp", "web"}
    # per township: 2-4 cameras, each in a micro-grid of that township
    per = conn.execute(
        text(
            """
            SELECT t.code, count(m.id) FROM grid_cell t
            LEFT JOIN grid_cell g ON g.path <@ t.path AND g.level = 6
            LEFT JOIN camera m ON m.cell_id = g.id
            WHERE t.level = 3 GROUP BY t.code
            """
        )
    ).all()
    assert all(2 <= n <= 4 for _, n in per), per
    assert load_demo_cameras(conn, seed=7).unchanged == report.inserted  # idempotent
