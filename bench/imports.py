"""File imports (issue 14 §5): grids, workers and residents, each beside the raw COPY floor.

Run ``python -m bench.imports [--scale 1.0]`` (with the project's venv). On the server the
app would use (``DATABASE_URL``, else the private instance) it

1. seeds the demo at ``--scale`` into a scratch database and exports its levels 1–5 as
   GeoPackages (:func:`geodata.grid_export.export_cells`, one file per level);
2. writes a synthetic worker roster (25,884 × scale rows over the demo's L5/L6 codes) and a
   resident list (400,000 × scale rows, valid GB 11643 ID numbers, over L6 codes) as CSV and
   imports them into the seeded database (its synthetic residents deleted first, so every
   row is new) with :func:`geodata.people_import.import_workers` / ``import_residents``,
   each in one transaction as ``gridcmd import workers|residents`` runs it;
3. drops it, creates an empty migrated scratch database and imports the grid levels 1→5
   there with :func:`geodata.grid_import.import_grids` (validation, topology report, LOD
   rebuild: what ``gridcmd import grids FILE --level N`` does).

Each import runs in a fresh ``python -m bench.imports --child ...`` process, so its wall
time and peak RSS (``VmHWM``, reset just before the call) are its own; the RSS of that
process just before the call is reported beside it. The floor, in the same run and
database: ``COPY`` of the same rows into a plain table (grids: code, name, level, hex EWKB
geometry, from memory; people: the CSV file itself into a temporary table of text columns).
One run per import.
Only the section between the ``bench.imports`` markers of ``bench/RESULTS.md`` is replaced.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import (
    ROOT,
    BenchError,
    bench_seed,
    cli_main,
    cpu_model,
    git_commit,
    log,
    md_table,
    mem_total_gb,
    scratch_database,
    server_url,
    server_versions,
    write_marked_section,
)

WORKERS_FULL = 25_884
RESIDENTS_FULL = 400_000
TARGETS_S = {"grids L5": 60.0, "workers": 10.0, "residents": 60.0}
SEED = 20261208
HEADERS = ["import", "rows", "file MB", "wall s", "rows/s", "peak RSS MB (growth)",
           "COPY floor s", "× floor", "target"]  # fmt: skip
COUNTY = "532901"  # Dali city's administrative code: the ID numbers' first six digits
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗段杨字"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华兰"


# --------------------------------------------------------------------------- child process


def _rss_now_kb() -> int:
    """The process's resident set now (kB), from /proc/self/statm; then its peak (VmHWM) is
    reset to it (``clear_refs`` 5, Linux ≥ 4.0), so :func:`_rss_peak_kb` sees only what
    follows and not the module imports before."""
    now = int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() // 1024
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return now


def _rss_peak_kb() -> int:
    """The process's peak resident set (kB): VmHWM, else ``ru_maxrss``."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _child(argv: Sequence[str]) -> int:
    """``--child KIND URL FILE [LEVEL]``: one import, timed; prints a JSON line."""
    from sqlalchemy.engine import make_url

    from geodata.db import make_engine

    kind, url, path = argv[0], argv[1], Path(argv[2])
    engine = make_engine(make_url(url))
    with engine.connect() as c:  # connect (and import the modules) before the clock starts
        c.exec_driver_sql("SELECT 1")
    if kind == "grids":
        from geodata.grid_import import ImportOptions, import_grids
        from geodata.lod import build_lod

        checked: list[float] = []

        def note(msg: str) -> None:
            if "pass the value and geometry checks" in msg:
                checked.append(time.perf_counter() - t0)

        rss0 = _rss_now_kb()
        t0 = time.perf_counter()
        res = import_grids(engine, path, ImportOptions(level=int(argv[3])), progress=note)
        wall = time.perf_counter() - t0
        t1 = time.perf_counter()
        build_lod(engine)  # the import's last step again, alone: its share of the time
        lod_s = time.perf_counter() - t1
        topo = res.topology
        out = {"rows": res.rows, "inserted": res.inserted,
               "errors": [str(e) for e in res.errors[:5]],
               "findings": len(topo.findings) if topo else None,
               "slivers": sum(f.sliver for f in topo.findings) if topo else None,
               "lod_rows": res.lod_rows, "lod_error": res.lod_error,
               "checked_s": checked[0] if checked else None, "lod_s": lod_s}  # fmt: skip
    else:
        from geodata.people_import import import_residents, import_workers

        fn = import_workers if kind == "workers" else import_residents
        rss0 = _rss_now_kb()
        t0 = time.perf_counter()
        with engine.begin() as conn:
            res = fn(conn, path)
        wall = time.perf_counter() - t0
        out = {"rows": res.rows, "inserted": res.inserted, "updated": res.updated,
               "errors": [str(e) for e in res.errors[:5]]}  # fmt: skip
    out.update(wall_s=wall, rss0_mb=rss0 / 1024,
               rss_mb=_rss_peak_kb() / 1024)  # fmt: skip
    engine.dispose()
    print(json.dumps(out, ensure_ascii=False), flush=True)
    return 0


