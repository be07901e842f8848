"""Map view benchmark: server time and bytes of one viewport's grid payload.

For every zoom 8…16 and two screens (1920×1080, 1280×720), 200 random viewports are drawn
(centres at random micro-grid label points, so populated areas — where commanders look and cells
are densest — weigh in as they should); half of them also carry a selection (the cell at the
zoom's natural level under the centre), which draws one level deeper. Each request is built
exactly as the browser builds it (``layers.lod.grid_url``: snapped bbox with margin) and served
by the same function as the route (``geodata.lod.grid_view`` + gzip).

Measured per zoom: p50/p95 server time (query + encode + gzip), p50/p95 gzip bytes, the
maximum features and vertices in one view, and as the floor the raw PostGIS bounding-box query
(same rows, no encoding). The whole-level GeoJSON sizes from ``bench.run`` are the baseline.
"""

from __future__ import annotations

import gzip
import math
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import numpy as np
from sqlalchemy import text

from api.geo import GZIP_LEVEL
from geodata.cells import PREFECTURE_PATH
from geodata.lod import build_lod, grid_view, stored_band
from gridcmd.zoom import display_level, pixel_deg
from layers.lod import grid_url

SCREENS = {"1920×1080": (1920, 1080), "1280×720": (1280, 720)}
ZOOMS = range(8, 17)
TARGET_MS = 20.0
TARGET_KB = {"1920×1080": 150.0, "1280×720": 150.0}
STREET_KB = 50.0  # 1280×720 at street zoom (≥ 15)
MAX_POLYGONS = 3000
MAX_VERTICES = 150_000


@dataclass
class ViewRow:
    screen: str
    zoom: int
    ms_p50: float
    ms_p95: float
    floor_ms_p50: float
    floor_ms_p95: float
    kb_p50: float
    kb_p95: float
    max_features: int
    max_vertices: int
    levels: str


_FLOOR = text(
    """
    SELECT count(*), sum(length(ST_AsBinary(l.geom)))
    FROM grid_cell_lod l JOIN grid_cell c ON c.id = l.cell_id
    WHERE l.band = :band AND l.level = :level
      AND l.geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)
      AND c.path <@ CAST(:scope AS ltree)
    """
)


def bench_lod_build(engine) -> tuple[float, dict[int, int]]:
    t0 = time.perf_counter()
    rows = build_lod(engine)
    return time.perf_counter() - t0, rows


def viewport(lon: float, lat: float, zoom: int, w: int, h: int):
    dx = w * pixel_deg(zoom) / 2
    dy = h * pixel_deg(zoom) * math.cos(math.radians(lat)) / 2
    return (lon - dx, lat - dy, lon + dx, lat + dy)


def bench_views(engine, n: int = 200, seed: int = 7) -> list[ViewRow]:
    rng = np.random.default_rng(seed)
    with engine.connect() as conn:
        pts = conn.execute(
            text(
                "SELECT ST_X(label_point), ST_Y(label_point), path::text FROM grid_cell "
                "WHERE level = 6 ORDER BY id"
            )
        ).all()
        out: list[ViewRow] = []
        for screen, (w, h) in SCREENS.items():
            for z in ZOOMS:
                ms, floor_ms, kb, feats, verts, levels = [], [], [], [], [], set()
                for i in range(n):
                    lon, lat, path = pts[int(rng.integers(len(pts)))]
                    sel = None
                    if i % 2:
                        nat_level = display_level(z, None)
                        sel = path.split(".")[nat_level - 1]
                    url = grid_url(z, viewport(lon, lat, z, w, h), sel)
                    q = parse_qs(urlsplit(url).query)
                    bbox = tuple(float(v) for v in q["bbox"][0].split(","))
                    t0 = time.perf_counter()
                    body, level, nf, nv = grid_view(
                        conn, scope_path=PREFECTURE_PATH, zoom=z, bbox=bbox, selected=sel
                    )
                    gz = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
                    ms.append((time.perf_counter() - t0) * 1000)
                    kb.append(len(gz) / 1000)
                    feats.append(nf)
                    verts.append(nv)
                    levels.add(level)
                    band = stored_band(z, level)
                    t0 = time.perf_counter()
                    conn.execute(
                        _FLOOR,
                        {"band": band, "level": level, "minx": bbox[0], "miny": bbox[1],
                         "maxx": bbox[2], "maxy": bbox[3], "scope": PREFECTURE_PATH},
                    ).one()  # fmt: skip
                    floor_ms.append((time.perf_counter() - t0) * 1000)
                out.append(
                    ViewRow(
                        screen, z,
                        float(np.percentile(ms, 50)), float(np.percentile(ms, 95)),
                        float(np.percentile(floor_ms, 50)), float(np.percentile(floor_ms, 95)),
                        float(np.percentile(kb, 50)), float(np.percentile(kb, 95)),
                        max(feats), max(verts), ",".join(f"L{v}" for v in sorted(levels)),
                    )
                )  # fmt: skip
    return out


