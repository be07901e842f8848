"""GET /export/cells.<fmt> (api/cell_exports.py) on a database of its own (the route commits
security-log rows): every format readable, scoped to the caller's jurisdiction (a cell outside
it is a 404 like an unknown one, logged as ``denied``), logged as ``export``; permission,
CSRF and bad parameters."""

from __future__ import annotations

import zipfile

import pyogrio
import pytest
from sqlalchemy import text

from geodata.grid_export import COLUMNS, FORMATS, SUFFIXES
from gridcmd.settings import Settings
from tests.conftest import engine_on, ensure_accounts, signed_in

COUNTY, OTHER = "532901", "532922"


@pytest.fixture(scope="module")
def world(seeded_database, tmp_path_factory):
    from app import create_app

    url = seeded_database("gridcmd_cell_exports")
    with engine_on(url) as eng:
        ensure_accounts(eng)
        settings = Settings(
            DATABASE_URL=url, secret_key="test-secret", basemap_url=None,
            var_dir=tmp_path_factory.mktemp("cell_exports_var"),
        )  # fmt: skip
        yield {"server": create_app(settings, engine=eng).server, "eng": eng}


def _get(world, username: str | None, url: str, **kw):
    client = (signed_in(world["server"], world["eng"], username) if username
              else world["server"].test_client())  # fmt: skip
    return client.get(url, **kw)


def _log_after(world, since: int) -> list[dict]:
    with world["eng"].connect() as c:
        rows = c.execute(text("SELECT * FROM security_log WHERE id > :i ORDER BY id"), {"i": since})
        return [dict(r._mapping) for r in rows]


def _max_log(world) -> int:
    with world["eng"].connect() as c:
        return c.execute(text("SELECT coalesce(max(id), 0) FROM security_log")).scalar_one()


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_scoped_and_logged(world, tmp_path, fmt):
    before = _max_log(world)
    resp = _get(world, "t_county", f"/export/cells.{fmt}?cell={COUNTY}&level=3&level=4")
    assert resp.status_code == 200, resp.get_data()[:300]
    assert resp.headers["Cache-Control"] == "no-store"
    assert f"filename=cells-{COUNTY}{SUFFIXES[fmt]}" in resp.headers["Content-Disposition"]
    path = tmp_path / f"x{SUFFIXES[fmt]}"
    path.write_bytes(resp.get_data())
    if fmt == "shp":
        with zipfile.ZipFile(path) as zf:
            assert zf.read("cells.cpg").decode().strip().upper() in ("UTF-8", "UTF8")
        df = pyogrio.read_dataframe(f"/vsizip/{path}/cells.shp")
    else:
        df = pyogrio.read_dataframe(path, encoding="utf-8" if fmt == "csv" else None)
    assert list(df.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert len(df) == int(resp.headers["X-Gridcmd-Export-Rows"]) > 0
    assert {int(v) for v in df["level"]} == {3, 4}
    assert all(str(c).startswith(COUNTY) for c in df["code"])
    log = [r for r in _log_after(world, before) if r["kind"] == "export"]
    assert len(log) == 1 and log[0]["target"] == f"cells.{fmt}"
    assert f"cell {COUNTY}" in log[0]["detail"] and f"{len(df)} cells" in log[0]["detail"]


def test_outside_the_jurisdiction_is_not_found(world):
    before = _max_log(world)
    for code in (OTHER, "532900", "999999"):
        resp = _get(world, "t_county", f"/export/cells.geojson?cell={code}")
        assert resp.status_code == 404 and resp.get_json()["error"] == "not_found"
        assert OTHER.encode() not in resp.get_data() or code == OTHER
    kinds = [(r["kind"], r["target"]) for r in _log_after(world, before)]
    assert ("denied", f"cell {OTHER}") in kinds and not any(k == "export" for k, _ in kinds)
    # the prefecture's commander sees the other county
    assert _get(world, "t_commander", f"/export/cells.csv?cell={OTHER}&level=2").status_code == 200


def test_refusals_and_bad_parameters(world):
    url = f"/export/cells.geojson?cell={COUNTY}"
    assert _get(world, None, url).status_code in (302, 401)
    assert _get(world, "t_worker", url).status_code == 403
    resp = _get(world, "t_county", url, headers={"Sec-Fetch-Site": "cross-site"})
    assert resp.status_code == 403 and resp.get_json()["error"] == "csrf"
    assert _get(world, "t_county", f"/export/cells.kml?cell={COUNTY}").status_code == 404
    for query, field in (("cell=abc", "cell"), (f"cell={COUNTY}&level=7", "level"),
                         (f"cell={COUNTY}&level=x", "level"), ("", "cell")):  # fmt: skip
        resp = _get(world, "t_county", f"/export/cells.csv?{query}")
        assert resp.status_code == 400 and resp.get_json()["field"] == field, query