def _run_child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bench.imports", "--child", *args], cwd=ROOT,
                          text=True, capture_output=True)  # fmt: skip
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"import {args[0]} failed: {tail}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if out["errors"]:
        raise BenchError(f"import {args[0]} {args[2]}: {out['errors'][0]}")
    return out


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


# --------------------------------------------------------------------------- files


def _export_levels(engine, work: Path) -> tuple[dict[int, Path], list[tuple], list[str], list[str]]:
    """The L1–L5 GeoPackages, the L5 rows for the floor, and the L5/L6 and L6 codes."""
    from sqlalchemy import text

    from geodata.grid_export import export_cells

    files: dict[int, Path] = {}
    with engine.connect() as conn:
        root_sql = "SELECT path::text, code FROM grid_cell WHERE level = 1"
        scope, root = conn.execute(text(root_sql)).one()
        for level in range(1, 6):
            files[level] = work / f"cells_L{level}.gpkg"
            n = export_cells(conn, scope_path=scope, code=root, fmt="gpkg", dest=files[level],
                             levels=[level])  # fmt: skip
            log(f"exported level {level}: {n:,} cells, {files[level].stat().st_size / 1e6:.1f} MB")
        floor_rows = conn.execute(text(
            "SELECT code, name, level, encode(ST_AsEWKB(geom), 'hex') FROM grid_cell "
            "WHERE level = 5 ORDER BY code"
        )).all()  # fmt: skip
        l56 = conn.execute(text("SELECT code FROM grid_cell WHERE level IN (5, 6)")).scalars().all()
        l6 = conn.execute(text("SELECT code FROM grid_cell WHERE level = 6")).scalars().all()
    return files, [tuple(r) for r in floor_rows], sorted(l56), sorted(l6)


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def _write_workers(path: Path, n: int, codes: list[str], rng: random.Random) -> None:
    duty = ["在岗", "在岗", "离岗", "休假"]
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["工号", "姓名", "手机号", "网格编码", "在岗状态"])
        for i in range(n):
            w.writerow([f"BENCH-{i:06d}", _name(rng), f"139{i:08d}", rng.choice(codes),
                        rng.choice(duty)])  # fmt: skip


