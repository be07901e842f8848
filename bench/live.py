"""Live position traffic to one dashboard while the whole fleet moves.

Run ``python -m bench.live [--seconds 30] [--fix-interval 10] [--out bench/RESULTS.md]`` with
``DATABASE_URL`` pointing at a seeded full-scale demo (``gridcmd seed demo``; 25,884 workers).

* The app runs under ``gunicorn -w 2 'app:server'`` on a free port.
* A mover moves every positioned worker once per ``--fix-interval`` seconds: each second one
  statement moves 1/N of the fleet (≈2,300 workers/s at 10 s), as one batch of the positions
  API would (one ``live_change`` row and one NOTIFY per statement).
* The client polls ``/live/changes`` every second with ``Accept-Encoding: gzip`` after one
  snapshot, like ``dashboard/assets/live.js`` (the browser's own poll: ``--browser`` also
  measures headless Chromium's transfer sizes via the Resource Timing API).
* Baselines in the same run, per poll: the whole worker layer as GeoJSON (what a non-delta
  design re-sends), and the whole compact snapshot (columnar, but not a delta).

Results go into ``bench/RESULTS.md`` between ``<!-- bench.live:start/end -->``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text

from bench.api import gunicorn
from bench.auth import (
    DEMO_PASSWORD,
    DEMO_USER,
    SESSION_COOKIE,
    login_cookie,
    playwright_cookie,
)
from bench.common import write_marked_section
from geodata.db import make_engine

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DEFAULT_OUT = BENCH_DIR / "RESULTS.md"
START, END = "<!-- bench.live:start -->", "<!-- bench.live:end -->"
TARGET_KBS = 30.0


def log(msg: str) -> None:
    print(f"[bench.live] {msg}", file=sys.stderr, flush=True)




def wait_healthz(base: str, timeout: float = 60.0) -> None:
    """Until ``/healthz`` answers (the server under test is up)."""
    end = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                return
        except OSError:
            if time.monotonic() > end:
                raise RuntimeError(f"the server at {base} did not start") from None
            time.sleep(0.3)


def fetch(url: str, token: str) -> tuple[int, int, bytes]:
    """(status, bytes on the wire, decoded body) with gzip accepted, signed in (``token``)."""
    req = urllib.request.Request(
        url, headers={"Accept-Encoding": "gzip", "Cookie": f"{SESSION_COOKIE}={token}"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
        body = gzip.decompress(raw) if resp.headers.get("Content-Encoding") == "gzip" else raw
        return resp.status, len(raw), body


class Mover(threading.Thread):
    """Moves 1/``n_slices`` of the positioned fleet per second, one statement each."""

    def __init__(self, engine, n_slices: int, seconds: float):
        super().__init__(daemon=True)
        self.engine, self.n, self.seconds = engine, n_slices, seconds
        self.moved: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        end = time.monotonic() + self.seconds
        k = 0
        while time.monotonic() < end and not self.stop.is_set():
            t0 = time.monotonic()
            with self.engine.begin() as c:
                res = c.execute(
                    text(
                        "UPDATE grid_worker SET position = ST_Translate(position, "
                        "(random() - 0.5) * 0.0003, (random() - 0.5) * 0.0003), "
                        "last_fix_at = now() WHERE position IS NOT NULL AND id % :n = :k"
                    ),
                    {"n": self.n, "k": k % self.n},
                )
                self.moved.append(res.rowcount)
            k += 1
            self.stop.wait(max(0.0, 1.0 - (time.monotonic() - t0)))


def geojson_baseline(engine) -> tuple[int, int]:
    """(raw, gzip) bytes of all positioned workers as a GeoJSON FeatureCollection with the
    properties the layer needs (id, status, fix age) — one full re-send."""
    with engine.connect() as c:
        rows = c.execute(
            text(
                "SELECT id, ST_X(position) AS x, ST_Y(position) AS y, duty_status, "
                "EXTRACT(EPOCH FROM now() - last_fix_at)::int AS age FROM grid_worker "
                "WHERE active AND position IS NOT NULL"
            )
        ).all()
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(r.x, 6), round(r.y, 6)]},
                "properties": {"id": r.id, "status": r.duty_status, "age": r.age},
            }
            for r in rows
        ],
    }
    raw = json.dumps(fc, separators=(",", ":")).encode()
    return len(raw), len(gzip.compress(raw, 5))


def poll_client(base: str, seconds: float, token: str) -> dict[str, Any]:
    status, wire, body = fetch(base + "/live/snapshot?kinds=workers", token)
    snap = json.loads(body)
    cursor = snap["cursor"]
    out: dict[str, Any] = {
        "snapshot_wire": wire, "snapshot_raw": len(body), "workers": len(snap["workers"]["i"]),
        "polls": 0, "empty": 0, "wire": 0, "raw": 0, "updated": 0, "lat": [],
    }  # fmt: skip
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        status, wire, body = fetch(f"{base}/live/changes?cursor={cursor}&kinds=workers", token)
        out["lat"].append((time.monotonic() - t0) * 1000)
        out["polls"] += 1
        out["wire"] += wire
        out["raw"] += len(body)
        if status == 204:
            out["empty"] += 1
        else:
            delta = json.loads(body)
            if delta.get("reset"):
                raise RuntimeError("the feed asked for a reset during the benchmark")
            cursor = delta["cursor"]
            out["updated"] += len(delta.get("workers", {}).get("i", []))
        time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
    out["elapsed"] = seconds
    return out


def browser_client(base: str, seconds: float, token: str) -> dict[str, Any]:
    """Headless Chromium with the workers overlay on: transfer sizes of its own polls."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        ctx = b.new_context(viewport={"width": 1920, "height": 1080}, bypass_csp=True)
        ctx.add_cookies([playwright_cookie(base, token)])
        pg = ctx.new_page()
        pg.goto(base + "/")
        pg.wait_for_function("window.gridcmd && window.gridcmd.state && window.gridcmd.state.draws")
        pg.hover(".leaflet-control-layers")
        pg.locator(".leaflet-control-layers-overlays label", has_text="网格员").locator(
            "input"
        ).check()
        pg.wait_for_function("window.gridcmdLive.state.shownWorkers.length > 0", timeout=30000)
        pg.evaluate(
            "performance.clearResourceTimings(); performance.setResourceTimingBufferSize(1e5)"
        )
        t0 = time.monotonic()
        time.sleep(seconds)
        el = time.monotonic() - t0
        entries = pg.evaluate(
            "() => performance.getEntriesByType('resource').filter(e => "
            "e.name.includes('/live/changes')).map(e => [e.transferSize, e.encodedBodySize, "
            "e.decodedBodySize])"
        )
        state = pg.evaluate("() => ({...window.gridcmdLive.state, shownWorkers: null})")
        b.close()
    return {
        "elapsed": el,
        "polls": len(entries),
        "transfer": sum(e[0] for e in entries),
        "encoded": sum(e[1] for e in entries),
        "decoded": sum(e[2] for e in entries),
        "updates": state["updates"],
        "errors": state["errors"],
    }


