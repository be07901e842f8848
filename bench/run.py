"""Grid Command benchmarks: demo seed time, point attribution, whole-level GeoJSON baseline.

Run ``python -m bench.run [--scale 1.0] [--points 2000] [--out bench/RESULTS.md]``.

The database server is found like the app finds it (``DATABASE_URL``, else the private instance
from ``gridcmd.pgserver.up``). A throw-away database ``gridcmd_bench_<pid>`` is created on it,
migrated, seeded, measured and dropped again, also when something fails. Every comparison is
against a baseline measured in the same run (see ``/work/shared/DESIGN.md``, "Performance
principles").
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.common import (
    SeedResult,
    bench_seed,
    cli_main,
    cpu_model,
    fmt,
    keep_marked_sections,
    log,
    md_table,
    mem_total_gb,
    pct,
    scratch_database,
    server_url,
    server_versions,
)

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = BENCH_DIR / "RESULTS.md"
SEED_BUDGET_S = 60.0  # the limit for a full-scale seed on the 2-core machine
RNG_SEED = 20_240_601  # fixed: the same random points every run
GEOJSON_RUNS = 3
MB = 1_000_000  # sizes are reported in decimal megabytes


# --------------------------------------------------------------------------- 2. attribution


@dataclass
class Timing:
    label: str
    per_point_ms: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return pct(self.per_point_ms, 50)

    @property
    def p95(self) -> float:
        return pct(self.per_point_ms, 95)

    @property
    def mean(self) -> float:
        return float(np.mean(self.per_point_ms)) if self.per_point_ms else float("nan")


@dataclass
class AttributionResult:
    n: int
    bbox: tuple[float, float, float, float]
    inside: int
    l6_cells: int
    sql_point: Timing
    sql_raw: Timing
    sql_batch_s: list[float]
    shapely_load_s: float
    shapely_build_s: float
    shapely_point: Timing
    shapely_vector_s: list[float]
    ties: int
    agree_chain: int  # attribute_point chain == shapely chain
    agree_batch: int  # attribute_points L6 == shapely vectorised L6
    agree_internal: int  # attribute_points L6 == attribute_point L6
    disagreements: list[str]


def random_points(bbox, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(RNG_SEED)
    xmin, ymin, xmax, ymax = bbox
    return rng.uniform(xmin, xmax, n), rng.uniform(ymin, ymax, n)


def bench_attribution(engine, n_points: int) -> AttributionResult:
    import shapely
    from sqlalchemy import text

    from geodata import attribution

    with engine.connect() as conn:
        bbox = tuple(
            conn.execute(
                text(
                    "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                    "(SELECT ST_Extent(geom)::box3d AS e FROM grid_cell WHERE level = 1) s"
                )
            ).one()
        )
    lons, lats = random_points(bbox, n_points)
    lon_l, lat_l = lons.tolist(), lats.tolist()
    warm = min(50, n_points)

    # -- SQL, one round trip per point: attribute_point (the app's path) -------------------
    log(f"attribution: attribute_point x {n_points} (after {warm} warm-up calls)")
    sql_point = Timing("attribute_point")
    sql_chains: list[tuple[str, ...] | None] = []
    clock = time.perf_counter
    with engine.connect() as conn:
        for x, y in zip(lon_l[:warm], lat_l[:warm], strict=True):
            attribution.attribute_point(conn, x, y)
        for x, y in zip(lon_l, lat_l, strict=True):
            t = clock()
            a = attribution.attribute_point(conn, x, y)
            sql_point.per_point_ms.append((clock() - t) * 1e3)
            sql_chains.append(tuple(c.code for c in a.chain) if a else None)

        # -- the same SQL through the raw driver, server-side prepared (the floor) ---------
        log(f"attribution: raw psycopg prepared statement x {n_points}")
        raw_sql = str(attribution._POINT_SQL).replace(":lon", "%(lon)s").replace(":lat", "%(lat)s")
        sql_raw = Timing("raw psycopg (prepared)")
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            for x, y in zip(lon_l[:warm], lat_l[:warm], strict=True):
                cur.execute(raw_sql, {"lon": x, "lat": y}, prepare=True)
                cur.fetchall()
            for x, y in zip(lon_l, lat_l, strict=True):
                t = clock()
                cur.execute(raw_sql, {"lon": x, "lat": y}, prepare=True)
                cur.fetchall()
                sql_raw.per_point_ms.append((clock() - t) * 1e3)
        raw.rollback()

        # -- SQL, all points in one round trip: attribute_points ----------------------------
        log("attribution: attribute_points (batch) x 3")
        batch_s: list[float] = []
        batch: list[str | None] = []
        for _ in range(3):
            t = clock()
            batch = attribution.attribute_points(conn, lon_l, lat_l)
            batch_s.append(clock() - t)

        # -- shapely baseline: load L6 + ancestors, build an STRtree ------------------------
        log("attribution: shapely baseline (load L6, build STRtree)")
        t = clock()
        rows = conn.execute(
            text("SELECT code, ST_AsBinary(geom) FROM grid_cell WHERE level = 6")
        ).all()
        paths = conn.execute(text("SELECT code, ltree2text(path) FROM grid_cell")).all()
        load_s = clock() - t
    t = clock()
    rows.sort(key=lambda r: r[0])  # tree index order == code order: smallest index wins ties
    codes = np.array([r[0] for r in rows], dtype=object)
    geoms = shapely.from_wkb([bytes(r[1]) for r in rows])
    ancestors = {code: tuple(path.split(".")) for code, path in paths}
    tree = shapely.STRtree(geoms)
    tree.query(shapely.Point(0.0, 0.0))  # GEOS builds the tree lazily: force it here
    build_s = clock() - t

    log(f"attribution: shapely STRtree per point x {n_points}")
    shp_point = Timing("shapely STRtree")
    shp_chains: list[tuple[str, ...] | None] = []
    ties = 0
    point = shapely.Point
    for x, y in zip(lon_l, lat_l, strict=True):
        t = clock()
        hit = tree.query(point(x, y), predicate="intersects")
        chain = ancestors[codes[hit.min()]] if len(hit) else None
        shp_point.per_point_ms.append((clock() - t) * 1e3)
        ties += len(hit) > 1
        shp_chains.append(chain)

    log("attribution: shapely vectorised query x 3")
    vector_s: list[float] = []
    vec: list[str | None] = []
    for _ in range(3):
        t = clock()
        pts = shapely.points(lons, lats)
        pi, ti = tree.query(pts, predicate="intersects")
        best = np.full(n_points, len(codes), dtype=np.int64)
        np.minimum.at(best, pi, ti)
        found = best < len(codes)
        out = np.full(n_points, None, dtype=object)
        out[found] = codes[best[found]]
        vector_s.append(clock() - t)
        vec = out.tolist()

    disagreements = []
    agree_chain = agree_batch = agree_internal = 0
    for i in range(n_points):
        s_l6 = sql_chains[i][-1] if sql_chains[i] else None
        agree_chain += sql_chains[i] == shp_chains[i]
        agree_batch += batch[i] == vec[i]
        agree_internal += batch[i] == s_l6
        if sql_chains[i] != shp_chains[i] and len(disagreements) < 10:
            p_l6 = shp_chains[i][-1] if shp_chains[i] else None
            disagreements.append(
                f"({lon_l[i]:.7f}, {lat_l[i]:.7f}): attribute_point={s_l6}, shapely={p_l6}"
            )
    return AttributionResult(
        n=n_points,
        bbox=bbox,
        inside=sum(c is not None for c in sql_chains),
        l6_cells=len(codes),
        sql_point=sql_point,
        sql_raw=sql_raw,
        sql_batch_s=batch_s,
        shapely_load_s=load_s,
        shapely_build_s=build_s,
        shapely_point=shp_point,
        shapely_vector_s=vector_s,
        ties=ties,
        agree_chain=agree_chain,
        agree_batch=agree_batch,
        agree_internal=agree_internal,
        disagreements=disagreements,
    )


# --------------------------------------------------------------------------- 3. GeoJSON


# What a naive "give me the whole level" endpoint does: every feature, full-precision
# ST_AsGeoJSON (PostGIS default maxdecimaldigits = 9), serialised by the server.
GEOJSON_SQL = """
SELECT json_build_object(
         'type', 'FeatureCollection',
         'features', coalesce(json_agg(json_build_object(
             'type', 'Feature',
             'geometry', ST_AsGeoJSON(geom)::json,
             'properties', json_build_object(
                 'code', code, 'name', name, 'level', level, 'population', population)
         ) ORDER BY code), '[]'::json)
       )::text