def _write_residents(path: Path, n: int, codes: list[str], rng: random.Random) -> None:
    """``n`` residents with distinct valid ID numbers: birth day ``i // 500`` days after
    1950-01-01, sequence ``i % 500`` (odd/even sets the gender), GB 11643 check digit."""
    from geodata.demo.residents import check_digit

    base = dt.date(1950, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["姓名", "身份证号", "手机号", "户号", "地址", "微网格编码"])
        for i in range(n):
            born = base + dt.timedelta(days=i // 500)
            first17 = f"{COUNTY}{born:%Y%m%d}{i % 500 + 100:03d}"
            code = rng.choice(codes)
            address = f"大理市{code}号{i % 97 + 1}栋"
            w.writerow([_name(rng), first17 + check_digit(first17), f"138{i:08d}",
                        f"{COUNTY}{i // 3:07d}", address, code])  # fmt: skip


# --------------------------------------------------------------------------- floors


def _floor_csv(engine, path: Path, columns: int) -> float:
    """Seconds to COPY the CSV file into a temporary table of ``columns`` text columns."""
    cols = ", ".join(f"c{k} text" for k in range(columns))
    data = path.read_bytes()
    raw = engine.raw_connection()
    try:
        t0 = time.perf_counter()
        with raw.driver_connection.cursor() as cur:
            cur.execute(f"CREATE TEMP TABLE bench_floor ({cols}) ON COMMIT DROP")
            with cur.copy("COPY bench_floor FROM STDIN (FORMAT csv, HEADER true)") as cp:
                cp.write(data)
        raw.commit()
        wall = time.perf_counter() - t0
        raw.rollback()
    finally:
        raw.close()
    return wall


def _floor_grids(engine, rows: list[tuple]) -> float:
    """Seconds to COPY the L5 rows (code, name, level, EWKB) into a plain table."""
    raw = engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cur:
            cur.execute("CREATE TABLE bench_floor_cell (code text, name text, level int, "
                        "geom geometry)")  # fmt: skip
            raw.commit()
            t0 = time.perf_counter()
            with cur.copy("COPY bench_floor_cell FROM STDIN") as cp:
                for r in rows:
                    cp.write_row(r)
            raw.commit()
            wall = time.perf_counter() - t0
            cur.execute("DROP TABLE bench_floor_cell")
            raw.commit()
    finally:
        raw.close()
    return wall


# --------------------------------------------------------------------------- run


def run(args: argparse.Namespace, argv: Sequence[str]) -> str:
    from geodata.demo.residents import delete_residents
    from geodata.migrate import upgrade

    n_workers = round(WORKERS_FULL * args.scale)
    n_residents = args.residents or round(RESIDENTS_FULL * args.scale)
    server, where = server_url()
    log(f"server: {where}")
    rng = random.Random(SEED)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-imports-") as tmp:
        work = Path(tmp)
        with scratch_database(server) as engine:
            upgrade(engine)
            versions = server_versions(engine)
            log(f"seeding the demo at scale {args.scale:g}")
            seed = bench_seed(engine, args.scale)
            log(f"seed done in {seed.wall_s:.1f} s")
            files, floor_rows, l56, l6 = _export_levels(engine, work)
            wfile, rfile = work / "workers.csv", work / "residents.csv"
            _write_workers(wfile, n_workers, l56, rng)
            _write_residents(rfile, n_residents, l6, rng)
            log(f"files: {n_workers:,} workers, {n_residents:,} residents")
            deleted = delete_residents(engine)
            log(f"deleted {deleted:,} synthetic residents")
            url = _url(engine)
            for kind, path, ncols in (("workers", wfile, 5), ("residents", rfile, 6)):
                floor = _floor_csv(engine, path, ncols)
                results[kind] = _run_child(kind, url, str(path))
                results[kind].update(floor_s=floor, bytes=path.stat().st_size)
                log(f"{kind}: {results[kind]['wall_s']:.1f} s (floor {floor:.2f} s)")
        with scratch_database(server) as engine:
            upgrade(engine)
            url = _url(engine)
            for level in range(1, 6):
                out = _run_child("grids", url, str(files[level]), str(level))
                out["bytes"] = files[level].stat().st_size
                results[f"grids L{level}"] = out
                log(f"grids L{level}: {out['rows']:,} rows in {out['wall_s']:.1f} s, "
                    f"{out['findings']} topology finding(s)")  # fmt: skip
            results["grids L5"]["floor_s"] = _floor_grids(engine, floor_rows)
    for kind in ("workers", "residents"):
        if results[kind]["inserted"] != results[kind]["rows"]:
            raise BenchError(f"{kind}: {results[kind]['inserted']:,} of "
                             f"{results[kind]['rows']:,} rows new")  # fmt: skip
    results["residents"]["deleted"] = deleted
    section = _report(args, argv, results, seed, versions)
    if not args.no_write:
        write_marked_section(args.out, section)
    return section


def _report(args, argv, results: dict[str, dict], seed, versions) -> str:
    def row(label: str, r: dict) -> list[str]:
        floor = r.get("floor_s")
        target = TARGETS_S.get(label)
        verdict = "" if target is None else (
            f"{'**PASS**' if r['wall_s'] <= target else '**MISS**'} (≤ {target:g} s)")  # fmt: skip
        rss = f"{r['rss_mb']:.0f} (+{r['rss_mb'] - r['rss0_mb']:.0f})"
        ratio = "—" if not floor else f"{r['wall_s'] / floor:,.0f}×"
        return [label, f"{r['rows']:,}", f"{r['bytes'] / 1e6:.1f}", f"{r['wall_s']:.2f}",
                f"{r['rows'] / r['wall_s']:,.0f}", rss,
                "—" if floor is None else f"{floor:.2f}", ratio, verdict]  # fmt: skip

    order = [*(f"grids L{n}" for n in range(1, 6)), "workers", "residents"]
    g5 = results["grids L5"]
    total_grids = sum(results[f"grids L{n}"]["rows"] for n in range(1, 6))
    full = args.scale == 1 and not args.residents
    lines = [
        "<!-- bench.imports:start -->",
        "## File imports: grids, workers, residents vs the COPY floor (`python -m bench.imports`)",
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · {cpu_model()}, "
        f"{mem_total_gb() or 0:.0f} GB · {platform.platform()} · PostgreSQL "
        f"{versions['postgres']}, PostGIS {versions['postgis']} · commit {git_commit()} · "
        f"`{' '.join(['python -m bench.imports', *argv])}` · demo scale {args.scale:g} "
        f"(seed {seed.wall_s:.0f} s) · one run per import"
        + ("" if full else " · **not the full size of issue 14 §5**"),
        "",
        md_table(HEADERS, [row(k, results[k]) for k in order]),
        "",
        f"Grids: the demo's levels 1–5 ({total_grids:,} cells) exported as GeoPackages and "
        "imported level by level into an empty migrated database with `geodata.grid_import."
        "import_grids` (`gridcmd import grids FILE --level N`: read, fields, CRS, geometry "
        "repair, parents (the file's `parent` field) and codes, topology report, the write, "
        "then the LOD rebuild of every level, which is inside the time); L5 found "
        f"{g5['findings']} topology finding(s) ({g5['slivers']} sliver(s)) and rebuilt "
        f"{g5['lod_rows']:,} LOD row(s). Where the L5 time goes: reading the file, the value "
        f"and geometry checks and repair {g5['checked_s']:.1f} s (the import's progress note); "
        f"the LOD rebuild ≈ {g5['lod_s']:.1f} s (`build_lod` run again alone right after); "
        f"parents, topology report and the write the rest, ≈ "
        f"{g5['wall_s'] - g5['checked_s'] - g5['lod_s']:.1f} s. Floor: `COPY` of the same L5 "
        "rows (code, name, level, hex EWKB) from memory into a plain table without indexes. "
        "Workers: synthetic roster over the demo's L5/L6 codes, all new employee numbers; "
        "residents: synthetic list with distinct valid GB 11643 ID numbers over L6 codes, "
        "into the seeded demo "
        f"({results['residents']['deleted']:,} synthetic residents deleted first; every row "
        "new); each import in one transaction as the CLI runs it. Floor: `COPY` of the CSV "
        "file into a temporary table of text columns. Peak RSS is the peak resident set "
        "(VmHWM, reset just before the call) of a fresh process that runs only that "
        "import; the growth is over its resident set just before the call (interpreter, "
        "libraries, engine).",
        "<!-- bench.imports:end -->",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.imports", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--scale", type=float, default=1.0,
                   help="demo scale; also scales 25,884 workers and 400,000 residents")  # fmt: skip
    p.add_argument("--residents", type=int, default=0,
                   help="resident rows (default 400,000 × scale)")  # fmt: skip
    p.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args(argv)
    if not 0 < a.scale <= 1:
        p.error("--scale must be in (0, 1]")
    return a


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        return _child(argv[1:])
    return cli_main(run, argv, parse_args)


if __name__ == "__main__":
    raise SystemExit(main())