def render(meta: dict[str, str], poll: dict[str, Any], base_geo: tuple[int, int],
           moved: list[int], browser: dict[str, Any] | None, fix_interval: int) -> str:  # fmt: skip
    el = poll["elapsed"]
    kbs = poll["wire"] / el / 1000
    raw_kbs = poll["raw"] / el / 1000
    moved_s = sum(moved) / max(1, len(moved))
    snap_kbs = poll["snapshot_wire"] / 1000  # per poll if re-sent every second
    geo_kbs = base_geo[1] / 1000
    lines = [
        START,
        "## Live position traffic to one dashboard (`python -m bench.live`)",
        "",
        *(f"- {k}: {v}" for k, v in meta.items()),
        f"- fleet: {poll['workers']:,} positioned workers, each moving once per {fix_interval} s "
        f"(≈{moved_s:,.0f} workers moved per second, one UPDATE statement per second)",
        f"- client: one snapshot ({poll['snapshot_wire'] / 1000:,.0f} KB gzip, "
        f"{poll['snapshot_raw'] / 1000:,.0f} KB raw), then a poll every second for {el:.0f} s: "
        f"{poll['polls']} polls, {poll['empty']} answered 204, "
        f"{poll['updated'] / el:,.0f} worker updates/s received",
        "",
        "| per second, compressed | bytes/s | vs target 30 KB/s |",
        "| :--- | ---: | ---: |",
        f"| **delta feed (`/live/changes`, columnar, gzip)** | **{kbs:,.1f} KB/s** "
        f"| {'met' if kbs <= TARGET_KBS else 'MISSED'} |",
        f"| delta feed, decoded (uncompressed JSON) | {raw_kbs:,.1f} KB/s | — |",
        f"| baseline: whole compact snapshot re-sent each second | {snap_kbs:,.0f} KB/s | — |",
        f"| baseline: whole worker layer as GeoJSON each second (gzip) | {geo_kbs:,.0f} KB/s | — |",
        f"| baseline: same GeoJSON uncompressed | {base_geo[0] / 1000:,.0f} KB/s | — |",
        "",
        f"Poll latency (client-measured, includes 204s): p50 {np.percentile(poll['lat'], 50):.1f}"
        f" ms, p95 {np.percentile(poll['lat'], 95):.1f} ms. The delta feed is "
        f"{geo_kbs / max(kbs, 1e-9):,.0f}× smaller than re-sending GeoJSON.",
    ]
    if browser:
        bel = browser["elapsed"]
        lines += [
            "",
            f"Headless Chromium, workers overlay on, {bel:.0f} s: {browser['polls']} polls, "
            f"{browser['transfer'] / bel / 1000:,.1f} KB/s transferred (incl. headers), "
            f"{browser['encoded'] / bel / 1000:,.1f} KB/s body (gzip), "
            f"{browser['decoded'] / bel / 1000:,.1f} KB/s decoded; {browser['updates']} layer "
            f"updates, {browser['errors']} errors.",
        ]
    lines.append(END)
    return "\n".join(lines)