def render_views(lod_s: float, lod_rows: dict[int, int], rows: list[ViewRow], n: int,
                 baseline_gz_mb: dict[int, float] | None = None) -> str:  # fmt: skip
    """The Markdown section for RESULTS.md."""
    lines = [
        "## 4. Map views: one viewport's grid payload",
        "",
        f"Level-of-detail build (`build_lod`, all bands): **{lod_s:.1f} s**, rows per band: "
        + ", ".join(f"z{b}: {c:,}" for b, c in sorted(lod_rows.items()))
        + ".",
        "",
        f"{n} random viewports per zoom and screen (half with a selection, which draws one level "
        "deeper); time = query + geobuf encoding in PostGIS + gzip, as the route does; floor = "
        "the same bounding-box query returning only counts. Targets: p95 ≤ "
        f"{TARGET_MS:.0f} ms; p95 ≤ 150 KB per 1920×1080 view, ≤ {STREET_KB:.0f} KB for 1280×720 "
        f"at street zoom (≥ 15); ≤ {MAX_POLYGONS:,} polygons and ≤ {MAX_VERTICES:,} vertices.",
        "",
        "| screen | zoom | levels | p50 ms | p95 ms | floor p50 ms | floor p95 ms | p50 KB | "
        "p95 KB | max polygons | max vertices |",
        "| :--- | ---: | :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.screen} | {r.zoom} | {r.levels} | {r.ms_p50:.1f} | {r.ms_p95:.1f} | "
            f"{r.floor_ms_p50:.1f} | {r.floor_ms_p95:.1f} | {r.kb_p50:.1f} | {r.kb_p95:.1f} | "
            f"{r.max_features:,} | {r.max_vertices:,} |"
        )
    worst_ms = max(r.ms_p95 for r in rows)
    worst_kb = max(r.kb_p95 for r in rows if r.screen == "1920×1080")
    street_kb = max((r.kb_p95 for r in rows if r.screen == "1280×720" and r.zoom >= 15), default=0)
    max_f = max(r.max_features for r in rows)
    max_v = max(r.max_vertices for r in rows)
    verdict = lambda ok: "**PASS**" if ok else "**MISS**"  # noqa: E731
    lines += [
        "",
        "| target | measured | |",
        "| :--- | ---: | :--- |",
        f"| server time p95 ≤ {TARGET_MS:.0f} ms (worst zoom) | {worst_ms:.1f} ms | "
        f"{verdict(worst_ms <= TARGET_MS)} |",
        f"| bytes p95 ≤ 150 KB, 1920×1080 (worst zoom) | {worst_kb:.1f} KB | "
        f"{verdict(worst_kb <= 150)} |",
        f"| bytes p95 ≤ 50 KB, 1280×720 at zoom ≥ 15 | {street_kb:.1f} KB | "
        f"{verdict(street_kb <= STREET_KB)} |",
        f"| polygons at once ≤ {MAX_POLYGONS:,} | {max_f:,} | {verdict(max_f <= MAX_POLYGONS)} |",
        f"| vertices at once ≤ {MAX_VERTICES:,} | {max_v:,} | {verdict(max_v <= MAX_VERTICES)} |",
    ]
    if baseline_gz_mb:
        l5, l6 = baseline_gz_mb.get(5), baseline_gz_mb.get(6)
        if l5 and l6:
            ratio = min(l5, l6) * 1000 / max(worst_kb, 1e-9)
            lines.append(
                f"| ≥ 80× smaller than the whole-level GeoJSON (L5 {l5:.2f} MB, L6 {l6:.2f} MB "
                f"gzipped) | {ratio:.0f}× | {verdict(ratio >= 80)} |"
            )
    return "\n".join(lines)