FROM grid_cell
WHERE level = :level
"""


@dataclass
class GeoJSONLevel:
    level: int
    features: int
    vertices: int
    run_s: list[float]
    raw_bytes: int
    gzip_bytes: int
    gzip_s: float

    @property
    def p50_ms(self) -> float:
        return pct(self.run_s, 50) * 1e3


def bench_geojson(engine) -> list[GeoJSONLevel]:
    from sqlalchemy import text

    out = []
    with engine.connect() as conn:
        for level in range(1, 7):
            features, vertices = conn.execute(
                text(
                    "SELECT count(*), coalesce(sum(ST_NPoints(geom)), 0) "
                    "FROM grid_cell WHERE level = :level"
                ),
                {"level": level},
            ).one()
            runs, body = [], b""
            for _ in range(GEOJSON_RUNS):
                t = time.perf_counter()
                doc = conn.execute(text(GEOJSON_SQL), {"level": level}).scalar_one()
                body = doc.encode("utf-8")
                runs.append(time.perf_counter() - t)
            t = time.perf_counter()
            gz = gzip.compress(body, compresslevel=6)
            gzip_s = time.perf_counter() - t
            item = GeoJSONLevel(level, features, int(vertices), runs, len(body), len(gz), gzip_s)
            log(
                f"geojson: L{level} {features:,} features, {item.raw_bytes / MB:.2f} MB, "
                f"p50 {item.p50_ms:.0f} ms"
            )
            out.append(item)
    return out


# --------------------------------------------------------------------------- report


def render(meta: dict[str, str], seed: SeedResult, att: AttributionResult, geo) -> str:
    from gridcmd.vocab import LEVELS

    s: list[str] = ["# Grid Command benchmarks", ""]
    s += [
        "Generated by `bench/run.py`; see `bench/README.md`. Every number below was measured "
        "in this one run, against a throw-away database on the server named below.",
        "",
        md_table(["run", "value"], [(k, v) for k, v in meta.items()], align="ll"),
        "",
    ]

    # seed
    at_full = seed.scale == 1.0
    if at_full:
        verdict = "**PASS**" if seed.wall_s < SEED_BUDGET_S else "**FAIL**"
    else:
        verdict = f"n/a (limit applies at scale 1.0; this run used {seed.scale:g})"
    s += [
        "## 1. Full demo seed (`seed_demo`, one run)",
        "",
        md_table(
            ["measure", "value"],
            [
                ("scale", f"{seed.scale:g}"),
                ("wall clock, end to end", f"{seed.wall_s:.1f} s"),
                ("seconds reported by `SeedReport`", f"{seed.reported_s:.1f} s"),
                (f"limit (< {SEED_BUDGET_S:.0f} s at full scale)", verdict),
            ],
        ),
        "",
        "Phases (time since start at each `progress` message):",
        "",
        md_table(["phase", "at (s)"], [(m, f"{t:.1f}") for m, t in seed.phases]),
        "",
        "Rows loaded:",
        "",
        md_table(["table", "rows"], [(t, f"{c:,}") for t, c in seed.counts.items()]),
        "",
    ]

    # attribution
    n = att.n
    batch_us = pct(att.sql_batch_s, 50) / n * 1e6
    vec_us = pct(att.shapely_vector_s, 50) / n * 1e6
    xmin, ymin, xmax, ymax = att.bbox
    s += [
        "## 2. Point attribution (point → six-level chain)",
        "",
        f"{n:,} random points (numpy `default_rng({RNG_SEED})`), uniform in the prefecture's "
        f"bounding box ({xmin:.4f}, {ymin:.4f}) – ({xmax:.4f}, {ymax:.4f}): "
        f"{att.inside:,} inside the prefecture, {n - att.inside:,} outside. "
        f"{att.l6_cells:,} L6 micro-grids. Per-point latencies are wall clock around each "
        "call, after 50 warm-up calls (SQL); the SQL rows include the client round trip.",
        "",
        "Per point:",
        "",
        md_table(
            ["method", "p50 (ms)", "p95 (ms)", "mean (ms)"],
            [
                (
                    "`attribute_point` (SQLAlchemy, 1 round trip, full chain)",
                    fmt(att.sql_point.p50, 3),
                    fmt(att.sql_point.p95, 3),
                    fmt(att.sql_point.mean, 3),
                ),
                (
                    "same SQL, raw psycopg prepared statement (floor)",
                    fmt(att.sql_raw.p50, 3),
                    fmt(att.sql_raw.p95, 3),
                    fmt(att.sql_raw.mean, 3),
                ),
                (
                    "baseline: shapely `STRtree.query(point, 'intersects')` + dict chain",
                    fmt(att.shapely_point.p50, 3),
                    fmt(att.shapely_point.p95, 3),
                    fmt(att.shapely_point.mean, 3),
                ),
            ],
        ),
        "",
        "All points at once (p50 of 3 runs):",
        "",
        md_table(
            ["method", "total (ms)", "per point (µs)"],
            [
                (
                    f"`attribute_points` ({n:,} points, 1 round trip, L6 code)",
                    fmt(pct(att.sql_batch_s, 50) * 1e3, 1),
                    fmt(batch_us, 1),
                ),
                (
                    "baseline: shapely vectorised `STRtree.query(points)` + smallest code",
                    fmt(pct(att.shapely_vector_s, 50) * 1e3, 1),
                    fmt(vec_us, 1),
                ),
            ],
        ),
        "",
        "One-off cost of the shapely baseline (not needed by the SQL path):",
        "",
        md_table(
            ["step", "seconds"],
            [
                ("load L6 `ST_AsBinary` + all codes/paths from PostGIS", fmt(att.shapely_load_s)),
                ("parse WKB + build STRtree + ancestor dict", fmt(att.shapely_build_s)),
            ],
        ),
        "",
        "Agreement (boundary ties: smallest code wins in both):",
        "",
        md_table(
            ["comparison", "agree", "of"],
            [
                ("`attribute_point` chain vs shapely chain (all 6 levels)", att.agree_chain, n),
                ("`attribute_points` L6 vs shapely vectorised L6", att.agree_batch, n),
                ("`attribute_points` L6 vs `attribute_point` L6", att.agree_internal, n),
                ("points hitting more than one L6 cell (ties)", att.ties, n),
            ],
        ),
        "",
    ]
    if att.disagreements:
        s += ["Disagreements (first 10):", ""]
        s += [f"- {d}" for d in att.disagreements]
        s += [""]

    # geojson
    rows = []
    for g in geo:
        rows.append(
            (
                f"L{g.level} {LEVELS[g.level]}",
                f"{g.features:,}",
                f"{g.vertices:,}",
                fmt(g.p50_ms, 0),
                fmt(g.raw_bytes / MB, 2),
                fmt(g.gzip_bytes / MB, 2),
                f"{g.raw_bytes / max(g.gzip_bytes, 1):.1f}×",
                fmt(g.gzip_s * 1e3, 0),
            )
        )
    s += [
        "## 3. Whole-level GeoJSON (the naive baseline the map must beat)",
        "",
        "One FeatureCollection per level built in PostGIS (`json_build_object` / `json_agg`, "
        "`ST_AsGeoJSON(geom)` at its default full precision, properties code, name, level, "
        f"population). Time = query + fetch + UTF-8 encode, p50 of {GEOJSON_RUNS} runs. "
        "MB = 10⁶ bytes; gzip at level 6 (timed once, separately).",
        "",
        md_table(
            [
                "level",
                "features",
                "vertices",
                "p50 (ms)",
                "raw (MB)",
                "gzip (MB)",
                "ratio",
                "gzip (ms)",
            ],
            rows,
        ),
        "",
    ]
    return "\n".join(s)


def summary(seed: SeedResult, att: AttributionResult, geo) -> str:
    n = att.n
    lines = [
        f"seed (scale {seed.scale:g}): {seed.wall_s:.1f} s wall "
        + (
            ("PASS" if seed.wall_s < SEED_BUDGET_S else "FAIL") + f" (< {SEED_BUDGET_S:.0f} s)"
            if seed.scale == 1.0
            else "(60 s limit applies at scale 1.0)"
        ),
        f"attribute_point: p50 {att.sql_point.p50:.3f} ms, p95 {att.sql_point.p95:.3f} ms "
        f"| raw prepared: p50 {att.sql_raw.p50:.3f} ms "
        f"| shapely STRtree: p50 {att.shapely_point.p50:.3f} ms, p95 "
        f"{att.shapely_point.p95:.3f} ms (+{att.shapely_load_s + att.shapely_build_s:.1f} s setup)",
        f"attribute_points: {pct(att.sql_batch_s, 50) / n * 1e6:.1f} µs/point "
        f"| shapely vectorised: {pct(att.shapely_vector_s, 50) / n * 1e6:.1f} µs/point",
        f"agreement: {att.agree_chain}/{n} chains ({att.inside} inside, {att.ties} ties)",
    ]
    for g in geo:
        lines.append(
            f"GeoJSON L{g.level}: {g.features:,} features, {g.raw_bytes / MB:.2f} MB raw, "
            f"{g.gzip_bytes / MB:.2f} MB gzip, {g.p50_ms:.0f} ms"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0, help="demo scale in (0, 1] (default 1.0)")
    p.add_argument("--points", type=int, default=2000, help="random points (default 2000)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results Markdown file")
    p.add_argument("--views", type=int, default=200, help="viewports per zoom (default 200)")
    p.add_argument("--api", action="store_true", help="also the mobile-API ingest section "
                   "(bench/api.py: gunicorn -w 2 on the same scratch database)")  # fmt: skip
    a = p.parse_args(argv)
    if not 0 < a.scale <= 1:
        p.error("--scale must be in (0, 1]")
    if a.points < 1:
        p.error("--points must be at least 1")
    return a


def run(args: argparse.Namespace, argv: Sequence[str]) -> str:
    from geodata.migrate import upgrade

    server, where = server_url()
    log(f"server: {where}")
    with scratch_database(server) as engine:
        log("migrating")
        upgrade(engine)
        versions = server_versions(engine)
        log(f"seeding the demo at scale {args.scale:g} (one run)")
        seed = bench_seed(engine, args.scale)
        log(f"seed done in {seed.wall_s:.1f} s")
        att = bench_attribution(engine, args.points)
        geo = bench_geojson(engine)
        from bench.views import bench_lod_build, bench_views, render_views

        log("building the level-of-detail geometry")
        lod_s, lod_rows = bench_lod_build(engine)
        log(f"map views: {args.views} random viewports per zoom and screen")
        views = bench_views(engine, n=args.views)
        views_md = render_views(
            lod_s, lod_rows, views, args.views, {g.level: g.gzip_bytes / MB for g in geo}
        )
        if args.api:  # the API section (its own markers) on the same seeded database
            from bench.api import api_section
            from bench.api import parse_args as api_args

            views_md += "\n\n" + api_section(engine, where, api_args([]),
                                              "python -m bench.run --api")  # fmt: skip

    import shapely

    mem = mem_total_gb()
    command = "python -m bench.run" + ("".join(f" {a}" for a in argv))
    meta = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": f"`{command}`",
        "database server": where + f" — scratch database `gridcmd_bench_{os.getpid()}`",
        "machine": f"{os.cpu_count()} cores ({cpu_model()})"
        + (f", {mem:.1f} GB RAM" if mem else ""),
        "OS / Python": f"{platform.platform()} / Python {platform.python_version()}",
        "PostgreSQL / PostGIS / GEOS": (
            f"{versions['postgres']} / {versions['postgis']} / {versions['geos']}"
        ),
        "shapely / GEOS": f"{shapely.__version__} / {shapely.geos_version_string}",
        "scale": f"{args.scale:g}",
        "random points": f"{args.points:,}",
    }
    report = render(meta, seed, att, geo) + "\n\n" + views_md
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(keep_marked_sections(args.out, report) + "\n", encoding="utf-8")
    log(f"wrote {args.out}")
    return summary(seed, att, geo)


def main(argv: Sequence[str] | None = None) -> int:
    return cli_main(run, argv, parse_args)


if __name__ == "__main__":
    raise SystemExit(main())