def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.live", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--fix-interval", type=int, default=10, help="seconds between a worker's fixes")
    p.add_argument("--browser", action="store_true", help="also measure headless Chromium")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--user", default=DEMO_USER, help="sign in as (default: demo commander)")
    p.add_argument("--password", default=DEMO_PASSWORD, help="its password (demo default)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    db_url = os.environ.get("DATABASE_URL")
    if not db_url:
        print("bench.live: error: set DATABASE_URL to a seeded full-scale demo", file=sys.stderr)
        return 2
    engine = make_engine(db_url)
    with engine.connect() as c:
        n = c.execute(text("SELECT count(*) FROM grid_worker")).scalar_one()
    if n < 20_000:
        log(f"warning: only {n:,} workers: not the full demo")
    base_geo = geojson_baseline(engine)
    with gunicorn(db_url) as (base, cmd):
        wait_healthz(base)
        mover = Mover(
            engine, args.fix_interval, args.seconds + 5 + (args.seconds if args.browser else 0)
        )
        mover.start()
        time.sleep(2)
        log(f"polling {base} for {args.seconds:.0f} s")
        token = login_cookie(base, args.user, args.password)
        poll = poll_client(base, args.seconds, token)
        browser = browser_client(base, args.seconds, token) if args.browser else None
        mover.stop.set()
        mover.join()
    meta = {
        "machine": f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "server": f"`gunicorn {cmd}`",
    }
    section = render(meta, poll, base_geo, mover.moved, browser, args.fix_interval)
    write_marked_section(args.out, section)
    print(section)
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
