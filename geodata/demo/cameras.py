"""Synthetic demo cameras: a few per township, near its seat, as a camera CSV.

Deterministic for a given seeded grid and ``seed``: townships and their micro-grids are read in
code order and all random choices come from one ``numpy`` generator. Each township gets 2–4
cameras in the micro-grids nearest its label point (the township seat of the demo's density
field), placed at a point on the micro-grid's surface (so always inside the prefecture).
Names end in "(模拟)" and every row is imported with ``synthetic = true``. Stream URLs use the
reserved ``.invalid`` domain: nothing is ever fetched from the internet, and the player shows
"stream unreachable".

Kept out of :func:`geodata.demo.load.seed_demo` on purpose (its outputs are fixed for other
tables and the test fixture): ``gridcmd seed demo`` calls :func:`load_demo_cameras` after it.
"""

from __future__ import annotations

import csv
import io

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.cameras import ImportReport, import_cameras_csv

__all__ = ["DEMO_HOST", "demo_cameras_csv", "load_demo_cameras"]

#: A reserved, never-resolving host (RFC 6761): demo streams are unreachable by design.
DEMO_HOST = "cameras.example.invalid"
#: Where demo cameras stand (路口 = crossroads, 集市 = market, 卫生院 = clinic, ...).
PLACES = ("路口", "广场", "学校", "集市", "卫生院", "村委会", "桥头", "车站")
#: Stream kinds of the demo and their shares.
KINDS = ("hls", "mp4", "rtsp", "web")
KIND_WEIGHTS = (0.6, 0.2, 0.1, 0.1)
#: Cameras per township: 2 to this many (about 3 on average).
MAX_PER_TOWNSHIP = 4

_SITES = text(
    """
    SELECT t.code AS township_code, t.name AS township, m.code AS cell_code,
           ST_X(m.pt) AS lon, ST_Y(m.pt) AS lat
    FROM grid_cell AS t
    CROSS JOIN LATERAL (
        SELECT c.code, ST_PointOnSurface(c.geom) AS pt
        FROM grid_cell AS c
        WHERE c.level = 6 AND c.path <@ t.path
        ORDER BY c.label_point <-> t.label_point, c.code
        LIMIT :per
    ) AS m
    WHERE t.level = 3
    ORDER BY t.code, m.code
    """
)


def _url(kind: str, code: str) -> str:
    if kind == "hls":
        return f"http://{DEMO_HOST}/live/{code}/index.m3u8"
    if kind == "mp4":
        return f"http://{DEMO_HOST}/clips/{code}.mp4"
    if kind == "rtsp":
        return f"rtsp://{DEMO_HOST}:554/{code}"
    return f"http://{DEMO_HOST}/view/{code}"


def demo_cameras_csv(conn: Connection, *, seed: int = 532900) -> str:
    """The demo camera CSV (``code,name,lon,lat,stream_url,kind``, WGS-84) for the cells in
    the database: 2–:data:`MAX_PER_TOWNSHIP` cameras per township."""
    rng = np.random.default_rng([seed, 4])
    sites: dict[str, list] = {}
    for r in conn.execute(_SITES, {"per": MAX_PER_TOWNSHIP}):
        sites.setdefault(r.township_code, []).append(r)
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["code", "name", "lon", "lat", "stream_url", "kind"])
    for township_code in sorted(sites):
        candidates = sites[township_code]
        n = min(len(candidates), int(rng.integers(2, MAX_PER_TOWNSHIP + 1)))
        for i, site in enumerate(candidates[:n], start=1):
            place = PLACES[int(rng.integers(len(PLACES)))]
            kind = KINDS[int(rng.choice(len(KINDS), p=KIND_WEIGHTS))]
            code = f"CAM{township_code}{i:02d}"
            name = f"{site.township}-{place}-{i:02d} (模拟)"
            out.writerow([code, name, f"{site.lon:.6f}", f"{site.lat:.6f}", _url(kind, code),
                          kind])  # fmt: skip
    return buf.getvalue()


def load_demo_cameras(conn: Connection, *, seed: int = 532900) -> ImportReport:
    """Generate the demo cameras and import them (upsert, ``synthetic = true``) through the
    ordinary CSV importer, in the caller's transaction."""
    return import_cameras_csv(conn, io.StringIO(demo_cameras_csv(conn, seed=seed)),
                              synthetic=True)  # fmt: skip
